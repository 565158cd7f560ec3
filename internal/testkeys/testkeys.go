// Package testkeys gives tests the key material of a server: a Hasher under
// a fixed pepper and a loaded ES256 Keyring. Only external test packages
// (oauth_test, web_test) may use it: it imports oauth.
package testkeys

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

// New returns a Hasher under a fixed pepper and a loaded ES256 Keyring on
// store.
func New(tb testing.TB, store *models.Store, issuer string) (*oauth.Hasher, *jwtkeys.Keyring) {
	tb.Helper()
	hasher, err := oauth.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	kek, err := jwtkeys.ParseKEK(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32))))
	if err != nil {
		tb.Fatal(err)
	}
	keyring, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{KEK: kek, Issuer: issuer})
	if err != nil {
		tb.Fatal(err)
	}
	if err := keyring.Load(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return hasher, keyring
}
