package verify

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authz/authz/internal/testutil"
)

const (
	vtIssuer   = "https://authz.example"
	vtAudience = "https://api.example"
)

// vtBaseTime is the fake "now" of the tests. It lies in the past, so the
// tests also prove that Verify uses the injected clock.
var vtBaseTime = time.Unix(1_750_000_000, 0)

// vtSigner is one test signing key with its published JWK.
type vtSigner struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	jwk    JWK
}

type vtSigners struct {
	ec, ec2, ed, rs vtSigner
	all             []vtSigner
}

var vtSignerSet = sync.OnceValue(func() vtSigners {
	keys := jwkTestKeyMaterial()
	mk := func(kid string, m jwt.SigningMethod, priv crypto.Signer) vtSigner {
		j, err := PublicJWK(kid, m.Alg(), priv.Public())
		if err != nil {
			panic(err)
		}
		return vtSigner{kid: kid, method: m, priv: priv, jwk: j}
	}
	s := vtSigners{
		ec:  mk("ec-1", jwt.SigningMethodES256, keys.ec),
		ec2: mk("ec-2", jwt.SigningMethodES256, keys.ec2),
		ed:  mk("ed-1", jwt.SigningMethodEdDSA, keys.ed),
		rs:  mk("rs-1", jwt.SigningMethodRS256, keys.rsa),
	}
	s.all = []vtSigner{s.ec, s.ed, s.rs}
	return s
})

// vtClaims returns the claims of a valid token at time now.
func vtClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":        vtIssuer,
		"sub":        "client-123",
		"aud":        vtAudience,
		"exp":        now.Add(time.Hour).Unix(),
		"iat":        now.Unix(),
		"nbf":        now.Unix(),
		"jti":        "jti-1",
		"client_id":  "client-123",
		"scope":      "read write",
		"owner_id":   "user-9",
		"org_id":     "org-1",
		"project_id": "project-1",
	}
}

// mint signs claims with s. The header gets typ at+jwt and kid s.kid, then
// header overrides are applied (a nil value deletes the header).
func vtMint(t testing.TB, s vtSigner, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	return vtMintWith(t, s.method, s.priv, s.kid, header, claims)
}

func vtMintWith(t testing.TB, m jwt.SigningMethod, key any, kid string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = kid
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("SignedString(%s): got error %v, want nil", m.Alg(), err)
	}
	return s
}

// with returns a copy of c with the given claims set (nil deletes).
func vtWith(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// vtJWKSServer is an httptest JWKS endpoint that counts requests.
type vtJWKSServer struct {
	*httptest.Server
	requests     atomic.Int64
	body         atomic.Pointer[[]byte]
	status       atomic.Int64
	cacheControl atomic.Pointer[string]
	delay        atomic.Int64                  // nanoseconds to sleep before answering
	hook         atomic.Pointer[func()]        // if set, runs first in every request
	gate         atomic.Pointer[chan struct{}] // if set, each request waits for it to close
}

func newVTJWKSServer(t testing.TB, keys ...JWK) *vtJWKSServer {
	t.Helper()
	s := &vtJWKSServer{}
	s.setKeys(t, keys...)
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if h := s.hook.Load(); h != nil {
			(*h)()
		}
		if g := s.gate.Load(); g != nil {
			<-*g
		}
		if d := s.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if r.Method != http.MethodGet {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		if cc := s.cacheControl.Load(); cc != nil {
			w.Header().Set("Cache-Control", *cc)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *vtJWKSServer) setKeys(t testing.TB, keys ...JWK) {
	t.Helper()
	b, err := json.Marshal(JWKS{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.setBody(b)
}

func (s *vtJWKSServer) setBody(b []byte) { s.body.Store(&b) }

func (s *vtJWKSServer) url() string { return s.URL + "/.well-known/jwks.json" }

// newVTRemoteVerifier returns a Verifier for srv using clock.
func newVTRemoteVerifier(t testing.TB, srv *vtJWKSServer, clock *testutil.Clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		JWKSURL:  srv.url(),
		Issuer:   vtIssuer,
		Audience: vtAudience,
		Now:      clock.Now,
	})
	if err != nil {
		t.Fatalf("NewVerifier: got error %v, want nil", err)
	}
	return v
}

// vtWantRequests fails the test unless srv has seen exactly want requests.
func vtWantRequests(t testing.TB, srv *vtJWKSServer, want int64) {
	t.Helper()
	if got := srv.requests.Load(); got != want {
		t.Errorf("JWKS requests: got %d, want %d", got, want)
	}
}

// vtCheckErr fails the test unless errors.Is(err, want) (or err == nil for a
// nil want).
func vtCheckErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: got error %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("Verify: got error %v, want %v", err, want)
	}
}

var vtAllErrors = []error{
	ErrTokenMalformed, ErrTokenExpired, ErrTokenNotYetValid, ErrUnknownKey,
	ErrInvalidSignature, ErrInvalidClaims, ErrJWKSUnavailable,
}

// vtSentinels returns which of vtAllErrors err wraps.
func vtSentinels(err error) []error {
	var out []error
	for _, s := range vtAllErrors {
		if errors.Is(err, s) {
			out = append(out, s)
		}
	}
	return out
}

func TestVerifyValidEachAlg(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk, s.ed.jwk, s.rs.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	for _, sg := range s.all {
		t.Run(sg.method.Alg(), func(t *testing.T) {
			tok := vtMint(t, sg, nil, vtClaims(clock.Now()))
			c, err := v.Verify(context.Background(), tok)
			vtCheckErr(t, err, nil)
			want := Claims{
				RegisteredClaims: jwt.RegisteredClaims{
					Issuer:    vtIssuer,
					Subject:   "client-123",
					Audience:  jwt.ClaimStrings{vtAudience},
					ExpiresAt: jwt.NewNumericDate(vtBaseTime.Add(time.Hour)),
					IssuedAt:  jwt.NewNumericDate(vtBaseTime),
					NotBefore: jwt.NewNumericDate(vtBaseTime),
					ID:        "jti-1",
				},
				ClientID:  "client-123",
				Scope:     "read write",
				OwnerID:   "user-9",
				OrgID:     "org-1",
				ProjectID: "project-1",
			}
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("claims: got %+v, want %+v", *c, want)
			}
		})
	}
	vtWantRequests(t, srv, 1)
}

