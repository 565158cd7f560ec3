package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

// registry is the Registry the CLI acts through, as the operator. It knows
// the server's issuer and default audience from AUTHZ_ISSUER and
// AUTHZ_DEFAULT_AUDIENCE (the environment or --config, as serve reads
// them): what projects' derived resources, which organization clients'
// audiences name, are made of, and the legacy prefixes imported secrets
// must start with from AUTHZ_LEGACY_PREFIXES. hasher is needed only by the commands that
// make secrets. A trusted issuer added without keys has its discovery
// document read.
func (m *Main) registry(store *models.Store, hasher *oauth.Hasher, log *slog.Logger) *app.Registry {
	// Discovery documents on private networks only when serve fetches from
	// them too (otherwise a URL the server could not fetch would be stored).
	private, _ := strconv.ParseBool(m.env("AUTHZ_FETCH_PRIVATE_NETWORKS", ""))
	return app.NewRegistry(store, app.RegistryConfig{
		Hasher: hasher, Issuer: m.env("AUTHZ_ISSUER", ""), DefaultAudience: m.env("AUTHZ_DEFAULT_AUDIENCE", ""), Log: log,
		LegacyPrefixes: splitList(m.env("AUTHZ_LEGACY_PREFIXES", "")),
		Discovery:      oauth.NewJWKSFetcher(oauth.JWKSFetcherConfig{AllowPrivateNetworks: private}),
	})
}

// orgFlag adds --org to a command acting on an organization's objects.
func orgFlag(fs *flag.FlagSet, into *string) {
	fs.StringVar(into, "org", "", "the organization's slug; may be left out when the database has exactly one")
}

