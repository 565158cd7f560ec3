package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	readScope   = "analysis:read"
	createScope = "analysis:create"
	configScope = "config:read"
)

// env is a running authz HTTP server on a real database.
type env struct {
	t        *testing.T
	url      string
	dbURL    string // the database, for a second Store (as the CLI opens)
	store    *models.Store
	registry *app.Registry
	keyring  *jwtkeys.Keyring
	owner    *models.User
}

// envSetup is what an envOption may adjust: first the token endpoint's
// configuration, then its server and the HTTP configuration.
type envSetup struct {
	oauth  *oauth.Config
	server *oauth.Server
	web    *web.Config
}

// envOption adjusts an env; it is called once per stage, with the other
// fields nil.
type envOption func(s envSetup)

func newEnv(t *testing.T, backend string, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dbURL := storetest.URL(t, backend)
	store := storetest.OpenURL(t, dbURL)
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	hasher, keyring := testkeys.New(t, store, srv.URL)
	cfg := oauth.Config{Issuer: srv.URL}
	for _, o := range opts {
		o(envSetup{oauth: &cfg})
	}
	tokens, err := oauth.NewServer(cfg, store, hasher, keyring, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens.EnableIntrospection(keyring, store)
	tokens.EnableDPoP(store)
	webCfg := web.Config{Issuer: srv.URL}
	for _, o := range opts {
		o(envSetup{server: tokens, web: &webCfg})
	}
	handler = web.New(webCfg, tokens, keyring, store)

	owner := &models.User{OrgID: models.DefaultOrgID, Email: "alice@example.com", Name: "Alice", Permissions: models.NewSet(readScope, createScope, configScope)}
	if err := store.CreateUser(ctx, owner); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, url: srv.URL, dbURL: dbURL, store: store, registry: app.NewRegistry(store, app.RegistryConfig{Hasher: hasher, Issuer: srv.URL}), keyring: keyring, owner: owner}
}

func (e *env) client(in app.NewClient) (id, secret string) {
	e.t.Helper()
	if in.OwnerEmail == "" {
		in.OwnerEmail = e.owner.Email
	}
	if in.Name == "" {
		in.Name = "test client"
	}
	if in.Kind == "" && in.Project == "" {
		in.Project = "default"
	}
	c, secret, err := e.registry.Create(context.Background(), app.Operator(models.DefaultOrgID), in)
	if err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	return c.ID, secret
}

func (e *env) verifier(audience string) *verify.Verifier {
	e.t.Helper()
	v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: e.url + "/.well-known/jwks.json", Issuer: e.url, Audience: audience})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// fetch gets a token with golang.org/x/oauth2's client-credentials client.
func (e *env) fetch(id, secret string, style oauth2.AuthStyle, scopes []string, params url.Values) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.url + "/oauth2/token", Scopes: scopes, AuthStyle: style, EndpointParams: params}
	return cfg.Token(context.Background())
}

func TestClientCredentialsFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		id, secret := e.client(app.NewClient{Scopes: []string{readScope, configScope}, TokenTTL: 10 * time.Minute})
		for _, style := range []struct {
			name  string
			style oauth2.AuthStyle
		}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
			t.Run(style.name, func(t *testing.T) {
				tok, err := e.fetch(id, secret, style.style, []string{readScope}, nil)
				if err != nil {
					t.Fatalf("token: %v", err)
				}
				if got := tok.Extra("scope"); got != readScope {
					t.Errorf("response scope: got %v, want %q", got, readScope)
				}
				if got := tok.Extra("expires_in"); got != 600.0 {
					t.Errorf("expires_in: got %v, want 600 (the client's TTL)", got)
				}
				claims, err := e.verifier(e.url).Verify(context.Background(), tok.AccessToken)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if claims.Issuer != e.url || claims.Subject != id || claims.ClientID != id || claims.OwnerID != e.owner.ID || claims.Scope != readScope {
					t.Errorf("claims: got iss=%q sub=%q client_id=%q owner_id=%q scope=%q", claims.Issuer, claims.Subject, claims.ClientID, claims.OwnerID, claims.Scope)
				}
				if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != 10*time.Minute {
					t.Errorf("exp - iat: got %s, want 10m", got)
				}
				if claims.ID == "" || len(claims.Audience) != 1 || claims.Audience[0] != e.url {
					t.Errorf("jti %q, aud %v: want a jti and aud [%s]", claims.ID, claims.Audience, e.url)
				}
				header := decodeHeader(t, tok.AccessToken)
				kid, alg := e.keyring.ActiveKID()
				if header["typ"] != "at+jwt" || header["kid"] != kid || header["alg"] != alg {
					t.Errorf("header: got %v, want typ at+jwt, kid %s, alg %s", header, kid, alg)
				}
			})
		}
		t.Run("scope absent means all effective permissions", func(t *testing.T) {
			tok, err := e.fetch(id, secret, oauth2.AuthStyleInHeader, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tok.Extra("scope"), readScope+" "+configScope; got != want {
				t.Errorf("scope: got %v, want %q", got, want)
			}
		})
	})
}

