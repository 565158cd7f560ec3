package app_test

import (
	"fmt"
	"mime"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/smtptest"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

const consoleURL = "https://authz.example"

// mailer returns a Mailer sending through srv with its credentials.
func mailer(t *testing.T, srv *smtptest.Server, scheme string) *app.Mailer {
	t.Helper()
	m, err := app.NewMailer(app.MailerConfig{URL: srv.URL(scheme), From: "Authz <authz@example.com>", TLS: srv.TLS})
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}
	return m
}

// withMail configures reminders to email through srv.
func withMail(t *testing.T, srv *smtptest.Server) func(*app.ReminderConfig) {
	m := mailer(t, srv, "smtp")
	return func(c *app.ReminderConfig) { c.Mailer, c.ConsoleURL = m, consoleURL+"/" }
}

// admin creates a person who manages the default organization and returns
// them as an actor.
func (e *env) admin(email string) app.Actor {
	e.t.Helper()
	if err := e.reg.CreateUser(e.ctx, cli, &models.User{Email: email, Name: "Admin", Role: models.RoleAdmin}); err != nil {
		e.t.Fatalf("create admin: %v", err)
	}
	u, err := e.store.UserByEmail(e.ctx, models.DefaultOrgID, email)
	if err != nil {
		e.t.Fatal(err)
	}
	return app.Actor{User: u, OrgID: models.DefaultOrgID}
}

// clientBy creates, as actor, a client of owner expiring in d.
func (e *env) clientBy(actor app.Actor, owner, name string, d time.Duration) *models.Client {
	e.t.Helper()
	exp := e.clock.Now().Add(d)
	c, _, err := e.reg.Create(e.ctx, actor, app.NewClient{OwnerEmail: owner, Name: name, ExpiresAt: &exp})
	if err != nil {
		e.t.Fatalf("create client %s: %v", name, err)
	}
	return c
}

// mailFor is what one received email must say.
type mailFor struct {
	to       string
	client   *models.Client
	daysLeft int
	exp      time.Time
}

// checkMail checks a received message against want.
func checkMail(t *testing.T, m smtptest.Message, want mailFor) {
	t.Helper()
	if !m.TLS || m.Auth != "mailer" {
		t.Errorf("message to %v: TLS %v, authenticated as %q; want STARTTLS and AUTH as mailer", m.To, m.TLS, m.Auth)
	}
	if m.From != "authz@example.com" || !slices.Equal(m.To, []string{want.to}) {
		t.Errorf("envelope from %q to %v, want authz@example.com to %s", m.From, m.To, want.to)
	}
	if m.Parsed == nil {
		t.Fatalf("message does not parse:\n%s", m.Raw)
	}
	h := m.Parsed.Header
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "authz@example.com" || from.Name != "Authz" {
		t.Errorf("From %q: want Authz <authz@example.com>", h.Get("From"))
	}
	if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Address != want.to {
		t.Errorf("To %q: want %s", h.Get("To"), want.to)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q: want <…@example.com>", id)
	}
	left := fmt.Sprintf("%d days", want.daysLeft)
	if want.daysLeft == 1 {
		left = "1 day"
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != fmt.Sprintf("API credential %q expires in %s", want.client.Name, left) {
		t.Errorf("Subject %q (%v): want the credential's name and %s", subject, err, left)
	}
	for _, s := range []string{
		"expires in " + left + ",",
		"Client ID:     " + want.client.ID,
		"Name:          " + want.client.Name,
		"Organization:  Default (default)",
		"Project:       Default (default)",
		"Expires:       " + want.exp.UTC().Format(time.RFC3339),
		want.exp.UTC().Format("2 January 2006, 15:04 UTC"),
		consoleURL + "/admin/o/default/clients/" + want.client.ID + "\r\n",
		"renew",
	} {
		if !strings.Contains(m.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, m.Body)
		}
	}
}

