package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/web"
)

// Tests of admin sessions: what ends them, their list, sign-out
// everywhere, sign-in budgets, and odd bytes in user fields.

const newMemberPass = "alice's new password, long enough"

// alive reports whether a session token is still accepted.
func (e *adminEnv) alive(token string) bool {
	e.t.Helper()
	r := e.call(token, "GET", apiBase+"/session", nil, nil)
	if r.status != http.StatusOK && r.status != http.StatusUnauthorized {
		e.t.Fatalf("GET /session: %s", r)
	}
	return r.status == http.StatusOK
}

// A password change, a disable (even if undone), a role change and a
// permission cut end the user's sessions; the admin who changes their own
// password keeps the session they did it in.
func TestAdminSessionsEndOnCredentialChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin1, admin2 := e.login(adminEmail, adminPassword), e.login(adminEmail, adminPassword)
		userPath := orgAPI + "/members/" + e.member.ID
		patch := func(what string, body map[string]any) {
			t.Helper()
			wantAPI(t, what, e.call(admin1, "PATCH", userPath, body, nil), 200, "")
		}

		alice1, alice2 := e.login(memberEmail, memberPass), e.login(memberEmail, memberPass)
		wantAPI(t, "set alice's password", e.call(admin1, "PUT", userPath+"/password", map[string]any{"password": newMemberPass}, nil), 204, "")
		if e.alive(alice1) || e.alive(alice2) {
			t.Error("alice's sessions survived an admin setting her password")
		}
		if !e.alive(admin1) || !e.alive(admin2) {
			t.Error("setting alice's password ended an admin session")
		}

		alice := e.login(memberEmail, newMemberPass)
		patch("disable alice", map[string]any{"status": "disabled"})
		patch("enable alice", map[string]any{"status": "active"})
		if e.alive(alice) {
			t.Error("alice's session survived a disable and enable")
		}

		alice = e.login(memberEmail, newMemberPass)
		patch("add a permission", map[string]any{"permissions": []string{readScope, createScope, configScope, "extra:read"}})
		patch("rename", map[string]any{"name": "Alice A."})
		patch("allow creation", map[string]any{"may_create_clients": true})
		if !e.alive(alice) {
			t.Error("a change that takes nothing away ended alice's session")
		}
		patch("cut a permission", map[string]any{"permissions": []string{readScope}})
		if e.alive(alice) {
			t.Error("alice's session survived a permission cut")
		}
		alice = e.login(memberEmail, newMemberPass)
		patch("promote alice", map[string]any{"role": "admin"})
		if e.alive(alice) {
			t.Error("alice's session survived a role change")
		}

		// An admin who sets their own password stays signed in where they
		// did it, and nowhere else.
		wantAPI(t, "admin sets own password", e.call(admin1, "PUT", orgAPI+"/members/"+e.admin.ID+"/password", map[string]any{"password": "the admin's new password"}, nil), 204, "")
		if !e.alive(admin1) || e.alive(admin2) {
			t.Errorf("after an admin set their own password: current session alive %v (want true), other %v (want false)", e.alive(admin1), e.alive(admin2))
		}
		// The operator at the CLI ends every session.
		if err := e.registry.SetPassword(context.Background(), app.Operator(models.DefaultOrgID), adminEmail, "set at the command line"); err != nil {
			t.Fatal(err)
		}
		if e.alive(admin1) {
			t.Error("the admin's session survived a password set at the CLI")
		}
	})
}

