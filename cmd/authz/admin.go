package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

func (m *Main) users(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("users: want create, list, disable, enable or set-permissions")
	}
	var c common
	fs := m.flags("users "+args[0], &c)
	var email, name, role, perms string
	switch args[0] {
	case "create":
		fs.StringVar(&email, "email", "", "email address (required)")
		fs.StringVar(&name, "name", "", "display name (required)")
		fs.StringVar(&role, "role", models.RoleMember, "member or admin")
		fs.StringVar(&perms, "permissions", "", "comma-separated permissions, e.g. analysis:read,analysis:create")
	case "list", "disable", "enable", "set-permissions":
	default:
		return fmt.Errorf("users: unknown subcommand %q", args[0])
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	store, err := m.openStore(ctx, &c, m.logger(slog.LevelWarn), false)
	if err != nil {
		return err
	}
	defer store.Close()

	switch args[0] {
	case "create":
		if email == "" || name == "" {
			return errors.New("users create: --email and --name are required")
		}
		u := &models.User{Email: email, Name: name, Role: role, Permissions: models.ParseSet(perms)}
		if err := store.CreateUser(ctx, u); err != nil {
			return err
		}
		return m.printUser(&c, u)
	case "list":
		users, err := store.ListUsers(ctx)
		if err != nil {
			return err
		}
		if c.json {
			views := make([]userView, 0, len(users))
			for i := range users {
				views = append(views, viewUser(&users[i]))
			}
			return m.printJSON(views)
		}
		rows := make([][]string, 0, len(users))
		for _, u := range users {
			rows = append(rows, []string{u.Email, u.Name, u.Role, u.Status, strings.Join(u.Permissions, ",")})
		}
		m.table("EMAIL\tNAME\tROLE\tSTATUS\tPERMISSIONS", rows)
		return nil
	}
	if len(pos) < 1 {
		return fmt.Errorf("users %s: want the user's email", args[0])
	}
	u, err := store.UserByEmail(ctx, pos[0])
	if err != nil {
		return err
	}
	switch args[0] {
	case "disable":
		u.Status = models.StatusDisabled
	case "enable":
		u.Status = models.StatusActive
	case "set-permissions":
		if len(pos) != 2 {
			return errors.New("users set-permissions: want EMAIL p1,p2 (an empty list is \"\")")
		}
		u.Permissions = models.ParseSet(pos[1])
	}
	if err := store.UpdateUser(ctx, u); err != nil {
		return err
	}
	return m.printUser(&c, u)
}

