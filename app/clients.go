package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/google/uuid"
)

// RegistryStore is what the Registry reads and writes.
type RegistryStore interface {
	UserByEmail(ctx context.Context, email string) (*models.User, error)
	UserByID(ctx context.Context, id string) (*models.User, error)
	CreateUser(ctx context.Context, u *models.User) error
	UpdateUser(ctx context.Context, u *models.User) error
	UpdateUserEndSessions(ctx context.Context, u *models.User, keep string) (int64, error)
	EndSessions(ctx context.Context, userID, keep string) (int64, error)
	DeleteUserSession(ctx context.Context, userID, ref string) error
	ClientByID(ctx context.Context, id string) (*models.Client, error)
	CreateClient(ctx context.Context, c *models.Client, s *models.ClientSecret, maxPerOwner int) error
	UpdateClient(ctx context.Context, c *models.Client) error
	RevokeClient(ctx context.Context, id string) (*models.Client, error)
	AddSecret(ctx context.Context, s *models.ClientSecret, graceUntil time.Time) error
	RevokeSecret(ctx context.Context, clientID, secretID string) error
	Policy(ctx context.Context) (*models.Policy, error)
	SavePolicy(ctx context.Context, p *models.Policy) error
	AddAudit(ctx context.Context, events ...models.AuditEvent) error
}

// Registry carries out administrative actions: it enforces the rules of
// the organization policy, makes secrets (returned once, stored as hashes)
// and writes the audit log.
type Registry struct {
	store  RegistryStore
	hasher *oauth.Hasher
	now    func() time.Time
	log    *slog.Logger
	signIn *oauth.Limiter // failure budgets of SignIn
}

// NewRegistry returns a Registry; now is the clock (nil: time.Now).
func NewRegistry(store RegistryStore, hasher *oauth.Hasher, now func() time.Time, log *slog.Logger) *Registry {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{store: store, hasher: hasher, now: now, log: log, signIn: newSignInLimiter(now)}
}

// NewClient describes a client to register.
type NewClient struct {
	OwnerEmail     string
	Name           string
	Description    string
	Scopes         []string
	Audiences      []string
	IPAllowlist    []string
	TokenTTL       time.Duration
	ExpiresAt      *time.Time // default: now + the policy's default credential lifetime
	ResourceServer bool
}

