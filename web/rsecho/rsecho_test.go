package rsecho_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/web/rsecho"
	"github.com/labstack/echo/v4"
)

const (
	issuer   = "https://authz.example"
	audience = "https://analyses.example"
	realm    = "analyses"
)

// newKeyring returns a loaded keyring on a fresh SQLite store: tokens in
// these tests are minted the way the server mints them.
func newKeyring(tb testing.TB) *jwtkeys.Keyring {
	tb.Helper()
	kek, err := jwtkeys.ParseKEK(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := jwtkeys.NewKeyring(storetest.Open(tb, "sqlite"), jwtkeys.KeyringConfig{KEK: kek, Issuer: issuer})
	if err != nil {
		tb.Fatal(err)
	}
	if err := kr.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return kr
}

func mint(tb testing.TB, kr *jwtkeys.Keyring, aud, scope string, iat time.Time, ttl time.Duration) string {
	tb.Helper()
	tok, err := kr.Mint(jwtkeys.AccessToken{Issuer: issuer, ClientID: "azc_client", OwnerID: "user-9", Audience: aud, Scope: scope, IssuedAt: iat, TTL: ttl})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func staticVerifier(tb testing.TB, kr *jwtkeys.Keyring) *verify.Verifier {
	tb.Helper()
	v, err := verify.NewStaticVerifier(kr.JWKS(), issuer, audience, 30*time.Second, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

type who struct {
	ClientID string `json:"client_id"`
	OwnerID  string `json:"owner_id"`
	Scope    string `json:"scope"`
}

// echoServer is the Echo resource server under test; errs counts calls of
// Echo's HTTPErrorHandler.
func echoServer(v verify.TokenVerifier, errs *int) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		*errs++
		e.DefaultHTTPErrorHandler(err, c)
	}
	handler := func(c echo.Context) error {
		claims, ok := rsecho.Claims(c)
		std, _ := verify.ClaimsFrom(c.Request().Context())
		if !ok || claims != std {
			return echo.NewHTTPError(http.StatusInternalServerError, "claims missing")
		}
		return c.JSON(http.StatusOK, who{claims.ClientID, claims.OwnerID, claims.Scope})
	}
	api := e.Group("", rsecho.Middleware(v, verify.WithRealm(realm)))
	api.GET("/me", handler)
	api.GET("/analyses", handler, rsecho.RequireScope("analysis:read"))
	api.POST("/analyses", handler, rsecho.RequireScope("analysis:create"))
	api.DELETE("/analyses", handler, rsecho.RequireScope("analysis:create", "analysis:delete", "analysis:read"))
	e.GET("/unguarded", handler, rsecho.RequireScope("analysis:read")) // RequireScope without Middleware
	return e
}

// stdServer is the same resource server with the net/http middleware.
func stdServer(v verify.TokenVerifier) http.Handler {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.ClaimsFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(who{claims.ClientID, claims.OwnerID, claims.Scope})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", handler)
	mux.Handle("GET /analyses", verify.RequireScope("analysis:read")(handler))
	mux.Handle("POST /analyses", verify.RequireScope("analysis:create")(handler))
	mux.Handle("DELETE /analyses", verify.RequireScope("analysis:create", "analysis:delete", "analysis:read")(handler))
	outer := http.NewServeMux()
	outer.Handle("GET /unguarded", verify.RequireScope("analysis:read")(handler))
	outer.Handle("/", verify.Middleware(v, verify.WithRealm(realm))(mux))
	return outer
}

type req struct {
	method, target string
	auth           []string
}

func (q req) do(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(q.method, q.target, nil)
	for _, a := range q.auth {
		r.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func TestMiddleware(t *testing.T) {
	kr := newKeyring(t)
	now := time.Now()
	read := mint(t, kr, audience, "analysis:read", now, time.Hour)
	bound, err := kr.Mint(jwtkeys.AccessToken{Issuer: issuer, ClientID: "azc_client", OwnerID: "user-9", Audience: audience, Scope: "analysis:read", IssuedAt: now, TTL: time.Hour, JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
	if err != nil {
		t.Fatal(err)
	}
	v := staticVerifier(t, kr)
	var echoErrors int
	e := echoServer(v, &echoErrors)
	std := stdServer(v)

	bearer := func(tok string) []string { return []string{"Bearer " + tok} }
	tests := []struct {
		name      string
		req       req
		status    int
		challenge string // WWW-Authenticate
	}{
		{"valid", req{"GET", "/me", bearer(read)}, 200, ""},
		{"valid, scope held", req{"GET", "/analyses", bearer(read)}, 200, ""},
		{"lower-case scheme", req{"GET", "/me", []string{"bearer " + read}}, 200, ""},
		{"no token", req{"GET", "/me", nil}, 401, `Bearer realm="analyses"`},
		{"Basic", req{"GET", "/me", []string{"Basic YTpi"}}, 401, `Bearer realm="analyses"`},
		{"empty Bearer", req{"GET", "/me", []string{"Bearer "}}, 401, `Bearer realm="analyses", error="invalid_token", error_description="the access token is missing"`},
		{"garbage", req{"GET", "/me", bearer("x.y.z")}, 401, `Bearer realm="analyses", error="invalid_token", error_description="the access token is malformed"`},
		{"expired", req{"GET", "/me", bearer(mint(t, kr, audience, "analysis:read", now.Add(-2*time.Hour), time.Hour))}, 401, `Bearer realm="analyses", error="invalid_token", error_description="the access token expired"`},
		{"wrong audience", req{"GET", "/me", bearer(mint(t, kr, "https://billing.example", "analysis:read", now, time.Hour))}, 401, `Bearer realm="analyses", error="invalid_token", error_description="the access token is not valid for this resource"`},
		{"unknown kid", req{"GET", "/me", bearer(mint(t, newKeyring(t), audience, "analysis:read", now, time.Hour))}, 401, `Bearer realm="analyses", error="invalid_token", error_description="the access token is signed by an unknown key"`},
		{"two Authorization headers", req{"GET", "/me", []string{"Bearer " + read, "Bearer " + read}}, 400, `Bearer realm="analyses", error="invalid_request", error_description="the request has more than one Authorization header"`},
		{"token in the query", req{"GET", "/me?access_token=" + read, nil}, 400, `Bearer realm="analyses", error="invalid_request", error_description="send the access token in the Authorization header, not in the URL"`},
		{"scope missing", req{"POST", "/analyses", bearer(read)}, 403, `Bearer realm="analyses", error="insufficient_scope", error_description="the access token lacks the required scope analysis:create", scope="analysis:create"`},
		{"two scopes missing", req{"DELETE", "/analyses", bearer(read)}, 403, `Bearer realm="analyses", error="insufficient_scope", error_description="the access token lacks the required scopes analysis:create analysis:delete", scope="analysis:create analysis:delete"`},
		{"RequireScope without Middleware", req{"GET", "/unguarded", bearer(read)}, 500, ""},
		// DPoP (RFC 9449 §7); the proofs' checks are in web's TestDPoPResourceServer.
		{"DPoP-bound token as Bearer", req{"GET", "/me", bearer(bound)}, 401, `DPoP realm="analyses", error="invalid_token", error_description="the access token is DPoP-bound: send it with the DPoP scheme and a proof", algs="ES256 ES384 RS256 PS256 EdDSA"`},
		{"unbound token as DPoP", req{"GET", "/me", []string{"DPoP " + read}}, 401, `DPoP realm="analyses", error="invalid_token", error_description="the access token is not DPoP-bound: send it with the Bearer scheme", algs="ES256 ES384 RS256 PS256 EdDSA"`},
		{"DPoP without a proof", req{"GET", "/me", []string{"DPoP " + bound}}, 401, `DPoP realm="analyses", error="invalid_dpop_proof", error_description="the DPoP proof is missing or invalid", algs="ES256 ES384 RS256 PS256 EdDSA"`},
		{"DPoP with garbage", req{"GET", "/me", []string{"DPoP x.y.z"}}, 401, `DPoP realm="analyses", error="invalid_token", error_description="the access token is malformed", algs="ES256 ES384 RS256 PS256 EdDSA"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			echoErrors = 0
			got := tt.req.do(e)
			want := tt.req.do(std)
			if got.Code != tt.status || got.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("echo: got %d %q %s, want %d %q", got.Code, got.Header().Get("WWW-Authenticate"), got.Body, tt.status, tt.challenge)
			}
			if echoErrors != 0 {
				t.Errorf("Echo's HTTPErrorHandler was called %d times", echoErrors)
			}
			// The Echo and net/http middlewares answer identically.
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("echo %d %s != net/http %d %s", got.Code, got.Body, want.Code, want.Body)
			}
			for _, h := range []string{"WWW-Authenticate", "Cache-Control", "Content-Type", "Retry-After"} {
				if got.Header().Get(h) != want.Header().Get(h) {
					t.Errorf("%s: echo %q, net/http %q", h, got.Header().Get(h), want.Header().Get(h))
				}
			}
			if tt.status == 200 {
				var w who
				if err := json.Unmarshal(got.Body.Bytes(), &w); err != nil || w != (who{"azc_client", "user-9", "analysis:read"}) {
					t.Errorf("handler saw %+v (%v)", w, err)
				}
				return
			}
			if got.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got.Header().Get("Cache-Control"))
			}
			var body map[string]string
			if err := json.Unmarshal(got.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", got.Body, err)
			}
			if tt.status == 403 && !strings.Contains(body["error_description"], "analysis:create") {
				t.Errorf("403 body does not name the missing scope: %v", body)
			}
		})
	}
}

// The JWKS cannot be fetched: 503 with Retry-After, in both middlewares.
func TestMiddlewareJWKSDown(t *testing.T) {
	kr := newKeyring(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: down.URL + "/.well-known/jwks.json", Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	var echoErrors int
	q := req{"GET", "/me", []string{"Bearer " + mint(t, kr, audience, "analysis:read", time.Now(), time.Hour)}}
	for name, h := range map[string]http.Handler{"echo": echoServer(v, &echoErrors), "net/http": stdServer(v)} {
		rec := q.do(h)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "30" || rec.Header().Get("WWW-Authenticate") != "" ||
			!strings.Contains(rec.Body.String(), `"error":"temporarily_unavailable"`) {
			t.Errorf("%s: got %d Retry-After %q WWW-Authenticate %q %s; want 503, Retry-After 30, no challenge",
				name, rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
	}
}

func TestRequireScopePanicsOnInvalidScope(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("RequireScope(\"a b\") did not panic")
		}
	}()
	rsecho.RequireScope("a b")
}

func TestClaimsWithoutMiddleware(t *testing.T) {
	e := echo.New()
	c := e.NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if claims, ok := rsecho.Claims(c); ok || claims != nil {
		t.Errorf("got %v, %v; want nil, false", claims, ok)
	}
}

// BenchmarkMiddlewareEcho is a full request through an Echo router with
// rsecho.Middleware and a handler reading the claims. Compare with
// BenchmarkVerifier (the same verification alone) and with
// verify.BenchmarkRawJWTParseVerify.
func BenchmarkMiddlewareEcho(b *testing.B) {
	kr := newKeyring(b)
	v := staticVerifier(b, kr)
	tok := mint(b, kr, audience, "analysis:read", time.Now(), time.Hour)
	e := echo.New()
	e.GET("/analyses", func(c echo.Context) error {
		claims, ok := rsecho.Claims(c)
		if !ok || !claims.HasScope("analysis:read") {
			return echo.ErrInternalServerError
		}
		return c.NoContent(http.StatusNoContent)
	}, rsecho.Middleware(v, verify.WithRealm(realm)))
	r := httptest.NewRequest(http.MethodGet, "/analyses", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkVerifier is verify.Verifier.Verify of the same token alone.
func BenchmarkVerifier(b *testing.B) {
	kr := newKeyring(b)
	v := staticVerifier(b, kr)
	tok := mint(b, kr, audience, "analysis:read", time.Now(), time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareEchoVsVerifier alternates one request through Echo and
// rsecho.Middleware and one bare Verify of the same token per iteration,
// and reports the ratio of their summed times ("echo/verify"), which
// machine noise affects far less than two separate benchmarks.
// (verify.BenchmarkMiddlewareVsRaw relates the verifier to raw golang-jwt.)
func BenchmarkMiddlewareEchoVsVerifier(b *testing.B) {
	kr := newKeyring(b)
	v := staticVerifier(b, kr)
	tok := mint(b, kr, audience, "analysis:read", time.Now(), time.Hour)
	e := echo.New()
	e.GET("/analyses", func(c echo.Context) error {
		if claims, ok := rsecho.Claims(c); !ok || !claims.HasScope("analysis:read") {
			return echo.ErrInternalServerError
		}
		return c.NoContent(http.StatusNoContent)
	}, rsecho.Middleware(v, verify.WithRealm(realm)))
	r := httptest.NewRequest(http.MethodGet, "/analyses", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx := context.Background()
	var mw, verify time.Duration
	for b.Loop() {
		t0 := time.Now()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, r)
		t1 := time.Now()
		_, err := v.Verify(ctx, tok)
		t2 := time.Now()
		if rec.Code != http.StatusNoContent || err != nil {
			b.Fatalf("status %d, verify error %v", rec.Code, err)
		}
		mw += t1.Sub(t0)
		verify += t2.Sub(t1)
	}
	b.ReportMetric(float64(mw)/float64(verify), "echo/verify")
	b.ReportMetric(float64(mw.Nanoseconds())/float64(b.N), "echo-ns/op")
	b.ReportMetric(float64(verify.Nanoseconds())/float64(b.N), "verify-ns/op")
}
