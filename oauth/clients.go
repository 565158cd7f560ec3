package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/google/uuid"
)

// RegistryStore is what the Registry reads and writes.
type RegistryStore interface {
	UserByEmail(ctx context.Context, email string) (*models.User, error)
	CreateClient(ctx context.Context, c *models.Client, s *models.ClientSecret) error
}

// Registry registers clients: it enforces the rules of creation and makes
// the secret, which it returns once and stores only as a hash.
type Registry struct {
	store       RegistryStore
	hasher      *Hasher
	maxTokenTTL time.Duration
}

// NewRegistry returns a Registry.
func NewRegistry(store RegistryStore, hasher *Hasher, maxTokenTTL time.Duration) *Registry {
	if maxTokenTTL <= 0 {
		maxTokenTTL = DefaultMaxTTL
	}
	return &Registry{store: store, hasher: hasher, maxTokenTTL: maxTokenTTL}
}

// NewClient describes a client to register.
type NewClient struct {
	OwnerEmail  string
	CreatedBy   string // who registers it: a user's email or "cli"
	Name        string
	Description string
	Scopes      []string
	Audiences   []string
	IPAllowlist []string
	TokenTTL    time.Duration
}

// Create registers a client and returns it with its secret, which is not
// stored and cannot be shown again.
func (r *Registry) Create(ctx context.Context, in NewClient) (*models.Client, string, error) {
	secret := NewSecret()
	c, err := r.register(ctx, in, NewClientID(), secret, models.FormatCurrent)
	return c, secret, err
}

// Import registers a credential issued by another system, keeping its
// client_id and secret. It is marked legacy: such credentials carry no
// checksum and cannot be recognised by secret scanners.
func (r *Registry) Import(ctx context.Context, in NewClient, clientID, secret string) (*models.Client, error) {
	if len(clientID) < 4 || len(clientID) > 128 || !printable(clientID) {
		return nil, models.Invalidf("invalid_client_id", "an imported client_id must be 4 to 128 printable ASCII characters")
	}
	if strings.HasPrefix(clientID, ClientIDPrefix) {
		return nil, models.Invalidf("invalid_client_id", "client_ids starting with %s are reserved for generated credentials", ClientIDPrefix)
	}
	if len(secret) < 16 || len(secret) > 512 || !printable(secret) {
		return nil, models.Invalidf("weak_secret", "an imported secret must be 16 to 512 printable ASCII characters")
	}
	return r.register(ctx, in, clientID, secret, models.FormatLegacy)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (r *Registry) register(ctx context.Context, in NewClient, clientID, secret, format string) (*models.Client, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		return nil, models.Invalidf("invalid_name", "name is required, at most 100 characters")
	}
	if len(in.Description) > 1000 {
		return nil, models.Invalidf("invalid_description", "description is at most 1000 characters")
	}
	owner, err := r.store.UserByEmail(ctx, in.OwnerEmail)
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.Invalidf("owner_not_found", "no user with email %q", models.NormalizeEmail(in.OwnerEmail))
	}
	if err != nil {
		return nil, err
	}
	if !owner.Active() {
		return nil, models.Invalidf("owner_disabled", "owner %s is disabled", owner.Email)
	}
	scopes := models.NewSet(in.Scopes...)
	for _, p := range scopes {
		if err := models.ValidScopeToken(p); err != nil {
			return nil, models.Invalidf("invalid_scope", "%s", strings.TrimPrefix(err.Error(), "invalid: "))
		}
	}
	if missing := scopes.Missing(owner.Permissions); len(missing) > 0 {
		return nil, models.Invalidf("scope_not_held_by_owner", "owner %s does not hold: %s", owner.Email, missing.String())
	}
	audiences := models.NewSet(in.Audiences...)
	for _, a := range audiences {
		if u, err := url.Parse(a); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, models.Invalidf("invalid_audience", "audience %q must be an absolute URI without a fragment", a)
		}
	}
	if _, err := ParsePrefixes(in.IPAllowlist); err != nil {
		return nil, models.Invalidf("invalid_ip_allowlist", "%s", strings.TrimPrefix(err.Error(), "invalid: "))
	}
	if in.TokenTTL < 0 || in.TokenTTL > r.maxTokenTTL || (in.TokenTTL > 0 && in.TokenTTL < 30*time.Second) {
		return nil, models.Invalidf("invalid_token_ttl", "token TTL must be between 30s and %s", r.maxTokenTTL)
	}
	createdBy := in.CreatedBy
	if createdBy == "" {
		createdBy = "cli"
	}
	c := &models.Client{
		ID:          clientID,
		Name:        name,
		Description: in.Description,
		OwnerID:     owner.ID,
		CreatedBy:   createdBy,
		Scopes:      scopes,
		Audiences:   audiences,
		IPAllowlist: models.NewSet(in.IPAllowlist...),
		TokenTTL:    in.TokenTTL,
		Status:      models.StatusActive,
	}
	prefix, last := SecretDisplay(secret)
	cs := &models.ClientSecret{ID: uuid.NewString(), Hash: r.hasher.Hash(secret), Prefix: prefix, Last4: last, Format: format}
	if err := r.store.CreateClient(ctx, c, cs); err != nil {
		return nil, err
	}
	c.Owner = owner
	return c, nil
}
