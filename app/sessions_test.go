package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// startSessions stores n sessions of the user as a sign-in would (under
// the user's current epoch) and returns their ids.
func (e *passwordEnv) startSessions(t *testing.T, u *models.User, n int) []string {
	t.Helper()
	ctx := context.Background()
	fresh, err := e.store.UserByID(ctx, models.DefaultOrgID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range n {
		id := fmt.Sprintf("%s-%d-%d", u.Email, fresh.SessionEpoch, len(ids))
		if err := e.store.CreateSession(ctx, &models.Session{ID: id, UserID: u.ID, Epoch: fresh.SessionEpoch, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// liveOf returns how many of the sessions are live.
func (e *passwordEnv) liveOf(t *testing.T, ids []string) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		_, err := e.store.SessionByID(context.Background(), id)
		switch {
		case err == nil:
			n++
		case !errors.Is(err, models.ErrNotFound):
			t.Fatal(err)
		}
	}
	return n
}

// A new password, a disable, a role change and a permission cut end the
// user's sessions, but the actor's own current one; other changes end none.
func TestCredentialChangesEndSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "a long enough password"
		e.member.Permissions = models.NewSet("a:read", "a:write")
		e.admin.Permissions = models.NewSet("x:read", "x:write")
		for _, u := range []*models.User{e.member, e.admin} {
			if err := e.store.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name   string
			self   bool // the admin changes themselves, acting in their first session
			cli    bool
			change func(u *models.User)
			// password set instead of change
			password bool
			// sessions of the target left live out of 3
			want int
		}{
			{name: "admin sets a member's password", password: true, want: 0},
			{name: "CLI sets a member's password", cli: true, password: true, want: 0},
			{name: "admin sets own password", self: true, password: true, want: 1},
			{name: "CLI sets the admin's password", cli: true, self: true, password: true, want: 0},
			{name: "disable", change: func(u *models.User) { u.Status = models.StatusDisabled }, want: 0},
			{name: "enable", change: func(u *models.User) { u.Status = models.StatusActive }, want: 3},
			{name: "promote", change: func(u *models.User) { u.Role = models.RoleAdmin }, want: 0},
			{name: "demote", change: func(u *models.User) { u.Role = models.RoleMember }, want: 0},
			{name: "permission cut", change: func(u *models.User) { u.Permissions = models.NewSet("a:read") }, want: 0},
			{name: "permission added", change: func(u *models.User) { u.Permissions = models.NewSet("a:read", "a:write", "b:read") }, want: 3},
			{name: "may create granted", change: func(u *models.User) { u.MayCreateClients = true }, want: 3},
			{name: "may create withdrawn", change: func(u *models.User) { u.MayCreateClients = false }, want: 0},
			{name: "rename", change: func(u *models.User) { u.Name = "Renamed" }, want: 3},
			{name: "admin cuts own permissions", self: true, change: func(u *models.User) { u.Permissions = models.NewSet("x:read") }, want: 1},
			{name: "CLI cuts the admin's permissions", cli: true, self: true, change: func(u *models.User) { u.Permissions = models.Set{} }, want: 0},
		} {
			target := e.member
			if tc.self {
				target = e.admin
			}
			ids := e.startSessions(t, target, 3)
			actor := e.adminA
			switch {
			case tc.cli:
				actor = cli
			case tc.self:
				actor.Session = ids[0]
			default:
				actor.Session = e.startSessions(t, e.admin, 1)[0]
			}
			var err error
			if tc.password {
				err = e.reg.SetPassword(ctx, actor, target.Email, pw)
			} else {
				u, uerr := e.store.UserByID(ctx, models.DefaultOrgID, target.ID)
				if uerr != nil {
					t.Fatal(uerr)
				}
				tc.change(u)
				err = e.reg.UpdateUser(ctx, actor, u, tc.name)
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := e.liveOf(t, ids); got != tc.want {
				t.Errorf("%s: %d of the target's 3 sessions live, want %d", tc.name, got, tc.want)
			}
			if tc.want == 1 {
				if got := e.liveOf(t, ids[:1]); got != 1 {
					t.Errorf("%s: the actor's own session ended", tc.name)
				}
			}
			if !tc.self && !tc.cli && e.liveOf(t, []string{actor.Session}) != 1 {
				t.Errorf("%s: the acting admin's session ended", tc.name)
			}
			// The count is in the change's audit event.
			action := models.AuditUserUpdated
			if tc.password {
				action = models.AuditPasswordUpdated
			}
			events, err := e.store.Audit(ctx, models.AuditFilter{Action: action, UserID: target.ID, Limit: 1})
			if err != nil || len(events) != 1 {
				t.Fatalf("%s: audit: %v, %d events", tc.name, err, len(events))
			}
			ended := 3 - tc.want
			if has := strings.Contains(events[0].Detail, fmt.Sprintf(`"sessions_ended":%d`, ended)); has != (tc.want < 3) {
				t.Errorf("%s: audit detail %s; want sessions_ended %d only when sessions ended", tc.name, events[0].Detail, ended)
			}
			// No session is left for the next case.
			for _, u := range []*models.User{e.member, e.admin} {
				if _, err := e.store.EndSessions(ctx, u.ID, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// A sign-in whose password check runs while the password is changed yields
// a session that is over before it is used.
func TestSignInDuringPasswordChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "a long enough password"
		if err := e.reg.SetPassword(ctx, cli, e.member.Email, pw); err != nil {
			t.Fatal(err)
		}
		u, err := e.reg.SignIn(ctx, "192.0.2.9", e.member.Email, pw) // checked against the old password
		if err != nil {
			t.Fatal(err)
		}
		if err := e.reg.SetPassword(ctx, e.adminA, e.member.Email, pw+" but new"); err != nil {
			t.Fatal(err)
		}
		// The web layer now stores the session under the epoch SignIn read.
		if err := e.store.CreateSession(ctx, &models.Session{ID: "late", UserID: u.ID, Epoch: u.SessionEpoch, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.SessionByID(ctx, "late"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("session of a sign-in under the old password: got %v, want ErrNotFound", err)
		}
	})
}

func TestEndSessionsByHand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		mine := e.startSessions(t, e.member, 2)
		admins := e.startSessions(t, e.admin, 1)
		member := e.memberA
		member.Session = mine[0]
		list, err := e.store.ListSessions(ctx, e.member.ID)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListSessions: %v, %d sessions", err, len(list))
		}
		other := list[0]
		if other.ID == mine[0] {
			other = list[1]
		}
		// A member may end their own sessions, not an admin's.
		if err := e.reg.EndSession(ctx, member, e.admin.ID, "whatever"); codeOf(err) != "admin_required" {
			t.Errorf("member ends an admin's session: got %v, want admin_required", err)
		}
		if _, err := e.reg.EndSessions(ctx, member, e.admin.ID); codeOf(err) != "admin_required" {
			t.Errorf("member ends an admin's sessions: got %v, want admin_required", err)
		}
		if e.liveOf(t, admins) != 1 {
			t.Fatal("a refused call ended a session")
		}
		if err := e.reg.EndSession(ctx, member, e.member.ID, other.Ref); err != nil {
			t.Fatal(err)
		}
		if got := e.liveOf(t, mine); got != 1 {
			t.Errorf("after ending one of two: %d live, want 1", got)
		}
		if err := e.reg.EndSession(ctx, member, e.member.ID, other.Ref); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("ending it again: got %v, want ErrNotFound", err)
		}
		// Sign out everywhere ends the current session as well.
		if n, err := e.reg.EndSessions(ctx, member, e.member.ID); err != nil || n != 1 {
			t.Errorf("EndSessions: got %d, %v, want 1, nil", n, err)
		}
		if got := e.liveOf(t, mine); got != 0 {
			t.Errorf("after sign out everywhere: %d live, want 0", got)
		}
		// Admins may end anyone's.
		theirs := e.startSessions(t, e.member, 2)
		if _, err := e.reg.EndSessions(ctx, e.adminA, e.member.ID); err != nil || e.liveOf(t, theirs) != 0 {
			t.Errorf("admin ends a member's sessions: %v, %d live", err, e.liveOf(t, theirs))
		}
		events, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionEnded})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range events {
			got = append(got, ev.Actor+" "+ev.UserID+" "+ev.IP+" "+ev.Detail)
		}
		want := []string{
			e.admin.Email + " " + e.member.ID + " 192.0.2.1 " + `{"all":true,"ended":2}`,
			e.member.Email + " " + e.member.ID + " 192.0.2.2 " + `{"all":true,"ended":1}`,
			e.member.Email + " " + e.member.ID + " 192.0.2.2 " + `{"session":"` + other.Ref + `"}`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("session.ended events:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
	})
}
