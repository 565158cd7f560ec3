package app

import (
	"context"
	"net/url"

	"github.com/authz/authz/models"
)

// SavePolicy changes the policy of the actor's organization (whatever
// p.OrgID says); only its owners and admins may. Lifetime changes apply
// retroactively from each client's creation. Narrowing the publishable
// scopes edits no client: the token endpoint grants a publishable client
// only the current set's scopes, so the narrowing holds at once.
func (r *Registry) SavePolicy(ctx context.Context, actor Actor, p *models.Policy) error {
	if err := actor.requireManager("change the policy"); err != nil {
		return err
	}
	p.OrgID = actor.OrgID
	if _, err := normalizeAllowlist(p.IPAllowlist); err != nil {
		return err
	}
	if p.ReminderWebhookURL != "" {
		if u, err := url.Parse(p.ReminderWebhookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return models.Errorf(models.KindInvalid, "invalid_webhook_url", "reminder webhook must be an http(s) URL")
		}
		if err := models.CheckText(p.ReminderWebhookURL); err != nil {
			return models.Errorf(models.KindInvalid, "invalid_webhook_url", "reminder webhook URL %v", err)
		}
	}
	p.PublishableScopes = models.NewSet(p.PublishableScopes...)
	p.UpdatedBy = actor.Name()
	if err := r.store.SavePolicy(ctx, p); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditPolicyUpdated, "", "", map[string]any{
		"max_credential_lifetime": p.MaxCredentialLifetime.String(), "default_credential_lifetime": p.DefaultCredentialLifetime.String(),
		"default_token_ttl": p.DefaultTokenTTL.String(), "max_token_ttl": p.MaxTokenTTL.String(), "max_clients_per_owner": p.MaxClientsPerOwner,
		"creation_restricted": p.CreationRestricted, "ip_allowlist": p.IPAllowlist, "rotation_grace": p.RotationGrace.String(),
		"reminder_webhook_url": p.ReminderWebhookURL, "legacy_sunset": p.LegacySunset, "publishable_scopes": p.PublishableScopes,
	})
	return nil
}
