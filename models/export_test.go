package models

import (
	"context"
	"time"
)

// SetAuthVersionCheck replaces authVersionCheck until the returned function
// runs.
func SetAuthVersionCheck(d time.Duration) (restore func()) {
	old := authVersionCheck
	authVersionCheck = d
	return func() { authVersionCheck = old }
}

// AuthVersionReads is how many times s queried auth_version.
func AuthVersionReads(s *Store) int64 { return s.authVersionReads.Load() }

// NoIdleConns makes s close every pooled connection as soon as it is
// returned, as a long idle period would.
func NoIdleConns(s *Store) { s.sqlDB.SetMaxIdleConns(0) }

// ReadAuthVersion queries auth_version, as AuthVersion does when the
// database changed (or always, on PostgreSQL).
func (s *Store) ReadAuthVersion(ctx context.Context) (int64, error) { return s.readAuthVersion(ctx) }