func TestVerifyRejects(t *testing.T) {
	s := vtSignerSet()
	keys := jwkTestKeyMaterial()
	now := vtBaseTime
	valid := vtClaims(now)
	ecDER, err := x509.MarshalPKIXPublicKey(&keys.ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecX, _ := jwkB64.DecodeString(s.ec.jwk.X)
	ecJWKJSON, _ := json.Marshal(s.ec.jwk)
	rsDER := x509.MarshalPKCS1PublicKey(&keys.rsa.PublicKey)

	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk, s.ed.jwk, s.rs.jwk}}, vtIssuer, vtAudience, 30*time.Second, func() time.Time { return now })
	if err != nil {
		t.Fatalf("NewStaticVerifier: got error %v, want nil", err)
	}

	// resign replaces one segment of a valid ES256 token.
	validTok := vtMint(t, s.ec, nil, valid)
	parts := strings.Split(validTok, ".")
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	flipSig := func(tok string) string {
		p := strings.Split(tok, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(p[2])
		sig[len(sig)/2] ^= 0x01
		p[2] = base64.RawURLEncoding.EncodeToString(sig)
		return strings.Join(p, ".")
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		// Accepted variations.
		{"valid ES256", validTok, nil},
		{"typ uppercase", vtMint(t, s.ec, map[string]any{"typ": "AT+JWT"}, valid), nil},
		{"typ application/at+jwt", vtMint(t, s.ed, map[string]any{"typ": "application/at+jwt"}, valid), nil},
		{"aud array containing audience", vtMint(t, s.ec, nil, vtWith(valid, "aud", []string{"other", vtAudience})), nil},
		{"expired within leeway", vtMint(t, s.ec, nil, vtWith(valid, "exp", now.Add(-29*time.Second).Unix())), nil},
		{"nbf within leeway", vtMint(t, s.ec, nil, vtWith(valid, "nbf", now.Add(29*time.Second).Unix())), nil},
		{"iat within leeway", vtMint(t, s.ec, nil, vtWith(valid, "iat", now.Add(29*time.Second).Unix())), nil},
		{"no nbf, iat, jti", vtMint(t, s.rs, nil, vtWith(valid, "nbf", nil, "iat", nil, "jti", nil)), nil},

		// Algorithm attacks.
		{"alg none", vtMintWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"alg none with empty signature", enc(map[string]any{"alg": "none", "typ": "at+jwt", "kid": s.ec.kid}) + "." + parts[1] + ".", ErrInvalidSignature},
		{"HS256 keyed with EC public key DER", vtMintWith(t, jwt.SigningMethodHS256, ecDER, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"HS256 keyed with EC x coordinate", vtMintWith(t, jwt.SigningMethodHS256, ecX, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"HS256 keyed with EC JWK JSON", vtMintWith(t, jwt.SigningMethodHS256, ecJWKJSON, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"HS256 keyed with RSA public key DER", vtMintWith(t, jwt.SigningMethodHS256, rsDER, s.rs.kid, nil, valid), ErrInvalidSignature},
		{"RS256 token naming ES256 key", vtMintWith(t, jwt.SigningMethodRS256, keys.rsa, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"EdDSA token naming ES256 key", vtMintWith(t, jwt.SigningMethodEdDSA, keys.ed, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"PS256 token naming RS256 key", vtMintWith(t, jwt.SigningMethodPS256, keys.rsa, s.rs.kid, nil, valid), ErrInvalidSignature},
		{"ES384 token", vtMintWith(t, jwt.SigningMethodES384, keys.ec384, s.ec.kid, nil, valid), ErrInvalidSignature},
		{"unknown alg", enc(map[string]any{"alg": "XS999", "typ": "at+jwt", "kid": s.ec.kid}) + "." + parts[1] + "." + parts[2], ErrInvalidSignature},
		{"missing alg", enc(map[string]any{"typ": "at+jwt", "kid": s.ec.kid}) + "." + parts[1] + "." + parts[2], ErrInvalidSignature},

		// Signature checks.
		{"tampered signature ES256", flipSig(validTok), ErrInvalidSignature},
		{"tampered signature EdDSA", flipSig(vtMint(t, s.ed, nil, valid)), ErrInvalidSignature},
		{"tampered signature RS256", flipSig(vtMint(t, s.rs, nil, valid)), ErrInvalidSignature},
		{"tampered payload", parts[0] + "." + enc(vtWith(valid, "sub", "admin")) + "." + parts[2], ErrInvalidSignature},
		{"tampered header", enc(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": s.ec.kid, "x": 1}) + "." + parts[1] + "." + parts[2], ErrInvalidSignature},
		{"signed by other key with same kid", vtMint(t, vtSigner{kid: s.ec.kid, method: s.ec2.method, priv: s.ec2.priv}, nil, valid), ErrInvalidSignature},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrInvalidSignature},

		// Header checks.
		{"typ missing", vtMint(t, s.ec, map[string]any{"typ": nil}, valid), ErrInvalidClaims},
		{"typ JWT", vtMint(t, s.ec, map[string]any{"typ": "JWT"}, valid), ErrInvalidClaims},
		{"typ not a string", vtMint(t, s.ec, map[string]any{"typ": 1}, valid), ErrInvalidClaims},
		{"kid missing", vtMint(t, s.ec, map[string]any{"kid": nil}, valid), ErrTokenMalformed},
		{"kid empty", vtMint(t, s.ec, map[string]any{"kid": ""}, valid), ErrTokenMalformed},
		{"kid unknown", vtMint(t, s.ec, map[string]any{"kid": "nope"}, valid), ErrUnknownKey},
		{"crit header", vtMint(t, s.ec, map[string]any{"crit": []string{"exp"}}, valid), ErrTokenMalformed},

		// Claim checks.
		{"wrong iss", vtMint(t, s.ec, nil, vtWith(valid, "iss", "https://evil.example")), ErrInvalidClaims},
		{"iss with trailing slash", vtMint(t, s.ec, nil, vtWith(valid, "iss", vtIssuer+"/")), ErrInvalidClaims},
		{"missing iss", vtMint(t, s.ec, nil, vtWith(valid, "iss", nil)), ErrInvalidClaims},
		{"wrong aud", vtMint(t, s.ec, nil, vtWith(valid, "aud", "https://other.example")), ErrInvalidClaims},
		{"aud array without audience", vtMint(t, s.ec, nil, vtWith(valid, "aud", []string{"a", "b"})), ErrInvalidClaims},
		{"missing aud", vtMint(t, s.ec, nil, vtWith(valid, "aud", nil)), ErrInvalidClaims},
		{"missing exp", vtMint(t, s.ec, nil, vtWith(valid, "exp", nil)), ErrInvalidClaims},
		{"expired beyond leeway", vtMint(t, s.ec, nil, vtWith(valid, "exp", now.Add(-31*time.Second).Unix())), ErrTokenExpired},
		{"nbf beyond leeway", vtMint(t, s.ec, nil, vtWith(valid, "nbf", now.Add(31*time.Second).Unix())), ErrTokenNotYetValid},
		{"iat beyond leeway", vtMint(t, s.ec, nil, vtWith(valid, "iat", now.Add(31*time.Second).Unix())), ErrTokenNotYetValid},
		{"missing sub", vtMint(t, s.ec, nil, vtWith(valid, "sub", nil)), ErrInvalidClaims},
		{"missing client_id", vtMint(t, s.ec, nil, vtWith(valid, "client_id", nil)), ErrInvalidClaims},
		{"empty client_id", vtMint(t, s.ec, nil, vtWith(valid, "client_id", "")), ErrInvalidClaims},
		{"exp as string", vtMint(t, s.ec, nil, vtWith(valid, "exp", "tomorrow")), ErrTokenMalformed},
		{"client_id as number", vtMint(t, s.ec, nil, vtWith(valid, "client_id", 7)), ErrTokenMalformed},

		// Malformed input.
		{"empty", "", ErrTokenMalformed},
		{"one segment", "abc", ErrTokenMalformed},
		{"garbage segments", "a.b.c", ErrTokenMalformed},
		{"four segments", validTok + ".x", ErrTokenMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], ErrTokenMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[1] + "." + parts[2], ErrTokenMalformed},
		{"claims not an object", parts[0] + "." + enc([]int{1}) + "." + parts[2], ErrTokenMalformed},
		{"oversized", parts[0] + "." + strings.Repeat("A", 20<<10) + "." + parts[2], ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token)
			vtCheckErr(t, err, tt.want)
			if tt.want != nil {
				if c != nil {
					t.Errorf("claims: got %+v, want nil", c)
				}
				if got := vtSentinels(err); len(got) != 1 {
					t.Errorf("sentinels wrapped: got %v, want exactly [%v]", got, tt.want)
				}
			} else if c == nil || c.ClientID != "client-123" {
				t.Errorf("claims: got %+v, want client_id client-123", c)
			}
		})
	}
}

// TestVerifyAlgBoundToKey checks that the alg check happens explicitly
// against the JWK's alg, before any signature verification, rather than
// relying on the key type happening not to fit the token's algorithm.
func TestVerifyAlgBoundToKey(t *testing.T) {
	s := vtSignerSet()
	keys := jwkTestKeyMaterial()
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk, s.ed.jwk, s.rs.jwk}}, vtIssuer, vtAudience, 0, func() time.Time { return vtBaseTime })
	if err != nil {
		t.Fatal(err)
	}
	claims := vtClaims(vtBaseTime)
	tests := []struct {
		name  string
		token string
	}{
		{"RS256 token, ES256 key", vtMintWith(t, jwt.SigningMethodRS256, keys.rsa, s.ec.kid, nil, claims)},
		{"ES256 token, EdDSA key", vtMintWith(t, jwt.SigningMethodES256, keys.ec, s.ed.kid, nil, claims)},
		{"EdDSA token, RS256 key", vtMintWith(t, jwt.SigningMethodEdDSA, keys.ed, s.rs.kid, nil, claims)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			vtCheckErr(t, err, ErrInvalidSignature)
			if !strings.Contains(err.Error(), "does not match alg") {
				t.Errorf("got error %q, want the alg-mismatch error", err)
			}
		})
	}
}

