package web_test

import (
	"context"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

// Tests of the admin console (HTML pages under /admin/). The browser tests
// in e2e/ drive the same pages in Chromium; these check the rules that a
// browser cannot show: every response's headers, every route without a
// session or a CSRF token, and where a secret may appear.

// uiResp is a console response; redirects are not followed.
type uiResp struct {
	status int
	header http.Header
	body   string
}

func (r uiResp) location() string { return r.header.Get("Location") }

func (r uiResp) cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// uiDo sends a request to the console as a browser on this site would: a
// POST is a urlencoded form with Origin and Sec-Fetch-Site of this site
// (header overrides; a nil value removes a header). Every response is
// checked: never a 5xx, and the console's security headers.
func (e *adminEnv) uiDo(session, method, path string, form url.Values, header http.Header, cookies ...*http.Cookie) uiResp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: session})
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range header {
		if v == nil {
			req.Header.Del(k)
		} else {
			req.Header[k] = v
		}
	}
	hr, err := noRedirects.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer hr.Body.Close()
	raw, _ := io.ReadAll(hr.Body)
	r := uiResp{status: hr.StatusCode, header: hr.Header, body: string(raw)}
	if r.status >= 500 {
		e.t.Errorf("%s %s: %d %s", method, path, r.status, raw)
	}
	if !strings.HasPrefix(path, web.AdminPrefix) && !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		checkUIHeaders(e.t, method+" "+path, r)
	}
	return r
}

// checkUIHeaders checks the security headers of every console response.
func checkUIHeaders(t testing.TB, what string, r uiResp) {
	t.Helper()
	csp := r.header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if directives["default-src"] != "'none'" || directives["script-src"] != "'self'" || directives["frame-ancestors"] != "'none'" ||
		directives["form-action"] != "'self'" || directives["base-uri"] != "'none'" {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy allows inline code: %q", what, csp)
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := r.header.Get(h); got != want {
			t.Errorf("%s: %s %q, want %q", what, h, got, want)
		}
	}
	if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") && r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q on a page, want no-store", what, r.header.Get("Cache-Control"))
	}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrfOf returns the CSRF token of the page's forms.
func csrfOf(t testing.TB, r uiResp) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no csrf_token on the page (%d): %.300s", r.status, r.body)
	}
	return m[1]
}

// uiLogin signs in through the sign-in form and returns the session token
// and the CSRF token of the console's forms.
func (e *adminEnv) uiLogin(email, password string) (session, csrf string) {
	e.t.Helper()
	page := e.uiDo("", "GET", "/admin/login", nil, nil)
	ck := page.cookie("authz_login_csrf")
	if page.status != 200 || ck == nil {
		e.t.Fatalf("sign-in page: %d, login cookie %v", page.status, ck)
	}
	r := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrfOf(e.t, page)}, "email": {email}, "password": {password}}, nil, ck)
	sc := r.cookie(web.SessionCookie)
	if r.status != http.StatusSeeOther || r.location() != "/admin/" || sc == nil {
		e.t.Fatalf("sign in as %s: %d %s, cookie %v", email, r.status, r.location(), sc)
	}
	// /admin/ goes on to the person's one organization, or lists theirs.
	home := e.uiDo(sc.Value, "GET", "/admin/", nil, nil)
	if home.status == http.StatusSeeOther {
		home = e.uiDo(sc.Value, "GET", home.location(), nil, nil)
	}
	if home.status != 200 {
		e.t.Fatalf("console home after sign-in: %d", home.status)
	}
	return sc.Value, csrfOf(e.t, home)
}

// uiCreate creates a client of the default organization through the
// form and returns its id and secret.
func (e *adminEnv) uiCreate(session, csrf string, form url.Values) (id, secret string, r uiResp) {
	e.t.Helper()
	return e.uiCreateIn("default", session, csrf, form)
}

// uiCreateIn creates a client of the organization slug through the form.
func (e *adminEnv) uiCreateIn(slug, session, csrf string, form url.Values) (id, secret string, r uiResp) {
	e.t.Helper()
	form.Set("csrf_token", csrf)
	r = e.uiDo(session, "POST", "/admin/o/"+slug+"/clients", form, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create client: %d %.500s", r.status, r.body)
	}
	id = html.UnescapeString(submatch(e.t, `id="new-client-id"[^>]*>([^<]+)<`, r.body))
	secret = submatch(e.t, `id="new-secret"[^>]*>([^<]+)<`, r.body)
	if !oauth.ValidSecret(secret) {
		e.t.Fatalf("created client %s: secret %q", id, secret)
	}
	e.secrets = append(e.secrets, secret)
	return id, secret, r
}

func submatch(t testing.TB, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s not found in %.500s", re, s)
	}
	return m[1]
}

