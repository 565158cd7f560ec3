package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/golang-jwt/jwt/v5"
)

const (
	itIssuer   = "https://authz.example"
	itAudience = "https://analyses.example"
	// A client_id and secret with characters that form-URL-encoding must
	// carry through Basic authentication (RFC 6749 §2.3.1).
	itClientID = "rs:analyses/one+two"
	itSecret   = "s3cr+t/with=signs%and:colon é"
)

var itBase = time.Unix(1_750_000_000, 0)

// itServer is a fake RFC 7662 endpoint. answers maps a token to the JSON
// answer; unknown tokens are inactive.
type itServer struct {
	*httptest.Server
	t       testing.TB
	calls   atomic.Int64
	status  atomic.Int64
	gate    chan struct{} // if non-nil, each request waits for it to close
	mu      sync.Mutex
	answers map[string]string
}

func newITServer(t testing.TB) *itServer {
	t.Helper()
	s := &itServer{t: t, answers: map[string]string{}}
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *itServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	if s.gate != nil {
		<-s.gate
	}
	// The request a compliant endpoint expects.
	if r.Method != http.MethodPost || r.URL.RawQuery != "" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		s.t.Errorf("request: %s %s, Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != itClientID || secret != itSecret {
		s.t.Errorf("Basic credentials: got %q:%q (ok %v), want the form-URL-encoded %q:%q", id, secret, ok, itClientID, itSecret)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form["token"]) != 1 || form.Get("token_type_hint") != "access_token" || len(form) != 2 {
		s.t.Errorf("form body %q: want exactly token and token_type_hint=access_token", body)
	}
	if st := int(s.status.Load()); st != http.StatusOK {
		w.WriteHeader(st)
		return
	}
	s.mu.Lock()
	answer, ok := s.answers[form.Get("token")]
	s.mu.Unlock()
	if !ok {
		answer = `{"active":false}`
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, answer)
}

func (s *itServer) set(token, answer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[token] = answer
}

// setActive makes token active until exp with the usual members.
func (s *itServer) setActive(token string, exp time.Time) {
	s.set(token, itAnswer(exp, nil))
}

