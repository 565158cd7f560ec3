package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// TestChangesElsewhereHoldAtNextRequest makes each change that decides a
// token request through a second Store on the same database, as the CLI or
// another instance would, while the server holds the client in its cache:
// the very next request must see it.
func TestChangesElsewhereHoldAtNextRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		other := storetest.OpenURL(t, e.dbURL)
		ctx := context.Background()
		token := func(id, secret, params string) (int, map[string]string) {
			t.Helper()
			resp, body := e.post("POST", "/oauth2/token", form, "grant_type=client_credentials"+params, basic(id, secret))
			return resp.StatusCode, body
		}
		// warm asks twice, so that the second answer comes from the cache.
		warm := func(id, secret string) {
			t.Helper()
			for range 2 {
				if status, body := token(id, secret, ""); status != http.StatusOK {
					t.Fatalf("before the change: got %d %v, want 200", status, body)
				}
			}
		}
		refused := func(what, id, secret string, wantStatus int, wantError, wantDescription string) {
			t.Helper()
			status, body := token(id, secret, "")
			if status != wantStatus || body["error"] != wantError || !strings.Contains(body["error_description"], wantDescription) {
				t.Errorf("%s: got %d %v, want %d %s (%q)", what, status, body, wantStatus, wantError, wantDescription)
			}
		}

		id, secret := e.client(app.NewClient{Scopes: []string{readScope}})
		warm(id, secret)
		c, err := other.ClientByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.RevokeSecret(ctx, id, c.Secrets[0].ID); err != nil {
			t.Fatal(err)
		}
		refused("secret revoked elsewhere", id, secret, 401, "invalid_client", "")

		id, secret = e.client(app.NewClient{Scopes: []string{readScope}})
		warm(id, secret)
		if _, err := other.RevokeClient(ctx, id); err != nil {
			t.Fatal(err)
		}
		refused("client revoked elsewhere", id, secret, 401, "invalid_client", "revoked")

		id, secret = e.client(app.NewClient{Scopes: []string{readScope}})
		warm(id, secret)
		c, err = other.ClientByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Minute)
		c.ExpiresAt = &past
		if err := other.UpdateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
		refused("client expired elsewhere", id, secret, 401, "invalid_client", "expired")

		id, secret = e.client(app.NewClient{Scopes: []string{readScope}})
		warm(id, secret)
		p, err := other.Policy(ctx, models.DefaultOrgID)
		if err != nil {
			t.Fatal(err)
		}
		p.IPAllowlist = models.NewSet("192.0.2.0/24")
		if err := other.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		refused("policy allowlist set elsewhere", id, secret, 400, "unauthorized_client", "organization's IP allowlist")
		p.IPAllowlist = models.NewSet()
		if err := other.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}
		warm(id, secret)

		owner, err := other.UserByID(ctx, models.DefaultOrgID, e.owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		owner.Status = models.StatusDisabled
		if err := other.UpdateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		refused("owner disabled elsewhere", id, secret, 400, "unauthorized_client", "owner is disabled")
	})
}
