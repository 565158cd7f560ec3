package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/google/uuid"
)

// RegistryStore is what the Registry reads and writes.
type RegistryStore interface {
	UserByEmail(ctx context.Context, orgID, email string) (*models.User, error)
	UserByID(ctx context.Context, orgID, id string) (*models.User, error)
	PersonByEmail(ctx context.Context, email string) (*models.User, error)
	Memberships(ctx context.Context, userID string) ([]models.OrgMembership, error)
	CreateUser(ctx context.Context, u *models.User) error
	AddMembership(ctx context.Context, u *models.User) error
	UpdateUser(ctx context.Context, u *models.User) error
	UpdateUserEndSessions(ctx context.Context, u *models.User, keep string) (int64, error)
	EndSessions(ctx context.Context, userID, keep string) (int64, error)
	DeleteUserSession(ctx context.Context, userID, ref string) error
	CreateOrganizationWith(ctx context.Context, o *models.Organization, p *models.Project, owner *models.User) (existingPerson bool, err error)
	OrganizationByID(ctx context.Context, id string) (*models.Organization, error)
	CreateProject(ctx context.Context, p *models.Project) error
	ProjectBySlug(ctx context.Context, orgID, slug string) (*models.Project, error)
	ListProjects(ctx context.Context, orgID string) ([]models.Project, error)
	SetDefaultProject(ctx context.Context, orgID, projectID string) error
	SetClientKeys(ctx context.Context, id, jwks, jwksURI string) error
	SetClientFederation(ctx context.Context, id string, f models.Federation) error
	CreateTrustedIssuer(ctx context.Context, ti *models.TrustedIssuer) error
	TrustedIssuerByID(ctx context.Context, orgID, id string) (*models.TrustedIssuer, error)
	TrustedIssuers(ctx context.Context, orgID string) ([]models.TrustedIssuer, error)
	UpdateTrustedIssuer(ctx context.Context, ti *models.TrustedIssuer) error
	DeleteTrustedIssuer(ctx context.Context, orgID, id string) error
	ClientByID(ctx context.Context, id string) (*models.Client, error)
	CreateClient(ctx context.Context, c *models.Client, s *models.ClientSecret, maxPerOwner int) error
	UpdateClient(ctx context.Context, c *models.Client) error
	RenewClient(ctx context.Context, c *models.Client, expiresAt, renewedAt time.Time, maxPerOwner int) error
	RevokeClient(ctx context.Context, id string) (*models.Client, error)
	AddSecret(ctx context.Context, s *models.ClientSecret, graceUntil time.Time) error
	RevokeSecret(ctx context.Context, clientID, secretID string) error
	Policy(ctx context.Context, orgID string) (*models.Policy, error)
	SavePolicy(ctx context.Context, p *models.Policy) error
	AddAudit(ctx context.Context, events ...models.AuditEvent) error
}

// RegistryConfig configures a Registry. Zero fields take their defaults.
type RegistryConfig struct {
	// Hasher hashes new secrets; required by the actions that make one
	// (Create, Import, Rotate).
	Hasher *oauth.Hasher
	// Issuer is the server's issuer URL: projects that name no resource
	// derive theirs from it (<issuer>/orgs/<org>/projects/<project>), and
	// no project may name one under <issuer>/orgs/ as its own.
	Issuer string
	// DefaultAudience is the resource of the default organization's
	// default project (the server's --audience; default the issuer).
	DefaultAudience string
	Now             func() time.Time // default time.Now
	Log             *slog.Logger
	// LegacyPrefixes, when set, are the prefixes by which the secrets of
	// the system credentials are imported from are recognised: Import
	// refuses a secret that starts with none of them.
	LegacyPrefixes []string
	// AllowLoopbackJWKSURI accepts http:// jwks_uri and trusted issuer
	// URLs of loopback addresses: for tests only (see
	// oauth.JWKSFetcherConfig).
	AllowLoopbackJWKSURI bool
	// Discovery reads a trusted issuer's discovery document when it is
	// added without keys; nil, such an issuer is refused.
	Discovery Discoverer
}

// DefaultLegacyWindow is how long imported secrets keep working when an
// organization's policy names no legacy sunset: the organization's first
// import opens the window, setting the sunset this far ahead.
const DefaultLegacyWindow = "6 months"

// Registry carries out administrative actions in an organization: it
// enforces the roles and the organization policy, makes secrets (returned
// once, stored as hashes) and writes the audit log.
type Registry struct {
	store    RegistryStore
	hasher   *oauth.Hasher
	issuer   string
	audience string
	now      func() time.Time
	log      *slog.Logger
	signIn   *oauth.Limiter // failure budgets of SignIn
	legacy   []string       // LegacyPrefixes
	// loopbackJWKS is AllowLoopbackJWKSURI.
	loopbackJWKS bool
	discovery    Discoverer
}

