package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Session is an admin's signed-in session. ID is the SHA-256 of the
// session token, so a database read does not yield a usable cookie; Ref is
// a random public id by which a session is listed and ended, which says
// nothing about the token. Epoch is the user's SessionEpoch when the
// session started: once the user's sessions are ended the two differ, and
// the session is over whatever its row says.
type Session struct {
	ID         string `gorm:"primaryKey"`
	Ref        string
	UserID     string
	Epoch      int64
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	IP         string `gorm:"column:ip"`
	UserAgent  string
	User       *User `gorm:"foreignKey:UserID"`
}

// AuditSessionEnded is the audit action of ending sessions by hand: one
// (detail {"session": ref}) or all of a user's ({"all": true, "ended": n}).
// Sessions ended by a credential change are counted in that change's event.
const AuditSessionEnded = "session.ended"

// maxListedSessions bounds ListSessions.
const maxListedSessions = 1000

// CreateSession stores a session, assigning its ref. The caller sets Epoch
// to the user's SessionEpoch as read before the password was checked, so
// that sessions ended while the check ran include this one.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	if sess.Ref == "" {
		sess.Ref = uuid.NewString()
	}
	sess.CreatedAt = s.now()
	sess.LastSeenAt = sess.CreatedAt
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	return translate(s.db.WithContext(ctx).Omit("User").Create(sess).Error, "create session")
}

// SessionByID returns a live session (unexpired, not ended) with its user.
func (s *Store) SessionByID(ctx context.Context, id string) (*Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Joins("User").Where("sessions.id = ? AND sessions.expires_at > ?", id, s.now()).Take(&sess).Error
	if err != nil {
		return nil, translate(err, "session")
	}
	if sess.User == nil || sess.Epoch != sess.User.SessionEpoch {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	return &sess, nil
}

// ListSessions returns a user's live sessions, newest first (at most 1,000).
func (s *Store) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	var list []Session
	err := s.db.WithContext(ctx).
		Where("user_id = ? AND expires_at > ? AND epoch = (SELECT session_epoch FROM users WHERE id = ?)", userID, s.now(), userID).
		Order("created_at DESC, ref").Limit(maxListedSessions).Find(&list).Error
	return list, translate(err, "list sessions")
}

// TouchSession records that a session was used at t.
func (s *Store) TouchSession(ctx context.Context, id string, t time.Time) error {
	return translate(s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).Update("last_seen_at", t.UTC()).Error, "touch session")
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate(s.db.WithContext(ctx).Where("id = ?", id).Delete(&Session{}).Error, "delete session")
}

// DeleteUserSession ends the session of the user with the given ref.
func (s *Store) DeleteUserSession(ctx context.Context, userID, ref string) error {
	if !storableKey(userID, maxIDLen) || !storableKey(ref, maxIDLen) {
		return fmt.Errorf("session: %w", ErrNotFound)
	}
	res := s.db.WithContext(ctx).Where("user_id = ? AND ref = ?", userID, ref).Delete(&Session{})
	if res.Error != nil {
		return translate(res.Error, "delete session")
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("session %s: %w", ref, ErrNotFound)
	}
	return nil
}

// EndSessions ends every session of a user but keep (the id of the caller's
// own session, or ""), and returns how many rows it deleted. It bumps the user's
// SessionEpoch, so a session whose sign-in was under way ends as well, on
// every instance: no session is cached anywhere.
func (s *Store) EndSessions(ctx context.Context, userID, keep string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		n, err = endSessions(tx, userID, keep)
		return err
	})
	return n, translate(err, "end sessions of user "+userID)
}

// UpdateUserEndSessions is UpdateUser and EndSessions in one transaction,
// for a change that must end the user's sessions (a new password, a
// disable, a role change, a permission cut): either both happen or neither.
func (s *Store) UpdateUserEndSessions(ctx context.Context, u *User, keep string) (int64, error) {
	if err := u.Validate(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.updateUser(tx, u); err != nil {
			return err
		}
		var err error
		n, err = endSessions(tx, u.ID, keep)
		return err
	})
	return n, translate(err, "end sessions of user "+u.Email)
}

// endSessions bumps the user's epoch, deletes the other sessions and moves
// keep to the new epoch, provided keep was live until now (a session ended
// by a concurrent call stays ended).
func endSessions(tx *gorm.DB, userID, keep string) (int64, error) {
	res := tx.Exec("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", userID)
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected == 0 {
		return 0, fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	res = tx.Exec("DELETE FROM sessions WHERE user_id = ? AND id <> ?", userID, keep)
	if res.Error != nil {
		return 0, res.Error
	}
	if keep != "" {
		err := tx.Exec("UPDATE sessions SET epoch = epoch + 1 WHERE id = ? AND user_id = ? AND epoch = (SELECT session_epoch FROM users WHERE id = ?) - 1", keep, userID, userID).Error
		if err != nil {
			return 0, err
		}
	}
	return res.RowsAffected, nil
}

// DeleteExpiredSessions removes sessions that ended before t.
func (s *Store) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", t.UTC()).Delete(&Session{})
	return res.RowsAffected, translate(res.Error, "delete expired sessions")
}
