package web

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

//go:embed openapi.json
var openapiDoc []byte

// openapi is GET /openapi.json: the OpenAPI 3.1 description of this API.
// It is public: it describes routes, not data.
func (a *adminAPI) openapi(c echo.Context, _ *principal) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, "application/json", openapiDoc)
}

// PolicyView is an organization's policy; durations are Go durations,
// whole days written as "Nd".
type PolicyView struct {
	MaxCredentialLifetime     string     `json:"max_credential_lifetime"`
	DefaultCredentialLifetime string     `json:"default_credential_lifetime"`
	DefaultTokenTTL           string     `json:"default_token_ttl"`
	MaxTokenTTL               string     `json:"max_token_ttl"`
	MaxClientsPerOwner        int        `json:"max_clients_per_owner"`
	CreationRestricted        bool       `json:"creation_restricted"`
	IPAllowlist               []string   `json:"ip_allowlist"`
	RotationGrace             string     `json:"rotation_grace"`
	ReminderWebhookURL        string     `json:"reminder_webhook_url"`
	LegacySunset              *time.Time `json:"legacy_sunset"`
	PublishableScopes         []string   `json:"publishable_scopes"`
	UpdatedAt                 *time.Time `json:"updated_at"`
	UpdatedBy                 string     `json:"updated_by"`
}

// ViewPolicy shows the policy.
func ViewPolicy(p *models.Policy) PolicyView {
	v := PolicyView{
		MaxCredentialLifetime: models.FormatDuration(p.MaxCredentialLifetime), DefaultCredentialLifetime: models.FormatDuration(p.DefaultCredentialLifetime),
		DefaultTokenTTL: models.FormatDuration(p.DefaultTokenTTL), MaxTokenTTL: models.FormatDuration(p.MaxTokenTTL),
		MaxClientsPerOwner: p.MaxClientsPerOwner, CreationRestricted: p.CreationRestricted, IPAllowlist: nonNil(p.IPAllowlist),
		RotationGrace: models.FormatDuration(p.RotationGrace), ReminderWebhookURL: p.ReminderWebhookURL, LegacySunset: utc(p.LegacySunset),
		PublishableScopes: nonNil(p.PublishableScopes), UpdatedBy: p.UpdatedBy,
	}
	if !p.UpdatedAt.IsZero() {
		v.UpdatedAt = utc(&p.UpdatedAt)
	}
	return v
}

// getPolicy is GET /orgs/{org}/policy.
func (a *adminAPI) getPolicy(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	pol, err := a.Store.Policy(c.Request().Context(), p.org.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ViewPolicy(pol))
}