func TestVerifyUnknownKidRefetch(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	ctx := context.Background()

	_, err := v.Verify(ctx, vtMint(t, s.ec, nil, vtClaims(clock.Now())))
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 1)

	unknown := vtMint(t, s.ec2, nil, vtClaims(clock.Now())) // ec-2 is not published
	_, err = v.Verify(ctx, unknown)
	vtCheckErr(t, err, ErrUnknownKey)
	vtWantRequests(t, srv, 2) // exactly one refetch

	clock.Advance(59 * time.Second)
	_, err = v.Verify(ctx, unknown)
	vtCheckErr(t, err, ErrUnknownKey)
	vtWantRequests(t, srv, 2) // inside the cooldown: no refetch

	clock.Advance(time.Second) // cooldown (1m) has passed
	_, err = v.Verify(ctx, unknown)
	vtCheckErr(t, err, ErrUnknownKey)
	vtWantRequests(t, srv, 3)

	// Known keys keep working without fetching.
	_, err = v.Verify(ctx, vtMint(t, s.ec, nil, vtClaims(clock.Now())))
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 3)
}

func TestVerifyUnknownKidFlood(t *testing.T) {
	s := vtSignerSet()
	for _, delay := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run(fmt.Sprintf("server delay %v", delay), func(t *testing.T) {
			clock := testutil.NewClock(vtBaseTime)
			srv := newVTJWKSServer(t, s.ec.jwk)
			v := newVTRemoteVerifier(t, srv, clock)
			ctx := context.Background()
			_, err := v.Verify(ctx, vtMint(t, s.ec, nil, vtClaims(clock.Now())))
			vtCheckErr(t, err, nil)
			srv.delay.Store(int64(delay))

			unknown := vtMint(t, s.ec2, nil, vtClaims(clock.Now()))
			const n = 100
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					<-start
					_, errs[i] = v.Verify(ctx, unknown)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("goroutine %d: got error %v, want %v", i, err, ErrUnknownKey)
				}
			}
			if got := srv.requests.Load() - 1; got > 1 {
				t.Errorf("refetches for %d concurrent unknown-kid tokens: got %d, want at most 1", n, got)
			}

			// After the cooldown exactly one more fetch is allowed.
			clock.Advance(time.Minute)
			before := srv.requests.Load()
			start = make(chan struct{})
			for range n {
				wg.Go(func() {
					<-start
					_, _ = v.Verify(ctx, unknown)
				})
			}
			close(start)
			wg.Wait()
			if got := srv.requests.Load() - before; got != 1 {
				t.Errorf("refetches after cooldown: got %d, want 1", got)
			}
		})
	}
}