// uiPOSTRoutes are every state-changing route of the console, with a form
// that would be carried out if the request were allowed.
func uiPOSTRoutes(e *adminEnv, clientID, secretID string) map[string]url.Values {
	esc := url.PathEscape
	return map[string]url.Values{
		"/admin/logout":            {},
		"/admin/o/default/clients": {"name": {"csrf test"}, "owner": {memberEmail}, "scopes": {readScope}},
		"/admin/o/default/clients/" + esc(clientID) + "/rotate":                               {"grace": {"0s"}},
		"/admin/o/default/clients/" + esc(clientID) + "/edit":                                 {"name": {"csrf edit"}, "scopes": {readScope}},
		"/admin/o/default/clients/" + esc(clientID) + "/renew":                                {"expires_in": {"1d"}},
		"/admin/o/default/clients/" + esc(clientID) + "/revoke":                               {"confirm": {"yes"}},
		"/admin/o/default/clients/" + esc(clientID) + "/keys":                                 {"jwks_uri": {"https://client.example/jwks.json"}},
		"/admin/o/default/clients/" + esc(clientID) + "/secrets/" + esc(secretID) + "/revoke": {"confirm": {"yes"}},
		"/admin/o/default/members":                                                            {"email": {"csrf@example.com"}, "name": {"CSRF"}, "role": {"member"}},
		"/admin/o/default/members/" + e.member.ID:                                             {"action": {"disable"}},
		"/admin/o/default/members/" + e.member.ID + "/password":                               {"password": {"a new password, long enough"}},
		"/admin/o/default/policy":                                                             {"max_credential_lifetime": {"1d"}, "default_credential_lifetime": {"1d"}, "default_token_ttl": {"15m"}, "max_token_ttl": {"1h"}, "max_clients_per_owner": {"1"}, "rotation_grace": {"0s"}},
		"/admin/o/default/clients/" + esc(clientID) + "/federation":                           {"trusted_issuer": {"nope"}, "subject": {"repo:acme/api:*"}},
		"/admin/o/default/issuers":                                                            {"name": {"csrf issuer"}, "issuer": {"https://gitlab.com"}, "keys": {"discover"}, "audience": {"https://authz.example/orgs/default"}},
		"/admin/o/default/issuers/nope":                                                       {"name": {"csrf issuer"}, "keys": {"keep"}, "audience": {"https://authz.example/orgs/default"}, "max_token_lifetime": {"1h"}},
		"/admin/o/default/issuers/nope/remove":                                                {"confirm": {"yes"}},
	}
}

func TestUIRequiresSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		cl, _, err := e.registry.Create(ctx, app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, app.NewClient{OwnerEmail: memberEmail, Name: "existing", Scopes: []string{readScope}})
		if err != nil {
			t.Fatal(err)
		}
		pages := []string{"/admin/", "/admin/o/default/", "/admin/o/default/?status=active", "/admin/o/default/clients/new", "/admin/o/default/clients/" + cl.ID, "/admin/o/default/clients/nope",
			"/admin/o/default/members", "/admin/o/default/members/" + e.member.ID, "/admin/o/default/policy", "/admin/keys", "/admin/o/default/audit?action=client.created",
			"/admin/o/default/issuers", "/admin/o/default/issuers/nope"}

		session, _ := e.uiLogin(adminEmail, adminPassword)
		expired := session
		e.clock.Advance(app.SessionLifetime)
		sessions := map[string]string{
			"no cookie":       "",
			"unknown token":   base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
			"malformed token": "x",
			"expired session": expired,
		}
		for name, tok := range sessions {
			for _, p := range pages {
				r := e.uiDo(tok, "GET", p, nil, nil)
				want := "/admin/login"
				if p != "/admin/" {
					want += "?next=" + url.QueryEscape(p)
				}
				if r.status != http.StatusSeeOther || r.location() != want {
					t.Errorf("%s: GET %s: %d %q, want 303 to %s", name, p, r.status, r.location(), want)
				}
				if strings.Contains(r.body, "existing") || strings.Contains(r.body, cl.ID) {
					t.Errorf("%s: GET %s shows data without a session", name, p)
				}
			}
			for p, form := range uiPOSTRoutes(e, cl.ID, cl.Secrets[0].ID) {
				form.Set("csrf_token", "whatever")
				r := e.uiDo(tok, "POST", p, form, nil)
				if r.status != http.StatusSeeOther || r.location() != "/admin/login" {
					t.Errorf("%s: POST %s: %d %q, want 303 to /admin/login", name, p, r.status, r.location())
				}
			}
		}
		// Nothing was changed.
		got, err := e.store.ClientByID(ctx, cl.ID)
		if err != nil || got.Status != models.StatusActive || len(got.Secrets) != 1 {
			t.Errorf("the client changed without a session: %+v %v", got, err)
		}
		if u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, memberEmail); !u.Active() {
			t.Error("the member was disabled without a session")
		}
		if _, err := e.store.UserByEmail(ctx, models.DefaultOrgID, "csrf@example.com"); err == nil {
			t.Error("a user was created without a session")
		}

		if r := e.uiDo("", "GET", "/admin", nil, nil); r.status != http.StatusMovedPermanently || r.location() != "/admin/" {
			t.Errorf("GET /admin: %d %q", r.status, r.location())
		}
		// The sign-in page and the assets need no session.
		if r := e.uiDo("", "GET", "/admin/login", nil, nil); r.status != 200 || !strings.Contains(r.body, `<h1>Sign in</h1>`) {
			t.Errorf("sign-in page: %d", r.status)
		}
		for _, a := range []string{"/admin/static/app.css", "/admin/static/app.js"} {
			if r := e.uiDo("", "GET", a, nil, nil); r.status != 200 || r.header.Get("Cache-Control") == "no-store" {
				t.Errorf("GET %s: %d, Cache-Control %q", a, r.status, r.header.Get("Cache-Control"))
			}
		}
		if r := e.uiDo("", "GET", "/admin/static/..%2Fui.go", nil, nil); r.status != http.StatusNotFound {
			t.Errorf("static path traversal: %d", r.status)
		}

		// A member sees no admin page, and no other owner's client.
		alice, _ := e.uiLogin(memberEmail, memberPass)
		for _, p := range []string{"/admin/o/default/members", "/admin/o/default/members/" + e.admin.ID, "/admin/o/default/policy", "/admin/keys", "/admin/o/default/audit", "/admin/o/default/issuers"} {
			if r := e.uiDo(alice, "GET", p, nil, nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "Owners and admins only") {
				t.Errorf("member GET %s: %d", p, r.status)
			}
		}
		admins, _, err := e.registry.Create(ctx, app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, app.NewClient{OwnerEmail: adminEmail, Name: "the admin's own"})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.uiDo(alice, "GET", "/admin/o/default/clients/"+admins.ID, nil, nil); r.status != http.StatusForbidden {
			t.Errorf("member GET another owner's client: %d", r.status)
		}
		home := e.uiDo(alice, "GET", "/admin/o/default/", nil, nil)
		if !strings.Contains(home.body, cl.ID) || strings.Contains(home.body, admins.ID) || strings.Contains(home.body, `href="/admin/o/default/members"`) {
			t.Errorf("member's credentials page: want only their own clients and no admin links")
		}
	})
}

