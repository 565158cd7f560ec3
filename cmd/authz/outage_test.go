package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 6: while the database is unreachable the token endpoint answers 503
// temporarily_unavailable (never a 401, never a 500 with internals),
// /readyz says so, and service resumes by itself when the database returns.
// The test runs its own PostgreSQL cluster, since it stops it.

// pgCluster is a throwaway PostgreSQL cluster made by .ci/pg.sh.
type pgCluster struct {
	root string // repository root
	bin  string // PGBIN
	dir  string // data directory, as pg.sh resolved it
	user string // OS user that owns it when we are root
	url  string
	port string
}

// pgBin is the PostgreSQL server binary directory pg.sh would use, or "".
func pgBin() string {
	if d := os.Getenv("PGBIN"); d != "" {
		return d
	}
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/pg_ctl"); err == nil {
		return "/usr/lib/postgresql/15/bin"
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // pg.sh takes the highest version (close enough: 15 is checked first)
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

// startPG starts a cluster with `.ci/pg.sh start` and removes it with
// `.ci/pg.sh stop` when the test ends.
func startPG(t *testing.T) *pgCluster {
	t.Helper()
	bin := pgBin()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but no PostgreSQL server binaries (/usr/lib/postgresql/15/bin/pg_ctl): CI must run the outage test")
		}
		t.Skip("no PostgreSQL server binaries (/usr/lib/postgresql/15/bin/pg_ctl); CI has them")
	}
	pg := &pgCluster{root: repoRoot(t), bin: bin, user: "postgres"}
	if u := os.Getenv("PG_OS_USER"); u != "" {
		pg.user = u
	}
	// Not t.TempDir: as root, the cluster's owner must reach the directory,
	// and the testing package's temporary directories are closed to others.
	// Short, too: the unix socket lives in it.
	dir, err := os.MkdirTemp("/tmp", "authz-outage-pg.")
	if err != nil {
		t.Fatal(err)
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		t.Fatal(err)
	}
	pg.dir = dir
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(pg.root, ".ci", "pg.sh"), "stop", pg.dir)
		cmd.Env = append(os.Environ(), "PGBIN="+pg.bin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf(".ci/pg.sh stop %s: %v\n%s", pg.dir, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(pg.root, ".ci", "pg.sh"), "start", pg.dir)
	cmd.Env = append(os.Environ(), "PGBIN="+pg.bin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf(".ci/pg.sh start %s: %v\n%s", pg.dir, err, stderr.String())
	}
	pg.url = strings.TrimSpace(string(out))
	u, err := url.Parse(pg.url)
	if err != nil || u.Port() == "" {
		t.Fatalf(".ci/pg.sh start printed %q: want a postgres URL with a port (%v)", pg.url, err)
	}
	pg.port = u.Port()
	return pg
}

// pgCtl runs pg_ctl as the cluster's owner, as pg.sh does.
func (pg *pgCluster) pgCtl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	argv := append([]string{filepath.Join(pg.bin, "pg_ctl")}, args...)
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err == nil {
			argv = append([]string{"runuser", "-u", pg.user, "--"}, argv...)
		} else {
			quoted := make([]string, len(argv))
			for i, a := range argv {
				quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
			}
			argv = []string{"su", pg.user, "-s", "/bin/sh", "-c", strings.Join(quoted, " ")}
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "/" // the owner may not be able to read the test's working directory
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.dir, "log"))
		t.Fatalf("%s: %v\n%s\nserver log:\n%s", strings.Join(argv, " "), err, out, log)
	}
}

// stop stops the server the way an outage (or a failover) would: fast
// shutdown, every open connection closed.
func (pg *pgCluster) stop(t *testing.T) {
	t.Helper()
	pg.pgCtl(t, "-D", pg.dir, "-m", "fast", "-w", "-t", "60", "stop")
}

// restart starts the server again on the same port with pg.sh's options.
func (pg *pgCluster) restart(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", pg.port, pg.dir)
	pg.pgCtl(t, "-w", "-t", "60", "-D", pg.dir, "-o", opts, "-l", filepath.Join(pg.dir, "log"), "start")
}