// doneSignal is a context that reports, by closing waiting, that someone
// is waiting on its Done channel.
type doneSignal struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *doneSignal) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// A token with an unknown kid joins a refetch already in flight, even
// inside the unknown-kid cooldown, so requests that arrive while a new key is
// being fetched wait for it instead of being refused.
func TestVerifyUnknownKidJoinsFetchInFlight(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	ctx := context.Background()
	_, err := v.Verify(ctx, vtMint(t, s.ec, nil, vtClaims(clock.Now())))
	vtCheckErr(t, err, nil)

	// The new key is published; the refetch it causes is held at the
	// server until the second caller waits on it.
	srv.setKeys(t, s.ec.jwk, s.ec2.jwk)
	release := make(chan struct{})
	arrived := make(chan struct{})
	var once sync.Once
	hold := func() {
		once.Do(func() { close(arrived) })
		<-release
	}
	srv.hook.Store(&hold)
	var releaseOnce sync.Once
	unhold := func() { releaseOnce.Do(func() { close(release) }) }
	defer unhold() // also when the test fails: the server's Close waits for the request
	tok := vtMint(t, s.ec2, nil, vtClaims(clock.Now()))
	first := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, tok)
		first <- err
	}()
	<-arrived // the first caller's refetch is in flight

	second := &doneSignal{Context: ctx, waiting: make(chan struct{})}
	secondErr := make(chan error, 1)
	go func() {
		_, err := v.Verify(second, tok)
		secondErr <- err
	}()
	select {
	case <-second.waiting: // waiting on the fetch in flight
	case err := <-secondErr:
		t.Fatalf("second caller returned before the fetch ended: got %v, want it to wait for the fetch", err)
	}
	unhold()
	vtCheckErr(t, <-first, nil)
	vtCheckErr(t, <-secondErr, nil)
	vtWantRequests(t, srv, 2)
}

