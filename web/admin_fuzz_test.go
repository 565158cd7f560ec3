package web_test

import (
	"testing"
)

// FuzzAdminJSON sends arbitrary bodies to the admin API's JSON inputs as a
// signed-in admin. Whatever arrives, the answer is never a 5xx and every
// error is a JSON object with a code and a message (checked by call).
func FuzzAdminJSON(f *testing.F) {
	e := newAdminEnv(f, "sqlite", false)
	token := e.login(adminEmail, adminPassword)
	seeds := []string{
		`{"owner":"alice@example.com","name":"fuzz","scopes":["analysis:read"]}`,
		`{"owner":"alice@example.com","name":"fuzz","scopes":["analysis:read"],"ip_allowlist":["10.0.0.0/8","::1"],"token_ttl":"10m","expires_in":"30d"}`,
		`{"owner":"nobody@example.com","name":""}`,
		`{"name":1}`, `[]`, `null`, `{`, `{"unknown":true}`, `"x"`, ``,
		`{"email":"new@example.com","name":"New","role":"member","permissions":["a:b"]}`,
		`{"max_credential_lifetime":"30d","default_credential_lifetime":"7d","default_token_ttl":"5m","max_token_ttl":"1h","max_clients_per_owner":3,"creation_restricted":true,"ip_allowlist":[],"rotation_grace":"0s"}`,
		`{"max_credential_lifetime":"-1d","default_token_ttl":"99999999999h"}`,
		`{"grace":"24h"}`, `{"grace":"1e9d"}`,
		`{"client_id":"legacy-1234","client_secret":"a very long legacy secret","owner":"alice@example.com","name":"imported"}`,
	}
	paths := []struct{ method, path string }{
		{"POST", orgAPI + "/clients"},
		{"POST", orgAPI + "/clients/import"},
		{"POST", orgAPI + "/members"},
		{"PATCH", orgAPI + "/members/" + e.member.ID},
		{"PUT", orgAPI + "/policy"},
		{"POST", apiBase + "/session"},
	}
	for _, s := range seeds {
		for i := range paths {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e.t = t
		p := paths[int(which)%len(paths)]
		e.call(token, p.method, p.path, string(body), nil)
	})
}
