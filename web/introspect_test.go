package web_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
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
	"github.com/golang-jwt/jwt/v5"
)

// RFC 7662 introspection and RFC 7009 revocation over HTTP.

// ---- helpers, usable against any authz server ----

// introspectAs sends an RFC 7662 request to the server at base,
// authenticated as the client id/secret with Basic.
func introspectAs(t *testing.T, base, id, secret, token string) *endpointResponse {
	t.Helper()
	return postOAuthForm(t, base+"/oauth2/introspect", url.Values{"token": {token}}, basic(id, secret))
}

// revokeAs sends an RFC 7009 request to the server at base, authenticated
// as the client id/secret with Basic, with extra parameters.
func revokeAs(t *testing.T, base, id, secret, token string, extra url.Values) *endpointResponse {
	t.Helper()
	p := url.Values{"token": {token}}
	for k, v := range extra {
		p[k] = v
	}
	return postOAuthForm(t, base+"/oauth2/revoke", p, basic(id, secret))
}

// wantActive reports an error unless r says the token is active, with
// Cache-Control: no-store.
func wantActive(t *testing.T, what string, r *endpointResponse) {
	t.Helper()
	if r.status != http.StatusOK || r.body["active"] != true {
		t.Errorf("%s: got %s, want an active token", what, r)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
}

// wantInactive reports an error unless r is exactly {"active":false}
// (RFC 7662 §2.2: nothing else about an inactive token), with
// Cache-Control: no-store.
func wantInactive(t *testing.T, what string, r *endpointResponse) {
	t.Helper()
	if r.status != http.StatusOK || !bytes.Equal(bytes.TrimSpace(r.raw), []byte(`{"active":false}`)) {
		t.Errorf("%s: got %s, want 200 {\"active\":false}", what, r)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
}

// wantRevoked reports an error unless r is RFC 7009's success: 200 with an
// empty body, not cached.
func wantRevoked(t *testing.T, what string, r *endpointResponse) {
	t.Helper()
	if r.status != http.StatusOK || len(r.raw) != 0 {
		t.Errorf("%s: got %s, want 200 with an empty body", what, r)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
}

// accessClaims returns claims like those of a token the server at issuer
// would issue to clientID now, valid for ttl.
func accessClaims(issuer, clientID, ownerID string, now time.Time, ttl time.Duration) *verify.Claims {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	iat := now.Truncate(time.Second)
	return &verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   clientID,
			Audience:  jwt.ClaimStrings{issuer},
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		ClientID: clientID,
		Scope:    readScope,
		OwnerID:  ownerID,
	}
}

// foreignToken signs claims as an RFC 9068 token with a fresh ES256 key
// that no authz server knows. An empty kid is derived from the key the way
// authz derives its own.
func foreignToken(t *testing.T, kid string, claims *verify.Claims) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if kid == "" {
		if kid, err = jwtkeys.KID(key.Public()); err != nil {
			t.Fatal(err)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = verify.TokenType
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// introspectEnv is a govEnv with three clients of readScope: A and B owned
// by e.owner, and RS, a resource server owned by another user.
type introspectEnv struct {
	*govEnv
	aID, aSecret   string
	bID, bSecret   string
	rsID, rsSecret string
}

func newIntrospectEnv(t *testing.T, backend string) *introspectEnv {
	t.Helper()
	e := &introspectEnv{govEnv: newGovEnv(t, backend)}
	a, aSecret := e.client(t, app.NewClient{Name: "A"})
	b, bSecret := e.client(t, app.NewClient{Name: "B"})
	rsOwner := e.user(t, "api-team@example.com", models.RoleMember, readScope)
	rs, rsSecret := e.client(t, app.NewClient{Name: "RS", OwnerEmail: rsOwner.Email, ResourceServer: true})
	e.aID, e.aSecret, e.bID, e.bSecret, e.rsID, e.rsSecret = a.ID, aSecret, b.ID, bSecret, rs.ID, rsSecret
	return e
}

// ---- introspection ----

func TestIntrospection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newIntrospectEnv(t, backend)

		t.Run("own token", func(t *testing.T) {
			tok := e.mustToken(t, e.aID, e.aSecret)
			r := introspectAs(t, e.url, e.aID, e.aSecret, tok)
			wantActive(t, "A introspects its token", r)
			claims, err := e.keyring.VerifyOwn(tok)
			if err != nil {
				t.Fatal(err)
			}
			// The token's claims, at the fixed clock (govEpoch).
			testutil.GoldenJSON(t, "testdata/introspection/active.json", r.raw, testutil.Normalize{
				Replace:  map[string]string{e.url: testIssuer, e.aID: "<client_id>", e.owner.ID: "<owner_id>"},
				Volatile: []string{"jti"},
			})
			if claims.ID == "" || r.str("jti") != claims.ID {
				t.Errorf("jti: got %q, want the token's %q", r.str("jti"), claims.ID)
			}
		})

		t.Run("who may introspect", func(t *testing.T) {
			tokA := e.mustToken(t, e.aID, e.aSecret)
			tokB := e.mustToken(t, e.bID, e.bSecret)
			wantInactive(t, "A introspects B's token", introspectAs(t, e.url, e.aID, e.aSecret, tokB))
			wantInactive(t, "B introspects A's token", introspectAs(t, e.url, e.bID, e.bSecret, tokA))
			r := introspectAs(t, e.url, e.rsID, e.rsSecret, tokA)
			wantActive(t, "RS introspects A's token", r)
			if r.str("client_id") != e.aID || r.str("owner_id") != e.owner.ID {
				t.Errorf("RS sees client_id %q owner_id %q, want A's", r.str("client_id"), r.str("owner_id"))
			}
			wantActive(t, "RS introspects B's token", introspectAs(t, e.url, e.rsID, e.rsSecret, tokB))
		})

		t.Run("inactive", func(t *testing.T) {
			now := e.clock.Now()
			otherIssuer, err := e.keyring.Sign(accessClaims("https://other.example.com", e.aID, e.owner.ID, now, 15*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			activeKID, _ := e.keyring.ActiveKID()
			legit, err := e.keyring.Sign(accessClaims(e.url, e.aID, e.owner.ID, now, 15*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			wantActive(t, "control: the same claims signed by the server", introspectAs(t, e.url, e.aID, e.aSecret, legit))
			for _, tc := range []struct{ name, token string }{
				{"malformed", "not-a-token"},
				{"three garbage segments", "abc.def.ghi"},
				{"foreign key", foreignToken(t, "", accessClaims(e.url, e.aID, e.owner.ID, now, 15*time.Minute))},
				{"foreign key under the active kid", foreignToken(t, activeKID, accessClaims(e.url, e.aID, e.owner.ID, now, 15*time.Minute))},
				{"another issuer", otherIssuer},
				{"altered claims", alterPayload(t, legit, func(c map[string]any) { c["scope"] = readScope + " " + configScope })},
			} {
				wantInactive(t, tc.name+" (as A)", introspectAs(t, e.url, e.aID, e.aSecret, tc.token))
				wantInactive(t, tc.name+" (as RS)", introspectAs(t, e.url, e.rsID, e.rsSecret, tc.token))
			}
		})

		t.Run("expired", func(t *testing.T) {
			tok := e.mustToken(t, e.aID, e.aSecret)
			e.clock.Advance(15 * time.Minute)
			e.clock.Advance(10 * time.Second) // past the verifier's leeway
			wantInactive(t, "expired token (as A)", introspectAs(t, e.url, e.aID, e.aSecret, tok))
			wantInactive(t, "expired token (as RS)", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		})

		t.Run("revoked token", func(t *testing.T) {
			tok := e.mustToken(t, e.aID, e.aSecret)
			wantActive(t, "before revocation", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
			wantRevoked(t, "A revokes", revokeAs(t, e.url, e.aID, e.aSecret, tok, nil))
			wantInactive(t, "revoked token (as A)", introspectAs(t, e.url, e.aID, e.aSecret, tok))
			wantInactive(t, "revoked token (as RS)", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		})

		t.Run("revoked client", func(t *testing.T) {
			c, secret := e.client(t, app.NewClient{Name: "to revoke"})
			tok := e.mustToken(t, c.ID, secret)
			wantActive(t, "before", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
			if _, err := e.registry.Revoke(e.ctx, app.Operator(models.DefaultOrgID), c.ID); err != nil {
				t.Fatal(err)
			}
			wantInactive(t, "token of a revoked client", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
			wantOAuthError(t, "revoked client introspects", introspectAs(t, e.url, c.ID, secret, tok), 401, "invalid_client", "revoked")
		})

		t.Run("expired client", func(t *testing.T) {
			in20 := e.clock.Now().Add(20 * time.Minute)
			c, secret := e.client(t, app.NewClient{Name: "short-lived", ExpiresAt: &in20, TokenTTL: time.Hour})
			tok := e.mustToken(t, c.ID, secret)
			wantActive(t, "before", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
			e.clock.Set(in20)
			wantInactive(t, "unexpired token of an expired client", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		})

		t.Run("disabled owner", func(t *testing.T) {
			tok := e.mustToken(t, e.aID, e.aSecret)
			e.owner.Status = models.StatusDisabled
			e.updateUser(t, e.owner, "disable")
			wantInactive(t, "token of a disabled owner", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
			e.owner.Status = models.StatusActive
			e.updateUser(t, e.owner, "enable")
			wantActive(t, "owner enabled again", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		})
	})
}

// alterPayload re-encodes a JWT's claims after change, keeping the header
// and the (now invalid) signature.
func alterPayload(t *testing.T, token string, change func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	change(claims)
	if raw, err = json.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// ---- revocation ----

func TestRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newIntrospectEnv(t, backend)
		tok := e.mustToken(t, e.aID, e.aSecret)
		claims, err := e.keyring.VerifyOwn(tok)
		if err != nil {
			t.Fatal(err)
		}
		exp := claims.ExpiresAt.Time

		wantRevoked(t, "A revokes its token", revokeAs(t, e.url, e.aID, e.aSecret, tok, nil))
		wantRevoked(t, "A revokes it again", revokeAs(t, e.url, e.aID, e.aSecret, tok, nil))
		wantRevoked(t, "A revokes garbage", revokeAs(t, e.url, e.aID, e.aSecret, "garbage", nil))
		wantRevoked(t, "A revokes a foreign token", revokeAs(t, e.url, e.aID, e.aSecret, foreignToken(t, "", accessClaims(e.url, e.aID, e.owner.ID, e.clock.Now(), time.Minute)), nil))
		wantInactive(t, "revoked, as RS", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		wantInactive(t, "revoked, as A", introspectAs(t, e.url, e.aID, e.aSecret, tok))

		tokB := e.mustToken(t, e.bID, e.bSecret)
		wantOAuthError(t, "A revokes B's token", revokeAs(t, e.url, e.aID, e.aSecret, tokB, nil), 400, "unauthorized_client", "not issued to this client")
		wantOAuthError(t, "RS revokes B's token", revokeAs(t, e.url, e.rsID, e.rsSecret, tokB, nil), 400, "unauthorized_client", "not issued to this client")
		wantActive(t, "B's token after others tried to revoke it", introspectAs(t, e.url, e.bID, e.bSecret, tokB))

		tok2 := e.mustToken(t, e.aID, e.aSecret)
		wantOAuthError(t, "token_type_hint=refresh_token", revokeAs(t, e.url, e.aID, e.aSecret, tok2, url.Values{"token_type_hint": {"refresh_token"}}), 400, "unsupported_token_type", "refresh tokens")
		wantActive(t, "token after a refused revocation", introspectAs(t, e.url, e.aID, e.aSecret, tok2))
		wantRevoked(t, "token_type_hint=access_token", revokeAs(t, e.url, e.aID, e.aSecret, tok2, url.Values{"token_type_hint": {"access_token"}}))
		wantInactive(t, "revoked with a hint", introspectAs(t, e.url, e.aID, e.aSecret, tok2))

		// The revocation is kept until the token would have expired (plus
		// leeway), then cleaned up.
		revoked := func() bool {
			t.Helper()
			ok, err := e.store.TokenRevoked(e.ctx, claims.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !revoked() {
			t.Fatal("TokenRevoked: false after revocation")
		}
		if _, err := e.store.DeleteExpiredRevocations(e.ctx, exp); err != nil {
			t.Fatal(err)
		}
		if !revoked() {
			t.Error("revocation deleted before the token expired")
		}
		n, err := e.store.DeleteExpiredRevocations(e.ctx, exp.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if revoked() || n != 2 {
			t.Errorf("after exp+2m: %d deleted, revoked %v; want 2 deleted and the jti gone", n, revoked())
		}
	})
}

// ---- both endpoints ----

func TestIntrospectionAndRevocationRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newIntrospectEnv(t, backend)
		tok := e.mustToken(t, e.aID, e.aSecret)
		body := url.Values{"token": {tok}}.Encode()
		for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
			t.Run(strings.TrimPrefix(path, "/oauth2/"), func(t *testing.T) {
				endpoint := e.url + path
				wantOAuthError(t, "unauthenticated", callEndpoint(t, "POST", endpoint, form, body, nil), 401, "invalid_client", "client authentication required")
				wantOAuthError(t, "wrong secret", callEndpoint(t, "POST", endpoint, form, body, basic(e.aID, oauth.NewSecret())), 401, "invalid_client", "client authentication failed")
				wantOAuthError(t, "unknown client", callEndpoint(t, "POST", endpoint, form, body, basic(oauth.NewClientID(), e.aSecret)), 401, "invalid_client", "client authentication failed")
				wantOAuthError(t, "client_secret_post, wrong secret", callEndpoint(t, "POST", endpoint, form, body+"&client_id="+e.aID+"&client_secret="+oauth.NewSecret(), nil), 401, "invalid_client", "client authentication failed")
				wantOAuthError(t, "GET", callEndpoint(t, "GET", endpoint, "", "", basic(e.aID, e.aSecret)), 400, "invalid_request", "POST")
				wantOAuthError(t, "missing token", callEndpoint(t, "POST", endpoint, form, "", basic(e.aID, e.aSecret)), 400, "invalid_request", "token")
				wantOAuthError(t, "token in the query", callEndpoint(t, "POST", endpoint+"?token="+tok, form, "", basic(e.aID, e.aSecret)), 400, "invalid_request", "query")
				wantOAuthError(t, "JSON body", callEndpoint(t, "POST", endpoint, "application/json", `{"token":"`+tok+`"}`, basic(e.aID, e.aSecret)), 400, "invalid_request", "x-www-form-urlencoded")
			})
		}
		// client_secret_post authenticates too.
		r := callEndpoint(t, "POST", e.url+"/oauth2/introspect", form, body+"&client_id="+e.aID+"&client_secret="+e.aSecret, nil)
		wantActive(t, "introspection with client_secret_post", r)

		resp, err := http.Get(e.url + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var md web.Metadata
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
			t.Fatal(err)
		}
		methods := "client_secret_basic,client_secret_post,private_key_jwt"
		if md.IntrospectionEndpoint != e.url+"/oauth2/introspect" || strings.Join(md.IntrospectionAuthMethodsSupported, ",") != methods {
			t.Errorf("introspection metadata: %q %v", md.IntrospectionEndpoint, md.IntrospectionAuthMethodsSupported)
		}
		if md.RevocationEndpoint != e.url+"/oauth2/revoke" || strings.Join(md.RevocationAuthMethodsSupported, ",") != methods {
			t.Errorf("revocation metadata: %q %v", md.RevocationEndpoint, md.RevocationAuthMethodsSupported)
		}
	})
}

// With the database gone, authenticating clients get 503
// temporarily_unavailable: not 401 (their credentials may be fine) nor
// 500.
func TestIntrospectionStorageFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newIntrospectEnv(t, backend)
		tok := e.mustToken(t, e.aID, e.aSecret)
		wantActive(t, "before", introspectAs(t, e.url, e.rsID, e.rsSecret, tok))
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, "revocation", revokeAs(t, e.url, e.aID, e.aSecret, tok, nil), 503, "temporarily_unavailable", "database")
		wantOAuthError(t, "introspection", introspectAs(t, e.url, e.rsID, e.rsSecret, tok), 503, "temporarily_unavailable", "database")
		wantOAuthError(t, "token", e.token(t, e.aID, e.aSecret), 503, "temporarily_unavailable", "database")
		r := callEndpoint(t, "GET", e.url+"/readyz", "", "", nil)
		if r.status != http.StatusServiceUnavailable || r.str("database") != "unreachable" {
			t.Errorf("readyz: got %s, want 503 with database unreachable", r)
		}
	})
}
