package verify

import (
	"context"
	"crypto"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The benchmarks of issue 5/6: the resource-server middleware's cost per
// request next to raw golang-jwt parse+verify of the same ES256 token with
// the same key, in the same run. Target: BenchmarkMiddleware within 1.2× of
// BenchmarkRawJWTParseVerify.
//
//	go test ./jwtkeys/verify -run '^$' -bench 'Middleware|RawJWT' -benchmem -count 5

// mwBenchSetup returns a valid ES256 token, a static verifier for it (the
// cached-keys path of a remote Verifier is the same code), the public key
// and the clock both sides use.
func mwBenchSetup(b *testing.B) (string, *Verifier, crypto.PublicKey, func() time.Time) {
	b.Helper()
	s := vtSignerSet()
	now := func() time.Time { return vtBaseTime }
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, vtIssuer, vtAudience, 30*time.Second, now)
	if err != nil {
		b.Fatal(err)
	}
	return vtMint(b, s.ec, nil, vtClaims(now())), v, s.ec.priv.Public(), now
}

// mwBenchHandler reads the claims, as a real handler would.
var mwBenchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFrom(r.Context())
	if !ok || !c.HasScope("write") {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
})

func mwBenchRun(b *testing.B, h http.Handler, tok string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/analyses", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkMiddleware is a full request through Middleware: header
// extraction, Verify (ES256, typ/kid/alg, iss, aud, exp, nbf, iat), claims
// into the context, a handler reading them, into a ResponseRecorder.
func BenchmarkMiddleware(b *testing.B) {
	tok, v, _, _ := mwBenchSetup(b)
	mwBenchRun(b, Middleware(v, WithRealm("bench"))(mwBenchHandler), tok)
}

// BenchmarkMiddlewareRequireScope adds RequireScope behind Middleware.
func BenchmarkMiddlewareRequireScope(b *testing.B) {
	tok, v, _, _ := mwBenchSetup(b)
	mwBenchRun(b, Middleware(v)(RequireScope("read", "write")(mwBenchHandler)), tok)
}

// BenchmarkMiddlewareIntrospectionCached is the introspection mode when the
// answer is cached (SHA-256 of the token, an LRU lookup, a claims copy).
func BenchmarkMiddlewareIntrospectionCached(b *testing.B) {
	tok, _, _, now := mwBenchSetup(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"active":true,"iss":"`+vtIssuer+`","aud":"`+vtAudience+`","sub":"c","client_id":"c","scope":"read write","exp":`+
			strconv.FormatInt(now().Add(time.Hour).Unix(), 10)+`}`)
	}))
	b.Cleanup(srv.Close)
	v, err := NewIntrospectionVerifier(IntrospectionConfig{URL: srv.URL, ClientID: "rs", ClientSecret: "s", Issuer: vtIssuer, Audience: vtAudience, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	mwBenchRun(b, Middleware(v)(mwBenchHandler), tok)
}

// BenchmarkRawJWTParseVerify is the baseline: golang-jwt ParseWithClaims of
// the same token into the same claims type with the same key, allowing only
// ES256, and nothing else. (The clock is pinned as in BenchmarkMiddleware,
// since the test token's exp is in the past of the real clock.)
func BenchmarkRawJWTParseVerify(b *testing.B) {
	tok, _, pub, now := mwBenchSetup(b)
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithTimeFunc(now))
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseWithClaims(tok, new(Claims), keyfunc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiddlewareVsRaw alternates one request through Middleware and
// one raw golang-jwt parse+verify per iteration and reports the ratio of
// their summed times ("mw/raw"), which machine noise affects far less than
// comparing two separately run benchmarks. ns/op is the sum of both.
func BenchmarkMiddlewareVsRaw(b *testing.B) {
	tok, v, pub, now := mwBenchSetup(b)
	h := Middleware(v, WithRealm("bench"))(mwBenchHandler)
	req := httptest.NewRequest(http.MethodGet, "/analyses", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	p := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithTimeFunc(now))
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	var mw, raw time.Duration
	for b.Loop() {
		t0 := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		t1 := time.Now()
		_, err := p.ParseWithClaims(tok, new(Claims), keyfunc)
		t2 := time.Now()
		if rec.Code != http.StatusNoContent || err != nil {
			b.Fatalf("status %d, raw error %v", rec.Code, err)
		}
		mw += t1.Sub(t0)
		raw += t2.Sub(t1)
	}
	b.ReportMetric(float64(mw)/float64(raw), "mw/raw")
	b.ReportMetric(float64(mw.Nanoseconds())/float64(b.N), "mw-ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
}
