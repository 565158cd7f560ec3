package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/authz/authz/models"
)

// Admin sessions end when the credentials or rights they were granted under
// change: a new password, a disable, a role change or a permission cut ends
// every session of the user but the actor's own (so an admin changing their
// own password stays signed in where they did it, and nowhere else). The
// ending bumps the user's session epoch in the same transaction as the
// change, so it holds on every instance at the next request, and a sign-in
// whose password check was under way at the time yields a dead session.

// endsSessions reports whether changing old into u takes something away,
// which ends u's sessions: a disable, a role change (either way: an admin's
// session must not become a member's or the reverse unnoticed), a
// permission removed, or the right to create clients withdrawn.
func endsSessions(old, u *models.User) bool {
	return (old.Active() && !u.Active()) || old.Role != u.Role ||
		len(old.Permissions.Missing(u.Permissions)) > 0 || (old.MayCreateClients && !u.MayCreateClients)
}

// keep is the session to keep when the actor changes user userID: their
// own, when they are that user; none when an admin changes another user or
// the CLI changes anyone.
func (a Actor) keep(userID string) string {
	if a.User != nil && a.User.ID == userID {
		return a.Session
	}
	return ""
}

// checkSessionAccess refuses an actor who may not end userID's sessions:
// a person may end their own; an organization's owners and admins those of
// its members (a person of another organization is not found).
func (r *Registry) checkSessionAccess(ctx context.Context, a Actor, userID string) error {
	if a.User != nil && a.User.ID == userID {
		return nil
	}
	if err := a.requireManager("end another member's sessions"); err != nil {
		return err
	}
	_, err := r.store.UserByID(ctx, a.OrgID, userID)
	return err
}

// EndSession ends one session of a person, named by its ref, and audits it.
func (r *Registry) EndSession(ctx context.Context, actor Actor, userID, ref string) error {
	if err := r.checkSessionAccess(ctx, actor, userID); err != nil {
		return err
	}
	if err := r.store.DeleteUserSession(ctx, userID, ref); err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditSessionEnded, "", userID, map[string]any{"session": ref})
	return nil
}

// EndSessions ends every session of a person, the actor's own included (a
// person's "sign out everywhere"), audits it and returns how many ended.
func (r *Registry) EndSessions(ctx context.Context, actor Actor, userID string) (int64, error) {
	if err := r.checkSessionAccess(ctx, actor, userID); err != nil {
		return 0, err
	}
	n, err := r.store.EndSessions(ctx, userID, "")
	if err != nil {
		return 0, err
	}
	r.audit(ctx, actor, models.AuditSessionEnded, "", userID, map[string]any{"all": true, "ended": n})
	return n, nil
}

// SessionStore is what Sessions reads and writes.
type SessionStore interface {
	CreateSession(ctx context.Context, s *models.Session) error
	SessionByID(ctx context.Context, id string) (*models.Session, error)
	DeleteSession(ctx context.Context, id string) error
	TouchSession(ctx context.Context, id string, t time.Time) error
	Memberships(ctx context.Context, userID string) ([]models.OrgMembership, error)
}

// activeMember reports whether the person userID has an active membership
// of at least one organization: what signing in and staying signed in
// take.
func activeMember(ctx context.Context, store interface {
	Memberships(ctx context.Context, userID string) ([]models.OrgMembership, error)
}, userID string) (bool, error) {
	ms, err := store.Memberships(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Status == models.StatusActive {
			return true, nil
		}
	}
	return false, nil
}

// Admin sessions: a sign-in with email and password yields a random
// 256-bit token, which the caller keeps (web: in a cookie). The database
// keeps only its SHA-256, so a read of the sessions table yields no usable
// token. A session lasts SessionLifetime from sign-in, and ends early on
// sign-out, when it is ended from the session list, or when its user's
// password, status, role or permissions change (endsSessions). Every
// request reads the session from the database, so an ending holds on every
// instance at once.
const (
	SessionLifetime = 24 * time.Hour
	sessionTokenLen = 43 // base64url of 32 bytes
	// sessionTouchEvery is how stale a session's last-seen time may get:
	// it costs a write at most this often per session.
	sessionTouchEvery = time.Minute
)

// ErrNoSession is Resume's answer to a token that names no session: the
// caller never signed in, or signed out. (An expired session or a disabled
// user is an unauthenticated Error with its own message.)
var ErrNoSession = errors.New("no session")

// Sessions starts, resumes and ends admin sessions.
type Sessions struct {
	store SessionStore
	now   func() time.Time
	log   *slog.Logger
}

// NewSessions returns Sessions on store; now is the clock (nil: time.Now).
func NewSessions(store SessionStore, now func() time.Time, log *slog.Logger) *Sessions {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sessions{store: store, now: now, log: log}
}

// sessionID is the stored id of a session token.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// validSessionToken reports whether tok has the form of a session token,
// so that garbage costs no database lookup.
func validSessionToken(tok string) bool {
	if len(tok) != sessionTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil
}

// Resume returns the live session of token with its person (User, without
// a membership: what they may do is their membership's of the organization
// they act in), or ErrNoSession, or an unauthenticated Error (expired, no
// active membership left). It records
// the session's last-seen time at most every sessionTouchEvery.
func (s *Sessions) Resume(ctx context.Context, token string) (*models.Session, error) {
	if !validSessionToken(token) {
		return nil, ErrNoSession
	}
	sess, err := s.store.SessionByID(ctx, sessionID(token))
	if errors.Is(err, models.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return nil, models.Errorf(models.KindUnauthenticated, "unauthenticated", "the session has expired: sign in again")
	}
	active := false
	if sess.User != nil {
		if active, err = activeMember(ctx, s.store, sess.User.ID); err != nil {
			return nil, err
		}
	}
	if !active {
		return nil, models.Errorf(models.KindUnauthenticated, "unauthenticated", "the user is disabled")
	}
	if now := s.now(); now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		// Only for display: a failed write does not fail the request.
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			s.log.WarnContext(ctx, "session last-seen time not saved", "error", err)
		} else {
			sess.LastSeenAt = now
		}
	}
	return sess, nil
}

// Start starts a session for a user who just signed in and returns its
// token, to be shown to no one but the caller. A sign-in always starts a
// new session: the one of old, a token the caller still holds, ends.
func (s *Sessions) Start(ctx context.Context, user *models.User, ip, userAgent, old string) (string, *models.Session, error) {
	if validSessionToken(old) {
		_ = s.store.DeleteSession(ctx, sessionID(old))
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails: crypto/rand crashes the program instead
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	if len(userAgent) > 256 {
		userAgent = strings.ToValidUTF8(userAgent[:256], "")
	}
	// The epoch is the user's as read before the password was checked: if
	// their sessions were ended meanwhile, this one is born ended.
	sess := &models.Session{ID: sessionID(token), UserID: user.ID, Epoch: user.SessionEpoch, ExpiresAt: s.now().Add(SessionLifetime).UTC(), IP: ip, UserAgent: userAgent}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// End ends the session of token (a sign-out); a token of no session is
// no error.
func (s *Sessions) End(ctx context.Context, token string) error {
	if !validSessionToken(token) {
		return nil
	}
	return s.store.DeleteSession(ctx, sessionID(token))
}
