// Package smtptest runs a real SMTP server in the test's process (the
// receiving end is github.com/emersion/go-smtp) that offers STARTTLS with a
// certificate made for the test, accepts AUTH PLAIN with one user name and
// password, and keeps the messages it receives. For tests only.
package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/internal/testtls"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	// TLS reports whether the session was encrypted when the message was
	// sent; Auth the user name it authenticated as ("" if none).
	TLS  bool
	Auth string
	Raw  []byte
	// Parsed is Raw parsed by net/mail; its body, decoded from
	// quoted-printable when so marked, is Body.
	Parsed *mail.Message
	Body   string
}

// Server is a running SMTP server.
type Server struct {
	// Addr is host:port.
	Addr string
	// User and Password are the credentials it accepts.
	User, Password string
	// TLS trusts the server's certificate (for the sending client).
	TLS *tls.Config

	srv *smtp.Server

	mu       sync.Mutex
	messages []Message
	// fail, when set, answers the DATA of message n (from 1) with an
	// error when it returns true.
	fail     func(n int) bool
	attempts int
	// arrived is closed and replaced at every accepted message.
	arrived chan struct{}
}

// Config chooses what the server offers.
type Config struct {
	// NoSTARTTLS: the server does not offer STARTTLS.
	NoSTARTTLS bool
	// ImplicitTLS: the server speaks TLS from the first byte (smtps).
	ImplicitTLS bool
}

// Start runs a server until the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	ca := testtls.NewCA(t)
	cert := ca.TLSLeaf(t, 1)
	s := &Server{User: "mailer", Password: "s3cret-smtp-pässword", TLS: &tls.Config{RootCAs: ca.Pool}, arrived: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.ErrorLog = discard{}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var ln net.Listener
	var err error
	if cfg.ImplicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if !cfg.NoSTARTTLS {
			s.srv.TLSConfig = tlsCfg
		}
	}
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	// Without STARTTLS the server must still offer AUTH, so that a client
	// sending credentials in clear would be seen doing so.
	s.srv.AllowInsecureAuth = cfg.NoSTARTTLS
	s.Addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// URL is the smtp:// (or with scheme "smtps") URL naming the server with
// its credentials.
func (s *Server) URL(scheme string) string {
	return (&url.URL{Scheme: scheme, User: url.UserPassword(s.User, s.Password), Host: s.Addr}).String()
}

// FailWhen makes the server refuse the DATA of the n-th message attempt
// (from 1) when fail(n) is true.
func (s *Server) FailWhen(fail func(n int) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait returns the messages once at least n have arrived, or nil when ctx
// ends first.
func (s *Server) Wait(ctx context.Context, n int) []Message {
	for {
		s.mu.Lock()
		got, arrived := len(s.messages), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Messages()
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil
		}
	}
}

type session struct {
	s    *Server
	conn *smtp.Conn
	auth string
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != ss.s.User || password != ss.s.Password {
			return smtp.ErrAuthFailed
		}
		ss.auth = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.fail != nil && s.fail(s.attempts) {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := Message{From: ss.from, To: ss.to, TLS: isTLS, Auth: ss.auth, Raw: raw}
	if m.Parsed, err = mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		var body io.Reader = m.Parsed.Body
		if strings.EqualFold(m.Parsed.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		b, _ := io.ReadAll(body)
		m.Body = string(b)
	}
	s.messages = append(s.messages, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