// TestReminderEmail: each reminder is emailed to the client's owner and
// creator (deduplicated; the operator has no address) with the real number
// of days left, once, and never with the SMTP password in a log line.
func TestReminderEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		srv := smtptest.Start(t, smtptest.Config{})
		r := e.reminders(withMail(t, srv))
		admin := e.admin("creator@example.com")

		a := e.clientBy(admin, e.owner.Email, "thirty", 30*day) // owner and creator
		b := e.clientBy(cli, e.owner.Email, "ten", 10*day)      // the operator created it: owner only
		c := e.clientBy(admin, "CREATOR@example.com", "one", day)
		e.clientBy(admin, e.owner.Email, "later", 40*day) // not due

		// 3 webhook deliveries and 4 emails.
		e.run(r, 7)
		got := srv.Messages()
		if len(got) != 4 {
			t.Fatalf("got %d emails, want 4", len(got))
		}
		// Soonest expiry first; per client, owner before creator.
		wants := []mailFor{
			{"creator@example.com", c, 1, start.Add(day)},
			{e.owner.Email, b, 10, start.Add(10 * day)},
			{e.owner.Email, a, 30, start.Add(30 * day)},
			{"creator@example.com", a, 30, start.Add(30 * day)},
		}
		for i, w := range wants {
			checkMail(t, got[i], w)
		}
		days := map[string]int{}
		for _, d := range e.hook.delivered() {
			days[d.event.ClientID] = d.event.DaysLeft
			if d.event.DaysBefore != map[string]int{a.ID: 30, b.ID: 30, c.ID: 1}[d.event.ClientID] {
				t.Errorf("webhook %+v: wrong threshold", d.event)
			}
		}
		if days[a.ID] != 30 || days[b.ID] != 10 || days[c.ID] != 1 {
			t.Errorf("webhook days_left %v, want thirty 30, ten 10, one 1", days)
		}
		if !strings.Contains(e.logs.String(), "days_left=10") {
			t.Errorf("the log does not give the real days left:\n%s", e.logs)
		}

		e.run(r, 0) // once each
		e.clock.Advance(time.Hour)
		e.run(r, 0)

		// Three days on, "ten" reaches its 7-day reminder, with 7 days left.
		e.clock.Set(start.Add(3 * day))
		e.run(r, 2)
		got = srv.Messages()
		if len(got) != 5 {
			t.Fatalf("got %d emails, want 5", len(got))
		}
		checkMail(t, got[4], mailFor{e.owner.Email, b, 7, start.Add(10 * day)})

		if logs := e.logs.String(); strings.Contains(logs, srv.Password) {
			t.Errorf("the SMTP password is in the log:\n%s", logs)
		}
		events, err := e.store.Audit(e.ctx, models.AuditFilter{Action: models.AuditReminderSent, ClientID: a.ID})
		if err != nil {
			t.Fatal(err)
		}
		var channels []string
		for _, ev := range events {
			channels = append(channels, ev.Detail)
		}
		if len(events) != 3 || !strings.Contains(strings.Join(channels, " "), `"to":"creator@example.com"`) {
			t.Errorf("audit events of %s: %v; want the webhook and two emails", a.Name, channels)
		}
	})
}

