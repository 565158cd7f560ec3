package models

import "context"

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