// Two instances on one database: what one ends, the other refuses at once.
func TestAdminSessionsAcrossInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		dbURL := storetest.URL(t, backend)
		clk := testutil.NewClock(time.Now().UTC().Truncate(time.Second))
		instance := func() *adminEnv {
			store := storetest.OpenURL(t, dbURL)
			store.Now = clk.Now
			registry := app.NewRegistry(store, app.RegistryConfig{Now: clk.Now})
			var handler http.Handler
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
			t.Cleanup(srv.Close)
			handler = web.New(web.Config{Issuer: srv.URL, Admin: &web.Admin{Store: store, Registry: registry, Now: clk.Now}}, nil, nil, store)
			return &adminEnv{t: t, url: srv.URL, store: store, registry: registry, clock: clk}
		}
		a, b := instance(), instance()
		hashesOnce.Do(func() { adminHash, memberHash = app.HashPassword(adminPassword), app.HashPassword(memberPass) })
		admin := &models.User{OrgID: models.DefaultOrgID, Email: adminEmail, Name: "Root", Role: models.RoleAdmin, PasswordHash: adminHash}
		member := &models.User{OrgID: models.DefaultOrgID, Email: memberEmail, Name: "Alice", Role: models.RoleMember, PasswordHash: memberHash}
		for _, u := range []*models.User{admin, member} {
			if err := a.store.CreateUser(context.Background(), u); err != nil {
				t.Fatal(err)
			}
		}
		adminB := b.login(adminEmail, adminPassword)
		userPath := orgAPI + "/members/" + member.ID

		alice := a.login(memberEmail, memberPass)
		if !b.alive(alice) {
			t.Fatal("a session made on instance A is unknown to B")
		}
		wantAPI(t, "B sets alice's password", b.call(adminB, "PUT", userPath+"/password", map[string]any{"password": newMemberPass}, nil), 204, "")
		if a.alive(alice) {
			t.Error("A accepts a session that B ended by a password change")
		}

		alice = a.login(memberEmail, newMemberPass)
		wantAPI(t, "B disables alice", b.call(adminB, "PATCH", userPath, map[string]any{"status": "disabled"}, nil), 200, "")
		wantAPI(t, "B enables alice", b.call(adminB, "PATCH", userPath, map[string]any{"status": "active"}, nil), 200, "")
		if a.alive(alice) {
			t.Error("A accepts a session from before a disable made on B")
		}

		alice = a.login(memberEmail, newMemberPass)
		aliceB := b.login(memberEmail, newMemberPass)
		wantAPI(t, "alice signs out everywhere on B", b.call(aliceB, "DELETE", userPath+"/sessions", nil, nil), 204, "")
		if a.alive(alice) || b.alive(aliceB) {
			t.Error("a session survived sign-out everywhere made on the other instance")
		}
	})
}

