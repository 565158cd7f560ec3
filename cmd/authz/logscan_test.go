package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestNoSecretInLogs runs a full session at debug log level, with every
// kind of mistake a caller makes with secrets, and scans every log line
// the processes wrote for secrets, tokens, passwords and key material.
func TestNoSecretInLogs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		var logs strings.Builder
		runLogged := func(stdin string, args ...string) string {
			t.Helper()
			c := *m
			c.Stdin = strings.NewReader(stdin)
			stdout, stderr, err := invoke(t, &c, args...)
			if err != nil {
				t.Fatalf("authz %s: %v\n%s", strings.Join(args, " "), err, stderr)
			}
			logs.WriteString(stderr)
			return stdout
		}
		const password = "correct horse battery staple"
		runLogged("", "migrate")
		runLogged("", "users", "create", "--email", "root@example.com", "--name", "Root", "--role", "admin", "--permissions", readScope)
		runLogged(password+"\n", "users", "set-password", "root@example.com")
		c := createClient(t, m, "root@example.com", "ci", readScope)
		const legacySecret = "legacy-secret-with-enough-length"
		runLogged(legacySecret+"\n", "clients", "import", "--client-id", "legacy-client-1", "--owner", "root@example.com", "--name", "old", "--scopes", readScope)

		srv := startServe(t, m, "--log-level", "debug", "--oauth-log-level", "debug")
		tok := srv.mustToken(t, c.ClientID, c.ClientSecret, readScope)
		srv.mustToken(t, "legacy-client-1", legacySecret, readScope)
		post := func(path string, body url.Values, header http.Header) *http.Response {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.base+path, strings.NewReader(body.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp
		}
		basicAuth := func(id, secret string) http.Header {
			return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))}}
		}
		cc := url.Values{"grant_type": {"client_credentials"}}
		post("/oauth2/token", cc, basicAuth(c.ClientID, c.ClientSecret+"x"))                                                                                                         // wrong secret
		post("/oauth2/token", cc, basicAuth(c.ClientSecret, c.ClientID))                                                                                                             // swapped
		post("/oauth2/token?client_secret="+url.QueryEscape(c.ClientSecret), cc, nil)                                                                                                // secret in the query
		post("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {c.ClientSecret}}, basicAuth(c.ClientID, c.ClientSecret)) // both methods
		post("/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, basicAuth(c.ClientID, c.ClientSecret))
		post("/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, basicAuth(c.ClientID, c.ClientSecret))
		for _, pw := range []string{password, password + "!"} {
			body, _ := json.Marshal(map[string]string{"email": "root@example.com", "password": pw})
			req, _ := http.NewRequest("POST", srv.base+"/admin/api/v1/session", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		if err := srv.stop(t); err != nil {
			t.Fatal(err)
		}
		logs.WriteString(srv.stderr.String())

		all := logs.String()
		if !strings.Contains(all, `"path":"/oauth2/token"`) || !strings.Contains(all, `"msg":"request"`) {
			t.Fatalf("the scan saw no request log lines; logs:\n%s", all)
		}
		sig := tok.AccessToken[strings.LastIndex(tok.AccessToken, ".")+1:]
		secrets := map[string]string{
			"client secret": c.ClientSecret, "client secret body": strings.TrimPrefix(c.ClientSecret, "azs_")[:20],
			"legacy secret": legacySecret, "access token": tok.AccessToken, "token signature": sig,
			"admin password": password, "KEK": m.Getenv("AUTHZ_KEK"), "pepper": m.Getenv("AUTHZ_PEPPER"),
		}
		for what, s := range secrets {
			if s != "" && strings.Contains(all, s) {
				t.Errorf("a log line holds the %s", what)
			}
		}
	})
}
