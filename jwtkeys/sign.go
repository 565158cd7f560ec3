package jwtkeys

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/golang-jwt/jwt/v5"
)

// This file is the signing of access tokens with the keyring's active key:
// [Keyring.Mint] for an RFC 9068 token, [Keyring.Sign] for given claims.

// AccessToken is what an RFC 9068 access token says; Mint turns it into
// claims.
type AccessToken struct {
	Issuer    string
	ClientID  string // also the subject
	OwnerID   string
	OrgID     string
	ProjectID string // empty: the token names no project, and has no project_id
	Audience  string
	Scope     string
	IssuedAt  time.Time
	TTL       time.Duration
	// JKT, when set, binds the token to a DPoP key: the RFC 7638
	// thumbprint that becomes cnf.jkt (RFC 9449 §6.1).
	JKT string
}

// Mint signs an RFC 9068 access token with the active key: header typ
// at+jwt and kid; claims iss, sub, aud, exp, iat, nbf, jti, client_id,
// scope, owner_id, and org_id, project_id and cnf unless empty.
func (k *Keyring) Mint(t AccessToken) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	iat := t.IssuedAt.Truncate(time.Second)
	var cnf *verify.Confirmation
	if t.JKT != "" {
		cnf = &verify.Confirmation{JKT: t.JKT}
	}
	return k.Sign(&verify.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.Issuer,
			Subject:   t.ClientID,
			Audience:  jwt.ClaimStrings{t.Audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(t.TTL)),
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		ClientID:  t.ClientID,
		Scope:     t.Scope,
		OwnerID:   t.OwnerID,
		OrgID:     t.OrgID,
		ProjectID: t.ProjectID,
		Cnf:       cnf,
	})
}

// Sign signs claims with the active key as an RFC 9068 access token.
//
// Sign refuses a token that would outlive what the rotation schedule keeps
// its key published for (RotationConfig.MaxTokenTTL), and, once Run has
// started, signing with keys not reloaded from the store within
// RotationConfig.MaxStale (ErrStaleKeys): the key might have been retired
// and removed meanwhile.
func (k *Keyring) Sign(claims *verify.Claims) (string, error) {
	k.mu.RLock()
	s := k.active
	k.mu.RUnlock()
	if err := k.Ready(); err != nil {
		return "", err
	}
	if claims.ExpiresAt != nil {
		from := k.now()
		if claims.IssuedAt != nil {
			from = claims.IssuedAt.Time
		}
		if life := claims.ExpiresAt.Sub(from); life > k.rot.MaxTokenTTL {
			return "", fmt.Errorf("keyring: token lifetime %s exceeds the rotation schedule's MaxTokenTTL %s", life, k.rot.MaxTokenTTL)
		}
	}
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["typ"] = verify.TokenType
	tok.Header["kid"] = s.kid
	return tok.SignedString(s.key)
}