func TestAdminSessionList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		ctx := context.Background()
		admin := e.login(adminEmail, adminPassword)
		first := e.login(memberEmail, memberPass)
		e.clock.Advance(time.Minute)
		r := e.call("", "POST", apiBase+"/session", map[string]string{"email": memberEmail, "password": memberPass}, http.Header{"User-Agent": {"second-browser/2.0"}})
		wantAPI(t, "sign in with another browser", r, 201, "")
		second := (&http.Response{Header: r.header}).Cookies()[0].Value
		signedIn := e.clock.Now()
		sessionsPath := orgAPI + "/members/" + e.member.ID + "/sessions"

		e.clock.Advance(2 * time.Minute)
		mine := e.call(second, "GET", sessionsPath, nil, nil) // also marks second as seen now
		wantAPI(t, "alice lists her sessions", mine, 200, "")
		items := mine.items()
		if len(items) != 2 {
			t.Fatalf("alice's sessions: %s", mine.raw)
		}
		// Newest first; the second is the caller's and was just seen.
		now := e.clock.Now().Format(time.RFC3339)
		if s := items[0]; s["current"] != true || s["user_agent"] != "second-browser/2.0" || s["ip"] != "127.0.0.1" ||
			s["created_at"] != signedIn.Format(time.RFC3339) || s["last_seen_at"] != now ||
			s["expires_at"] != signedIn.Add(app.SessionLifetime).Format(time.RFC3339) {
			t.Errorf("the current session: %v", s)
		}
		if s := items[1]; s["current"] != false || s["last_seen_at"] != s["created_at"] || !strings.HasPrefix(s["user_agent"].(string), "Go-http-client") {
			t.Errorf("the other session: %v", s)
		}
		for _, tok := range []string{first, second} {
			sum := sha256.Sum256([]byte(tok))
			if strings.Contains(mine.raw, tok) || strings.Contains(mine.raw, hex.EncodeToString(sum[:])) {
				t.Errorf("the session list holds a session token or its hash: %s", mine.raw)
			}
		}
		firstID, _ := items[1]["id"].(string)

		byAdmin := e.call(admin, "GET", sessionsPath, nil, nil)
		if len(byAdmin.items()) != 2 || byAdmin.items()[0]["current"] != false {
			t.Errorf("alice's sessions as the admin sees them: %s", byAdmin.raw)
		}
		for _, tc := range []struct {
			name, method, path string
			status             int
			code               string
		}{
			{"member lists the admin's sessions", "GET", "/members/" + e.admin.ID + "/sessions", 403, "admin_required"},
			{"member ends the admin's sessions", "DELETE", "/members/" + e.admin.ID + "/sessions", 403, "admin_required"},
			{"member ends an admin session", "DELETE", "/members/" + e.admin.ID + "/sessions/" + firstID, 403, "admin_required"},
			{"query parameter", "GET", "/members/" + e.member.ID + "/sessions?limit=1", 400, "invalid_parameter"},
			{"another user, or none", "GET", "/members/nope/sessions", 403, "admin_required"},
			{"unknown session", "DELETE", "/members/" + e.member.ID + "/sessions/nope", 404, "session_not_found"},
			{"NUL session id", "DELETE", "/members/" + e.member.ID + "/sessions/%00", 404, "session_not_found"},
			{"invalid UTF-8 session id", "DELETE", "/members/" + e.member.ID + "/sessions/%FF", 404, "session_not_found"},
			{"another user's session", "DELETE", "/members/" + e.admin.ID + "/sessions/" + firstID, 403, "admin_required"},
		} {
			wantAPI(t, tc.name, e.call(second, tc.method, orgAPI+tc.path, nil, nil), tc.status, tc.code)
		}
		wantAPI(t, "admin lists an unknown user's sessions", e.call(admin, "GET", orgAPI+"/members/nope/sessions", nil, nil), 404, "user_not_found")
		wantAPI(t, "admin ends alice's session by its id in another user's path", e.call(admin, "DELETE", orgAPI+"/members/"+e.admin.ID+"/sessions/"+firstID, nil, nil), 404, "session_not_found")
		if !e.alive(first) {
			t.Fatal("a refused call ended a session")
		}

		// Ending one session leaves the others.
		wantAPI(t, "admin ends alice's first session", e.call(admin, "DELETE", sessionsPath+"/"+firstID, nil, nil), 204, "")
		if e.alive(first) || !e.alive(second) {
			t.Errorf("after ending the first: first alive %v, second alive %v", e.alive(first), e.alive(second))
		}
		// Ending one's own current session clears its cookie.
		third := e.login(memberEmail, memberPass)
		thirdID := ""
		for _, s := range e.call(third, "GET", sessionsPath, nil, nil).items() {
			if s["current"] == true {
				thirdID, _ = s["id"].(string)
			}
		}
		out := e.call(third, "DELETE", sessionsPath+"/"+thirdID, nil, nil)
		if c := out.header.Get("Set-Cookie"); out.status != 204 || !strings.Contains(c, web.SessionCookie+"=;") || e.alive(third) {
			t.Errorf("ending one's own session: %s, Set-Cookie %q", out, c)
		}
		// Sign out everywhere through the API.
		all := e.call(second, "DELETE", sessionsPath, nil, nil)
		if c := all.header.Get("Set-Cookie"); all.status != 204 || !strings.Contains(c, "Max-Age=0") || e.alive(second) {
			t.Errorf("sign out everywhere: %s, Set-Cookie %q", all, c)
		}
		if l := e.call(admin, "GET", sessionsPath, nil, nil); len(l.items()) != 0 {
			t.Errorf("alice's sessions after sign-out everywhere: %s", l.raw)
		}

		events, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionEnded})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range events {
			got = append(got, ev.Actor+" "+ev.IP+" "+ev.Detail)
		}
		want := memberEmail + ` 127.0.0.1 {"all":true,"ended":1}|` + memberEmail + ` 127.0.0.1 {"session":"` + thirdID + `"}|` + adminEmail + ` 127.0.0.1 {"session":"` + firstID + `"}`
		if strings.Join(got, "|") != want {
			t.Errorf("session.ended events:\ngot  %s\nwant %s", strings.Join(got, "|"), want)
		}
	})
}

