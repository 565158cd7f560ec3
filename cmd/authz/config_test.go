package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models/storetest"
)

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fileDB := "sqlite:" + filepath.Join(dir, "from-file.db")
	envDB := "sqlite:" + filepath.Join(dir, "from-env.db")
	flagDB := "sqlite:" + filepath.Join(dir, "from-flag.db")
	good := write("authz.conf", "# comment\n\nAUTHZ_DATABASE_URL="+fileDB+"\nAUTHZ_LOG_LEVEL = warn\n")

	run := func(env map[string]string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }}
		err := m.Run(context.Background(), args)
		return out.String() + errOut.String(), err
	}
	exists := func(url string) bool {
		_, err := os.Stat(strings.TrimPrefix(url, "sqlite:"))
		return err == nil
	}

	if _, err := run(nil, "migrate", "--config", good); err != nil || !exists(fileDB) {
		t.Fatalf("file setting: err %v, database created %t", err, exists(fileDB))
	}
	if _, err := run(map[string]string{"AUTHZ_DATABASE_URL": envDB, "AUTHZ_CONFIG": good}, "migrate"); err != nil || !exists(envDB) {
		t.Fatalf("environment over file: err %v, database created %t", err, exists(envDB))
	}
	if _, err := run(map[string]string{"AUTHZ_DATABASE_URL": envDB}, "migrate", "--db", flagDB, "--config="+good); err != nil || !exists(flagDB) {
		t.Fatalf("flag over environment: err %v, database created %t", err, exists(flagDB))
	}

	for _, tc := range []struct{ name, body, want string }{
		{"unknown setting", "AUTHZ_DATABSE_URL=x\n", "authz.conf:1: unknown setting AUTHZ_DATABSE_URL"},
		{"no equals sign", "\nAUTHZ_ADDR\n", ":2: want NAME=value"},
		{"set twice", "AUTHZ_ADDR=a\nAUTHZ_ADDR=b\n", ":2: AUTHZ_ADDR is set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write("authz.conf", tc.body)
			if _, err := run(nil, "migrate", "--config", p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := run(nil, "migrate", "--config", filepath.Join(dir, "missing.conf")); err == nil || !strings.Contains(err.Error(), "missing.conf") {
		t.Errorf("missing file: got %v, want an error naming it", err)
	}
	if _, err := run(nil, "migrate", "--config"); err == nil {
		t.Errorf("--config without a path: no error")
	}
}

// TestGCMinHeapRemoved: a configuration that still sets the removed heap
// floor, as a flag, in the environment or in the file, is refused at start
// with what to set instead.
func TestGCMinHeapRemoved(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "authz.conf")
	if err := os.WriteFile(conf, []byte("AUTHZ_GC_MIN_HEAP=64MiB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := "sqlite:" + filepath.Join(dir, "authz.db")
	for _, tc := range []struct {
		name, setting string
		env           map[string]string
		args          []string
	}{
		{"flag", "gc-min-heap", nil, []string{"--gc-min-heap", "64MiB"}},
		{"flag off", "gc-min-heap", nil, []string{"--gc-min-heap=0"}},
		{"environment", "AUTHZ_GC_MIN_HEAP", map[string]string{"AUTHZ_GC_MIN_HEAP": "64MiB"}, nil},
		{"file", "AUTHZ_GC_MIN_HEAP", nil, []string{"--config", conf}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &out, Getenv: func(k string) string { return tc.env[k] }}
			// Cancelled: a serve that wrongly starts stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := m.Run(ctx, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0"}, tc.args...))
			if err == nil {
				t.Fatal("serve started")
			}
			for _, want := range []string{tc.setting, "GOGC", "GOMEMLIMIT"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}

// gogc is the collector's current GOGC as the runtime reports it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// TestServeGOGC: serve runs the collector at GOGC=400, and says so in its
// start-up line, unless the environment sets GOGC, which the runtime
// applied and serve leaves alone.
func TestServeGOGC(t *testing.T) {
	before := gogc()
	t.Cleanup(func() { debug.SetGCPercent(before) })
	m := newMain(t, storetest.URL(t, "sqlite"))
	run(t, m, "migrate")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int
		line string
	}{
		{"default", nil, 400, `"gogc":"400"`},
		{"GOGC set", map[string]string{"GOGC": "150"}, 150, `"gogc":"150"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(150) // as the runtime would for GOGC=150
			srv := startServe(t, withEnv(m, tc.env))
			if got := gogc(); got != tc.want {
				t.Errorf("GOGC %d while serving, want %d", got, tc.want)
			}
			if log := srv.stderr.String(); !strings.Contains(log, tc.line) {
				t.Errorf("the start-up line does not say %s:\n%s", tc.line, log)
			}
			if err := srv.stop(t); err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}
}

func TestAuditRetentionSetting(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "authz.conf")
	if err := os.WriteFile(conf, []byte("AUTHZ_AUDIT_RETENTION=90d\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want time.Duration
		err  string // a word of the error; "" for none
	}{
		{name: "default", want: 400 * day},
		{name: "environment", env: map[string]string{"AUTHZ_AUDIT_RETENTION": "30d"}, want: 30 * day},
		{name: "configuration file", args: []string{"--config", conf}, want: 90 * day},
		{name: "environment over the file", env: map[string]string{"AUTHZ_AUDIT_RETENTION": "730d"}, args: []string{"--config", conf}, want: 730 * day},
		{name: "flag over the environment", env: map[string]string{"AUTHZ_AUDIT_RETENTION": "30d"}, args: []string{"--audit-retention", "2000h"}, want: 2000 * time.Hour},
		{name: "0 keeps forever", args: []string{"--audit-retention", "0"}, want: 0},
		{name: "flag below a day", args: []string{"--audit-retention", "12h"}, err: "audit-retention"},
		{name: "flag not a duration", args: []string{"--audit-retention", "a year"}, err: "audit-retention"},
		{name: "negative", args: []string{"--audit-retention", "-5d"}, err: "audit-retention"},
		{name: "environment not a duration", env: map[string]string{"AUTHZ_AUDIT_RETENTION": "soon"}, err: `AUTHZ_AUDIT_RETENTION="soon"`},
		{name: "environment below a day", env: map[string]string{"AUTHZ_AUDIT_RETENTION": "1h"}, err: "at least 1d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errOut bytes.Buffer
			m := &Main{Stderr: &errOut, Getenv: func(k string) string { return tc.env[k] }}
			m, args, err := m.withConfigFile(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			var cfg serveConfig
			err = m.serveFlags(&cfg, args)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error naming %s", err, tc.err)
			case tc.err == "" && cfg.auditRetention != tc.want:
				t.Errorf("got retention %s, want %s", cfg.auditRetention, tc.want)
			}
		})
	}
}

// TestSMTPSetting: --smtp-url and --smtp-from, from flags, the environment
// or the file, checked at start with the password never in an error.
func TestSMTPSetting(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "authz.conf")
	if err := os.WriteFile(conf, []byte("AUTHZ_SMTP_URL=smtps://mailer:hunter2@mail.example\nAUTHZ_SMTP_FROM=authz@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the mailer's redacted URL; "" for none
		err  string // a word of the error; "" for none
	}{
		{name: "default: no email"},
		{name: "flags", args: []string{"--smtp-url", "smtp://mailer:hunter2@mail.example:2525", "--smtp-from", "authz <authz@example.com>"}, want: "smtp://mailer:xxxxx@mail.example:2525"},
		{name: "environment", env: map[string]string{"AUTHZ_SMTP_URL": "smtp://mail.example", "AUTHZ_SMTP_FROM": "authz@example.com"}, want: "smtp://mail.example"},
		{name: "configuration file", args: []string{"--config", conf}, want: "smtps://mailer:xxxxx@mail.example"},
		{name: "no sender", args: []string{"--smtp-url", "smtp://mailer:hunter2@mail.example"}, err: "smtp-from"},
		{name: "sender alone", args: []string{"--smtp-from", "authz@example.com"}, err: "smtp-url"},
		{name: "other scheme", args: []string{"--smtp-url", "http://mailer:hunter2@mail.example", "--smtp-from", "authz@example.com"}, err: "smtp-url"},
		{name: "not a URL", args: []string{"--smtp-url", "smtp://mailer:hunter2@mail.example:x y", "--smtp-from", "authz@example.com"}, err: "smtp-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Main{Stderr: io.Discard, Getenv: func(k string) string { return tc.env[k] }}
			m, args, err := m.withConfigFile(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			var cfg serveConfig
			err = m.serveFlags(&cfg, args)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2")):
				t.Fatalf("got %v, want an error naming %s without the password", err, tc.err)
			case tc.err == "" && tc.want == "" && cfg.mailer != nil:
				t.Errorf("got a mailer %s, want none", cfg.mailer)
			case tc.err == "" && tc.want != "" && (cfg.mailer == nil || cfg.mailer.String() != tc.want):
				t.Errorf("got mailer %v, want %s", cfg.mailer, tc.want)
			}
		})
	}
}
