package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testtls"
	"github.com/authz/authz/models/storetest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// writeFile writes data and stamps the file with mtime, so that a rewrite
// is seen as a change whatever the file system's clock granularity.
func writeFile(t *testing.T, name string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(name, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// peerSerial makes one TLS handshake with addr and returns the serial
// number of the certificate the server presented.
func peerSerial(t *testing.T, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// tlsHTTPClient trusts only pool.
func tlsHTTPClient(t *testing.T, pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 15 * time.Second, Transport: tr}
}

// signInCookie signs email in at base and returns the session cookie's
// Set-Cookie header.
func signInCookie(t *testing.T, hc *http.Client, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := hc.Post(base+"/admin/api/v1/session", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("sign-in: status %d", resp.StatusCode)
	}
	for _, h := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "authz_session=") {
			return h
		}
	}
	t.Fatalf("sign-in: no authz_session cookie in %v", resp.Header.Values("Set-Cookie"))
	return ""
}

// secureAttr reports whether a Set-Cookie header has the Secure attribute.
func secureAttr(setCookie string) bool {
	for _, attr := range strings.Split(setCookie, ";") {
		if strings.EqualFold(strings.TrimSpace(attr), "Secure") {
			return true
		}
	}
	return false
}

const tlsAdmin, tlsAdminPassword = "root@example.com", "a long enough admin password for TLS"

// tlsSetup migrates m's database and creates Alice, a client of hers and an
// admin with a password.
func tlsSetup(t *testing.T, m *Main) clientOut {
	t.Helper()
	run(t, m, "migrate")
	run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
	run(t, m, "users", "create", "--email", tlsAdmin, "--name", "Root", "--role", "admin")
	withPassword := *m
	withPassword.Stdin = strings.NewReader(tlsAdminPassword + "\n")
	run(t, &withPassword, "users", "set-password", tlsAdmin)
	return createClient(t, m, alice, "ci", readScope)
}

// TestServeTLS serves HTTPS from a generated certificate: discovery names
// https endpoints, a standard client gets a token whose iss is the https
// issuer, TLS below 1.2 and plain HTTP are refused, the admin cookie is
// Secure, and a new pair written over the files is served from the next
// handshake on, while a pair that does not load keeps the one in use.
func TestServeTLS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		c := tlsSetup(t, m)
		ca := testtls.NewCA(t)
		dir := t.TempDir()
		certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
		certPEM, keyPEM := ca.Leaf(t, 1001)
		mtime := time.Now().Add(-time.Hour)
		writeFile(t, certFile, certPEM, mtime)
		writeFile(t, keyFile, keyPEM, mtime)

		srv := startServe(t, m, "--tls-cert", certFile, "--tls-key", keyFile)
		addr := strings.TrimPrefix(srv.base, "http://")
		base := "https://" + addr
		hc := tlsHTTPClient(t, ca.Pool)

		resp, err := hc.Get(base + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatalf("discovery over HTTPS: %v\nserver log:\n%s", err, srv.stderr.String())
		}
		var meta struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
			JWKSURI       string `json:"jwks_uri"`
		}
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || meta.Issuer != base || meta.TokenEndpoint != base+"/oauth2/token" || meta.JWKSURI != base+"/.well-known/jwks.json" {
			t.Errorf("discovery: %+v (%v), want issuer %s and its https endpoints", meta, err, base)
		}

		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, hc)
		cc := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: meta.TokenEndpoint, Scopes: []string{readScope}, AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("token over HTTPS: %v\nserver log:\n%s", err, srv.stderr.String())
		}
		parts := strings.Split(tok.AccessToken, ".")
		var claims struct {
			Iss string `json:"iss"`
		}
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(payload, &claims) != nil || claims.Iss != base {
			t.Errorf("token iss %q, want %s", claims.Iss, base)
		}

		if conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS11}); err == nil {
			conn.Close()
			t.Error("a TLS 1.1 handshake succeeded; want TLS 1.2 at least")
		}
		if resp, err := http.Get(srv.base + "/readyz"); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %v %v, want 400", resp, err)
		} else {
			resp.Body.Close()
		}
		if ck := signInCookie(t, hc, base, tlsAdmin, tlsAdminPassword); !secureAttr(ck) {
			t.Errorf("admin cookie over HTTPS without Secure: %s", ck)
		}

		// Reload: a new pair is served from the next handshake on.
		if got := peerSerial(t, addr, ca.Pool); got != 1001 {
			t.Fatalf("serial %d, want 1001", got)
		}
		certPEM, keyPEM = ca.Leaf(t, 1002)
		mtime = mtime.Add(time.Minute)
		writeFile(t, certFile, certPEM, mtime)
		writeFile(t, keyFile, keyPEM, mtime)
		if got := peerSerial(t, addr, ca.Pool); got != 1002 {
			t.Fatalf("after writing a new pair: serial %d, want 1002\nserver log:\n%s", got, srv.stderr.String())
		}

		// Half a pair (the new certificate beside the old key) does not
		// load: the pair in use stays, and the error is logged.
		certPEM, keyPEM = ca.Leaf(t, 1003)
		mtime = mtime.Add(time.Minute)
		writeFile(t, certFile, certPEM, mtime)
		if got := peerSerial(t, addr, ca.Pool); got != 1002 {
			t.Fatalf("after writing a certificate without its key: serial %d, want 1002 kept", got)
		}
		if log := srv.stderr.String(); !strings.Contains(log, `"level":"ERROR","msg":"TLS: the changed certificate and key do not load; keeping the certificate in use"`) {
			t.Errorf("no error logged for a pair that does not load:\n%s", log)
		}
		if _, err := cc.Token(ctx); err != nil {
			t.Errorf("token while a bad pair is on disk: %v", err)
		}
		writeFile(t, keyFile, keyPEM, mtime.Add(time.Minute))
		if got := peerSerial(t, addr, ca.Pool); got != 1003 {
			t.Fatalf("after writing the key too: serial %d, want 1003\nserver log:\n%s", got, srv.stderr.String())
		}
		if err := srv.stop(t); err != nil {
			t.Fatal(err)
		}
	})
}

