package oauth_test

import (
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

// newClient stores c with a fresh generated secret (or, when c.ID is set
// and legacySecret is not empty, that imported secret) straight through
// the Store, and returns its id and secret. The token endpoint's tests
// make their clients here rather than through the application's registry:
// they are about what the endpoint does with what is stored, including
// what the registry would refuse to store. Unset fields get the defaults
// the registry gives: the default organization, a project client of its
// default project, active, expiring in a year.
func newClient(t testing.TB, store *models.Store, hasher *oauth.Hasher, c models.Client, legacySecret string) (string, string) {
	t.Helper()
	if c.ID == "" {
		c.ID = oauth.NewClientID()
	}
	if c.Name == "" {
		c.Name = "client " + c.ID
	}
	if c.OrgID == "" {
		c.OrgID = models.DefaultOrgID
	}
	if c.Kind == "" {
		c.Kind = models.ClientKindProject
	}
	format, secret := models.FormatLegacy, legacySecret
	if legacySecret == "" {
		format = models.FormatCurrent
		var err error
		if secret, err = oauth.NewSecretFor(c.Kind); err != nil {
			t.Fatalf("secret for kind %q: %v", c.Kind, err)
		}
	}
	if c.ProjectID == "" && c.Kind != models.ClientKindOrganization && c.OrgID == models.DefaultOrgID {
		c.ProjectID = models.DefaultProjectID
	}
	if c.ExpiresAt == nil {
		exp := time.Now().Add(365 * 24 * time.Hour)
		c.ExpiresAt = &exp
	}
	prefix, last := oauth.SecretDisplay(secret)
	s := &models.ClientSecret{ID: oauth.NewClientID(), Hash: hasher.Hash(secret), Prefix: prefix, Last4: last, Format: format}
	if err := store.CreateClient(t.Context(), &c, s, 0); err != nil {
		t.Fatalf("create client %s: %v", c.Name, err)
	}
	return c.ID, secret
}

// newUser stores a member (by default) of the organization u.OrgID (by
// default the default organization).
func newUser(t testing.TB, store *models.Store, u models.User) *models.User {
	t.Helper()
	if u.OrgID == "" {
		u.OrgID = models.DefaultOrgID
	}
	if u.Name == "" {
		u.Name = "User " + u.Email
	}
	if err := store.CreateUser(t.Context(), &u); err != nil {
		t.Fatalf("create user %s: %v", u.Email, err)
	}
	return &u
}
