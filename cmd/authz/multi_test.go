package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// Issue 5: several instances behind a load balancer on one PostgreSQL. The
// test runs the real binary twice, as two OS processes sharing a database,
// key-encryption key, pepper and issuer, and checks that what one instance
// does is seen by the other at its next request.

const (
	multiIssuer   = "http://authz.test" // the load balancer's URL: the same for every instance
	multiAdmin    = "root@example.com"
	multiPassword = "correct horse battery staple"
	// rotationWait bounds how long an instance may take to publish a key
	// created through another process.
	rotationWait = 30 * time.Second
)

// keyReloadArgs make an instance reload its signing keys from the database
// often enough for the rotation check to see a new key within rotationWait.
var keyReloadArgs = []string{"--key-check-interval", "1s"}

// goTool returns the go command that built this test.
func goTool(t *testing.T) string {
	t.Helper()
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); runtime.GOROOT() != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building authz needs the go command: %v", err)
	}
	return p
}

// repoRoot is the directory of go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(goTool(t), "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD = %q: not inside the module", gomod)
	}
	return filepath.Dir(gomod)
}

// buildBinary builds ./cmd/authz into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "authz")
	cmd := exec.Command(goTool(t), "build", "-o", bin, "./cmd/authz")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/authz: %v\n%s", err, out)
	}
	return bin
}

// procLog collects a process's output and picks the "authz listening" line
// out of its JSON log.
type procLog struct {
	mu        sync.Mutex
	lines     []string
	partial   []byte
	listening chan listenLine // receives the first "authz listening" line
	sent      bool
}

type listenLine struct {
	Msg  string `json:"msg"`
	Addr string `json:"addr"`
	KID  string `json:"kid"`
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.lines = append(l.lines, line)
		var rec listenLine
		if !l.sent && json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "authz listening" && rec.Addr != "" {
			l.sent = true
			l.listening <- rec
		}
	}
	return len(p), nil
}

// String is everything logged so far.
func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n" + string(l.partial)
}

// report is the log for a failure message: every line except successful
// request lines (thousands under load), at most the last 200.
func (l *procLog) report() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keep []string
	omitted := 0
	for _, line := range l.lines {
		var rec struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.Status < 400 {
			omitted++
			continue
		}
		keep = append(keep, line)
	}
	if len(keep) > 200 {
		omitted += len(keep) - 200
		keep = keep[len(keep)-200:]
	}
	if len(l.partial) > 0 {
		keep = append(keep, string(l.partial))
	}
	return fmt.Sprintf("(%d lines omitted)\n%s", omitted, strings.Join(keep, "\n"))
}

// authzProc is `authz serve` running as an OS process.
type authzProc struct {
	name   string
	cmd    *exec.Cmd
	log    *procLog
	base   string // http://127.0.0.1:PORT, the instance's own address
	kid    string // the active kid it logged at start
	done   chan struct{}
	waitEr error // cmd.Wait's result, once done is closed
}

// startProc starts `bin serve args...` with env and returns at once; call
// waitListening next.
func startProc(t *testing.T, name, bin string, env []string, args ...string) *authzProc {
	t.Helper()
	p := &authzProc{name: name, log: &procLog{listening: make(chan listenLine, 1)}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitEr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.exited() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopWait):
			t.Errorf("%s did not stop within %s of SIGTERM at cleanup; killing it\nlog:\n%s", name, stopWait, p.log.report())
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *authzProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitListening waits for the process's "authz listening" log line.
func (p *authzProc) waitListening(t *testing.T) {
	t.Helper()
	select {
	case rec := <-p.log.listening:
		p.base, p.kid = "http://"+rec.Addr, rec.KID
	case <-p.done:
		t.Fatalf("%s exited before listening: %v\nlog:\n%s", p.name, p.waitEr, p.log.report())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not log \"authz listening\" within 30s\nlog:\n%s", p.name, p.log.report())
	}
}

// stop sends SIGTERM and waits up to stopWait for the process to exit with
// status 0. It may run on any goroutine.
func (p *authzProc) stop() (time.Duration, error) {
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, fmt.Errorf("SIGTERM to %s: %w", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopWait):
		return time.Since(start), fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, stopWait)
	}
	if p.waitEr != nil {
		return time.Since(start), fmt.Errorf("%s exited with %v after SIGTERM, want status 0", p.name, p.waitEr)
	}
	return time.Since(start), nil
}