// TestServeTLSStartErrors: a pair that cannot serve is a startup error
// that names it, as are half a pair and an http:// issuer under TLS.
func TestServeTLSStartErrors(t *testing.T) {
	m := newMain(t, storetest.URL(t, "sqlite"))
	run(t, m, "migrate")
	ca := testtls.NewCA(t)
	dir := t.TempDir()
	certFile, keyFile, otherKey := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "other.key")
	certPEM, keyPEM := ca.Leaf(t, 1)
	_, otherPEM := ca.Leaf(t, 2)
	for name, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, otherKey: otherPEM} {
		writeFile(t, name, data, time.Now())
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--tls-cert", certFile, "--tls-key", otherKey}, []string{"TLS certificate " + certFile, "private key does not match public key"}},
		{[]string{"--tls-cert", filepath.Join(dir, "missing.crt"), "--tls-key", keyFile}, []string{"missing.crt", "no such file"}},
		{[]string{"--tls-cert", keyFile, "--tls-key", keyFile}, []string{"TLS certificate " + keyFile}},
		{[]string{"--tls-cert", certFile}, []string{"--tls-cert and --tls-key: give both"}},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--issuer", "http://auth.example.com"}, []string{"--issuer", "https://"}},
	} {
		_, _, err := invoke(t, m, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("serve %s: error %v, want one mentioning %q", strings.Join(tc.args, " "), err, w)
			}
		}
	}
	// The same pair from the environment.
	fromEnv := withEnv(m, map[string]string{"AUTHZ_TLS_CERT": certFile, "AUTHZ_TLS_KEY": otherKey})
	if _, _, err := invoke(t, fromEnv, "serve", "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Errorf("AUTHZ_TLS_CERT and AUTHZ_TLS_KEY of different pairs: error %v", err)
	}
}

// TestServeRefusesPlainHTTPBeyondLoopback: plain HTTP under an http://
// issuer on an address beyond loopback is refused, saying what to do,
// unless --insecure-http (or AUTHZ_INSECURE_HTTP=true) says so on purpose;
// an https:// issuer (a TLS-terminating proxy in front) starts, and its
// admin cookie is Secure although serve itself speaks plain HTTP.
func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	m := newMain(t, storetest.URL(t, "sqlite"))
	tlsSetup(t, m)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "authz.internal:0"} {
		_, _, err := invoke(t, m, "serve", "--addr", addr)
		for _, w := range []string{"--addr \"" + addr + "\" listens beyond this machine", "--tls-cert FILE --tls-key FILE", "--issuer to its public https:// URL", "--insecure-http (env AUTHZ_INSECURE_HTTP=true)"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("serve --addr %s: error %v, want one saying %q", addr, err, w)
			}
		}
	}
	if _, _, err := invoke(t, withEnv(m, map[string]string{"AUTHZ_INSECURE_HTTP": "yes please"}), "serve", "--addr", "0.0.0.0:0"); err == nil || !strings.Contains(err.Error(), `AUTHZ_INSECURE_HTTP="yes please": want true or false`) {
		t.Errorf("AUTHZ_INSECURE_HTTP=yes please: error %v", err)
	}

	for _, tc := range []struct {
		name       string
		m          *Main
		args       []string
		wantSecure bool
	}{
		{"--insecure-http", m, []string{"--addr", "0.0.0.0:0", "--insecure-http"}, false},
		{"AUTHZ_INSECURE_HTTP=true", withEnv(m, map[string]string{"AUTHZ_INSECURE_HTTP": "true"}), []string{"--addr", "0.0.0.0:0"}, false},
		{"https issuer behind a proxy", m, []string{"--addr", "0.0.0.0:0", "--issuer", "https://auth.example.com"}, true},
		{"loopback", m, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServe(t, tc.m, tc.args...)
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.base, "http://"))
			base := "http://127.0.0.1:" + port
			ck := signInCookie(t, &http.Client{Timeout: 15 * time.Second}, base, tlsAdmin, tlsAdminPassword)
			if secureAttr(ck) != tc.wantSecure {
				t.Errorf("admin cookie %q: Secure %v, want %v", ck, secureAttr(ck), tc.wantSecure)
			}
			if err := srv.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.8.9.10:1": true, "[::1]:8080": true, "localhost:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "authz.example.com:443": false, "nonsense": false,
	} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
