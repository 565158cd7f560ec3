package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models/storetest"
)

// TestUIEditAndRenew: the console's edit page shows the client as it is
// with the effective-permission preview, saves through the Registry (the
// next token request sees the change), shows a refusal next to its field,
// and the Renew button renews an expired client keeping its secret; a
// refused renewal is shown in the renewal panel.
func TestUIEditAndRenew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		session, csrf := e.uiLogin(adminEmail, adminPassword)
		id, secret, _ := e.uiCreate(session, csrf, url.Values{"name": {"reports"}, "owner": {memberEmail}, "scopes": {readScope, configScope}, "expires_in": {"2d"}})
		page := "/admin/o/default/clients/" + url.PathEscape(id)

		edit := e.uiDo(session, "GET", page+"/edit", nil, nil)
		if edit.status != 200 || !strings.Contains(edit.body, `value="reports"`) ||
			submatch(t, `<output id="effective"[^>]*>(.*?)</output>`, edit.body) != `<code class="scope">`+readScope+`</code> <code class="scope">`+configScope+`</code> ` {
			t.Fatalf("edit page: %d %.2000s", edit.status, edit.body)
		}

		// A refusal is shown next to its field, with what was typed.
		r := e.uiDo(session, "POST", page+"/edit", url.Values{"csrf_token": {csrf}, "name": {"reports"}, "scopes": {readScope}, "ip_allowlist": {"10.0.0.0/33"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-ip_allowlist-err"`) || !strings.Contains(r.body, "10.0.0.0/33</textarea>") {
			t.Errorf("bad CIDR: %d %.3000s", r.status, r.body)
		}
		r = e.uiDo(session, "POST", page+"/edit", url.Values{"csrf_token": {csrf}, "name": {"reports"}, "scopes": {readScope}, "token_ttl": {"2h"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-token_ttl-err"`) {
			t.Errorf("ttl above the maximum: %d %.3000s", r.status, r.body)
		}
		if status, _ := e.tokenFor(id, secret, url.Values{"scope": {configScope}}); status != 200 {
			t.Fatalf("refused edits changed the client: %d", status)
		}

		// Saved: config:read is gone at the next token request.
		r = e.uiDo(session, "POST", page+"/edit", url.Values{"csrf_token": {csrf}, "name": {"reports v2"}, "description": {"weekly"}, "scopes": {readScope}, "token_ttl": {"5m"}, "ip_allowlist": {"127.0.0.1\n::1"}}, nil)
		if r.status != http.StatusSeeOther || r.location() != page+"?notice=client_updated" {
			t.Fatalf("save: %d %s %.2000s", r.status, r.location(), r.body)
		}
		if status, body := e.tokenFor(id, secret, url.Values{"scope": {configScope}}); status != 400 || body["error"] != "invalid_scope" {
			t.Errorf("after the edit, config:read: %d %v", status, body)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 || body["expires_in"] != 300.0 {
			t.Errorf("after the edit: %d %v", status, body)
		}
		shown := e.uiDo(session, "GET", page+"?notice=client_updated", nil, nil)
		for _, want := range []string{"The client was saved", "reports v2", "<code>127.0.0.1/32</code>", "<code>::1/128</code>", "5m",
			// The audit trail: the changed fields, before → after.
			"description: none → weekly; ip_allowlist: none → 127.0.0.1/32 ::1/128; name: reports → reports v2; scopes: " + readScope + " " + configScope + " → " + readScope + "; token_ttl: default → 5m0s",
		} {
			if !strings.Contains(html.UnescapeString(shown.body), want) {
				t.Errorf("client page after the edit lacks %q", want)
			}
		}

		// The client expires; its page offers to renew it.
		e.clock.Advance(3 * 24 * time.Hour)
		session, csrf = e.uiLogin(adminEmail, adminPassword)
		shown = e.uiDo(session, "GET", page, nil, nil)
		if !strings.Contains(shown.body, `id="renew-button"`) || !strings.Contains(shown.body, "This client has expired.") {
			t.Errorf("an expired client's page: %.4000s", shown.body)
		}
		wantAPI(t, "policy", e.putPolicy(e.login(adminEmail, adminPassword), map[string]any{"max_credential_lifetime": "90d", "default_credential_lifetime": "30d"}), 200, "")
		r = e.uiDo(session, "POST", page+"/renew", url.Values{"csrf_token": {csrf}, "expires_in": {"100d"}}, nil)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-renew_in-err"`) || !strings.Contains(html.UnescapeString(r.body), "beyond the maximum credential lifetime") {
			t.Errorf("renew beyond the maximum: %d %.4000s", r.status, r.body)
		}
		r = e.uiDo(session, "POST", page+"/renew", url.Values{"csrf_token": {csrf}, "expires_in": {"30d"}}, nil)
		if r.status != http.StatusSeeOther || r.location() != page+"?notice=client_renewed" {
			t.Fatalf("renew: %d %s %.2000s", r.status, r.location(), r.body)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != 200 {
			t.Errorf("the same secret after the renewal: %d %v", status, body)
		}
		shown = e.uiDo(session, "GET", page+"?notice=client_renewed", nil, nil)
		if !strings.Contains(shown.body, "The client was renewed") || !strings.Contains(shown.body, `id="client-renewed"`) || !strings.Contains(shown.body, id) {
			t.Errorf("client page after the renewal: %.4000s", shown.body)
		}

		// Another organization's client: not found, on both routes.
		other := e.newTenant("acme")
		for _, path := range []string{"/edit"} {
			if r := e.uiDo(session, "GET", "/admin/o/default/clients/"+other.clients["project"]+path, nil, nil); r.status != http.StatusNotFound {
				t.Errorf("GET another organization's client%s: %d", path, r.status)
			}
		}
		for _, path := range []string{"/edit", "/renew"} {
			if r := e.uiDo(session, "POST", "/admin/o/default/clients/"+other.clients["project"]+path, url.Values{"csrf_token": {csrf}, "name": {"x"}}, nil); r.status != http.StatusNotFound {
				t.Errorf("POST another organization's client%s: %d", path, r.status)
			}
		}
	})
}

// TestUIRequireDPoP: the console's creation and edit forms set and clear
// require_dpop through the Registry; the token endpoint follows at the next
// request and the client page says so.
func TestUIRequireDPoP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		session, csrf := e.uiLogin(adminEmail, adminPassword)
		id, secret, _ := e.uiCreate(session, csrf, url.Values{"name": {"bound"}, "owner": {memberEmail}, "scopes": {readScope}, "require_dpop": {"on"}})
		page := "/admin/o/default/clients/" + url.PathEscape(id)
		if status, body := e.tokenFor(id, secret, url.Values{}); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("without a proof: %d %v, want 400 invalid_request", status, body)
		}
		shown := e.uiDo(session, "GET", page, nil, nil)
		if !strings.Contains(shown.body, "<dt>DPoP</dt>") {
			t.Errorf("the client page does not say DPoP is required")
		}
		edit := e.uiDo(session, "GET", page+"/edit", nil, nil)
		if !strings.Contains(edit.body, `name="require_dpop" checked`) {
			t.Fatalf("edit page: the box is not checked: %.2000s", edit.body)
		}
		r := e.uiDo(session, "POST", page+"/edit", url.Values{"csrf_token": {csrf}, "name": {"bound"}, "scopes": {readScope}}, nil)
		if r.status != http.StatusSeeOther {
			t.Fatalf("save: %d %.2000s", r.status, r.body)
		}
		if status, body := e.tokenFor(id, secret, url.Values{}); status != http.StatusOK {
			t.Errorf("after unchecking: %d %v, want a token", status, body)
		}
		shown = e.uiDo(session, "GET", page, nil, nil)
		if !strings.Contains(html.UnescapeString(shown.body), "require_dpop: true → false") {
			t.Errorf("the audit trail lacks the change of require_dpop")
		}
	})
}
