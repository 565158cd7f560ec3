package models

import (
	"context"
	"fmt"
	"net/mail"
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
	if u.Role != RoleAdmin && u.Role != RoleMember {
		return Errorf(KindInvalid, "invalid_request", "role %q: want admin or member", u.Role)
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

// CreateUser inserts a user, assigning its id.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	if u.Status == "" {
		u.Status = StatusActive
	}
	if u.Role == "" {
		u.Role = RoleMember
	}
	if u.Permissions == nil {
		u.Permissions = Set{}
	}
	if err := u.Validate(); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt = now, now
	return translate(s.db.WithContext(ctx).Create(u).Error, "create user "+u.Email)
}

// maxIDLen bounds the ids a lookup accepts (users' ids are UUIDs).
const maxIDLen = 256

// storableKey reports whether s can be a stored key of at most max bytes.
// A lookup of any other key answers ErrNotFound without a query: PostgreSQL
// would fail on a NUL or invalid UTF-8 instead of finding nothing.
func storableKey(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// UserByEmail finds a user by email address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
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

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
	if !storableKey(id, maxIDLen) {
		return nil, fmt.Errorf("user: %w", ErrNotFound)
	}
	var u User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err, "user "+id)
	}
	return &u, nil
}

// ListUsers returns every user ordered by email.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	var users []User
	err := s.db.WithContext(ctx).Order("email").Find(&users).Error
	return users, translate(err, "list users")
}

// UpdateUser saves a user's mutable fields (name, role, permissions, status,
// may_create_clients, password hash).
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	if err := u.Validate(); err != nil {
		return err
	}
	return s.updateUser(s.db.WithContext(ctx), u)
}

func (s *Store) updateUser(db *gorm.DB, u *User) error {
	u.UpdatedAt = s.now()
	res := db.Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
		"name":               u.Name,
		"role":               u.Role,
		"permissions":        u.Permissions,
		"status":             u.Status,
		"may_create_clients": u.MayCreateClients,
		"password_hash":      u.PasswordHash,
		"updated_at":         u.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error, "update user "+u.Email)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %s: %w", u.Email, ErrNotFound)
	}
	return nil
}
