package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	adminEmail    = "root@example.com"
	memberEmail   = "alice@example.com"
	adminPassword = "root password, long enough"
	memberPass    = "alice password, long enough"
	apiBase       = web.AdminPrefix
	// orgAPI is the API of the default organization, which every database
	// holds and whose members the tests below are.
	orgAPI = apiBase + "/orgs/default"
)

// orgPath is the API path of the organization slug.
func orgPath(slug string) string { return apiBase + "/orgs/" + slug }

// Password hashes are computed once per test binary: argon2id at its real
// cost takes a while.
var (
	hashesOnce sync.Once
	adminHash  string
	memberHash string
)

// adminEnv is a running authz server with the admin API, an admin and a
// member (alice, who may create clients) on a real database.
type adminEnv struct {
	t        testing.TB
	url      string
	host     string
	store    *models.Store
	registry *app.Registry
	hasher   *oauth.Hasher
	keyring  *jwtkeys.Keyring
	clock    *testutil.Clock
	admin    *models.User
	member   *models.User
	// secrets are every client secret seen; no GET may show one.
	secrets []string
}

func newAdminEnv(t testing.TB, backend string, secure bool) *adminEnv {
	t.Helper()
	ctx := context.Background()
	clk := testutil.NewClock(time.Now().UTC().Truncate(time.Second))
	store := storetest.Open(t, backend)
	store.Now = clk.Now
	hasher, keyring := testkeys.New(t, store, "")
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	tokens, err := oauth.NewServer(oauth.Config{Issuer: srv.URL, Now: clk.Now}, store, hasher, keyring, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	registry := app.NewRegistry(store, app.RegistryConfig{Hasher: hasher, Issuer: srv.URL, Now: clk.Now})
	handler = web.New(web.Config{Issuer: srv.URL, Admin: &web.Admin{Store: store, Registry: registry, Now: clk.Now, SecureCookies: secure}}, tokens, keyring, store)

	hashesOnce.Do(func() { adminHash, memberHash = app.HashPassword(adminPassword), app.HashPassword(memberPass) })
	admin := &models.User{OrgID: models.DefaultOrgID, Email: adminEmail, Name: "Root", Role: models.RoleAdmin, PasswordHash: adminHash, Permissions: models.NewSet(readScope, createScope, configScope)}
	member := &models.User{OrgID: models.DefaultOrgID, Email: memberEmail, Name: "Alice", Role: models.RoleMember, PasswordHash: memberHash, MayCreateClients: true, Permissions: models.NewSet(readScope, createScope, configScope)}
	for _, u := range []*models.User{admin, member} {
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(srv.URL)
	return &adminEnv{t: t, url: srv.URL, host: u.Host, store: store, registry: registry, hasher: hasher, keyring: keyring, clock: clk, admin: admin, member: member}
}

// apiResp is an admin API response.
type apiResp struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (r apiResp) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r apiResp) items() []map[string]any {
	list, _ := r.body["items"].([]any)
	out := make([]map[string]any, 0, len(list))
	for _, it := range list {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

func (r apiResp) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

// withoutContentType removes the Content-Type a state-changing call otherwise gets.
var withoutContentType = http.Header{"Content-Type": nil}

// call sends a request to the admin API with the session token (if any).
// body is nil (no body), a string (sent as is) or a value (as JSON);
// state-changing methods get Content-Type: application/json unless header
// says otherwise. Every response is checked: JSON, never a 5xx, never a
// password hash, and no known client secret in a GET.
func (e *adminEnv) call(token, method, path string, body any, header http.Header) apiResp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	}
	for k, v := range header {
		if v == nil {
			req.Header.Del(k)
		} else {
			req.Header[k] = v
		}
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer hr.Body.Close()
	raw, _ := io.ReadAll(hr.Body)
	r := apiResp{status: hr.StatusCode, header: hr.Header, raw: string(raw)}
	if hr.StatusCode >= 500 {
		e.t.Errorf("%s %s: %d %s", method, path, hr.StatusCode, raw)
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: %d, body is not a JSON object: %q", method, path, hr.StatusCode, raw)
		}
	}
	// A hash would appear as a field named ...hash or as a PHC string.
	if path != apiBase+"/openapi.json" && (strings.Contains(r.raw, `hash"`) || strings.Contains(r.raw, "$argon2")) {
		e.t.Errorf("%s %s: the response holds a hash: %s", method, path, raw)
	}
	if method == http.MethodGet {
		for _, s := range e.secrets {
			if s != "" && strings.Contains(r.raw, s) {
				e.t.Errorf("%s %s: the response holds a client secret", method, path)
			}
		}
	}
	if hr.StatusCode >= 400 && (r.str("code") == "" || r.str("message") == "") {
		e.t.Errorf("%s %s: error %d without code and message: %s", method, path, hr.StatusCode, raw)
	}
	routing := r.str("code") == "not_found" || r.str("code") == "method_not_allowed" // Echo's own answers
	if !routing && (hr.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(hr.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || hr.Header.Get("X-Content-Type-Options") != "nosniff") {
		e.t.Errorf("%s %s: missing security headers: %v", method, path, hr.Header)
	}
	if cc := hr.Header.Get("Cache-Control"); path != apiBase+"/openapi.json" && !routing && cc != "no-store" {
		e.t.Errorf("%s %s: Cache-Control %q, want no-store", method, path, cc)
	}
	return r
}

func (e *adminEnv) login(email, password string) string {
	e.t.Helper()
	r := e.call("", "POST", apiBase+"/session", map[string]string{"email": email, "password": password}, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("sign in as %s: %s", email, r)
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == web.SessionCookie {
			return c.Value
		}
	}
	e.t.Fatalf("sign in as %s: no %s cookie", email, web.SessionCookie)
	return ""
}

// wantAPI checks a response's status and, for errors, its code.
func wantAPI(t *testing.T, what string, r apiResp, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.str("code") != code) {
		t.Errorf("%s: got %s, want %d %s", what, r, status, code)
	}
}

// createClient creates a client through the API and remembers its secret.
func (e *adminEnv) createClient(token string, in map[string]any) (id, secret string, r apiResp) {
	e.t.Helper()
	if _, ok := in["name"]; !ok {
		in["name"] = "test client"
	}
	r = e.call(token, "POST", orgAPI+"/clients", in, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create client %v: %s", in, r)
	}
	id, secret = r.str("client_id"), r.str("client_secret")
	if id == "" || !strings.HasPrefix(secret, oauth.SecretPrefix) {
		e.t.Fatalf("create client: id %q, secret %q", id, secret)
	}
	e.secrets = append(e.secrets, secret)
	return id, secret, r
}

// token asks the token endpoint for a token and returns its status and
// error code.
func (e *adminEnv) token(id, secret string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer hr.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(hr.Body).Decode(&body)
	code, _ := body["error"].(string)
	return hr.StatusCode, code
}

func (e *adminEnv) putPolicy(token string, change map[string]any) apiResp {
	e.t.Helper()
	cur := e.call(token, "GET", orgAPI+"/policy", nil, nil)
	if cur.status != 200 {
		e.t.Fatalf("GET policy: %s", cur)
	}
	for k, v := range change {
		cur.body[k] = v
	}
	return e.call(token, "PUT", orgAPI+"/policy", cur.body, nil)
}

func clientIDs(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it["client_id"].(string))
	}
	return out
}

func TestAdminSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()

		wrong := e.call("", "POST", apiBase+"/session", map[string]string{"email": adminEmail, "password": "not the password"}, nil)
		unknown := e.call("", "POST", apiBase+"/session", map[string]string{"email": "nobody@example.com", "password": "not the password"}, nil)
		wantAPI(t, "wrong password", wrong, 401, "invalid_credentials")
		wantAPI(t, "unknown email", unknown, 401, "invalid_credentials")
		if wrong.raw != unknown.raw {
			t.Errorf("wrong password and unknown email differ: %s / %s", wrong.raw, unknown.raw)
		}
		if c := wrong.header.Get("Set-Cookie"); c != "" {
			t.Errorf("a failed sign-in set a cookie: %s", c)
		}
		failed, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 2 || failed[0].IP != "127.0.0.1" || failed[1].IP != "127.0.0.1" {
			t.Errorf("session.failed events: %+v", failed)
		}
		for _, ev := range failed {
			if strings.Contains(ev.Detail+ev.Actor, "not the password") {
				t.Errorf("the audit log holds a password: %+v", ev)
			}
		}

		r := e.call("", "POST", apiBase+"/session", map[string]string{"email": "ROOT@example.com", "password": adminPassword}, nil)
		wantAPI(t, "sign in", r, 201, "")
		setCookie := r.header.Get("Set-Cookie")
		for _, want := range []string{web.SessionCookie + "=", "Path=/admin", "Max-Age=86400", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(setCookie, want) {
				t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
			}
		}
		if strings.Contains(setCookie, "Secure") {
			t.Errorf("Set-Cookie %q is Secure although SecureCookies is false", setCookie)
		}
		token := (&http.Response{Header: r.header}).Cookies()[0].Value
		if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
			t.Errorf("session token %q is not 256 random bits in base64url", token)
		}
		sum := sha256.Sum256([]byte(token))
		if sess, err := e.store.SessionByID(ctx, hex.EncodeToString(sum[:])); err != nil || sess.UserID != e.admin.ID {
			t.Errorf("the store does not hold the session under the token's SHA-256: %v", err)
		}
		if _, err := e.store.SessionByID(ctx, token); err == nil {
			t.Error("the store holds the token itself")
		}
		user, _ := r.body["user"].(map[string]any)
		orgs, _ := r.body["organizations"].([]any)
		if user["email"] != adminEmail || user["id"] != e.admin.ID || len(orgs) != 1 || fmt.Sprint(orgs[0]) != "map[name:Default role:admin slug:default]" {
			t.Errorf("sign-in body: %s", r.raw)
		}
		if want := e.clock.Now().Add(24 * time.Hour).Format(time.RFC3339); r.str("expires_at") != want {
			t.Errorf("expires_at: got %s, want %s", r.str("expires_at"), want)
		}

		for name, tok := range map[string]string{"no cookie": "", "unknown token": base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "malformed token": "x"} {
			wantAPI(t, name, e.call(tok, "GET", orgAPI+"/members", nil, nil), 401, "unauthenticated")
		}
		wantAPI(t, "GET /session", e.call(token, "GET", apiBase+"/session", nil, nil), 200, "")

		e.clock.Advance(24*time.Hour - time.Second)
		wantAPI(t, "just before 24h", e.call(token, "GET", apiBase+"/session", nil, nil), 200, "")
		e.clock.Advance(time.Second)
		wantAPI(t, "at 24h", e.call(token, "GET", apiBase+"/session", nil, nil), 401, "unauthenticated")

		token = e.login(adminEmail, adminPassword)
		out := e.call(token, "DELETE", apiBase+"/session", nil, nil)
		wantAPI(t, "sign out", out, 204, "")
		if c := out.header.Get("Set-Cookie"); !strings.Contains(c, web.SessionCookie+"=;") || !strings.Contains(c, "Max-Age=0") {
			t.Errorf("sign-out Set-Cookie %q does not clear the cookie", c)
		}
		wantAPI(t, "after sign-out", e.call(token, "GET", apiBase+"/session", nil, nil), 401, "unauthenticated")
		wantAPI(t, "sign out again", e.call(token, "DELETE", apiBase+"/session", nil, nil), 204, "")

		// Disabling a user ends their sessions at their next request.
		admin := e.login(adminEmail, adminPassword)
		alice := e.login(memberEmail, memberPass)
		wantAPI(t, "member session", e.call(alice, "GET", apiBase+"/session", nil, nil), 200, "")
		wantAPI(t, "disable alice", e.call(admin, "PATCH", orgAPI+"/members/"+e.member.ID, map[string]any{"status": "disabled"}, nil), 200, "")
		wantAPI(t, "disabled member's session", e.call(alice, "GET", apiBase+"/session", nil, nil), 401, "unauthenticated")
		wantAPI(t, "disabled member signs in", e.call("", "POST", apiBase+"/session", map[string]string{"email": memberEmail, "password": memberPass}, nil), 401, "invalid_credentials")

		wantAPI(t, "sign-in without a body", e.call("", "POST", apiBase+"/session", nil, nil), 400, "invalid_json")
	})
}

func TestAdminSecureCookie(t *testing.T) {
	e := newAdminEnv(t, "sqlite", true)
	r := e.call("", "POST", apiBase+"/session", map[string]string{"email": adminEmail, "password": adminPassword}, nil)
	if c := r.header.Get("Set-Cookie"); r.status != 201 || !strings.Contains(c, "; Secure") {
		t.Errorf("got %d, Set-Cookie %q: want a Secure cookie", r.status, c)
	}
}

// No credential can manage credentials: a bearer token or client
// credentials are refused even beside a valid session.
func TestAdminRefusesCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, secret, _ := e.createClient(admin, map[string]any{"scopes": []string{readScope}})
		cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.url + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
		for _, tc := range []struct {
			name, token, method, path string
			body                      any
			header                    http.Header
		}{
			{"bearer, list", admin, "GET", orgAPI + "/clients", nil, bearer},
			{"bearer, no session", "", "GET", orgAPI + "/clients", nil, bearer},
			{"bearer, create", admin, "POST", orgAPI + "/clients", map[string]any{"name": "by token"}, bearer},
			{"bearer, rotate", admin, "POST", orgAPI + "/clients/" + id + "/rotate", nil, bearer},
			{"bearer, revoke", admin, "POST", orgAPI + "/clients/" + id + "/revoke", nil, bearer},
			{"bearer, sign in", "", "POST", apiBase + "/session", map[string]string{"email": adminEmail, "password": adminPassword}, bearer},
			{"basic client credentials", admin, "POST", orgAPI + "/clients/" + id + "/rotate", nil, basic(id, secret)},
			{"access_token parameter", admin, "GET", orgAPI + "/clients?access_token=" + tok.AccessToken, nil, nil},
		} {
			wantAPI(t, tc.name, e.call(tc.token, tc.method, tc.path, tc.body, tc.header), 401, "credentials_not_accepted")
		}
		list := e.call(admin, "GET", orgAPI+"/clients", nil, nil)
		if got := clientIDs(list.items()); len(got) != 1 || got[0] != id {
			t.Errorf("clients after refused calls: %v", got)
		}
		if status, _ := e.token(id, secret); status != 200 {
			t.Errorf("the client no longer works after refused revoke/rotate: %d", status)
		}
	})
}

func TestAdminCSRFAndInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, _, created := e.createClient(admin, map[string]any{})
		secretID := created.str("secret_id")
		body := map[string]any{"name": "x"}
		for _, tc := range []struct {
			name   string
			method string
			path   string
			body   any
			header http.Header
			status int
			code   string
		}{
			{"no content type", "POST", "/clients", body, withoutContentType, 415, "unsupported_media_type"},
			{"text/plain", "POST", "/clients", `{"name":"x"}`, http.Header{"Content-Type": {"text/plain"}}, 415, "unsupported_media_type"},
			{"form", "POST", "/clients", "name=x", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, 415, "unsupported_media_type"},
			{"multipart", "POST", "/clients", "", http.Header{"Content-Type": {"multipart/form-data; boundary=x"}}, 415, "unsupported_media_type"},
			{"DELETE without content type", "DELETE", "/clients/" + id + "/secrets/" + secretID, nil, withoutContentType, 415, "unsupported_media_type"},
			{"sign-in without content type", "POST", apiBase + "/session", `{"email":"a","password":"b"}`, withoutContentType, 415, "unsupported_media_type"},
			{"sign-out without content type", "DELETE", apiBase + "/session", nil, withoutContentType, 415, "unsupported_media_type"},
			{"foreign Origin", "POST", "/clients", body, http.Header{"Origin": {"https://evil.example"}}, 403, "cross_origin"},
			{"foreign Origin, same host name other port", "POST", "/clients", body, http.Header{"Origin": {"http://127.0.0.1:1"}}, 403, "cross_origin"},
			{"null Origin", "POST", "/clients", body, http.Header{"Origin": {"null"}}, 403, "cross_origin"},
			{"foreign Origin on sign-in", "POST", apiBase + "/session", map[string]string{"email": adminEmail, "password": adminPassword}, http.Header{"Origin": {"https://evil.example"}}, 403, "cross_origin"},
			{"cross-site fetch", "DELETE", "/clients/" + id + "/secrets/" + secretID, nil, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, "cross_origin"},
			{"unknown field", "POST", "/clients", map[string]any{"name": "x", "colour": "blue"}, nil, 400, "invalid_json"},
			{"malformed JSON", "POST", "/clients", `{"name": "x"`, nil, 400, "invalid_json"},
			{"syntax error", "POST", "/clients", `{"name": x}`, nil, 400, "invalid_json"},
			{"array body", "POST", "/clients", `[]`, nil, 400, "invalid_json"},
			{"trailing data", "POST", "/clients", `{"name":"x"} {}`, nil, 400, "invalid_json"},
			{"wrong type", "POST", "/clients", `{"name": 5}`, nil, 400, "invalid_json"},
			{"empty body where required", "POST", "/clients", nil, nil, 400, "invalid_json"},
			{"too large", "POST", "/clients", `{"name":"` + strings.Repeat("a", 64<<10) + `"}`, nil, 413, "body_too_large"},
			{"unknown query parameter", "GET", "/clients?stauts=active", nil, nil, 400, "invalid_parameter"},
			{"repeated query parameter", "GET", "/clients?status=active&status=revoked", nil, nil, 400, "invalid_parameter"},
			{"unknown status", "GET", "/clients?status=sleeping", nil, nil, 400, "invalid_parameter"},
			{"bad legacy", "GET", "/clients?legacy=yes", nil, nil, 400, "invalid_parameter"},
			{"unknown route", "GET", "/nope", nil, nil, 404, "not_found"},
			{"wrong method", "PUT", "/clients", body, nil, 405, "method_not_allowed"},
		} {
			path := tc.path
			if !strings.HasPrefix(path, apiBase) {
				path = orgAPI + path
			}
			r := e.call(admin, tc.method, path, tc.body, tc.header)
			wantAPI(t, tc.name, r, tc.status, tc.code)
			if tc.name == "unknown field" && !strings.Contains(r.str("message"), `"colour"`) {
				t.Errorf("unknown field: message %q does not name the field", r.str("message"))
			}
			if tc.name == "wrong type" && !strings.Contains(r.str("message"), `"name"`) {
				t.Errorf("wrong type: message %q does not name the field", r.str("message"))
			}
		}
		list := e.call(admin, "GET", orgAPI+"/clients", nil, nil)
		if got := clientIDs(list.items()); len(got) != 1 {
			t.Errorf("refused requests created clients: %v", got)
		}

		// Allowed: same Origin, a charset parameter, GET from anywhere, and
		// DELETE with a JSON content type and no body.
		wantAPI(t, "same Origin", e.call(admin, "POST", orgAPI+"/clients", body, http.Header{"Origin": {"http://" + e.host}, "Sec-Fetch-Site": {"same-origin"}}), 201, "")
		wantAPI(t, "charset", e.call(admin, "POST", orgAPI+"/clients", `{"name":"y"}`, http.Header{"Content-Type": {"application/json; charset=utf-8"}}), 201, "")
		wantAPI(t, "GET with foreign Origin", e.call(admin, "GET", orgAPI+"/clients", nil, http.Header{"Origin": {"https://evil.example"}}), 200, "")
		wantAPI(t, "DELETE with JSON content type", e.call(admin, "DELETE", orgAPI+"/clients/"+id+"/secrets/"+secretID, nil, nil), 204, "")
	})
}

