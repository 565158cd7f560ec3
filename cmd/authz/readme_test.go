package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestREADMEWalkthrough runs the README's walkthrough block as a bash
// script, as a reader would paste it, against a binary built from this
// tree: so the README's commands, flags and output formats cannot drift from
// the program. Two lines are adapted, and the test fails if either is no
// longer there: the build (the script runs in a temporary directory, not in
// the clone) and the port (tests must not need 8080 free).
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "awk", "sed", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README walkthrough needs %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := walkthroughBlock(t, string(readme))

	dir := t.TempDir()
	bin := filepath.Join(dir, "authz-built")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script = mustReplace(t, script, "go build -o authz ./cmd/authz", "cp "+strconv.Quote(bin)+" authz")
	script = mustReplace(t, script, "127.0.0.1:8080", freeAddr(t))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AUTHZ_DATABASE_URL=", "AUTHZ_KEK=", "AUTHZ_PEPPER=", "AUTHZ_CONFIG=")
	// Its own process group, so that a server left running by a failed
	// script is stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	out := stdout.String()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "authz.log"))
		t.Fatalf("the walkthrough failed: %v\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", err, out, stderr.String(), log)
	}
	for _, want := range []string{
		`"token_type":"Bearer"`,       // step 4
		`"scope":"analysis:read"`,     // step 4
		`"keys":[`,                    // step 5, the JWKS
		`"active":true`,               // step 5, introspection
		`"email":"admin@example.com"`, // step 6, signed in
		`"name":"CI pipeline"`,        // step 6, the admin API's list
		`"error":"invalid_client"`,    // step 7, revoked
		`"error_description":"the client has been revoked"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the walkthrough's output lacks %s\nstdout:\n%s\nstderr:\n%s", want, out, stderr.String())
		}
	}
}

// walkthroughBlock returns the first ```sh block after the "## Walkthrough"
// heading.
func walkthroughBlock(t *testing.T, readme string) string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "\n## Walkthrough\n")
	if !ok {
		t.Fatal("README.md has no \"## Walkthrough\" section")
	}
	_, after, ok = strings.Cut(after, "```sh\n")
	if !ok {
		t.Fatal("the README's walkthrough has no ```sh block")
	}
	block, _, ok := strings.Cut(after, "\n```")
	if !ok {
		t.Fatal("the README's walkthrough block is not closed")
	}
	return block
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the README's walkthrough no longer contains %q", old)
	}
	return strings.ReplaceAll(s, old, new)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago (the server cannot be handed a listener through a shell script).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
