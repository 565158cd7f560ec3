package app_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// federationRegistry is a Registry on e's store that accepts loopback
// issuers and reads discovery documents, as the test issuer needs.
func (e *tenants) federationRegistry() *app.Registry {
	return app.NewRegistry(e.store, app.RegistryConfig{Issuer: testIssuer, Now: e.clock.Now, AllowLoopbackJWKSURI: true,
		Discovery: oauth.NewJWKSFetcher(oauth.JWKSFetcherConfig{AllowLoopbackHTTP: true})})
}

// TestTrustedIssuerRegistry: owners and admins add, change and remove
// their organization's trusted issuers (members read them), each action
// audited; without keys the issuer's discovery document names them; every
// refusal has its code; another organization's issuer is not found.
func TestTrustedIssuerRegistry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newTenants(t, backend)
		reg := e.federationRegistry()
		platform := testissuer.New(t)
		aud := testIssuer + "/orgs/acme"
		owner, admin, member := e.a.as(e.a.owner), e.a.as(e.a.admin), e.a.as(e.a.member)

		ti, err := reg.AddIssuer(e.ctx, owner, app.NewIssuer{Name: "GitHub Actions", Issuer: platform.Iss, Audience: aud})
		if err != nil {
			t.Fatalf("AddIssuer(discovered): %v", err)
		}
		if ti.JWKSURI != platform.JWKSURI() || !ti.Discovered || ti.MaxTokenLifetime != time.Hour || !ti.SingleUse {
			t.Errorf("AddIssuer: got jwks_uri %q discovered %v lifetime %s single use %v; want %q, true, 1h, true", ti.JWKSURI, ti.Discovered, ti.MaxTokenLifetime, ti.SingleUse, platform.JWKSURI())
		}
		_, err = reg.AddIssuer(e.ctx, admin, app.NewIssuer{Name: "again", Issuer: platform.Iss, Audience: aud, Keys: app.IssuerKeys{JWKSURI: platform.JWKSURI()}})
		wantCode(t, "AddIssuer(same issuer URL)", err, models.ErrConflict, "issuer_taken")
		_, err = reg.AddIssuer(e.ctx, member, app.NewIssuer{Name: "k8s", Issuer: "https://k8s.example", Audience: aud, Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}})
		wantCode(t, "AddIssuer(by a member)", err, models.ErrForbidden, "admin_required")

		other := testissuer.New(t)
		other.Iss = "https://elsewhere.example" // its discovery document names another issuer than its URL
		for _, c := range []struct {
			name, code string
			in         app.NewIssuer
		}{
			{"discovery naming another issuer", "discovery_failed", app.NewIssuer{Name: "x", Issuer: other.Server.URL, Audience: aud}},
			{"both keys", "invalid_keys", app.NewIssuer{Name: "x", Issuer: "https://a.example", Audience: aud, Keys: app.IssuerKeys{JWKSURI: "https://a.example/jwks", JWKS: platform.JWKS(t)}}},
			{"a private JWKS", "invalid_jwks", app.NewIssuer{Name: "x", Issuer: "https://a.example", Audience: aud, Keys: app.IssuerKeys{JWKS: `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`}}},
			{"http issuer", "invalid_issuer", app.NewIssuer{Name: "x", Issuer: "http://ci.example", Audience: aud, Keys: app.IssuerKeys{JWKSURI: "https://a.example/jwks"}}},
			{"no audience", "invalid_audience", app.NewIssuer{Name: "x", Issuer: "https://a.example", Keys: app.IssuerKeys{JWKSURI: "https://a.example/jwks"}}},
			{"lifetime beyond a day", "invalid_token_lifetime", app.NewIssuer{Name: "x", Issuer: "https://a.example", Audience: aud, MaxTokenLifetime: 25 * time.Hour, Keys: app.IssuerKeys{JWKSURI: "https://a.example/jwks"}}},
			{"no name", "invalid_name", app.NewIssuer{Issuer: "https://a.example", Audience: aud, Keys: app.IssuerKeys{JWKSURI: "https://a.example/jwks"}}},
		} {
			_, err := reg.AddIssuer(e.ctx, owner, c.in)
			wantCode(t, "AddIssuer("+c.name+")", err, models.ErrInvalid, c.code)
		}

		k8s, err := reg.AddIssuer(e.ctx, admin, app.NewIssuer{Name: "cluster", Issuer: "https://k8s.acme.example", Audience: aud, Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}, ReusableTokens: true, MaxTokenLifetime: 2 * time.Hour})
		if err != nil || k8s.SingleUse || k8s.JWKS == "" {
			t.Fatalf("AddIssuer(pasted JWKS, reusable tokens): got %+v, %v", k8s, err)
		}
		// Another document of the same length (one key under the same
		// kid) replaces the pasted keys.
		again := testissuer.New(t)
		if len(again.JWKS(t)) != len(platform.JWKS(t)) {
			t.Fatalf("the test issuers' documents differ in length: %d, %d", len(again.JWKS(t)), len(platform.JWKS(t)))
		}
		if _, err := reg.UpdateIssuer(e.ctx, owner, k8s.ID, app.IssuerChange{Keys: &app.IssuerKeys{JWKS: again.JWKS(t)}}); err != nil {
			t.Fatalf("UpdateIssuer(another JWKS): %v", err)
		}
		if got, _ := reg.Issuer(e.ctx, member, k8s.ID); got == nil || got.JWKS != again.JWKS(t) {
			t.Errorf("the replaced JWKS: got %+v, want the new document", got)
		}
		list, err := reg.Issuers(e.ctx, member)
		if err != nil || len(list) != 2 {
			t.Fatalf("Issuers(as a member): got %d, %v; want 2", len(list), err)
		}
		theirs := e.b.as(e.b.owner)
		_, err = reg.Issuer(e.ctx, theirs, ti.ID)
		wantCode(t, "Issuer(another organization's id)", err, models.ErrNotFound, "issuer_not_found")
		_, err = reg.UpdateIssuer(e.ctx, theirs, ti.ID, app.IssuerChange{Audience: ptr("https://evil.example")})
		wantCode(t, "UpdateIssuer(another organization's id)", err, models.ErrNotFound, "issuer_not_found")
		wantCode(t, "RemoveIssuer(another organization's id)", reg.RemoveIssuer(e.ctx, theirs, ti.ID), models.ErrNotFound, "issuer_not_found")

		newAud := testIssuer + "/orgs/acme/ci"
		if _, err := reg.UpdateIssuer(e.ctx, owner, ti.ID, app.IssuerChange{Audience: &newAud, SingleUse: ptr(false)}); err != nil {
			t.Fatalf("UpdateIssuer: %v", err)
		}
		events := mustAudit(t, e.store, models.AuditFilter{OrgID: e.a.org.ID, Action: models.AuditIssuerUpdated})
		if len(events) != 2 {
			t.Fatalf("issuer.updated events: got %d, want 2", len(events))
		}
		var detail struct{ Before, After map[string]any }
		_ = json.Unmarshal([]byte(events[0].Detail), &detail)
		if detail.Before["audience"] != aud || detail.After["audience"] != newAud || detail.After["single_use"] != false || len(detail.After) != 2 {
			t.Errorf("issuer.updated detail: got %s, want the audience and single use before and after only", events[0].Detail)
		}

		// A federated client of the member, bound to the issuer.
		bind := models.Federation{IssuerID: ti.ID, Subject: "repo:acme/api:ref:refs/heads/main", Conditions: models.Conditions{"environment": "production"}}
		in := app.NewClient{Project: "api", OwnerEmail: e.a.member.Email, Name: "deploy", Scopes: []string{"read"}, AuthMethod: models.AuthFederated, Federation: bind}
		c, secret, err := reg.Create(e.ctx, member, in)
		if err != nil || secret != "" {
			t.Fatalf("Create(federated): got secret %q, %v; want none", secret, err)
		}
		in.Federation.Subject = "repo:*"
		_, _, err = reg.Create(e.ctx, member, in)
		wantCode(t, "Create(too wide a subject)", err, models.ErrInvalid, "binding_too_wide")
		in.Federation = models.Federation{IssuerID: "", Subject: bind.Subject}
		_, _, err = reg.Create(e.ctx, member, in)
		wantCode(t, "Create(federated without issuer)", err, models.ErrInvalid, "federation_required")
		in.AuthMethod, in.Federation = models.AuthSecret, bind
		_, _, err = reg.Create(e.ctx, member, in)
		wantCode(t, "Create(a binding on a secret client)", err, models.ErrInvalid, "invalid_auth_method")
		theirIssuer, err := reg.AddIssuer(e.ctx, theirs, app.NewIssuer{Name: "theirs", Issuer: "https://ci.globex.example", Audience: aud, Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = reg.SetFederation(e.ctx, member, c.ID, models.Federation{IssuerID: theirIssuer.ID, Subject: bind.Subject})
		wantCode(t, "SetFederation(another organization's issuer)", err, models.ErrNotFound, "issuer_not_found")
		_, _, err = reg.Rotate(e.ctx, member, c.ID, nil)
		wantCode(t, "Rotate(federated)", err, models.ErrConflict, "federated_client")

		wantCode(t, "RemoveIssuer(bound)", reg.RemoveIssuer(e.ctx, owner, ti.ID), models.ErrConflict, "issuer_in_use")
		k8sBind := models.Federation{IssuerID: k8s.ID, Subject: "system:serviceaccount:payments:worker", Conditions: models.Conditions{"kubernetes.io/namespace": "payments"}}
		if _, err := reg.SetFederation(e.ctx, member, c.ID, k8sBind); err != nil {
			t.Fatalf("SetFederation: %v", err)
		}
		events = mustAudit(t, e.store, models.AuditFilter{ClientID: c.ID, Action: models.AuditClientFederation})
		if len(events) != 1 || !strings.Contains(events[0].Detail, `"before":{"conditions":{"environment":"production"},"issuer_id":"`+ti.ID) ||
			!strings.Contains(events[0].Detail, `"subject":"system:serviceaccount:payments:worker"`) {
			t.Errorf("client.federation_replaced: got %+v, want the bindings before and after", events)
		}
		if err := reg.RemoveIssuer(e.ctx, admin, ti.ID); err != nil {
			t.Fatalf("RemoveIssuer(no longer bound): %v", err)
		}
		if got := mustAudit(t, e.store, models.AuditFilter{OrgID: e.a.org.ID, Action: models.AuditIssuerRemoved}); len(got) != 1 {
			t.Errorf("issuer.removed events: got %d, want 1", len(got))
		}
		if _, err := reg.Issuer(e.ctx, owner, ti.ID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("Issuer(removed): got %v, want not found", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
