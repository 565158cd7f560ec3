package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

// fedEnv is a token endpoint with two platforms it may trust: a GitHub
// Actions-like issuer and a Kubernetes-like one, each a real issuer in the
// test's process, and a clock for the JWKS fetcher's cooldown and cache.
type fedEnv struct {
	*env
	reg           *app.Registry
	clock         *atomic.Int64 // the JWKS fetcher's, unix nanoseconds
	github, kube  *testissuer.Issuer
	aud           string
	ghIss, kubeIs *models.TrustedIssuer
	failures      *lastFailure
}

// lastFailure is an oauth.Observer keeping the reason of the last failed
// client authentication.
type lastFailure struct {
	mu     sync.Mutex
	reason string
}

func (l *lastFailure) AuthFailed(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reason = reason
}

func (l *lastFailure) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

func newFedEnv(t *testing.T, backend string, opts ...envOption) *fedEnv {
	t.Helper()
	clock := new(atomic.Int64)
	clock.Store(time.Now().UnixNano())
	failures := &lastFailure{}
	opts = append(opts, func(s envSetup) {
		if s.oauth != nil {
			s.oauth.JWKS = oauth.JWKSFetcherConfig{AllowLoopbackHTTP: true, Cooldown: time.Minute, Now: func() time.Time { return time.Unix(0, clock.Load()) }}
			s.oauth.Observer = failures
		}
	})
	e := &fedEnv{env: newEnv(t, backend, opts...), clock: clock, github: testissuer.New(t), kube: testissuer.New(t), failures: failures}
	e.reg = app.NewRegistry(e.store, app.RegistryConfig{Issuer: e.url, AllowLoopbackJWKSURI: true,
		Discovery: oauth.NewJWKSFetcher(oauth.JWKSFetcherConfig{AllowLoopbackHTTP: true})})
	e.aud = e.url + "/orgs/default"
	var err error
	op := app.Operator(models.DefaultOrgID)
	// GitHub's issuer through its discovery document; each token once.
	if e.ghIss, err = e.reg.AddIssuer(context.Background(), op, app.NewIssuer{Name: "GitHub Actions", Issuer: e.github.Iss, Audience: e.aud}); err != nil {
		t.Fatalf("add the GitHub-like issuer: %v", err)
	}
	// The cluster's with its jwks_uri; its pods reuse a projected token.
	if e.kubeIs, err = e.reg.AddIssuer(context.Background(), op, app.NewIssuer{Name: "cluster", Issuer: e.kube.Iss, Audience: e.aud,
		Keys: app.IssuerKeys{JWKSURI: e.kube.JWKSURI()}, ReusableTokens: true}); err != nil {
		t.Fatalf("add the Kubernetes-like issuer: %v", err)
	}
	return e
}

// federated creates a federated client of the default project bound to f.
func (e *fedEnv) federated(f models.Federation) string {
	e.t.Helper()
	c, _, err := e.reg.Create(context.Background(), app.Operator(models.DefaultOrgID), app.NewClient{
		OwnerEmail: e.owner.Email, Name: "workload", Project: "default", Scopes: []string{readScope}, AuthMethod: models.AuthFederated, Federation: f,
	})
	if err != nil {
		e.t.Fatalf("create federated client: %v", err)
	}
	return c.ID
}

// present sends token as client id's client assertion.
func (e *fedEnv) present(id, token string) (*http.Response, map[string]string) {
	e.t.Helper()
	form := assertionForm(token)
	form.Set("client_id", id)
	return e.postForm(form, nil)
}

