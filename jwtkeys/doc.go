// Package jwtkeys generates, encrypts, rotates and publishes signing keys and
// mints RFC 9068 access tokens. Resource servers verify the tokens with
// package [github.com/authz/authz/jwtkeys/verify], which this package uses
// for the JWK types and its own checks and which does not import it back.
package jwtkeys
