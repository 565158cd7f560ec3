// This file is one job, expiry reminders: finding the credentials due a
// reminder, claiming each delivery once across instances, and delivering it
// to the log and the webhook and by email with retries (the webhook's format
// and signature are in webhook.go, the email's in reminder_mail.go). It is
// about 500 lines because the claim, the delivery and the retry schedule
// share one state machine that reads best in one place.

package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authz/authz/models"
)

// ReminderStore is what Reminders reads and writes.
type ReminderStore interface {
	ReminderOrgs(ctx context.Context, horizon time.Time) ([]string, error)
	Policy(ctx context.Context, orgID string) (*models.Policy, error)
	ExpiringClients(ctx context.Context, p *models.Policy, now, horizon time.Time) ([]models.Expiring, error)
	ClaimReminder(ctx context.Context, r models.Reminder, holder string, ttl time.Duration) (bool, error)
	FinishReminder(ctx context.Context, r models.Reminder, sendErr error) error
	// Reminders is read after a claim for the reminder's attempt count,
	// which ClaimReminder does not return and FinishReminder increments.
	Reminders(ctx context.Context, clientID string) ([]models.Reminder, error)
	AddAudit(ctx context.Context, events ...models.AuditEvent) error
	// For the email's names and link.
	OrganizationByID(ctx context.Context, id string) (*models.Organization, error)
	ProjectByID(ctx context.Context, orgID, id string) (*models.Project, error)
}

// ReminderConfig configures Reminders. Zero fields take their defaults.
type ReminderConfig struct {
	// WebhookSecret is the HMAC-SHA256 key signing webhook deliveries.
	// Required when the policy names a webhook URL: no unsigned webhook is
	// ever sent.
	WebhookSecret []byte
	// HTTPClient posts webhooks. Default: a 10s timeout, redirects not
	// followed (a 3xx answer is a failed delivery).
	HTTPClient *http.Client
	// Now is the clock deciding which reminders are due (default
	// time.Now). Claims and leases use the store's own clock.
	Now    func() time.Time
	Logger *slog.Logger
	// Holder identifies this instance in reminder claims. Default: the
	// host name and a random suffix.
	Holder string
	// Thresholds are the days before expiry reminders are sent at.
	// Default: 30, 7, 1.
	Thresholds []int
	// MaxAttempts bounds the deliveries of one reminder on one channel.
	// Default: 8.
	MaxAttempts int
	// Mailer, when set, sends each reminder by email to the client's
	// owner and creator.
	Mailer *Mailer
	// ConsoleURL is the server's base URL (the issuer) the email links
	// the credential's console page under.
	ConsoleURL string
}

const (
	// reminderLease is how long a claim keeps other instances off a
	// reminder while it is being delivered.
	reminderLease = 2 * time.Minute
	// webhookDeadline bounds one delivery (webhook or email), whatever
	// the HTTP client's own timeout, well within reminderLease: a delivery
	// still running when its claim lapses could be duplicated by another
	// instance.
	webhookDeadline = reminderLease / 2
	// recordTimeout bounds recording an outcome, which happens even when
	// the run's context was cancelled meanwhile.
	recordTimeout = 10 * time.Second
	// retryBackoffBase and retryBackoffMax shape the wait after the n-th
	// failed delivery: min(base·2^(n-1), max).
	retryBackoffBase = time.Minute
	retryBackoffMax  = time.Hour
	// DefaultReminderInterval is Run's interval when none is given.
	DefaultReminderInterval = 10 * time.Minute
	day                     = 24 * time.Hour
)

