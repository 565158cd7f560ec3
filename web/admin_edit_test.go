package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models/storetest"
)

// tokenFor asks the token endpoint for a token with the form's extra
// parameters and returns the status and the decoded answer. With a secret
// the client authenticates with Basic; without, the form authenticates it.
func (e *adminEnv) tokenFor(id, secret string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	form.Set("grant_type", "client_credentials")
	req, _ := http.NewRequest("POST", e.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer hr.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(hr.Body).Decode(&body); err != nil {
		e.t.Fatal(err)
	}
	return hr.StatusCode, body
}

// lastAudit returns the detail of the newest audit event of the client
// with the action.
func (e *adminEnv) lastAudit(token, clientID, action string) map[string]any {
	e.t.Helper()
	r := e.call(token, "GET", orgAPI+"/audit?"+url.Values{"client_id": {clientID}, "action": {action}}.Encode(), nil, nil)
	items := r.items()
	if len(items) == 0 {
		e.t.Fatalf("no %s event for %s: %s", action, clientID, r)
	}
	var detail map[string]any
	switch d := items[0]["detail"].(type) {
	case string:
		if err := json.Unmarshal([]byte(d), &detail); err != nil {
			e.t.Fatalf("%s detail %q: %v", action, d, err)
		}
	case map[string]any:
		detail = d
	}
	return detail
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAdminClientEdit changes every editable field of a client through
// PATCH: a narrowed scope, allowlist or TTL holds at the very next token
// request, the audit event holds before and after of the changed fields
// only, and each bad value is refused with its code, nothing changed.
func TestAdminClientEdit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, secret, _ := e.createClient(admin, map[string]any{
			"owner": memberEmail, "name": "billing", "description": "nightly", "scopes": []string{readScope, configScope},
			"ip_allowlist": []string{"127.0.0.1", "10.0.0.0/8"},
		})
		path := orgAPI + "/clients/" + id
		if status, body := e.tokenFor(id, secret, url.Values{"scope": {configScope}}); status != 200 || body["expires_in"] != 900.0 {
			t.Fatalf("before the edit: %d %v", status, body)
		}

		// Narrow the scopes: the next request for config:read is refused.
		r := e.call(admin, "PATCH", path, map[string]any{"scopes": []string{readScope}, "name": "billing"}, nil)
		wantAPI(t, "narrow scopes", r, 200, "")
		if joinList(r.body["scopes"]) != readScope || r.str("client_id") != id {
			t.Errorf("narrow scopes: %s", r.raw)
		}
		if status, body := e.tokenFor(id, secret, url.Values{"scope": {configScope}}); status != 400 || body["error"] != "invalid_scope" {
			t.Errorf("config:read after it was taken away: %d %v, want 400 invalid_scope", status, body)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 || body["scope"] != readScope {
			t.Errorf("all scopes after the edit: %d %v", status, body)
		}
		// Only the scopes changed (the same name was sent): the event says so.
		if got, want := jsonText(e.lastAudit(admin, id, "client.updated")), `{"after":{"scopes":["analysis:read"]},"before":{"scopes":["analysis:read","config:read"]}}`; got != want {
			t.Errorf("audit detail: got %s, want %s", got, want)
		}

		// The token TTL, name and description.
		r = e.call(admin, "PATCH", path, map[string]any{"token_ttl": "5m", "name": "billing v2", "description": "hourly"}, nil)
		wantAPI(t, "ttl, name, description", r, 200, "")
		if r.str("token_ttl") != "5m0s" || r.str("name") != "billing v2" || r.str("description") != "hourly" {
			t.Errorf("after the edit: %s", r.raw)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 || body["expires_in"] != 300.0 {
			t.Errorf("token after the TTL edit: %d %v, want expires_in 300", status, body)
		}
		if got, want := jsonText(e.lastAudit(admin, id, "client.updated")), `{"after":{"description":"hourly","name":"billing v2","token_ttl":"5m0s"},"before":{"description":"nightly","name":"billing","token_ttl":"default"}}`; got != want {
			t.Errorf("audit detail: got %s, want %s", got, want)
		}

		// Narrow the allowlist to a range the test does not call from.
		r = e.call(admin, "PATCH", path, map[string]any{"ip_allowlist": []string{"10.0.0.0/8"}}, nil)
		wantAPI(t, "narrow allowlist", r, 200, "")
		if status, body := e.tokenFor(id, secret, url.Values{}); status == 200 || body["error"] != "unauthorized_client" {
			t.Errorf("from outside the narrowed allowlist: %d %v", status, body)
		}
		wantAPI(t, "widen allowlist", e.call(admin, "PATCH", path, map[string]any{"ip_allowlist": []string{}}, nil), 200, "")
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 {
			t.Errorf("after the allowlist was cleared: %d %v", status, body)
		}

		// Bad values: refused with their code, nothing changed.
		before := e.call(admin, "GET", path, nil, nil).raw
		for _, tc := range []struct {
			name string
			body any
			code string
		}{
			{"bad CIDR", map[string]any{"ip_allowlist": []string{"10.0.0.0/33"}}, "invalid_ip_allowlist"},
			{"not an address", map[string]any{"ip_allowlist": []string{"example.com"}}, "invalid_ip_allowlist"},
			{"scope not held", map[string]any{"scopes": []string{"admin:all"}}, "scope_not_held_by_owner"},
			{"ttl above max", map[string]any{"token_ttl": "2h"}, "invalid_token_ttl"},
			{"ttl too short", map[string]any{"token_ttl": "5s"}, "invalid_token_ttl"},
			{"ttl unparsable", map[string]any{"token_ttl": "soon"}, "invalid_duration"},
			{"audience of a project client", map[string]any{"audiences": []string{e.url}}, "invalid_audience"},
			{"empty name", map[string]any{"name": " "}, "invalid_name"},
			{"nothing", map[string]any{}, "invalid_request"},
			{"unknown field", map[string]any{"owner": adminEmail}, "invalid_json"},
		} {
			wantAPI(t, tc.name, e.call(admin, "PATCH", path, tc.body, nil), 400, tc.code)
		}
		if after := e.call(admin, "GET", path, nil, nil).raw; after != before {
			t.Errorf("refused edits changed the client:\n%s\n%s", before, after)
		}
		wantAPI(t, "unknown client", e.call(admin, "PATCH", orgAPI+"/clients/azc_nope", map[string]any{"name": "x"}, nil), 404, "client_not_found")

		// An organization client's audiences: the projects it may ask for.
		pr := e.call(admin, "POST", orgAPI+"/projects", map[string]any{"slug": "reports", "name": "Reports", "resource": "https://reports.example"}, nil)
		wantAPI(t, "create a project", pr, 201, "")
		oc := e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "org-wide", "kind": "organization", "scopes": []string{readScope}}, nil)
		wantAPI(t, "create an organization client", oc, 201, "")
		orgID, orgSecret := oc.str("client_id"), oc.str("client_secret")
		e.secrets = append(e.secrets, orgSecret)
		res := url.Values{"resource": {"https://reports.example"}}
		if status, body := e.tokenFor(orgID, orgSecret, res); status != 200 {
			t.Fatalf("organization client, any project: %d %v", status, body)
		}
		r = e.call(admin, "PATCH", orgAPI+"/clients/"+orgID, map[string]any{"audiences": []string{e.url}}, nil)
		wantAPI(t, "narrow audiences", r, 200, "")
		if status, body := e.tokenFor(orgID, orgSecret, res); status != 400 || body["error"] != "invalid_target" {
			t.Errorf("a project outside the narrowed audiences: %d %v, want 400 invalid_target", status, body)
		}
		if status, body := e.tokenFor(orgID, orgSecret, url.Values{"resource": {e.url}}); status != 200 {
			t.Errorf("the project still allowed: %d %v", status, body)
		}
		wantAPI(t, "audience of no project", e.call(admin, "PATCH", orgAPI+"/clients/"+orgID, map[string]any{"audiences": []string{"https://elsewhere.example"}}, nil), 400, "invalid_audience")

		// A publishable client stays within the publishable scopes.
		wantAPI(t, "publishable scopes", e.putPolicy(admin, map[string]any{"publishable_scopes": []string{readScope}}), 200, "")
		pc := e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "widget", "kind": "publishable", "project": "default", "scopes": []string{readScope}}, nil)
		wantAPI(t, "create a publishable client", pc, 201, "")
		e.secrets = append(e.secrets, pc.str("client_secret"))
		wantAPI(t, "widen a publishable client", e.call(admin, "PATCH", orgAPI+"/clients/"+pc.str("client_id"), map[string]any{"scopes": []string{readScope, configScope}}, nil), 400, "scope_not_publishable")
		wantAPI(t, "narrow a publishable client", e.call(admin, "PATCH", orgAPI+"/clients/"+pc.str("client_id"), map[string]any{"scopes": []string{}}, nil), 200, "")

		// A member edits their own client within their own permissions.
		alice := e.login(memberEmail, memberPass)
		wantAPI(t, "member edits own", e.call(alice, "PATCH", path, map[string]any{"description": "mine"}, nil), 200, "")
		wantAPI(t, "revoke", e.call(admin, "POST", path+"/revoke", nil, nil), 200, "")
		wantAPI(t, "edit revoked", e.call(admin, "PATCH", path, map[string]any{"name": "x"}, nil), 409, "client_revoked")
	})
}

