package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/web"
)

// clientFlags are the fields of a new client, for create and import.
type clientFlags struct {
	in        app.NewClient
	scopes    string
	audiences string
	ips       string
	expires   string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.in.Kind, "kind", models.ClientKindProject, "project (bound to one project), organization (any project of the organization; token requests name one with resource) or publishable (bound to one project, limited to the organization's publishable scopes)")
	fs.StringVar(&f.in.Project, "project", "", "slug of the project a project or publishable client is bound to; required for those kinds, but a project client of an organization with one project may leave it out")
	fs.StringVar(&f.in.OwnerEmail, "owner", "", "owner's email (required); the client acts with part of the owner's permissions in the organization")
	fs.StringVar(&f.in.Name, "name", "", "name (required)")
	fs.StringVar(&f.in.Description, "description", "", "what the client is for")
	fs.StringVar(&f.scopes, "scopes", "", "comma-separated granted scopes, a subset of the owner's permissions")
	fs.StringVar(&f.audiences, "audience", "", "organization clients only: comma-separated resources of the projects it may ask tokens for; default every project of the organization")
	fs.StringVar(&f.ips, "ip-allowlist", "", "comma-separated IPs/CIDRs the client may call from; default anywhere")
	fs.DurationVar(&f.in.TokenTTL, "ttl", 0, "token lifetime, e.g. 10m; default the policy's")
	fs.StringVar(&f.expires, "expires-in", "", "credential lifetime from now, e.g. 90d; default the policy's")
	fs.BoolVar(&f.in.ResourceServer, "resource-server", false, "the client may introspect any token (a resource server)")
	fs.BoolVar(&f.in.RequireDPoP, "require-dpop", false, "the token endpoint refuses the client's requests without a DPoP proof (RFC 9449)")
}

// keyFlags are a private_key_jwt client's public keys: a JWKS file or a
// jwks_uri.
type keyFlags struct{ file, uri string }

func (f *keyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.file, "jwks-file", "", "private_key_jwt: a file holding the client's public keys as a JWKS document")
	fs.StringVar(&f.uri, "jwks-uri", "", "private_key_jwt: an https URL serving the client's JWKS, fetched by the token endpoint")
}

// keys reads the JWKS file, if one is named.
func (f *keyFlags) keys() (app.Keys, error) {
	k := app.Keys{JWKSURI: f.uri}
	if f.file == "" {
		return k, nil
	}
	var err error
	k.JWKS, err = readJWKSFile(f.file)
	return k, err
}

// readJWKSFile reads the JWKS document of --jwks-file (at most 64 KiB).
func readJWKSFile(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--jwks-file: %w", err)
	}
	defer file.Close()
	raw, err := io.ReadAll(io.LimitReader(file, 64<<10+1))
	if err != nil {
		return "", fmt.Errorf("--jwks-file: %w", err)
	}
	if len(raw) > 64<<10 {
		return "", errors.New("--jwks-file: larger than 64 KiB")
	}
	return string(raw), nil
}

func (f *clientFlags) build(now time.Time) (app.NewClient, error) {
	if f.in.OwnerEmail == "" || f.in.Name == "" {
		return f.in, errors.New("--owner and --name are required")
	}
	f.in.Scopes, f.in.Audiences, f.in.IPAllowlist = splitList(f.scopes), splitList(f.audiences), splitList(f.ips)
	if f.expires != "" {
		d, err := models.ParseDuration(f.expires)
		if err != nil {
			return f.in, fmt.Errorf("--expires-in: %w", err)
		}
		at := now.Add(d)
		f.in.ExpiresAt = &at
	}
	return f.in, nil
}