// "Sign out everywhere" in the console ends every session of the user,
// the current one included, whichever browser or API client holds it.
func TestUISignOutEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		s1, csrf1 := e.uiLogin(memberEmail, memberPass)
		s2, csrf2 := e.uiLogin(memberEmail, memberPass)
		api := e.login(memberEmail, memberPass)
		other := e.login(adminEmail, adminPassword)
		home := e.uiDo(s1, "GET", "/admin/o/default/", nil, nil)
		if !strings.Contains(home.body, `name="everywhere" value="1"`) {
			t.Error("the console has no sign-out-everywhere button")
		}
		// A plain sign-out ends only its own session.
		if r := e.uiDo(s2, "POST", "/admin/logout", url.Values{"csrf_token": {csrf2}}, nil); r.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", r.status)
		}
		if e.alive(s2) || !e.alive(s1) || !e.alive(api) {
			t.Fatal("a plain sign-out ended another session, or not its own")
		}
		s3, _ := e.uiLogin(memberEmail, memberPass)
		out := e.uiDo(s1, "POST", "/admin/logout", url.Values{"csrf_token": {csrf1}, "everywhere": {"1"}}, nil)
		if c := out.cookie(web.SessionCookie); out.status != http.StatusSeeOther || out.location() != "/admin/login" || c == nil || c.MaxAge >= 0 {
			t.Errorf("sign out everywhere: %d %q, cookie %+v", out.status, out.location(), c)
		}
		for name, s := range map[string]string{"current": s1, "another browser": s3, "the API": api} {
			if e.alive(s) {
				t.Errorf("the %s session survived sign-out everywhere", name)
			}
		}
		if !e.alive(other) {
			t.Error("sign-out everywhere ended another user's session")
		}
		events, err := e.store.Audit(context.Background(), models.AuditFilter{Action: models.AuditSessionEnded})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Actor != memberEmail || events[0].UserID != e.member.ID || events[0].Detail != `{"all":true,"ended":3}` {
			t.Errorf("session.ended events: %+v", events)
		}
	})
}

// Past the failure budget of an (account, address), sign-in answers 429
// with Retry-After, through the API and the console, even with the right
// password; another account from that address still signs in, and the
// backoff ends on the clock.
func TestAdminSignInThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		signIn := func(email, password string) apiResp {
			return e.call("", "POST", apiBase+"/session", map[string]string{"email": email, "password": password}, nil)
		}
		for range 6 { // the budget of 5, then one more starts the backoff
			wantAPI(t, "wrong password", signIn(adminEmail, "not the password"), 401, "invalid_credentials")
		}
		r := signIn(adminEmail, adminPassword)
		wantAPI(t, "right password past the budget", r, 429, "too_many_attempts")
		if ra := r.header.Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After: got %q, want 1", ra)
		}
		if c := r.header.Get("Set-Cookie"); c != "" {
			t.Errorf("a throttled sign-in set a cookie: %s", c)
		}

		page := e.uiDo("", "GET", "/admin/login", nil, nil)
		lc := page.cookie("authz_login_csrf")
		ui := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrfOf(t, page)}, "email": {adminEmail}, "password": {adminPassword}}, nil, lc)
		if ui.status != http.StatusTooManyRequests || ui.header.Get("Retry-After") != "1" || ui.cookie(web.SessionCookie) != nil ||
			!strings.Contains(ui.body, "Too many failed sign-ins from this address. Please try again in a second.") {
			t.Errorf("console sign-in past the budget: %d, Retry-After %q", ui.status, ui.header.Get("Retry-After"))
		}

		e.login(memberEmail, memberPass) // another account from the same address
		e.clock.Advance(time.Second)
		e.login(adminEmail, adminPassword)

		failed, err := e.store.Audit(context.Background(), models.AuditFilter{Action: models.AuditSessionFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 6 {
			t.Errorf("%d session.failed events, want 6 (throttled attempts are not checked)", len(failed))
		}
	})
}