// secondInstance starts another token endpoint on e's database, as a
// second instance behind a load balancer would be, and returns its URL.
func (e *fedEnv) secondInstance() string {
	e.t.Helper()
	store := storetest.OpenURL(e.t, e.dbURL)
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	e.t.Cleanup(srv.Close)
	hasher, keyring := testkeys.New(e.t, store, e.url)
	tokens, err := oauth.NewServer(oauth.Config{Issuer: e.url, JWKS: oauth.JWKSFetcherConfig{AllowLoopbackHTTP: true}}, store, hasher, keyring, nil, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	handler = web.New(web.Config{Issuer: e.url}, tokens, keyring, store)
	return srv.URL
}

// presentAt sends token as client id's client assertion to the token
// endpoint at base.
func (e *fedEnv) presentAt(base, id, token string) (*http.Response, map[string]string) {
	e.t.Helper()
	form := assertionForm(token)
	form.Set("client_id", id)
	resp, err := http.PostForm(base+"/oauth2/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		e.t.Fatal(err)
	}
	body := map[string]string{}
	for k, v := range raw {
		body[k] = fmt.Sprint(v)
	}
	return resp, body
}

// TestFederatedConditions is the table of federated client
// authentication through the real token endpoint: tokens of a GitHub
// Actions-like and a Kubernetes-like issuer that match their client's
// binding get a token with the owner's permissions; near misses, expired,
// early, too long-lived, wrongly addressed, foreign, unsigned and
// replayed ones are refused with invalid_client, the same answer as an
// unknown client until the signature verifies.
func TestFederatedConditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newFedEnv(t, backend)
		exact := e.federated(models.Federation{IssuerID: e.ghIss.ID, Subject: "repo:acme/api:ref:refs/heads/main",
			Conditions: models.Conditions{"repository_owner": "acme", "environment": "production"}})
		glob := e.federated(models.Federation{IssuerID: e.ghIss.ID, Subject: "repo:acme/api:*"})
		kube := e.federated(models.Federation{IssuerID: e.kubeIs.ID, Subject: "system:serviceaccount:payments:worker",
			Conditions: models.Conditions{"kubernetes.io/namespace": "payments", "kubernetes.io/serviceaccount/name": "worker"}})

		gh := func(edit func(map[string]any)) string {
			c := e.github.GitHub(e.aud)
			if edit != nil {
				edit(c)
			}
			return e.github.Sign(t, c)
		}
		k8s := func(edit func(map[string]any)) string {
			c := e.kube.Kubernetes(e.aud)
			if edit != nil {
				edit(c)
			}
			return e.kube.Sign(t, c)
		}
		set := func(name string, v any) func(map[string]any) { return func(c map[string]any) { c[name] = v } }
		now := time.Now()
		rogue, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		unknown := "client authentication failed" // the answer to an unknown client

		for _, c := range []struct {
			name, client, token string
			describes           string // "" accepted; else part of the error_description
			reason              string // the failure's reason, as metrics and the audit log name it
		}{
			{"exact subject and conditions", exact, gh(nil), "", ""},
			{"glob: another branch", glob, gh(set("sub", "repo:acme/api:ref:refs/heads/feature/x")), "", ""},
			{"glob: an environment subject", glob, gh(set("sub", "repo:acme/api:environment:production")), "", ""},
			{"nested conditions", kube, k8s(nil), "", ""},
			{"another branch", exact, gh(set("sub", "repo:acme/api:ref:refs/heads/dev")), "sub does not match", "federation_subject"},
			{"a longer branch name", exact, gh(set("sub", "repo:acme/api:ref:refs/heads/main-old")), "sub does not match", "federation_subject"},
			{"a repository sharing the prefix", glob, gh(set("sub", "repo:acme/api-internal:ref:refs/heads/main")), "sub does not match", "federation_subject"},
			{"another owner", glob, gh(set("sub", "repo:acme-evil/api:ref:refs/heads/main")), "sub does not match", "federation_subject"},
			{"another namespace's service account", kube, k8s(set("sub", "system:serviceaccount:billing:worker")), "sub does not match", "federation_subject"},
			{"namespace claim differs", kube, k8s(func(c map[string]any) { c["kubernetes.io"].(map[string]any)["namespace"] = "billing" }), `"kubernetes.io/namespace"`, "federation_condition"},
			{"nested claim missing", kube, k8s(func(c map[string]any) { delete(c["kubernetes.io"].(map[string]any), "serviceaccount") }), `"kubernetes.io/serviceaccount/name"`, "federation_condition"},
			{"condition value differs by case", exact, gh(set("environment", "Production")), `"environment"`, "federation_condition"},
			{"a number where a string is expected", exact, gh(set("repository_owner", 117243)), `"repository_owner"`, "federation_condition"},
			{"an array where a string is expected", exact, gh(set("environment", []string{"production"})), `"environment"`, "federation_condition"},
			{"condition claim missing", exact, gh(func(c map[string]any) { delete(c, "environment") }), `"environment"`, "federation_condition"},
			{"expired", exact, gh(func(c map[string]any) {
				c["iat"], c["nbf"], c["exp"] = now.Add(-10*time.Minute).Unix(), now.Add(-10*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
			}), "expired", "assertion_expired"},
			{"not yet valid", exact, gh(set("nbf", now.Add(3*time.Minute).Unix())), "not valid yet", "assertion_not_yet_valid"},
			{"issued in the future", exact, gh(set("iat", now.Add(3*time.Minute).Unix())), "not valid yet", "assertion_not_yet_valid"},
			{"lifetime beyond the issuer's bound", exact, gh(set("exp", now.Add(2*time.Hour).Unix())), "more than 1h0m0s ahead", "assertion_lifetime"},
			{"no exp", exact, gh(func(c map[string]any) { delete(c, "exp") }), "exp", "assertion_no_exp"},
			{"wrong audience", exact, gh(set("aud", "https://github.com/acme")), "aud must name", "assertion_audience"},
			{"audience of another organization", exact, gh(set("aud", e.url+"/orgs/globex")), "aud must name", "assertion_audience"},
			{"iss of another trusted issuer, signed by this one's key", exact, gh(set("iss", e.kube.Iss)), "iss is not the client's trusted issuer", "federation_issuer"},
			{"a token of another trusted issuer (under the same kid)", exact, k8s(func(c map[string]any) { c["sub"] = "repo:acme/api:ref:refs/heads/main" }), unknown, "assertion_signature"},
			{"unknown key", exact, testissuer.SignWith(t, "rogue", rogue, e.github.GitHub(e.aud)), unknown, "assertion_key"},
			{"bad signature under the issuer's kid", exact, testissuer.SignWith(t, e.github.Kid(), rogue, e.github.GitHub(e.aud)), unknown, "assertion_signature"},
			{"tampered payload", exact, tamper(t, gh(nil)), unknown, "assertion_signature"},
			{"not a JWT", exact, "not.a.jwt", unknown, "assertion_malformed"},
			{"no jti (single use)", exact, gh(func(c map[string]any) { delete(c, "jti") }), "jti", "assertion_no_jti"},
			{"unknown client", "authz_no_such_client", gh(nil), unknown, "unknown_client"},
		} {
			t.Run(c.name, func(t *testing.T) {
				resp, body := e.present(c.client, c.token)
				if c.describes == "" {
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("got %d %v, want 200", resp.StatusCode, body)
					}
					claims, err := e.verifier(e.url).Verify(context.Background(), body["access_token"])
					if err != nil || claims.ClientID != c.client || claims.Scope != readScope {
						t.Fatalf("token: %v, %+v; want client %s with scope %s", err, claims, c.client, readScope)
					}
					return
				}
				if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(body["error_description"], c.describes) {
					t.Fatalf("got %d %v, want 401 invalid_client describing %q", resp.StatusCode, body, c.describes)
				}
				if got := e.failures.last(); got != c.reason {
					t.Errorf("failure reason %q, want %q", got, c.reason)
				}
			})
		}

		t.Run("replay refused, also by a second Store and a second instance on the database", func(t *testing.T) {
			claims := e.github.GitHub(e.aud)
			token := e.github.Sign(t, claims)
			if resp, body := e.present(exact, token); resp.StatusCode != 200 {
				t.Fatalf("first use: %d %v", resp.StatusCode, body)
			}
			if resp, body := e.present(exact, token); resp.StatusCode != 401 || !strings.Contains(body["error_description"], "used before") {
				t.Fatalf("second use: %d %v, want 401 used before", resp.StatusCode, body)
			}
			if resp, body := e.present(glob, token); resp.StatusCode != 401 || !strings.Contains(body["error_description"], "used before") {
				t.Fatalf("second use by another client of the issuer: %d %v, want 401 used before", resp.StatusCode, body)
			}
			second := storetest.OpenURL(t, e.dbURL)
			first, err := second.RecordReplay(context.Background(), models.ReplayFederated, e.ghIss.ID+":"+claims["jti"].(string), time.Now().Add(time.Hour))
			if err != nil || first {
				t.Fatalf("second Store: first use %t, %v; want a replay", first, err)
			}
			fresh := e.github.Sign(t, e.github.GitHub(e.aud))
			if resp, body := e.present(exact, fresh); resp.StatusCode != 200 {
				t.Fatalf("first use on the first instance: %d %v", resp.StatusCode, body)
			}
			if resp, body := e.presentAt(e.secondInstance(), exact, fresh); resp.StatusCode != 401 || !strings.Contains(body["error_description"], "used before") {
				t.Fatalf("second use on a second instance: %d %v, want 401 used before", resp.StatusCode, body)
			}
		})
		t.Run("a token refused by the binding is not spent", func(t *testing.T) {
			token := gh(set("sub", "repo:acme/api:ref:refs/heads/dev"))
			if resp, _ := e.present(exact, token); resp.StatusCode != 401 {
				t.Fatalf("wrong client: %d, want 401", resp.StatusCode)
			}
			if resp, body := e.present(glob, token); resp.StatusCode != 200 {
				t.Fatalf("its own client: %d %v, want 200", resp.StatusCode, body)
			}
		})
		t.Run("reuse allowed when the issuer's tokens are not single use", func(t *testing.T) {
			token := k8s(func(c map[string]any) { delete(c, "jti") })
			for i := range 3 {
				if resp, body := e.present(kube, token); resp.StatusCode != 200 {
					t.Fatalf("use %d: %d %v", i+1, resp.StatusCode, body)
				}
			}
		})
		t.Run("a federated client's secret is refused", func(t *testing.T) {
			secret, err := oauth.NewSecretFor(models.ClientKindProject)
			if err != nil {
				t.Fatal(err)
			}
			resp, body := e.postForm(url.Values{"grant_type": {"client_credentials"}, "client_id": {exact}, "client_secret": {secret}}, nil)
			if resp.StatusCode != 401 || !strings.Contains(body["error_description"], "workload token") {
				t.Fatalf("got %d %v", resp.StatusCode, body)
			}
		})
		t.Run("the owner's current permissions", func(t *testing.T) {
			e.owner.Permissions = models.NewSet(createScope)
			if err := e.store.UpdateUser(context.Background(), e.owner); err != nil {
				t.Fatal(err)
			}
			resp, body := e.present(glob, gh(nil))
			if resp.StatusCode != 400 || body["error"] != "unauthorized_client" || !strings.Contains(body["error_description"], "owner no longer holds") {
				t.Fatalf("owner without the client's scope: %d %v, want 400 unauthorized_client", resp.StatusCode, body)
			}
		})
	})
}

