package app

import (
	"context"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/models"
)

// recipients returns who is emailed a client's reminders: its owner and
// its creator, deduplicated (case-insensitively), leaving out a creator
// that is no email address (the operator at the CLI, "cli").
func recipients(c *models.Client) []mail.Address {
	var out []mail.Address
	for _, s := range []string{ownerEmail(c), c.CreatedBy} {
		a, err := mail.ParseAddress(s)
		if err != nil || a.Address == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o.Address, a.Address)
		}
		if !dup {
			out = append(out, mail.Address{Address: a.Address})
		}
	}
	return out
}

// mail sends the reminder d by email to to.
func (r *Reminders) mail(ctx context.Context, d DueReminder, to mail.Address) error {
	msg, err := r.reminderEmail(ctx, d, to)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, webhookDeadline)
	defer cancel()
	return r.mailer.Send(ctx, to.Address, msg.Bytes())
}

// reminderEmail writes the reminder's message: which credential, when it
// expires, how many days are left, and what to do, with a link to its
// console page.
func (r *Reminders) reminderEmail(ctx context.Context, d DueReminder, to mail.Address) (Email, error) {
	c := d.Client
	org, err := r.store.OrganizationByID(ctx, c.OrgID)
	if err != nil {
		return Email{}, err
	}
	project := "all projects of the organization (an organization-wide client)"
	if c.ProjectID != "" {
		p, err := r.store.ProjectByID(ctx, c.OrgID, c.ProjectID)
		if err != nil {
			return Email{}, err
		}
		project = fmt.Sprintf("%s (%s)", oneLine(p.Name), p.Slug)
	}
	left := "1 day"
	if d.DaysLeft != 1 {
		left = fmt.Sprintf("%d days", d.DaysLeft)
	}
	exp := d.ExpiresAt.UTC().Format("Monday 2 January 2006, 15:04 MST")
	link := r.consoleURL + "/admin/o/" + url.PathEscape(org.Slug) + "/clients/" + url.PathEscape(c.ID)
	name := oneLine(c.Name)
	var b strings.Builder
	fmt.Fprintf(&b, "The API credential %q expires in %s, on %s.\n\n", name, left, exp)
	fmt.Fprintf(&b, "  Name:          %s\n", name)
	fmt.Fprintf(&b, "  Client ID:     %s\n", c.ID)
	fmt.Fprintf(&b, "  Organization:  %s (%s)\n", oneLine(org.Name), org.Slug)
	fmt.Fprintf(&b, "  Project:       %s\n", project)
	fmt.Fprintf(&b, "  Owner:         %s\n", ownerEmail(c))
	fmt.Fprintf(&b, "  Expires:       %s\n\n", d.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "After that moment the applications using it can no longer obtain tokens.\n")
	fmt.Fprintf(&b, "To keep them working, renew the credential before then on its page:\n\n  %s\n\n", link)
	fmt.Fprintf(&b, "You receive this because you own or created this credential. Reminders are\n")
	fmt.Fprintf(&b, "sent %s before a credential expires.\n", r.thresholdText())
	return Email{
		From:    r.mailer.From(),
		To:      to,
		Subject: fmt.Sprintf("API credential %q expires in %s", name, left),
		Date:    r.now(),
		Body:    b.String(),
	}, nil
}

// thresholdText lists the thresholds: "30, 7 and 1 days".
func (r *Reminders) thresholdText() string {
	var parts []string
	for i := len(r.thresholds) - 1; i >= 0; i-- {
		parts = append(parts, fmt.Sprint(r.thresholds[i]))
	}
	if len(parts) == 1 {
		return parts[0] + " days"
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1] + " days"
}
