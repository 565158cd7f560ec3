package app

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

// Sign-in failure budgets, as the token endpoint's for clients: per
// (account, source) and per source, never per account alone, so that
// guessing from elsewhere cannot lock an admin out of their own address.
const (
	signInFailuresPerPair   = 5
	signInFailuresPerSource = 20
	signInMaxKeys           = 10_000
)

func newSignInLimiter(now func() time.Time) *oauth.Limiter {
	return oauth.NewLimiter(oauth.LimiterConfig{
		FailuresPerPair: signInFailuresPerPair,
		FailuresPerIP:   signInFailuresPerSource,
		MaxKeys:         signInMaxKeys,
		Now:             now,
	})
}

// SignInThrottled answers a sign-in over a failure budget or the request
// rate of its address. Nothing was checked or audited.
type SignInThrottled struct {
	// Wait is how long until the next attempt is admitted.
	Wait time.Duration
	// Limit is the oauth.Limiter's name of the budget: "client_failures" (this
	// account from this address), "ip_failures" or "ip_rate".
	Limit string
}

func (e *SignInThrottled) Error() string {
	switch e.Limit {
	case "client_failures":
		return "too many failed sign-ins to this account from this address"
	case "ip_failures":
		return "too many failed sign-ins from this address"
	}
	return "too many sign-in attempts from this address"
}

// signInSource is the address a sign-in's failure budget is kept for: the
// IP, or for IPv6 its /64, which one host usually holds in full.
func signInSource(ip string) netip.Addr {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return netip.Addr{}
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// typedEmail is an email as typed, fit for the audit log and a budget key:
// valid UTF-8 without control characters (PostgreSQL refuses a NUL), at
// most models.MaxEmailLen bytes.
func typedEmail(email string) string {
	typed := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(models.NormalizeEmail(email), "?"))
	if len(typed) > models.MaxEmailLen {
		typed = strings.ToValidUTF8(typed[:models.MaxEmailLen], "")
	}
	if typed == "" {
		typed = "(no email)"
	}
	return typed
}

// SignIn is Authenticate behind failure budgets, plus the audit log. A
// source that spent a budget (5 failures for one account, 20 in all, each
// further one doubling a backoff from 1 s to 15 min) gets SignInThrottled
// before any database read or hash. On success a session.created event; on
// failure a session.failed event with the email as typed (as the actor),
// the reason and the IP, never the password.
func (r *Registry) SignIn(ctx context.Context, ip, email, password string) (*models.User, error) {
	src, typed := signInSource(ip), typedEmail(email)
	if wait, limit := r.signIn.Allow(src, typed); wait > 0 {
		return nil, &SignInThrottled{Wait: wait, Limit: limit}
	}
	u, err := r.Authenticate(ctx, email, password)
	var ce *credentialsError
	switch {
	case errors.As(err, &ce):
		r.signIn.Failed(src, typed)
		detail := `{"reason":"` + ce.reason + `"}`
		aerr := r.store.AddAudit(ctx, models.AuditEvent{At: r.now(), Actor: typed, Action: models.AuditSessionFailed, UserID: ce.userID, IP: ip, Detail: detail})
		if aerr != nil {
			r.log.Error("audit event not written", "action", models.AuditSessionFailed, "user_id", ce.userID, "error", aerr)
		}
		return nil, err
	case err != nil:
		return nil, err
	}
	r.signIn.Succeeded(src, typed)
	r.audit(ctx, Actor{User: u, IP: ip}, models.AuditSessionCreated, "", u.ID, nil)
	return u, nil
}
