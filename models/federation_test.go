package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

func mustCreateIssuer(t *testing.T, s *models.Store, orgID, iss string) *models.TrustedIssuer {
	t.Helper()
	ti := &models.TrustedIssuer{ID: randomID("iss"), OrgID: orgID, Name: "issuer " + iss, Issuer: iss, JWKSURI: iss + "/jwks",
		Audience: "https://authz.example/orgs/x", MaxTokenLifetime: time.Hour, SingleUse: true}
	if err := s.CreateTrustedIssuer(t.Context(), ti); err != nil {
		t.Fatalf("CreateTrustedIssuer(%s): %v", iss, err)
	}
	return ti
}

// TestTrustedIssuers: an issuer belongs to one organization (another's id
// is not found), its URL is unique per organization, a federated client's
// binding is stored and read back by AuthClient with its issuer, a change
// to the issuer bumps AuthVersion, and an issuer with bound clients cannot
// be deleted until they are bound elsewhere or revoked.
func TestTrustedIssuers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		other := mustCreateOrg(t, s, "other")
		gh := mustCreateIssuer(t, s, models.DefaultOrgID, "https://token.actions.example")
		k8s := mustCreateIssuer(t, s, models.DefaultOrgID, "https://k8s.example")
		theirs := mustCreateIssuer(t, s, other.ID, "https://token.actions.example") // same URL, another organization

		dup := &models.TrustedIssuer{ID: randomID("iss"), OrgID: models.DefaultOrgID, Name: "again", Issuer: gh.Issuer, Audience: "a", MaxTokenLifetime: time.Hour}
		if err := s.CreateTrustedIssuer(ctx, dup); !errors.Is(err, models.ErrConflict) {
			t.Fatalf("CreateTrustedIssuer(same URL, same organization): got %v, want ErrConflict", err)
		}
		if _, err := s.TrustedIssuerByID(ctx, models.DefaultOrgID, theirs.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("TrustedIssuerByID(another organization's id): got %v, want ErrNotFound", err)
		}

		owner := mustCreateUser(t, s, "owner@example.com", "read")
		c := &models.Client{ID: randomID("cli"), Name: "ci", OrgID: models.DefaultOrgID, ProjectID: models.DefaultProjectID, OwnerID: owner.ID,
			AuthMethod: models.AuthFederated, Federation: models.Federation{IssuerID: theirs.ID, Subject: "repo:acme/api:ref:refs/heads/main"}}
		if err := s.CreateClient(ctx, c, nil, 0); models.ErrorCode(err) != "issuer_not_found" {
			t.Fatalf("CreateClient(bound to another organization's issuer): got %v, want issuer_not_found", err)
		}
		c.Federation = models.Federation{IssuerID: gh.ID, Subject: "repo:acme/api:ref:refs/heads/main", Conditions: models.Conditions{"repository_owner": "acme"}}
		if err := s.CreateClient(ctx, c, nil, 0); err != nil {
			t.Fatalf("CreateClient(federated): %v", err)
		}

		got, _, err := s.AuthClient(ctx, c.ID)
		if err != nil {
			t.Fatalf("AuthClient: %v", err)
		}
		if got.Federation.IssuerID != gh.ID || got.Federation.Subject != c.Federation.Subject || got.Federation.Conditions["repository_owner"] != "acme" {
			t.Errorf("AuthClient binding: got %+v, want %+v", got.Federation, c.Federation)
		}
		if ti := got.TrustedIssuer; ti == nil || ti.Issuer != gh.Issuer || ti.JWKSURI != gh.JWKSURI || ti.Audience != gh.Audience || ti.MaxTokenLifetime != time.Hour || !ti.SingleUse {
			t.Errorf("AuthClient issuer: got %+v, want %+v", got.TrustedIssuer, gh)
		}
		list, err := s.TrustedIssuers(ctx, models.DefaultOrgID)
		if err != nil || len(list) != 2 {
			t.Fatalf("TrustedIssuers: got %d, %v; want 2", len(list), err)
		}
		for _, ti := range list {
			if want := map[string]int64{gh.ID: 1, k8s.ID: 0}[ti.ID]; ti.Clients != want {
				t.Errorf("issuer %s: Clients = %d, want %d", ti.Issuer, ti.Clients, want)
			}
		}

		v0, err := s.ReadAuthVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gh.Audience = "https://authz.example/orgs/default"
		if err := s.UpdateTrustedIssuer(ctx, gh); err != nil {
			t.Fatalf("UpdateTrustedIssuer: %v", err)
		}
		if v1, _ := s.ReadAuthVersion(ctx); v1 == v0 {
			t.Errorf("AuthVersion after an issuer's audience changed: unchanged (%d)", v1)
		}
		if got, _, _ := s.AuthClient(ctx, c.ID); got.TrustedIssuer.Audience != gh.Audience {
			t.Errorf("AuthClient after the change: audience %q, want %q", got.TrustedIssuer.Audience, gh.Audience)
		}

		if err := s.DeleteTrustedIssuer(ctx, models.DefaultOrgID, gh.ID); models.ErrorCode(err) != "issuer_in_use" {
			t.Fatalf("DeleteTrustedIssuer(bound): got %v, want issuer_in_use", err)
		}
		if err := s.SetClientFederation(ctx, c.ID, models.Federation{IssuerID: theirs.ID, Subject: "x"}); models.ErrorCode(err) != "issuer_not_found" {
			t.Fatalf("SetClientFederation(another organization's issuer): got %v, want issuer_not_found", err)
		}
		if err := s.SetClientFederation(ctx, c.ID, models.Federation{IssuerID: k8s.ID, Subject: "system:serviceaccount:payments:worker"}); err != nil {
			t.Fatalf("SetClientFederation: %v", err)
		}
		if err := s.DeleteTrustedIssuer(ctx, models.DefaultOrgID, gh.ID); err != nil {
			t.Fatalf("DeleteTrustedIssuer(no longer bound): %v", err)
		}
		if err := s.DeleteTrustedIssuer(ctx, models.DefaultOrgID, theirs.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("DeleteTrustedIssuer(another organization's id): got %v, want ErrNotFound", err)
		}
		if _, err := s.RevokeClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTrustedIssuer(ctx, models.DefaultOrgID, k8s.ID); err != nil {
			t.Fatalf("DeleteTrustedIssuer(bound to a revoked client only): %v", err)
		}
		got, _, err = s.AuthClient(ctx, c.ID)
		if err != nil || got.TrustedIssuer != nil {
			t.Fatalf("AuthClient after its issuer was deleted: got issuer %+v, %v; want none", got.TrustedIssuer, err)
		}
		if first, err := s.RecordReplay(ctx, models.ReplayFederated, k8s.ID+":jti-1", time.Now().Add(time.Hour)); err != nil || !first {
			t.Fatalf("RecordReplay(federated): got %v, %v; want true", first, err)
		}
	})
}
