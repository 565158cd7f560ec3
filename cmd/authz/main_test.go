package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// These tests run the real program in-process (Main.Run) against a real
// database, and talk to `serve` over real HTTP.

// stopWait bounds how long serve may take to stop once told to: more than
// its own 15 s for in-flight requests, with room for a loaded machine.
const stopWait = time.Minute

const (
	alice     = "alice@example.com"
	readScope = "analysis:read"
	confScope = "config:read"
	userAgent = "authz-e2e-test/1"
)

// newMain returns a Main on the database dbURL whose environment is a map:
// on PostgreSQL AUTHZ_KEK and AUTHZ_PEPPER are set; on SQLite they are not,
// and the development key file is generated in a temporary directory.
func newMain(t *testing.T, dbURL string) *Main {
	t.Helper()
	env := map[string]string{"AUTHZ_DATABASE_URL": dbURL}
	if strings.HasPrefix(dbURL, "postgres") {
		env["AUTHZ_KEK"] = random32()
		env["AUTHZ_PEPPER"] = random32()
	} else {
		env["AUTHZ_KEY_FILE"] = filepath.Join(t.TempDir(), "authz.key")
	}
	return &Main{
		Stdout: &testutil.LockedBuffer{},
		Stderr: &testutil.LockedBuffer{},
		Getenv: func(name string) string { return env[name] },
	}
}

// withEnv returns a copy of m whose environment differs by overrides; an
// empty value unsets the variable.
func withEnv(m *Main, overrides map[string]string) *Main {
	c := *m
	c.Getenv = func(name string) string {
		if v, ok := overrides[name]; ok {
			return v
		}
		return m.Getenv(name)
	}
	return &c
}

// invoke runs one command on a copy of m with fresh output buffers.
func invoke(t *testing.T, m *Main, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := *m
	out, errb := &testutil.LockedBuffer{}, &testutil.LockedBuffer{}
	c.Stdout, c.Stderr = out, errb
	c.Listening = func(addr string) { t.Errorf("authz %s: unexpectedly listening on %s", strings.Join(args, " "), addr) }
	err = c.Run(ctx, args)
	return out.String(), errb.String(), err
}

// run runs one command and fails the test if it fails.
func run(t *testing.T, m *Main, args ...string) string {
	t.Helper()
	stdout, stderr, err := invoke(t, m, args...)
	if err != nil {
		t.Fatalf("authz %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

// runJSON runs a command and decodes its JSON output into v.
func runJSON(t *testing.T, m *Main, v any, args ...string) string {
	t.Helper()
	out := run(t, m, args...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("authz %s: decoding JSON output: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// server is `authz serve` running in a goroutine.
type server struct {
	base   string // http://127.0.0.1:PORT, also the issuer
	cancel context.CancelFunc
	done   chan error
	stderr *testutil.LockedBuffer
}

// startServe runs serve on a free port and waits until it listens.
func startServe(t *testing.T, m *Main, args ...string) *server {
	t.Helper()
	c := *m
	s := &server{done: make(chan error, 1), stderr: &testutil.LockedBuffer{}}
	c.Stdout, c.Stderr = &testutil.LockedBuffer{}, s.stderr
	addrc := make(chan string, 1)
	c.Listening = func(addr string) { addrc <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- c.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(stopWait):
			t.Errorf("serve did not stop at cleanup\nstderr:\n%s", s.stderr.String())
		}
	})
	select {
	case addr := <-addrc:
		s.base = "http://" + addr
	case err := <-s.done:
		s.done <- err // for the cleanup
		t.Fatalf("serve exited before listening: %v\nstderr:\n%s", err, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not listen within 30s\nstderr:\n%s", s.stderr.String())
	}
	return s
}

// stop cancels serve's context and returns what serve returned.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(stopWait):
		t.Fatalf("serve did not return within %s of cancellation\nstderr:\n%s", stopWait, s.stderr.String())
		return nil
	}
}

// uaTransport sets a recognisable User-Agent.
type uaTransport struct{ base http.RoundTripper }

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", userAgent)
	return u.base.RoundTrip(r)
}

// token gets a token with golang.org/x/oauth2's client-credentials client,
// credentials in the Authorization header (client_secret_basic).
func (s *server) token(t *testing.T, id, secret string, scopes ...string) (*oauth2.Token, error) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Timeout: 15 * time.Second, Transport: uaTransport{tr}}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.base + "/oauth2/token", Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	return cfg.Token(ctx)
}