// NewRegistry returns a Registry on store.
func NewRegistry(store RegistryStore, cfg RegistryConfig) *Registry {
	r := &Registry{store: store, hasher: cfg.Hasher, issuer: cfg.Issuer, audience: cfg.DefaultAudience, now: cfg.Now, log: cfg.Log, loopbackJWKS: cfg.AllowLoopbackJWKSURI, discovery: cfg.Discovery}
	for _, p := range cfg.LegacyPrefixes {
		if p = strings.TrimSpace(p); p != "" {
			r.legacy = append(r.legacy, p)
		}
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.audience == "" {
		r.audience = r.issuer
	}
	r.signIn = newSignInLimiter(r.now)
	return r
}

// NewClient describes a client to register in the actor's organization.
type NewClient struct {
	// Kind is models.ClientKindProject (the default),
	// models.ClientKindOrganization or models.ClientKindPublishable.
	Kind string
	// Project is the slug of the project a project or publishable client
	// is bound to: required for those kinds, but that a project client of
	// an organization with exactly one project may leave it out (scripts
	// written before projects existed keep working); refused for an
	// organization-wide client.
	Project     string
	OwnerEmail  string
	Name        string
	Description string
	Scopes      []string
	// Audiences, for an organization-wide client only, narrow the projects
	// it may ask tokens for: each is the resource of a project of the
	// organization (its own, or the derived one).
	Audiences      []string
	IPAllowlist    []string
	TokenTTL       time.Duration
	ExpiresAt      *time.Time // default: now + the policy's default credential lifetime
	ResourceServer bool
	// AuthMethod is models.AuthSecret (the default: a secret is made and
	// returned once), models.AuthPrivateKeyJWT: the client signs
	// assertions with its own keys, given as JWKS (a JWKS document) or
	// JWKSURI (where to fetch it), and has no secret, or
	// models.AuthFederated: the client sends workload tokens of a trusted
	// issuer matching Federation, and has neither secret nor keys.
	AuthMethod string
	JWKS       string
	JWKSURI    string
	Federation models.Federation
	// RequireDPoP: the token endpoint refuses the client's requests
	// without a DPoP proof (RFC 9449), so each of its tokens is bound to
	// its key.
	RequireDPoP bool
}

// Keys are a private_key_jwt client's public keys: a JWKS document or a
// URL to fetch it from, exactly one of them.
type Keys struct {
	JWKS    string
	JWKSURI string
}

// maxJWKS bounds a registered JWKS document.
const maxJWKS = 64 << 10

// checkKeys checks a client's public keys and returns the JWKS compacted.
func (r *Registry) checkKeys(k Keys) (Keys, error) {
	switch {
	case (k.JWKS == "") == (k.JWKSURI == ""):
		return Keys{}, models.Errorf(models.KindInvalid, "keys_required", "a private_key_jwt client needs its public keys: a JWKS document or a jwks_uri, exactly one")
	case k.JWKSURI != "":
		if err := oauth.CheckJWKSURI(k.JWKSURI, r.loopbackJWKS); err != nil {
			return Keys{}, models.Errorf(models.KindInvalid, "invalid_jwks_uri", "%s", err.Error())
		}
		return k, nil
	}
	if len(k.JWKS) > maxJWKS {
		return Keys{}, models.Errorf(models.KindInvalid, "invalid_jwks", "the JWKS is larger than %d KiB", maxJWKS>>10)
	}
	if err := oauth.CheckJWKS([]byte(k.JWKS)); err != nil {
		return Keys{}, models.Errorf(models.KindInvalid, "invalid_jwks", "%s", err.Error())
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(k.JWKS)); err != nil {
		return Keys{}, models.Errorf(models.KindInvalid, "invalid_jwks", "the JWKS is not valid JSON")
	}
	return Keys{JWKS: compact.String()}, nil
}

// SetKeys replaces the public keys of a private_key_jwt client; assertions
// signed with a key no longer in them are refused from the next request.
func (r *Registry) SetKeys(ctx context.Context, actor Actor, clientID string, k Keys) (*models.Client, error) {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	if c.Status == models.StatusRevoked {
		return nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked and cannot be used again: create a new client", clientID)
	}
	if !c.UsesKeys() {
		return nil, models.Errorf(models.KindConflict, "not_key_client", "client %s authenticates with a secret, not public keys: rotate its secret instead", clientID)
	}
	if k, err = r.checkKeys(k); err != nil {
		return nil, err
	}
	if err := r.store.SetClientKeys(ctx, clientID, k.JWKS, k.JWKSURI); err != nil {
		return nil, err
	}
	c.JWKS, c.JWKSURI = k.JWKS, k.JWKSURI
	detail := map[string]any{"jwks_uri": k.JWKSURI}
	if k.JWKS != "" {
		detail["jwks"] = "document"
	}
	r.audit(ctx, actor, models.AuditClientKeys, clientID, c.OwnerID, detail)
	return c, nil
}

// Create registers a client and returns it with its secret, which is not
// stored and cannot be shown again.
func (r *Registry) Create(ctx context.Context, actor Actor, in NewClient) (*models.Client, string, error) {
	return r.register(ctx, actor, in, oauth.NewClientID(), "", models.FormatCurrent)
}

// Import registers a credential issued by another system, keeping its
// client_id and secret. Its secret is marked legacy: it carries no checksum
// a scanner could recognise, and it stops working at the policy's legacy
// sunset date; rotating it issues a current-format secret. With
// LegacyPrefixes configured, the secret must start with one of them. The
// organization's first import opens the legacy window: a policy naming no
// sunset gets one DefaultLegacyWindow (six months) later, recorded as a
// policy change by the importer.
func (r *Registry) Import(ctx context.Context, actor Actor, in NewClient, clientID, secret string) (*models.Client, error) {
	if len(clientID) < 4 || len(clientID) > 128 || !printable(clientID) {
		return nil, models.Errorf(models.KindInvalid, "invalid_client_id", "an imported client_id must be 4 to 128 printable ASCII characters")
	}
	if strings.HasPrefix(clientID, oauth.ClientIDPrefix) {
		return nil, models.Errorf(models.KindInvalid, "invalid_client_id", "client_ids starting with %s are reserved for generated credentials", oauth.ClientIDPrefix)
	}
	if len(secret) < 16 || len(secret) > 512 || !printable(secret) {
		return nil, models.Errorf(models.KindInvalid, "weak_secret", "an imported secret must be 16 to 512 printable ASCII characters")
	}
	if len(r.legacy) > 0 && !slices.ContainsFunc(r.legacy, func(p string) bool { return strings.HasPrefix(secret, p) }) {
		return nil, models.Errorf(models.KindInvalid, "legacy_prefix_unknown", "an imported secret must start with one of the legacy prefixes %s", strings.Join(r.legacy, ", "))
	}
	if in.AuthMethod != "" && in.AuthMethod != models.AuthSecret {
		return nil, models.Errorf(models.KindInvalid, "invalid_auth_method", "an imported credential is a secret")
	}
	c, _, err := r.register(ctx, actor, in, clientID, secret, models.FormatLegacy)
	if err != nil {
		return nil, err
	}
	return c, r.openLegacyWindow(ctx, actor)
}

// openLegacyWindow sets the policy's legacy sunset six months from now
// when it names none.
func (r *Registry) openLegacyWindow(ctx context.Context, actor Actor) error {
	p, err := r.store.Policy(ctx, actor.OrgID)
	if err != nil || p.LegacySunset != nil {
		return err
	}
	sunset := r.now().UTC().AddDate(0, 6, 0).Truncate(time.Second)
	p.LegacySunset, p.UpdatedBy = &sunset, actor.Name()
	if err := r.store.SavePolicy(ctx, p); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditPolicyUpdated, "", "", map[string]any{"legacy_sunset": sunset, "reason": "first legacy import: the legacy window opens for " + DefaultLegacyWindow})
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (r *Registry) register(ctx context.Context, actor Actor, in NewClient, clientID, secret, format string) (*models.Client, string, error) {
	if actor.OrgID == "" {
		return nil, "", errNoOrganization
	}
	policy, err := r.store.Policy(ctx, actor.OrgID)
	if err != nil {
		return nil, "", err
	}
	name, err := checkClientName(in.Name)
	if err != nil {
		return nil, "", err
	}
	if err := checkDescription(in.Description); err != nil {
		return nil, "", err
	}
	// No user's email holds a control character or invalid UTF-8 (which
	// PostgreSQL would refuse to compare): such an owner is not looked up.
	// A person of another organization is not found either.
	var owner *models.User
	err = models.ErrNotFound
	if models.CheckText(in.OwnerEmail) == nil {
		owner, err = r.store.UserByEmail(ctx, actor.OrgID, in.OwnerEmail)
	}
	if errors.Is(err, models.ErrNotFound) {
		return nil, "", models.Errorf(models.KindInvalid, "owner_not_found", "no member with email %q", models.NormalizeEmail(in.OwnerEmail))
	}
	if err != nil {
		return nil, "", err
	}
	if !actor.managesOrg() {
		// The creation right is the actor's in this organization.
		if !actor.member() || (policy.CreationRestricted && !actor.User.MayCreateClients) {
			return nil, "", models.Errorf(models.KindForbidden, "not_allowed_to_create", "%s may not create clients in this organization: ask an admin", actor.User.Email)
		}
		if actor.User.ID != owner.ID {
			return nil, "", models.Errorf(models.KindForbidden, "owner_must_be_self", "members may create clients only for themselves")
		}
	}
	if !owner.Active() {
		return nil, "", models.Errorf(models.KindInvalid, "owner_disabled", "owner %s is disabled", owner.Email)
	}
	kind := in.Kind
	if kind == "" {
		kind = models.ClientKindProject
	}
	project, err := r.clientProject(ctx, actor.OrgID, kind, in.Project)
	if err != nil {
		return nil, "", err
	}
	scopes, err := r.checkScopes(kind, owner, policy, in.Scopes)
	if err != nil {
		return nil, "", err
	}
	audiences, err := r.checkAudiences(ctx, actor.OrgID, kind, in.Audiences)
	if err != nil {
		return nil, "", err
	}
	allowlist, err := normalizeAllowlist(in.IPAllowlist)
	if err != nil {
		return nil, "", err
	}
	if err := checkTokenTTL(in.TokenTTL, policy); err != nil {
		return nil, "", err
	}
	now := r.now().UTC()
	expires := now.Add(policy.DefaultCredentialLifetime)
	if in.ExpiresAt != nil {
		expires = in.ExpiresAt.UTC()
		if !expires.After(now) {
			return nil, "", models.Errorf(models.KindInvalid, "invalid_expiry", "expiry must be in the future")
		}
	}
	if policy.MaxCredentialLifetime > 0 && expires.After(now.Add(policy.MaxCredentialLifetime)) {
		return nil, "", models.Errorf(models.KindInvalid, "invalid_expiry", "expiry is beyond the maximum credential lifetime (%s)", policy.MaxCredentialLifetime)
	}
	if in.ResourceServer && !actor.managesOrg() {
		return nil, "", models.Errorf(models.KindForbidden, "admin_required", "only the organization's owners and admins may register resource servers, which may introspect every token")
	}
	if in.ResourceServer && kind == models.ClientKindPublishable {
		return nil, "", models.Errorf(models.KindInvalid, "invalid_kind", "a publishable client cannot be a resource server: its secret ships in apps, and a resource server may introspect every token")
	}
	var keys Keys
	var federation models.Federation
	if in.AuthMethod != models.AuthFederated && (in.Federation.IssuerID != "" || in.Federation.Subject != "" || len(in.Federation.Conditions) > 0) {
		return nil, "", models.Errorf(models.KindInvalid, "invalid_auth_method", "a federation binding is for a federated client: set the authentication method to %s", models.AuthFederated)
	}
	switch in.AuthMethod {
	case "", models.AuthSecret:
		if in.JWKS != "" || in.JWKSURI != "" {
			return nil, "", models.Errorf(models.KindInvalid, "invalid_auth_method", "public keys are for a private_key_jwt client: set the authentication method to %s", models.AuthPrivateKeyJWT)
		}
	case models.AuthPrivateKeyJWT:
		if keys, err = r.checkKeys(Keys{JWKS: in.JWKS, JWKSURI: in.JWKSURI}); err != nil {
			return nil, "", err
		}
	case models.AuthFederated:
		if in.JWKS != "" || in.JWKSURI != "" {
			return nil, "", models.Errorf(models.KindInvalid, "invalid_auth_method", "a federated client has no keys of its own: its trusted issuer's keys verify its tokens")
		}
		if federation, err = r.checkFederation(ctx, actor.OrgID, in.Federation); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", models.Errorf(models.KindInvalid, "invalid_auth_method", "authentication method must be %s, %s or %s", models.AuthSecret, models.AuthPrivateKeyJWT, models.AuthFederated)
	}
	if format == models.FormatLegacy && policy.LegacySunset != nil && !r.now().Before(*policy.LegacySunset) {
		return nil, "", models.Errorf(models.KindInvalid, "legacy_sunset_passed", "legacy credentials stopped working on %s; create a new client instead", policy.LegacySunset.UTC().Format(time.RFC3339))
	}

	c := &models.Client{
		ID:             clientID,
		OrgID:          actor.OrgID,
		Kind:           kind,
		Name:           name,
		Description:    in.Description,
		OwnerID:        owner.ID,
		CreatedBy:      actor.Name(),
		Scopes:         scopes,
		Audiences:      audiences,
		IPAllowlist:    allowlist,
		TokenTTL:       in.TokenTTL,
		ExpiresAt:      &expires,
		Status:         models.StatusActive,
		ResourceServer: in.ResourceServer,
		AuthMethod:     models.AuthSecret,
		RequireDPoP:    in.RequireDPoP,
	}
	if project != nil {
		c.ProjectID = project.ID
	}
	var cs *models.ClientSecret
	switch in.AuthMethod {
	case models.AuthPrivateKeyJWT:
		c.AuthMethod, c.JWKS, c.JWKSURI = models.AuthPrivateKeyJWT, keys.JWKS, keys.JWKSURI
	case models.AuthFederated:
		c.AuthMethod, c.Federation = models.AuthFederated, federation
	default:
		if secret == "" {
			if secret, err = oauth.NewSecretFor(kind); err != nil {
				return nil, "", err
			}
		}
		cs = r.newSecretRow(clientID, secret, format)
	}
	if err := r.store.CreateClient(ctx, c, cs, policy.MaxClientsPerOwner); err != nil {
		// The Store's own refusals carry a code; a bare conflict is the
		// unique client_id.
		var domain *models.Error
		if errors.As(err, &domain) && domain.Code == "" && domain.Kind == models.KindConflict {
			return nil, "", models.Errorf(models.KindConflict, "client_id_taken", "client_id %s is already registered", clientID)
		}
		return nil, "", err
	}
	c.Owner, c.Project = owner, project
	action := models.AuditClientCreated
	if format == models.FormatLegacy {
		action = models.AuditClientImported
	}
	detail := map[string]any{"name": c.Name, "owner": owner.Email, "kind": kind, "scopes": c.Scopes, "expires_at": expires, "auth_method": c.AuthMethod}
	if project != nil {
		detail["project"] = project.Slug
	}
	if c.RequireDPoP {
		detail["require_dpop"] = true
	}
	if c.Federated() {
		detail["federation"] = federationDetail(c.Federation)
	}
	r.audit(ctx, actor, action, c.ID, owner.ID, detail)
	return c, secret, nil
}

// checkTokenTTL checks a client's token TTL: 0 (the policy's default) or
// from 30s to the policy's maximum.
func checkTokenTTL(ttl time.Duration, policy *models.Policy) error {
	if ttl < 0 || ttl > policy.MaxTokenTTL || (ttl > 0 && ttl < 30*time.Second) {
		return models.Errorf(models.KindInvalid, "invalid_token_ttl", "token TTL must be between 30s and %s", policy.MaxTokenTTL)
	}
	return nil
}

func checkClientName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", models.Errorf(models.KindInvalid, "invalid_name", "name is required, at most 100 characters")
	}
	// Names and descriptions reach terminals (the CLI) and the audit log:
	// no control characters, which could forge lines there.
	if err := models.CheckText(name); err != nil {
		return "", models.Errorf(models.KindInvalid, "invalid_name", "name %v", err)
	}
	return name, nil
}