func (m *Main) clients(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("clients "+args[0], &c)
	var nc clientFlags
	var keys keyFlags
	var fed federationFlags
	var orgSlug, project, owner, status, grace, within, renewIn, importID string
	var legacy bool
	var edit clientEditFlags
	var find listFlags
	fs.StringVar(&orgSlug, "org", "", "the organization's slug; may be left out when the database has exactly one, or when a client_id names the client")
	switch args[0] {
	case "create":
		nc.register(fs)
		fs.StringVar(&nc.in.AuthMethod, "auth", models.AuthSecret, "how the client authenticates: client_secret_basic (a secret, printed once; sent with Basic or in the body), private_key_jwt (no secret: it signs client assertions with its keys, given with --jwks-file or --jwks-uri) or federated (no secret, no keys: it sends its platform's workload token, bound with --trusted-issuer, --subject and --condition)")
		keys.register(fs)
		fed.register(fs)
	case "set-keys":
		keys.register(fs)
	case "set-federation":
		fed.register(fs)
	case "import":
		nc.register(fs)
		fs.StringVar(&importID, "client-id", "", "the existing client_id (required); the existing secret is read from standard input")
	case "list":
		fs.StringVar(&project, "project", "", "only clients bound to this project (slug)")
		fs.StringVar(&owner, "owner", "", "only clients of this owner's email")
		fs.StringVar(&status, "status", "", "only clients in this status: active, expired, revoked, disabled_by_owner or disabled_by_policy")
		fs.BoolVar(&legacy, "legacy", false, "only clients with a live secret in a deprecated (imported) format")
		fs.StringVar(&find.search, "search", "", "only clients whose name, description, client_id, or owner's email or name contains this (case-insensitive)")
		fs.StringVar(&find.sort, "sort", models.SortCreated, "sort by created, name, owner, last_used or expires")
		fs.StringVar(&find.order, "order", "", "asc or desc; default desc for created and last_used, asc for the others")
		fs.BoolVar(&find.includeRevoked, "include-revoked", false, "list revoked clients too (--status revoked lists only them)")
	case "update":
		edit.register(fs)
	case "renew":
		fs.StringVar(&renewIn, "expires-in", "", "the new lifetime from now, e.g. 90d; default the policy's maximum credential lifetime (its default lifetime when it sets no maximum)")
	case "rotate":
		fs.StringVar(&grace, "grace", "", "how long the old secrets keep working, e.g. 24h, 7d or 0s (now); default the policy's")
	case "expiring":
		fs.StringVar(&within, "within", "30d", "list clients whose credential expires within this period")
	}
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()
	now := time.Now()
	// registry opens the key material only for commands that hash secrets.
	registry := func() (*app.Registry, error) {
		km, err := m.loadKeyMaterial(ctx, &c, store, log)
		if err != nil {
			return nil, err
		}
		return m.registry(store, km.hasher, log), nil
	}

	switch args[0] {
	case "create", "import", "list", "expiring":
		org, err := orgOrOnly(ctx, store, orgSlug)
		if err != nil {
			return fmt.Errorf("clients %s: %w", args[0], err)
		}
		policy, err := store.Policy(ctx, org.ID)
		if err != nil {
			return err
		}
		switch args[0] {
		case "list":
			return m.listClients(ctx, &c, store, org, policy, project, owner, status, legacy, find, now)
		case "expiring":
			d, err := models.ParseDuration(within)
			if err != nil {
				return fmt.Errorf("--within: %w", err)
			}
			list, err := store.ExpiringClients(ctx, policy, now, now.Add(d))
			if err != nil {
				return err
			}
			clients := make([]models.Client, 0, len(list))
			for _, e := range list {
				clients = append(clients, *e.Client)
			}
			return m.printClients(&c, clients, policy, now, func(web.ClientView) bool { return true })
		}
		in, err := nc.build(now)
		if err != nil {
			return fmt.Errorf("clients %s: %w", args[0], err)
		}
		k, err := keys.keys()
		if err != nil {
			return fmt.Errorf("clients %s: %w", args[0], err)
		}
		in.JWKS, in.JWKSURI = k.JWKS, k.JWKSURI
		if args[0] == "create" {
			in.Federation = fed.federation()
		}
		var client *models.Client
		var secret string
		if args[0] == "import" {
			if importID == "" {
				return errors.New("clients import: --client-id is required")
			}
			if secret, err = readSecretLine(m.Stdin); err != nil {
				return fmt.Errorf("clients import: read the existing secret from standard input: %w", err)
			}
		}
		reg, err := registry()
		if err != nil {
			return err
		}
		if args[0] == "import" {
			client, err = reg.Import(ctx, app.Operator(org.ID), in, importID, secret)
			secret = "" // the caller has it; never echo it
		} else {
			client, secret, err = reg.Create(ctx, app.Operator(org.ID), in)
		}
		if err != nil {
			return err
		}
		return m.printNewSecret(&c, client.ID, secret, web.ViewClient(client, policy, now))
	}
	if len(pos) < 1 {
		return fmt.Errorf("clients %s: want the client_id", args[0])
	}
	id := pos[0]
	client, err := clientOf(ctx, store, orgSlug, id)
	if err != nil {
		return err
	}
	op := app.Operator(client.OrgID)
	switch args[0] {
	case "update":
		ch, err := edit.change(fs)
		if err != nil {
			return fmt.Errorf("clients update: %w", err)
		}
		if _, err := m.registry(store, nil, log).Update(ctx, op, id, ch); err != nil {
			return err
		}
	case "renew":
		var rn app.Renewal
		if renewIn != "" {
			if rn.ExpiresIn, err = models.ParseDuration(renewIn); err != nil {
				return fmt.Errorf("--expires-in: %w", err)
			}
		}
		if _, err := m.registry(store, nil, log).Renew(ctx, op, id, rn); err != nil {
			return err
		}
	case "rotate":
		var g *time.Duration
		if grace != "" {
			d, err := models.ParseDuration(grace)
			if err != nil {
				return fmt.Errorf("--grace: %w", err)
			}
			g = &d
		}
		reg, err := registry()
		if err != nil {
			return err
		}
		secret, _, err := reg.Rotate(ctx, op, id, g)
		if err != nil {
			return err
		}
		v, err := viewClient(ctx, store, id)
		if err != nil {
			return err
		}
		return m.printNewSecret(&c, id, secret, v)
	case "set-keys":
		k, err := keys.keys()
		if err != nil {
			return fmt.Errorf("clients set-keys: %w", err)
		}
		if _, err := m.registry(store, nil, log).SetKeys(ctx, op, id, k); err != nil {
			return err
		}
	case "set-federation":
		if _, err := m.registry(store, nil, log).SetFederation(ctx, op, id, fed.federation()); err != nil {
			return err
		}
	case "revoke":
		if _, err := m.registry(store, nil, log).Revoke(ctx, op, id); err != nil {
			return err
		}
	case "revoke-secret":
		if len(pos) != 2 {
			return errors.New("clients revoke-secret: want CLIENT_ID SECRET_ID (see clients show)")
		}
		if err := m.registry(store, nil, log).RevokeSecret(ctx, op, id, pos[1]); err != nil {
			return err
		}
	}
	v, err := viewClient(ctx, store, id)
	if err != nil {
		return err
	}
	return m.printClient(&c, v)
}

