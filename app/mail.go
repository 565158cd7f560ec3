package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Mailer sends email through one SMTP server, with the standard library's
// net/smtp and crypto/tls.
//
// An smtp:// URL connects in plain text and upgrades with STARTTLS
// whenever the server offers it; when the URL carries a user name and
// password, a server that does not offer STARTTLS is refused rather than
// sent the credentials in clear. An smtps:// URL connects with TLS from
// the start (implicit TLS, RFC 8314). Credentials are sent with AUTH
// PLAIN, only over TLS. The password never appears in an error: errors
// name the server by its redacted URL.
type Mailer struct {
	addr     string // host:port
	host     string
	implicit bool
	user     string
	password string
	redacted string
	from     mail.Address
	tls      *tls.Config
	dialer   net.Dialer
}

// MailerConfig configures NewMailer.
type MailerConfig struct {
	// URL is smtp://[user:password@]host[:port] (port 587 by default) or
	// smtps://[user:password@]host[:port] (port 465 by default).
	URL string
	// From is the sender's address, e.g. "authz <authz@example.com>".
	From string
	// TLS, when set, is the TLS configuration (its ServerName is set to
	// the URL's host); default: the system's roots.
	TLS *tls.Config
}

// NewMailer checks cfg and returns a Mailer; it does not connect.
func NewMailer(cfg MailerConfig) (*Mailer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the URL, password included.
		return nil, errors.New("SMTP URL: want smtp://[user:password@]host[:port] or smtps://…")
	}
	m := &Mailer{redacted: u.Redacted()}
	port := "587"
	switch u.Scheme {
	case "smtp":
	case "smtps":
		m.implicit, port = true, "465"
	default:
		return nil, fmt.Errorf("SMTP URL %s: want the scheme smtp or smtps", m.redacted)
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("SMTP URL %s: want smtp://[user:password@]host[:port], nothing after the port", m.redacted)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	m.host = u.Hostname()
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.user = u.User.Username()
		m.password, _ = u.User.Password()
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("SMTP sender %q: want an email address such as authz@example.com", cfg.From)
	}
	m.from = *from
	if cfg.TLS != nil {
		m.tls = cfg.TLS.Clone()
	} else {
		m.tls = &tls.Config{}
	}
	m.tls.ServerName = m.host
	if m.tls.MinVersion == 0 {
		m.tls.MinVersion = tls.VersionTLS12
	}
	return m, nil
}

// String is the server's URL, password redacted.
func (m *Mailer) String() string { return m.redacted }

// From is the sender's address.
func (m *Mailer) From() mail.Address { return m.from }

// Send delivers msg (a complete message, headers and body, CRLF line
// ends) to the address to in one SMTP session. ctx bounds the whole
// session.
func (m *Mailer) Send(ctx context.Context, to string, msg []byte) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("SMTP %s: %w", m.redacted, err)
		}
	}()
	conn, err := m.dialer.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if m.implicit {
		tc := tls.Client(conn, m.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tls); err != nil {
				return err
			}
		} else if m.user != "" {
			return errors.New("the server does not offer STARTTLS: credentials are never sent in clear (use smtps:// for implicit TLS)")
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.password, m.host)); err != nil {
			return err
		}
	}
	if err := c.Mail(m.from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// Email is a plain-text message.
type Email struct {
	From    mail.Address
	To      mail.Address
	Subject string
	Date    time.Time
	Body    string
}

// Bytes renders e with its Date, Message-ID, From, To and Subject headers,
// a UTF-8 plain-text body in quoted-printable and CRLF line ends. Control
// characters (CR and LF among them) in the subject and the names are
// replaced by spaces, and non-ASCII text is MIME-encoded, so that no value
// can add a header.
func (e Email) Bytes() []byte {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name + ": " + value + "\r\n")
	}
	header("Date", e.Date.Format(time.RFC1123Z))
	header("Message-ID", messageID(e.From.Address))
	header("From", address(e.From))
	header("To", address(e.To))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(e.Subject)))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(e.Body, "\r\n", "\n"), "\n", "\r\n")
	_, _ = qp.Write([]byte(body))
	_ = qp.Close()
	return b.Bytes()
}

// address formats a with its name cleaned to one line (mail.Address
// quotes and encodes the rest).
func address(a mail.Address) string {
	a.Name = oneLine(a.Name)
	return a.String()
}

// oneLine replaces every control character of s by a space.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// messageID returns a new Message-ID in the sender's domain.
func messageID(from string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	domain := "authz.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}
