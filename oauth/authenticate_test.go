package oauth_test

import (
	"context"
	"testing"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// Secrets of every kind (azs_, azo_, azp_) carry a checksum: a mistyped one
// is refused before the client is looked up, and a well-formed one of
// another kind than the client's is what it is, a wrong secret (its hash
// does not match).
func TestAuthenticateSecretKinds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		store := &countingStore{Store: storetest.Open(t, backend)}
		hasher, keyring := testkeys.New(t, store.Store, testIssuer)
		observed := &reasons{}
		srv, err := oauth.NewServer(oauth.Config{Issuer: testIssuer, Observer: observed, ClientCache: -1}, store, hasher, keyring, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		owner := &models.User{OrgID: models.DefaultOrgID, Email: "owner@example.com", Name: "Owner", Permissions: models.NewSet("a:read")}
		if err := store.CreateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		c, secret, err := app.NewRegistry(store.Store, app.RegistryConfig{Hasher: hasher, Issuer: testIssuer}).Create(ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: owner.Email, Name: "c", Scopes: []string{"a:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, oerr := tokenFrom(srv, "192.0.2.1", c.ID, secret); oerr != nil {
			t.Fatalf("the client's own secret: got %v, want a token", oerr)
		}

		for _, kind := range []string{models.ClientKindProject, models.ClientKindOrganization, models.ClientKindPublishable} {
			wellFormed, err := oauth.NewSecretFor(kind)
			if err != nil {
				t.Fatal(err)
			}
			mistyped := []byte(wellFormed)
			if mistyped[10] == 'x' {
				mistyped[10] = 'y'
			} else {
				mistyped[10] = 'x'
			}
			for _, tc := range []struct {
				name, secret, reason string
				lookups              int64
			}{
				{kind + " secret, well-formed", wellFormed, "wrong_secret", 1},
				{kind + " secret, one character changed", string(mistyped), "malformed_credentials", 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					before, failedBefore := store.authClient.Load(), observed.count(tc.reason)
					_, oerr := tokenFrom(srv, "192.0.2.1", c.ID, tc.secret)
					if oerr == nil || oerr.Code != "invalid_client" {
						t.Fatalf("got %v, want invalid_client", oerr)
					}
					if got := observed.count(tc.reason) - failedBefore; got != 1 {
						t.Errorf("failures observed as %s: got %d, want 1", tc.reason, got)
					}
					if got := store.authClient.Load() - before; got != tc.lookups {
						t.Errorf("client lookups: got %d, want %d", got, tc.lookups)
					}
				})
			}
		}
	})
}