// tamper changes a signed token's payload (its sub becomes another
// branch's), keeping its signature.
func tamper(t *testing.T, token string) string {
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["sub"] = "repo:acme/api:ref:refs/heads/evil"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// TestFederatedJWKSRotation: the issuer rotates its key; a token signed
// with the new kid is refused within the fetcher's cooldown, accepted after
// it (one more fetch); once the old key is no longer published and the
// keys are fetched again, a token signed with it is refused.
func TestFederatedJWKSRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newFedEnv(t, backend)
		id := e.federated(models.Federation{IssuerID: e.ghIss.ID, Subject: "repo:acme/api:ref:refs/heads/main"})
		oldToken := e.github.Sign(t, e.github.GitHub(e.aud)) // signed with the first key, kept for later
		if resp, body := e.present(id, e.github.Sign(t, e.github.GitHub(e.aud))); resp.StatusCode != 200 || e.github.Fetches() != 1 {
			t.Fatalf("first key: %d %v, %d fetches; want 200 after one", resp.StatusCode, body, e.github.Fetches())
		}
		e.github.Rotate(t)
		newToken := e.github.Sign(t, e.github.GitHub(e.aud))
		if resp, _ := e.present(id, newToken); resp.StatusCode != 401 || e.github.Fetches() != 1 {
			t.Fatalf("new kid within the cooldown: %d, %d fetches; want 401 and no fetch", resp.StatusCode, e.github.Fetches())
		}
		e.clock.Add(int64(time.Minute))
		if resp, body := e.present(id, newToken); resp.StatusCode != 200 || e.github.Fetches() != 2 {
			t.Fatalf("new kid after the cooldown: %d %v, %d fetches; want 200 after one more fetch", resp.StatusCode, body, e.github.Fetches())
		}
		e.github.Retire()
		e.clock.Add(int64(oauth.DefaultJWKSMaxAge)) // the keys in memory are old: fetched again
		if resp, body := e.present(id, oldToken); resp.StatusCode != 401 || body["error_description"] != "client authentication failed" || e.github.Fetches() != 3 {
			t.Fatalf("the retired key after a fetch: %d %v, %d fetches; want 401 as an unknown client after a third fetch", resp.StatusCode, body, e.github.Fetches())
		}
	})
}