// Reminders sends credential expiry reminders and lists expiring
// credentials.
//
// A client's expiry is its effective expiry under its organization's
// policy (models.Client.EffectiveExpiry), so a policy change moves it, both
// ways, retroactively. A run reads only the organizations that may have a
// client due (models.Store.ReminderOrgs), each under its own policy: its
// maximum lifetime and its webhook. A reminder is due Thresholds days (30, 7, 1) before that
// expiry; when a client enters the window late (created with 5 days left,
// or a policy shortened its life) only the closest threshold is sent, never
// a stale earlier one. A reminder is identified by (client, days, expiry
// to the second): an expiry moved by a policy change brings new reminders,
// and each reminder is sent once.
//
// Every instance may run Reminders at the same time: a reminder is claimed
// in the database (models.Store.ClaimReminder, a lease of two minutes)
// before it is sent, and marked sent after, so exactly one instance sends
// it. Delivery is at least once: an instance dying between the webhook's
// 2xx answer and recording it makes another one send the reminder again
// once the lease lapses, with the same Authz-Webhook-Id, by which receivers
// de-duplicate.
//
// A reminder is delivered on channels, each claimed, retried and recorded
// on its own (a models.Reminder row per channel), so that one failing
// never repeats another:
//
//   - "webhook": a log event at WARN level ("credential expiring", written
//     at the first attempt) and, when the client's organization's policy
//     names a ReminderWebhookURL, a webhook delivery; without a URL the log
//     event alone counts as sent;
//   - "email:<address>", with a Mailer: one email to each of the client's
//     owner and creator (deduplicated; a creator that is no address, such
//     as the operator's "cli", gets none).
//
// A failed delivery (transport error, a non-2xx answer, an SMTP error) is
// retried by a later run after a backoff of min(2^(n-1) minutes, 1 hour)
// following the n-th failure, at most MaxAttempts times in all; then it is
// abandoned, logged once at ERROR. A sent delivery is recorded in the audit
// log (models.AuditReminderSent, actor "authz", the channel in the
// detail). The webhook's format and signature are described in webhook.go
// and at VerifyWebhookSignature.
type Reminders struct {
	store       ReminderStore
	secret      []byte
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger
	holder      string
	thresholds  []int // ascending, distinct, positive
	maxAttempts int
	mailer      *Mailer
	consoleURL  string
}

