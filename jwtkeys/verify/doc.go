// Package verify is what a resource server imports to accept authz access
// tokens: RFC 9068 token verification against the issuer's JWKS (fetched
// and cached) or by RFC 7662 introspection, net/http middleware with RFC
// 6750 answers, and the JWK types the issuer publishes.
//
// It imports no other package of this module and no database driver: a
// resource server that imports it links none of the authorization server.
package verify