func TestVerifyKeyRotation(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	ctx := context.Background()

	oldTok := vtMint(t, s.ec, nil, vtClaims(clock.Now()))
	_, err := v.Verify(ctx, oldTok)
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 1)

	// authz publishes a new key and starts signing with it.
	srv.setKeys(t, s.ec.jwk, s.ec2.jwk)
	clock.Advance(10 * time.Second)
	newTok := vtMint(t, s.ec2, nil, vtClaims(clock.Now()))
	c, err := v.Verify(ctx, newTok)
	vtCheckErr(t, err, nil)
	if c.ClientID != "client-123" {
		t.Errorf("client_id: got %q, want %q", c.ClientID, "client-123")
	}
	vtWantRequests(t, srv, 2)
	_, err = v.Verify(ctx, oldTok)
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 2)

	// The old key is retired; once the cache TTL (5m) passes it is gone.
	srv.setKeys(t, s.ec2.jwk)
	clock.Advance(5 * time.Minute)
	oldTok = vtMint(t, s.ec, nil, vtClaims(clock.Now()))
	_, err = v.Verify(ctx, oldTok)
	vtCheckErr(t, err, ErrUnknownKey)
	vtWantRequests(t, srv, 4) // TTL refetch + unknown-kid refetch
	_, err = v.Verify(ctx, vtMint(t, s.ec2, nil, vtClaims(clock.Now())))
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 4)
}

func TestVerifyJWKSUnavailable(t *testing.T) {
	s := vtSignerSet()
	good, _ := json.Marshal(JWKS{Keys: []JWK{s.ec.jwk}})
	big := []byte(`{"pad":"` + strings.Repeat("x", 1<<20) + `",` + string(good[1:]))
	tests := []struct {
		name   string
		status int
		body   []byte
	}{
		{"status 500", http.StatusInternalServerError, good},
		{"status 404", http.StatusNotFound, []byte("not found")},
		{"status 204", http.StatusNoContent, nil},
		{"not JSON", http.StatusOK, []byte("<html>")},
		{"no keys member", http.StatusOK, []byte(`{"foo":[]}`)},
		{"keys null", http.StatusOK, []byte(`{"keys":null}`)},
		{"keys not an array", http.StatusOK, []byte(`{"keys":{}}`)},
		{"body over 1 MiB", http.StatusOK, big},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testutil.NewClock(vtBaseTime)
			srv := newVTJWKSServer(t)
			srv.status.Store(int64(tt.status))
			srv.setBody(tt.body)
			v := newVTRemoteVerifier(t, srv, clock)
			tok := vtMint(t, s.ec, nil, vtClaims(clock.Now()))
			ctx := context.Background()

			_, err := v.Verify(ctx, tok)
			vtCheckErr(t, err, ErrJWKSUnavailable)
			vtWantRequests(t, srv, 1)

			// Failures are not retried inside the cooldown.
			clock.Advance(30 * time.Second)
			_, err = v.Verify(ctx, tok)
			vtCheckErr(t, err, ErrJWKSUnavailable)
			vtWantRequests(t, srv, 1)

			// After the cooldown the endpoint is tried again, and recovers.
			clock.Advance(30 * time.Second)
			srv.status.Store(http.StatusOK)
			srv.setBody(good)
			_, err = v.Verify(ctx, tok)
			vtCheckErr(t, err, nil)
			vtWantRequests(t, srv, 2)
		})
	}
}

func TestVerifyLargeJWKSWithinLimit(t *testing.T) {
	s := vtSignerSet()
	good, _ := json.Marshal(JWKS{Keys: []JWK{s.ec.jwk}})
	// Pad the document to just under 1 MiB: must still be accepted.
	body := append([]byte(`{"pad":"`), []byte(strings.Repeat("x", 1<<20-len(`{"pad":"",`)-len(good[1:])))...)
	body = append(body, `",`...)
	body = append(body, good[1:]...)
	if len(body) != 1<<20 {
		t.Fatalf("test body: got %d bytes, want %d", len(body), 1<<20)
	}
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t)
	srv.setBody(body)
	v := newVTRemoteVerifier(t, srv, clock)
	_, err := v.Verify(context.Background(), vtMint(t, s.ec, nil, vtClaims(clock.Now())))
	vtCheckErr(t, err, nil)
}

