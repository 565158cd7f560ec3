package web

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Organization pages (owners and admins only): the policy and the audit
// log; and the server's signing keys (owners and admins of any
// organization).

type policyForm struct {
	MaxCredentialLifetime, DefaultCredentialLifetime string
	DefaultTokenTTL, MaxTokenTTL                     string
	MaxClientsPerOwner                               string
	CreationRestricted                               bool
	IPAllowlist, RotationGrace                       string
	ReminderWebhookURL, LegacySunset                 string
	PublishableScopes                                string
}

type policyData struct {
	Form      policyForm
	Errors    map[string]string
	FormError string
	UpdatedAt *time.Time
	UpdatedBy string
}

func policyToForm(p *models.Policy) policyForm {
	f := policyForm{
		MaxCredentialLifetime: shortDur(p.MaxCredentialLifetime), DefaultCredentialLifetime: shortDur(p.DefaultCredentialLifetime),
		DefaultTokenTTL: shortDur(p.DefaultTokenTTL), MaxTokenTTL: shortDur(p.MaxTokenTTL),
		MaxClientsPerOwner: strconv.Itoa(p.MaxClientsPerOwner), CreationRestricted: p.CreationRestricted,
		IPAllowlist: strings.Join(p.IPAllowlist, "\n"), RotationGrace: shortDur(p.RotationGrace),
		ReminderWebhookURL: p.ReminderWebhookURL, PublishableScopes: strings.Join(p.PublishableScopes, " "),
	}
	if p.MaxCredentialLifetime == 0 {
		f.MaxCredentialLifetime = "0"
	}
	if p.LegacySunset != nil {
		f.LegacySunset = p.LegacySunset.UTC().Format(time.RFC3339)
	}
	return f
}

