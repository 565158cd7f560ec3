package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/web"
)

// TestLegacyWindow: imported secrets are recognised by their prefix; the
// organization's first import opens a six-month window; during it the
// client is listed as "deprecated, stops on DATE" and works; after it the
// client is "sunset" and the token endpoint answers 401 invalid_client
// whose description begins with KEY_FORMAT_DEPRECATED.
func TestLegacyWindow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		reg := app.NewRegistry(e.store, app.RegistryConfig{Hasher: e.hasher, Issuer: e.url, Now: e.clock.Now, LegacyPrefixes: []string{"sk_live_", " oldco- "}})
		op := app.Operator(models.DefaultOrgID)
		in := app.NewClient{OwnerEmail: e.owner.Email, Name: "imported", Scopes: []string{readScope}}

		_, err := reg.Import(e.ctx, op, in, "acme-unknown-1", "pk_test_0123456789abcdef")
		if models.ErrorCode(err) != "legacy_prefix_unknown" || !strings.Contains(models.ErrorMessage(err), "sk_live_, oldco-") {
			t.Fatalf("import of a secret with an unknown prefix: got %v, want legacy_prefix_unknown naming the prefixes", err)
		}
		if p, err := e.store.Policy(e.ctx, models.DefaultOrgID); err != nil || p.LegacySunset != nil {
			t.Fatalf("a refused import opened the window: %v, %v", p.LegacySunset, err)
		}

		const id, secret = "acme-billing-7", "oldco-0123456789abcdef"
		imported := e.clock.Now()
		c, err := reg.Import(e.ctx, op, in, id, secret)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Secrets[0]; got.Prefix != "oldco-" || got.Last4 != "cdef" {
			t.Errorf("imported secret shown as %q…%q, want oldco-…cdef", got.Prefix, got.Last4)
		}
		sunset := imported.UTC().AddDate(0, 6, 0).Truncate(time.Second)
		p, err := e.store.Policy(e.ctx, models.DefaultOrgID)
		if err != nil || p.LegacySunset == nil || !p.LegacySunset.Equal(sunset) {
			t.Fatalf("after the first import: legacy_sunset %v (%v), want %s", p.LegacySunset, err, sunset)
		}
		events, err := e.store.Audit(e.ctx, models.AuditFilter{Action: models.AuditPolicyUpdated})
		if err != nil || len(events) != 1 || !strings.Contains(events[0].Detail, "first legacy import") {
			t.Errorf("audit of the window's opening: %+v, %v", events, err)
		}

		// A second import keeps the window it finds.
		e.clock.Advance(30 * govDay)
		if _, err := reg.Import(e.ctx, op, in, "acme-billing-8", "sk_live_0123456789abcdef"); err != nil {
			t.Fatal(err)
		}
		if p, err := e.store.Policy(e.ctx, models.DefaultOrgID); err != nil || !p.LegacySunset.Equal(sunset) {
			t.Errorf("a second import moved the sunset to %v (%v), want %s", p.LegacySunset, err, sunset)
		}

		view := func() web.ClientView {
			t.Helper()
			c, err := e.store.ClientByID(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.store.Policy(e.ctx, models.DefaultOrgID)
			if err != nil {
				t.Fatal(err)
			}
			return web.ViewClient(c, p, e.clock.Now())
		}
		v := view()
		if v.Status != models.ClientDeprecated || v.LegacySunset == nil || !v.LegacySunset.Equal(sunset) ||
			v.StatusText() != "deprecated, stops on "+sunset.Format(time.DateOnly) {
			t.Errorf("during the window: status %q (%q), legacy_sunset %v; want deprecated, stops on %s", v.Status, v.StatusText(), v.LegacySunset, sunset.Format(time.DateOnly))
		}
		wantIssued(t, "legacy secret during the window", e.token(t, id, secret))

		e.clock.Set(sunset.Add(-time.Second))
		wantIssued(t, "legacy secret a second before the sunset", e.token(t, id, secret))

		e.clock.Set(sunset)
		r := e.token(t, id, secret)
		wantOAuthError(t, "legacy secret at the sunset", r, 401, "invalid_client", "KEY_FORMAT_DEPRECATED")
		if d := r.str("error_description"); !strings.HasPrefix(d, "KEY_FORMAT_DEPRECATED") {
			t.Errorf("error_description %q does not begin with KEY_FORMAT_DEPRECATED", d)
		}
		if v := view(); v.Status != models.ClientSunset || v.StatusText() != "sunset" || v.Secrets[0].Status != models.ClientSunset {
			t.Errorf("after the window: status %q, secret %q; want sunset", v.Status, v.Secrets[0].Status)
		}

		// Rotating gives a current secret: active again.
		zero := time.Duration(0)
		current, _, err := reg.Rotate(e.ctx, op, id, &zero)
		if err != nil {
			t.Fatal(err)
		}
		wantIssued(t, "current secret after the sunset", e.token(t, id, current))
		if v := view(); v.Status != models.ClientActive || v.Legacy || v.LegacySunset != nil {
			t.Errorf("after rotation: status %q, legacy %v, legacy_sunset %v; want active", v.Status, v.Legacy, v.LegacySunset)
		}
	})
}