func TestVerifyStaleKeysOnFailedRefresh(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	ctx := context.Background()
	tok := func() string { return vtMint(t, s.ec, nil, vtClaims(clock.Now())) }

	_, err := v.Verify(ctx, tok())
	vtCheckErr(t, err, nil)
	srv.status.Store(http.StatusBadGateway)

	clock.Advance(5 * time.Minute) // TTL passed; refetch fails; stale keys used
	_, err = v.Verify(ctx, tok())
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 2)

	clock.Advance(30 * time.Second) // retry waits for the cooldown
	_, err = v.Verify(ctx, tok())
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 2)

	clock.Advance(30 * time.Second)
	srv.status.Store(http.StatusOK)
	_, err = v.Verify(ctx, tok())
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 3)

	// Fresh again: no fetch until the next TTL expiry.
	clock.Advance(4 * time.Minute)
	_, err = v.Verify(ctx, tok())
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 3)
}

func TestVerifyCacheTTL(t *testing.T) {
	s := vtSignerSet()
	tests := []struct {
		cacheControl string
		wantTTL      time.Duration
	}{
		{"", 5 * time.Minute},
		{"no-cache", 5 * time.Minute},
		{"max-age=120", 2 * time.Minute},
		{"public, MAX-AGE=600, must-revalidate", 10 * time.Minute},
		{`max-age="180"`, 3 * time.Minute},
		{"max-age=0", time.Minute},
		{"max-age=5", time.Minute},
		{"max-age=999999", 24 * time.Hour},
		{"max-age=99999999999999999999", 24 * time.Hour},
		{"max-age=-5", 5 * time.Minute},
		{"max-age=abc", 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.cacheControl, func(t *testing.T) {
			clock := testutil.NewClock(vtBaseTime)
			srv := newVTJWKSServer(t, s.ec.jwk)
			if tt.cacheControl != "" {
				srv.cacheControl.Store(&tt.cacheControl)
			}
			v := newVTRemoteVerifier(t, srv, clock)
			ctx := context.Background()
			verify := func() {
				t.Helper()
				_, err := v.Verify(ctx, vtMint(t, s.ec, nil, vtClaims(clock.Now())))
				vtCheckErr(t, err, nil)
			}
			verify()
			vtWantRequests(t, srv, 1)
			clock.Advance(tt.wantTTL - time.Second)
			verify()
			vtWantRequests(t, srv, 1)
			clock.Advance(time.Second)
			verify()
			vtWantRequests(t, srv, 2)
		})
	}
}

func TestVerifyJWKSSkipsUnusableKeys(t *testing.T) {
	s := vtSignerSet()
	ecJSON, _ := json.Marshal(s.ec.jwk)
	enc := s.ec2.jwk
	enc.Kid, enc.Use = "enc-1", "enc"
	encJSON, _ := json.Marshal(enc)
	withD := strings.Replace(string(ecJSON), `"kid":"ec-1"`, `"kid":"priv-1","d":"AAAA"`, 1)
	badPoint := s.ec2.jwk
	badPoint.Kid, badPoint.X = "bad-1", s.ec.jwk.Y
	badJSON, _ := json.Marshal(badPoint)
	dup := s.ec2.jwk
	dup.Kid = "ec-1" // same kid as the first key: ignored
	dupJSON, _ := json.Marshal(dup)
	body := `{"keys":[` + strings.Join([]string{
		string(ecJSON), `{"kty":5}`, `"string"`, `null`, string(encJSON), withD, string(badJSON),
		string(dupJSON), `{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0"}`,
	}, ",") + `]}`

	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t)
	srv.setBody([]byte(body))
	v := newVTRemoteVerifier(t, srv, clock)
	ctx := context.Background()
	claims := vtClaims(clock.Now())

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"valid key", vtMint(t, s.ec, nil, claims), nil},
		{"duplicate kid keeps first key", vtMint(t, vtSigner{kid: "ec-1", method: s.ec2.method, priv: s.ec2.priv}, nil, claims), ErrInvalidSignature},
		{"use enc", vtMint(t, vtSigner{kid: "enc-1", method: s.ec2.method, priv: s.ec2.priv}, nil, claims), ErrUnknownKey},
		{"private key material", vtMint(t, vtSigner{kid: "priv-1", method: s.ec.method, priv: s.ec.priv}, nil, claims), ErrUnknownKey},
		{"point not on curve", vtMint(t, vtSigner{kid: "bad-1", method: s.ec2.method, priv: s.ec2.priv}, nil, claims), ErrUnknownKey},
		{"symmetric key", vtMintWith(t, jwt.SigningMethodHS256, []byte("secret"), "h", nil, claims), ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tt.token)
			vtCheckErr(t, err, tt.want)
		})
	}
}

func TestVerifyContextDoneWhileFetching(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	// The fetch cannot finish before the caller's deadline, however slow
	// the machine: the server answers once the gate is open.
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	defer open()
	srv.gate.Store(&gate)
	v := newVTRemoteVerifier(t, srv, clock)
	tok := vtMint(t, s.ec, nil, vtClaims(clock.Now()))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := v.Verify(ctx, tok)
	vtCheckErr(t, err, ErrJWKSUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v, want it to wrap %v", err, context.DeadlineExceeded)
	}

	// The fetch was not cancelled with the first caller; a patient caller
	// joins it (or, if it finished meanwhile, uses its keys) and succeeds,
	// without a second request.
	open()
	_, err = v.Verify(context.Background(), tok)
	vtCheckErr(t, err, nil)
	vtWantRequests(t, srv, 1)
}