// TestFederatedIssuerChanges: a change to the trusted issuer or to the
// client's binding holds at the next request; an issuer is removed only
// once no client is bound to it, and its tokens no longer authenticate
// the client rebound elsewhere. Failures spend the brute-force budget.
func TestFederatedIssuerChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		fixed := time.Now()
		e := newFedEnv(t, backend, func(s envSetup) {
			if s.server != nil {
				s.server.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 1000, FailuresPerPair: 3, FailuresPerIP: 100, Now: func() time.Time { return fixed }}))
			}
		})
		ctx, op := context.Background(), app.Operator(models.DefaultOrgID)
		id := e.federated(models.Federation{IssuerID: e.ghIss.ID, Subject: "repo:acme/api:ref:refs/heads/main"})
		if resp, body := e.present(id, e.github.Sign(t, e.github.GitHub(e.aud))); resp.StatusCode != 200 {
			t.Fatalf("before the change: %d %v", resp.StatusCode, body)
		}
		newAud := e.url + "/orgs/default/ci"
		if _, err := e.reg.UpdateIssuer(ctx, op, e.ghIss.ID, app.IssuerChange{Audience: &newAud}); err != nil {
			t.Fatal(err)
		}
		if resp, body := e.present(id, e.github.Sign(t, e.github.GitHub(e.aud))); resp.StatusCode != 401 || !strings.Contains(body["error_description"], "aud") {
			t.Fatalf("the old audience after the change: %d %v, want 401", resp.StatusCode, body)
		}
		if resp, body := e.present(id, e.github.Sign(t, e.github.GitHub(newAud))); resp.StatusCode != 200 {
			t.Fatalf("the new audience: %d %v", resp.StatusCode, body)
		}

		if err := e.reg.RemoveIssuer(ctx, op, e.ghIss.ID); models.ErrorCode(err) != "issuer_in_use" {
			t.Fatalf("RemoveIssuer(bound): got %v, want issuer_in_use", err)
		}
		if _, err := e.reg.SetFederation(ctx, op, id, models.Federation{IssuerID: e.kubeIs.ID, Subject: "system:serviceaccount:payments:worker"}); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.RemoveIssuer(ctx, op, e.ghIss.ID); err != nil {
			t.Fatalf("RemoveIssuer(no longer bound): %v", err)
		}
		if resp, body := e.present(id, e.github.Sign(t, e.github.GitHub(newAud))); resp.StatusCode != 401 {
			t.Fatalf("the removed issuer's token: %d %v, want 401", resp.StatusCode, body)
		}
		if resp, body := e.present(id, e.kube.Sign(t, e.kube.Kubernetes(e.aud))); resp.StatusCode != 200 {
			t.Fatalf("the new binding: %d %v", resp.StatusCode, body)
		}

		// A revoked client does not hold its issuer: once the issuer is
		// removed, the client's tokens are answered as an unknown client's.
		third := testissuer.New(t)
		gone, err := e.reg.AddIssuer(ctx, op, app.NewIssuer{Name: "gone", Issuer: third.Iss, Audience: e.aud, Keys: app.IssuerKeys{JWKSURI: third.JWKSURI()}})
		if err != nil {
			t.Fatal(err)
		}
		orphan := e.federated(models.Federation{IssuerID: gone.ID, Subject: "repo:acme/api:*"})
		if _, err := e.reg.Revoke(ctx, op, orphan); err != nil {
			t.Fatal(err)
		}
		if err := e.reg.RemoveIssuer(ctx, op, gone.ID); err != nil {
			t.Fatalf("RemoveIssuer(bound to a revoked client only): %v", err)
		}
		if resp, body := e.present(orphan, third.Sign(t, third.GitHub(e.aud))); resp.StatusCode != 401 || body["error_description"] != "client authentication failed" {
			t.Fatalf("a client whose issuer was removed: %d %v, want 401 as an unknown client", resp.StatusCode, body)
		}

		for i := range 4 { // the budget, then one more: backoff starts
			if resp, _ := e.present(id, e.kube.Sign(t, e.kube.Kubernetes("https://elsewhere.example"))); resp.StatusCode != 401 {
				t.Fatalf("failure %d: %d", i+1, resp.StatusCode)
			}
		}
		resp, body := e.present(id, e.kube.Sign(t, e.kube.Kubernetes(e.aud)))
		if resp.StatusCode != http.StatusTooManyRequests || body["error"] != "slow_down" {
			t.Fatalf("after the budget: %d %v, want 429 slow_down", resp.StatusCode, body)
		}
	})
}

