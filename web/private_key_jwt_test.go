package web_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/golang-jwt/jwt/v5"
)

// keyClient is a client's key pair, as the client holds it.
type keyClient struct {
	kid  string
	alg  jwt.SigningMethod
	priv crypto.Signer
}

func newRSAKey(t *testing.T, kid string) keyClient {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return keyClient{kid: kid, alg: jwt.SigningMethodRS256, priv: k}
}

func newECKey(t *testing.T, kid string) keyClient {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyClient{kid: kid, alg: jwt.SigningMethodES256, priv: k}
}

// jwk is the public JWK of k.
func (k keyClient) jwk(t *testing.T) map[string]any {
	t.Helper()
	alg := k.alg.Alg()
	j, err := verify.PublicJWK(k.kid, alg, k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(j)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

func jwksOf(t *testing.T, keys ...keyClient) string {
	t.Helper()
	var list []map[string]any
	for _, k := range keys {
		list = append(list, k.jwk(t))
	}
	raw, _ := json.Marshal(map[string]any{"keys": list})
	return string(raw)
}

var jtiCounter atomic.Int64

// assertion signs a client assertion for client id with claims changed by
// edit (a claim set to nil is removed).
func (k keyClient) assertion(t *testing.T, id, aud string, edit map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": id, "sub": id, "aud": aud, "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprintf("jti-%d-%d", now.UnixNano(), jtiCounter.Add(1))}
	for name, v := range edit {
		if v == nil {
			delete(claims, name)
		} else {
			claims[name] = v
		}
	}
	tok := jwt.NewWithClaims(k.alg, claims)
	if k.kid != "" {
		tok.Header["kid"] = k.kid
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertionForm is a token request authenticated by assertion.
func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {assertion}}
}

func (e *env) postForm(form url.Values, header http.Header) (*http.Response, map[string]string) {
	e.t.Helper()
	return e.post(http.MethodPost, "/oauth2/token", "application/x-www-form-urlencoded", form.Encode(), header)
}

// keyRegistry is a Registry that accepts http jwks_uri on loopback, as the
// tests' JWKS servers are.
func (e *env) keyRegistry() *app.Registry {
	return app.NewRegistry(e.store, app.RegistryConfig{Issuer: e.url, AllowLoopbackJWKSURI: true})
}

func (e *env) keyClientWith(k app.Keys) string {
	e.t.Helper()
	c, secret, err := e.keyRegistry().Create(context.Background(), app.Operator(models.DefaultOrgID), app.NewClient{
		OwnerEmail: e.owner.Email, Name: "key client", Project: "default", Scopes: []string{readScope},
		AuthMethod: models.AuthPrivateKeyJWT, JWKS: k.JWKS, JWKSURI: k.JWKSURI,
	})
	if err != nil {
		e.t.Fatalf("create key client: %v", err)
	}
	if secret != "" {
		e.t.Fatalf("a private_key_jwt client got a secret")
	}
	return c.ID
}

func TestPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		rsaKey, ecKey := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1")
		id := e.keyClientWith(app.Keys{JWKS: jwksOf(t, rsaKey, ecKey)})
		tokenURL := e.url + "/oauth2/token"

		for _, k := range []keyClient{rsaKey, ecKey} {
			for _, aud := range []any{tokenURL, e.url, []string{"https://other.example", e.url}} {
				t.Run(fmt.Sprintf("%s aud %v", k.alg.Alg(), aud), func(t *testing.T) {
					resp, body := e.postForm(assertionForm(k.assertion(t, id, "", map[string]any{"aud": aud})), nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d %v", resp.StatusCode, body)
					}
					claims, err := e.verifier(e.url).Verify(context.Background(), body["access_token"])
					if err != nil || claims.ClientID != id || claims.Scope != readScope {
						t.Fatalf("token: %v, %+v", err, claims)
					}
				})
			}
		}
		t.Run("client_id in the body", func(t *testing.T) {
			form := assertionForm(ecKey.assertion(t, id, tokenURL, nil))
			form.Set("client_id", id)
			if resp, body := e.postForm(form, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %v", resp.StatusCode, body)
			}
		})
		t.Run("no kid, one key fits the alg", func(t *testing.T) {
			k := ecKey
			k.kid = ""
			if resp, body := e.postForm(assertionForm(k.assertion(t, id, tokenURL, nil)), nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d %v", resp.StatusCode, body)
			}
		})

		other := newECKey(t, "ec-1") // same kid, another key
		hs := keyClient{kid: "ec-1", alg: jwt.SigningMethodHS256}
		past := time.Now().Add(-10 * time.Minute)
		refused := []struct {
			name      string
			assertion string
			form      func(url.Values)
			header    http.Header
			status    int
			code      string
			describes string // part of error_description
		}{
			{name: "wrong aud", assertion: ecKey.assertion(t, id, "https://elsewhere.example/token", nil), status: 401, code: "invalid_client", describes: "aud"},
			{name: "expired", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"exp": past.Unix(), "iat": past.Add(-time.Minute).Unix()}), status: 401, code: "invalid_client", describes: "expired"},
			{name: "no exp", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"exp": nil}), status: 401, code: "invalid_client", describes: "exp"},
			{name: "exp too far", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"exp": time.Now().Add(time.Hour).Unix()}), status: 401, code: "invalid_client", describes: "more than 5m0s ahead"},
			{name: "iat in the future", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"iat": time.Now().Add(3 * time.Minute).Unix()}), status: 401, code: "invalid_client", describes: "not valid yet"},
			{name: "nbf in the future", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"nbf": time.Now().Add(3 * time.Minute).Unix()}), status: 401, code: "invalid_client", describes: "not valid yet"},
			{name: "no jti", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"jti": nil}), status: 401, code: "invalid_client", describes: "jti"},
			{name: "iss is not the client", assertion: ecKey.assertion(t, id, tokenURL, map[string]any{"iss": "someone"}), status: 401, code: "invalid_client", describes: "iss and sub"},
			{name: "wrong kid", assertion: keyClient{kid: "nope", alg: ecKey.alg, priv: ecKey.priv}.assertion(t, id, tokenURL, nil), status: 401, code: "invalid_client", describes: "kid"},
			{name: "another key under a known kid", assertion: other.assertion(t, id, tokenURL, nil), status: 401, code: "invalid_client", describes: "client authentication failed"},
			{name: "alg none", assertion: noneAssertion(t, id, tokenURL), status: 401, code: "invalid_client", describes: "alg"},
			{name: "alg HS256", assertion: hs.hmacAssertion(t, id, tokenURL), status: 401, code: "invalid_client", describes: "alg"},
			{name: "not a JWT", assertion: "not.a.jwt", form: func(f url.Values) { f.Set("client_id", id) }, status: 401, code: "invalid_client", describes: "client authentication failed"},
			{name: "unknown client", assertion: ecKey.assertion(t, "authz_unknown", tokenURL, nil), status: 401, code: "invalid_client", describes: "client authentication failed"},
			{name: "client_id differs from sub", assertion: ecKey.assertion(t, id, tokenURL, nil), form: func(f url.Values) { f.Set("client_id", "someone-else") }, status: 401, code: "invalid_client"},
			{name: "assertion and Basic", assertion: ecKey.assertion(t, id, tokenURL, nil), header: http.Header{"Authorization": {"Basic eDp5"}}, status: 400, code: "invalid_request", describes: "one client authentication method"},
			{name: "assertion and client_secret", assertion: ecKey.assertion(t, id, tokenURL, nil), form: func(f url.Values) { f.Set("client_secret", "x") }, status: 400, code: "invalid_request", describes: "one client authentication method"},
			{name: "assertion without its type", assertion: ecKey.assertion(t, id, tokenURL, nil), form: func(f url.Values) { f.Del("client_assertion_type") }, status: 400, code: "invalid_request"},
			{name: "another assertion type", assertion: ecKey.assertion(t, id, tokenURL, nil), form: func(f url.Values) { f.Set("client_assertion_type", "urn:example:saml") }, status: 401, code: "invalid_client", describes: "client_assertion_type"},
		}
		for _, c := range refused {
			t.Run("refused: "+c.name, func(t *testing.T) {
				form := assertionForm(c.assertion)
				if c.form != nil {
					c.form(form)
				}
				resp, body := e.postForm(form, c.header)
				if resp.StatusCode != c.status || body["error"] != c.code || !strings.Contains(body["error_description"], c.describes) {
					t.Fatalf("got %d %v, want %d %s (%q)", resp.StatusCode, body, c.status, c.code, c.describes)
				}
				if got := resp.Header.Get("WWW-Authenticate"); (got != "") != (c.header != nil && c.status == 401) {
					t.Errorf("WWW-Authenticate %q: a challenge only when Basic was used", got)
				}
			})
		}

		t.Run("replay refused, also by a second Store on the database", func(t *testing.T) {
			a := rsaKey.assertion(t, id, tokenURL, nil)
			if resp, body := e.postForm(assertionForm(a), nil); resp.StatusCode != 200 {
				t.Fatalf("first use: %d %v", resp.StatusCode, body)
			}
			resp, body := e.postForm(assertionForm(a), nil)
			if resp.StatusCode != 401 || !strings.Contains(body["error_description"], "used before") {
				t.Fatalf("replay: %d %v", resp.StatusCode, body)
			}
			second := storetest.OpenURL(t, e.dbURL)
			claims := jwt.MapClaims{}
			if _, _, err := jwt.NewParser().ParseUnverified(a, claims); err != nil {
				t.Fatal(err)
			}
			first, err := second.RecordReplay(context.Background(), models.ReplayAssertion, id+":"+claims["jti"].(string), time.Now().Add(time.Hour))
			if err != nil || first {
				t.Fatalf("second Store: first use %t, %v; want a replay", first, err)
			}
		})

		t.Run("a secret client's assertion is refused", func(t *testing.T) {
			secretID, _ := e.client(app.NewClient{Scopes: []string{readScope}})
			resp, body := e.postForm(assertionForm(ecKey.assertion(t, secretID, tokenURL, nil)), nil)
			if resp.StatusCode != 401 || !strings.Contains(body["error_description"], "client secret") {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
		})
		t.Run("a key client's secret is refused", func(t *testing.T) {
			secret, err := oauth.NewSecretFor(models.ClientKindProject) // well-formed, so checked against the client
			if err != nil {
				t.Fatal(err)
			}
			resp, body := e.postForm(url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, nil)
			if resp.StatusCode != 401 || !strings.Contains(body["error_description"], "private_key_jwt") {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
		})
		t.Run("replaced keys hold at the next request", func(t *testing.T) {
			fresh := newECKey(t, "ec-2")
			if _, err := e.keyRegistry().SetKeys(context.Background(), app.Operator(models.DefaultOrgID), id, app.Keys{JWKS: jwksOf(t, fresh)}); err != nil {
				t.Fatal(err)
			}
			if resp, body := e.postForm(assertionForm(ecKey.assertion(t, id, tokenURL, nil)), nil); resp.StatusCode != 401 {
				t.Fatalf("old key: %d %v", resp.StatusCode, body)
			}
			if resp, body := e.postForm(assertionForm(fresh.assertion(t, id, tokenURL, nil)), nil); resp.StatusCode != 200 {
				t.Fatalf("new key: %d %v", resp.StatusCode, body)
			}
		})
	})
}

