package models

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ReplayFederated is a federated workload token accepted by the token
// endpoint from an issuer with SingleUse; its key is the trusted issuer's
// id, a colon and the token's jti.
const ReplayFederated = "federated"

// TrustedIssuer is a platform whose workload tokens (GitHub Actions,
// GitLab CI, Kubernetes service accounts, SPIFFE JWT-SVIDs) an
// organization accepts as client assertions of its federated clients. It
// holds nothing secret: only where the issuer's public keys are.
type TrustedIssuer struct {
	ID    string `gorm:"primaryKey"`
	OrgID string
	Name  string
	// Issuer is the exact iss of the issuer's tokens.
	Issuer string
	// JWKSURI is where the issuer's public keys are fetched from (given, or
	// named by its discovery document when Discovered); empty when JWKS
	// holds them.
	JWKSURI string `gorm:"column:jwks_uri"`
	// JWKS is the issuer's public keys pasted as a JWKS document.
	JWKS string `gorm:"column:jwks"`
	// Discovered: JWKSURI was read from the issuer's OpenID discovery
	// document at registration.
	Discovered bool
	// Audience is the aud the issuer's tokens must carry to be accepted.
	Audience string
	// MaxTokenLifetime bounds how far ahead a token's exp may be.
	MaxTokenLifetime time.Duration
	// SingleUse: each token (its jti) is accepted once, across instances;
	// false lets a workload reuse one token until it expires.
	SingleUse bool
	CreatedAt time.Time
	CreatedBy string
	UpdatedAt time.Time
	// Clients is how many clients not revoked are bound to the issuer
	// (filled by TrustedIssuers and TrustedIssuerByID).
	Clients int64 `gorm:"-"`
}

// Federation is a federated client's binding to a trusted issuer: a token
// of the issuer authenticates the client when its sub matches Subject (an
// exact value, or a pattern where * matches any run of characters) and
// every claim path of Conditions holds the string value given.
type Federation struct {
	IssuerID   string
	Subject    string
	Conditions Conditions
}

// Conditions are equality conditions on a token's claims: a claim name, or
// a /-separated path into nested objects ("kubernetes.io/namespace"), and
// the string the claim must equal. Stored as a JSON object.
type Conditions map[string]string

// Value implements driver.Valuer.
func (c Conditions) Value() (driver.Value, error) {
	if c == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]string(c))
	return string(b), err
}

// Scan implements sql.Scanner.
func (c *Conditions) Scan(v any) error {
	b, err := jsonColumn(v, "Conditions")
	if err != nil {
		return err
	}
	m := Conditions{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("models: scan conditions: %w", err)
		}
	}
	*c = m
	return nil
}

// CreateTrustedIssuer stores a new trusted issuer. An issuer URL the
// organization trusts already is ErrConflict.
func (s *Store) CreateTrustedIssuer(ctx context.Context, ti *TrustedIssuer) error {
	now := s.now()
	ti.CreatedAt, ti.UpdatedAt = now, now
	return translate(s.db.WithContext(ctx).Create(ti).Error, "create trusted issuer")
}

// TrustedIssuerByID returns the organization's trusted issuer id; one of
// another organization is ErrNotFound, as a missing one.
func (s *Store) TrustedIssuerByID(ctx context.Context, orgID, id string) (*TrustedIssuer, error) {
	if !storable(orgID) || !storable(id) {
		return nil, fmt.Errorf("trusted issuer %q: %w", id, ErrNotFound)
	}
	var ti TrustedIssuer
	if err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&ti).Error; err != nil {
		return nil, translate(err, "trusted issuer "+id)
	}
	out := []TrustedIssuer{ti}
	if err := s.countIssuerClients(ctx, orgID, out); err != nil {
		return nil, err
	}
	return &out[0], nil
}

// TrustedIssuers returns the organization's trusted issuers by name.
func (s *Store) TrustedIssuers(ctx context.Context, orgID string) ([]TrustedIssuer, error) {
	out := []TrustedIssuer{}
	if !storable(orgID) {
		return out, nil
	}
	if err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("name, id").Find(&out).Error; err != nil {
		return nil, translate(err, "trusted issuers")
	}
	return out, s.countIssuerClients(ctx, orgID, out)
}

