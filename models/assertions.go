package models

import (
	"context"
	"time"
)

// Client authentication methods (RFC 7591 token_endpoint_auth_method).
// A client with AuthSecret, or no method at all (rows of before), holds
// secrets and may send them with Basic or in the body.
const (
	AuthSecret        = "client_secret_basic"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// UsesKeys reports whether the client authenticates with public keys
// (private_key_jwt) rather than a secret.
func (c *Client) UsesKeys() bool { return c.AuthMethod == AuthPrivateKeyJWT }

// UseAssertionID records that client clientID used the assertion id jti,
// valid until expires, and reports whether it was the first use: false when
// a row for the same (clientID, jti) is still valid at now. The unique key
// makes this hold across every instance on the database; an expired row
// left before the janitor's next round is taken over.
func (s *Store) UseAssertionID(ctx context.Context, clientID, jti string, expires, now time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Exec(`INSERT INTO assertion_jtis (client_id, jti, expires_at) VALUES (?, ?, ?)
ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE assertion_jtis.expires_at <= ?`,
		clientID, jti, expires.UTC(), now.UTC())
	if res.Error != nil {
		return false, translate(res.Error, "record assertion id")
	}
	return res.RowsAffected == 1, nil
}

// DeleteExpiredAssertionIDs removes assertion ids that expired before
// before and returns how many.
func (s *Store) DeleteExpiredAssertionIDs(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Exec("DELETE FROM assertion_jtis WHERE expires_at < ?", before.UTC())
	return res.RowsAffected, translate(res.Error, "delete expired assertion ids")
}
