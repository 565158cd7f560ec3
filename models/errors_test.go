package models_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// What callers are shown of an error: an Error's own code and message, its
// kind's generic ones when it only marks a kind, and nothing of any other
// error's text.
func TestErrorVocabulary(t *testing.T) {
	coded := models.Errorf(models.KindInvalid, "scope_not_held_by_owner", "owner %s does not hold: %s", "a@example.com", "x:write")
	for _, tc := range []struct {
		name          string
		err           error
		kind          models.Kind
		code, message string
	}{
		{"nil", nil, "", "", ""},
		{"coded", coded, models.KindInvalid, "scope_not_held_by_owner", "owner a@example.com does not hold: x:write"},
		{"coded, wrapped", fmt.Errorf("create client: %w", coded), models.KindInvalid, "scope_not_held_by_owner", "owner a@example.com does not hold: x:write"},
		{"a kind only, wrapped", fmt.Errorf("client %q: %w", "c1", models.ErrNotFound), models.KindNotFound, "not_found", "not found"},
		{"conflict", fmt.Errorf("create user: %w", models.ErrConflict), models.KindConflict, "conflict", "the request conflicts with the current state"},
		{"unavailable", fmt.Errorf("list users: %w: %w", models.ErrUnavailable, errors.New("dial tcp: connection refused")), models.KindUnavailable, "temporarily_unavailable", "the server cannot reach its database; retry later"},
		{"any other error", errors.New("pq: secret detail"), models.KindInternal, "internal", "internal error; it has been logged"},
		{"internal, with a message", models.Errorf(models.KindInternal, "oops", "secret detail"), models.KindInternal, "internal", "internal error; it has been logged"},
		{"a kind not in the set", &models.Error{Kind: "teapot", Code: "teapot", Message: "secret detail"}, models.KindInternal, "internal", "internal error; it has been logged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.ErrorKind(tc.err); got != tc.kind {
				t.Errorf("ErrorKind: got %q, want %q", got, tc.kind)
			}
			if got := models.ErrorCode(tc.err); got != tc.code {
				t.Errorf("ErrorCode: got %q, want %q", got, tc.code)
			}
			if got := models.ErrorMessage(tc.err); got != tc.message {
				t.Errorf("ErrorMessage: got %q, want %q", got, tc.message)
			}
		})
	}
}

// errors.Is matches an Error by kind, and by code when the target has one.
func TestErrorIs(t *testing.T) {
	gone := fmt.Errorf("ping: %w", models.ErrFileGone)
	userNotFound := models.Errorf(models.KindNotFound, "user_not_found", "no user with email %q", "a@example.com")
	for _, tc := range []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"coded error, its kind", userNotFound, models.ErrNotFound, true},
		{"coded error, another kind", userNotFound, models.ErrConflict, false},
		{"coded error, same kind and code", userNotFound, models.Errorf(models.KindNotFound, "user_not_found", "other text"), true},
		{"coded error, same kind, another code", userNotFound, models.Errorf(models.KindNotFound, "client_not_found", ""), false},
		{"file gone, itself", gone, models.ErrFileGone, true},
		{"file gone, its kind", gone, models.ErrUnavailable, true},
		{"unavailable is not file gone", fmt.Errorf("x: %w", models.ErrUnavailable), models.ErrFileGone, false},
		{"a plain error", errors.New("not found"), models.ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.target); got != tc.want {
				t.Errorf("errors.Is(%v, %v): got %v, want %v", tc.err, tc.target, got, tc.want)
			}
		})
	}
}

// A constraint violation is mapped by the driver's code (SQLSTATE, SQLite's
// extended result code), also for a statement run past gorm, whose
// TranslateError does not see it.
func TestTranslateDriverViolations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := t.Context()
		insert := "INSERT INTO settings (name, value) VALUES ('translate_test', 'v')"
		if err := models.ExecRaw(ctx, s, insert); err != nil {
			t.Fatalf("first insert: %v", err)
		}
		if err := models.ExecRaw(ctx, s, insert); !errors.Is(err, models.ErrConflict) {
			t.Errorf("duplicate key: got %v, want ErrConflict", err)
		}
		orphan := "INSERT INTO sessions (id, ref, user_id, epoch, created_at, expires_at, last_seen_at) " +
			"VALUES ('s1', 'r1', 'no-such-user', 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
		if err := models.ExecRaw(ctx, s, orphan); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("foreign key naming no row: got %v, want ErrNotFound", err)
		}
	})
}
