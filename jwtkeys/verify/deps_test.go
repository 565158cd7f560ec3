package verify_test

import (
	"bytes"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps is a negative dependency test (the idea of tailscale's deptest):
// this package is what resource servers link, so `go list -deps` of it must
// not reach the authorization server's storage, HTTP framework or OAuth
// library, nor any other package of this module. Its third-party packages
// are listed, so that a new dependency is a decision, not an accident.
func TestDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency test needs the go command: %v", err)
	}
	// One line per package: its import path and, outside the standard
	// library, its module path.
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}{{if .Module}} {{.Module.Path}}{{end}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, stderr.String())
	}
	self := ""
	deps := map[string]string{} // import path -> module path, non-standard packages only
	for line := range strings.Lines(string(out)) {
		pkg, mod, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue // standard library
		}
		deps[pkg] = mod
		self = pkg // go list -deps prints the named package last
	}
	if self == "" || !strings.HasSuffix(self, "/jwtkeys/verify") {
		t.Fatalf("go list -deps: the last package is %q, want this package\n%s", self, out)
	}
	ownModule := deps[self]

	forbidden := []struct{ prefix, what string }{
		{"github.com/mattn/go-sqlite3", "a database driver (cgo SQLite)"},
		{"modernc.org/sqlite", "a database driver"},
		{"github.com/glebarez", "a database driver"},
		{"github.com/jackc", "a database driver (pgx)"},
		{"github.com/lib/pq", "a database driver"},
		{"gorm.io", "gorm"},
		{"github.com/labstack/echo", "Echo (the rsecho adapter imports this package, not the other way)"},
		{"github.com/go-oauth2/oauth2", "go-oauth2"},
	}
	// The third-party modules a resource server links through this package.
	allowed := []string{"github.com/golang-jwt/jwt/v5", "golang.org/x/sync", "github.com/hashicorp/golang-lru/v2"}

	for _, pkg := range slices.Sorted(maps.Keys(deps)) {
		mod := deps[pkg]
		if i := slices.IndexFunc(forbidden, func(f struct{ prefix, what string }) bool {
			return pkg == f.prefix || strings.HasPrefix(pkg, f.prefix+"/")
		}); i >= 0 {
			t.Errorf("%s reaches %s: %s", self, pkg, forbidden[i].what)
			continue
		}
		switch {
		case pkg == self:
		case mod == ownModule:
			t.Errorf("%s reaches %s: the verifier imports no other package of this module", self, pkg)
		case !slices.Contains(allowed, mod):
			t.Errorf("%s reaches %s of module %s, which is not among the verifier's dependencies %v: "+
				"if it is meant to be, add it to this test", self, pkg, mod, allowed)
		}
	}
	// The test means nothing if it does not see what the package imports.
	if _, ok := deps["github.com/golang-jwt/jwt/v5"]; !ok {
		t.Errorf("sanity: go list -deps does not report golang-jwt for %s:\n%s", self, out)
	}
}