func TestUICSRF(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		cl, _, err := e.registry.Create(ctx, app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, app.NewClient{OwnerEmail: memberEmail, Name: "target", Scopes: []string{readScope}})
		if err != nil {
			t.Fatal(err)
		}
		admin, token := e.uiLogin(adminEmail, adminPassword)
		alice, aliceToken := e.uiLogin(memberEmail, memberPass)
		if token == aliceToken {
			t.Fatal("two sessions have the same CSRF token")
		}
		// The token is bound to the session: a new sign-in gets a new one.
		admin2, token2 := e.uiLogin(adminEmail, adminPassword)
		if token2 == token {
			t.Error("a new session kept the CSRF token of the previous one")
		}
		// Every page of a session carries the same token.
		for _, p := range []string{"/admin/o/default/members", "/admin/o/default/policy", "/admin/o/default/clients/" + cl.ID} {
			if got := csrfOf(t, e.uiDo(admin, "GET", p, nil, nil)); got != token {
				t.Errorf("GET %s: csrf token %q, want the session's %q", p, got, token)
			}
		}

		bad := map[string]struct {
			token  string
			header http.Header
		}{
			"no token":                      {"", nil},
			"wrong token":                   {strings.Repeat("A", len(token)), nil},
			"token of another user":         {aliceToken, nil},
			"token of the admin's other":    {token2, nil},
			"cross-site Origin":             {token, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": nil}},
			"cross-site Sec-Fetch-Site":     {token, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
			"null Origin, no fetch header":  {token, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": nil}},
			"null Origin from another site": {token, http.Header{"Origin": {"null"}, "Sec-Fetch-Site": {"cross-site"}}},
		}
		for name, b := range bad {
			for p, form := range uiPOSTRoutes(e, cl.ID, cl.Secrets[0].ID) {
				if b.token != "" {
					form.Set("csrf_token", b.token)
				}
				r := e.uiDo(admin, "POST", p, form, b.header)
				if r.status != http.StatusForbidden {
					t.Errorf("%s: POST %s: %d %q, want 403", name, p, r.status, r.location())
				}
				if r.cookie(web.SessionCookie) != nil {
					t.Errorf("%s: POST %s touched the session cookie", name, p)
				}
			}
		}
		// A JSON or multipart body is not a form.
		r := e.uiDo(admin, "POST", "/admin/o/default/members/"+e.member.ID, nil, http.Header{"Content-Type": {"application/json"}})
		if r.status != http.StatusUnsupportedMediaType {
			t.Errorf("JSON body: %d, want 415", r.status)
		}
		// Nothing was changed, and the admin's session still works.
		got, _ := e.store.ClientByID(ctx, cl.ID)
		if got.Status != models.StatusActive || len(got.Secrets) != 1 {
			t.Errorf("the client changed: status %s, %d secrets", got.Status, len(got.Secrets))
		}
		if u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, memberEmail); !u.Active() {
			t.Error("the member was disabled by a forged request")
		}
		pol, _ := e.store.Policy(ctx, models.DefaultOrgID)
		if pol.MaxClientsPerOwner != models.DefaultPolicy().MaxClientsPerOwner {
			t.Error("the policy was changed by a forged request")
		}

		// With the session's token (and Origin: null under no-referrer, as
		// Chromium sends it) the same request is carried out.
		r = e.uiDo(admin, "POST", "/admin/o/default/members/"+e.member.ID, url.Values{"csrf_token": {token}, "action": {"disable"}}, http.Header{"Origin": {"null"}})
		if r.status != http.StatusSeeOther || !strings.Contains(r.location(), "notice=user_updated") {
			t.Errorf("disable with the right token: %d %q", r.status, r.location())
		}
		if u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, memberEmail); u.Active() {
			t.Error("the member is still active")
		}
		// Disabling alice ended her session.
		if r := e.uiDo(alice, "GET", "/admin/o/default/", nil, nil); r.status != http.StatusSeeOther {
			t.Errorf("disabled member's session: %d", r.status)
		}

		// The sign-in form: a double-submit token in a cookie.
		page := e.uiDo("", "GET", "/admin/login", nil, nil)
		ck := page.cookie("authz_login_csrf")
		creds := url.Values{"email": {adminEmail}, "password": {adminPassword}}
		for name, c := range map[string]struct {
			form   string
			cookie *http.Cookie
		}{
			"no cookie":      {csrfOf(t, page), nil},
			"no field":       {"", ck},
			"mismatch":       {base64.RawURLEncoding.EncodeToString(make([]byte, 32)), ck},
			"other's cookie": {csrfOf(t, page), &http.Cookie{Name: "authz_login_csrf", Value: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}},
		} {
			f := url.Values{"email": creds["email"], "password": creds["password"], "csrf_token": {c.form}}
			var cookies []*http.Cookie
			if c.cookie != nil {
				cookies = append(cookies, c.cookie)
			}
			r := e.uiDo("", "POST", "/admin/login", f, nil, cookies...)
			if r.status != http.StatusForbidden || r.cookie(web.SessionCookie) != nil {
				t.Errorf("sign-in, %s: %d, session cookie %v", name, r.status, r.cookie(web.SessionCookie))
			}
		}
		r = e.uiDo("", "POST", "/admin/login", url.Values{"email": creds["email"], "password": creds["password"], "csrf_token": {csrfOf(t, page)}},
			http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, ck)
		if r.status != http.StatusForbidden || r.cookie(web.SessionCookie) != nil {
			t.Errorf("cross-site sign-in: %d", r.status)
		}
		_ = admin2
	})
}