func TestAdminMemberPermissions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		alice := e.login(memberEmail, memberPass)
		adminClient, _, _ := e.createClient(admin, map[string]any{"scopes": []string{readScope}})
		own, _, r := e.createClient(alice, map[string]any{"scopes": []string{readScope}})
		if r.str("owner") != memberEmail || r.str("created_by") != memberEmail {
			t.Errorf("member's client: owner %q, created_by %q", r.str("owner"), r.str("created_by"))
		}
		bob := &models.User{OrgID: models.DefaultOrgID, Email: "bob@example.com", Name: "Bob", Permissions: models.NewSet(readScope)}
		if err := e.store.CreateUser(context.Background(), bob); err != nil {
			t.Fatal(err)
		}
		bob.PasswordHash = memberHash
		if err := e.store.UpdateUser(context.Background(), bob); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"list users", "GET", "/members", nil, 403, "admin_required"},
			{"create user", "POST", "/members", map[string]any{"email": "x@example.com", "name": "X"}, 403, "admin_required"},
			{"read another user", "GET", "/members/" + e.admin.ID, nil, 403, "admin_required"},
			{"change own rights", "PATCH", "/members/" + e.member.ID, map[string]any{"role": "admin"}, 403, "admin_required"},
			{"set a password", "PUT", "/members/" + e.member.ID + "/password", map[string]any{"password": "a new long password"}, 403, "admin_required"},
			{"read policy", "GET", "/policy", nil, 403, "admin_required"},
			{"change policy", "PUT", "/policy", map[string]any{}, 403, "admin_required"},
			{"read audit", "GET", "/audit", nil, 403, "admin_required"},
			{"import", "POST", "/clients/import", map[string]any{"client_id": "legacy-1", "client_secret": strings.Repeat("s", 20), "name": "x"}, 403, "admin_required"},
			{"list another owner's clients", "GET", "/clients?owner=" + adminEmail, nil, 403, "admin_required"},
			{"read another's client", "GET", "/clients/" + adminClient, nil, 403, "not_client_owner"},
			{"rotate another's client", "POST", "/clients/" + adminClient + "/rotate", nil, 403, "not_client_owner"},
			{"revoke another's client", "POST", "/clients/" + adminClient + "/revoke", nil, 403, "not_client_owner"},
			{"create for another owner", "POST", "/clients", map[string]any{"name": "x", "owner": adminEmail}, 403, "owner_must_be_self"},
			{"create a resource server", "POST", "/clients", map[string]any{"name": "x", "resource_server": true}, 403, "admin_required"},
			{"read own user", "GET", "/members/" + e.member.ID, nil, 200, ""},
			{"read own client", "GET", "/clients/" + own, nil, 200, ""},
		} {
			wantAPI(t, "member: "+tc.name, e.call(alice, tc.method, orgAPI+tc.path, tc.body, nil), tc.status, tc.code)
		}
		wantAPI(t, "member: read keys", e.call(alice, "GET", apiBase+"/keys", nil, nil), 403, "admin_required")
		list := e.call(alice, "GET", orgAPI+"/clients", nil, nil)
		if got := clientIDs(list.items()); len(got) != 1 || got[0] != own {
			t.Errorf("member's list: got %v, want only %s", got, own)
		}
		rot := e.call(alice, "POST", orgAPI+"/clients/"+own+"/rotate", map[string]any{"grace": "0s"}, nil)
		wantAPI(t, "member rotates own", rot, 200, "")
		e.secrets = append(e.secrets, rot.str("client_secret"))
		wantAPI(t, "member revokes own", e.call(alice, "POST", orgAPI+"/clients/"+own+"/revoke", nil, nil), 200, "")

		// A member the admin has not allowed to create clients.
		bobTok := e.login(bob.Email, memberPass)
		wantAPI(t, "bob creates", e.call(bobTok, "POST", orgAPI+"/clients", map[string]any{"name": "x"}, nil), 403, "not_allowed_to_create")
		wantAPI(t, "allow bob", e.call(admin, "PATCH", orgAPI+"/members/"+bob.ID, map[string]any{"may_create_clients": true}, nil), 200, "")
		wantAPI(t, "bob creates when allowed", e.call(bobTok, "POST", orgAPI+"/clients", map[string]any{"name": "x", "scopes": []string{readScope}}, nil), 201, "")

		wantAPI(t, "admin demotes self", e.call(admin, "PATCH", orgAPI+"/members/"+e.admin.ID, map[string]any{"role": "member"}, nil), 409, "self_lockout")
		wantAPI(t, "admin disables self", e.call(admin, "PATCH", orgAPI+"/members/"+e.admin.ID, map[string]any{"status": "disabled"}, nil), 409, "self_lockout")
		wantAPI(t, "promote alice", e.call(admin, "PATCH", orgAPI+"/members/"+e.member.ID, map[string]any{"role": "admin"}, nil), 200, "")
		// A role change ends the user's sessions: alice signs in again as an admin.
		wantAPI(t, "alice's session from before the promotion", e.call(alice, "GET", orgAPI+"/members", nil, nil), 401, "unauthenticated")
		alice = e.login(memberEmail, memberPass)
		wantAPI(t, "alice as admin", e.call(alice, "GET", orgAPI+"/members", nil, nil), 200, "")
	})
}

func TestAdminClientLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		admin := e.login(adminEmail, adminPassword)

		id, secret, r := e.createClient(admin, map[string]any{
			"owner": memberEmail, "name": "billing", "description": "nightly export", "scopes": []string{readScope, configScope},
			"ip_allowlist": []string{"127.0.0.1", "10.0.0.0/8"}, "token_ttl": "10m",
		})
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("create: Cache-Control %q", cc)
		}
		if loc := r.header.Get("Location"); loc != orgAPI+"/clients/"+id {
			t.Errorf("create: Location %q", loc)
		}
		if !oauth.ValidClientID(id) || !oauth.ValidSecret(secret) {
			t.Errorf("create: client_id %q / secret %q are not generated credentials", id, secret)
		}
		if status, code := e.token(id, secret); status != 200 {
			t.Fatalf("new secret at the token endpoint: %d %s", status, code)
		}

		// The view: created now, expiring in the default year, allowlist
		// entries as prefixes, sorted.
		got := e.call(admin, "GET", orgAPI+"/clients/"+id, nil, nil)
		ids := map[string]string{id: "<client_id>", e.member.ID: "<member_id>", r.str("secret_id"): "<secret_id>"}
		testutil.GoldenJSON(t, "testdata/admin/client.json", []byte(got.raw), e.adminNorm(ids, "last_chars"))
		if secrets := got.body["secrets"].([]any); len(secrets) != 1 || secrets[0].(map[string]any)["last_chars"] != secret[len(secret)-4:] {
			t.Errorf("secrets: got %v, want one ending as the secret, %q", secrets, secret[len(secret)-4:])
		}

		// Usage recorded by the token endpoint shows up.
		if err := e.store.RecordUsage(ctx, []models.Usage{{ClientID: id, SecretID: r.str("secret_id"), At: e.clock.Now(), IP: "203.0.113.9", UserAgent: "exporter/1.0", Count: 3}}); err != nil {
			t.Fatal(err)
		}
		got = e.call(admin, "GET", orgAPI+"/clients/"+id, nil, nil)
		if got.body["last_used_ip"] != "203.0.113.9" || got.body["last_user_agent"] != "exporter/1.0" || got.body["token_count"] != 3.0 || got.body["last_used_at"] != e.clock.Now().Format(time.RFC3339) {
			t.Errorf("usage in view: %s", got.raw)
		}

		// Alice loses config:read: effective scopes follow.
		wantAPI(t, "alice loses config:read", e.call(admin, "PATCH", orgAPI+"/members/"+e.member.ID, map[string]any{"permissions": []string{readScope, createScope}}, nil), 200, "")
		got = e.call(admin, "GET", orgAPI+"/clients/"+id, nil, nil)
		if s := joinList(got.body["effective_scopes"]); s != readScope {
			t.Errorf("effective_scopes after the owner lost config:read: %q", s)
		}

		// Rotation with a grace period: both secrets work, then only the new.
		e.clock.Advance(time.Hour)
		rotatedAt := e.clock.Now()
		rot := e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{"grace": "2h"}, nil)
		wantAPI(t, "rotate", rot, 200, "")
		second := rot.str("client_secret")
		e.secrets = append(e.secrets, second)
		if rot.header.Get("Cache-Control") != "no-store" || !oauth.ValidSecret(second) || second == secret || rot.str("secret_id") == "" {
			t.Fatalf("rotate: %s", rot)
		}
		for name, s := range map[string]string{"old": secret, "new": second} {
			if status, code := e.token(id, s); status != 200 {
				t.Errorf("during grace, %s secret: %d %s", name, status, code)
			}
		}
		e.clock.Advance(2*time.Hour + time.Second)
		if status, code := e.token(id, secret); status != 401 || code != "invalid_client" {
			t.Errorf("after grace, old secret: %d %s, want 401 invalid_client", status, code)
		}
		if status, code := e.token(id, second); status != 200 {
			t.Errorf("after grace, new secret: %d %s", status, code)
		}
		got = e.call(admin, "GET", orgAPI+"/clients/"+id, nil, nil)
		statuses := []string{}
		for _, s := range got.body["secrets"].([]any) {
			statuses = append(statuses, s.(map[string]any)["status"].(string))
		}
		if strings.Join(statuses, ",") != "expired,active" {
			t.Errorf("secret statuses after grace: %v", statuses)
		}

		// A rotation with no grace stops the previous secret at once.
		rot = e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{"grace": "0s"}, nil)
		wantAPI(t, "rotate with no grace", rot, 200, "")
		third := rot.str("client_secret")
		e.secrets = append(e.secrets, third)
		if status, _ := e.token(id, second); status != 401 {
			t.Errorf("after a 0s rotation the previous secret works: %d", status)
		}
		wantAPI(t, "bad grace", e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{"grace": "soon"}, nil), 400, "invalid_grace")
		wantAPI(t, "grace too long", e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{"grace": "31d"}, nil), 400, "invalid_grace")

		// Revoking one secret.
		rot = e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{"grace": "1h"}, nil)
		fourth := rot.str("client_secret")
		e.secrets = append(e.secrets, fourth)
		var thirdID string
		for _, s := range rot.body["secrets"].([]any) {
			if m := s.(map[string]any); m["last_chars"] == third[len(third)-4:] {
				thirdID = m["id"].(string)
			}
		}
		wantAPI(t, "revoke a secret", e.call(admin, "DELETE", orgAPI+"/clients/"+id+"/secrets/"+thirdID, nil, nil), 204, "")
		if status, _ := e.token(id, third); status != 401 {
			t.Errorf("a revoked secret works: %d", status)
		}
		if status, _ := e.token(id, fourth); status != 200 {
			t.Errorf("the other secret stopped working: %d", status)
		}
		wantAPI(t, "revoke it again", e.call(admin, "DELETE", orgAPI+"/clients/"+id+"/secrets/"+thirdID, nil, nil), 404, "secret_not_found")
		wantAPI(t, "revoke an unknown secret", e.call(admin, "DELETE", orgAPI+"/clients/"+id+"/secrets/nope", nil, nil), 404, "secret_not_found")

		// Revoking the client: refused at the next request.
		e.clock.Advance(time.Hour)
		revokedAt := e.clock.Now()
		rev := e.call(admin, "POST", orgAPI+"/clients/"+id+"/revoke", nil, nil)
		wantAPI(t, "revoke", rev, 200, "")
		if rev.str("status") != "revoked" || rev.str("revoked_at") != revokedAt.Format(time.RFC3339) {
			t.Errorf("revoke: %s", rev.raw)
		}
		if status, code := e.token(id, fourth); status != 401 || code != "invalid_client" {
			t.Errorf("revoked client at the token endpoint: %d %s", status, code)
		}
		wantAPI(t, "revoke again", e.call(admin, "POST", orgAPI+"/clients/"+id+"/revoke", nil, nil), 409, "client_revoked")
		wantAPI(t, "rotate revoked", e.call(admin, "POST", orgAPI+"/clients/"+id+"/rotate", nil, nil), 409, "client_revoked")
		wantAPI(t, "unknown client", e.call(admin, "GET", orgAPI+"/clients/azc_nope", nil, nil), 404, "client_not_found")
		wantAPI(t, "rotate unknown client", e.call(admin, "POST", orgAPI+"/clients/azc_nope/rotate", nil, nil), 404, "client_not_found")
		wantAPI(t, "revoke unknown client", e.call(admin, "POST", orgAPI+"/clients/azc_nope/revoke", nil, nil), 404, "client_not_found")

		// The audit log: create, rotate, revoke with actor and IP.
		audit := e.call(admin, "GET", orgAPI+"/audit?client_id="+id, nil, nil)
		var actions []string
		for _, ev := range audit.items() {
			actions = append(actions, ev["action"].(string))
			if ev["actor"] != adminEmail || ev["ip"] != "127.0.0.1" || ev["client_id"] != id {
				t.Errorf("audit event: %v", ev)
			}
		}
		if got, want := strings.Join(actions, ","), "client.revoked,secret.revoked,secret.rotated,secret.rotated,secret.rotated,client.created"; got != want {
			t.Errorf("audit actions: got %s, want %s", got, want)
		}
		q := url.Values{"client_id": {id}, "since": {rotatedAt.Format(time.RFC3339)}, "until": {rotatedAt.Add(time.Second).Format(time.RFC3339)}}
		window := e.call(admin, "GET", orgAPI+"/audit?"+q.Encode(), nil, nil)
		if items := window.items(); len(items) != 1 || items[0]["action"] != "secret.rotated" || items[0]["at"] != rotatedAt.Format(time.RFC3339) {
			t.Errorf("audit in [rotation, +1s): %s", window.raw)
		}
		q = url.Values{"action": {"client.revoked"}, "since": {revokedAt.Format(time.RFC3339)}}
		if items := e.call(admin, "GET", orgAPI+"/audit?"+q.Encode(), nil, nil).items(); len(items) != 1 || items[0]["client_id"] != id {
			t.Errorf("audit by action since the revocation: %v", items)
		}
		if items := e.call(admin, "GET", orgAPI+"/audit?user_id="+e.member.ID+"&action=client.created", nil, nil).items(); len(items) != 1 {
			t.Errorf("audit by user: %v", items)
		}
		wantAPI(t, "bad since", e.call(admin, "GET", orgAPI+"/audit?since=yesterday", nil, nil), 400, "invalid_parameter")

		// Audit pages.
		var seen []string
		cursor := ""
		for range 20 {
			p := e.call(admin, "GET", orgAPI+"/audit?limit=2&client_id="+id+"&cursor="+cursor, nil, nil)
			for _, ev := range p.items() {
				seen = append(seen, ev["id"].(string))
			}
			if cursor = p.str("next_cursor"); cursor == "" {
				break
			}
		}
		if len(seen) != 6 || len(setOf(seen)) != 6 {
			t.Errorf("audit pages: %v", seen)
		}
	})
}

func joinList(v any) string {
	list, _ := v.([]any)
	parts := make([]string, 0, len(list))
	for _, it := range list {
		parts = append(parts, fmt.Sprint(it))
	}
	return strings.Join(parts, " ")
}

func setOf(s []string) map[string]bool {
	m := map[string]bool{}
	for _, it := range s {
		m[it] = true
	}
	return m
}

func TestAdminClientRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy: 2 clients per owner", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 2}), 200, "")
		for i := range 2 {
			e.createClient(admin, map[string]any{"owner": memberEmail, "name": fmt.Sprint("c", i)})
		}
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			code   string
		}{
			{"third client", map[string]any{"owner": memberEmail, "name": "c3"}, 409, "client_limit_reached"},
			{"scope the owner lacks", map[string]any{"name": "x", "scopes": []string{"admin:all"}}, 400, "scope_not_held_by_owner"},
			{"unknown owner", map[string]any{"name": "x", "owner": "ghost@example.com"}, 400, "owner_not_found"},
			{"no name", map[string]any{"name": ""}, 400, "invalid_name"},
			{"bad ttl", map[string]any{"name": "x", "token_ttl": "soon"}, 400, "invalid_duration"},
			{"ttl above the max", map[string]any{"name": "x", "token_ttl": "2h"}, 400, "invalid_token_ttl"},
			{"bad expiry", map[string]any{"name": "x", "expires_at": "next year"}, 400, "invalid_expiry"},
			{"past expiry", map[string]any{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "invalid_expiry"},
			{"bad audience", map[string]any{"name": "x", "audiences": []string{"not a uri"}}, 400, "invalid_audience"},
			{"bad CIDR", map[string]any{"name": "x", "ip_allowlist": []string{"10.0.0.0/33"}}, 400, "invalid_ip_allowlist"},
		} {
			wantAPI(t, tc.name, e.call(admin, "POST", orgAPI+"/clients", tc.body, nil), tc.status, tc.code)
		}
		list := e.call(admin, "GET", orgAPI+"/clients?owner="+memberEmail, nil, nil)
		if n := len(list.items()); n != 2 {
			t.Errorf("alice has %d clients, want 2", n)
		}
		// Revoked clients do not count.
		first := clientIDs(list.items())[0]
		wantAPI(t, "revoke one", e.call(admin, "POST", orgAPI+"/clients/"+first+"/revoke", nil, nil), 200, "")
		e.createClient(admin, map[string]any{"owner": memberEmail, "name": "after revoke"})
	})
}

func TestAdminClientPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 10}), 200, "")
		var all []string
		for i := range 7 {
			id, _, _ := e.createClient(admin, map[string]any{"name": fmt.Sprint("client ", i)})
			all = append(all, id)
		}
		var seen []string
		var sizes []int
		cursor := ""
		for range 10 {
			p := e.call(admin, "GET", orgAPI+"/clients?limit=3&cursor="+url.QueryEscape(cursor), nil, nil)
			wantAPI(t, "page", p, 200, "")
			seen = append(seen, clientIDs(p.items())...)
			sizes = append(sizes, len(p.items()))
			if cursor = p.str("next_cursor"); cursor == "" {
				break
			}
		}
		if fmt.Sprint(sizes) != "[3 3 1]" {
			t.Errorf("page sizes: %v, want [3 3 1]", sizes)
		}
		if len(seen) != 7 || len(setOf(seen)) != 7 {
			t.Errorf("pages: got %v", seen)
		}
		for _, id := range all {
			if !setOf(seen)[id] {
				t.Errorf("client %s missing from the pages", id)
			}
		}
		// Newest first; the clock stands still, so all were created at one
		// instant and client_id (descending) orders them across pages.
		for i := 1; i < len(seen); i++ {
			if seen[i-1] <= seen[i] {
				t.Errorf("pages not ordered by client_id descending: %v", seen)
			}
		}
		if p := e.call(admin, "GET", orgAPI+"/clients?limit=7", nil, nil); len(p.items()) != 7 || p.str("next_cursor") != "" {
			t.Errorf("exact page: %d items, next_cursor %q", len(p.items()), p.str("next_cursor"))
		}
		if p := e.call(admin, "GET", orgAPI+"/clients", nil, nil); len(p.items()) != 7 {
			t.Errorf("default page: %d items", len(p.items()))
		}
		for _, bad := range []string{"limit=0", "limit=201", "limit=x", "cursor=%40%40", "cursor=!!"} {
			wantAPI(t, bad, e.call(admin, "GET", orgAPI+"/clients?"+bad, nil, nil), 400, "invalid_parameter")
		}
		// Users page the same way.
		for i := range 3 {
			wantAPI(t, "create user", e.call(admin, "POST", orgAPI+"/members", map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "name": "U"}, nil), 201, "")
		}
		var emails []string
		cursor = ""
		for range 10 {
			p := e.call(admin, "GET", orgAPI+"/members?limit=2&cursor="+cursor, nil, nil)
			for _, u := range p.items() {
				emails = append(emails, u["email"].(string))
			}
			if cursor = p.str("next_cursor"); cursor == "" {
				break
			}
		}
		if got := strings.Join(emails, " "); got != "alice@example.com root@example.com u0@example.com u1@example.com u2@example.com" {
			t.Errorf("user pages: %s", got)
		}
	})
}

func TestAdminClientStatusFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 20}), 200, "")
		bob := &models.User{OrgID: models.DefaultOrgID, Email: "bob@example.com", Name: "Bob", Permissions: models.NewSet(readScope)}
		if err := e.store.CreateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		a, aSecret, _ := e.createClient(admin, map[string]any{"owner": memberEmail, "name": "a", "scopes": []string{readScope}})
		b, _, _ := e.createClient(admin, map[string]any{"owner": bob.Email, "name": "b", "scopes": []string{readScope}})
		c, _, _ := e.createClient(admin, map[string]any{"owner": memberEmail, "name": "c"})
		wantAPI(t, "revoke c", e.call(admin, "POST", orgAPI+"/clients/"+c+"/revoke", nil, nil), 200, "")
		list := func(query string) []string {
			t.Helper()
			r := e.call(admin, "GET", orgAPI+"/clients?"+query, nil, nil)
			if r.status != 200 {
				t.Fatalf("list %s: %s", query, r)
			}
			got := clientIDs(r.items())
			for _, it := range r.items() {
				if s := strings.TrimPrefix(query, "status="); strings.HasPrefix(query, "status=") && it["status"] != strings.Split(s, "&")[0] {
					t.Errorf("list %s: item with status %v", query, it["status"])
				}
			}
			return got
		}
		same := func(name string, got []string, want ...string) {
			t.Helper()
			if len(got) != len(want) || len(setOf(append(got, want...))) != len(want) {
				t.Errorf("%s: got %v, want %v", name, got, want)
			}
		}
		same("active", list("status=active"), a, b)
		same("revoked", list("status=revoked"), c)
		same("expired", list("status=expired"))
		same("owner alice", list("owner="+memberEmail), a)
		same("owner alice, with revoked", list("owner="+memberEmail+"&include_revoked=true"), a, c)
		same("owner alice, active", list("owner="+memberEmail+"&status=active"), a)
		wantAPI(t, "unknown owner", e.call(admin, "GET", orgAPI+"/clients?owner=ghost@example.com", nil, nil), 400, "owner_not_found")

		// A shorter maximum lifetime expires old clients at once...
		e.clock.Advance(40 * 24 * time.Hour)
		admin = e.login(adminEmail, adminPassword) // the session ended after 24h
		d := e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "d", "scopes": []string{readScope}, "expires_at": e.clock.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)}, nil)
		wantAPI(t, "create d", d, 201, "")
		dID := d.str("client_id")
		e.secrets = append(e.secrets, d.str("client_secret"))
		wantAPI(t, "max lifetime 30d", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "30d", "default_credential_lifetime": "30d"}), 200, "")
		same("expired after shortening", list("status=expired"), a, b)
		same("active after shortening", list("status=active"), dID)
		view := e.call(admin, "GET", orgAPI+"/clients/"+a, nil, nil)
		if view.str("status") != "expired" || view.str("expires_at") != e.clock.Now().Add(-10*24*time.Hour).Format(time.RFC3339) {
			t.Errorf("expired client view: status %s, expires_at %s", view.str("status"), view.str("expires_at"))
		}
		if status, code := e.token(a, aSecret); status != 401 || code != "invalid_client" {
			t.Errorf("expired client at the token endpoint: %d %s", status, code)
		}
		// ...and a longer one brings them back.
		wantAPI(t, "no cap", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "0s", "default_credential_lifetime": "365d"}), 200, "")
		same("active after lengthening", list("status=active"), a, b, dID)
		same("expired after lengthening", list("status=expired"))
		if status, _ := e.token(a, aSecret); status != 200 {
			t.Errorf("client back from expiry at the token endpoint: %d", status)
		}

		// Disabling the owner.
		wantAPI(t, "disable bob", e.call(admin, "PATCH", orgAPI+"/members/"+bob.ID, map[string]any{"status": "disabled"}, nil), 200, "")
		same("disabled_by_owner", list("status=disabled_by_owner"), b)
		same("active without bob's", list("status=active"), a, dID)
		// Status filters page through: one item per page.
		var walked []string
		cursor := ""
		for range 10 {
			r := e.call(admin, "GET", orgAPI+"/clients?status=active&limit=1&cursor="+cursor, nil, nil)
			walked = append(walked, clientIDs(r.items())...)
			if cursor = r.str("next_cursor"); cursor == "" {
				break
			}
		}
		same("active, one per page", walked, a, dID)

		// Expiring: effective expiry within the window, soonest first.
		exp := e.call(admin, "GET", orgAPI+"/clients/expiring?within=30d", nil, nil)
		same("expiring within 30d", clientIDs(exp.items()), dID)
		exp = e.call(admin, "GET", orgAPI+"/clients/expiring?within=400d", nil, nil)
		if got := clientIDs(exp.items()); len(got) != 3 || got[0] != dID {
			t.Errorf("expiring within 400d: %v, want d first then a and b", got)
		}
		if exp.str("within") != "400d" {
			t.Errorf("within: %q", exp.str("within"))
		}
		wantAPI(t, "expiring, bad window", e.call(admin, "GET", orgAPI+"/clients/expiring?within=soon", nil, nil), 400, "invalid_parameter")
		wantAPI(t, "policy max 45d", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "45d", "default_credential_lifetime": "30d"}), 200, "")
		exp = e.call(admin, "GET", orgAPI+"/clients/expiring?within=7d", nil, nil)
		same("expiring within 7d under a 45d cap", clientIDs(exp.items()), a, b)
		alice := e.login(memberEmail, memberPass)
		same("member's expiring", clientIDs(e.call(alice, "GET", orgAPI+"/clients/expiring?within=30d", nil, nil).items()), a, dID)

		// Legacy (imported) credentials.
		const legacyID, legacySecret = "legacy:client/one+two", "an imported secret of old"
		imp := e.call(admin, "POST", orgAPI+"/clients/import", map[string]any{"client_id": legacyID, "client_secret": legacySecret, "owner": memberEmail, "name": "old system", "scopes": []string{readScope}}, nil)
		wantAPI(t, "import", imp, 201, "")
		e.secrets = append(e.secrets, legacySecret)
		if strings.Contains(imp.raw, legacySecret) || imp.body["legacy"] != true {
			t.Errorf("import response: %s", imp.raw)
		}
		same("legacy", list("legacy=true"), legacyID)
		got := e.call(admin, "GET", orgAPI+"/clients/"+url.PathEscape(legacyID), nil, nil)
		if got.str("client_id") != legacyID || got.body["legacy"] != true || got.body["secrets"].([]any)[0].(map[string]any)["format"] != "legacy" {
			t.Errorf("imported client by escaped id: %s", got)
		}
		if status, _ := e.token(legacyID, legacySecret); status != 200 {
			t.Errorf("imported secret at the token endpoint: %d", status)
		}
		wantAPI(t, "import twice", e.call(admin, "POST", orgAPI+"/clients/import", map[string]any{"client_id": legacyID, "client_secret": legacySecret, "owner": memberEmail, "name": "again"}, nil), 409, "client_id_taken")
		wantAPI(t, "import reserved id", e.call(admin, "POST", orgAPI+"/clients/import", map[string]any{"client_id": "azc_mine", "client_secret": legacySecret, "name": "x"}, nil), 400, "invalid_client_id")
		rot := e.call(admin, "POST", orgAPI+"/clients/"+url.PathEscape(legacyID)+"/rotate", map[string]any{"grace": "0s"}, nil)
		wantAPI(t, "rotate legacy", rot, 200, "")
		e.secrets = append(e.secrets, rot.str("client_secret"))
		same("legacy after rotation", list("legacy=true"))
	})
}

func TestAdminUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		r := e.call(admin, "POST", orgAPI+"/members", map[string]any{"email": "Carol@Example.com", "name": "Carol", "permissions": []string{readScope, readScope, configScope}}, nil)
		wantAPI(t, "create", r, 201, "")
		carolID := r.str("id")
		// The email lower-cased, the permissions without the repeat.
		testutil.GoldenJSON(t, "testdata/admin/user.json", []byte(r.raw), e.adminNorm(map[string]string{carolID: "<user_id>"}))
		if r.header.Get("Location") != orgAPI+"/members/"+carolID {
			t.Errorf("Location: %q", r.header.Get("Location"))
		}
		for _, tc := range []struct {
			name   string
			method string
			path   string
			body   any
			status int
			code   string
		}{
			{"duplicate email", "POST", "/members", map[string]any{"email": "carol@example.com", "name": "C"}, 409, "email_taken"},
			{"bad role", "POST", "/members", map[string]any{"email": "d@example.com", "name": "D", "role": "root"}, 400, "invalid_request"},
			{"bad email", "POST", "/members", map[string]any{"email": "not-an-email", "name": "D"}, 400, "invalid_request"},
			{"bad permission", "PATCH", "/members/" + carolID, map[string]any{"permissions": []string{"has space"}}, 400, "invalid_request"},
			{"email change", "PATCH", "/members/" + carolID, map[string]any{"email": "x@example.com"}, 400, "email_immutable"},
			{"empty patch", "PATCH", "/members/" + carolID, map[string]any{}, 400, "invalid_request"},
			{"unknown user", "GET", "/members/nope", nil, 404, "user_not_found"},
			{"patch unknown user", "PATCH", "/members/nope", map[string]any{"name": "x"}, 404, "user_not_found"},
			{"short password", "PUT", "/members/" + carolID + "/password", map[string]any{"password": "short"}, 400, "password_too_short"},
			{"long password", "PUT", "/members/" + carolID + "/password", map[string]any{"password": strings.Repeat("x", 257)}, 400, "password_too_long"},
			{"no password", "PUT", "/members/" + carolID + "/password", map[string]any{}, 400, "invalid_json"},
			{"password for unknown user", "PUT", "/members/nope/password", map[string]any{"password": "long enough password"}, 404, "user_not_found"},
		} {
			wantAPI(t, tc.name, e.call(admin, tc.method, orgAPI+tc.path, tc.body, nil), tc.status, tc.code)
		}
		p := e.call(admin, "PATCH", orgAPI+"/members/"+carolID, map[string]any{"name": "Carol C", "role": "admin", "permissions": []string{createScope}, "may_create_clients": true}, nil)
		if p.status != 200 || p.str("name") != "Carol C" || p.str("role") != "admin" || joinList(p.body["permissions"]) != createScope || p.body["may_create_clients"] != true {
			t.Errorf("patch: %s", p)
		}
		wantAPI(t, "set password", e.call(admin, "PUT", orgAPI+"/members/"+carolID+"/password", map[string]any{"password": "carol's long password"}, nil), 204, "")
		carol := e.login("carol@example.com", "carol's long password")
		if me := e.call(carol, "GET", apiBase+"/session", nil, nil); me.body["user"].(map[string]any)["id"] != carolID {
			t.Errorf("carol's session: %s", me.raw)
		}
		if u := e.call(admin, "GET", orgAPI+"/members/"+carolID, nil, nil); u.body["has_password"] != true {
			t.Errorf("has_password after set: %s", u.raw)
		}
		if l := e.call(admin, "GET", orgAPI+"/members?role=admin", nil, nil); len(l.items()) != 2 {
			t.Errorf("admins: %s", l.raw)
		}
		if l := e.call(admin, "GET", orgAPI+"/members?status=disabled", nil, nil); len(l.items()) != 0 {
			t.Errorf("disabled users: %s", l.raw)
		}
		audit := e.call(admin, "GET", orgAPI+"/audit?user_id="+carolID, nil, nil)
		var actions []string
		for _, ev := range audit.items() {
			actions = append(actions, ev["action"].(string))
		}
		if got := strings.Join(actions, ","); got != "user.password_set,user.updated,user.created" {
			t.Errorf("carol's audit: %s", got)
		}
	})
}

func TestAdminPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		p := e.call(admin, "GET", orgAPI+"/policy", nil, nil)
		testutil.GoldenJSON(t, "testdata/admin/policy_default.json", []byte(p.raw), e.adminNorm(nil))
		for _, tc := range []struct {
			name   string
			change map[string]any
			code   string
		}{
			{"bad duration", map[string]any{"max_token_ttl": "5x"}, "invalid_duration"},
			{"negative days", map[string]any{"max_credential_lifetime": "-1d"}, "invalid_duration"},
			{"token TTL above 24h", map[string]any{"max_token_ttl": "48h", "default_token_ttl": "1h"}, "invalid_policy"},
			{"default above max lifetime", map[string]any{"max_credential_lifetime": "30d"}, "invalid_policy"},
			{"no clients", map[string]any{"max_clients_per_owner": 0}, "invalid_policy"},
			{"bad allowlist", map[string]any{"ip_allowlist": []string{"nope"}}, "invalid_ip_allowlist"},
			{"bad webhook", map[string]any{"reminder_webhook_url": "ftp://example.com"}, "invalid_webhook_url"},
			{"bad sunset", map[string]any{"legacy_sunset": "soon"}, "invalid_policy"},
			{"grace too long", map[string]any{"rotation_grace": "31d"}, "invalid_policy"},
			{"wrong type", map[string]any{"max_clients_per_owner": "5"}, "invalid_json"},
		} {
			wantAPI(t, tc.name, e.putPolicy(admin, tc.change), 400, tc.code)
		}
		missing := e.call(admin, "PUT", orgAPI+"/policy", map[string]any{"max_clients_per_owner": 3}, nil)
		wantAPI(t, "partial PUT", missing, 400, "invalid_policy")
		if !strings.Contains(missing.str("message"), "rotation_grace") {
			t.Errorf("partial PUT message does not name missing fields: %s", missing.str("message"))
		}
		sunset := e.clock.Now().Add(90 * 24 * time.Hour).Format(time.RFC3339)
		r := e.putPolicy(admin, map[string]any{"max_credential_lifetime": "400d", "max_clients_per_owner": 3, "ip_allowlist": []string{"10.0.0.0/8", "127.0.0.1"}, "rotation_grace": "12h", "legacy_sunset": sunset, "reminder_webhook_url": "https://hooks.example.com/x"})
		wantAPI(t, "valid PUT", r, 200, "")
		got := e.call(admin, "GET", orgAPI+"/policy", nil, nil)
		for k, v := range map[string]any{"max_credential_lifetime": "400d", "max_clients_per_owner": 3.0, "rotation_grace": "12h0m0s", "legacy_sunset": sunset, "updated_by": adminEmail, "reminder_webhook_url": "https://hooks.example.com/x"} {
			if got.body[k] != v {
				t.Errorf("saved policy %s: got %v, want %v", k, got.body[k], v)
			}
		}
		if joinList(got.body["ip_allowlist"]) != "10.0.0.0/8 127.0.0.1" {
			t.Errorf("saved ip_allowlist: %v", got.body["ip_allowlist"])
		}
		ev := e.call(admin, "GET", orgAPI+"/audit?action=policy.updated", nil, nil).items()
		if len(ev) != 1 || ev[0]["actor"] != adminEmail || ev[0]["detail"].(map[string]any)["max_clients_per_owner"] != 3.0 {
			t.Errorf("policy audit: %v", ev)
		}
	})
}

func TestAdminKeysAndDocument(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		r := e.call(admin, "GET", apiBase+"/keys", nil, nil)
		kid, alg := e.keyring.ActiveKID()
		items := r.items()
		if len(items) != 1 || items[0]["kid"] != kid || items[0]["alg"] != alg || items[0]["state"] != "active" || items[0]["activated_at"] == nil {
			t.Errorf("keys: %s", r.raw)
		}
		for _, it := range items {
			var fields []string
			for k := range it {
				fields = append(fields, k)
			}
			slices.Sort(fields)
			if got := strings.Join(fields, ","); got != "activated_at,alg,created_at,generation,kid,retired_at,state" {
				t.Errorf("key fields: %s", got)
			}
		}
		doc := e.call("", "GET", apiBase+"/openapi.json", nil, nil)
		if doc.status != 200 || doc.str("openapi") != "3.1.0" || !strings.HasPrefix(doc.header.Get("Content-Type"), "application/json") {
			t.Errorf("openapi.json: %d %s %v", doc.status, doc.header.Get("Content-Type"), doc.body["openapi"])
		}
	})
}
