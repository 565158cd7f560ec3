package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// A reminder's webhook delivery is an HTTP POST of a JSON body:
//
//	{"type":"credential.expiring","id":"<client_id>:<days>:<expiry unix>",
//	 "client_id":"...","client_name":"...","owner_email":"...","owner_id":"...",
//	 "days_before":7,"days_left":7,"expires_at":"2026-05-01T12:00:00Z","sent_at":"2026-04-24T12:00:00Z"}
//
// days_before is the threshold (30, 7 or 1: which reminder this is, part
// of its id); days_left is the real time left when it fell due, in days
// rounded up (a client created ten days before its expiry gets the 30-day
// reminder with days_left 10).
//
// with the headers
//
//	Content-Type: application/json
//	Authz-Webhook-Id: <id>                  (the same for every retry)
//	Authz-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The signature covers the timestamp and the raw body. A receiver checks it
// before parsing the body, rejects timestamps more than a few minutes from
// its clock (replays) and ignores an id it has already processed. In Go:
//
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
//	if err != nil { ... }
//	err = app.VerifyWebhookSignature(secret, r.Header.Get("Authz-Signature"), body, time.Now(), 5*time.Minute)
//	if err != nil { http.Error(w, "bad signature", http.StatusUnauthorized); return }
//
// Elsewhere: split the header on ",", take t and each v1 (there may be more
// than one), compute HMAC-SHA256 over the bytes "<t>.<body>" with the shared
// secret, compare its hex form with a v1 in constant time, and check t.

// Webhook headers and event type.
const (
	WebhookIDHeader        = "Authz-Webhook-Id"
	WebhookSignatureHeader = "Authz-Signature"
	WebhookEventExpiring   = "credential.expiring"
)

// ErrWebhookSignature is returned (wrapped, with the reason) by
// VerifyWebhookSignature for every rejected delivery.
var ErrWebhookSignature = errors.New("invalid webhook signature")

// DefaultSignatureTolerance is VerifyWebhookSignature's tolerance when none
// is given.
const DefaultSignatureTolerance = 5 * time.Minute

type webhookEvent struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	OwnerEmail string `json:"owner_email"`
	OwnerID    string `json:"owner_id"`
	DaysBefore int    `json:"days_before"`
	DaysLeft   int    `json:"days_left"`
	ExpiresAt  string `json:"expires_at"`
	SentAt     string `json:"sent_at"`
}

// post delivers one reminder to the webhook: nil on a 2xx answer.
func (r *Reminders) post(ctx context.Context, url string, d DueReminder) error {
	now := r.now()
	body, err := json.Marshal(webhookEvent{
		Type: WebhookEventExpiring, ID: d.ID(),
		ClientID: d.Client.ID, ClientName: d.Client.Name, OwnerEmail: ownerEmail(d.Client), OwnerID: d.Client.OwnerID,
		DaysBefore: d.Days, DaysLeft: d.DaysLeft, ExpiresAt: d.ExpiresAt.UTC().Format(time.RFC3339), SentAt: now.UTC().Format(time.RFC3339),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, webhookDeadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	t := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "authz-reminders")
	req.Header.Set(WebhookIDHeader, d.ID())
	req.Header.Set(WebhookSignatureHeader, "t="+t+",v1="+hex.EncodeToString(webhookMAC(r.secret, t, body)))
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func webhookMAC(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhookSignature checks a webhook delivery as a receiver should:
// header is the Authz-Signature header ("t=<unix>,v1=<hex>", possibly with
// several v1 values), body the raw request body. It accepts the delivery
// when a v1 value is HMAC-SHA256(secret, "<t>.<body>") (compared in
// constant time) and t is within tolerance of now, either way (0: 5
// minutes). Every rejection wraps ErrWebhookSignature.
func VerifyWebhookSignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrWebhookSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	var (
		t    string
		sigs [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			if t != "" {
				return fmt.Errorf("%w: more than one timestamp", ErrWebhookSignature)
			}
			t = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(t, 10, 64)
	if err != nil || t != strconv.FormatInt(unix, 10) {
		return fmt.Errorf("%w: missing or malformed timestamp", ErrWebhookSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrWebhookSignature)
	}
	want := webhookMAC(secret, t, body)
	ok := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: signature mismatch", ErrWebhookSignature)
	}
	if age := now.Unix() - unix; age > int64(tolerance/time.Second) || -age > int64(tolerance/time.Second) {
		return fmt.Errorf("%w: timestamp %d is outside the %s tolerance", ErrWebhookSignature, unix, tolerance)
	}
	return nil
}