func jwtB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func noneAssertion(t *testing.T, id, aud string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"iss": id, "sub": id, "aud": aud, "exp": time.Now().Add(time.Minute).Unix(), "jti": "none"})
	s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (k keyClient) hmacAssertion(t *testing.T, id, aud string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": id, "sub": id, "aud": aud, "exp": time.Now().Add(time.Minute).Unix(), "jti": "hs"})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString([]byte("a shared secret of enough length!"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPrivateKeyJWTRegistration: what the Registry refuses as keys.
func TestPrivateKeyJWTRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		ec := newECKey(t, "k")
		small, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		withPrivate := ec.jwk(t)
		withPrivate["d"] = "AAAA"
		private, _ := json.Marshal(map[string]any{"keys": []any{withPrivate}})
		smallJWK := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"s","n":%q,"e":"AQAB"}]}`, jwtB64(small.N.Bytes()))
		for _, c := range []struct {
			name string
			in   app.NewClient
			code string
		}{
			{"private key", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT, JWKS: string(private)}, "invalid_jwks"},
			{"symmetric key", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT, JWKS: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`}, "invalid_jwks"},
			{"RSA 1024", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT, JWKS: smallJWK}, "invalid_jwks"},
			{"no keys", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT}, "keys_required"},
			{"both", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT, JWKS: jwksOf(t, ec), JWKSURI: "https://keys.example/jwks"}, "keys_required"},
			{"http jwks_uri", app.NewClient{AuthMethod: models.AuthPrivateKeyJWT, JWKSURI: "http://keys.example/jwks"}, "invalid_jwks_uri"},
			{"keys for a secret client", app.NewClient{JWKS: jwksOf(t, ec)}, "invalid_auth_method"},
			{"unknown method", app.NewClient{AuthMethod: "tls_client_auth"}, "invalid_auth_method"},
		} {
			t.Run(c.name, func(t *testing.T) {
				c.in.OwnerEmail, c.in.Name, c.in.Project, c.in.Scopes = e.owner.Email, "k", "default", []string{readScope}
				_, _, err := e.registry.Create(context.Background(), app.Operator(models.DefaultOrgID), c.in)
				if models.ErrorCode(err) != c.code {
					t.Fatalf("got %v (code %q), want code %s", err, models.ErrorCode(err), c.code)
				}
			})
		}
		t.Run("a key client has no secret to rotate", func(t *testing.T) {
			id := e.keyClientWith(app.Keys{JWKS: jwksOf(t, ec)})
			_, _, err := e.registry.Rotate(context.Background(), app.Operator(models.DefaultOrgID), id, nil)
			if models.ErrorCode(err) != "key_client" {
				t.Fatalf("rotate: %v", err)
			}
		})
	})
}

