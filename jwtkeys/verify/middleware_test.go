package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
)

const mwRealm = "analyses"

// mwVerifierFunc adapts a function to TokenVerifier.
type mwVerifierFunc func(ctx context.Context, token string) (*Claims, error)

func (f mwVerifierFunc) Verify(ctx context.Context, token string) (*Claims, error) {
	return f(ctx, token)
}

// mwResult is a recorded response, decoded.
type mwResult struct {
	status    int
	challenge string
	header    http.Header
	body      map[string]string
	claims    *Claims // what the handler saw; nil if it was not called
}

// mwServe sends req through h wrapped around a handler that records the
// claims it sees.
func mwServe(t *testing.T, mw func(http.Handler) http.Handler, req *http.Request) mwResult {
	t.Helper()
	var res mwResult
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			t.Error("handler called without claims in the context")
		}
		res.claims = c
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res.status = rec.Code
	res.header = rec.Header()
	res.challenge = rec.Header().Get("WWW-Authenticate")
	if rec.Code != http.StatusNoContent {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			t.Fatalf("error body %q is not a JSON object of strings: %v", rec.Body.String(), err)
		}
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type: got %q, want application/json", got)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
	}
	return res
}

func mwRequest(target string, auth ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for _, a := range auth {
		r.Header.Add("Authorization", a)
	}
	return r
}

// mwChallenge builds the expected WWW-Authenticate value.
func mwChallenge(code, desc string) string {
	if code == "" {
		return `Bearer realm="` + mwRealm + `"`
	}
	return `Bearer realm="` + mwRealm + `", error="` + code + `", error_description="` + desc + `"`
}

var mwDescriptions = []string{
	descNoToken, descEmptyToken, descTwoHeaders, descQueryToken, descMalformed, descExpired, descNotYetValid,
	descUnknownKey, descSignature, descClaims, descInactive, descInvalid, descUnavailable, descMisconfigured,
}

