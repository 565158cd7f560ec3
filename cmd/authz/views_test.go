package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CI pipeline", "CI pipeline"},
		{"Zahlungsläufe – nächtlich 日本語", "Zahlungsläufe – nächtlich 日本語"},
		{"👩‍💻 team", "👩‍💻 team"},
		{`back\slash`, `back\slash`},
		{"", ""},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"row\r\nforged", `row\r\nforged`},
		{"tab\tbell\a", `tab\tbell\a`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"c1\u009b31m next\u0085", `c1\u009b31m next\u0085`},
		{"abc\u202egpj.exe", `abc\u202egpj.exe`},
		{"iso\u2066late\u2069 sep\u2028", `iso\u2066late\u2069 sep\u2028`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad\xffutf8\xe2\x80", `bad\xffutf8\xe2\x80`},
		{"literal \ufffd stays", "literal \ufffd stays"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := escape(tc.in); got != tc.want {
				t.Errorf("escape(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// hostile is text an attacker can get into the database: a client_id or
// email sent to the token endpoint or the sign-in form (audit log), a user
// agent (last use), or a client name stored before names were checked. On
// a terminal it would clear the screen, forge a row and reverse text.
const hostile = "x\x1b[2J\x1b[H\r\n2030-01-01T00:00:00Z  cli  client.revoked\tforged\u202eabc\u009b31m\x7f\a"

// TestCLIEscapesOutput puts hostile text in every field the CLI shows and
// checks that no human-readable output carries a control or formatting
// character (only the newlines of its own lines), that each row is one
// line, and that --json gives the text back exactly.
func TestCLIEscapesOutput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		dbURL := storetest.URL(t, backend)
		m := newMain(t, dbURL)
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
		createClient(t, m, alice, "ci", readScope)
		// The CLI, like the admin API, refuses such names (the Registry
		// checks them).
		for _, args := range [][]string{
			{"clients", "create", "--owner", alice, "--name", hostile, "--scopes", readScope},
			{"clients", "create", "--owner", alice, "--name", "x", "--description", "a\nb", "--scopes", readScope},
			{"clients", "create", "--owner", alice, "--name", "x", "--audience", "https://api.example.com/\u202e", "--scopes", readScope},
		} {
			if _, _, err := invoke(t, m, args...); !errors.Is(err, models.ErrInvalid) {
				t.Errorf("authz %q: got %v, want an invalid-input error", args, err)
			}
		}
		store := storetest.OpenURL(t, dbURL)
		owner, err := store.UserByEmail(ctx, models.DefaultOrgID, alice)
		if err != nil {
			t.Fatal(err)
		}
		// Written as an older version would have: the Registry now refuses
		// such names.
		expires := store.Now().Add(30 * 24 * time.Hour)
		evil := &models.Client{ID: "legacy-evil", OrgID: models.DefaultOrgID, ProjectID: models.DefaultProjectID, ExpiresAt: &expires, Name: hostile, Description: hostile, OwnerID: owner.ID, CreatedBy: hostile,
			Scopes: models.NewSet(readScope), Audiences: models.NewSet("https://api.example.com/" + hostile)}
		secret := &models.ClientSecret{ID: "s-1", Hash: []byte{1}, Prefix: "leg_", Last4: "abcd"}
		if err := store.CreateClient(ctx, evil, secret, 0); err != nil {
			t.Fatal(err)
		}
		if err := store.RecordUsage(ctx, []models.Usage{{ClientID: evil.ID, SecretID: secret.ID, At: store.Now(), IP: "203.0.113.7", UserAgent: hostile, Count: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := store.AddAudit(ctx, models.AuditEvent{Actor: hostile, Action: models.AuditAuthFailed, IP: "203.0.113.7", Detail: hostile},
			models.AuditEvent{Actor: hostile, Action: models.AuditAuthFailed, ClientID: evil.ID, Detail: `{"reason":"wrong_secret"}`}); err != nil {
			t.Fatal(err)
		}
		p, err := store.Policy(ctx, models.DefaultOrgID)
		if err != nil {
			t.Fatal(err)
		}
		p.ReminderWebhookURL, p.UpdatedBy = "https://hooks.example.com/"+hostile, hostile
		if err := store.SavePolicy(ctx, p); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			args  []string
			lines int // 0: not checked
		}{
			{[]string{"clients", "list"}, 3},
			{[]string{"clients", "expiring", "--within", "400d"}, 3},
			{[]string{"clients", "show", evil.ID}, 0},
			{[]string{"audit"}, 5},
			{[]string{"audit", "--client", evil.ID}, 2},
			{[]string{"users", "list"}, 2},
			{[]string{"policy", "show"}, 0},
			{[]string{"keys", "list"}, 0},
		} {
			what := "authz " + strings.Join(tc.args, " ")
			out := run(t, m, tc.args...)
			if !utf8.ValidString(out) {
				t.Errorf("%s: output is not valid UTF-8: %q", what, out)
			}
			for _, r := range out {
				if r != '\n' && models.UnsafeRune(r) {
					t.Errorf("%s: output holds %U:\n%q", what, r, out)
					break
				}
			}
			if n := strings.Count(out, "\n"); tc.lines > 0 && n != tc.lines {
				t.Errorf("%s: %d lines, want %d:\n%s", what, n, tc.lines, out)
			}
			if what != "authz users list" && what != "authz keys list" && !strings.Contains(out, `x\x1b[2J\x1b[H\r\n2030`) {
				t.Errorf("%s: the escaped text is missing:\n%s", what, out)
			}
		}

		var shown struct {
			Name          string `json:"name"`
			Description   string `json:"description"`
			LastUserAgent string `json:"last_user_agent"`
		}
		out := run(t, m, "clients", "show", evil.ID, "--json")
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatalf("clients show --json: %v\n%s", err, out)
		}
		if shown.Name != hostile || shown.Description != hostile || shown.LastUserAgent != hostile {
			t.Errorf("clients show --json: name %q, description %q, user agent %q; want each %q", shown.Name, shown.Description, shown.LastUserAgent, hostile)
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Errorf("clients show --json: a raw ESC in the JSON:\n%q", out)
		}
	})
}