// oauthResp is a token, introspection or error response.
type oauthResp struct {
	status int
	header http.Header
	body   []byte

	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	Active           *bool  `json:"active"`
	ClientID         string `json:"client_id"`
}

func (r *oauthResp) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// oauthPost POSTs form to base+path, with client_secret_basic unless id is
// empty.
func oauthPost(ctx context.Context, hc *http.Client, base, path, id, secret string, form url.Values) (*oauthResp, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", userAgent)
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &oauthResp{status: resp.StatusCode, header: resp.Header, body: body}
	if len(body) == 0 && resp.StatusCode == http.StatusOK { // RFC 7009 revocation
		return out, nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return out, fmt.Errorf("POST %s: status %d, body is not JSON: %v: %q", path, resp.StatusCode, err, body)
	}
	return out, nil
}

func tokenForm() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

// jwksKIDs fetches a JWKS and returns its kids.
func jwksKIDs(ctx context.Context, hc *http.Client, base string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET jwks.json: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET jwks.json: %w", err)
	}
	kids := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids, nil
}

func TestMultiInstance(t *testing.T) {
	if !slices.Contains(storetest.Backends(t), "postgres") {
		t.Skipf("several instances share a PostgreSQL database; %s is not set", storetest.EnvPostgres)
	}
	dbURL := storetest.URL(t, "postgres")
	m := newMain(t, dbURL)
	bin := buildBinary(t, t.TempDir())

	kek, pepper := m.Getenv("AUTHZ_KEK"), m.Getenv("AUTHZ_PEPPER")
	env := []string{"AUTHZ_DATABASE_URL=" + dbURL, "AUTHZ_KEK=" + kek, "AUTHZ_PEPPER=" + pepper}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHZ_") {
			env = append(env, kv)
		}
	}
	// Every request of the test comes from 127.0.0.1: lift the per-IP rate
	// limit, which the load phase would exceed by design.
	args := append([]string{"--addr", "127.0.0.1:0", "--issuer", multiIssuer, "--usage-flush", "200ms", "--rate-limit", "1000000"}, keyReloadArgs...)

	// Both start at once on an empty database: they race to migrate and to
	// generate the first signing key, and must agree.
	a := startProc(t, "instance A", bin, env, args...)
	b := startProc(t, "instance B", bin, env, args...)
	a.waitListening(t)
	b.waitListening(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("instance A (%s) log:\n%s", a.base, a.log.report())
			t.Logf("instance B (%s) log:\n%s", b.base, b.log.report())
		}
	})
	if a.kid == "" || a.kid != b.kid {
		t.Errorf("instances started together sign with kids %q and %q, want one shared key", a.kid, b.kid)
	}
	for _, p := range []*authzProc{a, b} {
		if resp, err := http.Get(p.base + "/readyz"); err != nil {
			t.Fatalf("readyz at %s: %v", p.name, err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
			t.Errorf("readyz at %s: %s", p.name, resp.Status)
		}
	}
	var keys []keyOut
	runJSON(t, m, &keys, "keys", "list", "--json")
	if len(keys) != 1 || keys[0].KID != a.kid || keys[0].State != models.KeyActive {
		t.Errorf("keys after two concurrent starts: %+v, want exactly one active key %s", keys, a.kid)
	}

	// Owners and clients through the CLI, on the shared database.
	run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope+","+confScope)
	run(t, m, "users", "create", "--email", multiAdmin, "--name", "Root", "--role", "admin")
	withPassword := *m
	withPassword.Stdin = strings.NewReader(multiPassword + "\n")
	run(t, &withPassword, "users", "set-password", multiAdmin)
	c1 := createClient(t, m, alice, "ci", readScope)
	c2 := createClient(t, m, alice, "load", readScope)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 32
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Timeout: 15 * time.Second, Transport: tr}
	ctx := t.Context()
	// The helpers take the (sub)test they run in: FailNow must stop that one.
	verifier := func(t *testing.T, p *authzProc) *verify.Verifier {
		t.Helper()
		v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: p.base + "/.well-known/jwks.json", Issuer: multiIssuer, Audience: multiIssuer, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	vA, vB := verifier(t, a), verifier(t, b)
	token := func(t *testing.T, p *authzProc, c clientOut) *oauthResp {
		t.Helper()
		r, err := oauthPost(ctx, hc, p.base, "/oauth2/token", c.ClientID, c.ClientSecret, tokenForm())
		if err != nil {
			t.Fatalf("token at %s: %v", p.name, err)
		}
		return r
	}
	mustToken := func(t *testing.T, p *authzProc, c clientOut) string {
		t.Helper()
		r := token(t, p, c)
		if r.status != http.StatusOK || r.AccessToken == "" || r.Scope != readScope {
			t.Fatalf("token for %s at %s: %s, want 200 with scope %s", c.Name, p.name, r, readScope)
		}
		return r.AccessToken
	}
	c2Tokens := 0 // tokens issued to c2, for the usage check at the end

	t.Run("token from A verifies with B's JWKS", func(t *testing.T) {
		for _, tc := range []struct {
			from *authzProc
			v    *verify.Verifier
			with string
		}{{a, vB, "B"}, {b, vA, "A"}} {
			tok := mustToken(t, tc.from, c1)
			claims, err := tc.v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("token from %s against %s's JWKS: %v", tc.from.name, tc.with, err)
			}
			if claims.Issuer != multiIssuer || claims.ClientID != c1.ClientID || claims.Scope != readScope || !slices.Contains([]string(claims.Audience), multiIssuer) {
				t.Errorf("token from %s: iss %q client_id %q scope %q aud %v; want %s, %s, %s, %s", tc.from.name, claims.Issuer, claims.ClientID, claims.Scope, claims.Audience, multiIssuer, c1.ClientID, readScope, multiIssuer)
			}
			if kid := decodeHeader(t, tok)["kid"]; kid != a.kid {
				t.Errorf("token from %s signed by kid %v, want the shared key %s", tc.from.name, kid, a.kid)
			}
		}
	})

	t.Run("token revoked at A is inactive at B", func(t *testing.T) {
		revoked, kept := mustToken(t, a, c1), mustToken(t, a, c1)
		introspect := func(tok string) *oauthResp {
			t.Helper()
			r, err := oauthPost(ctx, hc, b.base, "/oauth2/introspect", c1.ClientID, c1.ClientSecret, url.Values{"token": {tok}})
			if err != nil {
				t.Fatalf("introspect at B: %v", err)
			}
			if r.status != http.StatusOK || r.Active == nil {
				t.Fatalf("introspect at B: %s, want 200 with active", r)
			}
			return r
		}
		if r := introspect(revoked); !*r.Active || r.ClientID != c1.ClientID {
			t.Fatalf("introspect at B before revocation: %s, want active", r)
		}
		r, err := oauthPost(ctx, hc, a.base, "/oauth2/revoke", c1.ClientID, c1.ClientSecret, url.Values{"token": {revoked}})
		if err != nil || r.status != http.StatusOK {
			t.Fatalf("revoke at A: %v %v, want 200", r, err)
		}
		if r := introspect(revoked); *r.Active {
			t.Errorf("introspect at B of the token revoked at A: %s, want active false", r)
		}
		if r := introspect(kept); !*r.Active {
			t.Errorf("introspect at B of another token: %s, want active true", r)
		}
	})

	t.Run("client revoked through A is refused by B", func(t *testing.T) {
		call := adminAPIAt(t, ctx, tr, a)
		mustToken(t, b, c1) // works at B until the revocation
		var view struct {
			ClientID string `json:"client_id"`
			Status   string `json:"status"`
		}
		if err := json.Unmarshal(call(http.MethodPost, "/orgs/default/clients/"+c1.ClientID+"/revoke", "", http.StatusOK), &view); err != nil {
			t.Fatal(err)
		}
		if view.ClientID != c1.ClientID || view.Status != models.StatusRevoked {
			t.Errorf("revoke at A answered %+v, want %s revoked", view, c1.ClientID)
		}
		// B's very next request: no cache may let the client through.
		for _, p := range []*authzProc{b, a} {
			r := token(t, p, c1)
			if r.status != http.StatusUnauthorized || r.Error != "invalid_client" || !strings.Contains(r.ErrorDescription, "revoked") {
				t.Errorf("token at %s after the revocation through A: %s, want 401 invalid_client \"revoked\"", p.name, r)
			}
			if r.header.Get("WWW-Authenticate") == "" || r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("token at %s: 401 without WWW-Authenticate or Cache-Control: no-store: %v", p.name, r.header)
			}
		}
	})

	t.Run("client narrowed through A holds at B's next request", func(t *testing.T) {
		c3 := createClient(t, m, alice, "edited", readScope+","+confScope, "--ip-allowlist", "127.0.0.1")
		call := adminAPIAt(t, ctx, tr, a)
		withScope := func(p *authzProc, scope string) *oauthResp {
			t.Helper()
			form := tokenForm()
			form.Set("scope", scope)
			r, err := oauthPost(ctx, hc, p.base, "/oauth2/token", c3.ClientID, c3.ClientSecret, form)
			if err != nil {
				t.Fatalf("token at %s: %v", p.name, err)
			}
			return r
		}
		// Both instances have served (and cached) the client as it was.
		for _, p := range []*authzProc{b, a, b} {
			if r := withScope(p, confScope); r.status != http.StatusOK || r.Scope != confScope {
				t.Fatalf("token for %s at %s before the edit: %s", confScope, p.name, r)
			}
		}
		call(http.MethodPatch, "/orgs/default/clients/"+c3.ClientID, `{"scopes":["`+readScope+`"]}`, http.StatusOK)
		for _, p := range []*authzProc{b, a} {
			if r := withScope(p, confScope); r.status != http.StatusBadRequest || r.Error != "invalid_scope" {
				t.Errorf("token for %s at %s right after it was taken away through A: %s, want 400 invalid_scope", confScope, p.name, r)
			}
			if r := withScope(p, readScope); r.status != http.StatusOK {
				t.Errorf("token for %s at %s after the edit: %s", readScope, p.name, r)
			}
		}
		call(http.MethodPatch, "/orgs/default/clients/"+c3.ClientID, `{"ip_allowlist":["10.0.0.0/8"]}`, http.StatusOK)
		for _, p := range []*authzProc{b, a} {
			if r := withScope(p, readScope); r.status == http.StatusOK || r.Error != "unauthorized_client" || !strings.Contains(r.ErrorDescription, "allowlist") {
				t.Errorf("token at %s right after the allowlist was narrowed through A: %s, want unauthorized_client (allowlist)", p.name, r)
			}
		}
	})

	t.Run("concurrent load on both", func(t *testing.T) {
		const workers = 8
		deadline := time.Now().Add(2 * time.Second)
		procs := []*authzProc{a, b}
		var ok [2]atomic.Int64
		var mu sync.Mutex
		var problems []string
		problem := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if len(problems) < 10 {
				problems = append(problems, fmt.Sprintf(format, args...))
			}
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// Two rounds at least, so that each worker reaches both
				// instances however late it starts on a loaded machine.
				for i := 0; i < 2 || time.Now().Before(deadline); i++ {
					n := (w + i) % 2
					p := procs[n]
					r, err := oauthPost(ctx, hc, p.base, "/oauth2/token", c2.ClientID, c2.ClientSecret, tokenForm())
					if err != nil {
						problem("worker %d: token at %s: %v", w, p.name, err)
						return
					}
					if r.status != http.StatusOK || r.AccessToken == "" {
						problem("worker %d: token at %s: %s", w, p.name, r)
						continue
					}
					ok[n].Add(1)
					for j, v := range []*verify.Verifier{vA, vB} {
						if _, err := v.Verify(ctx, r.AccessToken); err != nil {
							problem("worker %d: token from %s against %s's JWKS: %v", w, p.name, procs[j].name, err)
						}
					}
				}
			})
		}
		wg.Wait()
		c2Tokens += int(ok[0].Load() + ok[1].Load())
		t.Logf("%d tokens from A and %d from B in 2s with %d workers, each verified against both JWKS", ok[0].Load(), ok[1].Load(), workers)
		if len(problems) > 0 {
			t.Errorf("under load:\n  %s", strings.Join(problems, "\n  "))
		}
		if ok[0].Load() == 0 || ok[1].Load() == 0 {
			t.Errorf("tokens issued: A %d, B %d; want both to serve", ok[0].Load(), ok[1].Load())
		}
	})

	t.Run("rotation on A's database is seen by B", func(t *testing.T) {
		var rot struct {
			Created bool   `json:"created"`
			Key     keyOut `json:"key"`
		}
		out := run(t, m, "keys", "rotate", "--json")
		if err := json.Unmarshal([]byte(out), &rot); err != nil {
			t.Fatalf("keys rotate --json: %v\n%s", err, out)
		}
		if !rot.Created || rot.Key.KID == "" || rot.Key.KID == a.kid || rot.Key.State != models.KeyNext {
			t.Fatalf("keys rotate: %s, want a new next key", out)
		}
		deadline := time.Now().Add(rotationWait)
		for _, p := range []*authzProc{b, a} {
			for {
				kids, err := jwksKIDs(ctx, hc, p.base)
				if err == nil && slices.Contains(kids, rot.Key.KID) && slices.Contains(kids, a.kid) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s's JWKS %v (err %v) still lacks the next key %s (or the active %s) %s after `keys rotate`", p.name, kids, err, rot.Key.KID, a.kid, rotationWait)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
		// Tokens signed now (by either key) verify against a fresh copy of
		// either instance's JWKS.
		fresh := verifier(t, b)
		for _, p := range []*authzProc{a, b} {
			tok := mustToken(t, p, c2)
			c2Tokens++
			if _, err := fresh.Verify(ctx, tok); err != nil {
				t.Errorf("token from %s after the rotation against B's JWKS: %v", p.name, err)
			}
			if kid := decodeHeader(t, tok)["kid"]; kid != a.kid && kid != rot.Key.KID {
				t.Errorf("token from %s signed by kid %v, want %s or %s", p.name, kid, a.kid, rot.Key.KID)
			}
		}
	})

	t.Run("graceful stop flushes both instances' usage", func(t *testing.T) {
		// One last use on each, then both stop at once.
		mustToken(t, a, c2)
		mustToken(t, b, c2)
		c2Tokens += 2
		before := time.Now()
		var wg sync.WaitGroup
		for _, p := range []*authzProc{a, b} {
			wg.Go(func() {
				d, err := p.stop()
				if err != nil {
					t.Error(err)
					return
				}
				t.Logf("%s exited 0 in %s after SIGTERM", p.name, d.Round(time.Millisecond))
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		for _, p := range []*authzProc{a, b} {
			if log := p.log.String(); !strings.Contains(log, `"msg":"stopped"`) {
				t.Errorf("%s did not log \"stopped\"", p.name)
			}
			if _, err := http.Get(p.base + "/healthz"); err == nil {
				t.Errorf("%s still answers after it exited", p.name)
			}
		}
		var shown clientOut
		runJSON(t, m, &shown, "clients", "show", c2.ClientID, "--json")
		if shown.LastUsedAt == nil || shown.LastUsedAt.Before(before.Add(-5*time.Second)) {
			t.Errorf("last_used_at %v after both stopped, want about %v", shown.LastUsedAt, before)
		}
		if shown.TokenCount != int64(c2Tokens) {
			t.Errorf("token_count %d, want %d: the tokens issued by both instances, all written by the time they exit", shown.TokenCount, c2Tokens)
		}
		if shown.LastUsedIP != "127.0.0.1" || shown.LastUserAgent != userAgent {
			t.Errorf("last_used_ip %q last_user_agent %q, want 127.0.0.1 and %q", shown.LastUsedIP, shown.LastUserAgent, userAgent)
		}
		if len(shown.Secrets) != 1 || shown.Secrets[0].LastUsedAt == nil || shown.Secrets[0].TokenCount != int64(c2Tokens) {
			t.Errorf("secret usage %+v, want last_used_at set and token_count %d", shown.Secrets, c2Tokens)
		}
	})

	for _, p := range []*authzProc{a, b} {
		log := p.log.String()
		for what, s := range map[string]string{"the KEK": kek, "the pepper": pepper, "the admin password": multiPassword} {
			if strings.Contains(log, s) {
				t.Errorf("%s's log shows %s", p.name, what)
			}
		}
		assertNoSecret(t, p.name+"'s log", log, c1.ClientSecret)
		assertNoSecret(t, p.name+"'s log", log, c2.ClientSecret)
	}
}

// adminAPIAt signs in to p's admin API as multiAdmin and returns a function
// that sends one JSON request to it, fails the test on another status
// than want, and returns the answer's body.
func adminAPIAt(t *testing.T, ctx context.Context, tr http.RoundTripper, p *authzProc) func(method, path, body string, want int) []byte {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := &http.Client{Timeout: 30 * time.Second, Transport: tr, Jar: jar}
	call := func(method, path, body string, want int) []byte {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, p.base+"/admin/api/v1"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatalf("%s %s at %s: %v", method, path, p.name, err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s at %s: %s %s, want %d", method, path, p.name, resp.Status, out, want)
		}
		return out
	}
	login, _ := json.Marshal(map[string]string{"email": multiAdmin, "password": multiPassword})
	call(http.MethodPost, "/session", string(login), http.StatusCreated)
	return call
}
