package testutil

import (
	"fmt"
	"testing"
)

func TestNormalize(t *testing.T) {
	n := Normalize{
		Replace:  map[string]string{"http://127.0.0.1:4242": "https://authz.test", "http://127.0.0.1:4242/oauth2": "https://authz.test/token-base"},
		Volatile: []string{"id", "exp", "keys"},
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"volatile values become their type", `{"id":"c-81f2","exp":1750000600,"scope":"a b"}`,
			"{\n  \"exp\": \"<number>\",\n  \"id\": \"<string>\",\n  \"scope\": \"a b\"\n}\n"},
		{"at any depth, arrays and objects too", `{"list":[{"id":7,"name":"n"}],"keys":[1]}`,
			"{\n  \"keys\": \"<array>\",\n  \"list\": [\n    {\n      \"id\": \"<number>\",\n      \"name\": \"n\"\n    }\n  ]\n}\n"},
		{"replacements in strings, longest first", `{"iss":"http://127.0.0.1:4242","url":"http://127.0.0.1:4242/oauth2/token"}`,
			"{\n  \"iss\": \"https://authz.test\",\n  \"url\": \"https://authz.test/token-base/token\"\n}\n"},
		{"numbers keep their text, HTML is not escaped", `{"n":600,"f":0.5,"s":"<a&b>"}`,
			"{\n  \"f\": 0.5,\n  \"n\": 600,\n  \"s\": \"<a&b>\"\n}\n"},
		{"a member named like a volatile one is kept when it is not a key", `{"scope":"id"}`,
			"{\n  \"scope\": \"id\"\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := n.apply([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	if _, err := n.apply([]byte(`{"id":`)); err == nil {
		t.Errorf("truncated JSON: got no error, want one")
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestGoldenJSON(t *testing.T) {
	if *update {
		t.Skip("the golden file here is written by hand, and the failures below would overwrite it")
	}
	const path = "testdata/golden.json"
	n := Normalize{Volatile: []string{"id"}}
	// Another id, another member order, other spacing: the same document.
	GoldenJSON(t, path, []byte(`{"scope": "a b", "id": "c-0001", "expires_in": 600}`), n)

	r := &recorder{TB: t}
	GoldenJSON(r, path, []byte(`{"id":"c-0001","expires_in":601,"scope":"a b"}`), n)
	if r.failed == "" {
		t.Errorf("a changed value: got no failure, want one")
	}
	r = &recorder{TB: t}
	GoldenJSON(r, "testdata/absent.json", []byte(`{}`), n)
	if r.failed == "" {
		t.Errorf("a missing golden file: got no failure, want one")
	}
}
