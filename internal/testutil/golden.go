package testutil

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// update makes GoldenJSON write the golden files instead of comparing:
// go test ./web -run TestAdminGolden -update, then review the diff.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with what the tests produce")

// Normalize names what varies from one run to the next in a JSON document,
// so that a golden file holds only what the wire format promises.
type Normalize struct {
	// Replace maps text to its stable stand-in in every string value: the
	// test server's random URL to "https://authz.test", say.
	Replace map[string]string
	// Volatile names the members, at any depth, whose values vary (ids,
	// times, secrets, signatures, keys): each value becomes "<string>",
	// "<number>", "<bool>", "<array>", "<object>" or "<null>", so the
	// golden file still pins the member's presence and its JSON type.
	Volatile []string
}

// GoldenJSON compares the JSON document got, normalised by n, with the
// golden file at path (under the package's testdata/). With -update it
// writes the file instead. Both sides are compared re-encoded with sorted
// keys and indentation, so a golden file reads as the document's shape.
func GoldenJSON(tb testing.TB, path string, got []byte, n Normalize) {
	tb.Helper()
	norm, err := n.apply(got)
	if err != nil {
		tb.Fatalf("golden %s: the document is not JSON: %v\n%s", path, err, got)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, norm, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden %s: %v (run the test with -update to write it)", path, err)
	}
	want, err := Normalize{}.apply(raw)
	if err != nil {
		tb.Fatalf("golden %s is not JSON: %v", path, err)
	}
	if !bytes.Equal(norm, want) {
		tb.Errorf("golden %s: got\n%s\nwant\n%s(if the change is meant, run the test with -update and review the diff)", path, norm, want)
	}
}

// apply decodes doc, normalises it and encodes it canonically.
func (n Normalize) apply(doc []byte) ([]byte, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // numbers keep their text: 600, not 6e+02
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v = n.walk(v)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (n Normalize) walk(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, m := range v {
			if slices.Contains(n.Volatile, k) {
				v[k] = placeholder(m)
			} else {
				v[k] = n.walk(m)
			}
		}
		return v
	case []any:
		for i, m := range v {
			v[i] = n.walk(m)
		}
		return v
	case string:
		// Longest text first, so that one replacement cannot cut another.
		keys := make([]string, 0, len(n.Replace))
		for k := range n.Replace {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			if len(a) != len(b) {
				return len(b) - len(a)
			}
			return strings.Compare(a, b)
		})
		for _, k := range keys {
			v = strings.ReplaceAll(v, k, n.Replace[k])
		}
		return v
	}
	return v
}

// placeholder stands for a volatile value: its JSON type.
func placeholder(v any) string {
	switch v.(type) {
	case string:
		return "<string>"
	case json.Number:
		return "<number>"
	case bool:
		return "<bool>"
	case []any:
		return "<array>"
	case map[string]any:
		return "<object>"
	}
	return "<null>"
}
