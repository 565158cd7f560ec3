package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/smtptest"
	"github.com/authz/authz/models/storetest"
)

// TestServeEmailsReminders: serve with --smtp-url emails a client's
// expiry reminder at its first run, linking the client's console page
// under the issuer.
func TestServeEmailsReminders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		run(t, m, "migrate")
		run(t, m, "users", "create", "--email", "alice@example.com", "--name", "Alice", "--permissions", readScope)
		c := createClient(t, m, "alice@example.com", "nightly", readScope, "--expires-in", "10d")
		// A relay without STARTTLS and without credentials: serve trusts
		// only the system's roots, not the test's certificate.
		mail := smtptest.Start(t, smtptest.Config{NoSTARTTLS: true})
		srv := startServe(t, m, "--issuer", "https://authz.example", "--smtp-url", "smtp://"+mail.Addr, "--smtp-from", "authz@example.com")

		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		got := mail.Wait(ctx, 1)
		if len(got) != 1 {
			t.Fatalf("got %d emails, want 1\nstderr:\n%s", len(got), srv.stderr.String())
		}
		m0 := got[0]
		if m0.From != "authz@example.com" || len(m0.To) != 1 || m0.To[0] != "alice@example.com" {
			t.Errorf("envelope from %q to %v, want authz@example.com to alice@example.com", m0.From, m0.To)
		}
		for _, want := range []string{"expires in 10 days", c.ClientID, "https://authz.example/admin/o/default/clients/" + c.ClientID} {
			if !strings.Contains(m0.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, m0.Body)
			}
		}
		if err := srv.stop(t); err != nil {
			t.Fatal(err)
		}
		if logs := srv.stderr.String(); !strings.Contains(logs, `"reminder_smtp":"smtp://`+mail.Addr+`"`) {
			t.Errorf("the start-up line does not name the SMTP server:\n%s", logs)
		}
	})
}
