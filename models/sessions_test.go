package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// newSession stores a session of u started under u's current epoch.
func newSession(t *testing.T, s *models.Store, u *models.User, id string) *models.Session {
	t.Helper()
	sess := &models.Session{ID: id, UserID: u.ID, Epoch: u.SessionEpoch, ExpiresAt: time.Now().Add(time.Hour), IP: "192.0.2.1", UserAgent: "test"}
	if err := s.CreateSession(context.Background(), sess); err != nil {
		t.Fatalf("CreateSession %s: %v", id, err)
	}
	return sess
}

func newUser(t *testing.T, s *models.Store, email string) *models.User {
	t.Helper()
	u := &models.User{OrgID: models.DefaultOrgID, Email: email, Name: email, Role: models.RoleAdmin}
	if err := s.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// live returns which of the ids SessionByID finds.
func live(t *testing.T, s *models.Store, ids ...string) string {
	t.Helper()
	var out []string
	for _, id := range ids {
		_, err := s.SessionByID(context.Background(), id)
		switch {
		case err == nil:
			out = append(out, id)
		case !errors.Is(err, models.ErrNotFound):
			t.Fatalf("SessionByID %s: got %v, want nil or ErrNotFound", id, err)
		}
	}
	return strings.Join(out, ",")
}

func listed(t *testing.T, s *models.Store, userID string) string {
	t.Helper()
	list, err := s.ListSessions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sess := range list {
		out = append(out, sess.ID)
	}
	return strings.Join(out, ",")
}

func TestEndSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := context.Background()
		ann, bob := newUser(t, s, "ann@example.com"), newUser(t, s, "bob@example.com")
		a1, a2 := newSession(t, s, ann, "a1"), newSession(t, s, ann, "a2")
		newSession(t, s, ann, "a3")
		newSession(t, s, bob, "b1")
		if a1.Ref == "" || a1.Ref == a2.Ref || a1.Ref == a1.ID {
			t.Fatalf("refs %q, %q: want distinct random ids, not the session id", a1.Ref, a2.Ref)
		}
		if got := live(t, s, "a1", "a2", "a3", "b1"); got != "a1,a2,a3,b1" {
			t.Fatalf("live before: got %s", got)
		}

		// Ending all of ann's sessions but a2 leaves a2 and bob's alone.
		n, err := s.EndSessions(ctx, ann.ID, a2.ID)
		if err != nil || n != 2 {
			t.Fatalf("EndSessions: got %d, %v, want 2, nil", n, err)
		}
		if got := live(t, s, "a1", "a2", "a3", "b1"); got != "a2,b1" {
			t.Errorf("live after EndSessions(keep a2): got %s, want a2,b1", got)
		}
		if got := listed(t, s, ann.ID); got != "a2" {
			t.Errorf("ann's listed sessions: got %s, want a2", got)
		}

		// A sign-in whose password check began before the ending carries the
		// old epoch: its session is born ended, and is not listed.
		stale := newSession(t, s, ann, "stale") // ann.SessionEpoch is the value read before EndSessions
		if got := live(t, s, stale.ID); got != "" {
			t.Errorf("a session started under the old epoch is live")
		}
		if got := listed(t, s, ann.ID); got != "a2" {
			t.Errorf("listed with a stale session: got %s, want a2", got)
		}

		// A kept session that a concurrent call already ended stays ended.
		fresh, err := s.UserByID(ctx, models.DefaultOrgID, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		newSession(t, s, fresh, "a4")
		if _, err := s.EndSessions(ctx, ann.ID, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.EndSessions(ctx, ann.ID, "a4"); err != nil {
			t.Fatal(err)
		}
		if got := live(t, s, "a2", "a4", "b1"); got != "b1" {
			t.Errorf("live after ending all, then all but a4: got %s, want b1", got)
		}

		// UpdateUserEndSessions saves the change and ends the sessions at once.
		fresh, _ = s.UserByID(ctx, models.DefaultOrgID, ann.ID)
		newSession(t, s, fresh, "a5")
		newSession(t, s, fresh, "a6")
		fresh.Name = "Ann"
		if n, err := s.UpdateUserEndSessions(ctx, fresh, "a6"); err != nil || n != 1 {
			t.Fatalf("UpdateUserEndSessions: got %d, %v, want 1, nil", n, err)
		}
		if got, _ := s.UserByID(ctx, models.DefaultOrgID, ann.ID); got.Name != "Ann" {
			t.Errorf("name after UpdateUserEndSessions: got %q, want Ann", got.Name)
		}
		if got := live(t, s, "a5", "a6"); got != "a6" {
			t.Errorf("live after UpdateUserEndSessions(keep a6): got %s, want a6", got)
		}
		// An invalid change ends nothing.
		fresh.Role = "root"
		if _, err := s.UpdateUserEndSessions(ctx, fresh, ""); !errors.Is(err, models.ErrInvalid) {
			t.Errorf("invalid role: got %v, want ErrInvalid", err)
		}
		if got := live(t, s, "a6"); got != "a6" {
			t.Errorf("an invalid change ended a session")
		}
		if _, err := s.EndSessions(ctx, "no-such-user", ""); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("EndSessions of an unknown user: got %v, want ErrNotFound", err)
		}
	})
}

func TestDeleteUserSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := context.Background()
		ann, bob := newUser(t, s, "ann@example.com"), newUser(t, s, "bob@example.com")
		a1, a2 := newSession(t, s, ann, "a1"), newSession(t, s, ann, "a2")
		b1 := newSession(t, s, bob, "b1")
		for _, tc := range []struct {
			name, user, ref string
		}{
			{"another user's session", ann.ID, b1.Ref},
			{"by session id", ann.ID, a1.ID},
			{"NUL", ann.ID, "a\x00"},
			{"invalid UTF-8", ann.ID, "\xff"},
			{"user NUL", "\x00", a1.Ref},
		} {
			if err := s.DeleteUserSession(ctx, tc.user, tc.ref); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("%s: got %v, want ErrNotFound", tc.name, err)
			}
		}
		if err := s.DeleteUserSession(ctx, ann.ID, a1.Ref); err != nil {
			t.Fatal(err)
		}
		if got := live(t, s, a1.ID, a2.ID, b1.ID); got != "a2,b1" {
			t.Errorf("live: got %s, want a2,b1", got)
		}
		if err := s.DeleteUserSession(ctx, ann.ID, a1.Ref); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("again: got %v, want ErrNotFound", err)
		}
	})
}

func TestTouchSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := context.Background()
		clk := testutil.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
		s.Now = clk.Now
		ann := newUser(t, s, "ann@example.com")
		sess := &models.Session{ID: "a1", UserID: ann.ID, ExpiresAt: clk.Now().Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if !sess.LastSeenAt.Equal(sess.CreatedAt) {
			t.Errorf("a new session: last seen %v, created %v: want equal", sess.LastSeenAt, sess.CreatedAt)
		}
		seen := clk.Now().Add(5 * time.Minute)
		if err := s.TouchSession(ctx, "a1", seen); err != nil {
			t.Fatal(err)
		}
		got, err := s.SessionByID(ctx, "a1")
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeenAt.Equal(seen) || !got.CreatedAt.Equal(sess.CreatedAt) {
			t.Errorf("after touch: last seen %v, created %v; want %v, %v", got.LastSeenAt, got.CreatedAt, seen, sess.CreatedAt)
		}
	})
}

// A NUL or invalid UTF-8 in a looked-up email or id is "not found", never a
// database error (PostgreSQL refuses both in text); a user's name holding
// one, or a control character, is invalid.
func TestUserTextValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := context.Background()
		newUser(t, s, "ann@example.com")
		for _, email := range []string{"ann\x00@example.com", "ann@example.com\x00", "\xff@example.com", "ann@example.com\xc3", strings.Repeat("a", 300) + "@example.com"} {
			if _, err := s.UserByEmail(ctx, models.DefaultOrgID, email); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByEmail(%q): got %v, want ErrNotFound", email, err)
			}
		}
		for _, id := range []string{"\x00", "x\xff", strings.Repeat("a", 300)} {
			if _, err := s.UserByID(ctx, models.DefaultOrgID, id); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByID(%q): got %v, want ErrNotFound", id, err)
			}
		}
		for i, tc := range []struct {
			email, name string
			ok          bool
		}{
			{"nul@example.com", "A\x00B", false},
			{"utf8@example.com", "A\xffB", false},
			{"tab@example.com", "A\tB", false},
			{"del@example.com", "A\x7fB", false},
			{"c1@example.com", "A\u0085B", false},
			{"long@example.com", strings.Repeat("é", models.MaxNameLen+1), false},
			{"nul\x00@example.com", "Nul", false},
			{strings.Repeat("a", models.MaxEmailLen-11) + "@example.com", "Long", false},
			{"max@example.com", strings.Repeat("é", models.MaxNameLen), true},
			{"accent@example.com", "Zoë Ünal-O'Brien 王", true},
		} {
			u := &models.User{OrgID: models.DefaultOrgID, Email: tc.email, Name: tc.name}
			err := s.CreateUser(ctx, u)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, models.ErrInvalid)) {
				t.Errorf("case %d: CreateUser(%q, %q): got %v, want ok=%v or ErrInvalid", i, tc.email, tc.name, err, tc.ok)
			}
		}
		u, err := s.UserByEmail(ctx, models.DefaultOrgID, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		u.Name = "Ann\x00"
		if err := s.UpdateUser(ctx, u); !errors.Is(err, models.ErrInvalid) {
			t.Errorf("UpdateUser with a NUL in the name: got %v, want ErrInvalid", err)
		}
	})
}