// NewReminders returns Reminders reading and writing store.
func NewReminders(store ReminderStore, cfg ReminderConfig) *Reminders {
	r := &Reminders{
		store:       store,
		secret:      slices.Clone(cfg.WebhookSecret),
		client:      cfg.HTTPClient,
		now:         cfg.Now,
		log:         cfg.Logger,
		holder:      cfg.Holder,
		maxAttempts: cfg.MaxAttempts,
		mailer:      cfg.Mailer,
		consoleURL:  strings.TrimRight(cfg.ConsoleURL, "/"),
	}
	if r.client == nil {
		r.client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.holder == "" {
		r.holder = randomHolder()
	}
	for _, d := range cfg.Thresholds {
		if d > 0 {
			r.thresholds = append(r.thresholds, d)
		}
	}
	if len(r.thresholds) == 0 {
		r.thresholds = []int{30, 7, 1}
	}
	slices.Sort(r.thresholds)
	r.thresholds = slices.Compact(r.thresholds)
	if r.maxAttempts <= 0 {
		r.maxAttempts = 8
	}
	return r
}

func randomHolder() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "authz"
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// DueReminder is the reminder that applies to a client now.
type DueReminder struct {
	Client *models.Client // with Owner loaded
	// Days is the threshold: the reminder is the "Days days before
	// expiry" one.
	Days int
	// ExpiresAt is the client's effective expiry, to the second.
	ExpiresAt time.Time
	// DaysLeft is the time left when the reminder fell due, in days
	// rounded up (models.Expiring.DaysLeft): 10 for a client ten days from
	// expiry, whose reminder is the 30-day one.
	DaysLeft int
}

// ID identifies the reminder: "<client_id>:<days>:<expiry unix>". It is the
// webhook's id and Authz-Webhook-Id header.
func (d DueReminder) ID() string {
	return d.Client.ID + ":" + strconv.Itoa(d.Days) + ":" + strconv.FormatInt(d.ExpiresAt.Unix(), 10)
}

// Due returns, soonest expiry first, the reminder that applies now to each
// active client whose effective expiry is in the future and within the
// largest threshold: the one of the smallest threshold already reached.
// Whether it was sent already is not considered.
func (r *Reminders) Due(ctx context.Context) ([]DueReminder, error) {
	now := r.now()
	var out []DueReminder
	err := r.eachOrg(ctx, now, func(p *models.Policy) error {
		due, err := r.due(ctx, p, now)
		out = append(out, due...)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortDue(out)
	return out, nil
}

// horizon is how far ahead of now a run looks: the largest threshold.
func (r *Reminders) horizon(now time.Time) time.Time {
	return now.Add(time.Duration(r.thresholds[len(r.thresholds)-1]) * day)
}

// eachOrg calls fn with the policy of each organization that may have a
// client due a reminder now, stopping at the first error.
func (r *Reminders) eachOrg(ctx context.Context, now time.Time, fn func(p *models.Policy) error) error {
	orgs, err := r.store.ReminderOrgs(ctx, r.horizon(now))
	if err != nil {
		return err
	}
	for _, org := range orgs {
		p, err := r.store.Policy(ctx, org)
		if err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// due returns the reminders due now in the organization of the policy p.
func (r *Reminders) due(ctx context.Context, p *models.Policy, now time.Time) ([]DueReminder, error) {
	list, err := r.store.ExpiringClients(ctx, p, now, r.horizon(now))
	if err != nil {
		return nil, err
	}
	var out []DueReminder
	for _, e := range list {
		c, exp := e.Client, e.ExpiresAt
		for _, d := range r.thresholds {
			if !now.Before(exp.Add(-time.Duration(d) * day)) {
				// Reminders are keyed to the second: the id carries
				// unix seconds, and databases store sub-second parts
				// with different precisions.
				out = append(out, DueReminder{Client: c, Days: d, ExpiresAt: exp.UTC().Truncate(time.Second), DaysLeft: e.DaysLeft})
				break
			}
		}
	}
	sortDue(out)
	return out, nil
}

// sortDue orders reminders soonest expiry first, then by client_id.
func sortDue(out []DueReminder) {
	slices.SortStableFunc(out, func(a, b DueReminder) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return strings.Compare(a.Client.ID, b.Client.ID)
	})
}

// RunOnce sends the due reminders that no instance has sent or is sending,
// organization by organization. It returns how many deliveries it made
// (delivered and recorded; one per channel: the webhook, and each email). Failed webhook deliveries are not errors (they are recorded
// for a retry and logged); the error reports the store failing, a policy
// naming a webhook URL without a secret (that organization's reminders
// wait; the others' are sent), or ctx ending.
func (r *Reminders) RunOnce(ctx context.Context) (sent int, err error) {
	now := r.now()
	var errs []error
	err = r.eachOrg(ctx, now, func(p *models.Policy) error {
		if p.ReminderWebhookURL != "" && len(r.secret) == 0 {
			errs = append(errs, fmt.Errorf("reminders: the policy of organization %s names a webhook URL but no webhook secret is configured; none of its reminders sent", p.OrgID))
			return nil
		}
		due, err := r.due(ctx, p, now)
		if err != nil {
			return err
		}
		for _, d := range due {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := r.send(ctx, p, d)
			if err != nil {
				errs = append(errs, fmt.Errorf("reminder %s: %w", d.ID(), err))
			}
			sent += n
		}
		return nil
	})
	return sent, errors.Join(append(errs, err)...)
}

// send delivers one reminder on each of its channels; it reports how many
// deliveries this call made.
func (r *Reminders) send(ctx context.Context, p *models.Policy, d DueReminder) (int, error) {
	channels := []delivery{{channel: models.ReminderWebhook, deliver: func(ctx context.Context) error {
		if p.ReminderWebhookURL == "" {
			return nil
		}
		return r.post(ctx, p.ReminderWebhookURL, d)
	}}}
	if r.mailer != nil {
		for _, to := range recipients(d.Client) {
			channels = append(channels, delivery{channel: models.ReminderEmail + to.Address, to: to, deliver: func(ctx context.Context) error {
				return r.mail(ctx, d, to)
			}})
		}
	}
	sent := 0
	var errs []error
	for _, ch := range channels {
		ok, err := r.deliver(ctx, d, ch)
		if ok {
			sent++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ch.channel, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return sent, errors.Join(errs...)
}

// delivery is one channel of a reminder.
type delivery struct {
	channel string
	to      mail.Address // for email
	deliver func(ctx context.Context) error
}

// deliver claims, delivers and records one reminder on one channel; it
// reports whether this call sent it.
func (r *Reminders) deliver(ctx context.Context, d DueReminder, ch delivery) (bool, error) {
	key := models.Reminder{ClientID: d.Client.ID, Days: d.Days, ExpiresAt: d.ExpiresAt, Channel: ch.channel}
	claimed, err := r.store.ClaimReminder(ctx, key, r.holder, reminderLease)
	if err != nil || !claimed {
		return false, err // sent, being sent, or waiting out a backoff
	}
	// From here on the claim is ours. Leaving without FinishReminder lets
	// it lapse after the lease, and another run tries again.
	row, err := r.reminder(ctx, key)
	if err != nil {
		return false, err
	}
	attrs := append(r.attrs(d), "channel", ch.channel)
	if row.Attempts >= r.maxAttempts {
		r.log.Debug("credential expiry reminder abandoned earlier; skipped", append(attrs, "attempts", row.Attempts)...)
		return false, nil
	}
	if row.Attempts == 0 && ch.channel == models.ReminderWebhook {
		r.log.Warn("credential expiring", r.attrs(d)...)
	}
	sendErr := ch.deliver(ctx)
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down: not the receiver's failure. The claim lapses
		// and another run delivers it.
		return false, ctx.Err()
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := r.store.FinishReminder(rctx, row, sendErr); err != nil {
		if sendErr == nil {
			return false, fmt.Errorf("delivered but not recorded (it will be delivered again): %w", err)
		}
		return false, err
	}
	attempts := row.Attempts + 1
	if sendErr != nil {
		if attempts >= r.maxAttempts {
			r.log.Error("credential expiry reminder abandoned: delivery failed too often", append(attrs, "attempts", attempts, "error", sendErr)...)
			return false, nil
		}
		wait := retryBackoff(attempts)
		r.log.Warn("credential expiry reminder delivery failed; will retry", append(attrs, "attempts", attempts, "retry_in_seconds", wait.Seconds(), "error", sendErr)...)
		// FinishReminder released the claim; holding it again for the
		// backoff keeps every instance (this one too) from retrying
		// early. Another instance claiming in between merely retries
		// sooner: the claim still keeps deliveries one at a time.
		if _, err := r.store.ClaimReminder(rctx, key, r.holder, wait); err != nil {
			r.log.Warn("credential expiry reminder backoff not recorded", append(attrs, "error", err)...)
		}
		return false, nil
	}
	detail := map[string]any{"days": d.Days, "days_left": d.DaysLeft, "expires_at": d.ExpiresAt, "channel": models.ReminderWebhook}
	if ch.to.Address != "" {
		detail["channel"], detail["to"] = "email", ch.to.Address
	}
	detailJSON, _ := json.Marshal(detail)
	err = r.store.AddAudit(rctx, models.AuditEvent{
		OrgID: d.Client.OrgID, At: r.now(), Actor: "authz", Action: models.AuditReminderSent,
		ClientID: d.Client.ID, UserID: d.Client.OwnerID, Detail: string(detailJSON),
	})
	if err != nil {
		r.log.Error("audit event not written", "action", models.AuditReminderSent, "client_id", d.Client.ID, "user_id", d.Client.OwnerID, "error", err)
	}
	return true, nil
}

// reminder reads the stored row of a claimed reminder.
func (r *Reminders) reminder(ctx context.Context, key models.Reminder) (models.Reminder, error) {
	rows, err := r.store.Reminders(ctx, key.ClientID)
	if err != nil {
		return models.Reminder{}, err
	}
	for _, row := range rows {
		if row.Days == key.Days && row.ExpiresAt.Equal(key.ExpiresAt) && row.Channel == key.Channel {
			return row, nil
		}
	}
	return models.Reminder{}, fmt.Errorf("claimed reminder not found: %w", models.ErrNotFound)
}

// retryBackoff is the wait after the failures-th failed delivery.
func retryBackoff(failures int) time.Duration {
	d := retryBackoffBase
	for i := 1; i < failures && d < retryBackoffMax; i++ {
		d *= 2
	}
	return min(d, retryBackoffMax)
}

func (r *Reminders) attrs(d DueReminder) []any {
	return []any{
		"client_id", d.Client.ID, "name", d.Client.Name, "owner_email", ownerEmail(d.Client),
		"days", d.Days, "days_left", d.DaysLeft, "expires_at", d.ExpiresAt.Format(time.RFC3339),
	}
}

func ownerEmail(c *models.Client) string {
	if c.Owner == nil {
		return ""
	}
	return c.Owner.Email
}

// Run calls RunOnce at once and then every interval (0 or less:
// DefaultReminderInterval), logging its errors, until ctx is done. It
// returns once ctx is done and the run in progress, if any, has stopped: a
// webhook request in flight is cancelled and its reminder retried later,
// by this or another instance, once its claim lapses.
func (r *Reminders) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultReminderInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		sent, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// Almost always the database failing: an outage, logged at
			// WARN as everywhere else, and the next run retries.
			r.log.Warn("credential expiry reminders run failed; will retry", "sent", sent, "error", err)
		} else if sent > 0 {
			r.log.Info("credential expiry reminders sent", "sent", sent)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Expiring lists the active clients of the organization orgID whose
// effective expiry is within within from now, soonest first; clients
// already expired are left out.
func (r *Reminders) Expiring(ctx context.Context, orgID string, within time.Duration) ([]models.Expiring, error) {
	if orgID == "" {
		return nil, errNoOrganization
	}
	if within <= 0 {
		return nil, models.Errorf(models.KindInvalid, "invalid_within", "the expiry window must be positive")
	}
	p, err := r.store.Policy(ctx, orgID)
	if err != nil {
		return nil, err
	}
	now := r.now()
	return r.store.ExpiringClients(ctx, p, now, now.Add(within))
}