type userView struct {
	ID               string    `json:"id"`
	Email            string    `json:"email"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Permissions      []string  `json:"permissions"`
	Status           string    `json:"status"`
	MayCreateClients bool      `json:"may_create_clients"`
	CreatedAt        time.Time `json:"created_at"`
}

func viewUser(u *models.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Permissions: nonNil(u.Permissions), Status: u.Status, MayCreateClients: u.MayCreateClients, CreatedAt: u.CreatedAt}
}

func nonNil(s models.Set) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (m *Main) printUser(c *common, u *models.User) error {
	if c.json {
		return m.printJSON(viewUser(u))
	}
	fmt.Fprintf(m.Stdout, "%s  %s  role=%s  status=%s  permissions=%s\n", u.Email, u.Name, u.Role, u.Status, strings.Join(u.Permissions, ","))
	return nil
}

func (m *Main) clients(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("clients: want create, list, show or revoke")
	}
	var c common
	fs := m.flags("clients "+args[0], &c)
	var in oauth.NewClient
	var scopes, audiences, ips, owner, status string
	switch args[0] {
	case "create":
		fs.StringVar(&in.OwnerEmail, "owner", "", "owner's email (required); the client acts with part of the owner's permissions")
		fs.StringVar(&in.Name, "name", "", "name (required)")
		fs.StringVar(&in.Description, "description", "", "what the client is for")
		fs.StringVar(&scopes, "scopes", "", "comma-separated granted scopes, a subset of the owner's permissions")
		fs.StringVar(&audiences, "audience", "", "comma-separated allowed audiences (resource URIs); default the server's")
		fs.StringVar(&ips, "ip-allowlist", "", "comma-separated IPs/CIDRs the client may call from; default anywhere")
		fs.DurationVar(&in.TokenTTL, "ttl", 0, "token lifetime, e.g. 10m; default the server's")
	case "list":
		fs.StringVar(&owner, "owner", "", "only clients of this owner's email")
		fs.StringVar(&status, "status", "", "only active or revoked clients")
	case "show", "revoke":
	default:
		return fmt.Errorf("clients: unknown subcommand %q", args[0])
	}
	pos, err := parse(fs, args[1:])
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

	switch args[0] {
	case "create":
		if in.OwnerEmail == "" || in.Name == "" {
			return errors.New("clients create: --owner and --name are required")
		}
		km, err := m.loadKeyMaterial(ctx, &c, store, log)
		if err != nil {
			return err
		}
		in.Scopes, in.Audiences, in.IPAllowlist = splitList(scopes), splitList(audiences), splitList(ips)
		client, secret, err := oauth.NewRegistry(store, km.hasher, nil, log).Create(ctx, oauth.CLI, in)
		if err != nil {
			return err
		}
		if c.json {
			return m.printJSON(struct {
				ClientSecret string `json:"client_secret"`
				clientView
			}{secret, viewClient(client, now)})
		}
		fmt.Fprintf(m.Stdout, "client_id:     %s\nclient_secret: %s\n\nThe secret is shown only this once: store it now.\n", client.ID, secret)
		return nil
	case "list":
		var f models.ClientFilter
		if owner != "" {
			u, err := store.UserByEmail(ctx, owner)
			if err != nil {
				return err
			}
			f.OwnerID = u.ID
		}
		f.Status = status
		list, err := store.ListClients(ctx, f)
		if err != nil {
			return err
		}
		if c.json {
			views := make([]clientView, 0, len(list))
			for i := range list {
				views = append(views, viewClient(&list[i], now))
			}
			return m.printJSON(views)
		}
		rows := make([][]string, 0, len(list))
		for i := range list {
			v := viewClient(&list[i], now)
			rows = append(rows, []string{v.ClientID, v.Name, v.Owner, v.Status, strings.Join(v.Scopes, ","), timeOrDash(v.LastUsedAt), dash(v.LastUsedIP)})
		}
		m.table("CLIENT_ID\tNAME\tOWNER\tSTATUS\tSCOPES\tLAST_USED\tLAST_IP", rows)
		return nil
	}
	if len(pos) != 1 {
		return fmt.Errorf("clients %s: want the client_id", args[0])
	}
	var client *models.Client
	if args[0] == "revoke" {
		client, err = store.RevokeClient(ctx, pos[0])
	} else {
		client, err = store.ClientByID(ctx, pos[0])
	}
	if err != nil {
		return err
	}
	v := viewClient(client, now)
	if c.json {
		return m.printJSON(v)
	}
	fmt.Fprintf(m.Stdout, "client_id:    %s\nname:         %s\ndescription:  %s\nowner:        %s\ncreated_by:   %s\nstatus:       %s\nscopes:       %s\naudiences:    %s\ntoken_ttl:    %s\nip_allowlist: %s\nlast_used:    %s from %s\n",
		v.ClientID, v.Name, v.Description, v.Owner, v.CreatedBy, v.Status, strings.Join(v.Scopes, " "), strings.Join(v.Audiences, " "), dash(v.TokenTTL), strings.Join(v.IPAllowlist, " "), timeOrDash(v.LastUsedAt), dash(v.LastUsedIP))
	for _, s := range v.Secrets {
		fmt.Fprintf(m.Stdout, "secret:       %s…%s  created %s  last used %s\n", s.Prefix, s.Last, s.CreatedAt.Format(time.RFC3339), timeOrDash(s.LastUsedAt))
	}
	return nil
}

type clientView struct {
	ClientID      string       `json:"client_id"`
	Name          string       `json:"name"`
	Description   string       `json:"description"`
	Owner         string       `json:"owner"`
	OwnerID       string       `json:"owner_id"`
	CreatedBy     string       `json:"created_by"`
	Status        string       `json:"status"`
	Scopes        []string     `json:"scopes"`
	Audiences     []string     `json:"audiences"`
	IPAllowlist   []string     `json:"ip_allowlist"`
	TokenTTL      string       `json:"token_ttl,omitempty"`
	ExpiresAt     *time.Time   `json:"expires_at"`
	RevokedAt     *time.Time   `json:"revoked_at,omitempty"`
	LastUsedAt    *time.Time   `json:"last_used_at"`
	LastUsedIP    string       `json:"last_used_ip"`
	LastUserAgent string       `json:"last_user_agent"`
	CreatedAt     time.Time    `json:"created_at"`
	Secrets       []secretView `json:"secrets"`
}

type secretView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Last       string     `json:"last_chars"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func viewClient(c *models.Client, now time.Time) clientView {
	v := clientView{
		ClientID: c.ID, Name: c.Name, Description: c.Description, OwnerID: c.OwnerID, CreatedBy: c.CreatedBy,
		Status: c.DisplayStatus(now), Scopes: nonNil(c.Scopes), Audiences: nonNil(c.Audiences), IPAllowlist: nonNil(c.IPAllowlist),
		ExpiresAt: c.ExpiresAt, RevokedAt: c.RevokedAt, LastUsedAt: c.LastUsedAt, LastUsedIP: c.LastUsedIP, LastUserAgent: c.LastUserAgent,
		CreatedAt: c.CreatedAt, Secrets: []secretView{},
	}
	if c.TokenTTL > 0 {
		v.TokenTTL = c.TokenTTL.String()
	}
	if c.Owner != nil {
		v.Owner = c.Owner.Email
	}
	for _, s := range c.Secrets {
		v.Secrets = append(v.Secrets, secretView{ID: s.ID, Prefix: s.Prefix, Last: s.Last4, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, RevokedAt: s.RevokedAt, LastUsedAt: s.LastUsedAt})
	}
	return v
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (m *Main) keys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "list" {
		return errors.New("keys: want list")
	}
	var c common
	fs := m.flags("keys list", &c)
	if _, err := parse(fs, args[1:]); err != nil {
		return err
	}
	store, err := m.openStore(ctx, &c, m.logger(slog.LevelWarn), false)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	type keyView struct {
		KID         string     `json:"kid"`
		Alg         string     `json:"alg"`
		State       string     `json:"state"`
		Generation  int64      `json:"generation"`
		CreatedAt   time.Time  `json:"created_at"`
		ActivatedAt *time.Time `json:"activated_at"`
		RetiredAt   *time.Time `json:"retired_at"`
	}
	views := make([]keyView, 0, len(keys))
	rows := make([][]string, 0, len(keys))
	for _, k := range keys {
		views = append(views, keyView{k.KID, k.Alg, k.State, k.Generation, k.CreatedAt, k.ActivatedAt, k.RetiredAt})
		rows = append(rows, []string{k.KID, k.Alg, k.State, k.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(k.ActivatedAt), timeOrDash(k.RetiredAt)})
	}
	if c.json {
		return m.printJSON(views)
	}
	m.table("KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED", rows)
	return nil
}