// TestPrivateKeyJWTKeysURI: keys fetched from the client's jwks_uri, again
// for an unknown kid only after the cooldown, and a document over the size
// limit refused.
func TestPrivateKeyJWTKeysURI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		now := time.Now()
		var clock atomic.Int64
		clock.Store(now.UnixNano())
		e := newEnv(t, backend, func(s envSetup) {
			if s.oauth != nil {
				s.oauth.JWKS = oauth.JWKSFetcherConfig{AllowLoopbackHTTP: true, Cooldown: time.Minute, MaxBytes: 8 << 10, Now: func() time.Time { return time.Unix(0, clock.Load()) }}
			}
		})
		first, second := newECKey(t, "one"), newECKey(t, "two")
		var served atomic.Value
		served.Store(jwksOf(t, first))
		var fetches atomic.Int64
		keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, served.Load().(string))
		}))
		t.Cleanup(keys.Close)
		id := e.keyClientWith(app.Keys{JWKSURI: keys.URL + "/jwks"})
		tokenURL := e.url + "/oauth2/token"
		token := func(k keyClient) (*http.Response, map[string]string) {
			return e.postForm(assertionForm(k.assertion(t, id, tokenURL, nil)), nil)
		}

		if resp, body := token(first); resp.StatusCode != 200 {
			t.Fatalf("first key: %d %v", resp.StatusCode, body)
		}
		if resp, body := token(first); resp.StatusCode != 200 || fetches.Load() != 1 {
			t.Fatalf("first key again: %d %v, %d fetches, want 1 (cached)", resp.StatusCode, body, fetches.Load())
		}
		// The client rotates: the second key is served, but within the
		// cooldown an unknown kid does not fetch again.
		served.Store(jwksOf(t, second))
		if resp, _ := token(second); resp.StatusCode != 401 || fetches.Load() != 1 {
			t.Fatalf("new kid within the cooldown: %d, %d fetches; want 401 and no fetch", resp.StatusCode, fetches.Load())
		}
		clock.Add(int64(time.Minute))
		if resp, body := token(second); resp.StatusCode != 200 || fetches.Load() != 2 {
			t.Fatalf("new kid after the cooldown: %d %v, %d fetches; want 200 after one more fetch", resp.StatusCode, body, fetches.Load())
		}

		// A document over the size limit is refused (and the keys of
		// before are kept through the failure).
		served.Store(`{"keys":[],"padding":"` + strings.Repeat("x", 9<<10) + `"}`)
		clock.Add(int64(time.Hour))
		third := newECKey(t, "three")
		resp, body := token(third)
		if resp.StatusCode != 401 || !strings.Contains(body["error_description"], "larger than") {
			t.Fatalf("oversized JWKS: %d %v", resp.StatusCode, body)
		}
		if resp, body := token(second); resp.StatusCode != 200 {
			t.Fatalf("the keys of before through a failed fetch: %d %v", resp.StatusCode, body)
		}
	})
}