func TestMiddleware(t *testing.T) {
	s := vtSignerSet()
	now := vtBaseTime
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk, s.ed.jwk}}, vtIssuer, vtAudience, 30*time.Second, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	valid := vtClaims(now)
	tok := vtMint(t, s.ec, nil, valid)
	parts := strings.Split(tok, ".")
	otherSig := strings.Split(vtMint(t, s.ec, nil, vtWith(valid, "jti", "other")), ".")[2]
	mw := Middleware(v, WithRealm(mwRealm))

	tests := []struct {
		name   string
		target string
		auth   []string
		status int
		code   string // "" with status 401: a challenge without error
		desc   string
	}{
		{"valid", "/r", []string{"Bearer " + tok}, 204, "", ""},
		{"valid EdDSA", "/r", []string{"Bearer " + vtMint(t, s.ed, nil, valid)}, 204, "", ""},
		{"scheme lower case", "/r", []string{"bearer " + tok}, 204, "", ""},
		{"scheme upper case, extra spaces", "/r", []string{"BEARER   " + tok + " "}, 204, "", ""},
		{"access_token only as a query value", "/r?q=access_token", []string{"Bearer " + tok}, 204, "", ""},

		{"no Authorization header", "/r", nil, 401, "", descNoToken},
		{"Basic credentials", "/r", []string{"Basic dXNlcjpwYXNz"}, 401, "", descNoToken},
		{"other scheme", "/r", []string{"Token " + tok}, 401, "", descNoToken},
		{"scheme without separator", "/r", []string{"Bearer" + tok}, 401, "", descNoToken},
		{"Bearer without token", "/r", []string{"Bearer"}, 401, CodeInvalidToken, descEmptyToken},
		{"Bearer with blank token", "/r", []string{"Bearer    "}, 401, CodeInvalidToken, descEmptyToken},
		{"garbage", "/r", []string{"Bearer abc"}, 401, CodeInvalidToken, descMalformed},
		{"token with a space", "/r", []string{"Bearer " + parts[0] + " " + parts[1]}, 401, CodeInvalidToken, descMalformed},
		{"expired", "/r", []string{"Bearer " + vtMint(t, s.ec, nil, vtWith(valid, "exp", now.Add(-time.Hour).Unix()))}, 401, CodeInvalidToken, descExpired},
		{"not yet valid", "/r", []string{"Bearer " + vtMint(t, s.ec, nil, vtWith(valid, "nbf", now.Add(time.Hour).Unix()))}, 401, CodeInvalidToken, descNotYetValid},
		{"wrong audience", "/r", []string{"Bearer " + vtMint(t, s.ec, nil, vtWith(valid, "aud", "https://other.example"))}, 401, CodeInvalidToken, descClaims},
		{"wrong issuer", "/r", []string{"Bearer " + vtMint(t, s.ec, nil, vtWith(valid, "iss", "https://evil.example"))}, 401, CodeInvalidToken, descClaims},
		{"typ JWT", "/r", []string{"Bearer " + vtMint(t, s.ec, map[string]any{"typ": "JWT"}, valid)}, 401, CodeInvalidToken, descClaims},
		{"unknown kid", "/r", []string{"Bearer " + vtMint(t, s.ec2, nil, valid)}, 401, CodeInvalidToken, descUnknownKey},
		{"bad signature", "/r", []string{"Bearer " + parts[0] + "." + parts[1] + "." + otherSig}, 401, CodeInvalidToken, descSignature},

		{"two Authorization headers", "/r", []string{"Bearer " + tok, "Bearer " + tok}, 400, CodeInvalidRequest, descTwoHeaders},
		{"access_token in the query", "/r?access_token=" + tok, nil, 400, CodeInvalidRequest, descQueryToken},
		{"access_token in the query and a header", "/r?a=1&access_token=" + tok, []string{"Bearer " + tok}, 400, CodeInvalidRequest, descQueryToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mwServe(t, mw, mwRequest(tt.target, tt.auth...))
			if res.status != tt.status {
				t.Fatalf("status: got %d %v, want %d", res.status, res.body, tt.status)
			}
			if tt.status == 204 {
				if res.claims == nil || res.claims.ClientID != "client-123" || res.claims.Scope != "read write" || res.claims.OwnerID != "user-9" {
					t.Errorf("handler claims: got %+v, want the token's", res.claims)
				}
				if res.challenge != "" {
					t.Errorf("WWW-Authenticate on success: %q", res.challenge)
				}
				return
			}
			if res.claims != nil {
				t.Error("handler was called for a rejected request")
			}
			if want := mwChallenge(tt.code, tt.desc); res.challenge != want {
				t.Errorf("WWW-Authenticate:\n got %s\nwant %s", res.challenge, want)
			}
			if res.body["error"] != tt.code || res.body["error_description"] != tt.desc {
				t.Errorf("body: got %v, want error %q, error_description %q", res.body, tt.code, tt.desc)
			}
			if _, ok := res.body["error"]; ok && tt.code == "" {
				t.Errorf("body has an error member without a token: %v", res.body)
			}
			// Nothing internal leaks: only the fixed descriptions are sent.
			if !slices.Contains(mwDescriptions, res.body["error_description"]) {
				t.Errorf("error_description %q is not one of the fixed texts", res.body["error_description"])
			}
			for _, leak := range []string{"verify:", s.ec2.kid, "evil", "other.example", "token has", "crypto"} {
				if strings.Contains(res.challenge, leak) || strings.Contains(fmt.Sprint(res.body), leak) {
					t.Errorf("response leaks %q: %s %v", leak, res.challenge, res.body)
				}
			}
		})
	}
}

// Rejected requests never reach the verifier when there is nothing to
// verify, and reach it with the exact token otherwise.
func TestMiddlewareCallsVerifierOnlyWithToken(t *testing.T) {
	var calls atomic.Int64
	var got atomic.Pointer[string]
	v := mwVerifierFunc(func(_ context.Context, token string) (*Claims, error) {
		calls.Add(1)
		got.Store(&token)
		return &Claims{ClientID: "c"}, nil
	})
	mw := Middleware(v)
	for _, auth := range [][]string{nil, {"Basic x"}, {"Bearer"}, {"Bearer a", "Bearer b"}} {
		mwServe(t, mw, mwRequest("/r", auth...))
	}
	mwServe(t, mw, mwRequest("/r?access_token=a", "Bearer a"))
	if n := calls.Load(); n != 0 {
		t.Fatalf("verifier calls for requests without a usable token: %d, want 0", n)
	}
	if res := mwServe(t, mw, mwRequest("/r", "Bearer  a.b.c ")); res.status != 204 || *got.Load() != "a.b.c" {
		t.Errorf("got status %d, token %q; want 204 and a.b.c", res.status, *got.Load())
	}
	// Without WithRealm the challenge has no realm.
	if res := mwServe(t, mw, mwRequest("/r")); res.challenge != "Bearer" {
		t.Errorf("WWW-Authenticate without realm: got %q, want Bearer", res.challenge)
	}
}

func TestMiddlewareVerifierErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		claims     *Claims
		status     int
		code, desc string
	}{
		{"JWKS unavailable", fmt.Errorf("%w: GET https://authz.internal:9443/jwks: connection refused", ErrJWKSUnavailable), nil, 503, CodeTemporarilyUnavailable, descUnavailable},
		{"introspection unavailable", fmt.Errorf("%w: status 401", ErrIntrospectionUnavailable), nil, 503, CodeTemporarilyUnavailable, descUnavailable},
		{"inactive", fmt.Errorf("%w (cached answer)", ErrTokenInactive), nil, 401, CodeInvalidToken, descInactive},
		{"unknown error", errors.New("database password wrong"), nil, 401, CodeInvalidToken, descInvalid},
		{"nil claims and nil error", nil, nil, 401, CodeInvalidToken, descInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mwVerifierFunc(func(context.Context, string) (*Claims, error) { return tt.claims, tt.err })
			res := mwServe(t, Middleware(v, WithRealm(mwRealm)), mwRequest("/r", "Bearer x"))
			if res.status != tt.status || res.body["error"] != tt.code || res.body["error_description"] != tt.desc {
				t.Fatalf("got %d %v, want %d %s %q", res.status, res.body, tt.status, tt.code, tt.desc)
			}
			if tt.status == 503 {
				if res.challenge != "" {
					t.Errorf("503 carries WWW-Authenticate %q; the token is not at fault", res.challenge)
				}
				if got := res.header.Get("Retry-After"); got != "30" {
					t.Errorf("Retry-After: got %q, want 30", got)
				}
			} else if want := mwChallenge(tt.code, tt.desc); res.challenge != want {
				t.Errorf("WWW-Authenticate: got %s, want %s", res.challenge, want)
			}
		})
	}

	t.Run("WithRetryAfter rounds up", func(t *testing.T) {
		v := mwVerifierFunc(func(context.Context, string) (*Claims, error) { return nil, ErrJWKSUnavailable })
		res := mwServe(t, Middleware(v, WithRetryAfter(1500*time.Millisecond)), mwRequest("/r", "Bearer x"))
		if got := res.header.Get("Retry-After"); res.status != 503 || got != "2" {
			t.Errorf("got %d, Retry-After %q; want 503, 2", res.status, got)
		}
		res = mwServe(t, Middleware(v, WithRetryAfter(0)), mwRequest("/r", "Bearer x"))
		if got := res.header.Get("Retry-After"); res.status != 503 || got != "" {
			t.Errorf("got %d, Retry-After %q; want 503 without Retry-After", res.status, got)
		}
	})
}

// A real remote Verifier behind the middleware: a JWKS outage is a 503, an
// unknown kid (after the refetch) a 401.
func TestMiddlewareRemoteJWKS(t *testing.T) {
	s := vtSignerSet()
	clock := testutil.NewClock(vtBaseTime)
	tok := vtMint(t, s.ec, nil, vtClaims(clock.Now()))

	t.Run("JWKS down", func(t *testing.T) {
		srv := newVTJWKSServer(t, s.ec.jwk)
		srv.status.Store(http.StatusBadGateway)
		res := mwServe(t, Middleware(newVTRemoteVerifier(t, srv, clock), WithRealm(mwRealm)), mwRequest("/r", "Bearer "+tok))
		if res.status != 503 || res.body["error"] != CodeTemporarilyUnavailable || res.header.Get("Retry-After") != "30" || res.challenge != "" {
			t.Fatalf("got %d %v Retry-After %q WWW-Authenticate %q; want 503 temporarily_unavailable, Retry-After 30, no challenge",
				res.status, res.body, res.header.Get("Retry-After"), res.challenge)
		}
		if strings.Contains(fmt.Sprint(res.body), srv.URL) {
			t.Errorf("body leaks the JWKS URL: %v", res.body)
		}
	})
	t.Run("unknown kid", func(t *testing.T) {
		srv := newVTJWKSServer(t, s.ed.jwk)
		res := mwServe(t, Middleware(newVTRemoteVerifier(t, srv, clock), WithRealm(mwRealm)), mwRequest("/r", "Bearer "+tok))
		if res.status != 401 || res.challenge != mwChallenge(CodeInvalidToken, descUnknownKey) {
			t.Fatalf("got %d %q, want 401 unknown key", res.status, res.challenge)
		}
		vtWantRequests(t, srv, 2) // first fetch, then one refetch for the kid
	})
	t.Run("valid", func(t *testing.T) {
		srv := newVTJWKSServer(t, s.ec.jwk)
		if res := mwServe(t, Middleware(newVTRemoteVerifier(t, srv, clock)), mwRequest("/r", "Bearer "+tok)); res.status != 204 {
			t.Fatalf("got %d %v, want 204", res.status, res.body)
		}
	})
}

