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
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Kind is the class of an application error: what the caller did wrong or
// must wait for, whatever the code. The set is closed, and each transport
// answers a kind one way (web has the one table from kind to HTTP status).
// A body too large and a wrong media type are kinds of their own, not
// invalid requests with a special code, because the caller must change
// something else (the size, the Content-Type header) and the table then
// stays a function of the kind alone.
type Kind string

// The kinds.
const (
	KindInvalid              Kind = "invalid"                // the request breaks a rule; resending it as is fails again
	KindUnauthenticated      Kind = "unauthenticated"        // no, or no valid, session or credentials
	KindForbidden            Kind = "forbidden"              // the actor may not do this
	KindNotFound             Kind = "not_found"              // what the request names does not exist
	KindConflict             Kind = "conflict"               // the current state forbids it (already revoked, taken, at a limit)
	KindTooLarge             Kind = "too_large"              // the body is larger than the endpoint reads
	KindUnsupportedMediaType Kind = "unsupported_media_type" // the body is not of the media type the endpoint reads
	KindTooManyRequests      Kind = "too_many_requests"      // over a rate or failure budget; retry later
	KindUnavailable          Kind = "unavailable"            // the server cannot serve it now (database, busy); retry later
	KindInternal             Kind = "internal"               // anything else: a bug or an unexpected failure
)

// Error is the application's error: a kind, a stable machine-readable code
// (such as "scope_not_held_by_owner", returned by the admin API) and a
// message safe to show to the caller. Any other error is internal: its text
// is logged, never shown (see ErrorKind, ErrorCode and ErrorMessage).
//
// An Error without a Code only marks a kind: the sentinels below, which
// the Store wraps with context. Its text is for logs; callers are shown the
// kind's generic code and message.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter, when positive, is how long the caller should wait before
	// trying again (too many requests, unavailable).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Is matches by kind, and by code when the target has one: every
// not-found error is errors.Is(err, ErrNotFound), and
// errors.Is(err, ErrFileGone) holds only for that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Code == "" || t.Code == e.Code)
}

// Errorf returns an Error of the given kind and code with a formatted
// message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// The kinds callers branch on. The Store wraps them with context
// (fmt.Errorf("client %q: %w", id, ErrNotFound)).
var (
	ErrInvalid     = &Error{Kind: KindInvalid, Message: "invalid"}
	ErrForbidden   = &Error{Kind: KindForbidden, Message: "forbidden"}
	ErrNotFound    = &Error{Kind: KindNotFound, Message: "not found"}
	ErrConflict    = &Error{Kind: KindConflict, Message: "already exists"}
	ErrUnavailable = &Error{Kind: KindUnavailable, Message: "database unavailable"}
)

// ErrFileGone is Ping's error when the SQLite file at the configured path
// is no longer the one the Store opened: it was deleted or replaced while
// the server runs. The server still reads and writes the open (deleted)
// file, so what it writes from then on is lost when it stops.
var ErrFileGone = &Error{Kind: KindUnavailable, Code: "database_file_gone", Message: "the SQLite database file was deleted or replaced while open"}

// generic is the code and message shown for an Error without a code.
var generic = map[Kind]struct{ code, message string }{
	KindInvalid:              {"invalid_request", "the request is invalid"},
	KindUnauthenticated:      {"unauthenticated", "sign in first"},
	KindForbidden:            {"forbidden", "not allowed"},
	KindNotFound:             {"not_found", "not found"},
	KindConflict:             {"conflict", "the request conflicts with the current state"},
	KindTooLarge:             {"body_too_large", "the request body is too large"},
	KindUnsupportedMediaType: {"unsupported_media_type", "the request body's media type is not supported"},
	KindTooManyRequests:      {"too_many_requests", "too many requests; retry later"},
	KindUnavailable:          {"temporarily_unavailable", "the server cannot reach its database; retry later"},
	KindInternal:             {"internal", "internal error; it has been logged"},
}

// ErrorKind returns the kind of err's Error, KindInternal for any other
// error, and "" for nil.
func ErrorKind(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e) && generic[e.Kind].code != "":
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the code of err's Error (its kind's generic code when
// it has none), "internal" for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" && ErrorKind(err) != KindInternal {
		return e.Code
	}
	return generic[ErrorKind(err)].code
}

// ErrorMessage returns the message of err's Error, safe to show (its
// kind's generic message when it has no code), a generic message for any
// other error, and "" for nil.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != "" && ErrorKind(err) != KindInternal {
		return e.Message
	}
	return generic[ErrorKind(err)].message
}

// violated is the kind of a driver's constraint violation: KindConflict
// for a unique key (SQLSTATE 23505; SQLite's SQLITE_CONSTRAINT_UNIQUE or
// _PRIMARYKEY), KindNotFound for a foreign key that names no row (23503;
// SQLITE_CONSTRAINT_FOREIGNKEY), "" for anything else.
func violated(err error) Kind {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return KindConflict
		case "23503":
			return KindNotFound
		}
		return ""
	}
	return sqliteViolated(err)
}

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
	if isSQLite, down := sqliteUnavailable(err); isSQLite {
		return down
	}
	var netErr net.Error
	return errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}
