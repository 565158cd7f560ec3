package jwtkeys_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models/storetest"
)

// The tenancy claims a token carries reach a resource server verifying it
// offline; a token that names no project has no project_id member.
func TestMintTenancyClaims(t *testing.T) {
	kr := newKeyring(t, storetest.Open(t, "sqlite"), jwtkeys.ES256, mustKEK(t, rawKEK(t)))
	if err := kr.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	var set verify.JWKS
	if err := json.Unmarshal(kr.JWKSJSON(), &set); err != nil {
		t.Fatal(err)
	}
	iat := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	v, err := verify.NewStaticVerifier(set, testIssuer, testAudience, 0, func() time.Time { return iat })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, orgID, projectID string
		wantMembers            []string // of org_id and project_id
	}{
		{"organization and project", "org-1", "project-1", []string{"org_id", "project_id"}},
		{"no project", "org-1", "", []string{"org_id"}},
		{"neither", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := kr.Mint(jwtkeys.AccessToken{
				Issuer: testIssuer, ClientID: "client-1", OwnerID: "owner-1", OrgID: tc.orgID, ProjectID: tc.projectID,
				Audience: testAudience, Scope: "a:read", IssuedAt: iat, TTL: 5 * time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.OrgID != tc.orgID || c.ProjectID != tc.projectID {
				t.Errorf("claims org_id, project_id: got %q, %q; want %q, %q", c.OrgID, c.ProjectID, tc.orgID, tc.projectID)
			}
			var payload map[string]any
			if err := json.Unmarshal(b64(t, strings.Split(token, ".")[1]), &payload); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range []string{"org_id", "project_id"} {
				if _, ok := payload[m]; ok {
					got = append(got, m)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.wantMembers, " ") {
				t.Errorf("tenancy members in the token: got %v, want %v (payload %v)", got, tc.wantMembers, payload)
			}
		})
	}
}