func TestRequireScope(t *testing.T) {
	v := mwVerifierFunc(func(_ context.Context, token string) (*Claims, error) {
		// The token is "t" and the scope claim with '+' for ' '.
		return &Claims{ClientID: "client-123", Scope: strings.ReplaceAll(strings.TrimPrefix(token, "t"), "+", " ")}, nil
	})
	auth := Middleware(v, WithRealm(mwRealm))
	chain := func(scopes ...string) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler { return auth(RequireScope(scopes...)(h)) }
	}
	tests := []struct {
		name    string
		scope   string // of the token
		require []string
		missing string // "" means allowed
	}{
		{"has the scope", "analysis:read analysis:create", []string{"analysis:read"}, ""},
		{"has all scopes", "analysis:read  analysis:create", []string{"analysis:create", "analysis:read"}, ""},
		{"no scope required", "", nil, ""},
		{"lacks the scope", "analysis:read", []string{"analysis:create"}, "analysis:create"},
		{"empty scope claim", "", []string{"analysis:read"}, "analysis:read"},
		{"prefix is not a match", "analysis:readwrite analysis", []string{"analysis:read"}, "analysis:read"},
		{"case-sensitive", "Analysis:Read", []string{"analysis:read"}, "analysis:read"},
		{"lacks two of three", "config:read", []string{"analysis:read", "config:read", "analysis:create"}, "analysis:read analysis:create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mwServe(t, chain(tt.require...), mwRequest("/r", "Bearer t"+strings.ReplaceAll(tt.scope, " ", "+")))
			if tt.missing == "" {
				if res.status != 204 {
					t.Fatalf("got %d %v, want 204", res.status, res.body)
				}
				return
			}
			desc := "the access token lacks the required scope " + tt.missing
			if strings.Contains(tt.missing, " ") {
				desc = "the access token lacks the required scopes " + tt.missing
			}
			want := `Bearer realm="` + mwRealm + `", error="insufficient_scope", error_description="` + desc + `", scope="` + tt.missing + `"`
			if res.status != 403 || res.challenge != want {
				t.Fatalf("got %d %q, want 403 %q", res.status, res.challenge, want)
			}
			if res.body["error"] != CodeInsufficientScope || res.body["scope"] != tt.missing || res.body["error_description"] != desc {
				t.Errorf("body: got %v", res.body)
			}
			if res.claims != nil {
				t.Error("handler called despite missing scope")
			}
		})
	}

	t.Run("without Middleware fails closed", func(t *testing.T) {
		rec := httptest.NewRecorder()
		called := false
		RequireScope("analysis:read")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).ServeHTTP(rec, mwRequest("/r", "Bearer analysis:read"))
		if called || rec.Code != 500 || rec.Header().Get("WWW-Authenticate") != "" || !strings.Contains(rec.Body.String(), CodeServerError) {
			t.Errorf("got called=%v %d %q %s, want 500 server_error without challenge", called, rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
	})
	t.Run("with ContextWithClaims", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := mwRequest("/r")
		r = r.WithContext(ContextWithClaims(r.Context(), &Claims{Scope: "a"}))
		RequireScope("b")(http.NotFoundHandler()).ServeHTTP(rec, r)
		if want := `Bearer error="insufficient_scope", error_description="the access token lacks the required scope b", scope="b"`; rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != want {
			t.Errorf("got %d %q, want 403 %q", rec.Code, rec.Header().Get("WWW-Authenticate"), want)
		}
	})
}