func TestUISignInAndCookies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		for _, secure := range []bool{false, true} {
			e := newAdminEnv(t, backend, secure)
			page := e.uiDo("", "GET", "/admin/login?next=%2Fadmin%2Fo%2Fdefault%2Fpolicy", nil, nil)
			lc := page.cookie("authz_login_csrf")
			if lc == nil || !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode || lc.Path != "/admin/login" || lc.Secure != secure {
				t.Errorf("secure=%v: login CSRF cookie %+v", secure, lc)
			}
			if !strings.Contains(page.body, `name="next" value="/admin/o/default/policy"`) {
				t.Errorf("the sign-in form does not carry next")
			}
			csrf := csrfOf(t, page)

			wrong := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrf}, "email": {adminEmail}, "password": {"not the password"}}, nil, lc)
			unknown := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrf}, "email": {"nobody@example.com"}, "password": {"not the password"}}, nil, lc)
			for _, r := range []uiResp{wrong, unknown} {
				if r.status != http.StatusUnauthorized || r.cookie(web.SessionCookie) != nil || !strings.Contains(r.body, "Invalid email or password.") {
					t.Errorf("failed sign-in: %d", r.status)
				}
				if !strings.Contains(r.body, `aria-invalid="true" aria-describedby="login-err"`) || !strings.Contains(r.body, `id="login-err"`) {
					t.Error("the sign-in error is not tied to the fields")
				}
			}

			r := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrf}, "email": {adminEmail}, "password": {adminPassword}, "next": {"/admin/o/default/policy"}}, nil, lc)
			sc := r.cookie(web.SessionCookie)
			if r.status != http.StatusSeeOther || r.location() != "/admin/o/default/policy" || sc == nil {
				t.Fatalf("sign in with next=/admin/policy: %d %q", r.status, r.location())
			}
			if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/admin" || sc.MaxAge != 86400 || sc.Secure != secure {
				t.Errorf("secure=%v: session cookie %+v", secure, sc)
			}
			if raw := r.header.Values("Set-Cookie"); !strings.Contains(strings.Join(raw, "\n"), "authz_login_csrf=; Path=/admin/login; Max-Age=0") {
				t.Errorf("the sign-in did not clear the login cookie: %q", raw)
			}
			// Where a sign-in may lead: only to a page of the console (the
			// sign-in page of a signed-in browser applies the same rule).
			for next, want := range map[string]string{
				"/admin/o/default/policy": "/admin/o/default/policy", "/admin/o/default/?status=active": "/admin/o/default/?status=active", "https://evil.example/": "/admin/",
				"//evil.example/admin/": "/admin/", "/admin/../oauth2/token": "/admin/", "/admin/api/v1/users": "/admin/",
				"/\\evil.example": "/admin/", "/admin/\\evil": "/admin/", "": "/admin/", "/admin/login": "/admin/",
			} {
				r := e.uiDo(sc.Value, "GET", "/admin/login?next="+url.QueryEscape(next), nil, nil)
				if r.status != http.StatusSeeOther || r.location() != want {
					t.Errorf("next=%q: %d %q, want 303 to %s", next, r.status, r.location(), want)
				}
			}
			csrfS := csrfOf(t, e.uiDo(sc.Value, "GET", "/admin/o/default/", nil, nil))
			out := e.uiDo(sc.Value, "POST", "/admin/logout", url.Values{"csrf_token": {csrfS}}, nil)
			if oc := out.cookie(web.SessionCookie); out.status != http.StatusSeeOther || out.location() != "/admin/login" || oc == nil || oc.MaxAge >= 0 {
				t.Errorf("sign out: %d %q, cookie %+v", out.status, out.location(), oc)
			}
			if r := e.uiDo(sc.Value, "GET", "/admin/o/default/", nil, nil); r.status != http.StatusSeeOther {
				t.Errorf("after sign-out: %d", r.status)
			}
			// Sessions last 24 hours.
			session, _ := e.uiLogin(adminEmail, adminPassword)
			e.clock.Advance(app.SessionLifetime - time.Second)
			if r := e.uiDo(session, "GET", "/admin/o/default/", nil, nil); r.status != 200 {
				t.Errorf("just before 24 h: %d", r.status)
			}
			e.clock.Advance(time.Second)
			if r := e.uiDo(session, "GET", "/admin/o/default/", nil, nil); r.status != http.StatusSeeOther {
				t.Errorf("at 24 h: %d", r.status)
			}
			audit, _ := e.store.Audit(context.Background(), models.AuditFilter{Action: models.AuditSessionFailed})
			if len(audit) != 2 {
				t.Errorf("%d session.failed events, want 2", len(audit))
			}
		}
	})
}

func TestUISecretShownOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin, csrf := e.uiLogin(adminEmail, adminPassword)

		// The form offers only the owner's permissions.
		form := e.uiDo(admin, "GET", "/admin/o/default/clients/new?kind=project&owner="+url.QueryEscape(memberEmail), nil, nil)
		if form.status != 200 || !strings.Contains(form.body, `<option value="`+memberEmail+`" data-permissions="analysis:create analysis:read config:read" selected>`) {
			t.Errorf("new client form: %d", form.status)
		}

		id, secret, created := e.uiCreate(admin, csrf, url.Values{"name": {"CI"}, "owner": {memberEmail}, "scopes": {readScope, createScope}, "token_ttl": {"10m"}, "expires_in": {"90d"}})
		if n := strings.Count(created.body, secret); n != 1 {
			t.Errorf("the create response shows the secret %d times, want once", n)
		}
		if !strings.Contains(created.body, `data-canonical="/admin/o/default/clients/`+id+`"`) || !strings.Contains(created.body, "only time this secret is shown") ||
			!strings.Contains(created.body, `data-copy="new-secret"`) {
			t.Error("the create response lacks the canonical URL, the warning or the copy button")
		}
		if status, code := e.token(id, secret); status != 200 {
			t.Errorf("token with the shown secret: %d %s", status, code)
		}
		cl, _ := e.store.ClientByID(context.Background(), id)
		if cl.TokenTTL != 10*time.Minute || cl.ExpiresAt.Sub(cl.CreatedAt).Round(time.Hour) != 90*24*time.Hour || cl.Owner.Email != memberEmail {
			t.Errorf("created client: ttl %s, expires %s, owner %s", cl.TokenTTL, cl.ExpiresAt, cl.Owner.Email)
		}

		// Reload (a GET of the client's page), the table, the audit log:
		// never the secret, only its last characters.
		for _, p := range []string{"/admin/o/default/clients/" + id, "/admin/o/default/", "/admin/o/default/audit", "/admin/o/default/members/" + e.member.ID} {
			r := e.uiDo(admin, "GET", p, nil, nil)
			if r.status != 200 || strings.Contains(r.body, secret) || strings.Contains(r.body, `id="new-secret"`) {
				t.Errorf("GET %s: %d, shows the secret", p, r.status)
			}
		}
		page := e.uiDo(admin, "GET", "/admin/o/default/clients/"+id, nil, nil)
		if !strings.Contains(page.body, "azs_…"+secret[len(secret)-4:]) {
			t.Error("the client page does not show the secret's last characters")
		}

		// Rotation: the new secret once; both work during the grace period.
		rot := e.uiDo(admin, "POST", "/admin/o/default/clients/"+id+"/rotate", url.Values{"csrf_token": {csrf}, "grace": {"1d"}}, nil)
		fresh := submatch(t, `id="new-secret"[^>]*>([^<]+)<`, rot.body)
		e.secrets = append(e.secrets, fresh)
		if rot.status != 200 || fresh == secret || strings.Count(rot.body, fresh) != 1 || strings.Contains(rot.body, secret) {
			t.Errorf("rotate: %d", rot.status)
		}
		for _, s := range []string{secret, fresh} {
			if status, code := e.token(id, s); status != 200 {
				t.Errorf("token during the grace period: %d %s", status, code)
			}
		}
		if r := e.uiDo(admin, "GET", "/admin/o/default/clients/"+id, nil, nil); strings.Contains(r.body, fresh) || strings.Contains(r.body, secret) {
			t.Error("the client page shows a secret after a rotation")
		}

		// Revocation needs confirming; without confirm=yes a page asks.
		ask := e.uiDo(admin, "POST", "/admin/o/default/clients/"+id+"/revoke", url.Values{"csrf_token": {csrf}}, nil)
		if ask.status != 200 || !strings.Contains(ask.body, `name="confirm" value="yes"`) {
			t.Errorf("revoke without confirmation: %d", ask.status)
		}
		if status, _ := e.token(id, fresh); status != 200 {
			t.Error("an unconfirmed revocation revoked")
		}
		done := e.uiDo(admin, "POST", "/admin/o/default/clients/"+id+"/revoke", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, nil)
		if done.status != http.StatusSeeOther || done.location() != "/admin/o/default/clients/"+id+"?notice=revoked" {
			t.Errorf("revoke: %d %q", done.status, done.location())
		}
		for _, s := range []string{secret, fresh} {
			if status, code := e.token(id, s); status != 401 || code != "invalid_client" {
				t.Errorf("token after revocation: %d %s", status, code)
			}
		}
		after := e.uiDo(admin, "GET", done.location(), nil, nil)
		if !strings.Contains(after.body, "The client was revoked") || strings.Contains(after.body, "Rotate secret") {
			t.Error("the revoked client's page")
		}
		if r := e.uiDo(admin, "POST", "/admin/o/default/clients/"+id+"/rotate", url.Values{"csrf_token": {csrf}}, nil); r.status != http.StatusConflict {
			t.Errorf("rotate a revoked client: %d", r.status)
		}
	})
}