// TestAdminClientRenew: an expired client renewed keeps its client_id and
// its secret, and its lifetime starts anew at the renewal, from which the
// policy's maximum counts; rotation of an expired client says to renew.
func TestAdminClientRenew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "90d", "default_credential_lifetime": "30d"}), 200, "")
		id, secret, _ := e.createClient(admin, map[string]any{"owner": memberEmail})
		path := orgAPI + "/clients/" + id

		e.clock.Advance(31 * 24 * time.Hour)
		admin = e.login(adminEmail, adminPassword) // sessions end in the meantime
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 401 || body["error"] != "invalid_client" {
			t.Fatalf("expired client: %d %v", status, body)
		}
		rot := e.call(admin, "POST", path+"/rotate", nil, nil)
		wantAPI(t, "rotate expired", rot, 409, "client_expired")
		if !strings.Contains(rot.str("message"), "renew it") || strings.Contains(rot.str("message"), "create a new") {
			t.Errorf("rotate expired says: %q", rot.str("message"))
		}

		wantAPI(t, "beyond max", e.call(admin, "POST", path+"/renew", map[string]any{"expires_in": "91d"}, nil), 400, "invalid_expiry")
		wantAPI(t, "beyond max at", e.call(admin, "POST", path+"/renew", map[string]any{"expires_at": e.clock.Now().Add(91 * 24 * time.Hour).Format(time.RFC3339)}, nil), 400, "invalid_expiry")
		wantAPI(t, "in the past", e.call(admin, "POST", path+"/renew", map[string]any{"expires_at": e.clock.Now().Add(-time.Hour).Format(time.RFC3339)}, nil), 400, "invalid_expiry")
		wantAPI(t, "both", e.call(admin, "POST", path+"/renew", map[string]any{"expires_in": "1d", "expires_at": e.clock.Now().Add(time.Hour).Format(time.RFC3339)}, nil), 400, "invalid_expiry")
		wantAPI(t, "bad time", e.call(admin, "POST", path+"/renew", map[string]any{"expires_at": "tomorrow"}, nil), 400, "invalid_expiry")
		wantAPI(t, "bad duration", e.call(admin, "POST", path+"/renew", map[string]any{"expires_in": "a while"}, nil), 400, "invalid_duration")
		wantAPI(t, "unknown client", e.call(admin, "POST", orgAPI+"/clients/azc_nope/renew", nil, nil), 404, "client_not_found")

		// No body: the policy's maximum from now.
		renewedAt := e.clock.Now()
		r := e.call(admin, "POST", path+"/renew", nil, nil)
		wantAPI(t, "renew", r, 200, "")
		if r.str("client_id") != id || r.str("status") != "active" || r.str("renewed_at") != renewedAt.Format(time.RFC3339) ||
			r.str("expires_at") != renewedAt.Add(90*24*time.Hour).Format(time.RFC3339) {
			t.Errorf("renewed: %s", r.raw)
		}
		if _, ok := r.body["client_secret"]; ok {
			t.Errorf("renewal showed a secret: %s", r.raw)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 {
			t.Errorf("the same secret after the renewal: %d %v", status, body)
		}
		detail := e.lastAudit(admin, id, "client.renewed")
		wantDetail := `{"after":{"expires_at":"` + renewedAt.Add(90*24*time.Hour).Format(time.RFC3339) + `"},"before":{"expires_at":"` + renewedAt.Add(-24*time.Hour).Format(time.RFC3339) + `"}}`
		if got := jsonText(detail); got != wantDetail {
			t.Errorf("renewal audit: got %s, want %s", got, wantDetail)
		}

		// The maximum counts from the renewal, retroactively: 40 days on,
		// a cap of 30 days expires it, one of 60 brings it back.
		e.clock.Advance(40 * 24 * time.Hour)
		admin = e.login(adminEmail, adminPassword)
		wantAPI(t, "cap 30d", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "30d"}), 200, "")
		if status, _ := e.tokenFor(id, secret, url.Values{}); status != 401 {
			t.Errorf("40 days after the renewal under a 30-day cap: %d, want 401", status)
		}
		wantAPI(t, "cap 60d", e.putPolicy(admin, map[string]any{"max_credential_lifetime": "60d"}), 200, "")
		if status, _ := e.tokenFor(id, secret, url.Values{}); status != 200 {
			t.Errorf("40 days after the renewal under a 60-day cap: %d, want 200", status)
		}
		// Its reminders follow: it expires 60 days after the renewal.
		exp := e.call(admin, "GET", orgAPI+"/clients/expiring?within=30d", nil, nil)
		if items := exp.items(); len(items) != 1 || items[0]["client_id"] != id || items[0]["expires_at"] != renewedAt.Add(60*24*time.Hour).Format(time.RFC3339) {
			t.Errorf("expiring within 30 days: %s", exp.raw)
		}

		// A renewal with a lifetime.
		r = e.call(admin, "POST", path+"/renew", map[string]any{"expires_in": "10d"}, nil)
		wantAPI(t, "renew 10d", r, 200, "")
		if r.str("expires_at") != e.clock.Now().Add(10*24*time.Hour).Format(time.RFC3339) {
			t.Errorf("renew 10d: %s", r.raw)
		}
		// The owner may renew their own client.
		alice := e.login(memberEmail, memberPass)
		wantAPI(t, "member renews own", e.call(alice, "POST", path+"/renew", map[string]any{"expires_in": "20d"}, nil), 200, "")

		wantAPI(t, "revoke", e.call(admin, "POST", path+"/revoke", nil, nil), 200, "")
		wantAPI(t, "renew revoked", e.call(admin, "POST", path+"/renew", nil, nil), 409, "client_revoked")
	})
}