// TestPrivateKeyJWTFailuresCountAgainstTheBudget: failed assertions spend
// the brute-force budget of the client and address.
func TestPrivateKeyJWTFailuresCountAgainstTheBudget(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		fixed := time.Now() // the limiter's clock: no backoff runs out during the test
		e := newEnv(t, backend, func(s envSetup) {
			if s.server != nil {
				s.server.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 1000, FailuresPerPair: 3, FailuresPerIP: 100, Now: func() time.Time { return fixed }}))
			}
		})
		k := newECKey(t, "k")
		id := e.keyClientWith(app.Keys{JWKS: jwksOf(t, k)})
		wrong := newECKey(t, "k")
		for i := range 4 { // the budget, then one more: backoff starts
			if resp, _ := e.postForm(assertionForm(wrong.assertion(t, id, e.url, nil)), nil); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
			}
		}
		resp, body := e.postForm(assertionForm(k.assertion(t, id, e.url, nil)), nil)
		if resp.StatusCode != http.StatusTooManyRequests || body["error"] != "slow_down" {
			t.Fatalf("after the budget: %d %v, want 429 slow_down", resp.StatusCode, body)
		}
	})
}

// TestAdminClientKeys: the admin API registers a private_key_jwt client
// (no secret in the answer) and replaces its keys, audited; bad keys are
// 400 with a code; another organization's client is 404.
func TestAdminClientKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		tok := e.login(adminEmail, adminPassword)
		k := newECKey(t, "k1")
		var jwks map[string]any
		_ = json.Unmarshal([]byte(jwksOf(t, k)), &jwks)
		r := e.call(tok, "POST", orgAPI+"/clients", map[string]any{"name": "deployer", "project": "default", "scopes": []string{readScope}, "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks}, nil)
		wantAPI(t, "create", r, http.StatusCreated, "")
		id := r.str("client_id")
		if _, has := r.body["client_secret"]; has || r.str("token_endpoint_auth_method") != "private_key_jwt" || r.body["jwks"] == nil {
			t.Fatalf("created: %s", r)
		}

		fresh := newECKey(t, "k2")
		var freshJWKS map[string]any
		_ = json.Unmarshal([]byte(jwksOf(t, fresh)), &freshJWKS)
		r = e.call(tok, "PUT", orgAPI+"/clients/"+id+"/keys", map[string]any{"jwks": freshJWKS}, nil)
		wantAPI(t, "replace keys", r, http.StatusOK, "")
		if keys, _ := r.body["jwks"].(map[string]any)["keys"].([]any); len(keys) != 1 || keys[0].(map[string]any)["kid"] != "k2" {
			t.Errorf("replaced keys: %s", r)
		}
		e.lastAudit(tok, id, models.AuditClientKeys)

		withPrivate := fresh.jwk(t)
		withPrivate["d"] = "AAAA"
		wantAPI(t, "a private key", e.call(tok, "PUT", orgAPI+"/clients/"+id+"/keys", map[string]any{"jwks": map[string]any{"keys": []any{withPrivate}}}, nil), http.StatusBadRequest, "invalid_jwks")
		wantAPI(t, "an http jwks_uri", e.call(tok, "PUT", orgAPI+"/clients/"+id+"/keys", map[string]any{"jwks_uri": "http://keys.example/jwks"}, nil), http.StatusBadRequest, "invalid_jwks_uri")
		wantAPI(t, "no keys", e.call(tok, "PUT", orgAPI+"/clients/"+id+"/keys", map[string]any{}, nil), http.StatusBadRequest, "keys_required")
		wantAPI(t, "jwks not an object", e.call(tok, "PUT", orgAPI+"/clients/"+id+"/keys", `{"jwks":"x"}`, nil), http.StatusBadRequest, "invalid_jwks")
		wantAPI(t, "rotate a key client", e.call(tok, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{}, nil), http.StatusConflict, "key_client")

		secretID, _, _ := e.createClient(tok, map[string]any{"project": "default", "scopes": []string{readScope}})
		wantAPI(t, "keys of a secret client", e.call(tok, "PUT", orgAPI+"/clients/"+secretID+"/keys", map[string]any{"jwks": freshJWKS}, nil), http.StatusConflict, "not_key_client")

		other := e.newTenant("other")
		wantAPI(t, "another organization's client", e.call(tok, "PUT", orgAPI+"/clients/"+other.clients[models.ClientKindProject]+"/keys", map[string]any{"jwks": freshJWKS}, nil), http.StatusNotFound, "")
	})
}