// clientEditFlags are the fields clients update may change; only the
// flags given change anything.
type clientEditFlags struct {
	name, description, scopes, audiences, ips string
	ttl                                       time.Duration
	requireDPoP                               bool
}

func (f *clientEditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "the new name")
	fs.StringVar(&f.description, "description", "", "the new description (\"\" clears it)")
	fs.StringVar(&f.scopes, "scopes", "", "comma-separated granted scopes, replacing the client's: held by its owner")
	fs.StringVar(&f.audiences, "audience", "", "organization clients only: comma-separated resources of the projects it may ask tokens for, replacing the client's (\"\": every project)")
	fs.StringVar(&f.ips, "allowed-ips", "", "comma-separated IPs/CIDRs the client may call from, replacing its allowlist (\"\": anywhere)")
	fs.DurationVar(&f.ttl, "ttl", 0, "token lifetime, e.g. 10m, at most the policy's maximum; 0 for the policy's default")
	fs.BoolVar(&f.requireDPoP, "require-dpop", false, "--require-dpop=true: refuse token requests without a DPoP proof; =false: accept them")
}

// change is the change of the flags set on fs.
func (f *clientEditFlags) change(fs *flag.FlagSet) (app.ClientChange, error) {
	var ch app.ClientChange
	list := func(s string) *[]string { l := splitList(s); return &l }
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			ch.Name = &f.name
		case "description":
			ch.Description = &f.description
		case "scopes":
			ch.Scopes = list(f.scopes)
		case "audience":
			ch.Audiences = list(f.audiences)
		case "allowed-ips":
			ch.IPAllowlist = list(f.ips)
		case "ttl":
			ch.TokenTTL = &f.ttl
		case "require-dpop":
			ch.RequireDPoP = &f.requireDPoP
		}
	})
	if ch == (app.ClientChange{}) {
		return ch, errors.New("nothing to change: give --name, --description, --scopes, --audience, --ttl, --allowed-ips or --require-dpop")
	}
	return ch, nil
}

