package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// SigningKeys returns every stored signing key, oldest generation first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var keys []SigningKey
	err := s.db.WithContext(ctx).Order("generation").Find(&keys).Error
	return keys, translate(err, "list signing keys")
}

// CreateSigningKey inserts a key. A key of the same generation written by
// another instance first makes this fail with ErrConflict.
func (s *Store) CreateSigningKey(ctx context.Context, k *SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	return translate(s.db.WithContext(ctx).Create(k).Error, "create signing key")
}

// errNotApplied rolls back a transaction whose conditional update found its
// row already changed by someone else.
var errNotApplied = errors.New("not applied")

// PromoteSigningKey makes the next key kid the active one and retires the
// previously active key, in one transaction, at time at. It reports false,
// changing nothing, when kid is no longer a next key (another instance
// promoted it first, or it is gone). Readers never see zero or two active
// keys: both updates commit together.
//
// Concurrent promoters serialize on the row of kid: on PostgreSQL the second
// UPDATE waits for the first transaction and then finds the state changed;
// SQLite transactions take the write lock at BEGIN. Distributed engines
// running SERIALIZABLE may instead abort the loser with a retryable error,
// which is reported as an error; the caller retries on its next tick.
func (s *Store) PromoteSigningKey(ctx context.Context, kid string, at time.Time) (bool, error) {
	at = at.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec("UPDATE signing_keys SET state = ?, activated_at = ? WHERE kid = ? AND state = ?", KeyActive, at, kid, KeyNext)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errNotApplied
		}
		return tx.Exec("UPDATE signing_keys SET state = ?, retired_at = ? WHERE state = ? AND kid <> ?", KeyRetired, at, KeyActive, kid).Error
	})
	if errors.Is(err, errNotApplied) {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "promote signing key")
	}
	return true, nil
}

// DeleteRetiredSigningKey removes kid if it is retired and was retired at
// or before retiredBefore. It reports whether a row was deleted; an active
// or next key is never deleted.
func (s *Store) DeleteRetiredSigningKey(ctx context.Context, kid string, retiredBefore time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM signing_keys WHERE kid = ? AND state = ? AND retired_at IS NOT NULL AND retired_at <= ?",
		kid, KeyRetired, retiredBefore.UTC())
	if res.Error != nil {
		return false, translate(res.Error, "delete signing key")
	}
	return res.RowsAffected == 1, nil
}

// UpdateSigningKeyEnc replaces the sealed private key of kid with sealed if
// it is still old (compare-and-swap), and reports whether it did. Concurrent
// re-encryptions of the same key therefore never overwrite one another.
func (s *Store) UpdateSigningKeyEnc(ctx context.Context, kid string, old, sealed []byte) (bool, error) {
	res := s.db.WithContext(ctx).Exec("UPDATE signing_keys SET private_key_enc = ? WHERE kid = ? AND private_key_enc = ?", sealed, kid, old)
	if res.Error != nil {
		return false, translate(res.Error, "update signing key")
	}
	return res.RowsAffected == 1, nil
}
