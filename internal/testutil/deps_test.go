package testutil

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps this package on the standard library alone: the tests of
// every package use it, including those of the leaf jwtkeys/verify, which
// must not link the server's storage or frameworks even in its tests.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency test needs the go command: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	var self string
	for line := range strings.Lines(string(out)) {
		pkg := strings.TrimSpace(line)
		if pkg == "" {
			continue
		}
		if strings.HasSuffix(pkg, "/internal/testutil") {
			self = pkg
			continue
		}
		t.Errorf("testutil imports %s: it imports the standard library only", pkg)
	}
	if self == "" {
		t.Errorf("sanity: go list -deps does not list this package:\n%s", out)
	}
}
