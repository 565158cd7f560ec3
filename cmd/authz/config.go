package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
)

// settings are the environment variables authz reads; a configuration
// file may set any of them.
var settings = []string{
	"AUTHZ_DATABASE_URL", "AUTHZ_KEY_FILE", "AUTHZ_KEK", "AUTHZ_PEPPER",
	"AUTHZ_ALLOW_EMPTY_DATABASE",
	"AUTHZ_ADDR", "AUTHZ_ISSUER", "AUTHZ_SIGNING_ALG", "AUTHZ_DEFAULT_AUDIENCE",
	"AUTHZ_TRUSTED_PROXIES", "AUTHZ_CORS_ORIGINS", "AUTHZ_USAGE_FLUSH", "AUTHZ_REMINDER_INTERVAL",
	"AUTHZ_RATE_LIMIT", "AUTHZ_AUTH_FAILURES", "AUTHZ_CLIENT_CACHE", "AUTHZ_METRICS_CLIENT_SERIES", "AUTHZ_LOG_LEVEL", "AUTHZ_OAUTH_LOG_LEVEL",
	"AUTHZ_KEY_ROTATE_EVERY", "AUTHZ_KEY_CHECK_INTERVAL", "AUTHZ_GC_MIN_HEAP", "AUTHZ_AUDIT_RETENTION",
	"AUTHZ_SMTP_URL", "AUTHZ_SMTP_FROM", "AUTHZ_LEGACY_PREFIXES",
	"AUTHZ_TLS_CERT", "AUTHZ_TLS_KEY", "AUTHZ_INSECURE_HTTP",
}

// configFile returns the --config argument (wherever it stands among args)
// or AUTHZ_CONFIG, and args without it.
func configFile(args []string, getenv func(string) string) (string, []string, error) {
	path := getenv("AUTHZ_CONFIG")
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			if i+1 >= len(args) {
				return "", nil, errors.New("--config needs a file path")
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			path = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	return path, rest, nil
}

// readConfig reads a file of NAME=value lines (the AUTHZ_* variables;
// blank lines and # comments ignored). Unknown names and malformed lines
// are errors that name the line.
func readConfig(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	defer f.Close()
	vals := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok {
			return nil, fmt.Errorf("%s:%d: want NAME=value", path, n)
		}
		if !slices.Contains(settings, name) {
			return nil, fmt.Errorf("%s:%d: unknown setting %s; known: %s", path, n, name, strings.Join(settings, ", "))
		}
		if _, dup := vals[name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is set twice", path, n, name)
		}
		vals[name] = strings.Trim(value, `"'`)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	return vals, nil
}

// withConfigFile returns a copy of m whose Getenv falls back to the
// configuration file: flags win over the environment, which wins over the
// file, which wins over defaults.
func (m *Main) withConfigFile(args []string) (*Main, []string, error) {
	path, rest, err := configFile(args, m.Getenv)
	if err != nil || path == "" {
		return m, rest, err
	}
	vals, err := readConfig(path)
	if err != nil {
		return nil, nil, err
	}
	mm := *m
	mm.Getenv = func(name string) string {
		if v := m.Getenv(name); v != "" {
			return v
		}
		return vals[name]
	}
	return &mm, rest, nil
}

// auditRetentionFlag defines --audit-retention (env AUTHZ_AUDIT_RETENTION,
// default app.DefaultAuditRetention): how long the janitor keeps audit
// events. A value that does not parse is reported like the other settings.
func (m *Main) auditRetentionFlag(fs *flag.FlagSet, into *time.Duration, problems *[]string) {
	*into = app.DefaultAuditRetention
	if v := m.Getenv("AUTHZ_AUDIT_RETENTION"); v != "" {
		d, err := parseRetention(v)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("AUTHZ_AUDIT_RETENTION=%q: %v", v, err))
		} else {
			*into = d
		}
	}
	fs.Var((*retention)(into), "audit-retention", "how long audit events are kept, e.g. 400d; 0 keeps them forever (env AUTHZ_AUDIT_RETENTION)")
}

// retention is the flag.Value of --audit-retention.
type retention time.Duration

func (r *retention) String() string { return models.FormatDuration(time.Duration(*r)) }

func (r *retention) Set(s string) error {
	d, err := parseRetention(s)
	*r = retention(d)
	return err
}

// parseRetention reads a retention: 0 (forever) or at least a day, in days
// or Go units.
func parseRetention(s string) (time.Duration, error) {
	d, err := models.ParseDuration(s)
	switch {
	case err != nil:
		return 0, errors.New("want a duration such as 400d, or 0 to keep audit events forever")
	case d != 0 && d < 24*time.Hour:
		return 0, errors.New("want at least 1d, or 0 to keep audit events forever")
	}
	return d, nil
}
