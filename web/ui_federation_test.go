package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// The console's trusted issuers page and federated clients: the forms go
// through the Registry (the audit log shows each change), refusals are
// shown next to their fields, members are kept out of the issuers pages,
// and another organization's issuer is 404.

const githubIss = "https://token.actions.githubusercontent.com"

// auditActions counts the organization's audit events of action.
func (e *adminEnv) auditActions(orgID, action string) int {
	e.t.Helper()
	events, err := e.store.Audit(context.Background(), models.AuditFilter{OrgID: orgID, Action: action, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(events)
}

// workloadToken asks the token endpoint for a token of the federated
// client id with the platform token as its client assertion.
func (e *adminEnv) workloadToken(id, token string) (int, map[string]any) {
	e.t.Helper()
	return e.tokenFor(id, "", url.Values{"client_id": {id}, "client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {token}})
}

// fieldErr is the text of the error shown next to field f (f-F-err), "" if none.
func fieldErr(body, f string) string {
	i := strings.Index(body, `id="f-`+f+`-err">`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`id="f-`+f+`-err">`):]
	end := strings.Index(rest, "</p>")
	return html.UnescapeString(rest[:end])
}

func TestUITrustedIssuers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		platform := testissuer.New(t)
		jwks := platform.JWKS(t)
		session, csrf := e.uiLogin(adminEmail, adminPassword)
		const page = "/admin/o/default/issuers"

		// The page: an empty table, the link in the navigation, and the add
		// form suggesting this server's and organization's audience.
		r := e.uiDo(session, "GET", page, nil, nil)
		aud := e.url + "/orgs/default"
		if r.status != 200 || !strings.Contains(r.body, "No trusted issuer yet.") || !strings.Contains(r.body, `href="/admin/o/default/issuers" aria-current="page"`) ||
			!strings.Contains(r.body, `id="f-audience" name="audience" type="text" required maxlength="512" spellcheck="false" value="`+aud+`"`) {
			t.Fatalf("issuers page: %d %.3000s", r.status, r.body)
		}

		add := func(change url.Values) uiResp {
			form := url.Values{"csrf_token": {csrf}, "name": {"GitHub Actions"}, "issuer": {githubIss}, "keys": {"jwks"}, "jwks": {jwks},
				"audience": {aud}, "max_token_lifetime": {"10m"}}
			for k, v := range change {
				form[k] = v
			}
			return e.uiDo(session, "POST", page, form, nil)
		}
		// Refusals, each next to its field, with what was typed kept.
		for _, c := range []struct {
			name   string
			change url.Values
			status int
			field  string
			want   string
		}{
			{"no JWKS pasted", url.Values{"jwks": {""}}, 400, "keys", "paste the issuer's JWKS"},
			{"no JWKS URL", url.Values{"keys": {"jwks_uri"}}, 400, "keys", "give the JWKS URL"},
			{"a private key", url.Values{"jwks": {`{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}]}`}}, 400, "keys", "private"},
			{"discovery unavailable", url.Values{"keys": {"discover"}}, 400, "keys", "discovery"},
			{"an http issuer", url.Values{"issuer": {"http://ci.example"}}, 400, "issuer", "https"},
			{"no audience", url.Values{"audience": {""}}, 400, "audience", "audience"},
			{"a lifetime too long", url.Values{"max_token_lifetime": {"48h"}}, 400, "max_token_lifetime", "between"},
			{"a lifetime unreadable", url.Values{"max_token_lifetime": {"soon"}}, 400, "max_token_lifetime", "Maximum token lifetime"},
			{"no name", url.Values{"name": {""}}, 400, "name", "name"},
		} {
			r := add(c.change)
			if got := fieldErr(r.body, c.field); r.status != c.status || !strings.Contains(strings.ToLower(got), strings.ToLower(c.want)) ||
				!strings.Contains(r.body, `id="error-summary"`) || !strings.Contains(r.body, `aria-invalid="true"`) {
				t.Errorf("%s: %d, error next to %s %q, want %q", c.name, r.status, c.field, got, c.want)
			}
		}
		if r := add(url.Values{"issuer": {"http://ci.example"}}); !strings.Contains(r.body, `value="http://ci.example"`) {
			t.Error("a refused form lost what was typed")
		}
		// A forged form (another session's token) adds nothing.
		_, aliceCSRF := e.uiLogin(memberEmail, memberPass)
		if r := add(url.Values{"csrf_token": {aliceCSRF}}); r.status != http.StatusForbidden {
			t.Errorf("add with another session's CSRF token: %d", r.status)
		}
		if list, _ := e.store.TrustedIssuers(ctx, models.DefaultOrgID); len(list) != 0 || e.auditActions(models.DefaultOrgID, models.AuditIssuerAdded) != 0 {
			t.Fatalf("refused forms added issuers: %v", list)
		}

		// Added: the table shows it, the audit log has it.
		r = add(nil)
		if r.status != http.StatusSeeOther || r.location() != page+"?notice=issuer_added" {
			t.Fatalf("add: %d %s %.2000s", r.status, r.location(), r.body)
		}
		list, err := e.store.TrustedIssuers(ctx, models.DefaultOrgID)
		if err != nil || len(list) != 1 || !list[0].SingleUse || list[0].MaxTokenLifetime.String() != "10m0s" || list[0].JWKS == "" {
			t.Fatalf("the issuer stored: %+v %v", list, err)
		}
		ti := list[0]
		r = e.uiDo(session, "GET", page+"?notice=issuer_added", nil, nil)
		for _, want := range []string{"The trusted issuer was added", `data-issuer-id="` + ti.ID + `"`, "<code>" + githubIss + "</code>", "pasted JWKS", `data-label="Max token lifetime">10m<`, ">yes<"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("issuers table lacks %q", want)
			}
		}
		if e.auditActions(models.DefaultOrgID, models.AuditIssuerAdded) != 1 {
			t.Error("no issuer.added event")
		}
		if r := add(nil); r.status != http.StatusConflict || !strings.Contains(fieldErr(r.body, "issuer"), "already trusts") {
			t.Errorf("the same issuer again: %d %q", r.status, fieldErr(r.body, "issuer"))
		}

		// Edit: the form shows the issuer as it is; reusable tokens and a
		// new name are saved, the keys kept.
		one := page + "/" + ti.ID
		r = e.uiDo(session, "GET", one, nil, nil)
		if r.status != 200 || !strings.Contains(r.body, `id="keys-keep" name="keys" value="keep" checked`) || !strings.Contains(r.body, `value="GitHub Actions"`) ||
			strings.Contains(r.body, `id="f-issuer"`) || !strings.Contains(r.body, `id="issuer-clients">0<`) {
			t.Fatalf("issuer page: %d %.3000s", r.status, r.body)
		}
		edit := url.Values{"csrf_token": {csrf}, "name": {"GitHub"}, "keys": {"keep"}, "audience": {aud}, "max_token_lifetime": {"5m"}, "reusable": {"on"}}
		if r := e.uiDo(session, "POST", one, url.Values{"csrf_token": {csrf}, "name": {"GitHub"}, "keys": {"keep"}, "audience": {aud}, "max_token_lifetime": {"30s"}}, nil); r.status != 400 || fieldErr(r.body, "max_token_lifetime") == "" {
			t.Errorf("edit with a lifetime too short: %d", r.status)
		}
		if r := e.uiDo(session, "POST", one, edit, nil); r.status != http.StatusSeeOther || r.location() != page+"?notice=issuer_updated" {
			t.Fatalf("edit: %d %s %.2000s", r.status, r.location(), r.body)
		}
		got, err := e.store.TrustedIssuerByID(ctx, models.DefaultOrgID, ti.ID)
		if err != nil || got.Name != "GitHub" || got.SingleUse || got.MaxTokenLifetime.String() != "5m0s" || got.JWKS != ti.JWKS || got.Issuer != githubIss {
			t.Errorf("after the edit: %+v %v", got, err)
		}
		if e.auditActions(models.DefaultOrgID, models.AuditIssuerUpdated) != 1 {
			t.Error("no issuer.updated event")
		}

		// Members: no link, 403 on every page and form, nothing changed.
		alice, aliceCSRF := e.uiLogin(memberEmail, memberPass)
		if r := e.uiDo(alice, "GET", "/admin/o/default/", nil, nil); strings.Contains(r.body, `/issuers"`) {
			t.Error("a member's navigation links the issuers page")
		}
		for _, p := range []string{page, one} {
			if r := e.uiDo(alice, "GET", p, nil, nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "Owners and admins only") {
				t.Errorf("member GET %s: %d", p, r.status)
			}
		}
		for p, form := range map[string]url.Values{page: {"name": {"x"}, "issuer": {"https://gitlab.com"}, "keys": {"jwks"}, "jwks": {jwks}, "audience": {aud}},
			one: {"name": {"taken over"}, "keys": {"keep"}, "audience": {aud}, "max_token_lifetime": {"5m"}}, one + "/remove": {"confirm": {"yes"}}} {
			form.Set("csrf_token", aliceCSRF)
			if r := e.uiDo(alice, "POST", p, form, nil); r.status != http.StatusForbidden {
				t.Errorf("member POST %s: %d", p, r.status)
			}
		}

		// Another organization's issuer is not found, whatever is asked.
		tn := e.newTenant("other")
		theirs, err := e.registry.AddIssuer(ctx, app.Operator(tn.org.ID), app.NewIssuer{Name: "theirs", Issuer: githubIss, Keys: app.IssuerKeys{JWKS: jwks}, Audience: "https://other.example"})
		if err != nil {
			t.Fatal(err)
		}
		foreign := page + "/" + theirs.ID
		if r := e.uiDo(session, "GET", foreign, nil, nil); r.status != http.StatusNotFound || strings.Contains(r.body, "theirs") {
			t.Errorf("GET another organization's issuer: %d", r.status)
		}
		for p, form := range map[string]url.Values{foreign: edit, foreign + "/remove": {"csrf_token": {csrf}, "confirm": {"yes"}}} {
			if r := e.uiDo(session, "POST", p, form, nil); r.status != http.StatusNotFound {
				t.Errorf("POST %s: %d", p, r.status)
			}
		}
		if got, err := e.store.TrustedIssuerByID(ctx, tn.org.ID, theirs.ID); err != nil || got.Name != "theirs" {
			t.Errorf("another organization's issuer changed: %+v %v", got, err)
		}
		if got, _ := e.store.TrustedIssuerByID(ctx, models.DefaultOrgID, ti.ID); got.Name != "GitHub" {
			t.Errorf("a member's forms changed the issuer: %+v", got)
		}

		// Removal asks first (without JavaScript), then removes it.
		r = e.uiDo(session, "POST", one+"/remove", url.Values{"csrf_token": {csrf}}, nil)
		if r.status != 200 || !strings.Contains(r.body, `name="confirm" value="yes"`) {
			t.Errorf("remove without confirm: %d", r.status)
		}
		if r := e.uiDo(session, "POST", one+"/remove", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, nil); r.status != http.StatusSeeOther || r.location() != page+"?notice=issuer_removed" {
			t.Fatalf("remove: %d %s", r.status, r.location())
		}
		if _, err := e.store.TrustedIssuerByID(ctx, models.DefaultOrgID, ti.ID); err == nil || e.auditActions(models.DefaultOrgID, models.AuditIssuerRemoved) != 1 {
			t.Errorf("the issuer is still there (%v), or no issuer.removed event", err)
		}
		if r := e.uiDo(session, "GET", one, nil, nil); r.status != http.StatusNotFound {
			t.Errorf("a removed issuer's page: %d", r.status)
		}
	})
}

func TestUIFederatedClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		platform := testissuer.New(t)
		aud := e.url + "/orgs/default"
		session, csrf := e.uiLogin(adminEmail, adminPassword)

		// Without a trusted issuer the form says so, and links the issuers
		// page for an admin only.
		r := e.uiDo(session, "GET", "/admin/o/default/clients/new?kind=project", nil, nil)
		if !strings.Contains(r.body, `id="auth-federated" name="auth" value="federated"`) || !strings.Contains(r.body, "This organization trusts no issuer yet.") ||
			!strings.Contains(r.body, `id="add-issuer-link"`) {
			t.Fatalf("new client form without issuers: %.4000s", r.body)
		}
		alice, aliceCSRF := e.uiLogin(memberEmail, memberPass)
		if r := e.uiDo(alice, "GET", "/admin/o/default/clients/new?kind=project", nil, nil); strings.Contains(r.body, `id="add-issuer-link"`) || !strings.Contains(r.body, "Ask an owner or admin") {
			t.Error("a member's form links the issuers page")
		}

		op := app.Operator(models.DefaultOrgID)
		gh, err := e.registry.AddIssuer(ctx, op, app.NewIssuer{Name: "GitHub Actions", Issuer: githubIss, Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}, Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.registry.AddIssuer(ctx, op, app.NewIssuer{Name: "GitLab", Issuer: "https://gitlab.com", Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}, Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		r = e.uiDo(session, "GET", "/admin/o/default/clients/new?kind=project", nil, nil)
		if !strings.Contains(r.body, `<option value="`+gh.ID+`">GitHub Actions (`+githubIss+`)</option>`) || strings.Contains(r.body, "trusts no issuer yet") {
			t.Fatalf("new client form with issuers: %.4000s", r.body)
		}

		create := func(change url.Values) uiResp {
			form := url.Values{"csrf_token": {csrf}, "kind": {"project"}, "project": {"default"}, "name": {"deploy"}, "owner": {memberEmail},
				"scopes": {readScope}, "auth": {"federated"}, "trusted_issuer": {gh.ID}, "subject": {"repo:acme/api:ref:refs/heads/main"},
				"conditions": {"repository_owner=acme\n\n environment = production \n"}}
			for k, v := range change {
				form[k] = v
			}
			return e.uiDo(session, "POST", "/admin/o/default/clients", form, nil)
		}
		// Too wide, or unreadable: refused next to the field, nothing created.
		for _, c := range []struct {
			name   string
			change url.Values
			field  string
			want   string
		}{
			{"every repository", url.Values{"subject": {"repo:*"}}, "subject", "owner"},
			{"everything", url.Values{"subject": {"*"}}, "subject", "every token"},
			{"a default service account", url.Values{"subject": {"system:serviceaccount:payments:default"}}, "subject", "default service account"},
			{"a condition without =", url.Values{"conditions": {"environment"}}, "conditions", "claim=value"},
			{"a condition twice", url.Values{"conditions": {"environment=a\nenvironment=b"}}, "conditions", "twice"},
			{"a condition on sub", url.Values{"conditions": {"sub=x"}}, "conditions", "not by a condition"},
			{"no issuer", url.Values{"trusted_issuer": {""}}, "trusted_issuer", "trusted issuer"},
			{"an unknown issuer", url.Values{"trusted_issuer": {"nope"}}, "trusted_issuer", "no trusted issuer"},
		} {
			r := create(c.change)
			if got := fieldErr(r.body, c.field); r.status < 400 || !strings.Contains(got, c.want) || !strings.Contains(r.body, `id="error-summary"`) {
				t.Errorf("%s: %d, next to %s: %q, want %q", c.name, r.status, c.field, got, c.want)
			}
		}
		if r := create(url.Values{"subject": {"repo:*"}}); !strings.Contains(r.body, `id="auth-federated" name="auth" value="federated" checked`) || !strings.Contains(r.body, `value="repo:*"`) {
			t.Error("a refused federated client lost what was typed")
		}
		if list, _ := e.store.ListClients(ctx, models.ClientFilter{OrgID: models.DefaultOrgID}); len(list) != 0 {
			t.Fatalf("refused forms created %d clients", len(list))
		}

		// Created: no secret, the page says what the workload sends.
		r = create(nil)
		if r.status != http.StatusCreated || strings.Contains(r.body, `id="new-secret"`) || !strings.Contains(r.body, `id="created-box"`) ||
			!strings.Contains(r.body, "client_assertion") || !strings.Contains(r.body, "workload identity (federated)") || strings.Contains(r.body, `id="secrets-h"`) {
			t.Fatalf("created: %d %.4000s", r.status, r.body)
		}
		id := html.UnescapeString(submatch(t, `id="new-client-id"[^>]*>([^<]+)<`, r.body))
		cl, err := e.store.ClientByID(ctx, id)
		if err != nil || !cl.Federated() || cl.Federation.IssuerID != gh.ID || cl.Federation.Subject != "repo:acme/api:ref:refs/heads/main" ||
			len(cl.Federation.Conditions) != 2 || cl.Federation.Conditions["environment"] != "production" || len(cl.Secrets) != 0 {
			t.Fatalf("the client stored: %+v %v", cl, err)
		}
		// Its workload's token gets an access token; another branch's not.
		claims := platform.GitHub(aud)
		claims["iss"] = githubIss
		if status, body := e.workloadToken(id, platform.Sign(t, claims)); status != 200 {
			t.Fatalf("the workload's token: %d %v", status, body)
		}
		claims = platform.GitHub(aud)
		claims["iss"], claims["sub"] = githubIss, "repo:acme/api:ref:refs/heads/dev"
		if status, _ := e.workloadToken(id, platform.Sign(t, claims)); status != 401 {
			t.Errorf("another branch's token: %d", status)
		}

		// The client's page shows the binding, with the form to replace it.
		page := "/admin/o/default/clients/" + url.PathEscape(id)
		r = e.uiDo(session, "GET", page, nil, nil)
		for _, want := range []string{`id="binding-subject">repo:acme/api:ref:refs/heads/main<`, "<code>environment=production</code> <code>repository_owner=acme</code>",
			`href="/admin/o/default/issuers/` + gh.ID + `">GitHub Actions</a>`, `<option value="` + gh.ID + `" selected>`, "environment=production\nrepository_owner=acme\n</textarea>"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("client page lacks %q", want)
			}
		}
		if strings.Contains(r.body, `id="rotate-h"`) || strings.Contains(r.body, `id="keys-panel"`) {
			t.Error("a federated client's page offers to rotate a secret or replace keys")
		}

		// Replace: a too-wide subject is refused next to the field; the new
		// binding holds at the next token request, audited.
		replace := url.Values{"csrf_token": {csrf}, "trusted_issuer": {gh.ID}, "subject": {"repo:acme/api:environment:production"}, "conditions": {"repository_owner=acme"}}
		bad := url.Values{"csrf_token": {csrf}, "trusted_issuer": {gh.ID}, "subject": {"repo:*/api:*"}}
		if r := e.uiDo(session, "POST", page+"/federation", bad, nil); r.status != 400 || !strings.Contains(fieldErr(r.body, "subject"), "owner") || !strings.Contains(r.body, `value="repo:*/api:*"`) {
			t.Errorf("replace with a too-wide subject: %d %q", r.status, fieldErr(r.body, "subject"))
		}
		if r := e.uiDo(session, "POST", page+"/federation", url.Values{"csrf_token": {"forged"}, "trusted_issuer": {gh.ID}, "subject": {"repo:acme/api:*"}}, nil); r.status != http.StatusForbidden {
			t.Errorf("replace with a forged CSRF token: %d", r.status)
		}
		if got, _ := e.store.ClientByID(ctx, id); got.Federation.Subject != "repo:acme/api:ref:refs/heads/main" || e.auditActions(models.DefaultOrgID, models.AuditClientFederation) != 0 {
			t.Fatalf("refused forms changed the binding: %+v", got.Federation)
		}
		// The member owns the client: they may replace its binding.
		replace.Set("csrf_token", aliceCSRF)
		if r := e.uiDo(alice, "POST", page+"/federation", replace, nil); r.status != http.StatusSeeOther || r.location() != page+"?notice=binding_set" {
			t.Fatalf("replace: %d %s %.2000s", r.status, r.location(), r.body)
		}
		if e.auditActions(models.DefaultOrgID, models.AuditClientFederation) != 1 {
			t.Error("no client.federation_replaced event")
		}
		claims = platform.GitHub(aud)
		claims["iss"] = githubIss // sub: refs/heads/main, no longer bound
		if status, _ := e.workloadToken(id, platform.Sign(t, claims)); status != 401 {
			t.Errorf("the old binding's token after the replacement: %d", status)
		}
		claims = platform.GitHub(aud)
		claims["iss"], claims["sub"] = githubIss, "repo:acme/api:environment:production"
		if status, body := e.workloadToken(id, platform.Sign(t, claims)); status != 200 {
			t.Errorf("the new binding's token: %d %v", status, body)
		}
		r = e.uiDo(alice, "GET", page+"?notice=binding_set", nil, nil)
		if !strings.Contains(r.body, "The client&#39;s binding was replaced") || !strings.Contains(r.body, `id="binding-subject">repo:acme/api:environment:production<`) ||
			strings.Contains(r.body, `href="/admin/o/default/issuers/`) ||
			// The audit trail: what the replacement changed.
			!strings.Contains(html.UnescapeString(r.body), "conditions: environment=production repository_owner=acme → repository_owner=acme; subject: repo:acme/api:ref:refs/heads/main → repo:acme/api:environment:production<") {
			t.Errorf("client page after the replacement (a member's: no link to the issuers page): %.3000s", r.body)
		}

		// An issuer in use is not removed: the reason is on its page.
		r = e.uiDo(session, "POST", "/admin/o/default/issuers/"+gh.ID+"/remove", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, nil)
		if r.status != http.StatusConflict || !strings.Contains(html.UnescapeString(r.body), "1 client(s) are bound to this trusted issuer") || !strings.Contains(r.body, `id="remove-issuer-err"`) {
			t.Errorf("remove an issuer in use: %d %.3000s", r.status, r.body)
		}
		if r := e.uiDo(session, "GET", "/admin/o/default/issuers", nil, nil); !strings.Contains(r.body, `data-label="Clients">1<`) {
			t.Error("the issuers table does not count the bound client")
		}
		// Bound to the other issuer, the first one can go.
		if r := e.uiDo(session, "POST", page+"/federation", url.Values{"csrf_token": {csrf}, "trusted_issuer": {other.ID}, "subject": {"project_path:acme/api:ref_type:branch:ref:main"}}, nil); r.status != http.StatusSeeOther {
			t.Fatalf("bind to the other issuer: %d %.2000s", r.status, r.body)
		}
		if r := e.uiDo(session, "POST", "/admin/o/default/issuers/"+gh.ID+"/remove", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, nil); r.status != http.StatusSeeOther {
			t.Errorf("remove an issuer no longer in use: %d", r.status)
		}

		// Another organization's issuer cannot be bound, nor its clients reached.
		tn := e.newTenant("other")
		theirs, err := e.registry.AddIssuer(ctx, app.Operator(tn.org.ID), app.NewIssuer{Name: "theirs", Issuer: githubIss, Keys: app.IssuerKeys{JWKS: platform.JWKS(t)}, Audience: "https://other.example"})
		if err != nil {
			t.Fatal(err)
		}
		r = e.uiDo(session, "POST", page+"/federation", url.Values{"csrf_token": {csrf}, "trusted_issuer": {theirs.ID}, "subject": {"repo:acme/api:*"}}, nil)
		if r.status != http.StatusNotFound || fieldErr(r.body, "trusted_issuer") == "" || strings.Contains(r.body, "theirs") {
			t.Errorf("bind to another organization's issuer: %d %q", r.status, fieldErr(r.body, "trusted_issuer"))
		}
		if r := create(url.Values{"trusted_issuer": {theirs.ID}}); r.status != http.StatusNotFound || fieldErr(r.body, "trusted_issuer") == "" {
			t.Errorf("create bound to another organization's issuer: %d", r.status)
		}
		replace.Set("csrf_token", csrf)
		if r := e.uiDo(session, "POST", "/admin/o/default/clients/"+url.PathEscape(tn.clients[models.ClientKindProject])+"/federation", replace, nil); r.status != http.StatusNotFound {
			t.Errorf("replace the binding of another organization's client: %d", r.status)
		}
		// A revoked federated client's page still shows its binding, with
		// nothing to replace.
		if _, err := e.registry.Revoke(ctx, op, id); err != nil {
			t.Fatal(err)
		}
		r = e.uiDo(session, "GET", page, nil, nil)
		if !strings.Contains(r.body, `id="binding-subject">project_path:acme/api:ref_type:branch:ref:main<`) || strings.Contains(r.body, `id="binding-form"`) {
			t.Errorf("a revoked federated client's page: %.3000s", r.body)
		}
		// A client with a secret has no binding to replace.
		secretID, _, _ := e.uiCreate(session, csrf, url.Values{"name": {"with a secret"}, "owner": {memberEmail}, "scopes": {readScope}})
		if r := e.uiDo(session, "POST", "/admin/o/default/clients/"+url.PathEscape(secretID)+"/federation", replace, nil); r.status != http.StatusConflict {
			t.Errorf("replace the binding of a secret client: %d", r.status)
		}
	})
}
