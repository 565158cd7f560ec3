// Package oauth is the OAuth 2.0 protocol of authz: the client-credentials
// token flow on go-oauth2, introspection and revocation, client
// authentication, rate limits, the client secret format and its hashing, and
// RFC 6749 error values.
package oauth
