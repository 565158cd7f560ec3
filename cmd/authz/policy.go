package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/web"
)

func (m *Main) policy(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("policy "+args[0], &c)
	var orgSlug, maxLife, defLife, defTTL, maxTTL, grace, allowlist, webhook, sunset, publishable string
	if args[0] != "webhook-secret" {
		orgFlag(fs, &orgSlug)
	}
	var maxClients int
	var restricted string
	if args[0] == "set" {
		fs.StringVar(&maxLife, "max-credential-lifetime", "", "cap on every client's lifetime from its creation, applied retroactively (e.g. 90d; 0 = none)")
		fs.StringVar(&defLife, "default-credential-lifetime", "", "expiry given to new clients (e.g. 365d)")
		fs.StringVar(&defTTL, "default-token-ttl", "", "token lifetime for clients without their own (e.g. 15m)")
		fs.StringVar(&maxTTL, "max-token-ttl", "", "cap on every token's lifetime (at most 24h)")
		fs.IntVar(&maxClients, "max-clients-per-owner", 0, "active clients an owner may hold")
		fs.StringVar(&restricted, "creation-restricted", "", "true: only admins and allowed members create clients; false: every member may create their own")
		fs.StringVar(&allowlist, "ip-allowlist", "", `organization-wide IPs/CIDRs clients may call from ("" keeps it, "none" clears it)`)
		fs.StringVar(&grace, "rotation-grace", "", "how long old secrets keep working after a rotation by default (e.g. 24h)")
		fs.StringVar(&webhook, "reminder-webhook", "", `URL that receives signed expiry reminders ("none" clears it)`)
		fs.StringVar(&sunset, "legacy-sunset", "", `RFC 3339 time after which imported secrets stop working ("none" clears it)`)
		fs.StringVar(&publishable, "publishable-scopes", "", `comma-separated scopes publishable clients may hold ("none" clears it); narrowing it narrows their tokens at once`)
	}
	if _, err := m.parse(fs, args[1:]); err != nil {
		return err
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if args[0] == "webhook-secret" {
		// The key reminder webhooks are signed with, for the receiver.
		km, err := m.loadKeyMaterial(ctx, &c, store, log)
		if err != nil {
			return err
		}
		key := hex.EncodeToString(km.hasher.DeriveKey("webhook"))
		if c.json {
			return m.printJSON(map[string]string{"webhook_secret": key})
		}
		fmt.Fprintln(m.Stdout, key)
		return nil
	}
	org, err := orgOrOnly(ctx, store, orgSlug)
	if err != nil {
		return fmt.Errorf("policy %s: %w", args[0], err)
	}
	p, err := store.Policy(ctx, org.ID)
	if err != nil {
		return err
	}
	if args[0] == "set" {
		for _, d := range []struct {
			flag, value string
			into        *time.Duration
		}{{"max-credential-lifetime", maxLife, &p.MaxCredentialLifetime}, {"default-credential-lifetime", defLife, &p.DefaultCredentialLifetime},
			{"default-token-ttl", defTTL, &p.DefaultTokenTTL}, {"max-token-ttl", maxTTL, &p.MaxTokenTTL}, {"rotation-grace", grace, &p.RotationGrace}} {
			if d.value == "" {
				continue
			}
			v, err := models.ParseDuration(d.value)
			if err != nil {
				return fmt.Errorf("--%s: %w", d.flag, err)
			}
			*d.into = v
		}
		if maxClients != 0 {
			p.MaxClientsPerOwner = maxClients
		}
		switch restricted {
		case "":
		case "true":
			p.CreationRestricted = true
		case "false":
			p.CreationRestricted = false
		default:
			return errors.New("--creation-restricted: want true or false")
		}
		switch allowlist {
		case "":
		case "none":
			p.IPAllowlist = models.Set{}
		default:
			p.IPAllowlist = models.NewSet(splitList(allowlist)...)
		}
		switch webhook {
		case "":
		case "none":
			p.ReminderWebhookURL = ""
		default:
			p.ReminderWebhookURL = webhook
		}
		switch sunset {
		case "":
		case "none":
			p.LegacySunset = nil
		default:
			t, err := time.Parse(time.RFC3339, sunset)
			if err != nil {
				return errors.New("--legacy-sunset: want an RFC 3339 time such as 2027-06-30T00:00:00Z")
			}
			p.LegacySunset = &t
		}
		switch publishable {
		case "":
		case "none":
			p.PublishableScopes = models.Set{}
		default:
			p.PublishableScopes = models.NewSet(splitList(publishable)...)
		}
		if err := m.registry(store, nil, log).SavePolicy(ctx, app.Operator(org.ID), p); err != nil {
			return err
		}
	}
	v := web.ViewPolicy(p)
	if c.json {
		return m.printJSON(v)
	}
	sun := "-"
	if v.MaxCredentialLifetime == "0s" {
		v.MaxCredentialLifetime = "none"
	}
	if v.LegacySunset != nil {
		sun = v.LegacySunset.UTC().Format(time.RFC3339)
	}
	m.printf("max_credential_lifetime:     %s\ndefault_credential_lifetime: %s\ndefault_token_ttl:           %s\nmax_token_ttl:               %s\nmax_clients_per_owner:       %d\ncreation_restricted:         %t\nip_allowlist:                %s\nrotation_grace:              %s\nreminder_webhook_url:        %s\nlegacy_sunset:               %s\npublishable_scopes:          %s\n",
		v.MaxCredentialLifetime, v.DefaultCredentialLifetime, v.DefaultTokenTTL, v.MaxTokenTTL, v.MaxClientsPerOwner, v.CreationRestricted, "["+strings.Join(v.IPAllowlist, " ")+"]", v.RotationGrace, dash(v.ReminderWebhookURL), sun, "["+strings.Join(v.PublishableScopes, " ")+"]")
	return nil
}

func (m *Main) audit(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("audit", &c)
	var f models.AuditFilter
	var orgSlug, since, until, user string
	fs.StringVar(&orgSlug, "org", "", "only events of this organization (slug); default every event, the server's own included")
	fs.StringVar(&f.ClientID, "client", "", "only events about this client_id")
	fs.StringVar(&user, "user", "", "only events about this user's email")
	fs.StringVar(&f.Action, "action", "", "only this action, e.g. client.revoked or client.auth_failed")
	fs.StringVar(&since, "since", "", "from this RFC 3339 time, or a duration ago (e.g. 24h, 7d)")
	fs.StringVar(&until, "until", "", "before this RFC 3339 time")
	fs.IntVar(&f.Limit, "limit", 100, "at most this many events (newest first, up to 1000)")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if since != "" {
		if d, err := models.ParseDuration(since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if f.Since, err = time.Parse(time.RFC3339, since); err != nil {
			return errors.New("--since: want an RFC 3339 time or a duration such as 24h")
		}
	}
	if until != "" {
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return errors.New("--until: want an RFC 3339 time")
		}
		f.Until = t
	}
	store, err := m.openStore(ctx, &c, m.logger(slog.LevelWarn), false)
	if err != nil {
		return err
	}
	defer store.Close()
	if orgSlug != "" {
		org, err := store.OrganizationBySlug(ctx, orgSlug)
		if err != nil {
			return err
		}
		f.OrgID = org.ID
	}
	if user != "" {
		u, err := store.PersonByEmail(ctx, user)
		if err != nil {
			return err
		}
		f.UserID = u.ID
	}
	events, err := store.Audit(ctx, f)
	if err != nil {
		return err
	}
	views := make([]web.AuditView, 0, len(events))
	rows := make([][]string, 0, len(events))
	for _, e := range events {
		views = append(views, web.ViewAudit(&e))
		rows = append(rows, []string{e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, dash(e.ClientID), dash(e.IP), e.Detail})
	}
	if c.json {
		return m.printJSON(views)
	}
	m.table("AT\tACTOR\tACTION\tCLIENT\tIP\tDETAIL", rows)
	return nil
}
