//go:build authzbench

package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestBenchBuild drives what bench/load.sh does with an authzbench build:
// seed, serve, and the three endpoints it measures.
func TestBenchBuild(t *testing.T) {
	m := newMain(t, storetest.URL(t, "sqlite"))
	creds := filepath.Join(t.TempDir(), "creds.txt")
	out := run(t, m, "bench-seed", "--clients", "25", "--orgs", "3", "--creds-file", creds, "--creds-count", "5")
	if !strings.Contains(out, "seeded 25 clients (5 owners, 3 organizations)") {
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
