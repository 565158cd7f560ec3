package web_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// DPoP (RFC 9449) at the token endpoint and in introspection.

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	priv *ecdsa.PrivateKey
	jwk  map[string]any
	jkt  string
}

func newDPoPKey(t *testing.T) *dpopKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := priv.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	x, y := b64(raw[1:33]), b64(raw[33:])
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return &dpopKey{priv: priv, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}, jkt: b64(sum[:])}
}

// proof signs a DPoP proof; change edits header and claims before.
func (k *dpopKey) proof(t *testing.T, htm, htu string, iat time.Time, change func(h, c map[string]any)) string {
	t.Helper()
	claims := jwt.MapClaims{"jti": uuid.NewString(), "htm": htm, "htu": htu, "iat": iat.Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "dpop+jwt"
	tok.Header["jwk"] = k.jwk
	var key crypto.Signer = k.priv
	if change != nil {
		change(tok.Header, claims)
	}
	if tok.Header["alg"] == "none" {
		tok.Method = jwt.SigningMethodNone
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dpopToken asks for a token with the given DPoP headers.
func (e *env) dpopToken(id, secret string, proofs ...string) *endpointResponse {
	e.t.Helper()
	h := basic(id, secret)
	if len(proofs) > 0 {
		h["Dpop"] = proofs
	}
	return postOAuthForm(e.t, e.url+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, h)
}

func wantDPoPError(t *testing.T, what string, r *endpointResponse, code string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.str("error") != code {
		t.Errorf("%s: got %s, want 400 %s", what, r, code)
	}
}

func TestDPoPTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}, ResourceServer: true})
		key := newDPoPKey(t)
		tokenURL := e.url + "/oauth2/token"

		t.Run("a proof binds the token to its key", func(t *testing.T) {
			// htu is compared without query and fragment (RFC 9449 §4.3).
			r := e.dpopToken(id, secret, key.proof(t, "POST", tokenURL+"?x=1#f", time.Now(), nil))
			if r.status != http.StatusOK || r.str("token_type") != "DPoP" {
				t.Fatalf("got %s, want 200 with token_type DPoP", r)
			}
			claims, err := e.verifier(e.url).Verify(context.Background(), r.str("access_token"))
			if err != nil {
				t.Fatal(err)
			}
			if claims.Cnf == nil || claims.Cnf.JKT != key.jkt {
				t.Errorf("cnf: got %+v, want jkt %s", claims.Cnf, key.jkt)
			}
			in := introspectAs(t, e.url, id, secret, r.str("access_token"))
			wantActive(t, "introspection", in)
			cnf, _ := in.body["cnf"].(map[string]any)
			if cnf["jkt"] != key.jkt || in.str("token_type") != "DPoP" {
				t.Errorf("introspection: got %s, want token_type DPoP and cnf.jkt %s", in, key.jkt)
			}
		})
		t.Run("without a proof the token is a bearer token", func(t *testing.T) {
			r := e.dpopToken(id, secret)
			if r.status != http.StatusOK || r.str("token_type") != "Bearer" {
				t.Fatalf("got %s, want a Bearer token", r)
			}
			claims, err := e.verifier(e.url).Verify(context.Background(), r.str("access_token"))
			if err != nil || claims.Cnf != nil {
				t.Errorf("claims %+v, %v: want no cnf", claims, err)
			}
			if in := introspectAs(t, e.url, id, secret, r.str("access_token")); in.body["cnf"] != nil || in.str("token_type") != "Bearer" {
				t.Errorf("introspection: got %s, want a Bearer token without cnf", in)
			}
		})
		t.Run("a replayed proof is refused", func(t *testing.T) {
			p := key.proof(t, "POST", tokenURL, time.Now(), nil)
			if r := e.dpopToken(id, secret, p); r.status != http.StatusOK {
				t.Fatalf("first use: %s", r)
			}
			wantDPoPError(t, "replay", e.dpopToken(id, secret, p), "invalid_dpop_proof")
		})
		other := newDPoPKey(t) // another key
		for _, c := range []struct {
			name    string
			proofs  func() []string
			wantErr string
		}{
			{"wrong htu", func() []string { return []string{key.proof(t, "POST", e.url+"/oauth2/introspect", time.Now(), nil)} }, "htu"},
			{"another host in htu", func() []string {
				return []string{key.proof(t, "POST", "https://evil.example/oauth2/token", time.Now(), nil)}
			}, "htu"},
			{"wrong htm", func() []string { return []string{key.proof(t, "GET", tokenURL, time.Now(), nil)} }, "htm"},
			{"stale iat", func() []string { return []string{key.proof(t, "POST", tokenURL, time.Now().Add(-2*time.Minute), nil)} }, "iat"},
			{"iat in the future", func() []string { return []string{key.proof(t, "POST", tokenURL, time.Now().Add(time.Minute), nil)} }, "iat"},
			{"no jti", func() []string {
				return []string{key.proof(t, "POST", tokenURL, time.Now(), func(_, c map[string]any) { delete(c, "jti") })}
			}, "jti"},
			{"typ JWT", func() []string {
				return []string{key.proof(t, "POST", tokenURL, time.Now(), func(h, _ map[string]any) { h["typ"] = "JWT" })}
			}, "typ"},
			{"private jwk", func() []string {
				return []string{other.proof(t, "POST", tokenURL, time.Now(), func(h, _ map[string]any) {
					jwk := map[string]any{"d": base64.RawURLEncoding.EncodeToString(other.priv.D.Bytes())}
					for k, v := range other.jwk {
						jwk[k] = v
					}
					h["jwk"] = jwk
				})}
			}, "private"},
			{"jwk of another key", func() []string {
				return []string{key.proof(t, "POST", tokenURL, time.Now(), func(h, _ map[string]any) { h["jwk"] = other.jwk })}
			}, "signature"},
			{"alg none", func() []string {
				return []string{key.proof(t, "POST", tokenURL, time.Now(), func(h, _ map[string]any) { h["alg"] = "none" })}
			}, "alg"},
			{"two DPoP headers", func() []string {
				return []string{key.proof(t, "POST", tokenURL, time.Now(), nil), key.proof(t, "POST", tokenURL, time.Now(), nil)}
			}, "one DPoP header"},
			{"not a JWT", func() []string { return []string{"garbage"} }, "malformed"},
			{"too large", func() []string { return []string{strings.Repeat("a", 9000)} }, "larger"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := e.dpopToken(id, secret, c.proofs()...)
				wantDPoPError(t, c.name, r, "invalid_dpop_proof")
				if !strings.Contains(strings.ToLower(r.str("error_description")), strings.ToLower(c.wantErr)) {
					t.Errorf("%s: description %q, want it to mention %q", c.name, r.str("error_description"), c.wantErr)
				}
			})
		}
		t.Run("a client that requires DPoP", func(t *testing.T) {
			strict, strictSecret := e.client(app.NewClient{Name: "strict", Scopes: []string{readScope}, RequireDPoP: true})
			wantDPoPError(t, "no proof", e.dpopToken(strict, strictSecret), "invalid_request")
			if r := e.dpopToken(strict, strictSecret, key.proof(t, "POST", tokenURL, time.Now(), nil)); r.str("token_type") != "DPoP" {
				t.Errorf("with a proof: got %s, want a DPoP token", r)
			}
			// Turned off through the registry: bearer tokens again, at the
			// next request.
			off := false
			if _, err := e.registry.Update(context.Background(), app.Operator(models.DefaultOrgID), strict, app.ClientChange{RequireDPoP: &off}); err != nil {
				t.Fatal(err)
			}
			if r := e.dpopToken(strict, strictSecret); r.str("token_type") != "Bearer" {
				t.Errorf("after require_dpop=false: got %s, want a Bearer token", r)
			}
		})
	})
}