// A secret with characters that Basic form-URL-encoding must carry (an
// imported credential: generated ones are base62).
func TestBasicCredentialsAreFormURLDecoded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		const id, secret = "legacy:client/one+two", "s3cr+t/with=signs%and:colon+plus=="
		if _, err := e.registry.Import(context.Background(), app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: e.owner.Email, Name: "imported", Scopes: []string{readScope}}, id, secret); err != nil {
			t.Fatal(err)
		}
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			tok, err := e.fetch(id, secret, style, nil, nil)
			if err != nil {
				t.Fatalf("auth style %d: %v", style, err)
			}
			if tok.Extra("scope") != readScope {
				t.Errorf("auth style %d: scope %v, want %s", style, tok.Extra("scope"), readScope)
			}
		}
	})
}

func decodeHeader(t *testing.T, jwt string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// post sends a raw token request.
func (e *env) post(method, path, contentType, body string, header http.Header) (*http.Response, map[string]string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]string
	if err := json.Unmarshal(raw, &out); err != nil {
		var loose map[string]any
		if json.Unmarshal(raw, &loose) != nil {
			e.t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
		out = map[string]string{}
		for k, v := range loose {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
	}
	return resp, out
}

func basic(id, secret string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
}

const form = "application/x-www-form-urlencoded"

func TestTokenEndpointRejections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		ctx := context.Background()
		// Three projects of the default organization with resources of
		// their own: a client bound to one, and an organization client
		// narrowed to the other two, neither of them the default project.
		for _, slug := range []string{"api", "a", "b"} {
			p := &models.Project{Slug: slug, Name: slug, Resource: "https://" + slug + ".example.com"}
			if err := e.registry.CreateProject(ctx, app.Operator(models.DefaultOrgID), p); err != nil {
				t.Fatal(err)
			}
		}
		id, secret := e.client(app.NewClient{Scopes: []string{readScope, configScope}, Project: "api"})
		multiID, multiSecret := e.client(app.NewClient{Kind: models.ClientKindOrganization, Scopes: []string{readScope}, Audiences: []string{"https://a.example.com", "https://b.example.com"}})
		revokedID, revokedSecret := e.client(app.NewClient{Scopes: []string{readScope}})
		if _, err := e.store.RevokeClient(ctx, revokedID); err != nil {
			t.Fatal(err)
		}
		fencedID, fencedSecret := e.client(app.NewClient{Scopes: []string{readScope}, IPAllowlist: []string{"10.0.0.0/8", "2001:db8::/32"}})
		bob := &models.User{OrgID: models.DefaultOrgID, Email: "bob@example.com", Name: "Bob", Permissions: models.NewSet(readScope)}
		if err := e.store.CreateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		bobID, bobSecret := e.client(app.NewClient{OwnerEmail: bob.Email, Scopes: []string{readScope}})
		bob.Status = models.StatusDisabled
		if err := e.store.UpdateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		// A client whose stored hash is empty must never authenticate.
		emptyID := oauth.NewClientID()
		if err := e.store.CreateClient(ctx, &models.Client{ID: emptyID, OrgID: models.DefaultOrgID, Kind: models.ClientKindProject, ProjectID: models.DefaultProjectID, Name: "empty", OwnerID: e.owner.ID, Scopes: models.NewSet(readScope)}, &models.ClientSecret{ID: "empty-secret", Hash: []byte{}}, 0); err != nil {
			t.Fatal(err)
		}
		wrongSecret := oauth.NewSecret()
		badChecksum := secret[:len(secret)-1] + string(rotate(secret[len(secret)-1]))

		cc := "grant_type=client_credentials"
		cases := []struct {
			name        string
			method      string
			path        string
			contentType string
			body        string
			header      http.Header
			status      int
			code        string
			describes   string // a word the error_description must contain
		}{
			{"GET", "GET", "/oauth2/token", "", "", basic(id, secret), 400, "invalid_request", "POST"},
			{"JSON body", "POST", "/oauth2/token", "application/json", `{"grant_type":"client_credentials"}`, basic(id, secret), 400, "invalid_request", "x-www-form-urlencoded"},
			{"no content type", "POST", "/oauth2/token", "", cc, basic(id, secret), 400, "invalid_request", "x-www-form-urlencoded"},
			{"credentials in query", "POST", "/oauth2/token?client_id=" + id + "&client_secret=" + secret, form, cc, nil, 400, "invalid_request", "query"},
			{"parameter in query", "POST", "/oauth2/token?scope=" + readScope, form, cc, basic(id, secret), 400, "invalid_request", "query"},
			{"repeated parameter", "POST", "/oauth2/token", form, cc + "&scope=a&scope=b", basic(id, secret), 400, "invalid_request", "repeated"},
			{"repeated grant_type", "POST", "/oauth2/token", form, cc + "&" + cc, basic(id, secret), 400, "invalid_request", "repeated"},
			{"basic and body credentials", "POST", "/oauth2/token", form, cc + "&client_id=" + id + "&client_secret=" + url.QueryEscape(secret), basic(id, secret), 400, "invalid_request", "one client authentication method"},
			{"no credentials", "POST", "/oauth2/token", form, cc, nil, 401, "invalid_client", "client authentication required"},
			{"unknown client", "POST", "/oauth2/token", form, cc, basic(oauth.NewClientID(), secret), 401, "invalid_client", "client authentication failed"},
			{"wrong secret", "POST", "/oauth2/token", form, cc, basic(id, wrongSecret), 401, "invalid_client", "client authentication failed"},
			{"wrong secret in body", "POST", "/oauth2/token", form, cc + "&client_id=" + id + "&client_secret=" + wrongSecret, nil, 401, "invalid_client", "client authentication failed"},
			{"mistyped secret (checksum)", "POST", "/oauth2/token", form, cc, basic(id, badChecksum), 401, "invalid_client", "client authentication failed"},
			{"empty stored hash", "POST", "/oauth2/token", form, cc, basic(emptyID, secret), 401, "invalid_client", "client authentication failed"},
			{"missing grant_type", "POST", "/oauth2/token", form, "scope=" + readScope, basic(id, secret), 400, "invalid_request", "grant_type"},
			{"password grant", "POST", "/oauth2/token", form, "grant_type=password&username=a&password=b", basic(id, secret), 400, "unsupported_grant_type", "client_credentials"},
			{"authorization_code grant", "POST", "/oauth2/token", form, "grant_type=authorization_code&code=x&redirect_uri=https://x", basic(id, secret), 400, "unsupported_grant_type", "client_credentials"},
			{"grant decided after authentication", "POST", "/oauth2/token", form, "grant_type=password&username=a&password=b", basic(id, wrongSecret), 401, "invalid_client", "client authentication failed"},
			{"scope not granted", "POST", "/oauth2/token", form, cc + "&scope=" + createScope, basic(id, secret), 400, "invalid_scope", createScope},
			{"scope decided after authentication", "POST", "/oauth2/token", form, cc + "&scope=admin:all", basic(id, wrongSecret), 401, "invalid_client", "client authentication failed"},
			{"unknown scope", "POST", "/oauth2/token", form, cc + "&scope=admin:all", basic(id, secret), 400, "invalid_scope", "admin:all"},
			{"resource not allowed", "POST", "/oauth2/token", form, cc + "&resource=https://evil.example.com", basic(id, secret), 400, "invalid_target", "evil.example.com"},
			{"several audiences, none named", "POST", "/oauth2/token", form, cc, basic(multiID, multiSecret), 400, "invalid_target", "resource"},
			{"another project's resource", "POST", "/oauth2/token", form, cc + "&resource=https://a.example.com", basic(id, secret), 400, "invalid_target", "a.example.com"},
			{"a project outside the client's audiences", "POST", "/oauth2/token", form, cc + "&resource=https://api.example.com", basic(multiID, multiSecret), 400, "invalid_target", "api.example.com"},
			{"revoked client", "POST", "/oauth2/token", form, cc, basic(revokedID, revokedSecret), 401, "invalid_client", "revoked"},
			{"revoked client, wrong secret", "POST", "/oauth2/token", form, cc, basic(revokedID, wrongSecret), 401, "invalid_client", "client authentication failed"},
			{"disabled owner", "POST", "/oauth2/token", form, cc, basic(bobID, bobSecret), 400, "unauthorized_client", "owner is disabled"},
			{"IP outside the allowlist", "POST", "/oauth2/token", form, cc, basic(fencedID, fencedSecret), 400, "unauthorized_client", "127.0.0.1 are outside this client"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := e.post(tc.method, tc.path, tc.contentType, tc.body, tc.header)
				if resp.StatusCode != tc.status || body["error"] != tc.code {
					t.Fatalf("got %d %q (%s), want %d %q", resp.StatusCode, body["error"], body["error_description"], tc.status, tc.code)
				}
				if !strings.Contains(body["error_description"], tc.describes) {
					t.Errorf("error_description %q does not mention %q", body["error_description"], tc.describes)
				}
				if got := resp.Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control: got %q, want no-store", got)
				}
				if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
					t.Errorf("Content-Type: got %q, want application/json", got)
				}
				wantAuth := tc.status == 401
				if got := resp.Header.Get("WWW-Authenticate"); (got != "") != wantAuth || (wantAuth && !strings.HasPrefix(got, "Basic ")) {
					t.Errorf("WWW-Authenticate: got %q, want a Basic challenge only on 401", got)
				}
				if _, ok := body["access_token"]; ok {
					t.Errorf("an error response carries an access_token")
				}
			})
		}

		t.Run("unknown client and wrong secret are indistinguishable", func(t *testing.T) {
			r1, b1 := e.post("POST", "/oauth2/token", form, cc, basic(oauth.NewClientID(), secret))
			r2, b2 := e.post("POST", "/oauth2/token", form, cc, basic(id, wrongSecret))
			if r1.StatusCode != r2.StatusCode || b1["error"] != b2["error"] || b1["error_description"] != b2["error_description"] || r1.Header.Get("WWW-Authenticate") != r2.Header.Get("WWW-Authenticate") {
				t.Errorf("unknown client: %d %v; wrong secret: %d %v", r1.StatusCode, b1, r2.StatusCode, b2)
			}
		})
		t.Run("success carries no-store", func(t *testing.T) {
			resp, body := e.post("POST", "/oauth2/token", form, cc+"&resource=https://api.example.com", basic(id, secret))
			if resp.StatusCode != 200 || body["access_token"] == "" || body["token_type"] != "Bearer" {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			claims, err := e.verifier("https://api.example.com").Verify(context.Background(), body["access_token"])
			if err != nil {
				t.Fatalf("verify with the resource as audience: %v", err)
			}
			if claims.Audience[0] != "https://api.example.com" {
				t.Errorf("aud: got %v", claims.Audience)
			}
		})
		t.Run("resource picks one of several audiences", func(t *testing.T) {
			resp, body := e.post("POST", "/oauth2/token", form, cc+"&resource=https://b.example.com", basic(multiID, multiSecret))
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
			if _, err := e.verifier("https://b.example.com").Verify(context.Background(), body["access_token"]); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	})
}

