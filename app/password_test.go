package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// countHashes counts argon2id computations until the test ends.
func countHashes(t *testing.T) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	orig := idKey
	idKey = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n.Add(1)
		return orig(password, salt, time, memory, threads, keyLen)
	}
	t.Cleanup(func() { idKey = orig })
	return &n
}

// cheapParams makes hashing fast for tests that are not about the cost.
func cheapParams(t *testing.T) {
	t.Helper()
	orig := passwordParams
	passwordParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	t.Cleanup(func() { passwordParams = orig })
}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordDefaults(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, h2 := HashPassword(pw), HashPassword(pw)
	for _, h := range []string{h1, h2} {
		if !phcPattern.MatchString(h) {
			t.Errorf("hash %q is not a PHC argon2id string with m=64 MiB, t=3, p=4, a 16-byte salt and a 32-byte tag", h)
		}
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !VerifyPassword(pw, h1) || !VerifyPassword(pw, h2) {
		t.Error("the password does not verify against its hash")
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "correct horse battery staple ", "Correct horse battery staple"} {
		if VerifyPassword(wrong, h1) {
			t.Errorf("%q verifies against the hash of %q", wrong, pw)
		}
	}
	if NeedsRehash(h1) {
		t.Error("a fresh hash needs a rehash")
	}
	if strings.Contains(h1, pw) {
		t.Error("the hash contains the password")
	}
}

func TestVerifyPasswordRefusesMalformedHashes(t *testing.T) {
	cheapParams(t)
	good := HashPassword("a long enough password")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tampered, _ := base64.RawStdEncoding.DecodeString(key)
	tampered[0] ^= 1
	n := countHashes(t)
	for name, h := range map[string]string{
		"empty":               "",
		"argon2i":             strings.Replace(good, "argon2id", "argon2i", 1),
		"bcrypt":              "$2a$10$abcdefghijklmnopqrstuuN3Z1Y0cT6oD2CqLxG9y1J3Gv6gGk2a",
		"old version":         strings.Replace(good, "v=19", "v=16", 1),
		"missing parameter":   fmt.Sprintf("$argon2id$v=19$m=64,t=1$%s$%s", salt, key),
		"unknown parameter":   fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1,x=2$%s$%s", salt, key),
		"zero time":           fmt.Sprintf("$argon2id$v=19$m=64,t=0,p=1$%s$%s", salt, key),
		"huge memory":         fmt.Sprintf("$argon2id$v=19$m=4194304,t=1,p=1$%s$%s", salt, key),
		"huge time":           fmt.Sprintf("$argon2id$v=19$m=64,t=1000000,p=1$%s$%s", salt, key),
		"bad salt":            fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", "!!!", key),
		"short key":           fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", salt, "AAAA"),
		"trailing field":      good + "$x",
		"no leading dollar":   strings.TrimPrefix(good, "$"),
		"negative parameters": fmt.Sprintf("$argon2id$v=19$m=-64,t=1,p=1$%s$%s", salt, key),
	} {
		if VerifyPassword("a long enough password", h) {
			t.Errorf("%s: verified", name)
		}
		if !NeedsRehash(h) {
			t.Errorf("%s: NeedsRehash is false", name)
		}
	}
	if got := n.Load(); got != 0 {
		t.Errorf("malformed hashes ran argon2id %d times; want none", got)
	}
	if VerifyPassword("a long enough password", fmt.Sprintf("$argon2id$v=19$m=64,t=1,p=1$%s$%s", salt, base64.RawStdEncoding.EncodeToString(tampered))) {
		t.Error("a tampered tag verified")
	}
	if !VerifyPassword("a long enough password", good) {
		t.Error("the good hash does not verify")
	}
}

func TestNeedsRehash(t *testing.T) {
	weak := hashPassword("a long enough password", PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if !VerifyPassword("a long enough password", weak) {
		t.Fatal("a hash with other parameters does not verify")
	}
	if !NeedsRehash(weak) {
		t.Error("a hash with weaker parameters does not need a rehash")
	}
	if NeedsRehash(HashPassword("x")) {
		t.Error("a hash with the current parameters needs a rehash")
	}
}

// passwordEnv is a Registry on a real store with an admin and a member.
type passwordEnv struct {
	store           *models.Store
	reg             *Registry
	admin, member   *models.User
	adminA, memberA Actor
}

func newPasswordEnv(t *testing.T, backend string) *passwordEnv {
	t.Helper()
	ctx := context.Background()
	store := storetest.Open(t, backend)
	hasher, err := oauth.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	e := &passwordEnv{store: store, reg: NewRegistry(store, RegistryConfig{Hasher: hasher})}
	e.admin = &models.User{OrgID: models.DefaultOrgID, Email: "root@example.com", Name: "Root", Role: models.RoleAdmin}
	e.member = &models.User{OrgID: models.DefaultOrgID, Email: "mem@example.com", Name: "Mem"}
	for _, u := range []*models.User{e.admin, e.member} {
		if err := store.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	e.adminA, e.memberA = Actor{User: e.admin, OrgID: models.DefaultOrgID, IP: "192.0.2.1"}, Actor{User: e.member, OrgID: models.DefaultOrgID, IP: "192.0.2.2"}
	return e
}

// cli is the operator acting on the default organization.
var cli = Operator(models.DefaultOrgID)

func codeOf(err error) string {
	var de *models.Error
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}

func TestSetPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "twelve chars"
		for _, tc := range []struct {
			name     string
			actor    Actor
			email    string
			password string
			code     string
			kind     error
		}{
			{"member may not set another's", e.memberA, e.admin.Email, pw, "admin_required", models.ErrForbidden},
			{"11 characters", e.adminA, e.member.Email, "eleven char", "password_too_short", models.ErrInvalid},
			{"11 characters of two bytes", e.adminA, e.member.Email, strings.Repeat("é", 11), "password_too_short", models.ErrInvalid},
			{"257 characters", e.adminA, e.member.Email, strings.Repeat("a", 257), "password_too_long", models.ErrInvalid},
			{"not UTF-8", e.adminA, e.member.Email, "twelve chars\xff", "invalid_password", models.ErrInvalid},
			{"unknown user", e.adminA, "nobody@example.com", pw, "user_not_found", models.ErrNotFound},
		} {
			err := e.reg.SetPassword(ctx, tc.actor, tc.email, tc.password)
			if codeOf(err) != tc.code || !errors.Is(err, tc.kind) {
				t.Errorf("%s: got %v (code %q), want code %s", tc.name, err, codeOf(err), tc.code)
			}
		}
		if u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, e.member.Email); u.PasswordHash != "" {
			t.Fatal("a refused SetPassword stored a hash")
		}
		for _, ok := range []struct {
			actor    Actor
			password string
		}{{e.adminA, pw}, {cli, strings.Repeat("é", 12)}, {e.adminA, strings.Repeat("a", 256)}} {
			if err := e.reg.SetPassword(ctx, ok.actor, e.member.Email, ok.password); err != nil {
				t.Fatalf("SetPassword(%q) by %s: %v", ok.password, ok.actor.Name(), err)
			}
			u, err := e.store.UserByEmail(ctx, models.DefaultOrgID, e.member.Email)
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyPassword(ok.password, u.PasswordHash) || strings.Contains(u.PasswordHash, ok.password) {
				t.Errorf("stored hash %q does not verify %q", u.PasswordHash, ok.password)
			}
		}
		events, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditPasswordUpdated})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 3 {
			t.Fatalf("got %d %s events, want 3", len(events), models.AuditPasswordUpdated)
		}
		if ev := events[len(events)-1]; ev.Actor != e.admin.Email || ev.IP != "192.0.2.1" || ev.UserID != e.member.ID {
			t.Errorf("first event: %+v", ev)
		}
		for _, ev := range events {
			if strings.Contains(ev.Detail, pw) || strings.Contains(ev.Detail, "argon2") || strings.Contains(ev.Detail, "éééé") {
				t.Errorf("audit detail holds the password or its hash: %s", ev.Detail)
			}
		}
	})
}