// mustToken gets a token and checks the granted scope.
func (s *server) mustToken(t *testing.T, id, secret, wantScope string, scopes ...string) *oauth2.Token {
	t.Helper()
	tok, err := s.token(t, id, secret, scopes...)
	if err != nil {
		t.Fatalf("token for %s (scope %q): %v\nserver log:\n%s", id, strings.Join(scopes, " "), err, s.stderr.String())
	}
	if got := tok.Extra("scope"); got != wantScope {
		t.Errorf("token for %s: response scope %v, want %q", id, got, wantScope)
	}
	return tok
}

// wantOAuthError checks that err is an RFC 6749 error response.
func wantOAuthError(t *testing.T, err error, status int, code, descContains string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want an RFC 6749 %d %s response", err, status, code)
	}
	if re.Response.StatusCode != status || re.ErrorCode != code || !strings.Contains(re.ErrorDescription, descContains) {
		t.Errorf("got %d %s %q, want %d %s with a description mentioning %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription, status, code, descContains)
	}
	if status == http.StatusUnauthorized && re.Response.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 response without WWW-Authenticate")
	}
}

// JSON views of the CLI output, decoded strictly so a renamed field shows.
type migrateOut struct {
	Applied []int `json:"applied"`
	Version int   `json:"version"`
}

type userOut struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Permissions      []string  `json:"permissions"`
	Status           string    `json:"status"`
	MayCreateClients bool      `json:"may_create_clients"`
	HasPassword      bool      `json:"has_password"`
	CreatedAt        time.Time `json:"created_at"`
}

type secretOut struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	LastChars  string     `json:"last_chars"`
	Format     string     `json:"format"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	LastUsedIP string     `json:"last_used_ip"`
	TokenCount int64      `json:"token_count"`
}

type clientOut struct {
	ClientSecret    string      `json:"client_secret"` // only from clients create
	ClientID        string      `json:"client_id"`
	Kind            string      `json:"kind"`
	Project         string      `json:"project"`
	Name            string      `json:"name"`
	Description     string      `json:"description"`
	Owner           string      `json:"owner"`
	OwnerID         string      `json:"owner_id"`
	CreatedBy       string      `json:"created_by"`
	Status          string      `json:"status"`
	Scopes          []string    `json:"scopes"`
	EffectiveScopes []string    `json:"effective_scopes"`
	Audiences       []string    `json:"audiences"`
	IPAllowlist     []string    `json:"ip_allowlist"`
	TokenTTL        string      `json:"token_ttl"`
	ResourceServer  bool        `json:"resource_server"`
	AuthMethod      string      `json:"token_endpoint_auth_method"`
	JWKS            any         `json:"jwks"`
	JWKSURI         string      `json:"jwks_uri"`
	RequireDPoP     bool        `json:"require_dpop"`
	ExpiresAt       *time.Time  `json:"expires_at"`
	RenewedAt       *time.Time  `json:"renewed_at"`
	RevokedAt       *time.Time  `json:"revoked_at"`
	LastUsedAt      *time.Time  `json:"last_used_at"`
	LastUsedIP      string      `json:"last_used_ip"`
	LastUserAgent   string      `json:"last_user_agent"`
	TokenCount      int64       `json:"token_count"`
	Legacy          bool        `json:"legacy"`
	CreatedAt       time.Time   `json:"created_at"`
	Secrets         []secretOut `json:"secrets"`
}

type keyOut struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	Generation  int64      `json:"generation"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
}