func TestUIEscaping(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin, csrf := e.uiLogin(adminEmail, adminPassword)
		evil := `<script>alert(1)</script>`
		attr := `"><img src=x onerror=alert(2)>`
		r := e.uiDo(admin, "POST", "/admin/o/default/members", url.Values{"csrf_token": {csrf}, "email": {"mallory@example.com"}, "name": {evil + attr}, "role": {"member"}, "permissions": {readScope}}, nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("create user: %d %.300s", r.status, r.body)
		}
		id, _, created := e.uiCreate(admin, csrf, url.Values{"name": {evil}, "description": {attr}, "owner": {"mallory@example.com"}, "scopes": {readScope}})
		mallory, _ := e.store.UserByEmail(context.Background(), models.DefaultOrgID, "mallory@example.com")
		pages := map[string]uiResp{"created": created}
		for _, p := range []string{"/admin/o/default/", "/admin/o/default/clients/" + id, "/admin/o/default/members", "/admin/o/default/members/" + mallory.ID, "/admin/o/default/audit", "/admin/o/default/clients/new?kind=project"} {
			pages[p] = e.uiDo(admin, "GET", p, nil, nil)
		}
		for p, r := range pages {
			if strings.Contains(r.body, evil) || strings.Contains(r.body, "<img src=x") {
				t.Errorf("%s: a user-controlled string is not escaped", p)
			}
			if p != "/admin/o/default/audit" && p != "/admin/o/default/clients/new?kind=project" && !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s: the escaped name is missing", p)
			}
			checkNoInlineCode(t, p, r.body)
		}
		// A form re-rendered after an error escapes what was typed.
		r = e.uiDo(admin, "POST", "/admin/o/default/clients", url.Values{"csrf_token": {csrf}, "kind": {"organization"}, "name": {evil}, "audiences": {attr}, "owner": {adminEmail}}, nil)
		if r.status != http.StatusBadRequest || strings.Contains(r.body, "<img src=x") || !strings.Contains(r.body, `aria-invalid="true"`) {
			t.Errorf("create with a bad audience: %d", r.status)
		}
	})
}

// checkNoInlineCode fails on markup the CSP would block, or that would run
// if it did not: inline scripts, event handler or style attributes,
// <style> elements and javascript: URLs. html/template escapes '<' in text
// and quotes every attribute value, so each literal tag is real markup.
func checkNoInlineCode(t testing.TB, what, body string) {
	t.Helper()
	for _, tag := range htmlTag.FindAllString(body, -1) {
		bare := strings.ToLower(quoted.ReplaceAllString(tag, `""`)) // attribute names only
		switch {
		case strings.HasPrefix(bare, "<script") && !strings.HasPrefix(tag, `<script src="/admin/static/app.js?v=`):
		case strings.HasPrefix(bare, "<style"), eventAttr.MatchString(bare), strings.Contains(bare, " style="),
			strings.Contains(strings.ToLower(tag), "javascript:"):
		default:
			continue
		}
		t.Errorf("%s: markup the CSP forbids: %q", what, tag)
	}
	if n, m := strings.Count(body, "<script"), strings.Count(body, `defer></script>`); n != m {
		t.Errorf("%s: %d script elements, %d of them empty", what, n, m)
	}
}

var (
	htmlTag   = regexp.MustCompile(`<[a-zA-Z][^>]*>`)
	quoted    = regexp.MustCompile(`"[^"]*"`)
	eventAttr = regexp.MustCompile(`\son[a-z]+\s*=`)
)

func TestUISecurityHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, true)
		cl, _, err := e.registry.Create(context.Background(), app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, app.NewClient{OwnerEmail: memberEmail, Name: "headers", Scopes: []string{readScope}})
		if err != nil {
			t.Fatal(err)
		}
		admin, csrf := e.uiLogin(adminEmail, adminPassword)
		// uiDo checks the headers of every response; these are every page.
		for _, p := range []string{"/admin/o/default/", "/admin/o/default/clients/new", "/admin/o/default/clients/" + cl.ID, "/admin/o/default/clients/unknown", "/admin/o/default/members",
			"/admin/o/default/members/" + e.member.ID, "/admin/o/default/policy", "/admin/keys", "/admin/o/default/audit", "/admin/login", "/admin/o/default/?status=bogus"} {
			r := e.uiDo(admin, "GET", p, nil, nil)
			if r.status >= 300 && r.status != http.StatusNotFound && r.status != http.StatusBadRequest && r.status != http.StatusSeeOther {
				t.Errorf("GET %s: %d", p, r.status)
			}
			if r.header.Get("Strict-Transport-Security") == "" {
				t.Errorf("GET %s: no Strict-Transport-Security on an https console", p)
			}
			if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
				checkNoInlineCode(t, p, r.body)
				if !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, `href="#main"`) {
					t.Errorf("GET %s: no lang or skip link", p)
				}
			}
		}
		// The page that shows a secret.
		_, _, created := e.uiCreate(admin, csrf, url.Values{"name": {"shown once"}, "owner": {memberEmail}})
		if created.header.Get("Cache-Control") != "no-store" {
			t.Errorf("the secret's page: Cache-Control %q", created.header.Get("Cache-Control"))
		}
		checkNoInlineCode(t, "created", created.body)
		// Assets are cacheable and typed.
		css := e.uiDo("", "GET", "/admin/static/app.css", nil, nil)
		js := e.uiDo("", "GET", "/admin/static/app.js", nil, nil)
		if !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(js.header.Get("Content-Type"), "javascript") {
			t.Errorf("asset types: %q %q", css.header.Get("Content-Type"), js.header.Get("Content-Type"))
		}
		// The JSON API keeps its own rules (no CSP needed there).
		if r := e.call(e.login(adminEmail, adminPassword), "GET", apiBase+"/keys", nil, nil); r.status != 200 {
			t.Errorf("API still mounted: %s", r)
		}
		// Credentials are refused in the console as in the API.
		r := e.uiDo(admin, "GET", "/admin/o/default/?access_token=x", nil, nil)
		if r.status != http.StatusUnauthorized {
			t.Errorf("access_token on a page: %d", r.status)
		}
	})
}

