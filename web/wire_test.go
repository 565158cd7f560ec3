package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models/storetest"
)

// The wire formats of the HTTP API are pinned by golden files under
// testdata/, here and in TestAdminClientLifecycle, TestAdminUsers,
// TestAdminPolicy, TestDiscovery and TestIntrospection (go test ./web
// -update rewrites them; review the diff). Each normalises what varies from
// run to run: the server's URL, ids, times, secrets.

// testIssuer stands for the test server's random URL in golden files.
const testIssuer = "https://authz.test"

// adminNorm normalises an admin API document of e: its URL, the given ids
// (value to stand-in), and the clock's present as "<now>" and a year on as
// "<now+365d>".
func (e *adminEnv) adminNorm(ids map[string]string, volatile ...string) testutil.Normalize {
	now := e.clock.Now()
	r := map[string]string{
		e.url:                    testIssuer,
		now.Format(time.RFC3339): "<now>",
		now.Add(365 * 24 * time.Hour).Format(time.RFC3339): "<now+365d>",
	}
	for k, v := range ids {
		r[k] = v
	}
	return testutil.Normalize{Replace: r, Volatile: volatile}
}

// The admin API's client views (created, with its one-time secret, and a
// list page) and its error body.
func TestAdminWireFormats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		in := func() map[string]any {
			return map[string]any{
				"owner": memberEmail, "name": "billing", "description": "nightly export", "scopes": []string{readScope},
				"token_ttl": "10m",
			}
		}
		id, _, created := e.createClient(admin, in())
		ids := map[string]string{id: "<client_id>", e.member.ID: "<member_id>", created.str("secret_id"): "<secret_id>"}
		testutil.GoldenJSON(t, "testdata/admin/client_created.json", []byte(created.raw), e.adminNorm(ids, "client_secret", "last_chars"))

		// Two alike clients, so that the page of one is the same whichever
		// id sorts first.
		e.createClient(admin, in())
		page := e.call(admin, "GET", orgAPI+"/clients?"+url.Values{"owner": {memberEmail}, "limit": {"1"}}.Encode(), nil, nil)
		wantAPI(t, "list page", page, http.StatusOK, "")
		testutil.GoldenJSON(t, "testdata/admin/client_list_page.json", []byte(page.raw), e.adminNorm(ids, "client_id", "id", "last_chars", "next_cursor"))

		notFound := e.call(admin, "GET", orgAPI+"/clients/azc_nope", nil, nil)
		wantAPI(t, "unknown client", notFound, http.StatusNotFound, "client_not_found")
		testutil.GoldenJSON(t, "testdata/admin/error.json", []byte(notFound.raw), testutil.Normalize{})
	})
}

// The token endpoint's success and error bodies (RFC 6749 §5.1, §5.2).
func TestTokenWireFormats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, secret := e.client(t, app.NewClient{Scopes: []string{readScope, configScope}})
		n := testutil.Normalize{Replace: map[string]string{e.url: testIssuer, c.ID: "<client_id>"}, Volatile: []string{"access_token"}}
		for _, tc := range []struct {
			name   string
			secret string
			params url.Values
			status int
		}{
			{"success", secret, url.Values{"scope": {readScope}}, http.StatusOK},
			{"invalid_client", "wrong", nil, http.StatusUnauthorized},
			{"invalid_scope", secret, url.Values{"scope": {createScope}}, http.StatusBadRequest},
			{"unsupported_grant_type", secret, url.Values{"grant_type": {"password"}}, http.StatusBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := tokenAt(t, e.url, c.ID, tc.secret, tc.params, nil)
				if r.status != tc.status {
					t.Fatalf("got %d %s, want %d", r.status, r.raw, tc.status)
				}
				testutil.GoldenJSON(t, "testdata/token/"+tc.name+".json", r.raw, n)
			})
		}
	})
}
