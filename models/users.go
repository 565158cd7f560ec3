package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// NormalizeEmail lower-cases and trims an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Limits of a user's fields: RFC 5321 §4.5.3.1.3 bounds a path, so an
// address, to 256 octets including the angle brackets.
const (
	MaxEmailLen = 254 // bytes
	MaxNameLen  = 200 // characters
)

// Validate checks the user's fields.
func (u *User) Validate() error {
	u.Email = NormalizeEmail(u.Email)
	if _, err := mail.ParseAddress(u.Email); err != nil || strings.ContainsAny(u.Email, "<> ") || len(u.Email) > MaxEmailLen {
		return Errorf(KindInvalid, "invalid_request", "email %q is not an address", u.Email)
	}
	if strings.TrimSpace(u.Name) == "" {
		return Errorf(KindInvalid, "invalid_request", "name is required")
	}
	// PostgreSQL refuses a NUL or invalid UTF-8 in text, and a control
	// character would garble the console, the CLI's table and log lines.
	if !utf8.ValidString(u.Name) || strings.ContainsFunc(u.Name, unicode.IsControl) {
		return Errorf(KindInvalid, "invalid_request", "name must be UTF-8 text without control characters")
	}
	if utf8.RuneCountInString(u.Name) > MaxNameLen {
		return Errorf(KindInvalid, "invalid_request", "name must have at most %d characters", MaxNameLen)
	}
	if u.OrgID == "" {
		return nil // a person without a membership: nothing more to check
	}
	if u.Role != RoleOwner && u.Role != RoleAdmin && u.Role != RoleMember {
		return Errorf(KindInvalid, "invalid_request", "role %q: want owner, admin or member", u.Role)
	}
	if u.Status != StatusActive && u.Status != StatusDisabled {
		return Errorf(KindInvalid, "invalid_request", "status %q: want active or disabled", u.Status)
	}
	for _, p := range u.Permissions {
		if err := ValidScopeToken(p); err != nil {
			return err
		}
	}
	return nil
}

// ValidScopeToken checks one permission/scope string against RFC 6749 §3.3
// (printable ASCII except space, '"' and '\').
func ValidScopeToken(p string) error {
	if p == "" || len(p) > 128 {
		return Errorf(KindInvalid, "invalid_request", "permission %q must be 1 to 128 characters", p)
	}
	for _, r := range p {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' || r == ',' {
			return Errorf(KindInvalid, "invalid_request", "permission %q has a character outside RFC 6749 scope syntax", p)
		}
	}
	return nil
}

// CreateUser inserts a person and their membership of u.OrgID in one
// transaction, assigning the id. A person with that email exists already:
// ErrConflict (add them to another organization with AddMembership).
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	u.defaults()
	if u.OrgID == "" {
		return fmt.Errorf("create user %s: no organization", u.Email)
	}
	if err := u.Validate(); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt = now, now
	m := u.membership()
	m.CreatedAt, m.UpdatedAt = now, now
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		return tx.Create(&m).Error
	}), "create user "+u.Email)
}

func (u *User) defaults() {
	if u.Status == "" {
		u.Status = StatusActive
	}
	if u.Role == "" {
		u.Role = RoleMember
	}
	if u.Permissions == nil {
		u.Permissions = Set{}
	}
}

// AddMembership makes the existing person u.ID a member of u.OrgID with
// u's role, permissions and status; u's person fields are not written.
// A membership of that organization exists already: ErrConflict.
func (s *Store) AddMembership(ctx context.Context, u *User) error {
	u.defaults()
	if u.OrgID == "" || u.ID == "" {
		return fmt.Errorf("add membership of %s: no organization or person", u.Email)
	}
	if err := u.Validate(); err != nil {
		return err
	}
	m := u.membership()
	m.CreatedAt = s.now()
	m.UpdatedAt = m.CreatedAt
	return translate(s.db.WithContext(ctx).Create(&m).Error, "add "+u.Email+" to organization "+u.OrgID)
}

// maxIDLen bounds the ids a lookup accepts (users' ids are UUIDs).
const maxIDLen = 256

// storableKey reports whether s can be a stored key of at most max bytes.
// A lookup of any other key answers ErrNotFound without a query: PostgreSQL
// would fail on a NUL or invalid UTF-8 instead of finding nothing.
func storableKey(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// UserByEmail finds a member of the organization orgID by email address.
// A person who is not a member of it is not found.
func (s *Store) UserByEmail(ctx context.Context, orgID, email string) (*User, error) {
	u, err := s.PersonByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	return u, s.withMembership(ctx, orgID, u)
}

// UserByID finds a member of the organization orgID by id. A person who is
// not a member of it is not found.
func (s *Store) UserByID(ctx context.Context, orgID, id string) (*User, error) {
	u, err := s.PersonByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return u, s.withMembership(ctx, orgID, u)
}

// PersonByEmail finds a person by email address, without a membership
// (OrgID empty): for signing in.
func (s *Store) PersonByEmail(ctx context.Context, email string) (*User, error) {
	if !storableKey(NormalizeEmail(email), MaxEmailLen) {
		return nil, fmt.Errorf("user: %w", ErrNotFound)
	}
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Take(&u).Error
	if err != nil {
		return nil, translate(err, "user "+NormalizeEmail(email))
	}
	return &u, nil
}

// PersonByID finds a person by id, without a membership (OrgID empty).
func (s *Store) PersonByID(ctx context.Context, id string) (*User, error) {
	if !storableKey(id, maxIDLen) {
		return nil, fmt.Errorf("user: %w", ErrNotFound)
	}
	var u User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err, "user "+id)
	}
	return &u, nil
}