// createClient runs `clients create --json` and checks what it prints.
func createClient(t *testing.T, m *Main, owner, name, scopes string, extra ...string) clientOut {
	t.Helper()
	var c clientOut
	args := append([]string{"clients", "create", "--owner", owner, "--name", name, "--scopes", scopes, "--json"}, extra...)
	runJSON(t, m, &c, args...)
	if !strings.HasPrefix(c.ClientID, "azc_") || !strings.HasPrefix(c.ClientSecret, "azs_") {
		t.Fatalf("clients create: client_id %q, secret %q: want azc_ and azs_ prefixes", c.ClientID, c.ClientSecret)
	}
	if c.Owner != owner || c.Name != name || c.Status != models.StatusActive || !slices.Equal(c.Scopes, models.ParseSet(scopes)) {
		t.Errorf("clients create: owner %q name %q status %q scopes %v; want %s, %s, active, %s", c.Owner, c.Name, c.Status, c.Scopes, owner, name, scopes)
	}
	if len(c.Secrets) != 1 {
		t.Fatalf("clients create: %d secrets, want 1", len(c.Secrets))
	}
	if s := c.Secrets[0]; s.Prefix != "azs_" || s.LastChars != c.ClientSecret[len(c.ClientSecret)-4:] || s.RevokedAt != nil || s.LastUsedAt != nil {
		t.Errorf("clients create: secret view %+v, want prefix azs_, last_chars %q, not revoked, never used", s, c.ClientSecret[len(c.ClientSecret)-4:])
	}
	return c
}

// assertNoSecret fails if out contains the secret or its random part.
func assertNoSecret(t *testing.T, what, out, secret string) {
	t.Helper()
	body := strings.TrimPrefix(secret, "azs_")
	for _, s := range []string{secret, body, body[:16], body[len(body)-16:]} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows (part of) the client secret:\n%s", what, out)
			return
		}
	}
}

func decodeHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	part, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h
}