// TestUIPrivateKeyJWT: the console's create form registers a client with
// pasted public keys (no secret shown), its page offers "Replace keys"
// instead of rotation, and a private key is refused next to the field.
func TestUIPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		session, csrf := e.uiLogin(adminEmail, adminPassword)
		k := newECKey(t, "console-1")
		r := e.uiDo(session, "POST", "/admin/o/default/clients", url.Values{"csrf_token": {csrf}, "kind": {"project"}, "project": {"default"}, "name": {"deployer"}, "owner": {memberEmail}, "scopes": {readScope}, "auth": {"keys"}, "jwks": {jwksOf(t, k)}}, nil)
		if r.status != http.StatusCreated || strings.Contains(r.body, `id="new-secret"`) || !strings.Contains(r.body, `id="keys-panel"`) || strings.Contains(r.body, `id="rotate-h"`) {
			t.Fatalf("create with keys: %d %.800s", r.status, r.body)
		}
		id := submatch(t, `id="new-client-id"[^>]*>([^<]+)<`, r.body)
		c, err := e.store.ClientByID(context.Background(), id)
		if err != nil || !c.UsesKeys() || !strings.Contains(c.JWKS, "console-1") {
			t.Fatalf("stored: %+v, %v", c, err)
		}

		fresh := newECKey(t, "console-2")
		r = e.uiDo(session, "POST", "/admin/o/default/clients/"+id+"/keys", url.Values{"csrf_token": {csrf}, "jwks": {jwksOf(t, fresh)}}, nil)
		if r.status != http.StatusSeeOther || !strings.Contains(r.location(), "notice=keys_replaced") {
			t.Fatalf("replace keys: %d %s", r.status, r.location())
		}
		page := e.uiDo(session, "GET", "/admin/o/default/clients/"+id, nil, nil)
		if !strings.Contains(page.body, "console-2") || strings.Contains(page.body, "console-1") {
			t.Fatalf("the page after replacing: %.800s", page.body)
		}

		withPrivate := fresh.jwk(t)
		withPrivate["d"] = "AAAA"
		raw, _ := json.Marshal(map[string]any{"keys": []any{withPrivate}})
		r = e.uiDo(session, "POST", "/admin/o/default/clients/"+id+"/keys", url.Values{"csrf_token": {csrf}, "jwks": {string(raw)}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-keys-err"`) || !strings.Contains(r.body, "private key") {
			t.Fatalf("a private key: %d %.800s", r.status, r.body)
		}
		r = e.uiDo(session, "POST", "/admin/o/default/clients", url.Values{"csrf_token": {csrf}, "kind": {"project"}, "project": {"default"}, "name": {"no keys"}, "owner": {memberEmail}, "scopes": {readScope}, "auth": {"keys"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-auth-err"`) {
			t.Fatalf("keys missing: %d %.800s", r.status, r.body)
		}
	})
}