func TestNewScopeCheckPanics(t *testing.T) {
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "a\x00", "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", s)
				}
			}()
			RequireScope("ok", s)
		}()
	}
	NewScopeCheck("analysis:read", "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~") // printable ASCII but '"', '\' and space
}

func TestRejectHook(t *testing.T) {
	s := vtSignerSet()
	now := vtBaseTime
	v, err := NewStaticVerifier(JWKS{Keys: []JWK{s.ec.jwk}}, vtIssuer, vtAudience, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	var got []*BearerError
	mw := Middleware(v, WithRealm(mwRealm), WithRejectHook(func(r *http.Request, e *BearerError) {
		if r == nil {
			t.Error("hook got a nil request")
		}
		got = append(got, e)
	}))
	expired := vtMint(t, s.ec, nil, vtWith(vtClaims(now), "exp", now.Add(-time.Minute).Unix()))
	mwServe(t, mw, mwRequest("/r", "Bearer "+expired))
	h := func(h http.Handler) http.Handler { return mw(RequireScope("admin")(h)) }
	mwServe(t, h, mwRequest("/r", "Bearer "+vtMint(t, s.ec, nil, vtClaims(now))))
	mwServe(t, mw, mwRequest("/r", "Bearer "+vtMint(t, s.ec, nil, vtClaims(now)))) // accepted: no hook

	if len(got) != 2 {
		t.Fatalf("hook calls: got %d, want 2", len(got))
	}
	if !errors.Is(got[0], ErrTokenExpired) || got[0].Status != 401 || got[0].Realm != mwRealm {
		t.Errorf("first hook call: got %v (status %d), want a 401 wrapping ErrTokenExpired", got[0], got[0].Status)
	}
	if !strings.Contains(got[0].Error(), "token is expired") {
		t.Errorf("hook error %q lacks the detailed cause", got[0].Error())
	}
	if got[1].Status != 403 || got[1].Scope != "admin" || !strings.Contains(got[1].Error(), "client-123") {
		t.Errorf("second hook call: got %v, want 403 for admin naming the client", got[1])
	}
}

func TestClaimsHasScope(t *testing.T) {
	c := &Claims{Scope: "analysis:read  config:read analysis:create"}
	for scope, want := range map[string]bool{
		"analysis:read": true, "config:read": true, "analysis:create": true,
		"analysis": false, "read": false, "": false, " ": false, "analysis:read config:read": false, "Analysis:Read": false,
	} {
		if got := c.HasScope(scope); got != want {
			t.Errorf("HasScope(%q): got %v, want %v", scope, got, want)
		}
	}
	var nilClaims *Claims
	if nilClaims.HasScope("a") {
		t.Error("nil claims have a scope")
	}
	if got := c.MissingScopes("config:read", "x", "analysis:read", "y"); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("MissingScopes: got %v, want [x y]", got)
	}
	if got := c.MissingScopes("config:read"); got != nil {
		t.Errorf("MissingScopes: got %v, want nil", got)
	}
}

func TestClaimsFrom(t *testing.T) {
	if c, ok := ClaimsFrom(context.Background()); ok || c != nil {
		t.Errorf("empty context: got %v, %v", c, ok)
	}
	want := &Claims{ClientID: "x"}
	if c, ok := ClaimsFrom(ContextWithClaims(context.Background(), want)); !ok || c != want {
		t.Errorf("ContextWithClaims: got %v, %v", c, ok)
	}
	if _, ok := ClaimsFrom(ContextWithClaims(context.Background(), nil)); ok {
		t.Error("nil claims reported present")
	}
}

func TestBearerErrorChallengeEscaping(t *testing.T) {
	e := &BearerError{Status: 401, Code: CodeInvalidToken, Description: "bad \"quote\" and \\ and \x01 é", Realm: `my "realm" \ x` + "\n"}
	want := `Bearer realm="my \"realm\" \\ x?", error="invalid_token", error_description="bad ?quote? and ? and ? ??"`
	if got := e.Challenge(); got != want {
		t.Errorf("Challenge:\n got %s\nwant %s", got, want)
	}
	rec := httptest.NewRecorder()
	e.WriteResponse(rec)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error_description"] != e.Description {
		t.Errorf("body keeps the description JSON-escaped: got %v (%v)", body, err)
	}
}