func checkDescription(d string) error {
	if len(d) > 1000 {
		return models.Errorf(models.KindInvalid, "invalid_description", "description is at most 1000 characters")
	}
	if err := models.CheckText(d); err != nil {
		return models.Errorf(models.KindInvalid, "invalid_description", "description %v", err)
	}
	return nil
}

// clientProject is the project a client of kind is bound to: the
// organization's project of that slug for a project or publishable client,
// nil for an organization-wide one, which names none.
func (r *Registry) clientProject(ctx context.Context, orgID, kind, slug string) (*models.Project, error) {
	switch kind {
	case models.ClientKindOrganization:
		if slug != "" {
			return nil, models.Errorf(models.KindInvalid, "project_not_allowed", "an organization client is valid for every project of its organization: it names none (its token requests name one with resource)")
		}
		return nil, nil
	case models.ClientKindProject, models.ClientKindPublishable:
		if slug != "" {
			return r.store.ProjectBySlug(ctx, orgID, slug)
		}
		if kind == models.ClientKindProject {
			projects, err := r.store.ListProjects(ctx, orgID)
			if err != nil {
				return nil, err
			}
			if len(projects) == 1 {
				return &projects[0], nil
			}
		}
		return nil, models.Errorf(models.KindInvalid, "project_required", "a %s client is bound to a project: name one", kind)
	}
	return nil, models.Errorf(models.KindInvalid, "invalid_kind", "kind %q: want project, organization or publishable", kind)
}

