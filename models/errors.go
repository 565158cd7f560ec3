package models

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// Error is a domain error with a stable machine-readable code (such as
// "scope_not_held_by_owner") and a message safe to show to the caller. It
// unwraps to one of ErrInvalid, ErrNotFound or ErrConflict.
type Error struct {
	Code string
	Msg  string
	Kind error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the error's kind.
func (e *Error) Unwrap() error { return e.Kind }

// Invalidf returns an ErrInvalid domain error with the given code.
func Invalidf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrInvalid}
}

// ErrForbidden marks an action the actor may not take.
var ErrForbidden = errors.New("forbidden")

// Forbiddenf returns an ErrForbidden domain error with the given code.
func Forbiddenf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrForbidden}
}

// Conflictf returns an ErrConflict domain error with the given code.
func Conflictf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrConflict}
}

// ErrUnavailable marks a database that cannot be reached or used right
// now: the connection is refused, lost or timed out, the server is
// shutting down, or the SQLite file cannot be opened or is locked. Nothing
// is wrong with the request; the same request may succeed later.
var ErrUnavailable = errors.New("database unavailable")

// ErrFileGone is Ping's error when the SQLite file at the configured path
// is no longer the one the Store opened: it was deleted or replaced while
// the server runs. The server still reads and writes the open (deleted)
// file, so what it writes from then on is lost when it stops.
var ErrFileGone = errors.New("the SQLite database file was deleted or replaced while open")

// unavailable reports whether err says the database could not be reached
// or used, as opposed to a statement it refused.
func unavailable(err error) bool {
	// Whatever the server answered a connection attempt with (refusal,
	// shutting down, too many connections, authentication), no statement
	// ran: the request was not at fault.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exceptions; 57P01-57P03: the server is
		// shutting down, crashed or starting; 53300: too many connections.
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03" || c == "53300"
	}
	var sqliteErr sqlite3.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code {
		case sqlite3.ErrCantOpen, sqlite3.ErrIoErr, sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrPerm, sqlite3.ErrReadonly:
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}