// policyPage is GET /admin/o/{org}/policy.
func (u *adminUI) policyPage(c echo.Context, p *uiCtx) error {
	pol, err := u.Store.Policy(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	return u.renderPolicy(c, p, http.StatusOK, pol, policyToForm(pol), nil, "")
}

func (u *adminUI) renderPolicy(c echo.Context, p *uiCtx, status int, pol *models.Policy, form policyForm, errs map[string]string, formErr string) error {
	d := policyData{Form: form, Errors: errs, FormError: formErr, UpdatedBy: pol.UpdatedBy}
	if !pol.UpdatedAt.IsZero() {
		d.UpdatedAt = utc(&pol.UpdatedAt)
	}
	pg := u.page(p, "Organization policy", "policy", d)
	pg.Notice = notice(c)
	return u.renderWith(c, status, "policy.html", pg)
}

// policyFields says which field a policy validation message is about.
var policyFields = []struct{ prefix, field string }{
	{"max credential lifetime", "max_credential_lifetime"},
	{"default credential lifetime", "default_credential_lifetime"},
	{"default token ttl", "default_token_ttl"},
	{"max token ttl", "max_token_ttl"},
	{"max clients per owner", "max_clients_per_owner"},
	{"rotation grace", "rotation_grace"},
}

// policySubmit is POST /admin/o/{org}/policy: the organization's whole
// policy, through the Registry (audited; lifetimes apply retroactively;
// narrowing the publishable scopes narrows publishable clients' tokens at
// once).
func (u *adminUI) policySubmit(c echo.Context, p *uiCtx) error {
	ctx := c.Request().Context()
	cur, err := u.Store.Policy(ctx, p.org.ID)
	if err != nil {
		return err
	}
	f := c.Request().PostForm
	form := policyForm{
		MaxCredentialLifetime: f.Get("max_credential_lifetime"), DefaultCredentialLifetime: f.Get("default_credential_lifetime"),
		DefaultTokenTTL: f.Get("default_token_ttl"), MaxTokenTTL: f.Get("max_token_ttl"), MaxClientsPerOwner: strings.TrimSpace(f.Get("max_clients_per_owner")),
		CreationRestricted: f.Get("creation_restricted") == "on", IPAllowlist: f.Get("ip_allowlist"), RotationGrace: f.Get("rotation_grace"),
		ReminderWebhookURL: strings.TrimSpace(f.Get("reminder_webhook_url")), LegacySunset: strings.TrimSpace(f.Get("legacy_sunset")),
		PublishableScopes: f.Get("publishable_scopes"),
	}
	errs := map[string]string{}
	pol := &models.Policy{
		OrgID: p.org.ID, CreationRestricted: form.CreationRestricted, IPAllowlist: models.NewSet(splitFields(form.IPAllowlist)...),
		ReminderWebhookURL: form.ReminderWebhookURL, PublishableScopes: models.NewSet(splitFields(form.PublishableScopes)...),
	}
	for _, d := range []struct {
		name, label, in string
		out             *time.Duration
	}{
		{"max_credential_lifetime", "Maximum credential lifetime", form.MaxCredentialLifetime, &pol.MaxCredentialLifetime},
		{"default_credential_lifetime", "Default credential lifetime", form.DefaultCredentialLifetime, &pol.DefaultCredentialLifetime},
		{"default_token_ttl", "Default token lifetime", form.DefaultTokenTTL, &pol.DefaultTokenTTL},
		{"max_token_ttl", "Maximum token lifetime", form.MaxTokenTTL, &pol.MaxTokenTTL},
		{"rotation_grace", "Rotation grace period", form.RotationGrace, &pol.RotationGrace},
	} {
		v, err := models.ParseDuration(d.in)
		if err != nil {
			errs[d.name] = d.label + ": " + models.ErrorMessage(err) + "."
			continue
		}
		*d.out = v
	}
	if n, err := strconv.Atoi(form.MaxClientsPerOwner); err != nil {
		errs["max_clients_per_owner"] = "Clients per owner: want a whole number."
	} else {
		pol.MaxClientsPerOwner = n
	}
	if form.LegacySunset != "" {
		t, err := time.Parse(time.RFC3339, form.LegacySunset)
		if err != nil {
			t, err = time.Parse(time.DateOnly, form.LegacySunset)
		}
		if err != nil {
			errs["legacy_sunset"] = "Legacy sunset: want a date such as 2027-06-30 or an RFC 3339 time such as 2027-06-30T00:00:00Z."
		} else {
			t = t.UTC()
			pol.LegacySunset = &t
		}
	}
	if len(errs) > 0 {
		return u.renderPolicy(c, p, http.StatusBadRequest, cur, form, errs, "")
	}
	if err := u.Registry.SavePolicy(ctx, p.actor(), pol); err != nil {
		status, body, known := render(err)
		if !known {
			return err
		}
		field := map[string]string{"invalid_ip_allowlist": "ip_allowlist", "invalid_webhook_url": "reminder_webhook_url"}[body.Code]
		if field == "" && strings.Contains(strings.ToLower(body.Message), "publishable") {
			field = "publishable_scopes"
		}
		for _, pf := range policyFields {
			if field == "" && strings.HasPrefix(strings.ToLower(body.Message), pf.prefix) {
				field = pf.field
			}
		}
		if field == "" {
			return u.renderPolicy(c, p, status, cur, form, nil, body.Message)
		}
		return u.renderPolicy(c, p, status, cur, form, map[string]string{field: body.Message}, "")
	}
	logOutcome(c, "policy_saved")
	return c.Redirect(http.StatusSeeOther, p.base()+"/policy?notice=policy_saved")
}

// keysPage is GET /admin/keys: the server's signing keys (one issuer, one
// JWKS for every organization), oldest first; never key material.
func (u *adminUI) keysPage(c echo.Context, p *uiCtx) error {
	keys, err := u.Store.SigningKeys(c.Request().Context())
	if err != nil {
		return err
	}
	return u.renderPage(c, p, http.StatusOK, "keys.html", "Signing keys", "keys", keys)
}

// auditRow is an audit event as a table shows it.
type auditRow struct {
	At                               time.Time
	Actor, Action, ClientID, UserID  string
	UserEmail, IP, Detail, ClientURL string
}

func (u *adminUI) auditRows(ctx context.Context, p *uiCtx, events []models.AuditEvent) ([]auditRow, error) {
	emails := map[string]string{}
	if len(events) > 0 {
		users, err := u.Store.ListUsers(ctx, p.org.ID)
		if err != nil {
			return nil, err
		}
		for _, us := range users {
			emails[us.ID] = us.Email
		}
	}
	out := make([]auditRow, 0, len(events))
	for _, e := range events {
		r := auditRow{At: e.At, Actor: e.Actor, Action: e.Action, ClientID: e.ClientID, UserID: e.UserID, UserEmail: emails[e.UserID], IP: e.IP, Detail: auditDetail(e.Detail)}
		if e.ClientID != "" {
			r.ClientURL = p.base() + "/clients/" + url.PathEscape(e.ClientID)
		}
		out = append(out, r)
	}
	return out, nil
}

// auditDetail writes an event's JSON detail as "key: value; …" with keys
// sorted, lists space-separated, and a change (before and after) as
// "field: old → new; …"; anything else as it is.
func auditDetail(raw string) string {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if raw == "" || dec.Decode(&m) != nil {
		return raw
	}
	if before, after, ok := changes(m); ok {
		// A change: "field: old → new" for each field that changed.
		// A field the change kept (a binding's issuer when only its subject
		// changed) is left out.
		parts := make([]string, 0, len(after))
		for _, k := range slices.Sorted(maps.Keys(after)) {
			if old, cur := detailValue(before[k]), detailValue(after[k]); old != cur {
				parts = append(parts, k+": "+old+" → "+cur)
			}
		}
		if len(parts) == 0 {
			return "no change"
		}
		return strings.Join(parts, "; ")
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+": "+detailValue(m[k]))
	}
	return strings.Join(parts, "; ")
}

// changes returns the before and after of a detail that records a change
// (client.updated, client.renewed): exactly those two objects.
func changes(m map[string]any) (before, after map[string]any, ok bool) {
	before, okb := m["before"].(map[string]any)
	after, oka := m["after"].(map[string]any)
	return before, after, okb && oka && len(m) == 2
}