func TestWalkthrough(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))

		// migrate
		var mig migrateOut
		runJSON(t, m, &mig, "migrate", "--json")
		if mig.Version <= 0 || len(mig.Applied) == 0 {
			t.Fatalf("migrate: %+v, want version > 0 and migrations applied", mig)
		}
		runJSON(t, m, &mig, "migrate", "--json")
		if len(mig.Applied) != 0 || mig.Version <= 0 {
			t.Errorf("second migrate: %+v, want nothing applied", mig)
		}

		// users
		var u userOut
		runJSON(t, m, &u, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope+","+confScope, "--json")
		if u.ID == "" || u.Email != alice || u.Name != "Alice" || u.Status != models.StatusActive || u.Role != models.RoleMember ||
			!slices.Equal(u.Permissions, []string{readScope, confScope}) {
			t.Errorf("users create: %+v", u)
		}
		var users []userOut
		runJSON(t, m, &users, "users", "list", "--json")
		if len(users) != 1 || users[0].ID != u.ID || users[0].Email != alice || !slices.Equal(users[0].Permissions, u.Permissions) {
			t.Errorf("users list: %+v, want only %+v", users, u)
		}

		// clients
		c1 := createClient(t, m, alice, "ci", readScope, "--ttl", "10m")
		if c1.TokenTTL != "10m0s" || c1.OwnerID != u.ID || c1.CreatedBy != "cli" || c1.RevokedAt != nil || c1.LastUsedAt != nil {
			t.Errorf("clients create: token_ttl %q owner_id %q created_by %q revoked_at %v last_used_at %v", c1.TokenTTL, c1.OwnerID, c1.CreatedBy, c1.RevokedAt, c1.LastUsedAt)
		}
		// A second client of the same owner, holding both permissions.
		c2 := createClient(t, m, alice, "reports", readScope+","+confScope)

		out := run(t, m, "clients", "list", "--json")
		var list []clientOut
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("clients list: %v\n%s", err, out)
		}
		if len(list) != 2 {
			t.Errorf("clients list: %d clients, want 2", len(list))
		}
		for _, c := range list {
			if c.ClientSecret != "" {
				t.Errorf("clients list: client_secret field present for %s", c.ClientID)
			}
		}
		for _, args := range [][]string{
			{"clients", "list", "--json"},
			{"clients", "list"},
			{"clients", "list", "--owner", alice, "--json"},
			{"clients", "show", c1.ClientID, "--json"},
			{"clients", "show", c1.ClientID},
		} {
			stdout, stderr, err := invoke(t, m, args...)
			if err != nil {
				t.Fatalf("authz %s: %v\n%s", strings.Join(args, " "), err, stderr)
			}
			assertNoSecret(t, "authz "+strings.Join(args, " "), stdout+stderr, c1.ClientSecret)
			assertNoSecret(t, "authz "+strings.Join(args, " "), stdout+stderr, c2.ClientSecret)
		}
		var shown clientOut
		runJSON(t, m, &shown, "clients", "show", c1.ClientID, "--json")
		if shown.ClientID != c1.ClientID || shown.Owner != alice || shown.Status != models.StatusActive || !slices.Equal(shown.Scopes, []string{readScope}) ||
			len(shown.Secrets) != 1 || shown.Secrets[0].LastChars != c1.Secrets[0].LastChars {
			t.Errorf("clients show: %+v", shown)
		}

		// serve
		srv := startServe(t, m)
		if resp, err := http.Get(srv.base + "/readyz"); err != nil {
			t.Fatalf("readyz: %v", err)
		} else {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("readyz: %s", resp.Status)
			}
		}

		tok := srv.mustToken(t, c1.ClientID, c1.ClientSecret, readScope)
		if got := tok.Extra("expires_in"); got != 600.0 {
			t.Errorf("expires_in %v, want 600 (the client's --ttl)", got)
		}
		v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: srv.base + "/.well-known/jwks.json", Issuer: srv.base, Audience: srv.base})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := v.Verify(t.Context(), tok.AccessToken)
		if err != nil {
			t.Fatalf("verify against the served JWKS: %v", err)
		}
		if claims.Subject != c1.ClientID || claims.ClientID != c1.ClientID || claims.Scope != readScope || claims.OwnerID != u.ID || claims.Issuer != srv.base {
			t.Errorf("claims: sub %q client_id %q scope %q owner_id %q iss %q", claims.Subject, claims.ClientID, claims.Scope, claims.OwnerID, claims.Issuer)
		}
		if claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) != 10*time.Minute {
			t.Errorf("exp - iat: exp %v iat %v, want 10m apart", claims.ExpiresAt, claims.IssuedAt)
		}
		header := decodeHeader(t, tok.AccessToken)

		// Revocation through the CLI holds on the running server at once.
		var revoked clientOut
		runJSON(t, m, &revoked, "clients", "revoke", c1.ClientID, "--json")
		if revoked.Status != models.StatusRevoked || revoked.RevokedAt == nil {
			t.Errorf("clients revoke: status %q revoked_at %v", revoked.Status, revoked.RevokedAt)
		}
		_, err = srv.token(t, c1.ClientID, c1.ClientSecret)
		wantOAuthError(t, err, http.StatusUnauthorized, "invalid_client", "revoked")
		if _, stderr, err := invoke(t, m, "clients", "revoke", c1.ClientID); err == nil || !strings.Contains(err.Error(), "already revoked") {
			t.Errorf("second revoke: %v, want an 'already revoked' error\n%s", err, stderr)
		}

		// clients list finds: revoked ones only when asked for, search and sort.
		ids := func(args ...string) []string {
			t.Helper()
			var list []clientOut
			runJSON(t, m, &list, append([]string{"clients", "list", "--json"}, args...)...)
			var out []string
			for _, c := range list {
				out = append(out, c.ClientID)
			}
			return out
		}
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{nil, []string{c2.ClientID}},
			{[]string{"--include-revoked", "--sort", "name"}, []string{c1.ClientID, c2.ClientID}},
			{[]string{"--include-revoked", "--sort", "name", "--order", "desc"}, []string{c2.ClientID, c1.ClientID}},
			{[]string{"--status", "revoked"}, []string{c1.ClientID}},
			{[]string{"--search", "REPORT"}, []string{c2.ClientID}},
			{[]string{"--search", "ALICE@", "--sort", "name"}, []string{c2.ClientID}},
			{[]string{"--search", "ALICE@", "--sort", "name", "--include-revoked"}, []string{c1.ClientID, c2.ClientID}},
		} {
			if got := ids(tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("clients list %v: got %v, want %v", tc.args, got, tc.want)
			}
		}
		for _, bad := range [][]string{{"--sort", "bogus"}, {"--order", "up"}} {
			if _, _, err := invoke(t, m, append([]string{"clients", "list"}, bad...)...); err == nil {
				t.Errorf("clients list %v: got no error", bad)
			}
		}

		// A disabled owner's clients are refused; enabling restores them.
		srv.mustToken(t, c2.ClientID, c2.ClientSecret, readScope+" "+confScope)
		run(t, m, "users", "disable", alice)
		_, err = srv.token(t, c2.ClientID, c2.ClientSecret)
		wantOAuthError(t, err, http.StatusBadRequest, "unauthorized_client", "disabled")
		run(t, m, "users", "enable", alice)
		srv.mustToken(t, c2.ClientID, c2.ClientSecret, readScope+" "+confScope)

		// Permissions are the owner's current ones.
		runJSON(t, m, &u, "users", "set-permissions", alice, confScope, "--json")
		if !slices.Equal(u.Permissions, []string{confScope}) {
			t.Errorf("set-permissions: %v", u.Permissions)
		}
		_, err = srv.token(t, c2.ClientID, c2.ClientSecret, readScope)
		wantOAuthError(t, err, http.StatusBadRequest, "invalid_scope", readScope)
		tok2 := srv.mustToken(t, c2.ClientID, c2.ClientSecret, confScope)
		if claims, err := v.Verify(t.Context(), tok2.AccessToken); err != nil {
			t.Errorf("verify: %v", err)
		} else if claims.Scope != confScope {
			t.Errorf("scope claim after set-permissions: %q, want %q", claims.Scope, confScope)
		}

		// keys
		var keys []keyOut
		runJSON(t, m, &keys, "keys", "list", "--json")
		if len(keys) != 1 || keys[0].State != models.KeyActive || keys[0].Alg != jwtkeys.ES256 || keys[0].KID != header["kid"] {
			t.Errorf("keys list: %+v, want one active ES256 key with the tokens' kid %v", keys, header["kid"])
		}

		// Graceful shutdown.
		start := time.Now()
		if err := srv.stop(t); err != nil {
			t.Errorf("serve returned %v after cancellation, want nil\nstderr:\n%s", err, srv.stderr.String())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %s", d)
		}
		if resp, err := http.Get(srv.base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("server still answers after shutdown: %s", resp.Status)
		}
		assertNoSecret(t, "serve's log", srv.stderr.String(), c1.ClientSecret)
		assertNoSecret(t, "serve's log", srv.stderr.String(), c2.ClientSecret)
	})
}

func TestCLIErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		c := createClient(t, m, alice, "ci", readScope) // stores the pepper's fingerprint

		// On SQLite: a key file like the generated one, with another pepper.
		otherPepperFile := ""
		if backend == "sqlite" {
			body, err := os.ReadFile(m.Getenv("AUTHZ_KEY_FILE"))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, line := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(line, "pepper=") {
					line = "pepper=" + random32()
				}
				lines = append(lines, line)
			}
			otherPepperFile = filepath.Join(t.TempDir(), "other.key")
			if err := os.WriteFile(otherPepperFile, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}

		cases := []struct {
			name    string
			backend string // "" for every backend
			env     map[string]string
			args    []string
			want    []string // substrings of the error
			is      error
		}{
			{name: "scope the owner lacks", args: []string{"clients", "create", "--owner", alice, "--name", "x", "--scopes", readScope + ",config:write"}, want: []string{"config:write"}, is: models.ErrInvalid},
			{name: "unknown owner", args: []string{"clients", "create", "--owner", "nobody@example.com", "--name", "x", "--scopes", readScope}, want: []string{"nobody@example.com"}},
			{name: "missing name", args: []string{"clients", "create", "--owner", alice, "--scopes", readScope}, want: []string{"--name"}},
			{name: "bad ttl", args: []string{"clients", "create", "--owner", alice, "--name", "x", "--ttl", "1s"}, want: []string{"TTL"}},
			{name: "unknown command", args: []string{"frobnicate"}, want: []string{`unknown command "frobnicate"`}},
			{name: "unknown clients subcommand", args: []string{"clients", "frobnicate"}, want: []string{`"frobnicate"`}},
			{name: "unknown flag", args: []string{"users", "list", "--frobnicate"}, want: []string{"frobnicate"}},
			{name: "duplicate email", args: []string{"users", "create", "--email", alice, "--name", "Alice again"}, is: models.ErrConflict},
			{name: "duplicate email differing in case", args: []string{"users", "create", "--email", "ALICE@Example.com", "--name", "Alice again"}, is: models.ErrConflict},
			{name: "disable unknown user", args: []string{"users", "disable", "nobody@example.com"}, is: models.ErrNotFound},
			{name: "show unknown client", args: []string{"clients", "show", "azc_doesnotexist"}, want: []string{"azc_doesnotexist"}, is: models.ErrNotFound},
			{name: "revoke unknown client", args: []string{"clients", "revoke", "azc_doesnotexist"}, is: models.ErrNotFound},
			{name: "serve --alg HS256", args: []string{"serve", "--addr", "127.0.0.1:0", "--alg", "HS256"}, want: []string{"--alg", "HS256"}},
			{name: "serve --addr nonsense", args: []string{"serve", "--addr", "nonsense"}, want: []string{"--addr", "nonsense"}},
			// --token-ttl moved to the policy (bfa1156); whether the flag is
			// refused as unknown or as out of range, the error names it.
			{name: "serve --token-ttl 1s", args: []string{"serve", "--addr", "127.0.0.1:0", "--token-ttl", "1s"}, want: []string{"token-ttl"}},
			{name: "serve --usage-flush 1ms", args: []string{"serve", "--addr", "127.0.0.1:0", "--usage-flush", "1ms"}, want: []string{"--usage-flush"}},
			{name: "serve --client-cache -5", args: []string{"serve", "--addr", "127.0.0.1:0", "--client-cache", "-5"}, want: []string{"--client-cache"}},
			{name: "serve --client-cache lots", args: []string{"serve", "--addr", "127.0.0.1:0", "--client-cache", "lots"}, want: []string{"client-cache"}},
			{name: "serve --metrics-client-series -1", args: []string{"serve", "--addr", "127.0.0.1:0", "--metrics-client-series", "-1"}, want: []string{"--metrics-client-series"}},
			{name: "serve --issuer ftp", args: []string{"serve", "--addr", "127.0.0.1:0", "--issuer", "ftp://authz.example"}, want: []string{"--issuer"}},
			{name: "serve --log-level loud", args: []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "loud"}, want: []string{"--log-level"}},
			{name: "serve --trusted-proxies nonsense", args: []string{"serve", "--addr", "127.0.0.1:0", "--trusted-proxies", "nonsense"}, want: []string{"--trusted-proxies"}},
			{name: "serve with only AUTHZ_KEK", env: map[string]string{"AUTHZ_KEK": random32(), "AUTHZ_PEPPER": ""}, args: []string{"serve", "--addr", "127.0.0.1:0"}, want: []string{"AUTHZ_KEK", "AUTHZ_PEPPER"}},
			{name: "serve with another pepper", backend: "sqlite", env: map[string]string{"AUTHZ_KEY_FILE": otherPepperFile}, args: []string{"serve", "--addr", "127.0.0.1:0"}, want: []string{"pepper"}},
			{name: "clients create with another pepper", backend: "sqlite", env: map[string]string{"AUTHZ_KEY_FILE": otherPepperFile}, args: []string{"clients", "create", "--owner", alice, "--name", "x", "--scopes", readScope}, want: []string{"pepper"}},
			{name: "serve with another pepper", backend: "postgres", env: map[string]string{"AUTHZ_PEPPER": random32()}, args: []string{"serve", "--addr", "127.0.0.1:0"}, want: []string{"pepper"}},
			{name: "postgres without key material", backend: "postgres", env: map[string]string{"AUTHZ_KEK": "", "AUTHZ_PEPPER": ""}, args: []string{"serve", "--addr", "127.0.0.1:0"}, want: []string{"AUTHZ_KEK", "AUTHZ_PEPPER"}},
			{name: "postgres clients create without key material", backend: "postgres", env: map[string]string{"AUTHZ_KEK": "", "AUTHZ_PEPPER": ""}, args: []string{"clients", "create", "--owner", alice, "--name", "x", "--scopes", readScope}, want: []string{"AUTHZ_KEK", "AUTHZ_PEPPER"}},
		}
		for _, tc := range cases {
			if tc.backend != "" && tc.backend != backend {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				mm := m
				if tc.env != nil {
					mm = withEnv(m, tc.env)
				}
				_, stderr, err := invoke(t, mm, tc.args...)
				if err == nil {
					t.Fatalf("authz %s: no error", strings.Join(tc.args, " "))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("authz %s: error %q does not mention %q", strings.Join(tc.args, " "), err, w)
					}
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("authz %s: error %q is not %v", strings.Join(tc.args, " "), err, tc.is)
				}
				for _, v := range tc.env {
					if v != "" && v != otherPepperFile && strings.Contains(err.Error()+stderr, v) {
						t.Errorf("authz %s: output shows the key material", strings.Join(tc.args, " "))
					}
				}
			})
		}

		// Nothing was created by the failed commands.
		var list []clientOut
		runJSON(t, m, &list, "clients", "list", "--json")
		if len(list) != 1 || list[0].ClientID != c.ClientID {
			t.Errorf("clients after the failures: %+v, want only %s", list, c.ClientID)
		}
		var users []userOut
		runJSON(t, m, &users, "users", "list", "--json")
		if len(users) != 1 {
			t.Errorf("users after the failures: %+v, want only %s", users, alice)
		}
	})
}