// checkScopes checks the scopes of a client of kind owned by owner: valid
// scope tokens, held by the owner in the organization, and for a
// publishable client within the organization's publishable set, which
// nobody can widen for one client.
func (r *Registry) checkScopes(kind string, owner *models.User, policy *models.Policy, list []string) (models.Set, error) {
	scopes := models.NewSet(list...)
	for _, p := range scopes {
		if err := models.ValidScopeToken(p); err != nil {
			return nil, models.Errorf(models.KindInvalid, "invalid_scope", "%s", models.ErrorMessage(err))
		}
	}
	if missing := scopes.Missing(owner.Permissions); len(missing) > 0 {
		return nil, models.Errorf(models.KindInvalid, "scope_not_held_by_owner", "owner %s does not hold: %s", owner.Email, missing.String())
	}
	if kind == models.ClientKindPublishable {
		if extra := scopes.Missing(policy.PublishableScopes); len(extra) > 0 {
			return nil, models.Errorf(models.KindInvalid, "scope_not_publishable", "a publishable client may hold only the organization's publishable scopes (%s); not publishable: %s", dash(policy.PublishableScopes.String()), extra.String())
		}
	}
	return scopes, nil
}

func dash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// checkAudiences checks the audiences of a client of kind: only an
// organization client names some, and each must be the resource of a
// project of its organization.
func (r *Registry) checkAudiences(ctx context.Context, orgID, kind string, list []string) (models.Set, error) {
	audiences := models.NewSet(list...)
	if len(audiences) == 0 {
		return audiences, nil
	}
	if kind != models.ClientKindOrganization {
		return nil, models.Errorf(models.KindInvalid, "invalid_audience", "only an organization client names audiences: a %s client's audience is its project's resource", kind)
	}
	resources, err := r.resources(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, a := range audiences {
		if !resources[a] {
			return nil, models.Errorf(models.KindInvalid, "invalid_audience", "audience %q is not the resource of a project of the organization", a)
		}
	}
	return audiences, nil
}

// resources returns the effective resources of the organization's
// projects.
func (r *Registry) resources(ctx context.Context, orgID string) (map[string]bool, error) {
	org, err := r.store.OrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	projects, err := r.store.ListProjects(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(projects))
	for _, p := range projects {
		out[p.EffectiveResource(r.issuer, r.audience, org.Slug)] = true
	}
	return out, nil
}

func normalizeAllowlist(list []string) (models.Set, error) {
	prefixes, err := oauth.ParsePrefixes(list)
	if err != nil {
		return nil, models.Errorf(models.KindInvalid, "invalid_ip_allowlist", "%s", models.ErrorMessage(err))
	}
	out := make([]string, 0, len(prefixes))
	for _, p := range prefixes {
		out = append(out, p.String())
	}
	return models.NewSet(out...), nil
}

// legacyPrefix is the longest configured legacy prefix secret starts
// with, shown as its display prefix; "" when none matches or when it would
// leave fewer than 12 characters unshown beside the last four.
func (r *Registry) legacyPrefix(secret string) string {
	best := ""
	for _, p := range r.legacy {
		if strings.HasPrefix(secret, p) && len(p) > len(best) && len(secret)-len(p)-4 >= 12 {
			best = p
		}
	}
	return best
}

func (r *Registry) newSecretRow(clientID, secret, format string) *models.ClientSecret {
	prefix, last := oauth.SecretDisplay(secret)
	if format == models.FormatLegacy {
		prefix = r.legacyPrefix(secret)
	}
	return &models.ClientSecret{ID: uuid.NewString(), ClientID: clientID, Hash: r.hasher.Hash(secret), Prefix: prefix, Last4: last, Format: format}
}

// audit writes an event. The action has happened by then, so a failed
// write is logged loudly rather than reported as the action's failure.
// Detail is JSON and never holds a secret.
func (r *Registry) audit(ctx context.Context, actor Actor, action, clientID, userID string, detail map[string]any) {
	var d []byte
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	err := r.store.AddAudit(ctx, models.AuditEvent{OrgID: actor.OrgID, At: r.now(), Actor: actor.Name(), Action: action, ClientID: clientID, UserID: userID, IP: actor.IP, Detail: string(d)})
	if err != nil {
		r.log.Error("audit event not written", "action", action, "org_id", actor.OrgID, "client_id", clientID, "user_id", userID, "actor", actor.Name(), "error", err)
	}
}

// client loads a client of the actor's organization. A client of another
// organization is answered exactly as a missing one: its id tells the
// caller nothing.
func (r *Registry) client(ctx context.Context, actor Actor, clientID string) (*models.Client, error) {
	if actor.OrgID == "" {
		return nil, errNoOrganization
	}
	c, err := r.store.ClientByID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if c.OrgID != actor.OrgID {
		return nil, fmt.Errorf("client %s: %w", clientID, models.ErrNotFound)
	}
	return c, nil
}

// manageable loads a client of the actor's organization that the actor may
// change.
func (r *Registry) manageable(ctx context.Context, actor Actor, clientID string) (*models.Client, error) {
	c, err := r.client(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	if !actor.canManage(c) {
		return nil, models.Errorf(models.KindForbidden, "not_client_owner", "only the organization's owners and admins and the client's owner may change client %s", clientID)
	}
	return c, nil
}

// Rotate adds a new secret to a client and gives its other live secrets a
// grace period (nil: the policy's; 0: they stop now). It returns the new
// secret, shown once.
func (r *Registry) Rotate(ctx context.Context, actor Actor, clientID string, grace *time.Duration) (string, *models.ClientSecret, error) {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return "", nil, err
	}
	if c.Status == models.StatusRevoked {
		return "", nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked and cannot be used again: create a new client", clientID)
	}
	if c.UsesKeys() {
		return "", nil, models.Errorf(models.KindConflict, "key_client", "client %s authenticates with public keys (private_key_jwt) and has no secret: replace its keys instead", clientID)
	}
	if c.Federated() {
		return "", nil, models.Errorf(models.KindConflict, "federated_client", "client %s authenticates with workload tokens of a trusted issuer and has no secret: replace its federation binding instead", clientID)
	}
	policy, err := r.store.Policy(ctx, c.OrgID)
	if err != nil {
		return "", nil, err
	}
	// Rotation does not renew: a new expiry is a decision of its own,
	// audited as such, and a leaked secret is no reason to extend a
	// credential's life.
	if exp := c.EffectiveExpiry(policy); exp != nil && !r.now().Before(*exp) {
		return "", nil, models.Errorf(models.KindConflict, "client_expired", "client %s expired on %s: renew it first (it keeps its client_id and secrets), then rotate if its secret must change", clientID, exp.UTC().Format(time.RFC3339))
	}
	g := policy.RotationGrace
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > 30*24*time.Hour {
		return "", nil, models.Errorf(models.KindInvalid, "invalid_grace", "grace period must be between 0 (now) and 30 days")
	}
	secret, err := oauth.NewSecretFor(c.Kind)
	if err != nil {
		return "", nil, err
	}
	row := r.newSecretRow(clientID, secret, models.FormatCurrent)
	if err := r.store.AddSecret(ctx, row, r.now().Add(g)); err != nil {
		return "", nil, err
	}
	r.audit(ctx, actor, models.AuditSecretRotated, clientID, c.OwnerID, map[string]any{"new_secret_id": row.ID, "grace": g.String()})
	return secret, row, nil
}

// RevokeSecret revokes one secret of a client; the others keep working.
func (r *Registry) RevokeSecret(ctx context.Context, actor Actor, clientID, secretID string) error {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return err
	}
	if err := r.store.RevokeSecret(ctx, clientID, secretID); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditSecretRevoked, clientID, c.OwnerID, map[string]any{"secret_id": secretID})
	return nil
}