func TestNewVerifierConfig(t *testing.T) {
	ok := VerifierConfig{JWKSURL: "https://authz.example/.well-known/jwks.json", Issuer: vtIssuer, Audience: vtAudience}
	mod := func(f func(*VerifierConfig)) VerifierConfig { c := ok; f(&c); return c }
	tests := []struct {
		name    string
		cfg     VerifierConfig
		wantErr string // substring; "" means success
	}{
		{"valid", ok, ""},
		{"valid http with all fields", mod(func(c *VerifierConfig) {
			c.JWKSURL = "http://127.0.0.1:8080/jwks"
			c.HTTPClient = http.DefaultClient
			c.RefreshCooldown, c.CacheTTL, c.Leeway = time.Second, time.Hour, time.Nanosecond
			c.Now = time.Now
		}), ""},
		{"missing JWKSURL", mod(func(c *VerifierConfig) { c.JWKSURL = "" }), "JWKSURL is required"},
		{"relative JWKSURL", mod(func(c *VerifierConfig) { c.JWKSURL = "/jwks.json" }), "JWKSURL"},
		{"ftp JWKSURL", mod(func(c *VerifierConfig) { c.JWKSURL = "ftp://authz.example/jwks" }), "JWKSURL"},
		{"unparsable JWKSURL", mod(func(c *VerifierConfig) { c.JWKSURL = "https://[::1" }), "JWKSURL"},
		{"missing Issuer", mod(func(c *VerifierConfig) { c.Issuer = "" }), "Issuer is required"},
		{"missing Audience", mod(func(c *VerifierConfig) { c.Audience = "" }), "Audience is required"},
		{"negative RefreshCooldown", mod(func(c *VerifierConfig) { c.RefreshCooldown = -1 }), "RefreshCooldown"},
		{"negative CacheTTL", mod(func(c *VerifierConfig) { c.CacheTTL = -1 }), "CacheTTL"},
		{"negative Leeway", mod(func(c *VerifierConfig) { c.Leeway = -1 }), "Leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewVerifier: got error %v, want nil", err)
			case tt.wantErr == "" && v == nil:
				t.Fatal("NewVerifier: got nil Verifier, want non-nil")
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("NewVerifier: got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}

	v, err := NewVerifier(ok)
	if err != nil {
		t.Fatal(err)
	}
	if v.cooldown != time.Minute || v.cacheTTL != 5*time.Minute || v.client == nil || v.client.Timeout != 10*time.Second {
		t.Errorf("defaults: got cooldown %v, TTL %v, client %+v; want 1m, 5m, client with 10s timeout", v.cooldown, v.cacheTTL, v.client)
	}
}

func TestVerifierDefaultLeeway(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(t, s.ec.jwk)
	v := newVTRemoteVerifier(t, srv, clock)
	for _, tt := range []struct {
		expAgo time.Duration
		want   error
	}{
		{29 * time.Second, nil},
		{31 * time.Second, ErrTokenExpired},
	} {
		_, err := v.Verify(context.Background(), vtMint(t, s.ec, nil, vtWith(vtClaims(clock.Now()), "exp", clock.Now().Add(-tt.expAgo).Unix())))
		vtCheckErr(t, err, tt.want)
	}
}

func TestNewStaticVerifier(t *testing.T) {
	s := vtSignerSet()
	bad := s.ec.jwk
	bad.Y = bad.X
	enc := s.ec2.jwk
	enc.Use = "enc"
	noKid := s.ec.jwk
	noKid.Kid = ""
	tests := []struct {
		name     string
		keys     []JWK
		iss, aud string
		leeway   time.Duration
		wantErr  bool
	}{
		{"valid", []JWK{s.ec.jwk, s.ed.jwk, s.rs.jwk, enc}, vtIssuer, vtAudience, 0, false},
		{"no keys", nil, vtIssuer, vtAudience, 0, true},
		{"only enc keys", []JWK{enc}, vtIssuer, vtAudience, 0, true},
		{"invalid key", []JWK{s.ec.jwk, bad}, vtIssuer, vtAudience, 0, true},
		{"duplicate kid", []JWK{s.ec.jwk, s.ec.jwk}, vtIssuer, vtAudience, 0, true},
		{"missing kid", []JWK{noKid}, vtIssuer, vtAudience, 0, true},
		{"missing issuer", []JWK{s.ec.jwk}, "", vtAudience, 0, true},
		{"missing audience", []JWK{s.ec.jwk}, vtIssuer, "", 0, true},
		{"negative leeway", []JWK{s.ec.jwk}, vtIssuer, vtAudience, -time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStaticVerifier(JWKS{Keys: tt.keys}, tt.iss, tt.aud, tt.leeway, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewStaticVerifier: got error %v, want error: %v", err, tt.wantErr)
			}
		})
	}

	// Zero leeway is used as given, and a static verifier never fetches.
	now := vtBaseTime
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, vtIssuer, vtAudience, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), vtMint(t, s.ec, nil, vtWith(vtClaims(now), "exp", now.Add(-time.Second).Unix())))
	vtCheckErr(t, err, ErrTokenExpired)
	_, err = v.Verify(context.Background(), vtMint(t, s.ec2, nil, vtClaims(now)))
	vtCheckErr(t, err, ErrUnknownKey)
}

