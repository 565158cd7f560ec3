package verify

import "github.com/golang-jwt/jwt/v5"

// TokenType is the JOSE "typ" header of an RFC 9068 access token.
const TokenType = "at+jwt"

// Claims are the claims of an RFC 9068 JWT access token issued by authz.
//
// Registered claims: iss, sub (= client_id), aud, exp, iat, nbf, jti.
type Claims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	// Scope is the space-separated list of granted permissions (RFC 9068 §2.2.3).
	Scope string `json:"scope,omitempty"`
	// OwnerID is the id of the user who owns the client; the permissions in
	// Scope are a subset of that user's permissions at issue time.
	OwnerID string `json:"owner_id"`
	// OrgID is the id of the organization (the tenant) the client belongs
	// to.
	OrgID string `json:"org_id,omitempty"`
	// ProjectID is the id of the project the token is for, whose resource
	// URI is its aud; empty when the token names no project.
	ProjectID string `json:"project_id,omitempty"`
	// Cnf binds a DPoP token to its client's key (RFC 9449 §6.1): such a
	// token is accepted only with a DPoP proof signed by that key. Nil for
	// a bearer token.
	Cnf *Confirmation `json:"cnf,omitempty"`
}
