package models

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles of a person in an organization: owners and admins manage the
// organization (members, projects, policy, every credential in it), and
// only owners make or unmake owners; members manage the credentials they
// own, within the policy.
const (
	RoleOwner  = "owner"
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// ManagesOrganization reports whether role is owner or admin.
func ManagesOrganization(role string) bool { return role == RoleOwner || role == RoleAdmin }

// Statuses of users and clients.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
	StatusRevoked  = "revoked"
)

// Kinds of client (docs/design.md, Domain): bound to one project, valid
// for every project of its organization (the token request names one with
// RFC 8707 resource), or publishable (project-bound, its scopes locked to
// the organization's publishable set). Each has its own secret prefix.
const (
	ClientKindProject      = "project"
	ClientKindOrganization = "organization"
	ClientKindPublishable  = "publishable"
)

// Credential formats.
const (
	FormatCurrent = "current"
	FormatLegacy  = "legacy"
)

// Signing key states: a key is published while next, signs while active and
// stays published while retired.
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
)

// Set is a sorted set of strings (permissions, scopes, audiences, CIDRs),
// stored as a JSON array.
type Set []string

// NewSet returns the sorted, de-duplicated set of the non-empty items.
func NewSet(items ...string) Set {
	s := make(Set, 0, len(items))
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			s = append(s, it)
		}
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// ParseSet splits a comma- or space-separated list into a Set.
func ParseSet(list string) Set {
	return NewSet(strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })...)
}

// Has reports whether item is in the set.
func (s Set) Has(item string) bool {
	_, ok := slices.BinarySearch(s, item)
	return ok
}

// Intersect returns the items present in both sets.
func (s Set) Intersect(o Set) Set {
	out := make(Set, 0, min(len(s), len(o)))
	for _, it := range s {
		if o.Has(it) {
			out = append(out, it)
		}
	}
	return out
}

// Missing returns the items of s that are not in o.
func (s Set) Missing(o Set) Set {
	var out Set
	for _, it := range s {
		if !o.Has(it) {
			out = append(out, it)
		}
	}
	return out
}

// String joins the set with spaces (the OAuth scope syntax).
func (s Set) String() string { return strings.Join(s, " ") }

// Value implements driver.Valuer.
func (s Set) Value() (driver.Value, error) {
	if s == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(s))
	return string(b), err
}

// jsonColumn returns the text of a JSON column as a Scan receives it: nil
// for NULL, the bytes of a string or []byte, an error naming into for
// another type.
func jsonColumn(v any, into string) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	}
	return nil, fmt.Errorf("models: cannot scan %T into %s", v, into)
}

// Scan implements sql.Scanner.
func (s *Set) Scan(v any) error {
	if v == nil {
		*s = Set{}
		return nil
	}
	b, err := jsonColumn(v, "Set")
	if err != nil {
		return err
	}
	var items []string
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("models: scan set: %w", err)
	}
	*s = NewSet(items...)
	return nil
}

// User is a person, seen from one organization: who they are (email, name,
// password, sessions: one row of users, whatever organizations they belong
// to) and their membership of the organization OrgID they were loaded for
// (role, permissions, right to create clients, status: one row of
// memberships). Clients act with (a subset of) their owner's current
// permissions in the client's organization.
type User struct {
	ID           string `gorm:"primaryKey"`
	Email        string
	Name         string
	PasswordHash string `json:"-"`
	// SessionEpoch grows by one whenever the user's sessions are ended; a
	// session started under another value has ended (see EndSessions).
	SessionEpoch int64 `json:"-"`
	CreatedAt    time.Time
	UpdatedAt    time.Time

	// The membership of organization OrgID; OrgID is empty when the user
	// was loaded as a person only (at sign-in), and then Role is empty and
	// Status is not active.
	OrgID            string `gorm:"-"`
	Role             string `gorm:"-"`
	Permissions      Set    `gorm:"-"`
	MayCreateClients bool   `gorm:"-"`
	Status           string `gorm:"-"`
}

// Active reports whether the user's membership of OrgID is enabled.
func (u *User) Active() bool { return u.OrgID != "" && u.Status == StatusActive }