// NewIssuerVerifier accepts a token of any audience, and checks all else
// as NewStaticVerifier does; NewStaticVerifier keeps checking "aud".
func TestNewIssuerVerifier(t *testing.T) {
	s := vtSignerSet()
	now := vtBaseTime
	clock := func() time.Time { return now }
	if _, err := NewIssuerVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, "", 0, clock); err == nil {
		t.Error("NewIssuerVerifier without issuer: got nil error, want an error")
	}
	if _, err := NewIssuerVerifier(JWKS{}, vtIssuer, 0, clock); err == nil {
		t.Error("NewIssuerVerifier without keys: got nil error, want an error")
	}
	issuerV, err := NewIssuerVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, vtIssuer, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	staticV, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, vtIssuer, vtAudience, 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	other := vtMint(t, s.ec, nil, vtWith(vtClaims(now), "aud", "https://other.example"))
	claims, err := issuerV.Verify(context.Background(), other)
	if err != nil {
		t.Fatalf("issuer verifier, token for another audience: got error %v, want nil", err)
	}
	if got := claims.Audience; len(got) != 1 || got[0] != "https://other.example" {
		t.Errorf("issuer verifier: got aud %v, want [https://other.example]", got)
	}
	_, err = staticV.Verify(context.Background(), other)
	vtCheckErr(t, err, ErrInvalidClaims)

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"other issuer", vtMint(t, s.ec, nil, vtWith(vtClaims(now), "iss", "https://evil.example")), ErrInvalidClaims},
		{"expired", vtMint(t, s.ec, nil, vtWith(vtClaims(now), "exp", now.Add(-time.Second).Unix())), ErrTokenExpired},
		{"unknown key", vtMint(t, s.ec2, nil, vtClaims(now)), ErrUnknownKey},
		{"wrong typ", vtMint(t, s.ec, map[string]any{"typ": "JWT"}, vtClaims(now)), ErrInvalidClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := issuerV.Verify(context.Background(), tc.token)
			vtCheckErr(t, err, tc.want)
		})
	}
}

// FuzzVerify checks that Verify never panics, returns exactly one sentinel
// error on failure, and only ever accepts tokens that carry the exact claims
// of a token the test signed.
func FuzzVerify(f *testing.F) {
	s := vtSignerSet()
	now := vtBaseTime
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk, s.ed.jwk, s.rs.jwk}}, vtIssuer, vtAudience, 30*time.Second, func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	var accepted []*Claims
	for i, sg := range s.all {
		tok := vtMint(f, sg, nil, vtWith(vtClaims(now), "jti", fmt.Sprintf("jti-%d", i), "scope", sg.method.Alg()))
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			f.Fatalf("seed %s: got error %v, want nil", sg.method.Alg(), err)
		}
		accepted = append(accepted, c)
		f.Add(tok)
	}
	valid := vtClaims(now)
	f.Add(vtMintWith(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, s.ec.kid, nil, valid))
	f.Add(vtMintWith(f, jwt.SigningMethodHS256, []byte(s.ec.jwk.X), s.ec.kid, nil, valid))
	f.Add(vtMint(f, s.ec, map[string]any{"typ": "JWT"}, valid))
	f.Add(vtMint(f, s.ed, nil, vtWith(valid, "exp", now.Add(-time.Hour).Unix())))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")

	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if c != nil {
				t.Fatalf("got claims %+v with error %v, want nil claims", c, err)
			}
			if got := vtSentinels(err); len(got) != 1 {
				t.Fatalf("error %v wraps sentinels %v, want exactly one", err, got)
			}
			return
		}
		for _, want := range accepted {
			if reflect.DeepEqual(c, want) {
				return
			}
		}
		t.Fatalf("accepted token %q with claims %+v that no signed token carried", token, c)
	})
}

// vtBenchSetup returns an ES256 token, a warmed-up remote verifier, the
// public key and the clock.
func vtBenchSetup(b *testing.B) (string, *Verifier, crypto.PublicKey, func() time.Time) {
	b.Helper()
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	srv := newVTJWKSServer(b, s.ec.jwk)
	v := newVTRemoteVerifier(b, srv, clock)
	tok := vtMint(b, s.ec, nil, vtClaims(clock.Now()))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return tok, v, s.ec.priv.Public(), clock.Now
}

// BenchmarkVerify measures Verify on the cached path (keys already fetched).
func BenchmarkVerify(b *testing.B) {
	tok, v, _, _ := vtBenchSetup(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawJWTParse is the baseline: golang-jwt parsing and verifying the
// same token with the same key and no extra checks.
func BenchmarkRawJWTParse(b *testing.B) {
	tok, _, pub, now := vtBenchSetup(b)
	p := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithTimeFunc(now))
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseWithClaims(tok, &Claims{}, keyfunc); err != nil {
			b.Fatal(err)
		}
	}
}