// putPolicy is PUT /orgs/{org}/policy: the organization's whole policy.
// Every field is required except reminder_webhook_url and legacy_sunset
// (absent: none), so that a forgotten field never silently lifts a limit. updated_at and updated_by
// are accepted and ignored, so a GET body can be edited and sent back.
func (a *adminAPI) putPolicy(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		MaxCredentialLifetime     *string         `json:"max_credential_lifetime"`
		DefaultCredentialLifetime *string         `json:"default_credential_lifetime"`
		DefaultTokenTTL           *string         `json:"default_token_ttl"`
		MaxTokenTTL               *string         `json:"max_token_ttl"`
		MaxClientsPerOwner        *int            `json:"max_clients_per_owner"`
		CreationRestricted        *bool           `json:"creation_restricted"`
		IPAllowlist               *[]string       `json:"ip_allowlist"`
		RotationGrace             *string         `json:"rotation_grace"`
		ReminderWebhookURL        *string         `json:"reminder_webhook_url"`
		LegacySunset              *string         `json:"legacy_sunset"`
		PublishableScopes         *[]string       `json:"publishable_scopes"`
		UpdatedAt                 json.RawMessage `json:"updated_at"`
		UpdatedBy                 json.RawMessage `json:"updated_by"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	var missing []string
	for name, present := range map[string]bool{
		"max_credential_lifetime": in.MaxCredentialLifetime != nil, "default_credential_lifetime": in.DefaultCredentialLifetime != nil,
		"default_token_ttl": in.DefaultTokenTTL != nil, "max_token_ttl": in.MaxTokenTTL != nil,
		"max_clients_per_owner": in.MaxClientsPerOwner != nil, "creation_restricted": in.CreationRestricted != nil,
		"ip_allowlist": in.IPAllowlist != nil, "rotation_grace": in.RotationGrace != nil,
		"publishable_scopes": in.PublishableScopes != nil,
	} {
		if !present {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return models.Errorf(models.KindInvalid, "invalid_policy", "PUT replaces the whole policy; missing: %s", strings.Join(missing, ", "))
	}
	pol := &models.Policy{
		OrgID: p.org.ID, MaxClientsPerOwner: *in.MaxClientsPerOwner, CreationRestricted: *in.CreationRestricted,
		IPAllowlist: models.NewSet(*in.IPAllowlist...), PublishableScopes: models.NewSet(*in.PublishableScopes...),
	}
	for _, d := range []struct {
		name string
		in   *string
		out  *time.Duration
	}{
		{"max_credential_lifetime", in.MaxCredentialLifetime, &pol.MaxCredentialLifetime},
		{"default_credential_lifetime", in.DefaultCredentialLifetime, &pol.DefaultCredentialLifetime},
		{"default_token_ttl", in.DefaultTokenTTL, &pol.DefaultTokenTTL},
		{"max_token_ttl", in.MaxTokenTTL, &pol.MaxTokenTTL},
		{"rotation_grace", in.RotationGrace, &pol.RotationGrace},
	} {
		v, err := models.ParseDuration(*d.in)
		if err != nil {
			return models.Errorf(models.KindInvalid, "invalid_duration", "%s: %s", d.name, models.ErrorMessage(err))
		}
		*d.out = v
	}
	if in.ReminderWebhookURL != nil {
		pol.ReminderWebhookURL = strings.TrimSpace(*in.ReminderWebhookURL)
	}
	if in.LegacySunset != nil && *in.LegacySunset != "" {
		t, err := time.Parse(time.RFC3339, *in.LegacySunset)
		if err != nil {
			return models.Errorf(models.KindInvalid, "invalid_policy", "legacy_sunset must be an RFC 3339 time or null")
		}
		t = t.UTC()
		pol.LegacySunset = &t
	}
	if err := a.Registry.SavePolicy(c.Request().Context(), p.actor(), pol); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ViewPolicy(pol))
}

// AuditView is an audit event as the admin API and the CLI show it; a JSON
// detail is embedded as JSON.
type AuditView struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	ClientID string    `json:"client_id,omitempty"`
	UserID   string    `json:"user_id,omitempty"`
	IP       string    `json:"ip,omitempty"`
	Detail   any       `json:"detail,omitempty"`
}

// ViewAudit shows an audit event.
func ViewAudit(e *models.AuditEvent) AuditView {
	v := AuditView{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, ClientID: e.ClientID, UserID: e.UserID, IP: e.IP}
	switch {
	case e.Detail == "":
	case json.Valid([]byte(e.Detail)):
		v.Detail = json.RawMessage(e.Detail)
	default:
		v.Detail = e.Detail
	}
	return v
}

// audit is GET /orgs/{org}/audit?client_id=&user_id=&action=&since=&until=&cursor=&limit=:
// the organization's events newest first; since is inclusive, until
// exclusive (RFC 3339).
func (a *adminAPI) audit(c echo.Context, p *principal) error {
	q, err := query(c, "client_id", "user_id", "action", "actor", "since", "until", "cursor", "limit")
	if err != nil {
		return err
	}
	limit, err := pageLimit(q)
	if err != nil {
		return err
	}
	before, err := decodeCursor(q)
	if err != nil {
		return err
	}
	f := models.AuditFilter{OrgID: p.org.ID, ClientID: q.Get("client_id"), UserID: q.Get("user_id"), Action: q.Get("action"), Actor: q.Get("actor"), Before: before, Limit: limit + 1}
	for _, t := range []struct {
		name string
		out  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			if *t.out, err = time.Parse(time.RFC3339, v); err != nil {
				return invalidParam("%s must be an RFC 3339 time such as 2025-01-31T00:00:00Z", t.name)
			}
		}
	}
	events, err := a.Store.Audit(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := page[AuditView]{Items: []AuditView{}}
	if len(events) > limit {
		events = events[:limit]
		out.NextCursor = encodeCursor(events[limit-1].ID)
	}
	for i := range events {
		out.Items = append(out.Items, ViewAudit(&events[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// KeyView is a signing key as the admin API and the CLI show it: never
// key material.
type KeyView struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	Generation  int64      `json:"generation"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
}

// ViewKey shows a signing key.
func ViewKey(k *models.SigningKey) KeyView {
	return KeyView{k.KID, k.Alg, k.State, k.Generation, k.CreatedAt.UTC(), utc(k.ActivatedAt), utc(k.RetiredAt)}
}

// keys is GET /keys, oldest first: the server's keys (one issuer, one
// JWKS), for the owners and admins of any organization.
func (a *adminAPI) keys(c echo.Context, _ *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	keys, err := a.Store.SigningKeys(c.Request().Context())
	if err != nil {
		return err
	}
	out := struct {
		Items []KeyView `json:"items"`
	}{Items: []KeyView{}}
	for _, k := range keys {
		out.Items = append(out.Items, ViewKey(&k))
	}
	return c.JSON(http.StatusOK, out)
}
