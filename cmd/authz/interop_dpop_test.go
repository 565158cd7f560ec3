package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models/storetest"
)

// TestOAuth4WebAPIDPoP: oauth4webapi (npm), making its own DPoP proofs,
// gets a DPoP-bound token from a TLS-served authz with --dpop-nonce (after
// the use_dpop_nonce round trip), whose cnf.jkt is the thumbprint of the
// library's key; a proof for the same server under another name (the
// certificate's localhost) is refused (e2e/oauth4webapi-dpop.mjs).
//
// It needs node and `npm ci` in e2e/, as TestOAuth4WebAPIOverTLS.
func TestOAuth4WebAPIDPoP(t *testing.T) {
	node, e2e := oauth4WebAPI(t)
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		c := tlsSetup(t, m)
		ca, certFile, keyFile, caFile := writeTLSPair(t)
		srv := startServe(t, m, "--tls-cert", certFile, "--tls-key", keyFile, "--dpop-nonce")
		issuer := "https://" + strings.TrimPrefix(srv.base, "http://")

		cmd := exec.CommandContext(t.Context(), node, "oauth4webapi-dpop.mjs")
		cmd.Dir = e2e
		cmd.Env = append(os.Environ(), "NODE_TLS_REJECT_UNAUTHORIZED=1", "NODE_EXTRA_CA_CERTS="+caFile,
			"AUTHZ_ISSUER="+issuer, "CLIENT_ID="+c.ClientID, "CLIENT_SECRET="+c.ClientSecret, "SCOPE="+readScope)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("oauth4webapi DPoP: %v\n%s\nserver log:\n%s", err, out, srv.stderr.String())
		}
		var got struct {
			TokenType    string                          `json:"token_type"`
			AccessToken  string                          `json:"access_token"`
			NonceRetried bool                            `json:"nonce_retried"`
			PublicJWK    struct{ Kty, Crv, X, Y string } `json:"public_jwk"`
			WrongURL     string                          `json:"wrong_url_error"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("oauth4webapi output %q: %v", out, err)
		}
		if got.TokenType != "dpop" || !got.NonceRetried || got.WrongURL != "invalid_dpop_proof" {
			t.Errorf("oauth4webapi saw token_type %q, nonce retried %t, a proof for another URL: %q; want dpop, true, invalid_dpop_proof", got.TokenType, got.NonceRetried, got.WrongURL)
		}
		j := got.PublicJWK
		sum := sha256.Sum256([]byte(`{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `","y":"` + j.Y + `"}`))
		v, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: issuer + "/.well-known/jwks.json", Issuer: issuer, Audience: issuer, HTTPClient: tlsHTTPClient(t, ca.Pool)})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := v.Verify(context.Background(), got.AccessToken)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); claims.Cnf == nil || claims.Cnf.JKT != want {
			t.Errorf("cnf %+v, want jkt %s (oauth4webapi's key)", claims.Cnf, want)
		}
	})
}