// Revoke revokes a client: it is refused from its next request on.
func (r *Registry) Revoke(ctx context.Context, actor Actor, clientID string) (*models.Client, error) {
	if _, err := r.manageable(ctx, actor, clientID); err != nil {
		return nil, err
	}
	c, err := r.store.RevokeClient(ctx, clientID)
	if err != nil {
		return nil, err
	}
	r.audit(ctx, actor, models.AuditClientRevoked, clientID, c.OwnerID, nil)
	return c, nil
}

// ClientChange is a change to a client; nil fields are left as they are.
type ClientChange struct {
	Name        *string
	Description *string
	// Scopes replace the client's. Those added must be held by its owner,
	// and for a publishable client be within the organization's
	// publishable set; removing is always allowed.
	Scopes *[]string
	// Audiences replace an organization client's: the resources of the
	// projects of the organization it may ask tokens for (empty: every
	// project). Other kinds name none.
	Audiences *[]string
	// TokenTTL is the lifetime of the client's tokens: 0 for the policy's
	// default, else from 30s to the policy's maximum.
	TokenTTL *time.Duration
	// IPAllowlist replaces the client's: addresses or CIDR ranges, IPv4
	// or IPv6; empty, no restriction of its own.
	IPAllowlist *[]string
	// RequireDPoP, when true, makes the token endpoint refuse the
	// client's requests without a DPoP proof.
	RequireDPoP *bool
}