// countIssuerClients sets the Clients of each issuer.
func (s *Store) countIssuerClients(ctx context.Context, orgID string, issuers []TrustedIssuer) error {
	if len(issuers) == 0 {
		return nil
	}
	var rows []struct {
		ID string
		N  int64
	}
	err := s.db.WithContext(ctx).Model(&Client{}).Select("federation_issuer_id AS id, COUNT(*) AS n").
		Where("org_id = ? AND federation_issuer_id <> '' AND status <> ?", orgID, StatusRevoked).
		Group("federation_issuer_id").Scan(&rows).Error
	if err != nil {
		return translate(err, "clients of trusted issuers")
	}
	for _, r := range rows {
		for i := range issuers {
			if issuers[i].ID == r.ID {
				issuers[i].Clients = r.N
			}
		}
	}
	return nil
}

// UpdateTrustedIssuer saves a trusted issuer's mutable fields: name, keys,
// audience, maximum token lifetime and single use. The issuer URL is its
// identity and does not change.
func (s *Store) UpdateTrustedIssuer(ctx context.Context, ti *TrustedIssuer) error {
	ti.UpdatedAt = s.now()
	res := s.db.WithContext(ctx).Model(&TrustedIssuer{}).Where("org_id = ? AND id = ?", ti.OrgID, ti.ID).Updates(map[string]any{
		"name": ti.Name, "jwks_uri": ti.JWKSURI, "jwks": ti.JWKS, "discovered": ti.Discovered, "audience": ti.Audience,
		"max_token_lifetime": ti.MaxTokenLifetime, "single_use": ti.SingleUse, "updated_at": ti.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error, "update trusted issuer "+ti.ID)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("trusted issuer %s: %w", ti.ID, ErrNotFound)
	}
	return nil
}

// DeleteTrustedIssuer deletes the organization's trusted issuer id, unless
// clients not revoked are bound to it (409 issuer_in_use). The issuer's row
// is locked first, as binding a client to it does, so a client bound
// concurrently is either counted or refused.
func (s *Store) DeleteTrustedIssuer(ctx context.Context, orgID, id string) error {
	if !storable(orgID) || !storable(id) {
		return fmt.Errorf("trusted issuer %q: %w", id, ErrNotFound)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lockIssuer(tx, orgID, id, "UPDATE"); err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Client{}).Where("org_id = ? AND federation_issuer_id = ? AND status <> ?", orgID, id, StatusRevoked).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return Errorf(KindConflict, "issuer_in_use", "%d client(s) are bound to this trusted issuer: bind them to another issuer or revoke them first", n)
		}
		return tx.Where("org_id = ? AND id = ?", orgID, id).Delete(&TrustedIssuer{}).Error
	})
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	return translate(err, "delete trusted issuer "+id)
}

// lockIssuer checks that the organization's issuer id exists, and on
// PostgreSQL locks its row (mode UPDATE or SHARE) until the transaction
// ends; SQLite's write transactions are serial.
func (s *Store) lockIssuer(tx *gorm.DB, orgID, id, mode string) error {
	lock := ""
	if s.dialect == "postgres" {
		lock = " FOR " + mode
	}
	var found []string
	if err := tx.Raw("SELECT id FROM trusted_issuers WHERE org_id = ? AND id = ?"+lock, orgID, id).Scan(&found).Error; err != nil {
		return err
	}
	if len(found) == 0 {
		return Errorf(KindNotFound, "issuer_not_found", "no trusted issuer %s in this organization", id)
	}
	return nil
}

// SetClientFederation replaces the binding of a federated client; the
// issuer must be one of the client's organization.
func (s *Store) SetClientFederation(ctx context.Context, id string, f Federation) error {
	if f.Conditions == nil {
		f.Conditions = Conditions{}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var orgs []string
		if err := tx.Raw("SELECT org_id FROM clients WHERE id = ? AND auth_method = ?", id, AuthFederated).Scan(&orgs).Error; err != nil {
			return err
		}
		if len(orgs) == 0 {
			return fmt.Errorf("federated client %s: %w", id, ErrNotFound)
		}
		if err := s.lockIssuer(tx, orgs[0], f.IssuerID, "SHARE"); err != nil {
			return err
		}
		return tx.Model(&Client{}).Where("id = ?", id).Updates(map[string]any{
			"federation_issuer_id": f.IssuerID, "federation_subject": f.Subject, "federation_conditions": f.Conditions, "updated_at": s.now(),
		}).Error
	})
	var domain *Error
	if errors.As(err, &domain) || errors.Is(err, ErrNotFound) {
		return err
	}
	return translate(err, "set federation of client "+id)
}
