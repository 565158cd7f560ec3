//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue 15, faults at start-up and while running, on SQLite.

// getJSON GETs base+path and decodes a JSON object.
func getJSON(t *testing.T, base, path string) (int, map[string]string) {
	t.Helper()
	hc := &http.Client{Timeout: 15 * time.Second}
	resp, err := hc.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %d, body is not a JSON object of strings: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// The README's first start (`authz serve` in an empty directory) creates
// the database, its -wal and -shm files and the development key file, each
// 0600 under a permissive umask, and .gitignore names every one of them.
func TestFirstStartFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	m := withEnv(newMain(t, "sqlite:"+filepath.Join(dir, "authz.db")), map[string]string{"AUTHZ_KEY_FILE": ""})
	srv := startServe(t, m)
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	// Start again: the files of a running server, -wal and -shm included.
	srv = startServe(t, m)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want -rw-------", e.Name(), got)
		}
	}
	if want := []string{"authz.db", "authz.db-shm", "authz.db-wal", "authz.key"}; !slices.Equal(names, want) {
		t.Errorf("files after the first start: got %v, want %v", names, want)
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve: %v", err)
	}

	// As if served from the repository's root, where the README runs it.
	root := repoRoot(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: .gitignore not checked")
	}
	if err := exec.Command("git", "-C", root, "rev-parse", "--git-dir").Run(); err != nil {
		t.Skipf("%s is not a git checkout: .gitignore not checked", root)
	}
	for _, name := range names {
		cmd := exec.Command("git", "-C", root, "check-ignore", "--no-index", "-q", name)
		if err := cmd.Run(); err != nil {
			t.Errorf("git check-ignore %s: %v; want it ignored, so that `git add -A` does not commit it", name, err)
		}
	}
}

// An SQLite file deleted while authz runs is noticed by /readyz (503
// "file_deleted", logged once), and the restart refuses to create an
// empty database with a new signing key while the key file says a
// database existed, unless told to.
func TestDeletedDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	dbPath, keyPath := filepath.Join(dir, "authz.db"), filepath.Join(dir, "authz.key")
	m := withEnv(newMain(t, "sqlite:"+dbPath), map[string]string{"AUTHZ_KEY_FILE": ""})
	srv := startServe(t, m)
	run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
	c := createClient(t, m, alice, "ci", readScope)
	srv.mustToken(t, c.ClientID, c.ClientSecret, readScope)
	if status, body := getJSON(t, srv.base, "/readyz"); status != http.StatusOK {
		t.Fatalf("readyz before: %d %v, want 200", status, body)
	}
	keyFile, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		status, body := getJSON(t, srv.base, "/readyz")
		if status != http.StatusServiceUnavailable || body["database"] != "file_deleted" {
			t.Errorf("readyz %d after the file was deleted: %d %v, want 503 with \"database\":\"file_deleted\"", i+1, status, body)
		}
	}
	var errorLines []string
	for _, line := range strings.Split(srv.stderr.String(), "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Level == "ERROR" {
			errorLines = append(errorLines, line)
		}
	}
	if len(errorLines) != 1 || !strings.Contains(errorLines[0], "deleted") {
		t.Errorf("ERROR lines after 3 probes of a deleted file: got %d, want 1 saying it was deleted:\n%s", len(errorLines), strings.Join(errorLines, "\n"))
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve: %v", err)
	}

	// The restart (and a migrate first) is refused, saying what happened,
	// what to do and how to start afresh anyway.
	for _, args := range [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"migrate"}, {"serve", "--addr", "127.0.0.1:0"}} {
		_, _, err := invoke(t, m, args...)
		if err == nil {
			t.Fatalf("authz %s on an empty database beside the key file: no error", strings.Join(args, " "))
		}
		for _, want := range []string{dbPath, keyPath, "deleted", "backup", "--allow-empty-database", "AUTHZ_ALLOW_EMPTY_DATABASE"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("authz %s: error %q does not mention %q", strings.Join(args, " "), err, want)
			}
		}
	}
	if again, err := os.ReadFile(keyPath); err != nil || !bytes.Equal(again, keyFile) {
		t.Errorf("the key file changed with the refused starts (err %v)", err)
	}
	if _, _, err := invoke(t, withEnv(m, map[string]string{"AUTHZ_ALLOW_EMPTY_DATABASE": "yes please"}), "migrate"); err == nil || !strings.Contains(err.Error(), "AUTHZ_ALLOW_EMPTY_DATABASE") {
		t.Errorf("migrate with AUTHZ_ALLOW_EMPTY_DATABASE=\"yes please\": got %v, want an error naming it", err)
	}

	// Starting afresh on purpose: the flag (or its variable) allows it once;
	// from then on the database is in use and starts need nothing.
	run(t, withEnv(m, map[string]string{"AUTHZ_ALLOW_EMPTY_DATABASE": "true"}), "migrate")
	srv = startServe(t, m, "--allow-empty-database")
	if err := srv.stop(t); err != nil {
		t.Errorf("serve --allow-empty-database: %v", err)
	}
	srv = startServe(t, m)
	if status, body := getJSON(t, srv.base, "/readyz"); status != http.StatusOK {
		t.Errorf("readyz after starting afresh: %d %v, want 200", status, body)
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("serve: %v", err)
	}
}
