//go:build authzbench

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestBenchBuild drives what bench/load.sh does with an authzbench build:
// seed, serve, and the endpoints it measures, the signed requests of
// bench-requests among them.
func TestBenchBuild(t *testing.T) {
	m := newMain(t, storetest.URL(t, "sqlite"))
	dir := t.TempDir()
	creds, keys := filepath.Join(dir, "creds.txt"), filepath.Join(dir, "keys")
	out := run(t, m, "bench-seed", "--clients", "25", "--orgs", "3", "--creds-file", creds, "--creds-count", "5", "--key-clients", "3", "--keys-dir", keys)
	if !strings.Contains(out, "seeded 25 clients (5 owners, 3 organizations)") || !strings.Contains(out, "seeded 3 private_key_jwt clients per algorithm (ES256, RS256)") {
		t.Errorf("bench-seed output: %q", out)
	}
	body, err := os.ReadFile(creds)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 5 {
		t.Fatalf("creds file: got %d lines, want 5", len(lines))
	}
	s := startServe(t, m, "--rate-limit", "1e9")
	// The credentials are of clients of every organization (owner i is
	// of organization i/2): each one's token endpoint answers.
	orgs := map[string]bool{}
	for _, line := range lines {
		id, secret, _ := strings.Cut(line, " ")
		status, orgID := postToken(t, s.base+"/oauth2/token", id, secret)
		if status != http.StatusOK {
			t.Errorf("POST /oauth2/token as %s: got %d, want 200", id, status)
		}
		orgs[orgID] = true
	}
	if len(orgs) != 3 {
		t.Errorf("the credentials' tokens are of organizations %v, want 3 of them", orgs)
	}
	id, secret, _ := strings.Cut(lines[len(lines)-1], " ")
	for _, path := range []string{"/bench/fixed", "/bench/sign"} {
		req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader("grant_type=client_credentials&scope=analysis%3Aread"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("POST %s: got %d, want 200", path, resp.StatusCode)
		}
	}

	// bench-requests: each signed request, as bench/token.lua sends it,
	// gets a token once; sent again it is refused.
	for _, tc := range []struct {
		name      string
		args      []string
		tokenType string
	}{
		{"private_key_jwt ES256", []string{"--kind", "private_key_jwt", "--alg", "ES256", "--keys-dir", keys}, "Bearer"},
		{"private_key_jwt RS256", []string{"--kind", "private_key_jwt", "--alg", "RS256", "--keys-dir", keys}, "Bearer"},
		{"dpop", []string{"--kind", "dpop", "--creds-file", creds}, "DPoP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := filepath.Join(t.TempDir(), "requests")
			out := run(t, m, append([]string{"bench-requests", "--issuer", s.base, "--count", "7", "--split", "2", "--out", prefix}, tc.args...)...)
			if !strings.Contains(out, "wrote 7 ") || !strings.Contains(out, "\nfresh-until ") {
				t.Errorf("bench-requests output: %q", out)
			}
			var lines []string
			for i, want := range []int{4, 3} { // round-robin over the two files
				body, err := os.ReadFile(fmt.Sprintf("%s.%d", prefix, i))
				if err != nil {
					t.Fatal(err)
				}
				got := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
				if len(got) != want {
					t.Fatalf("%s.%d: %d lines, want %d", prefix, i, len(got), want)
				}
				lines = append(lines, got...)
			}
			for _, line := range lines {
				if status, typ := postSigned(t, s.base+"/oauth2/token", line); status != http.StatusOK || typ != tc.tokenType {
					t.Errorf("POST /oauth2/token: got %d %q, want 200 %q", status, typ, tc.tokenType)
				}
			}
			if status, _ := postSigned(t, s.base+"/oauth2/token", lines[0]); status < 400 || status > 401 {
				t.Errorf("the same request again: got %d, want 400 or 401 (a replay)", status)
			}
		})
	}
}

// postSigned sends one line of bench-requests' output as bench/token.lua
// does and returns the status and the token_type.
func postSigned(t *testing.T, url, line string) (status int, tokenType string) {
	t.Helper()
	fields := strings.Split(line, "\t")
	if len(fields) != 3 {
		t.Fatalf("line %q: want body, authorization and dpop separated by tabs", line)
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(fields[0]))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if fields[1] != "" {
		req.Header.Set("Authorization", fields[1])
	}
	if fields[2] != "" {
		req.Header.Set("DPoP", fields[2])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		TokenType string `json:"token_type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.TokenType
}

func postToken(t *testing.T, url, id, secret string) (status int, orgID string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("grant_type=client_credentials&scope=analysis%3Aread"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	parts := strings.Split(body.AccessToken, ".")
	var claims struct {
		OrgID string `json:"org_id"`
	}
	if len(parts) != 3 {
		t.Fatalf("access token %q is not a JWT", body.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		t.Fatalf("access token payload %q: %v", parts[1], err)
	}
	return resp.StatusCode, claims.OrgID
}