// TestReminderEmailRetry: a failed email is retried after its backoff
// without sending the webhook again, and a failed webhook is retried
// without sending the email again.
func TestReminderEmailRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newEnv(t, backend)
		srv := smtptest.Start(t, smtptest.Config{})
		srv.FailWhen(func(n int) bool { return n == 1 })
		r := e.reminders(withMail(t, srv))
		c := e.client("mail-retry", 5*day)

		e.run(r, 1) // the webhook; the email failed
		if n, m := e.hook.count(), len(srv.Messages()); n != 1 || m != 0 {
			t.Fatalf("got %d webhook requests and %d emails, want 1 and 0", n, m)
		}
		if !strings.Contains(e.logs.String(), "will retry") || strings.Contains(e.logs.String(), srv.Password) {
			t.Errorf("want the failure logged for a retry, without the password:\n%s", e.logs)
		}
		e.run(r, 0) // backing off
		e.clock.Advance(time.Minute + time.Second)
		e.run(r, 1) // the email alone
		if n, m := e.hook.count(), len(srv.Messages()); n != 1 || m != 1 {
			t.Fatalf("after the retry: %d webhook requests and %d emails, want 1 and 1", n, m)
		}
		checkMail(t, srv.Messages()[0], mailFor{e.owner.Email, c, 5, start.Add(5 * day)})

		// The other way round: the webhook fails at the 1-day reminder.
		e.hook.status = func(n int) int {
			if n == 2 {
				return 503
			}
			return 204
		}
		e.clock.Set(start.Add(4*day + time.Hour))
		e.run(r, 1) // the email; the webhook failed
		e.clock.Advance(time.Minute + time.Second)
		e.run(r, 1) // the webhook alone
		if n, m := len(e.hook.delivered()), len(srv.Messages()); n != 2 || m != 2 {
			t.Fatalf("after the webhook's retry: %d webhooks and %d emails delivered, want 2 and 2", n, m)
		}
		checkMail(t, srv.Messages()[1], mailFor{e.owner.Email, c, 1, start.Add(5 * day)})
		e.hook.checkOnce(t)
	})
}

// TestReminderEmailTwoInstances: two instances with their own connection
// pools, eight concurrent runs each, send each email once.
func TestReminderEmailTwoInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		url := storetest.URL(t, backend)
		e := newEnvURL(t, url)
		srv := smtptest.Start(t, smtptest.Config{})
		other := storetest.OpenURL(t, url)
		other.Now = e.clock.Now
		admin := e.admin("creator@example.com")
		for i, d := range []time.Duration{29 * day, 10 * day, 3 * day, 12 * time.Hour, 40 * day} {
			e.clientBy(admin, e.owner.Email, fmt.Sprintf("client-%d", i), d)
		}
		instances := []*app.Reminders{
			e.reminders(withMail(t, srv)),
			app.NewReminders(other, app.ReminderConfig{WebhookSecret: e.secret, Now: e.clock.Now, Holder: "instance-b", Mailer: mailer(t, srv, "smtp"), ConsoleURL: consoleURL}),
		}
		total := runAtOnce(t, e.ctx, instances, 16)
		// 4 clients due: 4 webhooks and 8 emails.
		if total != 12 {
			t.Errorf("RunOnce calls made %d deliveries, want 12", total)
		}
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			subject, _ := new(mime.WordDecoder).DecodeHeader(m.Parsed.Header.Get("Subject"))
			seen[m.To[0]+" "+subject]++
		}
		if len(seen) != 8 {
			t.Errorf("got emails %v, want 8 distinct ones", seen)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("email %q sent %d times, want once", k, n)
			}
		}
		e.hook.checkOnce(t)
	})
}