func rotate(c byte) byte {
	if c == 'a' {
		return 'b'
	}
	return 'a'
}

// The owner's current permissions hold at the very next request (the cache
// of authentication data is validated at every request).
func TestOwnerPermissionsAreCurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		ctx := context.Background()
		id, secret := e.client(app.NewClient{Scopes: []string{readScope, configScope}})
		scopeOf := func() (int, map[string]string) {
			resp, body := e.post("POST", "/oauth2/token", form, "grant_type=client_credentials", basic(id, secret))
			return resp.StatusCode, body
		}
		if status, body := scopeOf(); status != 200 || body["scope"] != readScope+" "+configScope {
			t.Fatalf("before: got %d %v", status, body)
		}
		e.owner.Permissions = models.NewSet(readScope, createScope)
		if err := e.store.UpdateUser(ctx, e.owner); err != nil {
			t.Fatal(err)
		}
		if status, body := scopeOf(); status != 200 || body["scope"] != readScope {
			t.Fatalf("after losing config:read: got %d %v, want scope %q", status, body, readScope)
		}
		resp, body := e.post("POST", "/oauth2/token", form, "grant_type=client_credentials&scope="+configScope, basic(id, secret))
		if resp.StatusCode != 400 || body["error"] != "invalid_scope" || !strings.Contains(body["error_description"], "no longer holds") {
			t.Errorf("asking for a lost permission: got %d %v", resp.StatusCode, body)
		}
		e.owner.Permissions = models.NewSet(createScope)
		if err := e.store.UpdateUser(ctx, e.owner); err != nil {
			t.Fatal(err)
		}
		if status, body := scopeOf(); status != 400 || body["error"] != "unauthorized_client" || !strings.Contains(body["error_description"], "no longer holds any") {
			t.Errorf("owner holds none of the client's scopes: got %d %v", status, body)
		}
		e.owner.Permissions = models.NewSet(readScope, configScope)
		if err := e.store.UpdateUser(ctx, e.owner); err != nil {
			t.Fatal(err)
		}
		if status, body := scopeOf(); status != 200 || body["scope"] != readScope+" "+configScope {
			t.Errorf("restored: got %d %v", status, body)
		}
	})
}