// A NUL or invalid UTF-8 in an email, a name or an id is a client's
// mistake: the usual answer for a wrong sign-in, 400 for a user field, 404
// for an id; never a 500 (PostgreSQL refuses both bytes in text).
func TestAdminOddBytesInUserFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		for _, email := range []string{"root\u0000@example.com", "\u0000", "root@example.com\u0000"} {
			wantAPI(t, "API sign-in with a NUL", e.call("", "POST", apiBase+"/session", map[string]string{"email": email, "password": adminPassword}, nil), 401, "invalid_credentials")
		}
		page := e.uiDo("", "GET", "/admin/login", nil, nil)
		lc, csrf := page.cookie("authz_login_csrf"), csrfOf(t, page)
		for _, email := range []string{"root\x00@example.com", "\xff\xfe@example.com", "ro\x01ot@example.com"} {
			r := e.uiDo("", "POST", "/admin/login", url.Values{"csrf_token": {csrf}, "email": {email}, "password": {adminPassword}}, nil, lc)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Invalid email or password.") {
				t.Errorf("console sign-in with email %q: %d", email, r.status)
			}
		}

		for _, tc := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"NUL in a new user's name", "POST", "/members", map[string]any{"email": "nul@example.com", "name": "A\u0000B"}, 400, "invalid_request"},
			{"control character in a new user's name", "POST", "/members", map[string]any{"email": "bel@example.com", "name": "A\u0007B"}, 400, "invalid_request"},
			{"NUL in a new user's email", "POST", "/members", map[string]any{"email": "nul\u0000@example.com", "name": "Nul"}, 400, "invalid_request"},
			{"NUL in a name change", "PATCH", "/members/" + e.member.ID, map[string]any{"name": "\u0000"}, 400, "invalid_request"},
			{"NUL user id", "GET", "/members/%00", nil, 404, "user_not_found"},
			{"invalid UTF-8 user id", "GET", "/members/%FF", nil, 404, "user_not_found"},
			{"NUL user id, patch", "PATCH", "/members/%00", map[string]any{"name": "x"}, 404, "user_not_found"},
			{"NUL user id, password", "PUT", "/members/%00/password", map[string]any{"password": "long enough password"}, 404, "user_not_found"},
			{"NUL user id, sessions", "GET", "/members/%00/sessions", nil, 404, "user_not_found"},
		} {
			wantAPI(t, tc.name, e.call(admin, tc.method, orgAPI+tc.path, tc.body, nil), tc.status, tc.code)
		}

		session, csrfS := e.uiLogin(adminEmail, adminPassword)
		for _, name := range []string{"A\x00B", "A\xffB", "A\x1bB"} {
			r := e.uiDo(session, "POST", "/admin/o/default/members", url.Values{"csrf_token": {csrfS}, "email": {"odd@example.com"}, "name": {name}, "role": {"member"}}, nil)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-name-err"`) {
				t.Errorf("console: new user named %q: %d, want 400 with the error on the name", name, r.status)
			}
			r = e.uiDo(session, "POST", "/admin/o/default/members/"+e.member.ID, url.Values{"csrf_token": {csrfS}, "action": {"save"}, "name": {name}, "permissions": {readScope}}, nil)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="f-name-err"`) {
				t.Errorf("console: rename to %q: %d, want 400 with the error on the name", name, r.status)
			}
		}
		if r := e.uiDo(session, "GET", "/admin/o/default/members/%00", nil, nil); r.status != http.StatusNotFound {
			t.Errorf("console: user page of a NUL id: %d, want 404", r.status)
		}
		if _, err := e.store.UserByEmail(context.Background(), models.DefaultOrgID, "odd@example.com"); err == nil {
			t.Error("a user with an odd name was created")
		}
	})
}
