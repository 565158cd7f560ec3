package web_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestAdminClientText sends control characters, NUL and invalid UTF-8 in
// every string of the clients and policy APIs. Each is refused with a 400
// (or 404 for a lookup) and its stable code on both databases, never a 500
// (PostgreSQL refuses NUL and invalid UTF-8 in text), and nothing is
// stored. JSON bodies cannot carry invalid UTF-8 (the decoder replaces it),
// so that is sent in paths, query parameters and the console's form.
func TestAdminClientText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, _, _ := e.createClient(admin, map[string]any{"owner": memberEmail, "name": "existing"})

		for _, tc := range []struct {
			name string
			body map[string]any
			code string
		}{
			{"ESC in name", map[string]any{"name": "ci\x1b[2J\x1b[Hforged"}, "invalid_name"},
			{"CR LF in name", map[string]any{"name": "ci\r\n2030-01-01T00:00:00Z  root  client.revoked"}, "invalid_name"},
			{"NUL in name", map[string]any{"name": "ci\x00"}, "invalid_name"},
			{"C1 CSI in name", map[string]any{"name": "ci\u009b2J"}, "invalid_name"},
			{"bidi override in name", map[string]any{"name": "invoice\u202egpj.exe"}, "invalid_name"},
			{"DEL in name", map[string]any{"name": "ci\x7f"}, "invalid_name"},
			{"NUL in description", map[string]any{"name": "x", "description": "a\x00b"}, "invalid_description"},
			{"LF in description", map[string]any{"name": "x", "description": "line one\nline two"}, "invalid_description"},
			{"bidi isolate in description", map[string]any{"name": "x", "description": "a\u2066b"}, "invalid_description"},
			{"bidi override in audience", map[string]any{"name": "x", "audiences": []string{"https://api.example.com/\u202eabc"}}, "invalid_audience"},
			{"NUL in audience", map[string]any{"name": "x", "audiences": []string{"https://api.example.com/\x00"}}, "invalid_audience"},
			{"NUL in allowlist", map[string]any{"name": "x", "ip_allowlist": []string{"10.0.0.0/8\x00"}}, "invalid_ip_allowlist"},
			{"NUL in owner", map[string]any{"name": "x", "owner": "alice\x00@example.com"}, "owner_not_found"},
			{"ESC in scope", map[string]any{"name": "x", "scopes": []string{"analysis:read\x1b"}}, "invalid_scope"},
		} {
			wantAPI(t, "create: "+tc.name, e.call(admin, "POST", orgAPI+"/clients", tc.body, nil), 400, tc.code)
		}
		for _, tc := range []struct {
			name string
			body map[string]any
			code string
		}{
			{"NUL in client_id", map[string]any{"client_id": "legacy\x00id", "name": "imported"}, "invalid_client_id"},
			{"ESC in name", map[string]any{"client_id": "legacy-1234", "name": "imported\x1b]0;owned\x07"}, "invalid_name"},
			{"NUL in description", map[string]any{"client_id": "legacy-1234", "name": "imported", "description": "\x00"}, "invalid_description"},
		} {
			tc.body["owner"], tc.body["client_secret"] = memberEmail, "a very long legacy secret"
			wantAPI(t, "import: "+tc.name, e.call(admin, "POST", orgAPI+"/clients/import", tc.body, nil), 400, tc.code)
		}
		for _, tc := range []struct {
			name   string
			change map[string]any
			code   string
		}{
			{"bidi override in webhook", map[string]any{"reminder_webhook_url": "https://hooks.example.com/\u202ex"}, "invalid_webhook_url"},
			{"NUL in webhook", map[string]any{"reminder_webhook_url": "https://hooks.example.com/\x00"}, "invalid_webhook_url"},
			{"NUL in allowlist", map[string]any{"ip_allowlist": []string{"10.0.0.0/8\x00"}}, "invalid_ip_allowlist"},
			{"NUL in duration", map[string]any{"rotation_grace": "1d\x00"}, "invalid_duration"},
			{"NUL in sunset", map[string]any{"legacy_sunset": "2030-01-01T00:00:00Z\x00"}, "invalid_policy"},
		} {
			wantAPI(t, "policy: "+tc.name, e.putPolicy(admin, tc.change), 400, tc.code)
		}

		// Lookups: nothing stored can hold NUL or invalid UTF-8, so these
		// are answers about nothing, not database errors.
		badCursor := base64.RawURLEncoding.EncodeToString([]byte("\xff\x00"))
		for _, tc := range []struct {
			method, path string
			status       int
			code         string
		}{
			{"GET", "/clients/%00", 404, "client_not_found"},
			{"GET", "/clients/%FF", 404, "client_not_found"},
			{"POST", "/clients/%FF/rotate", 404, "client_not_found"},
			{"POST", "/clients/%00/revoke", 404, "client_not_found"},
			{"DELETE", "/clients/" + url.PathEscape(id) + "/secrets/%00", 404, "secret_not_found"},
			{"DELETE", "/clients/" + url.PathEscape(id) + "/secrets/%FF", 404, "secret_not_found"},
			{"GET", "/clients?owner=%00", 400, "owner_not_found"},
			{"GET", "/clients?owner=%FF", 400, "owner_not_found"},
			{"GET", "/clients/expiring?owner=%FF", 400, "owner_not_found"},
			{"GET", "/clients?cursor=" + badCursor, 400, "invalid_parameter"},
			{"GET", "/audit?cursor=" + badCursor, 400, "invalid_parameter"},
			{"GET", "/audit?client_id=%00", 200, ""},
			{"GET", "/audit?user_id=%FF&action=%00", 200, ""},
		} {
			r := e.call(admin, tc.method, orgAPI+tc.path, nil, nil)
			wantAPI(t, tc.method+" "+tc.path, r, tc.status, tc.code)
			if tc.status == 200 && len(r.items()) != 0 {
				t.Errorf("%s %s: %d items, want none", tc.method, tc.path, len(r.items()))
			}
		}

		// The console's form carries invalid UTF-8 as it was typed.
		session, csrf := e.uiLogin(adminEmail, adminPassword)
		for _, tc := range []struct {
			field, value string
		}{
			{"name", "ci\xff"}, {"name", "ci\x1b[31m"}, {"description", "a\xc3"}, {"description", "a\x00"}, {"audiences", "https://api.example.com/\xff"},
		} {
			form := url.Values{"csrf_token": {csrf}, "kind": {"organization"}, "name": {"console"}, "owner": {memberEmail}}
			form.Set(tc.field, tc.value)
			r := e.uiDo(session, "POST", "/admin/o/default/clients", form, nil)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-`+tc.field+`-err"`) {
				t.Errorf("console create with %s %q: %d, want 400 with the error next to the field", tc.field, tc.value, r.status)
			}
		}

		list := e.call(admin, "GET", orgAPI+"/clients", nil, nil).items()
		if got := clientIDs(list); len(got) != 1 || got[0] != id {
			t.Errorf("clients after the refused requests: %v, want only %s", got, id)
		}
		if p := e.call(admin, "GET", orgAPI+"/policy", nil, nil); p.str("reminder_webhook_url") != "" {
			t.Errorf("policy webhook after the refused requests: %q", p.str("reminder_webhook_url"))
		}
	})
}