// itAnswer returns an active answer expiring at exp, with members
// overridden (a nil value deletes one).
func itAnswer(exp time.Time, override map[string]any) string {
	m := map[string]any{
		"active": true, "scope": "analysis:read analysis:create", "client_id": "azc_1", "sub": "azc_1",
		"aud": itAudience, "iss": itIssuer, "exp": exp.Unix(), "iat": exp.Add(-time.Hour).Unix(),
		"nbf": exp.Add(-time.Hour).Unix(), "jti": "jti-1", "token_type": "Bearer", "owner_id": "user-9",
		"org_id": "org-1", "project_id": "project-1",
	}
	for k, v := range override {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (s *itServer) wantCalls(t testing.TB, want int64) {
	t.Helper()
	if got := s.calls.Load(); got != want {
		t.Errorf("introspection calls: got %d, want %d", got, want)
	}
}

// newIT returns a verifier for srv; mod adjusts the config.
func newIT(t testing.TB, srv *itServer, clock *testutil.Clock, mod func(*verify.IntrospectionConfig)) *verify.IntrospectionVerifier {
	t.Helper()
	cfg := verify.IntrospectionConfig{
		URL: srv.URL + "/oauth2/introspect", ClientID: itClientID, ClientSecret: itSecret,
		Issuer: itIssuer, Audience: itAudience, Now: clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := verify.NewIntrospectionVerifier(cfg)
	if err != nil {
		t.Fatalf("NewIntrospectionVerifier: %v", err)
	}
	return v
}

func itCheck(t testing.TB, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("Verify: got error %v, want %v", err, want)
	}
}

func TestIntrospectionVerify(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	v := newIT(t, srv, clock, nil)
	exp := itBase.Add(time.Hour)
	srv.setActive("tok", exp)
	c, err := v.Verify(context.Background(), "tok")
	itCheck(t, err, nil)
	if c.Issuer != itIssuer || c.Subject != "azc_1" || c.ClientID != "azc_1" || c.OwnerID != "user-9" || c.ID != "jti-1" ||
		c.OrgID != "org-1" || c.ProjectID != "project-1" ||
		c.Scope != "analysis:read analysis:create" || len(c.Audience) != 1 || c.Audience[0] != itAudience ||
		!c.ExpiresAt.Equal(exp) || !c.IssuedAt.Equal(exp.Add(-time.Hour)) || !c.NotBefore.Equal(exp.Add(-time.Hour)) {
		t.Errorf("claims: got %+v", c)
	}
	if !c.HasScope("analysis:create") {
		t.Error("HasScope(analysis:create) is false")
	}
	// The caller owns its copy: changing it does not change the cache.
	c.Scope, c.Audience[0] = "admin", "x"
	c2, err := v.Verify(context.Background(), "tok")
	itCheck(t, err, nil)
	if c2.Scope != "analysis:read analysis:create" || c2.Audience[0] != itAudience {
		t.Errorf("cached claims were modified through a returned copy: %+v", c2)
	}
	srv.wantCalls(t, 1)
}

func TestIntrospectionAnswers(t *testing.T) {
	exp := itBase.Add(time.Hour)
	tests := []struct {
		name   string
		status int
		answer string
		want   error
	}{
		{"active", 200, itAnswer(exp, nil), nil},
		{"aud array containing the audience", 200, itAnswer(exp, map[string]any{"aud": []string{"https://x.example", itAudience}}), nil},
		{"aud space-separated containing the audience", 200, itAnswer(exp, map[string]any{"aud": "https://x.example " + itAudience}), nil},
		{"no token_type", 200, itAnswer(exp, map[string]any{"token_type": nil}), nil},
		{"token_type lower case", 200, itAnswer(exp, map[string]any{"token_type": "bearer"}), nil},
		{"no iat, nbf, jti, scope", 200, itAnswer(exp, map[string]any{"iat": nil, "nbf": nil, "jti": nil, "scope": nil}), nil},
		{"no org_id, project_id", 200, itAnswer(exp, map[string]any{"org_id": nil, "project_id": nil}), nil},

		{"inactive", 200, `{"active":false}`, verify.ErrTokenInactive},
		{"inactive with members", 200, itAnswer(exp, map[string]any{"active": false}), verify.ErrTokenInactive},
		{"wrong issuer", 200, itAnswer(exp, map[string]any{"iss": "https://evil.example"}), verify.ErrInvalidClaims},
		{"no issuer", 200, itAnswer(exp, map[string]any{"iss": nil}), verify.ErrInvalidClaims},
		{"wrong audience", 200, itAnswer(exp, map[string]any{"aud": "https://other.example"}), verify.ErrInvalidClaims},
		{"audience prefix", 200, itAnswer(exp, map[string]any{"aud": itAudience + "/x"}), verify.ErrInvalidClaims},
		{"no audience", 200, itAnswer(exp, map[string]any{"aud": nil}), verify.ErrInvalidClaims},
		{"aud of the wrong type", 200, itAnswer(exp, map[string]any{"aud": 7}), verify.ErrInvalidClaims},
		{"no exp", 200, itAnswer(exp, map[string]any{"exp": nil}), verify.ErrInvalidClaims},
		{"exp passed", 200, itAnswer(itBase, nil), verify.ErrTokenExpired},
		{"no client_id", 200, itAnswer(exp, map[string]any{"client_id": nil}), verify.ErrInvalidClaims},
		{"no sub", 200, itAnswer(exp, map[string]any{"sub": nil}), verify.ErrInvalidClaims},
		{"token_type DPoP", 200, itAnswer(exp, map[string]any{"token_type": "DPoP"}), verify.ErrInvalidClaims},

		{"no active member", 200, `{"scope":"a"}`, verify.ErrIntrospectionUnavailable},
		{"active not a boolean", 200, `{"active":"true"}`, verify.ErrIntrospectionUnavailable},
		{"not JSON", 200, `<html>`, verify.ErrIntrospectionUnavailable},
		{"oversized body", 200, `{"active":false,"x":"` + strings.Repeat("a", 70<<10) + `"}`, verify.ErrIntrospectionUnavailable},
		{"server error", 500, "", verify.ErrIntrospectionUnavailable},
		{"credentials refused", 401, "", verify.ErrIntrospectionUnavailable},
		{"unavailable", 503, "", verify.ErrIntrospectionUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testutil.NewClock(itBase)
			srv := newITServer(t)
			srv.status.Store(int64(tt.status))
			srv.set("tok", tt.answer)
			v := newIT(t, srv, clock, nil)
			c, err := v.Verify(context.Background(), "tok")
			itCheck(t, err, tt.want)
			if (err == nil) != (c != nil) {
				t.Errorf("got claims %v with error %v", c, err)
			}
		})
	}

	t.Run("token refused before any call", func(t *testing.T) {
		clock := testutil.NewClock(itBase)
		srv := newITServer(t)
		v := newIT(t, srv, clock, nil)
		for _, tok := range []string{"", strings.Repeat("a", 17<<10)} {
			_, err := v.Verify(context.Background(), tok)
			itCheck(t, err, verify.ErrTokenMalformed)
		}
		srv.wantCalls(t, 0)
	})
	t.Run("endpoint unreachable", func(t *testing.T) {
		clock := testutil.NewClock(itBase)
		srv := newITServer(t)
		v := newIT(t, srv, clock, nil)
		srv.Close()
		_, err := v.Verify(context.Background(), "tok")
		itCheck(t, err, verify.ErrIntrospectionUnavailable)
	})
}

// An active answer is reused until CacheTTL, so a revocation is seen at
// most CacheTTL late.
func TestIntrospectionCacheTTL(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.CacheTTL = 30 * time.Second })
	srv.setActive("tok", itBase.Add(time.Hour))
	ctx := context.Background()
	for range 3 {
		_, err := v.Verify(ctx, "tok")
		itCheck(t, err, nil)
	}
	srv.wantCalls(t, 1)

	srv.set("tok", `{"active":false}`) // revoked
	clock.Advance(29 * time.Second)
	_, err := v.Verify(ctx, "tok")
	itCheck(t, err, nil) // still the cached answer
	srv.wantCalls(t, 1)

	clock.Advance(time.Second)
	_, err = v.Verify(ctx, "tok")
	itCheck(t, err, verify.ErrTokenInactive)
	srv.wantCalls(t, 2)
}

