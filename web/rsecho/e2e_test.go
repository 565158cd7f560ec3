package rsecho_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"golang.org/x/oauth2/clientcredentials"
)

// End to end: a real authz server on a real database issues tokens; resource
// servers built with rsecho and with the net/http middleware accept them,
// verifying offline (JWKS) or online (introspection).

const rsAudience = "https://analyses.example"

// authzEnv is a running authz server, as in web/token_test.go.
type authzEnv struct {
	t              *testing.T
	url            string
	registry       *app.Registry
	owner          *models.User
	introspections atomic.Int64 // requests to /oauth2/introspect
}

func newAuthzEnv(t *testing.T, backend string) *authzEnv {
	t.Helper()
	ctx := context.Background()
	store := storetest.Open(t, backend)
	hasher, err := oauth.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := jwtkeys.ParseKEK(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	if err != nil {
		t.Fatal(err)
	}
	e := &authzEnv{t: t}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth2/introspect" {
			e.introspections.Add(1)
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	keyring, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{KEK: kek, Issuer: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := keyring.Load(ctx); err != nil {
		t.Fatal(err)
	}
	tokens, err := oauth.NewServer(oauth.Config{Issuer: srv.URL}, store, hasher, keyring, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens.EnableIntrospection(keyring, store)
	handler = web.New(web.Config{Issuer: srv.URL}, tokens, keyring, store)

	e.owner = &models.User{OrgID: models.DefaultOrgID, Email: "alice@example.com", Name: "Alice", Permissions: models.NewSet("analysis:read", "analysis:create")}
	if err := store.CreateUser(ctx, e.owner); err != nil {
		t.Fatal(err)
	}
	e.registry = app.NewRegistry(store, app.RegistryConfig{Hasher: hasher, Issuer: srv.URL})
	// The resource server's API is a project of the default organization,
	// whose resource is the audience it checks.
	if err := e.registry.CreateProject(ctx, app.Operator(models.DefaultOrgID), &models.Project{Slug: "analyses", Name: "Analyses", Resource: rsAudience}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *authzEnv) client(in app.NewClient) (id, secret string) {
	e.t.Helper()
	in.OwnerEmail = e.owner.Email
	if in.Project == "" {
		in.Project = "analyses"
	}
	c, secret, err := e.registry.Create(context.Background(), app.Operator(models.DefaultOrgID), in)
	if err != nil {
		e.t.Fatalf("create client: %v", err)
	}
	return c.ID, secret
}

// token fetches an access token with golang.org/x/oauth2.
func (e *authzEnv) token(id, secret string, scopes ...string) string {
	e.t.Helper()
	cfg := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.url + "/oauth2/token", Scopes: scopes}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		e.t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

// revoke revokes token at POST /oauth2/revoke (RFC 7009).
func (e *authzEnv) revoke(id, secret, token string) {
	e.t.Helper()
	r, err := http.NewRequest(http.MethodPost, e.url+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("revoke: status %d", resp.StatusCode)
	}
}

// rsCall is one request to a resource server over real HTTP.
type rsCall struct {
	status      int
	challenge   string
	description string
	body        who
}

func call(t *testing.T, rsURL, method, token string) rsCall {
	t.Helper()
	r, err := http.NewRequest(method, rsURL+"/analyses", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := rsCall{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate")}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("body %q: %v", raw, err)
		}
	} else {
		var body map[string]string
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("error body %q: %v", raw, err)
		}
		out.description = body["error_description"]
	}
	return out
}

func (c rsCall) want(t *testing.T, what string, status int, description string) {
	t.Helper()
	if c.status != status || c.description != description {
		t.Fatalf("%s: got %d %q (%s), want %d %q", what, c.status, c.description, c.challenge, status, description)
	}
}

// rsKinds builds a resource server with each middleware.
var rsKinds = []struct {
	name  string
	build func(v verify.TokenVerifier) http.Handler
}{
	{"echo", func(v verify.TokenVerifier) http.Handler { var n int; return echoServer(v, &n) }},
	{"net/http", stdServer},
}

func TestEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAuthzEnv(t, backend)
		appID, appSecret := e.client(app.NewClient{Name: "CI pipeline", Scopes: []string{"analysis:read", "analysis:create"}, TokenTTL: 10 * time.Minute})
		rsID, rsSecret := e.client(app.NewClient{Name: "analyses service", ResourceServer: true})

		jwksVerifier := func(now func() time.Time) *verify.Verifier {
			v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: e.url + "/.well-known/jwks.json", Issuer: e.url, Audience: rsAudience, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		introspectionVerifier := func(mod func(*verify.IntrospectionConfig)) *verify.IntrospectionVerifier {
			cfg := verify.IntrospectionConfig{URL: e.url + "/oauth2/introspect", ClientID: rsID, ClientSecret: rsSecret, Issuer: e.url, Audience: rsAudience}
			mod(&cfg)
			v, err := verify.NewIntrospectionVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		expOf := func(token string) time.Time {
			c, err := jwksVerifier(nil).Verify(context.Background(), token)
			if err != nil {
				t.Fatal(err)
			}
			return c.ExpiresAt.Time
		}

		for _, kind := range rsKinds {
			t.Run(kind.name, func(t *testing.T) {
				tok := e.token(appID, appSecret, "analysis:read")
				exp := expOf(tok)

				// (a) offline, against the JWKS.
				clockA := testutil.NewClock(time.Now())
				rsA := httptest.NewServer(kind.build(jwksVerifier(clockA.Now)))
				t.Cleanup(rsA.Close)
				// (b) online, by introspection with the RS's own credentials.
				const cacheTTL = 30 * time.Second
				clockB := testutil.NewClock(time.Now())
				rsB := httptest.NewServer(kind.build(introspectionVerifier(func(c *verify.IntrospectionConfig) {
					c.CacheTTL, c.Now = cacheTTL, clockB.Now
				})))
				t.Cleanup(rsB.Close)

				for _, rs := range []struct{ name, url string }{{"jwks", rsA.URL}, {"introspection", rsB.URL}} {
					got := call(t, rs.url, "GET", tok)
					got.want(t, rs.name+" GET", 200, "")
					if got.body != (who{appID, e.owner.ID, "analysis:read"}) {
						t.Errorf("%s: handler saw %+v, want client %s, owner %s, scope analysis:read", rs.name, got.body, appID, e.owner.ID)
					}
					got = call(t, rs.url, "POST", tok)
					got.want(t, rs.name+" POST", 403, "the access token lacks the required scope analysis:create")
					if !strings.Contains(got.challenge, `error="insufficient_scope"`) || !strings.Contains(got.challenge, `scope="analysis:create"`) {
						t.Errorf("%s POST: WWW-Authenticate %q", rs.name, got.challenge)
					}
				}
				before := e.introspections.Load()
				call(t, rsB.URL, "GET", tok).want(t, "introspection, cached", 200, "")
				if n := e.introspections.Load() - before; n != 0 {
					t.Errorf("a cached answer made %d introspection calls", n)
				}

				e.revoke(appID, appSecret, tok)

				// (a) Offline verification cannot see the revocation: the
				// token works until exp (+ leeway), by design. Tokens are
				// short-lived for that reason.
				call(t, rsA.URL, "GET", tok).want(t, "jwks after revocation", 200, "")
				clockA.Set(exp.Add(31 * time.Second))
				call(t, rsA.URL, "GET", tok).want(t, "jwks after exp", 401, "the access token expired")

				// (b) Introspection sees it once the cached answer lapses.
				call(t, rsB.URL, "GET", tok).want(t, "introspection after revocation, within CacheTTL", 200, "")
				clockB.Advance(cacheTTL)
				before = e.introspections.Load()
				got := call(t, rsB.URL, "GET", tok)
				got.want(t, "introspection after revocation and CacheTTL", 401, "the access token is not active")
				if !strings.Contains(got.challenge, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q", got.challenge)
				}
				if n := e.introspections.Load() - before; n != 1 {
					t.Errorf("introspection calls: got %d, want 1", n)
				}
			})

			t.Run(kind.name+"/cached active never outlives the token", func(t *testing.T) {
				tok := e.token(appID, appSecret, "analysis:read")
				exp := expOf(tok)
				clockC := testutil.NewClock(time.Now())
				rs := httptest.NewServer(kind.build(introspectionVerifier(func(c *verify.IntrospectionConfig) {
					c.CacheTTL, c.Now = time.Hour, clockC.Now // far beyond the token's 10 minutes
				})))
				t.Cleanup(rs.Close)

				before := e.introspections.Load()
				call(t, rs.URL, "GET", tok).want(t, "fresh", 200, "")
				clockC.Set(exp.Add(-time.Second))
				call(t, rs.URL, "GET", tok).want(t, "cached, a second before exp", 200, "")
				if n := e.introspections.Load() - before; n != 1 {
					t.Fatalf("introspection calls: got %d, want 1", n)
				}
				// At exp the entry is gone. The server, on the real clock,
				// still says active; the RS refuses on its own clock.
				clockC.Set(exp)
				call(t, rs.URL, "GET", tok).want(t, "at exp", 401, "the access token expired")
				if n := e.introspections.Load() - before; n != 2 {
					t.Errorf("introspection calls: got %d, want 2 (the cached answer was served past exp)", n)
				}
			})

			t.Run(kind.name+"/local pre-check spares the server", func(t *testing.T) {
				rs := httptest.NewServer(kind.build(introspectionVerifier(func(c *verify.IntrospectionConfig) {
					c.Local = jwksVerifier(nil)
				})))
				t.Cleanup(rs.Close)
				before := e.introspections.Load()
				call(t, rs.URL, "GET", "eyJhbGciOiJub25lIn0.e30.").want(t, "garbage", 401, "the access token signature is invalid")
				call(t, rs.URL, "GET", e.token(appID, appSecret, "analysis:read")).want(t, "valid", 200, "")
				if n := e.introspections.Load() - before; n != 1 {
					t.Errorf("introspection calls: got %d, want 1 (only for the valid token)", n)
				}
			})
		}

		t.Run("RS credentials refused: 503, not 401", func(t *testing.T) {
			rs := httptest.NewServer(stdServer(introspectionVerifier(func(c *verify.IntrospectionConfig) { c.ClientSecret = "wrong" })))
			t.Cleanup(rs.Close)
			call(t, rs.URL, "GET", e.token(appID, appSecret)).want(t, "wrong RS secret", 503, "the access token cannot be checked right now; try again later")
		})
		t.Run("a client that is not a resource server sees other tokens inactive", func(t *testing.T) {
			otherID, otherSecret := e.client(app.NewClient{Name: "not an RS"})
			rs := httptest.NewServer(stdServer(introspectionVerifier(func(c *verify.IntrospectionConfig) { c.ClientID, c.ClientSecret = otherID, otherSecret })))
			t.Cleanup(rs.Close)
			call(t, rs.URL, "GET", e.token(appID, appSecret)).want(t, "non-RS introspecting", 401, "the access token is not active")
		})
	})
}
