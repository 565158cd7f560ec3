package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testtls"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models/storetest"
)

// TestOAuth4WebAPIOverTLS: oauth4webapi (npm), which refuses plain http
// unless told otherwise, discovers a TLS-served authz, obtains a
// client_credentials token and validates it as an RFC 9068 access token,
// with nothing but the generated CA added to node's trust store
// (NODE_EXTRA_CA_CERTS; e2e/oauth4webapi.mjs). Without the CA the same
// script fails: the certificate is really checked.
//
// It needs node and `npm ci` in e2e/; without them it is skipped, unless
// AUTHZ_TEST_INTEROP=1 (as .ci/run sets) makes that a failure.
func TestOAuth4WebAPIOverTLS(t *testing.T) {
	node, e2e := oauth4WebAPI(t)
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		c := tlsSetup(t, m)
		_, certFile, keyFile, caFile := writeTLSPair(t)
		srv := startServe(t, m, "--tls-cert", certFile, "--tls-key", keyFile)
		issuer := "https://" + strings.TrimPrefix(srv.base, "http://")

		script := func(extraEnv ...string) (string, error) {
			cmd := exec.CommandContext(t.Context(), node, "oauth4webapi.mjs")
			cmd.Dir = e2e
			cmd.Env = append(os.Environ(), "NODE_TLS_REJECT_UNAUTHORIZED=1", "NODE_EXTRA_CA_CERTS=",
				"AUTHZ_ISSUER="+issuer, "CLIENT_ID="+c.ClientID, "CLIENT_SECRET="+c.ClientSecret, "SCOPE="+readScope, "AUDIENCE="+issuer) // the default project's audience: the issuer
			cmd.Env = append(cmd.Env, extraEnv...)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}

		out, err := script("NODE_EXTRA_CA_CERTS=" + caFile)
		if err != nil {
			t.Fatalf("oauth4webapi over TLS: %v\n%s\nserver log:\n%s", err, out, srv.stderr.String())
		}
		var got struct {
			Issuer           string `json:"issuer"`
			TokenEndpoint    string `json:"token_endpoint"`
			TokenType        string `json:"token_type"`
			Scope            string `json:"scope"`
			Iss              string `json:"iss"`
			ClientID         string `json:"client_id"`
			PlainHTTPRefused bool   `json:"plain_http_refused"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("oauth4webapi output %q: %v", out, err)
		}
		if got.Issuer != issuer || got.TokenEndpoint != issuer+"/oauth2/token" || got.TokenType != "bearer" || got.Scope != readScope ||
			got.Iss != issuer || got.ClientID != c.ClientID || !got.PlainHTTPRefused {
			t.Errorf("oauth4webapi saw %+v; want issuer and iss %s, a bearer token for %s with scope %s, plain http refused", got, issuer, c.ClientID, readScope)
		}

		if out, err := script(); err == nil || !strings.Contains(out, "certificate") {
			t.Errorf("oauth4webapi without the CA: %v\n%s\nwant a failure naming the certificate", err, out)
		}
	})
}

// TestOAuth4WebAPIPrivateKeyJWT: oauth4webapi (npm) discovers authz,
// finds private_key_jwt advertised, obtains a token with an assertion it
// signs itself for a client registered with `clients create --auth
// private_key_jwt --jwks-file`, and sees the same assertion refused when
// sent again (e2e/oauth4webapi-private-key-jwt.mjs). Skipped without node
// and `npm ci` in e2e/, as TestOAuth4WebAPIOverTLS.
func TestOAuth4WebAPIPrivateKeyJWT(t *testing.T) {
	node, e2e := oauth4WebAPI(t)
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwk, err := verify.PublicJWK("interop-1", "ES256", key.Public())
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		jwksFile, keyFile := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "client.key")
		raw, _ := json.Marshal(verify.JWKS{Keys: []verify.JWK{jwk}})
		writeFile(t, jwksFile, raw, time.Now())
		writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), time.Now())
		var c clientOut
		runJSON(t, m, &c, "clients", "create", "--owner", alice, "--name", "interop", "--scopes", readScope, "--auth", "private_key_jwt", "--jwks-file", jwksFile, "--json")
		srv := startServe(t, m)

		cmd := exec.CommandContext(t.Context(), node, "oauth4webapi-private-key-jwt.mjs")
		cmd.Dir = e2e
		cmd.Env = append(os.Environ(), "AUTHZ_ISSUER="+srv.base, "CLIENT_ID="+c.ClientID, "KEY_FILE="+keyFile, "KID=interop-1", "SCOPE="+readScope)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("oauth4webapi private_key_jwt: %v\n%s\nserver log:\n%s", err, out, srv.stderr.String())
		}
		var got struct {
			AuthMethods       []string `json:"auth_methods"`
			SigningAlgs       []string `json:"signing_algs"`
			TokenType         string   `json:"token_type"`
			Scope             string   `json:"scope"`
			AssertionSent     string   `json:"assertion_sent"`
			ReplayStatus      int      `json:"replay_status"`
			ReplayError       string   `json:"replay_error"`
			ReplayDescription string   `json:"replay_description"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("oauth4webapi output %q: %v", out, err)
		}
		if !slices.Contains(got.AuthMethods, "private_key_jwt") || !slices.Contains(got.SigningAlgs, "ES256") ||
			got.TokenType != "bearer" || got.Scope != readScope || got.AssertionSent != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			t.Errorf("oauth4webapi saw %+v; want private_key_jwt and ES256 advertised, a bearer token with scope %s", got, readScope)
		}
		if got.ReplayStatus != 401 || got.ReplayError != "invalid_client" || !strings.Contains(got.ReplayDescription, "used before") {
			t.Errorf("the replayed assertion: %d %s %q; want 401 invalid_client, used before", got.ReplayStatus, got.ReplayError, got.ReplayDescription)
		}
	})
}

// oauth4WebAPI returns node's path and the e2e directory holding
// oauth4webapi (npm ci there). Without them the test is skipped, unless
// AUTHZ_TEST_INTEROP is set (as .ci/run does), which makes it a failure.
func oauth4WebAPI(t *testing.T) (node, e2e string) {
	t.Helper()
	e2e, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	node, err = exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(e2e, "node_modules", "oauth4webapi", "package.json"))
	}
	if err != nil {
		if os.Getenv("AUTHZ_TEST_INTEROP") != "" {
			t.Fatalf("AUTHZ_TEST_INTEROP is set but node or oauth4webapi is missing (%v): install node and run `npm ci` in e2e/", err)
		}
		t.Skipf("node or oauth4webapi missing (%v): run `npm ci` in e2e/ to run this test", err)
	}
	return node, e2e
}

// writeTLSPair writes a certificate for localhost and 127.0.0.1 signed by
// a new test CA, its key and the CA's certificate, and returns the CA and
// the three paths.
func writeTLSPair(t *testing.T) (ca *testtls.CA, certFile, keyFile, caFile string) {
	t.Helper()
	ca = testtls.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile, caFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.PEM")
	certPEM, keyPEM := ca.Leaf(t, 1)
	for name, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, caFile: ca.PEM} {
		writeFile(t, name, data, time.Now())
	}
	return ca, certFile, keyFile, caFile
}
