package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestReleaseBuildWithoutCgo builds authz the way scripts/build stamps a
// release, with CGO_ENABLED=0 (what scripts/build does for an architecture
// without a C cross compiler): `authz version` prints the stamped values and
// says SQLite is not in the build, serve refuses an sqlite: database at once
// naming the cgo build, and the binary works on PostgreSQL.
func TestReleaseBuildWithoutCgo(t *testing.T) {
	stamp := exec.Command("bash", "../../scripts/build", "--ldflags")
	stamp.Env = append(os.Environ(), "VERSION=v1.2.3-rc.1", "COMMIT=0123456789abcdef0123456789abcdef01234567", "SOURCE_DATE_EPOCH=1700000000")
	ldflags, err := stamp.Output()
	if err != nil {
		t.Fatalf("scripts/build --ldflags: %v", err)
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatalf("go env GOVERSION: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "authz-nocgo")
	build := exec.Command("go", "build", "-ldflags", strings.TrimSpace(string(ldflags)), "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "AUTHZ_DATABASE_URL=", "AUTHZ_CONFIG=", "AUTHZ_KEK=", "AUTHZ_PEPPER=", "AUTHZ_KEY_FILE=")
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
	}

	want := "authz v1.2.3-rc.1\ncommit: 0123456789abcdef0123456789abcdef01234567\nbuilt: 2023-11-14T22:13:20Z\n" +
		"go: " + strings.TrimSpace(string(goVersion)) + "\nsqlite: not in this build (built with CGO_ENABLED=0: PostgreSQL only)\n"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if out, errOut, code := run(args...); out != want || code != 0 {
			t.Errorf("authz %s: exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", args[0], code, out, want, errOut)
		}
	}

	db := filepath.Join(dir, "authz.db")
	_, errOut, code := run("serve", "--db", "sqlite:"+db, "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "built without cgo (CGO_ENABLED=0) and has no SQLite: use a postgres:// database URL") {
		t.Errorf("serve --db sqlite: in a build without cgo: exit %d, stderr:\n%s", code, errOut)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve without SQLite left %s behind (stat: %v)", db, err)
	}

	if slices.Contains(storetest.Backends(t), "postgres") {
		out, errOut, code := run("migrate", "--db", storetest.URL(t, "postgres"))
		if code != 0 || !strings.HasPrefix(out, "schema at version ") {
			t.Errorf("migrate on PostgreSQL without cgo: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
		}
	}
}