func TestDevKeyFile(t *testing.T) {
	check := func(t *testing.T, m *Main, path string) {
		t.Helper()
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		createClient(t, m, alice, "ci", readScope)
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("key file: %v", err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
		}
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "\nkek=") || !strings.Contains(string(body), "\npepper=") {
			t.Errorf("key file has no kek= and pepper= lines:\n%s", body)
		}
		// Reused, not regenerated, by the next command.
		c := createClient(t, m, alice, "ci2", readScope)
		if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, body) {
			t.Errorf("key file changed by a second command (err %v)", err)
		}
		srv := startServe(t, m)
		srv.mustToken(t, c.ClientID, c.ClientSecret, readScope)
		if err := srv.stop(t); err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Run("AUTHZ_KEY_FILE", func(t *testing.T) {
		m := newMain(t, storetest.URL(t, "sqlite"))
		check(t, m, m.Getenv("AUTHZ_KEY_FILE"))
	})
	t.Run("beside the database", func(t *testing.T) {
		url := storetest.URL(t, "sqlite")
		m := withEnv(newMain(t, url), map[string]string{"AUTHZ_KEY_FILE": ""})
		check(t, m, filepath.Join(filepath.Dir(strings.TrimPrefix(url, "sqlite:")), "authz.key"))
	})
}

