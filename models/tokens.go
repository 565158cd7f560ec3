package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm/clause"
)

// RevokedToken is the jti of a revoked access token, kept until the token
// would have expired anyway.
type RevokedToken struct {
	JTI       string `gorm:"column:jti;primaryKey"`
	ClientID  string
	ExpiresAt time.Time
}

// RevokeToken records a revoked jti; revoking twice is not an error.
func (s *Store) RevokeToken(ctx context.Context, t RevokedToken) error {
	t.ExpiresAt = t.ExpiresAt.UTC()
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error
	return translate(err, "revoke token")
}

// TokenRevoked reports whether a jti was revoked.
func (s *Store) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	var t RevokedToken
	err := s.db.WithContext(ctx).Where("jti = ?", jti).Take(&t).Error
	if err != nil {
		if errors.Is(translate(err, ""), ErrNotFound) {
			return false, nil
		}
		return false, translate(err, "read revoked token")
	}
	return true, nil
}

// DeleteExpiredRevocations removes revocations of tokens that have expired
// (plus leeway) and returns how many.
func (s *Store) DeleteExpiredRevocations(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", before.UTC()).Delete(&RevokedToken{})
	return res.RowsAffected, translate(res.Error, "delete expired revocations")
}