// Update changes a client's name, description, scopes, audiences, token
// TTL, IP allowlist or DPoP requirement, checked as at creation. The change holds at the
// client's next token request on every instance (the token endpoint's
// cache follows auth_version). The audit event holds, for the fields that
// changed only, their values before and after.
func (r *Registry) Update(ctx context.Context, actor Actor, clientID string, ch ClientChange) (*models.Client, error) {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	if c.Status == models.StatusRevoked {
		return nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked and cannot be changed: create a new client", clientID)
	}
	before, after := map[string]any{}, map[string]any{}
	note := func(field string, old, new any, same bool) {
		if !same {
			before[field], after[field] = old, new
		}
	}
	if ch.Name != nil {
		name, err := checkClientName(*ch.Name)
		if err != nil {
			return nil, err
		}
		note("name", c.Name, name, name == c.Name)
		c.Name = name
	}
	if ch.Description != nil {
		if err := checkDescription(*ch.Description); err != nil {
			return nil, err
		}
		note("description", c.Description, *ch.Description, *ch.Description == c.Description)
		c.Description = *ch.Description
	}
	var policy *models.Policy
	if ch.Scopes != nil || ch.TokenTTL != nil {
		if policy, err = r.store.Policy(ctx, c.OrgID); err != nil {
			return nil, err
		}
	}
	if ch.Scopes != nil {
		// Narrowing is always allowed: a scope the owner has lost may stay
		// (tokens carry it again if the owner gets it back). A scope added
		// must be held by the owner, as at creation.
		scopes := models.NewSet(*ch.Scopes...)
		if added := scopes.Missing(c.Scopes); len(added) > 0 {
			if c.Owner == nil || !c.Owner.Active() {
				return nil, models.Errorf(models.KindInvalid, "owner_disabled", "the client's owner is no longer an active member of the organization: scopes can be removed, not added")
			}
			if _, err := r.checkScopes(c.Kind, c.Owner, policy, added); err != nil {
				return nil, err
			}
		}
		for _, sc := range scopes {
			if err := models.ValidScopeToken(sc); err != nil {
				return nil, models.Errorf(models.KindInvalid, "invalid_scope", "%s", models.ErrorMessage(err))
			}
		}
		note("scopes", nonNilSet(c.Scopes), scopes, slices.Equal(scopes, c.Scopes))
		c.Scopes = scopes
	}
	if ch.Audiences != nil {
		audiences, err := r.checkAudiences(ctx, c.OrgID, c.Kind, *ch.Audiences)
		if err != nil {
			return nil, err
		}
		note("audiences", nonNilSet(c.Audiences), audiences, slices.Equal(audiences, c.Audiences))
		c.Audiences = audiences
	}
	if ch.TokenTTL != nil {
		if err := checkTokenTTL(*ch.TokenTTL, policy); err != nil {
			return nil, err
		}
		note("token_ttl", ttlText(c.TokenTTL), ttlText(*ch.TokenTTL), *ch.TokenTTL == c.TokenTTL)
		c.TokenTTL = *ch.TokenTTL
	}
	if ch.IPAllowlist != nil {
		allowlist, err := normalizeAllowlist(*ch.IPAllowlist)
		if err != nil {
			return nil, err
		}
		note("ip_allowlist", nonNilSet(c.IPAllowlist), allowlist, slices.Equal(allowlist, c.IPAllowlist))
		c.IPAllowlist = allowlist
	}
	if ch.RequireDPoP != nil {
		note("require_dpop", c.RequireDPoP, *ch.RequireDPoP, *ch.RequireDPoP == c.RequireDPoP)
		c.RequireDPoP = *ch.RequireDPoP
	}
	if len(after) == 0 {
		return c, nil
	}
	if err := r.store.UpdateClient(ctx, c); err != nil {
		return nil, err
	}
	r.audit(ctx, actor, models.AuditClientUpdated, c.ID, c.OwnerID, map[string]any{"before": before, "after": after})
	return c, nil
}

