package models

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// Replay kinds: what a recorded key is the id of.
const (
	// ReplayDPoP is a DPoP proof accepted by the token endpoint (RFC 9449
	// §11.1); its key is the hash of the proof's key thumbprint and jti.
	ReplayDPoP = "dpop"
	// ReplayAssertion is a client assertion (private_key_jwt, RFC 7523)
	// accepted by the token endpoint; its key is the client_id, a colon
	// and the assertion's jti.
	ReplayAssertion = "assertion"
)

// Replay is a one-time value seen by some instance, kept until it could no
// longer be accepted anyway, so that every instance refuses it a second
// time. Kind names what the key is the id of.
type Replay struct {
	Kind      string `gorm:"primaryKey"`
	Key       string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

// RecordReplay records key of kind until expires and reports whether it was
// new: false means it had been recorded already (a replay), by this
// instance or another. The unique (kind, key) decides, so two instances
// racing with the same key get one true.
func (s *Store) RecordReplay(ctx context.Context, kind, key string, expires time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&Replay{Kind: kind, Key: key, ExpiresAt: expires.UTC()})
	if res.Error != nil {
		return false, translate(res.Error, "record "+kind+" replay key")
	}
	return res.RowsAffected == 1, nil
}

// DeleteExpiredReplays removes replay keys that expired before and returns
// how many.
func (s *Store) DeleteExpiredReplays(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", before.UTC()).Delete(&Replay{})
	return res.RowsAffected, translate(res.Error, "delete expired replay keys")
}
