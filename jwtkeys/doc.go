// Package jwtkeys generates, encrypts and publishes signing keys, mints RFC 9068
// access tokens, and verifies them for resource servers.
package jwtkeys