// TestMailer: STARTTLS whenever offered, credentials never in clear,
// implicit TLS with smtps, and errors that never show the password.
func TestMailer(t *testing.T) {
	ctx := t.Context()
	msg := app.Email{From: mail.Address{Address: "authz@example.com"}, To: mail.Address{Address: "to@example.com"}, Subject: "s", Date: start, Body: "b"}.Bytes()

	t.Run("STARTTLS", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{})
		// Without credentials too, the session is upgraded.
		m, err := app.NewMailer(app.MailerConfig{URL: "smtp://" + srv.Addr, From: "authz@example.com", TLS: srv.TLS})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(ctx, "to@example.com", msg); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || !got[0].TLS || got[0].Auth != "" {
			t.Errorf("got %+v, want one message over STARTTLS, unauthenticated", got)
		}
	})
	t.Run("no STARTTLS: credentials refused in clear", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{NoSTARTTLS: true})
		err := mailer(t, srv, "smtp").Send(ctx, "to@example.com", msg)
		if err == nil || !strings.Contains(err.Error(), "STARTTLS") || strings.Contains(err.Error(), srv.Password) {
			t.Errorf("got %v, want a refusal naming STARTTLS, without the password", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("got %d messages, want none", n)
		}
		// Without credentials a plain relay is used as it is.
		m, err := app.NewMailer(app.MailerConfig{URL: "smtp://" + srv.Addr, From: "authz@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(ctx, "to@example.com", msg); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || got[0].TLS {
			t.Errorf("got %+v, want one message in plain text", got)
		}
	})
	t.Run("smtps", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{ImplicitTLS: true})
		if err := mailer(t, srv, "smtps").Send(ctx, "to@example.com", msg); err != nil {
			t.Fatal(err)
		}
		if got := srv.Messages(); len(got) != 1 || !got[0].TLS || got[0].Auth != "mailer" {
			t.Errorf("got %+v, want one authenticated message over TLS", got)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{})
		m, err := app.NewMailer(app.MailerConfig{URL: srv.URL("smtp"), From: "authz@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		err = m.Send(ctx, "to@example.com", msg)
		if err == nil || strings.Contains(err.Error(), srv.Password) || !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("got %v, want a certificate error naming the redacted URL", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("got %d messages, want none", n)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Config{})
		m, err := app.NewMailer(app.MailerConfig{URL: "smtp://mailer:wrong-password@" + srv.Addr, From: "authz@example.com", TLS: srv.TLS})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(ctx, "to@example.com", msg); err == nil || strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("got %v, want an authentication error without the password", err)
		}
	})
	for _, tc := range []struct{ url, from string }{
		{"http://u:hunter2@mail.example:25", "a@example.com"},
		{"smtp://u:hunter2@mail.example:25/path", "a@example.com"},
		{"smtp://u:hunter2@:25", "a@example.com"},
		{"smtp://u:hunter2@mail.example:25\x7f", "a@example.com"},
		{"smtp://u:hunter2@mail.example:25", "not an address"},
	} {
		_, err := app.NewMailer(app.MailerConfig{URL: tc.url, From: tc.from})
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewMailer(%q, %q): got %v, want an error without the password", tc.url, tc.from, err)
		}
	}
}

// TestEmailHeaders: a subject or name with CR/LF adds no header.
func TestEmailHeaders(t *testing.T) {
	raw := app.Email{
		From:    mail.Address{Name: "Authz\r\nBcc: evil@example.com", Address: "authz@example.com"},
		To:      mail.Address{Name: "Alice\nX-Injected: 1", Address: "alice@example.com"},
		Subject: "Credential \"x\r\nBcc: evil@example.com\" expires",
		Date:    start,
		Body:    "line one\n.\nline three é",
	}.Bytes()
	m, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("%v:\n%s", err, raw)
	}
	if len(m.Header["Bcc"]) != 0 || len(m.Header["X-Injected"]) != 0 {
		t.Errorf("a value added a header:\n%s", raw)
	}
	for _, h := range []string{"Date", "Message-Id", "From", "To", "Subject", "Content-Type"} {
		if len(m.Header[h]) != 1 {
			t.Errorf("header %s appears %d times, want once:\n%s", h, len(m.Header[h]), raw)
		}
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subject != `Credential "x  Bcc: evil@example.com" expires` {
		t.Errorf("Subject: got %q, %v", subject, err)
	}
	if !strings.Contains(string(raw), "\r\n\r\nline one\r\n.\r\nline three =C3=A9") {
		t.Errorf("want a quoted-printable body with CRLF line ends:\n%q", raw)
	}
}

// newEnvURL is newEnv on the database at url.
func newEnvURL(t *testing.T, url string) *env {
	e := &env{t: t, ctx: t.Context(), clock: testutil.NewClock(start), secret: []byte("whsec-shared"), logs: &testutil.LockedBuffer{}}
	e.store = storetest.OpenURL(t, url)
	e.store.Now = e.clock.Now
	e.init()
	return e
}