// TestAdminClientLimitUsable: the per-owner limit counts the clients that
// can still be used: an expired or revoked one frees a place, and renewing
// an expired one takes a place again.
func TestAdminClientLimitUsable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 2, "max_credential_lifetime": "365d"}), 200, "")
		short, _, _ := e.createClient(admin, map[string]any{"owner": memberEmail, "expires_at": e.clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
		long, _, _ := e.createClient(admin, map[string]any{"owner": memberEmail})
		wantAPI(t, "third while two are usable", e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "third"}, nil), 409, "client_limit_reached")

		e.clock.Advance(25 * time.Hour)
		admin = e.login(adminEmail, adminPassword) // sessions end in the meantime
		third, _, _ := e.createClient(admin, map[string]any{"owner": memberEmail, "name": "third"})
		wantAPI(t, "renew the expired one while two are usable", e.call(admin, "POST", orgAPI+"/clients/"+short+"/renew", nil, nil), 409, "client_limit_reached")
		wantAPI(t, "renew a usable one", e.call(admin, "POST", orgAPI+"/clients/"+long+"/renew", nil, nil), 200, "")

		wantAPI(t, "revoke", e.call(admin, "POST", orgAPI+"/clients/"+third+"/revoke", nil, nil), 200, "")
		wantAPI(t, "renew the expired one after a revocation", e.call(admin, "POST", orgAPI+"/clients/"+short+"/renew", nil, nil), 200, "")
		wantAPI(t, "a third again", e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "fourth"}, nil), 409, "client_limit_reached")

		// The cap of the policy expires clients too: they stop counting.
		e.clock.Advance(366 * 24 * time.Hour)
		admin = e.login(adminEmail, adminPassword)
		wantAPI(t, "after every client expired", e.call(admin, "POST", orgAPI+"/clients", map[string]any{"owner": memberEmail, "name": "fifth"}, nil), 201, "")
	})
}