// clientOf loads the client id; with an organization's slug, only a client
// of that organization (one of another is not found, as everywhere).
func clientOf(ctx context.Context, store *models.Store, orgSlug, id string) (*models.Client, error) {
	c, err := store.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if orgSlug != "" {
		org, err := store.OrganizationBySlug(ctx, orgSlug)
		if err != nil {
			return nil, err
		}
		if c.OrgID != org.ID {
			return nil, fmt.Errorf("client %s: %w", id, models.ErrNotFound)
		}
	}
	return c, nil
}

// viewClient is the client id as it stands now, under its organization's
// policy.
func viewClient(ctx context.Context, store *models.Store, id string) (web.ClientView, error) {
	c, err := store.ClientByID(ctx, id)
	if err != nil {
		return web.ClientView{}, err
	}
	p, err := store.Policy(ctx, c.OrgID)
	if err != nil {
		return web.ClientView{}, err
	}
	return web.ViewClient(c, p, time.Now()), nil
}

func (m *Main) printNewSecret(c *common, id, secret string, v web.ClientView) error {
	if c.json {
		out := struct {
			ClientSecret string `json:"client_secret,omitempty"`
			web.ClientView
		}{secret, v}
		return m.printJSON(out)
	}
	if secret == "" && v.AuthMethod == models.AuthPrivateKeyJWT {
		m.printf("client_id: %s (private_key_jwt: no secret; the client signs its assertions with its own keys)\n", id)
		return nil
	}
	if secret == "" && v.AuthMethod == models.AuthFederated {
		m.printf("client_id: %s (federated: no secret; the workload sends its platform's token as client_assertion)\n", id)
		return nil
	}
	if secret == "" {
		m.printf("client_id: %s (imported)\n", id)
		return nil
	}
	m.printf("client_id:     %s\nclient_secret: %s\n\nThe secret is shown only this once: store it now.\n", id, secret)
	return nil
}

// listFlags are the search, sort and revoked filter of clients list.
type listFlags struct {
	search, sort, order string
	includeRevoked      bool
}

func (m *Main) listClients(ctx context.Context, c *common, store *models.Store, org *models.Organization, policy *models.Policy, project, owner, status string, legacy bool, find listFlags, now time.Time) error {
	f := models.ClientFilter{OrgID: org.ID, Search: find.search, Sort: find.sort, HideRevoked: !find.includeRevoked}
	var err error
	if f.Desc, err = models.ClientOrder(f.Sort, find.order); err != nil {
		return fmt.Errorf("--sort %q --order %q: %w", find.sort, find.order, err)
	}
	if project != "" {
		p, err := store.ProjectBySlug(ctx, org.ID, project)
		if err != nil {
			return err
		}
		f.ProjectID = p.ID
	}
	if owner != "" {
		u, err := store.UserByEmail(ctx, org.ID, owner)
		if err != nil {
			return err
		}
		f.OwnerID = u.ID
	}
	switch status {
	case "", models.ClientActive, models.ClientDeprecated, models.ClientSunset, models.ClientExpired, models.ClientRevoked, models.ClientDisabledByOwner, models.ClientDisabledByPolicy:
	default:
		return fmt.Errorf("--status %q: want active, deprecated, sunset, expired, revoked, disabled_by_owner or disabled_by_policy", status)
	}
	f.Legacy = legacy
	if status == models.ClientRevoked {
		f.Status = models.StatusRevoked
	}
	list, err := store.ListClients(ctx, f)
	if err != nil {
		return err
	}
	return m.printClients(c, list, policy, now, func(v web.ClientView) bool { return status == "" || v.Status == status })
}