func TestOutageDatabaseUnreachable(t *testing.T) {
	pg := startPG(t)
	// The cluster trusts every local connection, so a password in the URL is
	// never asked for; it is there to prove it never reaches a log.
	const dbPassword = "outage-db-password-Zq81"
	u, _ := url.Parse(pg.url)
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	m := newMain(t, u.String())

	run(t, m, "migrate")
	run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
	const adminEmail, adminPassword = "root@example.com", "outage admin password, long enough"
	run(t, m, "users", "create", "--email", adminEmail, "--name", "Root", "--role", "admin")
	withPassword := *m
	withPassword.Stdin = strings.NewReader(adminPassword + "\n")
	run(t, &withPassword, "users", "set-password", adminEmail)
	c := createClient(t, m, alice, "ci", readScope)
	srv := startServe(t, m, "--usage-flush", "200ms")

	hc := &http.Client{Timeout: 15 * time.Second}
	ctx := t.Context()
	token := func() *oauthResp {
		t.Helper()
		r, err := oauthPost(ctx, hc, srv.base, "/oauth2/token", c.ClientID, c.ClientSecret, tokenForm())
		if err != nil {
			t.Fatalf("token: %v\nserver log:\n%s", err, srv.stderr.String())
		}
		return r
	}
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := hc.Get(srv.base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}

	// The admin API and console, with a session made before the outage.
	admin := func(method, path, body string, session *http.Cookie) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if session != nil {
			req.AddCookie(session)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.Bytes()
	}
	signIn := `{"email":"` + adminEmail + `","password":"` + adminPassword + `"}`
	resp, body := admin(http.MethodPost, "/admin/api/v1/session", signIn, nil)
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "authz_session" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusCreated || session == nil {
		t.Fatalf("admin sign-in before the outage: %d %s, want 201 with a session cookie", resp.StatusCode, body)
	}
	if resp, body := admin(http.MethodGet, "/admin/api/v1/orgs/default/clients", "", session); resp.StatusCode != http.StatusOK {
		t.Fatalf("admin API before the outage: %d %s, want 200", resp.StatusCode, body)
	}

	r := token()
	if r.status != http.StatusOK || r.AccessToken == "" {
		t.Fatalf("token before the outage: %s, want 200\nserver log:\n%s", r, srv.stderr.String())
	}
	tok := r.AccessToken
	if status, body := get("/readyz"); status != http.StatusOK {
		t.Fatalf("readyz before the outage: %d %s", status, body)
	}
	kid, _ := decodeHeader(t, tok)["kid"].(string)

	// The outage.
	logBefore := len(srv.stderr.String())
	outageStart := time.Now()
	pg.stop(t)
	t.Logf("PostgreSQL stopped (pg_ctl -m fast) in %s", time.Since(outageStart).Round(time.Millisecond))

	// What a client may learn: that it should retry. Nothing about the
	// database, its driver or its address.
	internals := []string{"dial", "connection refused", "pgx", "sql", "postgres", "127.0.0.1", pg.port, "failed to connect", dbPassword}
	wantUnavailable := func(what string, r *oauthResp) {
		t.Helper()
		if r.status != http.StatusServiceUnavailable || r.Error != "temporarily_unavailable" {
			t.Errorf("%s during the outage: %s, want 503 temporarily_unavailable", what, r)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s during the outage: Cache-Control %q, want no-store", what, cc)
		}
		body := strings.ToLower(string(r.body))
		for _, s := range internals {
			if strings.Contains(body, strings.ToLower(s)) {
				t.Errorf("%s during the outage: the body shows internals (%q): %s", what, s, r.body)
			}
		}
	}
	start := time.Now()
	wantUnavailable("token (client_secret_basic)", token())
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("token during the outage took %s, want a prompt 503", d)
	}
	form := tokenForm()
	form.Set("client_id", c.ClientID)
	form.Set("client_secret", c.ClientSecret)
	if r, err := oauthPost(ctx, hc, srv.base, "/oauth2/token", "", "", form); err != nil {
		t.Fatalf("token (client_secret_post): %v", err)
	} else {
		wantUnavailable("token (client_secret_post)", r)
	}
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		r, err := oauthPost(ctx, hc, srv.base, path, c.ClientID, c.ClientSecret, url.Values{"token": {tok}})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		wantUnavailable(path, r)
	}
	status, body := get("/readyz")
	var ready map[string]string
	if err := json.Unmarshal(body, &ready); err != nil || status != http.StatusServiceUnavailable || ready["database"] != "unreachable" {
		t.Errorf("readyz during the outage: %d %s, want 503 with \"database\":\"unreachable\"", status, body)
	}
	for _, s := range internals {
		if strings.Contains(strings.ToLower(string(body)), strings.ToLower(s)) {
			t.Errorf("readyz during the outage shows internals (%q): %s", s, body)
		}
	}
	if status, body := get("/healthz"); status != http.StatusOK {
		t.Errorf("healthz during the outage: %d %s, want 200: the process is alive, only not ready", status, body)
	}
	// Resource servers keep verifying offline: the JWKS is served from memory.
	if status, body := get("/.well-known/jwks.json"); status != http.StatusOK || kid == "" || !strings.Contains(string(body), kid) {
		t.Errorf("jwks during the outage: %d %s, want 200 with kid %s", status, body, kid)
	}

	// The admin API answers 503 temporarily_unavailable with Retry-After
	// (a client's retry may succeed; nothing is wrong with the request),
	// and the console an error page saying so: never a 500.
	for _, tc := range []struct{ method, path, body string }{
		{http.MethodGet, "/admin/api/v1/orgs/default/clients", ""}, // the session lookup fails
		{http.MethodPost, "/admin/api/v1/session", signIn},         // the user lookup fails
	} {
		resp, body := admin(tc.method, tc.path, tc.body, session)
		var apiErr struct{ Code, Message string }
		if err := json.Unmarshal(body, &apiErr); err != nil || resp.StatusCode != http.StatusServiceUnavailable || apiErr.Code != "temporarily_unavailable" || apiErr.Message == "" {
			t.Errorf("%s %s during the outage: %d %s, want 503 with code temporarily_unavailable", tc.method, tc.path, resp.StatusCode, body)
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" {
			t.Errorf("%s %s during the outage: no Retry-After", tc.method, tc.path)
		}
		for _, s := range internals {
			if strings.Contains(strings.ToLower(string(body)), strings.ToLower(s)) {
				t.Errorf("%s %s during the outage shows internals (%q): %s", tc.method, tc.path, s, body)
			}
		}
	}
	resp, body = admin(http.MethodGet, "/admin/", "", session)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), "Temporarily unavailable") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("console during the outage: %d %s Retry-After %q, want a 503 HTML page saying Temporarily unavailable, with Retry-After\n%s",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), body)
	}
	for _, s := range []string{"dial", "connection refused", "pgx", "postgres", "127.0.0.1", pg.port, dbPassword} {
		if strings.Contains(strings.ToLower(string(body)), strings.ToLower(s)) {
			t.Errorf("console during the outage shows internals (%q)", s)
		}
	}

	// Let the outage outlast a few usage flushes (every 200ms): they fail
	// and must keep what they hold for later.
	time.Sleep(time.Until(outageStart.Add(time.Second)))

	// The log says what is wrong, at WARN, and nothing is an ERROR.
	outageLog := srv.stderr.String()[logBefore:]
	warnings := map[string]int{}
	for _, line := range strings.Split(outageLog, "\n") {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Level {
		case "WARN":
			warnings[rec.Msg]++
		case "ERROR":
			t.Errorf("an outage is not an internal error, but the server logged: %s", line)
		}
	}
	t.Logf("warnings logged during the outage: %v", warnings)
	if !slices.ContainsFunc(slices.Collect(maps.Keys(warnings)), func(msg string) bool { return strings.Contains(msg, "database") }) {
		t.Errorf("no WARN line mentioning the database during the outage:\n%s", outageLog)
	}

	// The database returns on the same address; authz recovers by itself.
	pg.restart(t)
	t.Logf("PostgreSQL restarted on port %s after an outage of %s", pg.port, time.Since(outageStart).Round(time.Millisecond))
	recoverStart := time.Now()
	deadline := recoverStart.Add(30 * time.Second)
	for {
		r := token()
		if r.status == http.StatusOK {
			break
		}
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("token while the database comes back: %s, want 503 or 200\nserver log:\n%s", r, srv.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("token still %s 30s after the database came back\nserver log:\n%s", r, srv.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("token endpoint answered 200 again %s after the database came back", time.Since(recoverStart).Round(time.Millisecond))
	if status, body := get("/readyz"); status != http.StatusOK {
		t.Errorf("readyz after the database came back: %d %s, want 200", status, body)
	}
	if resp, body := admin(http.MethodGet, "/admin/api/v1/orgs/default/clients", "", session); resp.StatusCode != http.StatusOK {
		t.Errorf("admin API after the database came back: %d %s, want 200 with the same session", resp.StatusCode, body)
	}
	r, err := oauthPost(ctx, hc, srv.base, "/oauth2/introspect", c.ClientID, c.ClientSecret, url.Values{"token": {tok}})
	if err != nil || r.status != http.StatusOK || r.Active == nil || !*r.Active {
		t.Errorf("introspect after the database came back: %v %v, want 200 active", r, err)
	}

	if err := srv.stop(t); err != nil {
		t.Errorf("serve: %v", err)
	}
	// No use was lost to the outage: the token before it (perhaps not yet
	// written when the database went away) and the one after it.
	var shown clientOut
	runJSON(t, m, &shown, "clients", "show", c.ClientID, "--json")
	if shown.TokenCount != 2 || shown.LastUsedAt == nil || shown.LastUsedAt.Before(recoverStart.Add(-time.Second)) {
		t.Errorf("after the outage and a graceful stop: token_count %d last_used_at %v, want 2 and about %v", shown.TokenCount, shown.LastUsedAt, recoverStart)
	}
	log := srv.stderr.String()
	for what, s := range map[string]string{"the database password": dbPassword, "the KEK": m.Getenv("AUTHZ_KEK"), "the pepper": m.Getenv("AUTHZ_PEPPER")} {
		if strings.Contains(log, s) {
			t.Errorf("serve's log shows %s", what)
		}
	}
	assertNoSecret(t, "serve's log", log, c.ClientSecret)
	if t.Failed() {
		t.Logf("server log:\n%s", log)
	}
}