// With --dpop-nonce a proof must carry the server's nonce (RFC 9449 §8):
// the first answer is use_dpop_nonce with a DPoP-Nonce header, the retry
// with that nonce gets the token. The nonce is stateless: another server
// with the same key accepts it.
func TestDPoPNonce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		nonceKey := make([]byte, 32)
		e := newEnv(t, backend, func(s envSetup) {
			if s.oauth != nil {
				s.oauth.DPoPNonce, s.oauth.NonceKey = true, nonceKey
			}
		})
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		key := newDPoPKey(t)
		tokenURL := e.url + "/oauth2/token"
		r := e.dpopToken(id, secret, key.proof(t, "POST", tokenURL, time.Now(), nil))
		wantDPoPError(t, "no nonce", r, "use_dpop_nonce")
		nonce := r.header.Get("DPoP-Nonce")
		if nonce == "" {
			t.Fatalf("no DPoP-Nonce header in %s", r)
		}
		wrong := key.proof(t, "POST", tokenURL, time.Now(), func(_, c map[string]any) { c["nonce"] = "made-up" })
		wantDPoPError(t, "a made-up nonce", e.dpopToken(id, secret, wrong), "use_dpop_nonce")
		good := key.proof(t, "POST", tokenURL, time.Now(), func(_, c map[string]any) { c["nonce"] = nonce })
		if r := e.dpopToken(id, secret, good); r.status != http.StatusOK || r.str("token_type") != "DPoP" {
			t.Errorf("with the nonce: got %s, want a DPoP token", r)
		}
	})
}

// The replay record is the database's: a proof one instance accepted,
// another refuses.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		other := storetest.OpenURL(t, e.dbURL)
		ctx := context.Background()
		exp := time.Now().Add(time.Minute)
		if fresh, err := e.store.RecordReplay(ctx, models.ReplayDPoP, "k1", exp); err != nil || !fresh {
			t.Fatalf("first: %v, %v", fresh, err)
		}
		if fresh, err := other.RecordReplay(ctx, models.ReplayDPoP, "k1", exp); err != nil || fresh {
			t.Errorf("the other instance: fresh=%v, %v; want a replay", fresh, err)
		}
		if n, err := other.DeleteExpiredReplays(ctx, exp.Add(time.Second)); err != nil || n != 1 {
			t.Errorf("cleanup: %d, %v; want 1", n, err)
		}
	})
}