// orgView is an organization as `authz orgs` prints it with --json.
type orgView struct {
	ID        string    `json:"id"`
	Slug      string    `json:"slug"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOrg(o *models.Organization) orgView {
	return orgView{ID: o.ID, Slug: o.Slug, Name: o.Name, Status: o.Status, CreatedAt: o.CreatedAt}
}

// projectView is a project as `authz projects` prints it with --json.
// Resource is empty when the project's resource is derived from the
// issuer (<issuer>/orgs/<org>/projects/<project>).
type projectView struct {
	ID           string    `json:"id"`
	Organization string    `json:"organization"` // the organization's slug
	Slug         string    `json:"slug"`
	Name         string    `json:"name"`
	Resource     string    `json:"resource"`
	Default      bool      `json:"default"` // the organization's default project
	CreatedAt    time.Time `json:"created_at"`
}

func viewProject(org *models.Organization, p *models.Project) projectView {
	return projectView{ID: p.ID, Organization: org.Slug, Slug: p.Slug, Name: p.Name, Resource: p.Resource, Default: p.ID == org.DefaultProjectID, CreatedAt: p.CreatedAt}
}

func (m *Main) orgs(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("orgs "+args[0], &c)
	var slug, name, ownerEmail, ownerName, ownerPerms string
	switch args[0] {
	case "create":
		fs.StringVar(&slug, "slug", "", "unique URL-safe identifier (required): 1 to 63 lower-case letters, digits and hyphens")
		fs.StringVar(&name, "name", "", "display name (required)")
		fs.StringVar(&ownerEmail, "owner-email", "", "email of the first owner: a new person, or one who exists already (in another organization)")
		fs.StringVar(&ownerName, "owner-name", "", "name of the first owner (required with --owner-email; a person who exists keeps theirs)")
		fs.StringVar(&ownerPerms, "owner-permissions", "", "comma-separated permissions of the first owner in the organization")
	}
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("orgs %s: unexpected argument %q", args[0], pos[0])
	}
	if args[0] == "create" && (slug == "" || name == "") {
		return errors.New("orgs create: --slug and --name are required")
	}
	if args[0] == "create" && (ownerEmail == "") != (ownerName == "") {
		return errors.New("orgs create: --owner-email and --owner-name go together")
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()

	if args[0] == "create" {
		o := &models.Organization{Slug: slug, Name: name}
		var owner *models.User
		if ownerEmail != "" {
			owner = &models.User{Email: ownerEmail, Name: ownerName, Permissions: models.ParseSet(ownerPerms)}
		}
		if err := m.registry(store, nil, log).CreateOrganization(ctx, app.Operator(""), o, owner); err != nil {
			return err
		}
		if c.json {
			return m.printJSON(viewOrg(o))
		}
		m.printf("%s  %s  status=%s\n", o.Slug, o.Name, o.Status)
		return nil
	}
	orgs, err := store.ListOrganizations(ctx)
	if err != nil {
		return err
	}
	if c.json {
		views := make([]orgView, 0, len(orgs))
		for i := range orgs {
			views = append(views, viewOrg(&orgs[i]))
		}
		return m.printJSON(views)
	}
	rows := make([][]string, 0, len(orgs))
	for _, o := range orgs {
		rows = append(rows, []string{o.Slug, o.Name, o.Status, o.CreatedAt.UTC().Format(time.RFC3339)})
	}
	m.table("SLUG\tNAME\tSTATUS\tCREATED", rows)
	return nil
}

func (m *Main) projects(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("projects "+args[0], &c)
	var orgSlug, slug, name, resource string
	orgFlag(fs, &orgSlug)
	switch args[0] {
	case "create":
		fs.StringVar(&slug, "slug", "", "URL-safe identifier, unique in the organization (required): 1 to 63 lower-case letters, digits and hyphens")
		fs.StringVar(&name, "name", "", "display name (required)")
		fs.StringVar(&resource, "resource", "", "absolute URI, the aud of the project's tokens; default <issuer>/orgs/<org>/projects/<project>")
	case "set-default":
		fs.StringVar(&slug, "slug", "", "the project an organization client's token is for when its request names no resource (required)")
	}
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("projects %s: unexpected argument %q", args[0], pos[0])
	}
	if args[0] == "create" && (slug == "" || name == "") {
		return errors.New("projects create: --slug and --name are required")
	}
	if args[0] == "set-default" && slug == "" {
		return errors.New("projects set-default: --slug is required")
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()
	org, err := orgOrOnly(ctx, store, orgSlug)
	if err != nil {
		return fmt.Errorf("projects %s: %w", args[0], err)
	}

	if args[0] == "create" {
		p := &models.Project{Slug: slug, Name: name, Resource: resource}
		if err := m.registry(store, nil, log).CreateProject(ctx, app.Operator(org.ID), p); err != nil {
			return err
		}
		if c.json {
			return m.printJSON(viewProject(org, p))
		}
		m.printf("%s/%s  %s  resource=%s\n", org.Slug, p.Slug, p.Name, resourceOrDerived(p))
		return nil
	}
	if args[0] == "set-default" {
		if err := m.registry(store, nil, log).SetDefaultProject(ctx, app.Operator(org.ID), slug); err != nil {
			return err
		}
		m.printf("%s: default project %s\n", org.Slug, slug)
		return nil
	}
	projects, err := store.ListProjects(ctx, org.ID)
	if err != nil {
		return err
	}
	if c.json {
		views := make([]projectView, 0, len(projects))
		for i := range projects {
			views = append(views, viewProject(org, &projects[i]))
		}
		return m.printJSON(views)
	}
	rows := make([][]string, 0, len(projects))
	for i, p := range projects {
		def := ""
		if p.ID == org.DefaultProjectID {
			def = "yes"
		}
		rows = append(rows, []string{org.Slug, p.Slug, p.Name, resourceOrDerived(&projects[i]), p.CreatedAt.UTC().Format(time.RFC3339), def})
	}
	m.table("ORG\tSLUG\tNAME\tRESOURCE\tCREATED\tDEFAULT", rows)
	return nil
}

// orgOrOnly returns the organization of the slug, or, when slug is empty,
// the database's only organization: scripts written before organizations
// existed keep working as long as there is one.
func orgOrOnly(ctx context.Context, store *models.Store, slug string) (*models.Organization, error) {
	if slug != "" {
		return store.OrganizationBySlug(ctx, slug)
	}
	orgs, err := store.ListOrganizations(ctx)
	if err != nil {
		return nil, err
	}
	if len(orgs) == 1 {
		return &orgs[0], nil
	}
	slugs := make([]string, 0, len(orgs))
	for _, o := range orgs {
		slugs = append(slugs, o.Slug)
	}
	return nil, fmt.Errorf("--org is required: the database has %d organizations (%s)", len(orgs), strings.Join(slugs, ", "))
}

// resourceOrDerived is the project's resource as the human-readable output
// shows it.
func resourceOrDerived(p *models.Project) string {
	if p.Resource == "" {
		return "(derived from the issuer)"
	}
	return p.Resource
}