// A cached "active" ends at the token's exp even if CacheTTL is longer:
// the next Verify asks again and refuses the token as expired, whatever
// the endpoint says.
func TestIntrospectionCacheNeverOutlivesToken(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.CacheTTL = time.Hour })
	exp := itBase.Add(10 * time.Second)
	srv.setActive("tok", exp) // the endpoint keeps saying active (a lagging clock)
	ctx := context.Background()

	_, err := v.Verify(ctx, "tok")
	itCheck(t, err, nil)
	clock.Advance(9 * time.Second)
	_, err = v.Verify(ctx, "tok")
	itCheck(t, err, nil)
	srv.wantCalls(t, 1)

	clock.Advance(time.Second) // now == exp
	_, err = v.Verify(ctx, "tok")
	itCheck(t, err, verify.ErrTokenExpired)
	srv.wantCalls(t, 2)
	_, err = v.Verify(ctx, "tok")
	itCheck(t, err, verify.ErrTokenExpired)
	srv.wantCalls(t, 3) // an expired answer is not cached either
}

// The cache holds at most MaxEntries answers and evicts the least recently
// used one.
func TestIntrospectionCacheBound(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.MaxEntries = 3 })
	ctx := context.Background()
	for i := range 5 {
		srv.setActive(fmt.Sprint("t", i), itBase.Add(time.Hour))
	}
	verify := func(tok string, wantCalls int64) {
		t.Helper()
		_, err := v.Verify(ctx, tok)
		itCheck(t, err, nil)
		srv.wantCalls(t, wantCalls)
	}
	verify("t0", 1)
	verify("t1", 2)
	verify("t2", 3)
	verify("t0", 3) // hit: t0 is now the most recently used, t1 the least
	verify("t3", 4) // evicts t1
	verify("t0", 4)
	verify("t2", 4)
	verify("t3", 4)
	verify("t1", 5) // was evicted; evicts t0
	verify("t4", 6) // evicts t2
	verify("t3", 6)
	verify("t1", 6)
	verify("t4", 6)
	verify("t0", 7)
	verify("t2", 8)
}