// Create registers a client and returns it with its secret, which is not
// stored and cannot be shown again.
func (r *Registry) Create(ctx context.Context, actor Actor, in NewClient) (*models.Client, string, error) {
	secret := oauth.NewSecret()
	c, err := r.register(ctx, actor, in, oauth.NewClientID(), secret, models.FormatCurrent)
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// Import registers a credential issued by another system, keeping its
// client_id and secret. Its secret is marked legacy: it carries no checksum
// a scanner could recognise, and it stops working at the policy's legacy
// sunset date; rotating it issues a current-format secret.
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
	return r.register(ctx, actor, in, clientID, secret, models.FormatLegacy)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (r *Registry) register(ctx context.Context, actor Actor, in NewClient, clientID, secret, format string) (*models.Client, error) {
	policy, err := r.store.Policy(ctx)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return nil, models.Errorf(models.KindInvalid, "invalid_name", "name is required, at most 100 characters")
	}
	// Names and descriptions reach terminals (the CLI) and the audit log:
	// no control characters, which could forge lines there.
	if err := models.CheckText(name); err != nil {
		return nil, models.Errorf(models.KindInvalid, "invalid_name", "name %v", err)
	}
	if len(in.Description) > 1000 {
		return nil, models.Errorf(models.KindInvalid, "invalid_description", "description is at most 1000 characters")
	}
	if err := models.CheckText(in.Description); err != nil {
		return nil, models.Errorf(models.KindInvalid, "invalid_description", "description %v", err)
	}
	// No user's email holds a control character or invalid UTF-8 (which
	// PostgreSQL would refuse to compare): such an owner is not looked up.
	var owner *models.User
	err = models.ErrNotFound
	if models.CheckText(in.OwnerEmail) == nil {
		owner, err = r.store.UserByEmail(ctx, in.OwnerEmail)
	}
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.Errorf(models.KindInvalid, "owner_not_found", "no user with email %q", models.NormalizeEmail(in.OwnerEmail))
	}
	if err != nil {
		return nil, err
	}
	if !actor.isAdmin() {
		if !actor.User.Active() || (policy.CreationRestricted && !actor.User.MayCreateClients) {
			return nil, models.Errorf(models.KindForbidden, "not_allowed_to_create", "%s may not create clients: ask an admin", actor.User.Email)
		}
		if actor.User.ID != owner.ID {
			return nil, models.Errorf(models.KindForbidden, "owner_must_be_self", "members may create clients only for themselves")
		}
	}
	if !owner.Active() {
		return nil, models.Errorf(models.KindInvalid, "owner_disabled", "owner %s is disabled", owner.Email)
	}
	scopes := models.NewSet(in.Scopes...)
	for _, p := range scopes {
		if err := models.ValidScopeToken(p); err != nil {
			return nil, models.Errorf(models.KindInvalid, "invalid_scope", "%s", models.ErrorMessage(err))
		}
	}
	if missing := scopes.Missing(owner.Permissions); len(missing) > 0 {
		return nil, models.Errorf(models.KindInvalid, "scope_not_held_by_owner", "owner %s does not hold: %s", owner.Email, missing.String())
	}
	audiences := models.NewSet(in.Audiences...)
	for _, a := range audiences {
		if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, models.Errorf(models.KindInvalid, "invalid_audience", "audience %q must be an absolute URI without a fragment", a)
		}
		if err := models.CheckText(a); err != nil {
			return nil, models.Errorf(models.KindInvalid, "invalid_audience", "audience %q %v", a, err)
		}
	}
	allowlist, err := normalizeAllowlist(in.IPAllowlist)
	if err != nil {
		return nil, err
	}
	if in.TokenTTL < 0 || in.TokenTTL > policy.MaxTokenTTL || (in.TokenTTL > 0 && in.TokenTTL < 30*time.Second) {
		return nil, models.Errorf(models.KindInvalid, "invalid_token_ttl", "token TTL must be between 30s and %s", policy.MaxTokenTTL)
	}
	now := r.now().UTC()
	expires := now.Add(policy.DefaultCredentialLifetime)
	if in.ExpiresAt != nil {
		expires = in.ExpiresAt.UTC()
		if !expires.After(now) {
			return nil, models.Errorf(models.KindInvalid, "invalid_expiry", "expiry must be in the future")
		}
	}
	if policy.MaxCredentialLifetime > 0 && expires.After(now.Add(policy.MaxCredentialLifetime)) {
		return nil, models.Errorf(models.KindInvalid, "invalid_expiry", "expiry is beyond the maximum credential lifetime (%s)", policy.MaxCredentialLifetime)
	}
	if in.ResourceServer && !actor.isAdmin() {
		return nil, models.Errorf(models.KindForbidden, "admin_required", "only admins may register resource servers, which may introspect every token")
	}
	if format == models.FormatLegacy && policy.LegacySunset != nil && !r.now().Before(*policy.LegacySunset) {
		return nil, models.Errorf(models.KindInvalid, "legacy_sunset_passed", "legacy credentials stopped working on %s; create a new client instead", policy.LegacySunset.UTC().Format(time.RFC3339))
	}

	c := &models.Client{
		ID:             clientID,
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
	}
	cs := r.newSecretRow(clientID, secret, format)
	if err := r.store.CreateClient(ctx, c, cs, policy.MaxClientsPerOwner); err != nil {
		// The Store's own refusals carry a code; a bare conflict is the
		// unique client_id.
		var domain *models.Error
		if errors.As(err, &domain) && domain.Code == "" && domain.Kind == models.KindConflict {
			return nil, models.Errorf(models.KindConflict, "client_id_taken", "client_id %s is already registered", clientID)
		}
		return nil, err
	}
	c.Owner = owner
	action := models.AuditClientCreated
	if format == models.FormatLegacy {
		action = models.AuditClientImported
	}
	r.audit(ctx, actor, action, c.ID, owner.ID, map[string]any{"name": c.Name, "owner": owner.Email, "scopes": c.Scopes, "expires_at": expires})
	return c, nil
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

func (r *Registry) newSecretRow(clientID, secret, format string) *models.ClientSecret {
	prefix, last := oauth.SecretDisplay(secret)
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
	err := r.store.AddAudit(ctx, models.AuditEvent{At: r.now(), Actor: actor.Name(), Action: action, ClientID: clientID, UserID: userID, IP: actor.IP, Detail: string(d)})
	if err != nil {
		r.log.Error("audit event not written", "action", action, "client_id", clientID, "user_id", userID, "actor", actor.Name(), "error", err)
	}
}

func (r *Registry) manageable(ctx context.Context, actor Actor, clientID string) (*models.Client, error) {
	c, err := r.store.ClientByID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if !actor.canManage(c) {
		return nil, models.Errorf(models.KindForbidden, "not_client_owner", "only admins and the client's owner may change client %s", clientID)
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
		return "", nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked; create a new one", clientID)
	}
	policy, err := r.store.Policy(ctx)
	if err != nil {
		return "", nil, err
	}
	if exp := c.EffectiveExpiry(policy); exp != nil && !r.now().Before(*exp) {
		return "", nil, models.Errorf(models.KindConflict, "client_expired", "client %s expired on %s; a new secret would not work: create a new client", clientID, exp.UTC().Format(time.RFC3339))
	}
	g := policy.RotationGrace
	if grace != nil {
		g = *grace
	}
	if g < 0 || g > 30*24*time.Hour {
		return "", nil, models.Errorf(models.KindInvalid, "invalid_grace", "grace period must be between 0 (now) and 30 days")
	}
	secret := oauth.NewSecret()
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
