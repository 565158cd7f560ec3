//go:build cgo

package models

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// SQLiteAvailable reports whether this build can open sqlite: databases.
// The SQLite driver (mattn/go-sqlite3) is C code: a build with
// CGO_ENABLED=0 serves PostgreSQL only (sqlite_nocgo.go).
const SQLiteAvailable = true

// sqliteViolated is violated for SQLite's errors.
func sqliteViolated(err error) Kind {
	var sqliteErr sqlite3.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return KindConflict
		case sqlite3.ErrConstraintForeignKey:
			return KindNotFound
		}
	}
	return ""
}

// sqliteUnavailable is unavailable for SQLite's errors: isSQLite reports
// whether err is one.
func sqliteUnavailable(err error) (isSQLite, unavailable bool) {
	var sqliteErr sqlite3.Error
	if !errors.As(err, &sqliteErr) {
		return false, false
	}
	switch sqliteErr.Code {
	case sqlite3.ErrCantOpen, sqlite3.ErrIoErr, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrPerm, sqlite3.ErrReadonly:
		return true, true
	}
	return true, false
}