func TestIntrospectionDisableCache(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.DisableCache = true })
	srv.setActive("tok", itBase.Add(time.Hour))
	for range 3 {
		_, err := v.Verify(context.Background(), "tok")
		itCheck(t, err, nil)
	}
	srv.wantCalls(t, 3)
}

// itSigner mints JWT access tokens for the Local pre-check.
type itSigner struct {
	kid  string
	priv crypto.Signer
	jwk  verify.JWK
}

// itSigners counts the signers made, to give each its own kid.
var itSigners atomic.Int64

func newITSigner(t testing.TB) itSigner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := fmt.Sprintf("it-key-%d", itSigners.Add(1)) // each signer has its own kid
	jwk, err := verify.PublicJWK(kid, "ES256", priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return itSigner{kid: kid, priv: priv, jwk: jwk}
}

func (s itSigner) mint(t testing.TB, now time.Time, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": itIssuer, "sub": "azc_1", "client_id": "azc_1", "aud": itAudience, "scope": "analysis:read",
		"exp": exp.Unix(), "iat": now.Unix(), "nbf": now.Unix(), "jti": fmt.Sprint(exp.UnixNano()), "owner_id": "user-9",
	})
	tok.Header["typ"] = verify.TokenType
	tok.Header["kid"] = s.kid
	out, err := tok.SignedString(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s itSigner) verifier(t testing.TB, clock *testutil.Clock) *verify.Verifier {
	t.Helper()
	v, err := verify.NewStaticVerifier(verify.JWKS{Keys: []verify.JWK{s.jwk}}, itIssuer, itAudience, 0, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The Local pre-check refuses garbage, expired and foreign tokens without
// a call; a JWKS outage falls through to the endpoint.
func TestIntrospectionLocalPrecheck(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	s := newITSigner(t)
	v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.Local = s.verifier(t, clock) })
	ctx := context.Background()

	for _, tt := range []struct {
		name, token string
		want        error
	}{
		{"garbage", "not-a-jwt", verify.ErrTokenMalformed},
		{"expired", s.mint(t, itBase.Add(-time.Hour), itBase.Add(-time.Minute)), verify.ErrTokenExpired},
		{"other key", newITSigner(t).mint(t, itBase, itBase.Add(time.Hour)), verify.ErrUnknownKey},
	} {
		srv.setActive(tt.token, itBase.Add(time.Hour)) // the endpoint would even say yes
		_, err := v.Verify(ctx, tt.token)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
	srv.wantCalls(t, 0)

	good := s.mint(t, itBase, itBase.Add(time.Hour))
	srv.setActive(good, itBase.Add(time.Hour))
	_, err := v.Verify(ctx, good)
	itCheck(t, err, nil)
	srv.wantCalls(t, 1)

	// Local fails for lack of keys: the endpoint decides.
	down := func(context.Context, string) (*verify.Claims, error) {
		return nil, fmt.Errorf("%w: connection refused", verify.ErrJWKSUnavailable)
	}
	v2 := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) { c.Local = itVerifierFunc(down) })
	_, err = v2.Verify(ctx, good)
	itCheck(t, err, nil)
	srv.wantCalls(t, 2)
}

type itVerifierFunc func(ctx context.Context, token string) (*verify.Claims, error)

func (f itVerifierFunc) Verify(ctx context.Context, token string) (*verify.Claims, error) {
	return f(ctx, token)
}