func TestUsageRecordedOnShutdown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		c := createClient(t, m, alice, "ci", readScope)

		// A flush interval longer than the test: only the shutdown flush
		// can write the use.
		srv := startServe(t, m, "--usage-flush", "1h")
		before := time.Now()
		srv.mustToken(t, c.ClientID, c.ClientSecret, readScope)
		var shown clientOut
		runJSON(t, m, &shown, "clients", "show", c.ClientID, "--json")
		if shown.LastUsedAt != nil {
			t.Errorf("last_used_at %v written before a flush: the token endpoint should not write synchronously", shown.LastUsedAt)
		}
		if err := srv.stop(t); err != nil {
			t.Fatalf("serve: %v\n%s", err, srv.stderr.String())
		}
		after := time.Now()

		runJSON(t, m, &shown, "clients", "show", c.ClientID, "--json")
		if shown.LastUsedAt == nil {
			t.Fatalf("last_used_at not set after a graceful stop\nserver log:\n%s", srv.stderr.String())
		}
		if at := *shown.LastUsedAt; at.Before(before.Add(-time.Second)) || at.After(after.Add(time.Second)) {
			t.Errorf("last_used_at %v, want between %v and %v", at, before, after)
		}
		if shown.LastUsedIP != "127.0.0.1" || shown.LastUserAgent != userAgent {
			t.Errorf("last_used_ip %q last_user_agent %q, want 127.0.0.1 and %q", shown.LastUsedIP, shown.LastUserAgent, userAgent)
		}
		if len(shown.Secrets) != 1 || shown.Secrets[0].LastUsedAt == nil {
			t.Errorf("secret's last_used_at not set: %+v", shown.Secrets)
		}
		out := run(t, m, "clients", "list")
		if !strings.Contains(out, "127.0.0.1") {
			t.Errorf("clients list does not show the last IP:\n%s", out)
		}
	})
}

// A build without the authzbench tag serves no reference endpoint (the sign
// reference would mint a token for anyone) and has no bench-seed command.
func TestNoBenchRoutesInProductionBuild(t *testing.T) {
	if benchRoutes != nil {
		t.Skip("an authzbench build")
	}
	m := newMain(t, storetest.URL(t, "sqlite"))
	s := startServe(t, m)
	resp, err := http.Post(s.base+"/bench/sign", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /bench/sign: got %d, want 404", resp.StatusCode)
	}
	if _, _, err := invoke(t, m, "bench-seed"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("bench-seed: got %v, want unknown command", err)
	}
}