func nonNilSet(s models.Set) models.Set {
	if s == nil {
		return models.Set{}
	}
	return s
}

// ttlText is a token TTL as the audit log shows it: "default" for the
// policy's.
func ttlText(d time.Duration) string {
	if d == 0 {
		return "default"
	}
	return d.String()
}

// Renewal says when a renewed client expires: at ExpiresAt, or ExpiresIn
// from now; neither, the policy's maximum lifetime from now (its default
// lifetime when it sets no maximum).
type Renewal struct {
	ExpiresAt *time.Time
	ExpiresIn time.Duration
}

// Renew gives a client a new expiry, keeping its client_id and its
// secrets: an expired client works again with the secret it had. The
// renewal starts a new lifetime (models.Client.LifetimeStart), from which
// the policy's maximum credential lifetime is counted, so the new expiry
// may be at most that maximum from now. An expired client that becomes
// usable again counts against its owner's limit of clients. A revoked
// client cannot be renewed.
func (r *Registry) Renew(ctx context.Context, actor Actor, clientID string, in Renewal) (*models.Client, error) {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	if c.Status == models.StatusRevoked {
		return nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked and cannot be renewed: create a new client", clientID)
	}
	if in.ExpiresAt != nil && in.ExpiresIn != 0 {
		return nil, models.Errorf(models.KindInvalid, "invalid_expiry", "give expires_at or expires_in, not both")
	}
	policy, err := r.store.Policy(ctx, c.OrgID)
	if err != nil {
		return nil, err
	}
	now := r.now().UTC()
	var expires time.Time
	switch {
	case in.ExpiresAt != nil:
		expires = in.ExpiresAt.UTC()
	case in.ExpiresIn != 0:
		expires = now.Add(in.ExpiresIn)
	case policy.MaxCredentialLifetime > 0:
		expires = now.Add(policy.MaxCredentialLifetime)
	default:
		expires = now.Add(policy.DefaultCredentialLifetime)
	}
	if !expires.After(now) {
		return nil, models.Errorf(models.KindInvalid, "invalid_expiry", "expiry must be in the future")
	}
	if policy.MaxCredentialLifetime > 0 && expires.After(now.Add(policy.MaxCredentialLifetime)) {
		return nil, models.Errorf(models.KindInvalid, "invalid_expiry", "expiry is beyond the maximum credential lifetime (%s from now, %s)", models.FormatDuration(policy.MaxCredentialLifetime), now.Add(policy.MaxCredentialLifetime).Format(time.RFC3339))
	}
	old := c.EffectiveExpiry(policy)
	limit := 0
	if old != nil && !now.Before(*old) {
		limit = policy.MaxClientsPerOwner // usable again: it counts
	}
	if err := r.store.RenewClient(ctx, c, expires, now, limit); err != nil {
		return nil, err
	}
	var was any
	if old != nil {
		was = old.UTC()
	}
	r.audit(ctx, actor, models.AuditClientRenewed, c.ID, c.OwnerID, map[string]any{
		"before": map[string]any{"expires_at": was}, "after": map[string]any{"expires_at": expires},
	})
	return c, nil
}
