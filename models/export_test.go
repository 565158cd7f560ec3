package models

import "time"

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