// Inactive answers are cached only if CacheInactive is set and the token
// passed the Local pre-check.
func TestIntrospectionCacheInactive(t *testing.T) {
	ctx := context.Background()
	s := newITSigner(t)
	tests := []struct {
		name      string
		local     bool
		inactive  time.Duration
		wantCalls int64 // after three Verify calls
	}{
		{"default: not cached", true, 0, 3},
		{"without Local: not cached", false, 10 * time.Second, 3},
		{"with Local: cached", true, 10 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testutil.NewClock(itBase)
			srv := newITServer(t)
			v := newIT(t, srv, clock, func(c *verify.IntrospectionConfig) {
				c.CacheInactive = tt.inactive
				if tt.local {
					c.Local = s.verifier(t, clock)
				}
			})
			tok := s.mint(t, itBase, itBase.Add(time.Hour)) // unknown to srv: inactive
			for range 3 {
				_, err := v.Verify(ctx, tok)
				itCheck(t, err, verify.ErrTokenInactive)
			}
			srv.wantCalls(t, tt.wantCalls)
			if tt.wantCalls == 1 {
				// The negative entry lapses after CacheInactive; the
				// token is active again (its owner re-enabled).
				srv.setActive(tok, itBase.Add(time.Hour))
				clock.Advance(tt.inactive)
				_, err := v.Verify(ctx, tok)
				itCheck(t, err, nil)
				srv.wantCalls(t, 2)
			}
		})
	}
}

// Concurrent Verify calls for one uncached token share one request; a
// caller whose ctx ends stops waiting without cancelling it for the others.
func TestIntrospectionSingleFlight(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	srv.gate = make(chan struct{})
	v := newIT(t, srv, clock, nil)
	srv.setActive("tok", itBase.Add(time.Hour))

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(short, "tok")
	itCheck(t, err, verify.ErrIntrospectionUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want it to wrap context.DeadlineExceeded", err)
	}

	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := v.Verify(context.Background(), "tok")
			if err == nil && c.ClientID != "azc_1" {
				err = fmt.Errorf("claims %+v", c)
			}
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue up behind the request
	close(srv.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		itCheck(t, err, nil)
	}
	srv.wantCalls(t, 1)
}