// detailValue writes one value of an event's detail.
func detailValue(x any) string {
	switch x := x.(type) {
	case nil:
		return "none"
	case string:
		if x == "" {
			return "none"
		}
	case []any:
		items := make([]string, 0, len(x))
		for _, it := range x {
			items = append(items, fmt.Sprint(it))
		}
		if len(items) == 0 {
			return "none"
		}
		return strings.Join(items, " ")
	case map[string]any:
		// An object (a binding's conditions): key=value, by key.
		items := make([]string, 0, len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			items = append(items, k+"="+fmt.Sprint(x[k]))
		}
		if len(items) == 0 {
			return "none"
		}
		return strings.Join(items, " ")
	}
	return fmt.Sprint(x)
}

var auditActions = []string{
	models.AuditClientCreated, models.AuditClientImported, models.AuditClientRevoked, models.AuditSecretRotated,
	models.AuditSecretRevoked, models.AuditTokenRevoked, models.AuditAuthFailed, models.AuditReminderSent,
	models.AuditUserCreated, models.AuditUserUpdated, models.AuditPasswordUpdated, models.AuditSessionCreated,
	models.AuditSessionFailed, models.AuditSessionEnded, models.AuditPolicyUpdated, models.AuditKeyRotated,
	models.AuditClientUpdated, models.AuditClientRenewed, models.AuditOrgCreated, models.AuditProjectCreated, models.AuditDefaultProjectSet,
	models.AuditClientKeys, models.AuditIssuerAdded, models.AuditIssuerUpdated, models.AuditIssuerRemoved, models.AuditClientFederation,
}

type auditData struct {
	Events                 []auditRow
	Users                  []models.User
	Actions                []string
	ClientID, User, Action string
	Actor                  string
	Since, Until           string
	FilterErr              string
	Older                  string
	Filtered               bool
}

const auditPageSize = 50

// auditPage is GET /admin/o/{org}/audit?client_id=&actor=&user=&action=&since=&until=&before=:
// the organization's events newest first; since and until are UTC dates,
// both included.
func (u *adminUI) auditPage(c echo.Context, p *uiCtx) error {
	ctx := c.Request().Context()
	q := c.Request().URL.Query()
	d := auditData{Actions: auditActions, ClientID: strings.TrimSpace(q.Get("client_id")), User: q.Get("user"), Action: q.Get("action"), Actor: strings.TrimSpace(q.Get("actor")), Since: q.Get("since"), Until: q.Get("until")}
	users, err := u.Store.ListUsers(ctx, p.org.ID)
	if err != nil {
		return err
	}
	d.Users = users
	f := models.AuditFilter{OrgID: p.org.ID, ClientID: d.ClientID, Action: d.Action, Actor: d.Actor, Limit: auditPageSize + 1}
	var problems []string
	if d.User != "" {
		for _, us := range users {
			if us.ID == d.User {
				f.UserID = us.ID
			}
		}
		if f.UserID == "" {
			problems, d.User = append(problems, "Unknown user."), ""
		}
	}
	if d.Action != "" && !contains(auditActions, d.Action) {
		problems, d.Action, f.Action = append(problems, "Unknown action."), "", ""
	}
	for _, t := range []struct {
		label string
		in    *string
		out   *time.Time
		add   time.Duration
	}{{"From", &d.Since, &f.Since, 0}, {"To", &d.Until, &f.Until, 24 * time.Hour}} {
		if *t.in == "" {
			continue
		}
		day, err := time.Parse(time.DateOnly, *t.in)
		if err != nil {
			problems, *t.in = append(problems, t.label+": want a date such as 2026-01-31."), ""
			continue
		}
		*t.out = day.Add(t.add)
	}
	if v := q.Get("before"); v != "" {
		if f.Before, err = decodeCursor(url.Values{"cursor": {v}}); err != nil {
			f.Before = ""
		}
	}
	d.FilterErr = strings.Join(problems, " ")
	d.Filtered = f.ClientID != "" || f.Actor != "" || f.UserID != "" || f.Action != "" || !f.Since.IsZero() || !f.Until.IsZero()
	events, err := u.Store.Audit(ctx, f)
	if err != nil {
		return err
	}
	if len(events) > auditPageSize {
		events = events[:auditPageSize]
		nq := url.Values{}
		for k, v := range map[string]string{"client_id": d.ClientID, "actor": d.Actor, "user": d.User, "action": d.Action, "since": d.Since, "until": d.Until} {
			if v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("before", encodeCursor(events[len(events)-1].ID))
		d.Older = p.base() + "/audit?" + nq.Encode()
	}
	if d.Events, err = u.auditRows(ctx, p, events); err != nil {
		return err
	}
	status := http.StatusOK
	if d.FilterErr != "" {
		status = http.StatusBadRequest
	}
	return u.renderPage(c, p, status, "audit.html", "Audit log", "audit", d)
}