func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "a long enough password"
		if err := e.reg.SetPassword(ctx, cli, e.admin.Email, pw); err != nil {
			t.Fatal(err)
		}
		u, err := e.reg.Authenticate(ctx, "  ROOT@example.com ", pw)
		if err != nil || u.ID != e.admin.ID {
			t.Fatalf("Authenticate: %v, %+v", err, u)
		}

		n := countHashes(t)
		for _, tc := range []struct{ name, email, password string }{
			{"wrong password", e.admin.Email, pw + "!"},
			{"unknown email", "nobody@example.com", pw},
			{"no password set", e.member.Email, pw},
			{"empty", "", ""},
		} {
			before := n.Load()
			_, err := e.reg.Authenticate(ctx, tc.email, tc.password)
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("%s: got %v, want ErrInvalidCredentials", tc.name, err)
			}
			if got := n.Load() - before; got != 1 {
				t.Errorf("%s: %d argon2id computations, want exactly 1 (same time as a wrong password)", tc.name, got)
			}
		}

		// A disabled user is refused even with the right password.
		if err := e.reg.SetPassword(ctx, cli, e.member.Email, pw); err != nil {
			t.Fatal(err)
		}
		m, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, e.member.Email)
		m.Status = models.StatusDisabled
		if err := e.store.UpdateUser(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Authenticate(ctx, e.member.Email, pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("disabled user: got %v, want ErrInvalidCredentials", err)
		}
	})
}