func (m *Main) printClients(c *common, list []models.Client, policy *models.Policy, now time.Time, keep func(web.ClientView) bool) error {
	views := make([]web.ClientView, 0, len(list))
	for i := range list {
		if v := web.ViewClient(&list[i], policy, now); keep(v) {
			views = append(views, v)
		}
	}
	if c.json {
		return m.printJSON(views)
	}
	rows := make([][]string, 0, len(views))
	for _, v := range views {
		rows = append(rows, []string{v.ClientID, v.Name, v.Kind, dash(v.Project), v.Owner, v.CreatedBy, cliStatus(v), strings.Join(v.Scopes, ","), timeOrDash(v.LastUsedAt), dash(v.LastUsedIP), timeOrDash(v.ExpiresAt)})
	}
	m.table("CLIENT_ID\tNAME\tKIND\tPROJECT\tOWNER\tCREATED_BY\tSTATUS\tSCOPES\tLAST_USED\tLAST_IP\tEXPIRES", rows)
	return nil
}

// cliStatus is the status code, with the date a deprecated client stops
// working: "deprecated, stops on 2027-06-30".
func cliStatus(v web.ClientView) string {
	if v.Status == models.ClientDeprecated {
		return v.StatusText()
	}
	return v.Status
}

func (m *Main) printClient(c *common, v web.ClientView) error {
	if c.json {
		return m.printJSON(v)
	}
	m.printf("client_id:       %s\nkind:            %s\nproject:         %s\nname:            %s\ndescription:     %s\nowner:           %s\ncreated_by:      %s\nstatus:          %s\nscopes:          %s\neffective:       %s\naudiences:       %s\ntoken_ttl:       %s\nip_allowlist:    %s\nexpires:         %s\nrenewed:         %s\nlast_used:       %s from %s (%s)\ntokens issued:   %d\n",
		v.ClientID, v.Kind, dash(v.Project), v.Name, v.Description, v.Owner, v.CreatedBy, cliStatus(v), strings.Join(v.Scopes, " "), strings.Join(v.EffectiveScopes, " "), strings.Join(v.Audiences, " "),
		dash(v.TokenTTL), strings.Join(v.IPAllowlist, " "), timeOrDash(v.ExpiresAt), timeOrDash(v.RenewedAt), timeOrDash(v.LastUsedAt), dash(v.LastUsedIP), dash(v.LastUserAgent), v.TokenCount)
	m.printf("authentication:  %s\n", v.AuthMethod)
	switch {
	case v.JWKSURI != "":
		m.printf("jwks_uri:        %s\n", v.JWKSURI)
	case len(v.JWKS) > 0:
		m.printf("jwks:            %s\n", v.JWKS)
	case v.Federation != nil:
		m.printf("trusted issuer:  %s\nsubject:         %s\n", v.Federation.IssuerID, v.Federation.Subject)
		for _, claim := range slices.Sorted(maps.Keys(v.Federation.Conditions)) {
			m.printf("condition:       %s=%s\n", claim, v.Federation.Conditions[claim])
		}
	}
	for _, s := range v.Secrets {
		m.printf("secret %s:  %s…%s  %s  %s  created %s  expires %s  last used %s  tokens %d\n", s.ID, s.Prefix, s.Last, s.Format, s.Status, s.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(s.ExpiresAt), timeOrDash(s.LastUsedAt), s.TokenCount)
	}
	return nil
}
