package models

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"
)

// ErrInvalid marks input that breaks a domain rule; the wrapped text says
// which and is safe to show to the caller.
var ErrInvalid = errors.New("invalid")

// NormalizeEmail lower-cases and trims an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Validate checks the user's fields.
func (u *User) Validate() error {
	u.Email = NormalizeEmail(u.Email)
	if _, err := mail.ParseAddress(u.Email); err != nil || strings.ContainsAny(u.Email, "<> ") {
		return fmt.Errorf("%w: email %q is not an address", ErrInvalid, u.Email)
	}
	if strings.TrimSpace(u.Name) == "" {
		return fmt.Errorf("%w: name is required", ErrInvalid)
	}
	if u.Role != RoleAdmin && u.Role != RoleMember {
		return fmt.Errorf("%w: role %q: want admin or member", ErrInvalid, u.Role)
	}
	if u.Status != StatusActive && u.Status != StatusDisabled {
		return fmt.Errorf("%w: status %q: want active or disabled", ErrInvalid, u.Status)
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
		return fmt.Errorf("%w: permission %q must be 1 to 128 characters", ErrInvalid, p)
	}
	for _, r := range p {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' || r == ',' {
			return fmt.Errorf("%w: permission %q has a character outside RFC 6749 scope syntax", ErrInvalid, p)
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

// UserByEmail finds a user by email address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", NormalizeEmail(email)).Take(&u).Error
	if err != nil {
		return nil, translate(err, "user "+NormalizeEmail(email))
	}
	return &u, nil
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id string) (*User, error) {
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
	u.UpdatedAt = s.now()
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
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
