package models

import (
	"context"
	"time"
)

// Session is an admin's signed-in session. ID is the SHA-256 of the
// session token, so a database read does not yield a usable cookie.
type Session struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	IP        string `gorm:"column:ip"`
	UserAgent string
	User      *User `gorm:"foreignKey:UserID"`
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	sess.CreatedAt = s.now()
	sess.ExpiresAt = sess.ExpiresAt.UTC()
	return translate(s.db.WithContext(ctx).Omit("User").Create(sess).Error, "create session")
}

// SessionByID returns an unexpired session with its user.
func (s *Store) SessionByID(ctx context.Context, id string) (*Session, error) {
	var sess Session
	err := s.db.WithContext(ctx).Joins("User").Where("sessions.id = ? AND sessions.expires_at > ?", id, s.now()).Take(&sess).Error
	if err != nil {
		return nil, translate(err, "session")
	}
	return &sess, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return translate(s.db.WithContext(ctx).Where("id = ?", id).Delete(&Session{}).Error, "delete session")
}

// DeleteExpiredSessions removes sessions that ended before t.
func (s *Store) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at < ?", t.UTC()).Delete(&Session{})
	return res.RowsAffected, translate(res.Error, "delete expired sessions")
}