func TestAuthenticateRehashesOutdatedHashes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "a long enough password"
		old := hashPassword(pw, PasswordParams{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
		e.admin.PasswordHash = old
		if err := e.store.UpdateUser(ctx, e.admin); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Authenticate(ctx, e.admin.Email, pw+"x"); err == nil {
			t.Fatal("wrong password accepted")
		}
		if u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, e.admin.Email); u.PasswordHash != old {
			t.Fatal("a failed sign-in rehashed")
		}
		if _, err := e.reg.Authenticate(ctx, e.admin.Email, pw); err != nil {
			t.Fatal(err)
		}
		u, _ := e.store.UserByEmail(ctx, models.DefaultOrgID, e.admin.Email)
		if u.PasswordHash == old || NeedsRehash(u.PasswordHash) || !VerifyPassword(pw, u.PasswordHash) {
			t.Errorf("after sign-in the hash is %q; want a current-parameter hash of the same password", u.PasswordHash)
		}
	})
}

func TestSignInAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		const pw = "a long enough password"
		if err := e.reg.SetPassword(ctx, cli, e.admin.Email, pw); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.SignIn(ctx, "198.51.100.7", e.admin.Email, "guess-"+pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := e.reg.SignIn(ctx, "198.51.100.8", "Nobody@Example.com", "guess-"+pw); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("unknown email: %v", err)
		}
		if _, err := e.reg.SignIn(ctx, "198.51.100.9", e.admin.Email, pw); err != nil {
			t.Fatal(err)
		}
		failed, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 2 {
			t.Fatalf("got %d session.failed events, want 2", len(failed))
		}
		byIP := map[string]models.AuditEvent{}
		for _, ev := range failed {
			byIP[ev.IP] = ev
			if strings.Contains(ev.Detail, "guess") || strings.Contains(ev.Actor, "guess") {
				t.Errorf("audit event holds the password: %+v", ev)
			}
		}
		if ev := byIP["198.51.100.7"]; ev.Actor != e.admin.Email || ev.UserID != e.admin.ID || !strings.Contains(ev.Detail, "wrong_password") {
			t.Errorf("wrong-password event: %+v", ev)
		}
		if ev := byIP["198.51.100.8"]; ev.Actor != "nobody@example.com" || ev.UserID != "" || !strings.Contains(ev.Detail, "unknown_user") {
			t.Errorf("unknown-email event: %+v", ev)
		}
		ok, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionCreated})
		if err != nil {
			t.Fatal(err)
		}
		if len(ok) != 1 || ok[0].Actor != e.admin.Email || ok[0].IP != "198.51.100.9" || ok[0].UserID != e.admin.ID {
			t.Errorf("session.created events: %+v", ok)
		}
	})
}