// Membership is a person's role, permissions and status in one
// organization; a person may belong to several.
type Membership struct {
	OrgID            string `gorm:"primaryKey"`
	UserID           string `gorm:"primaryKey"`
	Role             string
	Permissions      Set
	MayCreateClients bool
	Status           string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// membership returns u's membership row.
func (u *User) membership() Membership {
	return Membership{OrgID: u.OrgID, UserID: u.ID, Role: u.Role, Permissions: u.Permissions, MayCreateClients: u.MayCreateClients, Status: u.Status}
}

// withMembership fills u's membership fields from m.
func (u *User) withMembership(m *Membership) {
	u.OrgID, u.Role, u.Permissions, u.MayCreateClients, u.Status = m.OrgID, m.Role, m.Permissions, m.MayCreateClients, m.Status
}

// Client is a machine-to-machine application registered by an admin.
type Client struct {
	ID    string `gorm:"primaryKey"` // the public client_id
	OrgID string
	// ProjectID is the project a project or publishable client is bound
	// to; empty for an organization-wide client.
	ProjectID   string
	Kind        string // ClientKindProject, ClientKindOrganization or ClientKindPublishable
	Name        string
	Description string
	OwnerID     string
	CreatedBy   string
	// Scopes are the ceiling of what the client may be granted; its tokens
	// carry Scopes ∩ the owner's current permissions ∩ the requested scope.
	Scopes Set
	// Audiences, for an organization-wide client, narrow the projects it
	// may ask tokens for to those with these resources; empty, any project
	// of its organization. Other kinds have none: their project is their
	// audience.
	Audiences   Set
	TokenTTL    time.Duration
	IPAllowlist Set `gorm:"column:ip_allowlist"`
	ExpiresAt   *time.Time
	// RenewedAt is when the client was last renewed: its lifetime starts
	// there, and the policy's maximum lifetime is counted from it (see
	// LifetimeStart). Nil for a client never renewed.
	RenewedAt     *time.Time
	Status        string
	RevokedAt     *time.Time
	LastUsedAt    *time.Time
	LastUsedIP    string `gorm:"column:last_used_ip"`
	LastUserAgent string
	TokenCount    int64
	// ResourceServer clients may introspect any token, not only their own.
	ResourceServer bool
	// AuthMethod is how the client authenticates at the token endpoint:
	// AuthSecret (empty in rows of before: client_secret_basic or
	// client_secret_post) or AuthPrivateKeyJWT, with JWKS or JWKSURI.
	AuthMethod string
	// JWKS is the client's public keys as a JWKS document (private_key_jwt),
	// or empty when they are fetched from JWKSURI.
	JWKS string `gorm:"column:jwks"`
	// JWKSURI is where the client's public keys are fetched from.
	JWKSURI string `gorm:"column:jwks_uri"`
	// RequireDPoP: the token endpoint refuses a request of this client
	// without a DPoP proof, so each of its tokens is bound to a key.
	RequireDPoP bool `gorm:"column:require_dpop"`
	// Federation is a federated client's binding (AuthFederated): which
	// trusted issuer's tokens it accepts, and what their claims must be.
	// Zero for other methods.
	Federation Federation `gorm:"embedded;embeddedPrefix:federation_"`
	CreatedAt  time.Time
	UpdatedAt  time.Time

	Owner   *User          `gorm:"foreignKey:OwnerID"`
	Secrets []ClientSecret `gorm:"foreignKey:ClientID"`
	// Org and Project, when loaded (AuthClient; Project nil for an
	// organization-wide client).
	Org     *Organization `gorm:"-"`
	Project *Project      `gorm:"-"`
	// TrustedIssuer is a federated client's issuer, loaded by AuthClient
	// (nil when the binding names none of the client's organization).
	TrustedIssuer *TrustedIssuer `gorm:"-"`
}

// ClientSecret is one secret of a client; only its hash is stored. Several may
// be live at once during a rotation.
type ClientSecret struct {
	ID       string `gorm:"primaryKey"`
	ClientID string
	Hash     []byte `json:"-"`
	Prefix   string // the non-secret leading characters, for display
	Last4    string `gorm:"column:last4"` // the last characters, for display
	// Format is FormatCurrent for generated secrets and FormatLegacy for
	// secrets imported from another system.
	Format        string
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	RevokedAt     *time.Time
	LastUsedAt    *time.Time
	LastUsedIP    string `gorm:"column:last_used_ip"`
	LastUserAgent string
	TokenCount    int64
}

// Live reports whether the secret may authenticate at time now.
func (s *ClientSecret) Live(now time.Time) bool {
	return len(s.Hash) > 0 && s.RevokedAt == nil && (s.ExpiresAt == nil || now.Before(*s.ExpiresAt))
}

// SigningKey is a token signing key. The private key is stored encrypted.
type SigningKey struct {
	KID           string `gorm:"column:kid;primaryKey"`
	Generation    int64  // unique: concurrent creators of the same generation conflict
	Alg           string
	PublicKey     []byte // PKIX DER
	PrivateKeyEnc []byte // AES-256-GCM sealed PKCS#8 DER
	State         string
	CreatedAt     time.Time
	ActivatedAt   *time.Time
	RetiredAt     *time.Time
}

// Usage is the latest observed use of a client secret from one IP address
// and how many tokens it obtained since the last record, written off the
// hot path.
type Usage struct {
	ClientID string
	SecretID string
	// First is the earliest use since the last record (zero: At).
	First     time.Time
	At        time.Time
	IP        string
	UserAgent string
	Count     int64
}

// ClientIP is an address a client obtained tokens from: when first and
// last, and how many tokens. A client keeps its MaxClientIPs most recently
// used addresses.
type ClientIP struct {
	ClientID    string `gorm:"primaryKey"`
	IP          string `gorm:"primaryKey;column:ip"`
	FirstUsedAt time.Time
	LastUsedAt  time.Time
	TokenCount  int64
}

// MaxClientIPs bounds the addresses kept per client: each usage flush drops
// a client's least recently used addresses beyond it (their first time
// and count are lost; a dropped address that comes back starts afresh).
const MaxClientIPs = 50

// Display statuses of a client, as shown in lists: what would happen to a
// token request now.
const (
	ClientActive          = "active"
	ClientRevoked         = "revoked"
	ClientExpired         = "expired"
	ClientDisabledByOwner = "disabled_by_owner"
	// ClientDisabledByPolicy: the organization restricts credential
	// creation and the owner, who created the client, is no longer allowed
	// to create (see DisabledByPolicy).
	ClientDisabledByPolicy = "disabled_by_policy"
	// ClientDeprecated: the client authenticates only with legacy
	// (imported) secrets, which work until the policy's legacy sunset.
	ClientDeprecated = "deprecated"
	// ClientSunset: the client has only legacy secrets and the policy's
	// legacy sunset has passed: the token endpoint refuses it
	// (KEY_FORMAT_DEPRECATED) until it is rotated.
	ClientSunset = "sunset"
)

// LegacyOnly reports whether the client's live secrets at now (Secrets
// must be loaded) are all legacy ones, and there is one.
func (c *Client) LegacyOnly(now time.Time) bool {
	legacy := false
	for i := range c.Secrets {
		s := &c.Secrets[i]
		if !s.Live(now) {
			continue
		}
		if s.Format != FormatLegacy {
			return false
		}
		legacy = true
	}
	return legacy
}

// DisabledByPolicy reports whether the organization policy p stops the
// client: p restricts creation to allowed members, and the client's owner
// created it themselves and is a member no longer allowed to create.
// Restricting creation restricts use too, or a member whose permission was
// withdrawn would keep every credential made under it; granting it again
// makes them work again, unchanged. A client an owner or admin made for a
// member is that admin's decision, and is not affected. The Owner must be
// loaded with its membership.
func (c *Client) DisabledByPolicy(p *Policy) bool {
	o := c.Owner
	return p != nil && p.CreationRestricted && o != nil && o.Role == RoleMember && !o.MayCreateClients &&
		c.CreatedBy != "" && c.CreatedBy == o.Email
}

// DisplayStatus is the client's status at time now under policy p (nil:
// no policy cap), owner included. The Owner must be loaded, and the
// Secrets for the legacy statuses (deprecated, sunset).
func (c *Client) DisplayStatus(p *Policy, now time.Time) string {
	exp := c.EffectiveExpiry(p)
	switch {
	case c.Status == StatusRevoked:
		return ClientRevoked
	case exp != nil && !now.Before(*exp):
		return ClientExpired
	case p != nil && p.LegacySunset != nil && !now.Before(*p.LegacySunset) && c.LegacyOnly(now):
		return ClientSunset
	case c.Owner != nil && (!c.Owner.Active() || (len(c.Scopes) > 0 && len(c.Scopes.Intersect(c.Owner.Permissions)) == 0)):
		return ClientDisabledByOwner
	case c.DisabledByPolicy(p):
		return ClientDisabledByPolicy
	case c.LegacyOnly(now):
		return ClientDeprecated
	}
	return ClientActive
}