// No token is written to the database: row counts stay put across requests.
func TestNoTokenIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		before := rowCounts(t, e.store)
		for i := 0; i < 20; i++ {
			if _, err := e.fetch(id, secret, oauth2.AuthStyleInHeader, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		if after := rowCounts(t, e.store); after != before {
			t.Errorf("row counts changed: before %v, after %v", before, after)
		}
	})
}

func rowCounts(t *testing.T, s *models.Store) string {
	t.Helper()
	ctx := context.Background()
	users, err := s.ListUsers(ctx, models.DefaultOrgID)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := s.ListClients(ctx, models.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := s.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	secrets := 0
	for _, c := range clients {
		secrets += len(c.Secrets)
	}
	return fmt.Sprintf("users=%d clients=%d secrets=%d keys=%d", len(users), len(clients), secrets, len(keys))
}

func TestDiscovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		resp, err := http.Get(e.url + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		metadata, _ := io.ReadAll(resp.Body)
		testutil.GoldenJSON(t, "testdata/discovery.json", metadata, testutil.Normalize{Replace: map[string]string{e.url: testIssuer}})

		resp, err = http.Get(e.url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var set verify.JWKS
		if err := json.Unmarshal(raw, &set); err != nil {
			t.Fatal(err)
		}
		kid, alg := e.keyring.ActiveKID()
		if len(set.Keys) != 1 || set.Keys[0].Kid != kid || set.Keys[0].Alg != alg || set.Keys[0].Use != "sig" {
			t.Errorf("jwks: got %+v, want one key %s/%s for sig", set.Keys, kid, alg)
		}
		if strings.Contains(string(raw), `"d"`) {
			t.Errorf("jwks publishes private material")
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("jwks Cache-Control: got %q, want a max-age", cc)
		}

		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nope": 404} {
			resp, err := http.Get(e.url + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s: got %d, want %d", path, resp.StatusCode, want)
			}
		}
	})
}
