package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelp: every command answers -h, --help and `authz help COMMAND`
// with its usage, its positional arguments included, on standard output,
// and succeeds (exit status 0); it lists exactly the flags the command
// uses (every command takes --db and --config; --key-file only where the
// key material is read, --json only where a result is printed).
func TestHelp(t *testing.T) {
	clientFields := []string{"kind", "project", "owner", "name", "description", "scopes", "audience", "ip-allowlist", "ttl", "expires-in", "resource-server", "require-dpop"}
	cases := []struct {
		command string
		args    string   // the positional arguments the usage line names
		flags   []string // besides db and config
	}{
		{"serve", "", []string{"key-file", "allow-empty-database", "addr", "issuer", "alg", "audience", "cors-origins", "trusted-proxies",
			"usage-flush", "reminder-interval", "key-rotate-every", "key-check-interval", "rate-limit", "auth-failures", "client-cache",
			"metrics-client-series", "log-level", "oauth-log-level", "audit-retention", "gc-min-heap",
			"smtp-url", "smtp-from", "legacy-prefixes", "tls-cert", "tls-key", "insecure-http", "dpop-nonce", "fetch-private-networks"}},
		{"migrate", "", []string{"key-file", "json", "allow-empty-database"}},
		{"healthcheck", "", []string{"addr"}},
		{"version", "", []string{"json"}},
		{"users create", "", []string{"json", "org", "email", "name", "role", "permissions"}},
		{"users list", "", []string{"json", "org"}},
		{"users disable", "EMAIL", []string{"json", "org"}},
		{"users enable", "EMAIL", []string{"json", "org"}},
		{"users set-permissions", "EMAIL PERMISSIONS", []string{"json", "org"}},
		{"users set-role", "EMAIL owner|admin|member", []string{"json", "org"}},
		{"users allow-create", "EMAIL", []string{"json", "org"}},
		{"users deny-create", "EMAIL", []string{"json", "org"}},
		{"users set-password", "EMAIL", []string{"org"}},
		{"clients create", "", append([]string{"key-file", "json", "org", "auth", "jwks-file", "jwks-uri", "trusted-issuer", "subject", "condition"}, clientFields...)},
		{"clients import", "", append([]string{"key-file", "json", "org", "client-id"}, clientFields...)},
		{"clients list", "", []string{"json", "org", "project", "owner", "status", "legacy", "search", "sort", "order", "include-revoked"}},
		{"clients show", "CLIENT_ID", []string{"json", "org"}},
		{"clients update", "CLIENT_ID", []string{"json", "org", "name", "description", "scopes", "audience", "allowed-ips", "ttl", "require-dpop"}},
		{"clients renew", "CLIENT_ID", []string{"json", "org", "expires-in"}},
		{"clients rotate", "CLIENT_ID", []string{"key-file", "json", "org", "grace"}},
		{"clients set-keys", "CLIENT_ID", []string{"json", "org", "jwks-file", "jwks-uri"}},
		{"clients set-federation", "CLIENT_ID", []string{"json", "org", "trusted-issuer", "subject", "condition"}},
		{"clients revoke", "CLIENT_ID", []string{"json", "org"}},
		{"clients revoke-secret", "CLIENT_ID SECRET_ID", []string{"json", "org"}},
		{"clients expiring", "", []string{"json", "org", "within"}},
		{"issuers add", "", []string{"json", "org", "name", "issuer", "audience", "jwks-uri", "jwks-file", "max-token-lifetime", "reusable-tokens"}},
		{"issuers list", "", []string{"json", "org"}},
		{"issuers update", "ISSUER_ID", []string{"json", "org", "name", "audience", "jwks-uri", "jwks-file", "max-token-lifetime", "reusable-tokens", "discover"}},
		{"issuers remove", "ISSUER_ID", []string{"org"}},
		{"orgs create", "", []string{"json", "slug", "name", "owner-email", "owner-name", "owner-permissions"}},
		{"orgs list", "", []string{"json"}},
		{"projects create", "", []string{"json", "org", "slug", "name", "resource"}},
		{"projects list", "", []string{"json", "org"}},
		{"projects set-default", "", []string{"org", "slug"}},
		{"policy show", "", []string{"json", "org"}},
		{"policy set", "", []string{"json", "org", "max-credential-lifetime", "default-credential-lifetime", "default-token-ttl", "max-token-ttl",
			"max-clients-per-owner", "creation-restricted", "ip-allowlist", "rotation-grace", "reminder-webhook", "legacy-sunset", "publishable-scopes"}},
		{"policy webhook-secret", "", []string{"key-file", "json"}},
		{"audit", "", []string{"json", "org", "client", "user", "action", "since", "until", "limit"}},
		{"keys list", "", []string{"json"}},
		{"keys rotate", "", []string{"key-file", "json", "alg"}},
		{"keys rewrap", "", []string{"key-file", "json"}},
	}
	if benchCommands != nil { // an authzbench build
		cases = append(cases, struct {
			command string
			args    string
			flags   []string
		}{"bench-seed", "", []string{"key-file", "clients", "orgs", "workers", "creds-file", "creds-count", "key-clients", "keys-dir"}}, struct {
			command string
			args    string
			flags   []string
		}{"bench-requests", "", []string{"kind", "alg", "issuer", "keys-dir", "creds-file", "out", "count", "split"}})
	}
	var tested []string
	for _, tc := range cases {
		tested = append(tested, tc.command)
	}
	for _, c := range commands {
		if !slices.Contains(tested, c.name) {
			t.Errorf("command %q has no case here", c.name)
		}
	}

	m := newMain(t, "sqlite:"+t.TempDir()+"/authz.db")
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			words := strings.Fields(tc.command)
			synopsis := "Usage: authz " + tc.command + " [flags]"
			if tc.args != "" {
				synopsis += " " + tc.args
			}
			want := append([]string{"config"}, tc.flags...)
			if c := lookupCommand(tc.command); c == nil || c.shared&noDBFlag == 0 {
				want = append(want, "db")
			}
			slices.Sort(want)
			for _, args := range [][]string{slices.Concat(words, []string{"-h"}), slices.Concat(words, []string{"--help"}), slices.Concat([]string{"help"}, words)} {
				stdout, stderr, err := invoke(t, m, args...)
				if err != nil || stderr != "" {
					t.Errorf("authz %s: error %v, stderr %q; want success and nothing on stderr", strings.Join(args, " "), err, stderr)
				}
				if first, _, _ := strings.Cut(stdout, "\n"); first != synopsis {
					t.Errorf("authz %s: first line %q, want %q", strings.Join(args, " "), first, synopsis)
				}
				var got []string
				for _, f := range flagLine.FindAllStringSubmatch(stdout, -1) {
					got = append(got, f[1])
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("authz %s lists the flags\n%v\nwant\n%v", strings.Join(args, " "), got, want)
				}
			}
		})
	}

	// The command list, and each group's, names every command with its
	// arguments.
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "help"}, {"-h", "--help"}} {
		stdout, _, err := invoke(t, m, args...)
		if err != nil {
			t.Errorf("authz %s: %v", strings.Join(args, " "), err)
		}
		for _, tc := range cases {
			if !strings.Contains(stdout, "  "+strings.TrimSpace(tc.command+" "+tc.args)+" ") {
				t.Errorf("authz %s does not list %s %s:\n%s", strings.Join(args, " "), tc.command, tc.args, stdout)
			}
		}
	}
	for _, group := range []string{"users", "clients", "orgs", "projects", "policy", "keys"} {
		for _, args := range [][]string{{group, "-h"}, {group, "--help"}, {"help", group}} {
			stdout, _, err := invoke(t, m, args...)
			if err != nil || !strings.HasPrefix(stdout, "Usage: authz "+group+" <subcommand>") {
				t.Errorf("authz %s: error %v, output\n%s", strings.Join(args, " "), err, stdout)
			}
			for _, tc := range cases {
				if sub, ok := strings.CutPrefix(tc.command, group+" "); ok && !strings.Contains(stdout, "  "+strings.TrimSpace(sub+" "+tc.args)+" ") {
					t.Errorf("authz %s does not list %s %s", strings.Join(args, " "), sub, tc.args)
				}
			}
		}
		// Without a subcommand: the list on standard error, and a failure.
		if _, stderr, err := invoke(t, m, group); err == nil || !strings.Contains(stderr, "Usage: authz "+group) {
			t.Errorf("authz %s: error %v, stderr\n%s\nwant a failure and the subcommands", group, err, stderr)
		}
	}
	// A flag a command does not use is refused, naming where the usage is.
	if _, _, err := invoke(t, m, "users", "set-password", "a@example.com", "--json"); err == nil || !strings.Contains(err.Error(), "authz users set-password -h") {
		t.Errorf("users set-password --json: got %v, want an error pointing at its -h", err)
	}
}
