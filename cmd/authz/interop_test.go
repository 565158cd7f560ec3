package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	e2e, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(e2e, "node_modules", "oauth4webapi", "package.json"))
	}
	if err != nil {
		if os.Getenv("AUTHZ_TEST_INTEROP") != "" {
			t.Fatalf("AUTHZ_TEST_INTEROP is set but node or oauth4webapi is missing (%v): install node and run `npm ci` in e2e/", err)
		}
		t.Skipf("node or oauth4webapi missing (%v): run `npm ci` in e2e/ to run this test", err)
	}
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		c := tlsSetup(t, m)
		ca := newTestCA(t)
		dir := t.TempDir()
		certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.pem")
		certPEM, keyPEM := ca.leaf(t, 1)
		for name, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, caFile: ca.pem} {
			writeFile(t, name, data, time.Now())
		}
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