// A resource server with verify.Middleware (and rsecho's, the same code)
// accepts a DPoP-bound token only with a fresh proof of its key for the
// request, and refuses every mix-up of schemes and tokens.
func TestDPoPResourceServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		key, other := newDPoPKey(t), newDPoPKey(t)
		tokenURL := e.url + "/oauth2/token"
		r := e.dpopToken(id, secret, key.proof(t, "POST", tokenURL, time.Now(), nil))
		bound := r.str("access_token")
		bearer := e.dpopToken(id, secret).str("access_token")
		if bound == "" || bearer == "" {
			t.Fatalf("tokens: %s", r)
		}
		rejected := make(chan *verify.BearerError, 1)
		mux := http.NewServeMux()
		mux.HandleFunc("/analyses", func(w http.ResponseWriter, r *http.Request) {
			claims, _ := verify.ClaimsFrom(r.Context())
			_, _ = w.Write([]byte(claims.ClientID))
		})
		rs := httptest.NewServer(verify.Middleware(e.verifier(e.url), verify.WithRealm("analyses"),
			verify.WithRejectHook(func(_ *http.Request, be *verify.BearerError) { rejected <- be }))(mux))
		defer rs.Close()
		api := rs.URL + "/analyses"
		ath := func(tok string) func(h, c map[string]any) {
			sum := sha256.Sum256([]byte(tok))
			return func(_, c map[string]any) { c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:]) }
		}
		call := func(auth string, proofs ...string) (*http.Response, *verify.BearerError) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, api+"?page=2", nil)
			req.Header.Set("Authorization", auth)
			if len(proofs) > 0 {
				req.Header["Dpop"] = proofs
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp, nil
			}
			return resp, <-rejected
		}
		good := key.proof(t, "GET", api, time.Now(), ath(bound))
		if resp, be := call("DPoP "+bound, good); resp.StatusCode != http.StatusOK {
			t.Fatalf("a bound token with its proof: %d %v", resp.StatusCode, be)
		}
		if resp, be := call("Bearer " + bearer); resp.StatusCode != http.StatusOK {
			t.Errorf("a bearer token: %d %v", resp.StatusCode, be)
		}
		for _, c := range []struct {
			name   string
			auth   string
			proofs []string
			code   string
		}{
			{"the proof replayed", "DPoP " + bound, []string{good}, verify.CodeInvalidDPoPProof},
			{"a bound token as a bearer token", "Bearer " + bound, nil, verify.CodeInvalidToken},
			{"an unbound token with the DPoP scheme", "DPoP " + bearer, []string{key.proof(t, "GET", api, time.Now(), ath(bearer))}, verify.CodeInvalidToken},
			{"no proof", "DPoP " + bound, nil, verify.CodeInvalidDPoPProof},
			{"two proofs", "DPoP " + bound, []string{key.proof(t, "GET", api, time.Now(), ath(bound)), key.proof(t, "GET", api, time.Now(), ath(bound))}, verify.CodeInvalidDPoPProof},
			{"the proof without ath", "DPoP " + bound, []string{key.proof(t, "GET", api, time.Now(), nil)}, verify.CodeInvalidDPoPProof},
			{"the proof for another token", "DPoP " + bound, []string{key.proof(t, "GET", api, time.Now(), ath(bearer))}, verify.CodeInvalidDPoPProof},
			{"the proof for another URL", "DPoP " + bound, []string{key.proof(t, "GET", rs.URL+"/other", time.Now(), ath(bound))}, verify.CodeInvalidDPoPProof},
			{"the proof for another method", "DPoP " + bound, []string{key.proof(t, "POST", api, time.Now(), ath(bound))}, verify.CodeInvalidDPoPProof},
			{"the proof of another key", "DPoP " + bound, []string{other.proof(t, "GET", api, time.Now(), ath(bound))}, verify.CodeInvalidDPoPProof},
			{"a stale proof", "DPoP " + bound, []string{key.proof(t, "GET", api, time.Now().Add(-5*time.Minute), ath(bound))}, verify.CodeInvalidDPoPProof},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, be := call(c.auth, c.proofs...)
				if resp.StatusCode != http.StatusUnauthorized || be == nil || be.Code != c.code {
					t.Fatalf("got %d %v, want 401 %s", resp.StatusCode, be, c.code)
				}
				if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `DPoP realm="analyses", error="`+c.code+`"`) || !strings.Contains(ch, `algs="ES256`) {
					t.Errorf("challenge %q, want a DPoP challenge with error %s and algs", ch, c.code)
				}
			})
		}
	})
}
