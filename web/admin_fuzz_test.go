package web_test

import (
	"context"
	"testing"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/models"
)

// FuzzAdminJSON sends arbitrary bodies to the admin API's JSON inputs as a
// signed-in admin. Whatever arrives, the answer is never a 5xx and every
// error is a JSON object with a code and a message (checked by call).
func FuzzAdminJSON(f *testing.F) {
	e := newAdminEnv(f, "sqlite", false)
	token := e.login(adminEmail, adminPassword)
	op := app.Operator(models.DefaultOrgID)
	issuer, err := e.registry.AddIssuer(context.Background(), op, app.NewIssuer{Name: "ci", Issuer: "https://ci.example", Audience: "https://authz.example/orgs/default",
		Keys: app.IssuerKeys{JWKS: testissuer.New(f).JWKS(f)}})
	if err != nil {
		f.Fatal(err)
	}
	fed, _, err := e.registry.Create(context.Background(), op, app.NewClient{OwnerEmail: e.member.Email, Name: "workload", Project: "default",
		AuthMethod: models.AuthFederated, Federation: models.Federation{IssuerID: issuer.ID, Subject: "repo:acme/api:*"}})
	if err != nil {
		f.Fatal(err)
	}
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
		`{"name":"k8s","issuer":"https://k8s.example","jwks_uri":"https://k8s.example/jwks","audience":"x","max_token_lifetime":"2h","single_use":false}`,
		`{"issuer_id":"` + issuer.ID + `","subject":"system:serviceaccount:payments:worker","conditions":{"kubernetes.io/namespace":"payments"}}`,
		`{"name":"wide","token_endpoint_auth_method":"federated","federation":{"issuer_id":"` + issuer.ID + `","subject":"*","conditions":{"a/b":"c"}}}`,
	}
	paths := []struct{ method, path string }{
		{"POST", orgAPI + "/clients"},
		{"POST", orgAPI + "/clients/import"},
		{"POST", orgAPI + "/members"},
		{"PATCH", orgAPI + "/members/" + e.member.ID},
		{"PUT", orgAPI + "/policy"},
		{"POST", orgAPI + "/issuers"},
		{"PATCH", orgAPI + "/issuers/" + issuer.ID},
		{"PUT", orgAPI + "/clients/" + fed.ID + "/federation"},
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