// TestAdminRequireDPoP: require_dpop set at creation and changed by PATCH
// through the admin API; the token endpoint follows, the audit log has the
// change, and a non-boolean is a 400.
func TestAdminRequireDPoP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, secret, r := e.createClient(admin, map[string]any{"owner": memberEmail, "name": "bound", "scopes": []string{readScope}, "require_dpop": true})
		if r.body["require_dpop"] != true {
			t.Errorf("created: %s, want require_dpop true", r)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("without a proof: %d %v, want 400 invalid_request", status, body)
		}
		if r := e.call(admin, "PATCH", orgAPI+"/clients/"+id, map[string]any{"require_dpop": "yes"}, nil); r.status != http.StatusBadRequest {
			t.Errorf("a string: %s, want 400", r)
		}
		if r := e.call(admin, "PATCH", orgAPI+"/clients/"+id, map[string]any{"require_dpop": false}, nil); r.status != http.StatusOK || r.body["require_dpop"] != false {
			t.Fatalf("patch: %s", r)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != http.StatusOK {
			t.Errorf("after require_dpop false: %d %v, want a token", status, body)
		}
		audit := e.call(admin, "GET", orgAPI+"/audit?client_id="+id, nil, nil)
		if !strings.Contains(audit.raw, `"require_dpop":false`) || !strings.Contains(audit.raw, `"require_dpop":true`) {
			t.Errorf("audit: %s, want require_dpop at creation and its change", audit.raw)
		}
	})
}