// withMembership fills u's membership of orgID, or answers ErrNotFound.
func (s *Store) withMembership(ctx context.Context, orgID string, u *User) error {
	if !storableKey(orgID, maxIDLen) {
		return fmt.Errorf("user %s: %w", u.ID, ErrNotFound)
	}
	var m Membership
	if err := s.db.WithContext(ctx).Where("org_id = ? AND user_id = ?", orgID, u.ID).Take(&m).Error; err != nil {
		return translate(err, "user "+u.ID)
	}
	u.withMembership(&m)
	return nil
}

// OrgMembership is a membership with its organization, for a person's
// list of organizations.
type OrgMembership struct {
	Membership
	Org Organization
}

// Memberships returns the person's memberships with their organizations,
// by organization slug.
func (s *Store) Memberships(ctx context.Context, userID string) ([]OrgMembership, error) {
	if !storableKey(userID, maxIDLen) {
		return nil, nil
	}
	var ms []Membership
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&ms).Error; err != nil {
		return nil, translate(err, "memberships of "+userID)
	}
	out := make([]OrgMembership, 0, len(ms))
	for _, m := range ms {
		var o Organization
		if err := s.db.WithContext(ctx).Where("id = ?", m.OrgID).Take(&o).Error; err != nil {
			return nil, translate(err, "organization "+m.OrgID)
		}
		out = append(out, OrgMembership{Membership: m, Org: o})
	}
	slices.SortFunc(out, func(a, b OrgMembership) int { return strings.Compare(a.Org.Slug, b.Org.Slug) })
	return out, nil
}

// ListUsers returns the members of the organization orgID, by email.
func (s *Store) ListUsers(ctx context.Context, orgID string) ([]User, error) {
	if !storableKey(orgID, maxIDLen) {
		return nil, nil
	}
	var users []User
	err := s.db.WithContext(ctx).Where("id IN (SELECT user_id FROM memberships WHERE org_id = ?)", orgID).Order("email").Find(&users).Error
	if err != nil {
		return nil, translate(err, "list users")
	}
	var ms []Membership
	if err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Find(&ms).Error; err != nil {
		return nil, translate(err, "list users")
	}
	byUser := make(map[string]*Membership, len(ms))
	for i := range ms {
		byUser[ms[i].UserID] = &ms[i]
	}
	for i := range users {
		if m := byUser[users[i].ID]; m != nil {
			users[i].withMembership(m)
		}
	}
	return users, nil
}

// loadMemberships fills the membership of each loaded client owner in the
// client's organization (an owner who left it stays without one: not
// active).
func (s *Store) loadMemberships(ctx context.Context, cs []Client) error {
	type key struct{ org, user string }
	want := map[key]bool{}
	for _, c := range cs {
		if c.Owner != nil {
			want[key{c.OrgID, c.OwnerID}] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	orgs := map[string][]string{}
	for k := range want {
		orgs[k.org] = append(orgs[k.org], k.user)
	}
	found := map[key]*Membership{}
	for org, users := range orgs {
		for chunk := range slices.Chunk(users, 500) {
			var ms []Membership
			if err := s.db.WithContext(ctx).Where("org_id = ? AND user_id IN ?", org, chunk).Find(&ms).Error; err != nil {
				return translate(err, "memberships of client owners")
			}
			for i := range ms {
				found[key{ms[i].OrgID, ms[i].UserID}] = &ms[i]
			}
		}
	}
	for i := range cs {
		if c := &cs[i]; c.Owner != nil {
			if m := found[key{c.OrgID, c.OwnerID}]; m != nil {
				c.Owner.withMembership(m)
			}
		}
	}
	return nil
}

// UpdateUser saves a member's mutable fields: the person's name and
// password hash, and the membership of u.OrgID (role, permissions,
// may_create_clients, status), in one transaction.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return s.updateUser(tx, u) }), "update user "+u.Email)
}

func (s *Store) updateUser(db *gorm.DB, u *User) error {
	u.UpdatedAt = s.now()
	res := db.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
		"name":          u.Name,
		"password_hash": u.PasswordHash,
		"updated_at":    u.UpdatedAt,
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %s: %w", u.Email, ErrNotFound)
	}
	if u.OrgID == "" {
		return nil // a person's own fields only (a password set at sign-in)
	}
	// The organization's row is the lock that makes the last-owner check
	// hold under concurrent changes on PostgreSQL (two owners demoting
	// each other); SQLite has one writer anyway.
	if err := db.Exec("UPDATE organizations SET updated_at = updated_at WHERE id = ?", u.OrgID).Error; err != nil {
		return err
	}
	var was Membership
	if err := db.Where("org_id = ? AND user_id = ?", u.OrgID, u.ID).Take(&was).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("membership of %s: %w", u.Email, ErrNotFound)
		}
		return err
	}
	res = db.Model(&Membership{}).Where("org_id = ? AND user_id = ?", u.OrgID, u.ID).Updates(map[string]any{
		"role":               u.Role,
		"permissions":        u.Permissions,
		"may_create_clients": u.MayCreateClients,
		"status":             u.Status,
		"updated_at":         u.UpdatedAt,
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("membership of %s: %w", u.Email, ErrNotFound)
	}
	if was.Role == RoleOwner && was.Status == StatusActive && (u.Role != RoleOwner || u.Status != StatusActive) {
		var owners int64
		if err := db.Model(&Membership{}).Where("org_id = ? AND role = ? AND status = ?", u.OrgID, RoleOwner, StatusActive).Count(&owners).Error; err != nil {
			return err
		}
		if owners == 0 {
			return Errorf(KindConflict, "last_owner", "%s is the organization's last active owner: make another member an owner first", u.Email)
		}
	}
	return nil
}