func TestNewIntrospectionVerifierConfig(t *testing.T) {
	ok := verify.IntrospectionConfig{URL: "https://authz.example/oauth2/introspect", ClientID: "id", ClientSecret: "secret", Issuer: itIssuer, Audience: itAudience}
	mod := func(f func(*verify.IntrospectionConfig)) verify.IntrospectionConfig { c := ok; f(&c); return c }
	tests := []struct {
		name    string
		cfg     verify.IntrospectionConfig
		wantErr string
	}{
		{"valid", ok, ""},
		{"valid with every field", mod(func(c *verify.IntrospectionConfig) {
			c.URL, c.CacheTTL, c.CacheInactive, c.MaxEntries, c.DisableCache = "http://127.0.0.1:8080/i", time.Minute, time.Second, 5, true
			c.HTTPClient, c.Now = http.DefaultClient, time.Now
		}), ""},
		{"no URL", mod(func(c *verify.IntrospectionConfig) { c.URL = "" }), "URL is required"},
		{"relative URL", mod(func(c *verify.IntrospectionConfig) { c.URL = "/oauth2/introspect" }), "absolute"},
		{"bad URL", mod(func(c *verify.IntrospectionConfig) { c.URL = "https://[::1" }), "URL"},
		{"no ClientID", mod(func(c *verify.IntrospectionConfig) { c.ClientID = "" }), "ClientID"},
		{"no ClientSecret", mod(func(c *verify.IntrospectionConfig) { c.ClientSecret = "" }), "ClientSecret"},
		{"no Issuer", mod(func(c *verify.IntrospectionConfig) { c.Issuer = "" }), "Issuer"},
		{"no Audience", mod(func(c *verify.IntrospectionConfig) { c.Audience = "" }), "Audience"},
		{"negative CacheTTL", mod(func(c *verify.IntrospectionConfig) { c.CacheTTL = -1 }), "CacheTTL"},
		{"negative CacheInactive", mod(func(c *verify.IntrospectionConfig) { c.CacheInactive = -1 }), "CacheInactive"},
		{"negative MaxEntries", mod(func(c *verify.IntrospectionConfig) { c.MaxEntries = -1 }), "MaxEntries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := verify.NewIntrospectionVerifier(tt.cfg)
			switch {
			case tt.wantErr == "" && (err != nil || v == nil):
				t.Fatalf("got %v, %v; want a verifier", v, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// Behind the middleware: inactive is 401 invalid_token, an endpoint outage
// 503.
func TestMiddlewareWithIntrospection(t *testing.T) {
	clock := testutil.NewClock(itBase)
	srv := newITServer(t)
	srv.setActive("good", itBase.Add(time.Hour))
	h := verify.Middleware(newIT(t, srv, clock, nil))(verify.RequireScope("analysis:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.ClaimsFrom(r.Context())
		_, _ = io.WriteString(w, c.OwnerID)
	})))
	do := func(tok string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/analyses", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := do("good"); rec.Code != 200 || rec.Body.String() != "user-9" {
		t.Errorf("active: got %d %s", rec.Code, rec.Body)
	}
	if rec := do("revoked"); rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token", error_description="the access token is not active"` {
		t.Errorf("inactive: got %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	srv.status.Store(http.StatusBadGateway)
	if rec := do("other"); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("endpoint down: got %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// Offline verification with the JWKS, and the routes of a resource server:
// any request needs a valid token; GET /analyses needs analysis:read.
func ExampleMiddleware() {
	v, err := verify.NewVerifier(verify.VerifierConfig{
		JWKSURL:  "https://authz.example/.well-known/jwks.json",
		Issuer:   "https://authz.example",
		Audience: "https://analyses.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /analyses", verify.RequireScope("analysis:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFrom(r.Context())
		fmt.Fprintf(w, "analyses of %s\n", claims.OwnerID)
	})))
	log.Fatal(http.ListenAndServe(":8081", verify.Middleware(v, verify.WithRealm("analyses"))(mux)))
}

// A handler behind RequireScope, tested with ContextWithClaims: a token
// without the scope gets 403 naming it.
func ExampleRequireScope() {
	h := verify.RequireScope("analysis:create")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	r := httptest.NewRequest(http.MethodPost, "/analyses", nil)
	r = r.WithContext(verify.ContextWithClaims(r.Context(), &verify.Claims{ClientID: "azc_1", Scope: "analysis:read"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	fmt.Print(rec.Body)
	// Output:
	// 403
	// Bearer error="insufficient_scope", error_description="the access token lacks the required scope analysis:create", scope="analysis:create"
	// {"error":"insufficient_scope","error_description":"the access token lacks the required scope analysis:create","scope":"analysis:create"}
}

// Online verification: revocation holds within CacheTTL. The JWKS verifier
// refuses bad tokens before the endpoint is asked.
func ExampleNewIntrospectionVerifier() {
	local, err := verify.NewVerifier(verify.VerifierConfig{
		JWKSURL:  "https://authz.example/.well-known/jwks.json",
		Issuer:   "https://authz.example",
		Audience: "https://analyses.example",
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := verify.NewIntrospectionVerifier(verify.IntrospectionConfig{
		URL:          "https://authz.example/oauth2/introspect",
		ClientID:     os.Getenv("RS_CLIENT_ID"),
		ClientSecret: os.Getenv("RS_CLIENT_SECRET"),
		Issuer:       "https://authz.example",
		Audience:     "https://analyses.example",
		Local:        local,
		CacheTTL:     15 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	api := http.NewServeMux() // the service's routes
	log.Fatal(http.ListenAndServe(":8081", verify.Middleware(v)(api)))
}

// Logging why requests were refused: the client gets a short fixed text,
// the log gets the cause.
func ExampleWithRejectHook() {
	h := verify.Middleware(itVerifierFunc(func(context.Context, string) (*verify.Claims, error) {
		return nil, fmt.Errorf("%w: token is expired by 2m0s", verify.ErrTokenExpired)
	}), verify.WithRejectHook(func(r *http.Request, e *verify.BearerError) {
		fmt.Println("log:", e.Status, errors.Is(e, verify.ErrTokenExpired), e.Err)
	}))(http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/analyses", nil)
	r.Header.Set("Authorization", "Bearer x")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println("client:", rec.Header().Get("WWW-Authenticate"))
	// Output:
	// log: 401 true verify: token expired: token is expired by 2m0s
	// client: Bearer error="invalid_token", error_description="the access token expired"
}