// TestAdminIssuers: the admin API manages the organization's trusted
// issuers (owners and admins; members read them) and federated clients'
// bindings, each refusal a 4xx with its code: another organization's
// issuer is 404 whatever the route, too wide a binding 400, a bound issuer
// 409 until the client is bound elsewhere.
func TestAdminIssuers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		tok, memberTok := e.login(adminEmail, adminPassword), e.login(memberEmail, memberPass)
		platform := testissuer.New(t)
		var jwks map[string]any
		_ = json.Unmarshal([]byte(platform.JWKS(t)), &jwks)
		aud := e.url + "/orgs/default"
		gh := map[string]any{"name": "GitHub Actions", "issuer": "https://token.actions.example", "jwks": jwks, "audience": aud}

		r := e.call(tok, "POST", orgAPI+"/issuers", gh, nil)
		wantAPI(t, "create an issuer", r, http.StatusCreated, "")
		ghID := r.str("id")
		if r.str("keys_source") != "jwks" || r.str("max_token_lifetime") != "1h0m0s" || r.body["single_use"] != true || r.header.Get("Location") != orgAPI+"/issuers/"+ghID {
			t.Errorf("created issuer: %s", r)
		}
		wantAPI(t, "the same issuer again", e.call(tok, "POST", orgAPI+"/issuers", gh, nil), http.StatusConflict, "issuer_taken")
		wantAPI(t, "an issuer by a member", e.call(memberTok, "POST", orgAPI+"/issuers", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks, "audience": aud}, nil), http.StatusForbidden, "")
		for _, c := range []struct {
			name, code string
			body       any
		}{
			{"http issuer", "invalid_issuer", map[string]any{"name": "x", "issuer": "http://ci.example", "jwks": jwks, "audience": aud}},
			{"no audience", "invalid_audience", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks}},
			{"both keys", "invalid_keys", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks, "jwks_uri": "https://x.example/jwks", "audience": aud}},
			{"no keys and no discovery", "discovery_failed", map[string]any{"name": "x", "issuer": "https://x.example", "audience": aud}},
			{"a lifetime of two days", "invalid_token_lifetime", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks, "audience": aud, "max_token_lifetime": "2d"}},
			{"a lifetime that is no duration", "invalid_duration", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks, "audience": aud, "max_token_lifetime": "soon"}},
			{"an unknown field", "invalid_json", map[string]any{"name": "x", "issuer": "https://x.example", "jwks": jwks, "audience": aud, "secret": "x"}},
		} {
			wantAPI(t, c.name, e.call(tok, "POST", orgAPI+"/issuers", c.body, nil), http.StatusBadRequest, c.code)
		}
		r = e.call(tok, "POST", orgAPI+"/issuers", map[string]any{"name": "cluster", "issuer": "https://k8s.example", "jwks": jwks, "audience": aud, "single_use": false, "max_token_lifetime": "2h"}, nil)
		wantAPI(t, "a reusable-token issuer", r, http.StatusCreated, "")
		k8sID := r.str("id")
		if r.body["single_use"] != false || r.str("max_token_lifetime") != "2h0m0s" {
			t.Errorf("reusable-token issuer: %s", r)
		}
		r = e.call(memberTok, "GET", orgAPI+"/issuers", nil, nil)
		if items, _ := r.body["items"].([]any); r.status != 200 || len(items) != 2 {
			t.Errorf("list as a member: %s", r)
		}

		// A federated client of the member.
		r = e.call(memberTok, "POST", orgAPI+"/clients", map[string]any{"name": "deploy", "project": "default", "scopes": []string{readScope}, "token_endpoint_auth_method": "federated",
			"federation": map[string]any{"issuer_id": ghID, "subject": "repo:acme/api:ref:refs/heads/main", "conditions": map[string]string{"environment": "production"}}}, nil)
		wantAPI(t, "create a federated client", r, http.StatusCreated, "")
		id := r.str("client_id")
		if f, _ := r.body["federation"].(map[string]any); r.str("token_endpoint_auth_method") != "federated" || f["issuer_id"] != ghID || r.body["client_secret"] != nil {
			t.Errorf("federated client: %s", r)
		}
		wantAPI(t, "too wide a binding", e.call(memberTok, "POST", orgAPI+"/clients", map[string]any{"name": "wide", "project": "default", "token_endpoint_auth_method": "federated",
			"federation": map[string]any{"issuer_id": k8sID, "subject": "system:serviceaccount:payments:default"}}, nil), http.StatusBadRequest, "binding_too_wide")
		wantAPI(t, "no binding", e.call(memberTok, "POST", orgAPI+"/clients", map[string]any{"name": "none", "project": "default", "token_endpoint_auth_method": "federated"}, nil), http.StatusBadRequest, "federation_required")
		wantAPI(t, "rotate a federated client", e.call(memberTok, "POST", orgAPI+"/clients/"+id+"/rotate", map[string]any{}, nil), http.StatusConflict, "federated_client")

		other := e.newTenant("other")
		r = e.call(other.ownerTok, "POST", orgPath("other")+"/issuers", map[string]any{"name": "theirs", "issuer": "https://ci.other.example", "jwks": jwks, "audience": aud}, nil)
		wantAPI(t, "another organization's issuer", r, http.StatusCreated, "")
		theirs := r.str("id")
		for _, c := range []struct{ method, path string }{{"GET", "/issuers/" + theirs}, {"PATCH", "/issuers/" + theirs}, {"DELETE", "/issuers/" + theirs}} {
			var body any
			if c.method == "PATCH" {
				body = map[string]any{"audience": "https://evil.example"}
			}
			wantAPI(t, c.method+" another organization's issuer", e.call(tok, c.method, orgAPI+c.path, body, nil), http.StatusNotFound, "issuer_not_found")
		}
		wantAPI(t, "bind to another organization's issuer", e.call(memberTok, "PUT", orgAPI+"/clients/"+id+"/federation", map[string]any{"issuer_id": theirs, "subject": "repo:acme/api:*"}, nil), http.StatusNotFound, "issuer_not_found")
		wantAPI(t, "federation of a secret client", e.call(other.ownerTok, "PUT", orgPath("other")+"/clients/"+other.clients[models.ClientKindProject]+"/federation", map[string]any{"issuer_id": theirs, "subject": "repo:acme/api:*"}, nil), http.StatusConflict, "not_federated_client")
		wantAPI(t, "federation of another organization's client", e.call(tok, "PUT", orgAPI+"/clients/"+other.clients[models.ClientKindProject]+"/federation", map[string]any{"issuer_id": ghID, "subject": "repo:acme/api:*"}, nil), http.StatusNotFound, "")

		r = e.call(tok, "PATCH", orgAPI+"/issuers/"+ghID, map[string]any{"audience": aud + "/ci", "single_use": false}, nil)
		if r.status != 200 || r.str("audience") != aud+"/ci" || r.body["single_use"] != false || r.body["clients"] != float64(1) {
			t.Errorf("patch the issuer: %s", r)
		}
		wantAPI(t, "patch the issuer URL", e.call(tok, "PATCH", orgAPI+"/issuers/"+ghID, map[string]any{"issuer": "https://elsewhere.example"}, nil), http.StatusBadRequest, "invalid_issuer")
		wantAPI(t, "patch by a member", e.call(memberTok, "PATCH", orgAPI+"/issuers/"+ghID, map[string]any{"name": "mine"}, nil), http.StatusForbidden, "")
		wantAPI(t, "delete a bound issuer", e.call(tok, "DELETE", orgAPI+"/issuers/"+ghID, nil, nil), http.StatusConflict, "issuer_in_use")

		r = e.call(memberTok, "PUT", orgAPI+"/clients/"+id+"/federation", map[string]any{"issuer_id": k8sID, "subject": "system:serviceaccount:payments:worker", "conditions": map[string]string{"kubernetes.io/namespace": "payments"}}, nil)
		if f, _ := r.body["federation"].(map[string]any); r.status != 200 || f["issuer_id"] != k8sID {
			t.Errorf("replace the binding: %s", r)
		}
		e.lastAudit(tok, id, models.AuditClientFederation)
		wantAPI(t, "delete the issuer no longer bound", e.call(tok, "DELETE", orgAPI+"/issuers/"+ghID, nil, nil), http.StatusNoContent, "")
		wantAPI(t, "the deleted issuer", e.call(tok, "GET", orgAPI+"/issuers/"+ghID, nil, nil), http.StatusNotFound, "issuer_not_found")
	})
}