func TestUIForms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		admin, csrf := e.uiLogin(adminEmail, adminPassword)

		// Users: create, disable (the client shows "disabled by owner"),
		// enable, permissions, creation right, password.
		r := e.uiDo(admin, "POST", "/admin/o/default/members", url.Values{"csrf_token": {csrf}, "email": {"dev@example.com"}, "name": {"Dev"}, "role": {"member"}, "permissions": {"analysis:read, analysis:create"}, "may_create_clients": {"on"}}, nil)
		if r.status != http.StatusSeeOther || r.location() != "/admin/o/default/members?notice=user_created" {
			t.Fatalf("create user: %d %q %.300s", r.status, r.location(), r.body)
		}
		dev, err := e.store.UserByEmail(ctx, models.DefaultOrgID, "dev@example.com")
		if err != nil || !dev.MayCreateClients || strings.Join(dev.Permissions, " ") != "analysis:create analysis:read" {
			t.Fatalf("created user: %+v %v", dev, err)
		}
		dup := e.uiDo(admin, "POST", "/admin/o/default/members", url.Values{"csrf_token": {csrf}, "email": {"dev@example.com"}, "name": {"Dev"}, "role": {"member"}}, nil)
		if dup.status != http.StatusConflict || !strings.Contains(dup.body, `aria-describedby="f-email-err"`) {
			t.Errorf("duplicate user: %d", dup.status)
		}
		id, secret, _ := e.uiCreate(admin, csrf, url.Values{"name": {"dev's"}, "owner": {"dev@example.com"}, "scopes": {readScope}})
		status := func() string {
			t.Helper()
			r := e.uiDo(admin, "GET", "/admin/o/default/?owner=dev%40example.com", nil, nil)
			return submatch(t, `data-client-id="`+regexp.QuoteMeta(id)+`"[\s\S]*?class="status status-[a-z_]+">([^<]+)<`, r.body)
		}
		if got := status(); got != "active" {
			t.Errorf("status %q", got)
		}
		for _, step := range []struct{ action, want string }{{"disable", "disabled by owner"}, {"enable", "active"}} {
			r := e.uiDo(admin, "POST", "/admin/o/default/members/"+dev.ID, url.Values{"csrf_token": {csrf}, "action": {step.action}, "from": {"list"}}, nil)
			if r.status != http.StatusSeeOther || r.location() != "/admin/o/default/members?notice=user_updated" {
				t.Errorf("%s: %d %q", step.action, r.status, r.location())
			}
			if got := status(); got != step.want {
				t.Errorf("after %s: status %q, want %q", step.action, got, step.want)
			}
		}
		if r := e.uiDo(admin, "GET", "/admin/o/default/?status=disabled_by_owner", nil, nil); strings.Contains(r.body, id) {
			t.Error("the status filter lists an active client as disabled by owner")
		}
		r = e.uiDo(admin, "POST", "/admin/o/default/members/"+dev.ID, url.Values{"csrf_token": {csrf}, "action": {"save"}, "name": {"Dev"}, "permissions": {"config:read"}}, nil)
		if r.status != http.StatusSeeOther {
			t.Errorf("set permissions: %d", r.status)
		}
		if got := status(); got != "disabled by owner" {
			t.Errorf("owner without the client's scope: status %q", got)
		}
		if st, _ := e.token(id, secret); st != 400 {
			t.Errorf("token of a client whose owner lost its scope: %d", st)
		}
		r = e.uiDo(admin, "POST", "/admin/o/default/members/"+dev.ID, url.Values{"csrf_token": {csrf}, "action": {"save"}, "name": {"Dev"}, "permissions": {"bad\"scope"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-permissions-err"`) {
			t.Errorf("invalid permission: %d", r.status)
		}
		if r := e.uiDo(admin, "POST", "/admin/o/default/members/"+e.admin.ID, url.Values{"csrf_token": {csrf}, "action": {"disable"}}, nil); r.status != http.StatusConflict {
			t.Errorf("an admin disables themselves: %d", r.status)
		}
		r = e.uiDo(admin, "POST", "/admin/o/default/members/"+dev.ID+"/password", url.Values{"csrf_token": {csrf}, "password": {"short"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-password-err"`) {
			t.Errorf("short password: %d", r.status)
		}

		// Policy: an invalid value is tied to its field and changes nothing;
		// a valid one is saved through the Registry (audited).
		base := url.Values{"csrf_token": {csrf}, "max_credential_lifetime": {"30d"}, "default_credential_lifetime": {"365d"}, "default_token_ttl": {"15m"},
			"max_token_ttl": {"1h"}, "max_clients_per_owner": {"5"}, "rotation_grace": {"1d"}, "creation_restricted": {"on"}}
		r = e.uiDo(admin, "POST", "/admin/o/default/policy", base, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="f-default_credential_lifetime-hint f-default_credential_lifetime-err" aria-invalid="true"`) {
			t.Errorf("invalid policy: %d", r.status)
		}
		base.Set("default_credential_lifetime", "30d")
		base.Set("ip_allowlist", "10.0.0.0/8\n2001:db8::/32")
		base.Set("legacy_sunset", "2027-06-30")
		r = e.uiDo(admin, "POST", "/admin/o/default/policy", base, nil)
		if r.status != http.StatusSeeOther || r.location() != "/admin/o/default/policy?notice=policy_saved" {
			t.Fatalf("save policy: %d %.300s", r.status, r.body)
		}
		pol, _ := e.store.Policy(ctx, models.DefaultOrgID)
		if pol.MaxCredentialLifetime != 30*24*time.Hour || strings.Join(pol.IPAllowlist, ",") != "10.0.0.0/8,2001:db8::/32" || pol.LegacySunset == nil || pol.UpdatedBy != adminEmail {
			t.Errorf("saved policy: %+v", pol)
		}
		page := e.uiDo(admin, "GET", "/admin/o/default/policy", nil, nil)
		if !strings.Contains(page.body, `value="30d"`) || !strings.Contains(page.body, `value="15m"`) || !strings.Contains(page.body, "2027-06-30T00:00:00Z") {
			t.Error("the policy page does not show the saved values")
		}
		// The table follows the policy: every credential expires within 30
		// days now, so the banner lists them.
		home := e.uiDo(admin, "GET", "/admin/o/default/", nil, nil)
		if !strings.Contains(home.body, `id="expiring-h"`) {
			t.Error("no expiry banner under a 30-day maximum lifetime")
		}
		events, _ := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditPolicyUpdated})
		if len(events) != 1 || events[0].Actor != adminEmail {
			t.Errorf("policy audit events: %+v", events)
		}
		audit := e.uiDo(admin, "GET", "/admin/o/default/audit?action=policy.updated", nil, nil)
		if strings.Count(audit.body, "<code>policy.updated</code>") != 1 {
			t.Error("the audit page's action filter")
		}
		if r := e.uiDo(admin, "GET", "/admin/o/default/audit?since=yesterday", nil, nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "want a date") {
			t.Errorf("bad audit date: %d", r.status)
		}
		// Keys: the active key is listed, without key material.
		keys := e.uiDo(admin, "GET", "/admin/keys", nil, nil)
		kid, _ := e.keyring.ActiveKID()
		if !strings.Contains(keys.body, kid) || !strings.Contains(keys.body, ">active<") {
			t.Error("the keys page does not list the active key")
		}
	})
}

func TestUILegacyCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		const id, secret = "legacy/ci-1", "an old secret from another system"
		if _, err := e.registry.Import(ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: memberEmail, Name: "old CI", Scopes: []string{readScope}}, id, secret); err != nil {
			t.Fatal(err)
		}
		e.secrets = append(e.secrets, secret)
		sunset := e.clock.Now().Add(48 * time.Hour).UTC()
		pol, _ := e.store.Policy(ctx, models.DefaultOrgID)
		pol.LegacySunset = &sunset
		if err := e.registry.SavePolicy(ctx, app.Operator(models.DefaultOrgID), pol); err != nil {
			t.Fatal(err)
		}
		admin, csrf := e.uiLogin(adminEmail, adminPassword)

		// The table warns, names the sunset, and links the client.
		home := e.uiDo(admin, "GET", "/admin/o/default/", nil, nil)
		if !strings.Contains(home.body, `id="legacy-h"`) || !strings.Contains(home.body, sunset.Format("2006-01-02 15:04 UTC")) ||
			!strings.Contains(home.body, `href="/admin/o/default/clients/legacy%2Fci-1"`) {
			t.Errorf("no deprecated-format banner: %.2000s", home.body)
		}
		if r := e.uiDo(admin, "GET", "/admin/o/default/?legacy=true", nil, nil); !strings.Contains(r.body, `data-client-id="legacy/ci-1"`) {
			t.Error("the legacy filter does not list the imported client")
		}
		page := e.uiDo(admin, "GET", "/admin/o/default/clients/legacy%2Fci-1", nil, nil)
		if page.status != 200 || !strings.Contains(page.body, "deprecated format") || strings.Contains(page.body, secret) {
			t.Errorf("imported client's page: %d", page.status)
		}
		// Without JavaScript, revoking asks on a page that posts back to
		// the same (escaped) path.
		ask := e.uiDo(admin, "POST", "/admin/o/default/clients/legacy%2Fci-1/revoke", url.Values{"csrf_token": {csrf}}, nil)
		if ask.status != 200 || !strings.Contains(ask.body, `action="/admin/o/default/clients/legacy%2Fci-1/revoke"`) {
			t.Errorf("confirmation page: %d %.1500s", ask.status, ask.body)
		}
		done := e.uiDo(admin, "POST", "/admin/o/default/clients/legacy%2Fci-1/revoke", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, nil)
		if done.status != http.StatusSeeOther || done.location() != "/admin/o/default/clients/legacy%2Fci-1?notice=revoked" {
			t.Errorf("revoke: %d %q", done.status, done.location())
		}
		if cl, _ := e.store.ClientByID(ctx, id); cl.Status != models.StatusRevoked {
			t.Errorf("status %s after revoking", cl.Status)
		}
		if r := e.uiDo(admin, "GET", "/admin/o/default/", nil, nil); strings.Contains(r.body, `id="legacy-h"`) {
			t.Error("a revoked legacy client still raises the banner")
		}
	})
}
