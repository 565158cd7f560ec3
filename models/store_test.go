package models_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for raw checks
	_ "github.com/mattn/go-sqlite3"    // database/sql driver "sqlite3", for raw checks
)

// ---- helpers ----

// openUnmigrated opens a Store on rawURL without migrating it; it is closed
// when the test ends.
func openUnmigrated(t *testing.T, rawURL string) *models.Store {
	t.Helper()
	s, err := models.Open(t.Context(), rawURL, nil)
	if err != nil {
		t.Fatalf("models.Open(%q): got error %v, want nil", rawURL, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// rawDB opens the database behind a storetest URL with database/sql, for
// checks the Store API does not expose.
func rawDB(t *testing.T, rawURL string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(rawURL, "sqlite:"); ok {
		db, err = sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	} else {
		db, err = sql.Open("pgx", rawURL)
	}
	if err != nil {
		t.Fatalf("raw open %q: %v", rawURL, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func randomID(prefix string) string { return prefix + "-" + rand.Text()[:12] }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCreateUser(t testing.TB, s *models.Store, email string, perms ...string) *models.User {
	t.Helper()
	u := &models.User{OrgID: models.DefaultOrgID, Email: email, Name: "User " + email, Permissions: models.NewSet(perms...)}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): got error %v, want nil", email, err)
	}
	return u
}

func newSecret(t testing.TB) *models.ClientSecret {
	t.Helper()
	return &models.ClientSecret{ID: randomID("sec"), Hash: randomBytes(t, 32), Prefix: "azs_abcd", Last4: "wxyz"}
}

func mustCreateClient(t testing.TB, s *models.Store, c *models.Client) (*models.Client, *models.ClientSecret) {
	t.Helper()
	if c.ID == "" {
		c.ID = randomID("cli")
	}
	if c.Name == "" {
		c.Name = "client " + c.ID
	}
	if c.OrgID == models.DefaultOrgID && c.ProjectID == "" && c.Kind != models.ClientKindOrganization {
		c.ProjectID = models.DefaultProjectID
	}
	sec := newSecret(t)
	if err := s.CreateClient(t.Context(), c, sec, 0); err != nil {
		t.Fatalf("CreateClient(%s): got error %v, want nil", c.ID, err)
	}
	return c, sec
}

func mustClient(t *testing.T, s *models.Store, id string) *models.Client {
	t.Helper()
	c, err := s.ClientByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ClientByID(%s): got error %v, want nil", id, err)
	}
	return c
}

func usec(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// sameInstant reports whether got and want are the same instant at
// microsecond precision.
func sameInstant(got, want time.Time) bool { return usec(got).Equal(usec(want)) }

func ptr[T any](v T) *T { return &v }

// ---- migrations ----

func TestMigrate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		s := openUnmigrated(t, url)

		if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
			t.Fatalf("SchemaVersion on a fresh DB: got %d, %v; want 0, nil", v, err)
		}
		err := s.CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), "authz migrate") {
			t.Fatalf("CheckSchema on an unmigrated DB: got %v, want an error naming `authz migrate`", err)
		}

		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("Migrate: got error %v, want nil", err)
		}
		var all []int
		for v := 1; v <= models.LatestSchemaVersion(); v++ {
			all = append(all, v)
		}
		if !slices.Equal(applied, all) {
			t.Errorf("Migrate on a fresh DB applied %v, want %v", applied, all)
		}
		if v, err := s.SchemaVersion(ctx); err != nil || v != models.LatestSchemaVersion() {
			t.Errorf("SchemaVersion after Migrate: got %d, %v; want %d, nil", v, err, models.LatestSchemaVersion())
		}
		if err := s.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after Migrate: got %v, want nil", err)
		}

		applied, err = s.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Errorf("second Migrate: got %v, %v; want nothing applied, nil", applied, err)
		}

		// A second instance on the same DB sees it migrated too.
		s2 := openUnmigrated(t, url)
		if applied, err := s2.Migrate(ctx); err != nil || len(applied) != 0 {
			t.Errorf("Migrate from another instance: got %v, %v; want nothing applied, nil", applied, err)
		}

		// A database newer than the binary asks for an upgrade.
		db := rawDB(t, url)
		if _, err := db.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', $2)",
			models.LatestSchemaVersion()+1, time.Now().UTC()); err != nil {
			t.Fatalf("insert future migration: %v", err)
		}
		err = s.CheckSchema(ctx)
		if err == nil || !strings.Contains(err.Error(), "upgrade authz") {
			t.Errorf("CheckSchema on a newer DB: got %v, want an error saying to upgrade authz", err)
		}
	})
}

func TestMigrateConcurrent(t *testing.T) {
	const instances = 8
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		stores := make([]*models.Store, instances)
		for i := range stores {
			stores[i] = openUnmigrated(t, url)
		}

		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			errs    = make([]error, instances)
			applied = make([][]int, instances)
		)
		for i, s := range stores {
			wg.Go(func() {
				<-start
				applied[i], errs[i] = s.Migrate(ctx)
			})
		}
		close(start)
		wg.Wait()

		times := map[int]int{}
		for i := range instances {
			if errs[i] != nil {
				t.Errorf("instance %d: Migrate got error %v, want nil", i, errs[i])
			}
			for _, v := range applied[i] {
				times[v]++
			}
		}
		for v := 1; v <= models.LatestSchemaVersion(); v++ {
			if times[v] != 1 {
				t.Errorf("migration %d reported applied by %d instances, want exactly 1", v, times[v])
			}
		}

		fresh := openUnmigrated(t, url)
		if v, err := fresh.SchemaVersion(ctx); err != nil || v != models.LatestSchemaVersion() {
			t.Errorf("SchemaVersion after concurrent Migrate: got %d, %v; want %d, nil", v, err, models.LatestSchemaVersion())
		}
		if err := fresh.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after concurrent Migrate: got %v, want nil", err)
		}

		rows, err := rawDB(t, url).QueryContext(ctx, "SELECT version, COUNT(*) FROM schema_migrations GROUP BY version ORDER BY version")
		if err != nil {
			t.Fatalf("count migrations: %v", err)
		}
		defer rows.Close()
		rowCount := map[int]int{}
		for rows.Next() {
			var v, n int
			if err := rows.Scan(&v, &n); err != nil {
				t.Fatal(err)
			}
			rowCount[v] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for v := 1; v <= models.LatestSchemaVersion(); v++ {
			if rowCount[v] != 1 {
				t.Errorf("schema_migrations rows for version %d: got %d, want 1", v, rowCount[v])
			}
		}
		if len(rowCount) != models.LatestSchemaVersion() {
			t.Errorf("schema_migrations versions: got %v, want exactly 1..%d", rowCount, models.LatestSchemaVersion())
		}

		// The schema works.
		mustCreateUser(t, fresh, "after-race@example.com")
	})
}

// ---- users ----

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)

		t.Run("CreateDefaults", func(t *testing.T) {
			u := &models.User{OrgID: models.DefaultOrgID, Email: "  Alice@Example.COM ", Name: "Alice"}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: got error %v, want nil", err)
			}
			if u.ID == "" {
				t.Errorf("CreateUser: got empty ID, want one assigned")
			}
			got, err := s.UserByEmail(ctx, models.DefaultOrgID, "ALICE@example.com")
			if err != nil {
				t.Fatalf("UserByEmail: got error %v, want nil", err)
			}
			for _, c := range []struct{ field, got, want string }{
				{"ID", got.ID, u.ID},
				{"Email", got.Email, "alice@example.com"},
				{"Role", got.Role, models.RoleMember},
				{"Status", got.Status, models.StatusActive},
				{"Name", got.Name, "Alice"},
			} {
				if c.got != c.want {
					t.Errorf("stored user %s: got %q, want %q", c.field, c.got, c.want)
				}
			}
			if got.Permissions == nil || len(got.Permissions) != 0 {
				t.Errorf("stored user Permissions: got %#v, want empty non-nil Set", got.Permissions)
			}
			if !got.Active() {
				t.Errorf("new user Active(): got false, want true")
			}
			byID, err := s.UserByID(ctx, models.DefaultOrgID, u.ID)
			if err != nil || byID.Email != "alice@example.com" {
				t.Errorf("UserByID: got %v, %v; want alice@example.com", byID, err)
			}
		})

		t.Run("DuplicateEmail", func(t *testing.T) {
			mustCreateUser(t, s, "dup@example.com")
			for _, email := range []string{"dup@example.com", "DUP@Example.com", " dup@EXAMPLE.COM"} {
				err := s.CreateUser(ctx, &models.User{OrgID: models.DefaultOrgID, Email: email, Name: "Dup"})
				if !errors.Is(err, models.ErrConflict) {
					t.Errorf("CreateUser(%q) with a taken email: got %v, want ErrConflict", email, err)
				}
			}
		})

		t.Run("Invalid", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				user models.User
			}{
				{"email without at", models.User{OrgID: models.DefaultOrgID, Email: "not-an-email", Name: "X"}},
				{"email with display name", models.User{OrgID: models.DefaultOrgID, Email: "X <x@example.com>", Name: "X"}},
				{"empty email", models.User{OrgID: models.DefaultOrgID, Email: "", Name: "X"}},
				{"empty name", models.User{OrgID: models.DefaultOrgID, Email: "noname@example.com", Name: "  "}},
				{"unknown role", models.User{OrgID: models.DefaultOrgID, Email: "role@example.com", Name: "X", Role: "root"}},
				{"unknown status", models.User{OrgID: models.DefaultOrgID, Email: "status@example.com", Name: "X", Status: "sleeping"}},
				{"permission with space", models.User{OrgID: models.DefaultOrgID, Email: "p1@example.com", Name: "X", Permissions: models.Set{"a b"}}},
				{"permission with quote", models.User{OrgID: models.DefaultOrgID, Email: "p2@example.com", Name: "X", Permissions: models.Set{`a"b`}}},
				{"permission with backslash", models.User{OrgID: models.DefaultOrgID, Email: "p3@example.com", Name: "X", Permissions: models.Set{`a\b`}}},
				{"permission with comma", models.User{OrgID: models.DefaultOrgID, Email: "p4@example.com", Name: "X", Permissions: models.Set{"a,b"}}},
				{"permission non-ASCII", models.User{OrgID: models.DefaultOrgID, Email: "p5@example.com", Name: "X", Permissions: models.Set{"lesen:ä"}}},
				{"empty permission", models.User{OrgID: models.DefaultOrgID, Email: "p6@example.com", Name: "X", Permissions: models.Set{""}}},
				{"permission too long", models.User{OrgID: models.DefaultOrgID, Email: "p7@example.com", Name: "X", Permissions: models.Set{strings.Repeat("a", 129)}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					u := tc.user
					err := s.CreateUser(ctx, &u)
					if !errors.Is(err, models.ErrInvalid) {
						t.Fatalf("CreateUser: got %v, want ErrInvalid", err)
					}
					if u.Email != "" {
						if _, err := s.UserByEmail(ctx, models.DefaultOrgID, u.Email); !errors.Is(err, models.ErrNotFound) {
							t.Errorf("invalid user was stored: UserByEmail got %v, want ErrNotFound", err)
						}
					}
				})
			}
		})

		t.Run("NotFound", func(t *testing.T) {
			if _, err := s.UserByEmail(ctx, models.DefaultOrgID, "nobody@example.com"); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByEmail(unknown): got %v, want ErrNotFound", err)
			}
			if _, err := s.UserByID(ctx, models.DefaultOrgID, "no-such-id"); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UserByID(unknown): got %v, want ErrNotFound", err)
			}
			ghost := &models.User{OrgID: models.DefaultOrgID, ID: "no-such-id", Email: "ghost@example.com", Name: "Ghost", Role: models.RoleMember, Status: models.StatusActive}
			if err := s.UpdateUser(ctx, ghost); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("UpdateUser(unknown): got %v, want ErrNotFound", err)
			}
		})

		t.Run("Update", func(t *testing.T) {
			u := mustCreateUser(t, s, "update@example.com", "a:read")
			u.Permissions = models.NewSet("c:write", "a:read", "b:read")
			u.Status = models.StatusDisabled
			u.Role = models.RoleAdmin
			u.Name = "Renamed"
			u.MayCreateClients = true
			u.PasswordHash = "$argon2id$fake"
			if err := s.UpdateUser(ctx, u); err != nil {
				t.Fatalf("UpdateUser: got error %v, want nil", err)
			}
			got, err := s.UserByID(ctx, models.DefaultOrgID, u.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			if want := (models.Set{"a:read", "b:read", "c:write"}); !slices.Equal(got.Permissions, want) {
				t.Errorf("Permissions after update: got %v, want %v", got.Permissions, want)
			}
			if got.Status != models.StatusDisabled || got.Active() {
				t.Errorf("Status after update: got %q (Active %v), want %q", got.Status, got.Active(), models.StatusDisabled)
			}
			if got.Role != models.RoleAdmin || got.Name != "Renamed" || !got.MayCreateClients || got.PasswordHash != "$argon2id$fake" {
				t.Errorf("fields after update: got role %q name %q may_create %v hash %q; want admin, Renamed, true, $argon2id$fake",
					got.Role, got.Name, got.MayCreateClients, got.PasswordHash)
			}

			bad := *got
			bad.Permissions = models.Set{"has space"}
			if err := s.UpdateUser(ctx, &bad); !errors.Is(err, models.ErrInvalid) {
				t.Errorf("UpdateUser with an invalid permission: got %v, want ErrInvalid", err)
			}
		})

		t.Run("PermissionsSortedSet", func(t *testing.T) {
			// A Set built by hand (unsorted, duplicated) is stored as given
			// but always reads back sorted and de-duplicated.
			u := &models.User{OrgID: models.DefaultOrgID, Email: "perms@example.com", Name: "P", Permissions: models.Set{"z:write", "a:read", "m:x", "a:read"}}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			got, err := s.UserByID(ctx, models.DefaultOrgID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := (models.Set{"a:read", "m:x", "z:write"}); !slices.Equal(got.Permissions, want) {
				t.Errorf("Permissions read back: got %v, want %v", got.Permissions, want)
			}
		})
	})
}

func TestListUsersOrderedByEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		if users, err := s.ListUsers(t.Context(), models.DefaultOrgID); err != nil || len(users) != 0 {
			t.Fatalf("ListUsers on an empty DB: got %v, %v; want none, nil", users, err)
		}
		for _, e := range []string{"carol@example.com", "Alice@example.com", "bob@example.com", "aaron@example.org"} {
			mustCreateUser(t, s, e)
		}
		users, err := s.ListUsers(t.Context(), models.DefaultOrgID)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Email)
		}
		want := []string{"aaron@example.org", "alice@example.com", "bob@example.com", "carol@example.com"}
		if !slices.Equal(got, want) {
			t.Errorf("ListUsers emails: got %v, want %v", got, want)
		}
	})
}

// ---- clients ----

func TestClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		owner := mustCreateUser(t, s, "owner@example.com", "orders:read", "orders:write")

		t.Run("CreateAndLoad", func(t *testing.T) {
			c := &models.Client{OrgID: models.DefaultOrgID,
				ID: randomID("cli"), Name: "Billing", Description: "billing job", OwnerID: owner.ID, CreatedBy: owner.ID,
				Scopes: models.NewSet("orders:read"), Audiences: models.NewSet("https://api.example.com"),
				TokenTTL: 15 * time.Minute, IPAllowlist: models.NewSet("10.0.0.0/8"),
			}
			sec := newSecret(t)
			if err := s.CreateClient(ctx, c, sec, 0); err != nil {
				t.Fatalf("CreateClient: got error %v, want nil", err)
			}
			got := mustClient(t, s, c.ID)
			if got.Owner == nil {
				t.Fatalf("ClientByID: got nil Owner, want it loaded")
			}
			if got.Owner.ID != owner.ID || got.Owner.Email != owner.Email || !slices.Equal(got.Owner.Permissions, owner.Permissions) {
				t.Errorf("Owner: got %s %s %v, want %s %s %v", got.Owner.ID, got.Owner.Email, got.Owner.Permissions, owner.ID, owner.Email, owner.Permissions)
			}
			if len(got.Secrets) != 1 {
				t.Fatalf("Secrets: got %d, want 1", len(got.Secrets))
			}
			gs := got.Secrets[0]
			if gs.ID != sec.ID || gs.ClientID != c.ID || !bytes.Equal(gs.Hash, sec.Hash) || len(gs.Hash) != 32 || gs.Prefix != sec.Prefix || gs.Last4 != sec.Last4 {
				t.Errorf("secret: got %+v, want id %s client %s hash %x prefix %s last4 %s", gs, sec.ID, c.ID, sec.Hash, sec.Prefix, sec.Last4)
			}
			if !gs.Live(time.Now()) {
				t.Errorf("new secret Live: got false, want true")
			}
			for _, f := range []struct{ name, got, want string }{
				{"Status", got.Status, models.StatusActive},
				{"Name", got.Name, "Billing"},
				{"Description", got.Description, "billing job"},
				{"OwnerID", got.OwnerID, owner.ID},
				{"CreatedBy", got.CreatedBy, owner.ID},
				{"Scopes", got.Scopes.String(), "orders:read"},
				{"Audiences", got.Audiences.String(), "https://api.example.com"},
				{"IPAllowlist", got.IPAllowlist.String(), "10.0.0.0/8"},
			} {
				if f.got != f.want {
					t.Errorf("client %s: got %q, want %q", f.name, f.got, f.want)
				}
			}
			if got.TokenTTL != 15*time.Minute {
				t.Errorf("TokenTTL: got %v, want 15m", got.TokenTTL)
			}
			if got.RevokedAt != nil || got.LastUsedAt != nil || got.ExpiresAt != nil {
				t.Errorf("new client times: got revoked %v last used %v expires %v, want all nil", got.RevokedAt, got.LastUsedAt, got.ExpiresAt)
			}
		})

		t.Run("NilSetsStoredEmpty", func(t *testing.T) {
			c, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
			got := mustClient(t, s, c.ID)
			for name, set := range map[string]models.Set{"Scopes": got.Scopes, "Audiences": got.Audiences, "IPAllowlist": got.IPAllowlist} {
				if set == nil || len(set) != 0 {
					t.Errorf("%s of a client created with nil: got %#v, want empty Set", name, set)
				}
			}
		})

		t.Run("UnknownClient", func(t *testing.T) {
			if _, err := s.ClientByID(ctx, "no-such-client"); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("ClientByID(unknown): got %v, want ErrNotFound", err)
			}
			if _, err := s.RevokeClient(ctx, "no-such-client"); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("RevokeClient(unknown): got %v, want ErrNotFound", err)
			}
		})

		t.Run("UnknownOwner", func(t *testing.T) {
			c := &models.Client{OrgID: models.DefaultOrgID, ID: randomID("cli"), Name: "orphan", OwnerID: "no-such-user"}
			err := s.CreateClient(ctx, c, newSecret(t), 0)
			if !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("CreateClient with an unknown owner: got %v, want ErrNotFound (foreign key)", err)
			}
			if _, err := s.ClientByID(ctx, c.ID); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("client with unknown owner was stored: ClientByID got %v, want ErrNotFound", err)
			}
		})

		t.Run("DuplicateID", func(t *testing.T) {
			c, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
			err := s.CreateClient(ctx, &models.Client{OrgID: models.DefaultOrgID, ID: c.ID, Name: "again", OwnerID: owner.ID}, newSecret(t), 0)
			if !errors.Is(err, models.ErrConflict) {
				t.Errorf("CreateClient with a taken id: got %v, want ErrConflict", err)
			}
			if got := mustClient(t, s, c.ID); len(got.Secrets) != 1 || got.Name != c.Name {
				t.Errorf("after a conflicting create: got name %q and %d secrets, want %q and 1", got.Name, len(got.Secrets), c.Name)
			}
		})

		t.Run("Revoke", func(t *testing.T) {
			clock := testutil.NewClock(time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC))
			s.Now = clock.Now
			defer func() { s.Now = func() time.Time { return time.Now().UTC() } }()

			c, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
			clock.Advance(time.Second)
			revokedAt := clock.Now()
			got, err := s.RevokeClient(ctx, c.ID)
			if err != nil {
				t.Fatalf("RevokeClient: got error %v, want nil", err)
			}
			if got.Status != models.StatusRevoked {
				t.Errorf("RevokeClient status: got %q, want %q", got.Status, models.StatusRevoked)
			}
			if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt) {
				t.Errorf("RevokeClient revoked_at: got %v, want the store's clock %v", got.RevokedAt, revokedAt)
			}
			reread := mustClient(t, s, c.ID)
			if reread.Status != models.StatusRevoked || reread.RevokedAt == nil || !reread.RevokedAt.Equal(*got.RevokedAt) {
				t.Errorf("revoked client read back: got status %q revoked_at %v, want revoked at %v", reread.Status, reread.RevokedAt, got.RevokedAt)
			}

			clock.Advance(time.Second) // a second revocation must not move revoked_at
			again, err := s.RevokeClient(ctx, c.ID)
			if !errors.Is(err, models.ErrConflict) {
				t.Errorf("second RevokeClient: got %v, want ErrConflict", err)
			}
			if again == nil || again.RevokedAt == nil || !again.RevokedAt.Equal(*got.RevokedAt) {
				t.Errorf("second RevokeClient: got client %+v, want the client with its original revoked_at %v", again, got.RevokedAt)
			}
		})
	})
}

func TestListClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		alice := mustCreateUser(t, s, "alice@example.com", "a")
		bob := mustCreateUser(t, s, "bob@example.com", "b")
		// Created out of id order.
		b1, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, ID: "b1", OwnerID: bob.ID})
		a3, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, ID: "a3", OwnerID: alice.ID})
		a1, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, ID: "a1", OwnerID: alice.ID})
		a2, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, ID: "a2", OwnerID: alice.ID})
		if _, err := s.RevokeClient(ctx, a2.ID); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name   string
			filter models.ClientFilter
			want   []string // ordered by client id
		}{
			{"all", models.ClientFilter{}, []string{a1.ID, a2.ID, a3.ID, b1.ID}},
			{"owner alice", models.ClientFilter{OwnerID: alice.ID}, []string{a1.ID, a2.ID, a3.ID}},
			{"owner bob", models.ClientFilter{OwnerID: bob.ID}, []string{b1.ID}},
			{"revoked", models.ClientFilter{Status: models.StatusRevoked}, []string{a2.ID}},
			{"active", models.ClientFilter{Status: models.StatusActive}, []string{a1.ID, a3.ID, b1.ID}},
			{"alice active", models.ClientFilter{OwnerID: alice.ID, Status: models.StatusActive}, []string{a1.ID, a3.ID}},
			{"bob revoked", models.ClientFilter{OwnerID: bob.ID, Status: models.StatusRevoked}, nil},
			{"unknown owner", models.ClientFilter{OwnerID: "nobody"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cs, err := s.ListClients(ctx, tc.filter)
				if err != nil {
					t.Fatalf("ListClients(%+v): got error %v, want nil", tc.filter, err)
				}
				var got []string
				for _, c := range cs {
					got = append(got, c.ID)
					if c.Owner == nil || c.Owner.ID != c.OwnerID {
						t.Errorf("client %s: Owner not loaded (got %v)", c.ID, c.Owner)
					}
					if len(c.Secrets) != 1 {
						t.Errorf("client %s: got %d secrets, want 1", c.ID, len(c.Secrets))
					}
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("ListClients(%+v): got %v, want %v", tc.filter, got, tc.want)
				}
			})
		}
	})
}

func TestDisplayStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		now := time.Now().UTC()
		active := mustCreateUser(t, s, "active@example.com", "a", "b")
		disabled := mustCreateUser(t, s, "disabled@example.com", "a", "b")
		disabled.Status = models.StatusDisabled
		if err := s.UpdateUser(ctx, disabled); err != nil {
			t.Fatal(err)
		}
		other := mustCreateUser(t, s, "other@example.com", "z")

		for _, tc := range []struct {
			name    string
			owner   *models.User
			scopes  models.Set
			expires *time.Time
			revoke  bool
			want    string
		}{
			{"active", active, models.NewSet("a"), nil, false, models.ClientActive},
			{"active with future expiry", active, models.NewSet("a"), ptr(now.Add(time.Hour)), false, models.ClientActive},
			{"active, owner holds some scopes", active, models.NewSet("a", "z"), nil, false, models.ClientActive},
			{"active, no scopes", other, nil, nil, false, models.ClientActive},
			{"revoked", active, models.NewSet("a"), nil, true, models.ClientRevoked},
			{"revoked wins over expired", active, models.NewSet("a"), ptr(now.Add(-time.Hour)), true, models.ClientRevoked},
			{"expired", active, models.NewSet("a"), ptr(now.Add(-time.Minute)), false, models.ClientExpired},
			{"expires exactly now", active, models.NewSet("a"), ptr(now), false, models.ClientExpired},
			{"expired wins over disabled owner", disabled, models.NewSet("a"), ptr(now.Add(-time.Minute)), false, models.ClientExpired},
			{"owner disabled", disabled, models.NewSet("a"), nil, false, models.ClientDisabledByOwner},
			{"owner disabled, no scopes", disabled, nil, nil, false, models.ClientDisabledByOwner},
			{"owner lacks every scope", other, models.NewSet("a", "b"), nil, false, models.ClientDisabledByOwner},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: tc.owner.ID, Scopes: tc.scopes, ExpiresAt: tc.expires})
				if tc.revoke {
					if _, err := s.RevokeClient(ctx, c.ID); err != nil {
						t.Fatal(err)
					}
				}
				got := mustClient(t, s, c.ID)
				if st := got.DisplayStatus(nil, now); st != tc.want {
					t.Errorf("DisplayStatus: got %q, want %q", st, tc.want)
				}
				listed, err := s.ListClients(ctx, models.ClientFilter{OwnerID: tc.owner.ID})
				if err != nil {
					t.Fatal(err)
				}
				i := slices.IndexFunc(listed, func(l models.Client) bool { return l.ID == c.ID })
				if i < 0 {
					t.Fatalf("ListClients: client %s missing", c.ID)
				}
				if st := listed[i].DisplayStatus(nil, now); st != tc.want {
					t.Errorf("DisplayStatus from ListClients: got %q, want %q", st, tc.want)
				}
			})
		}
	})
}

// ---- usage ----

func TestRecordUsage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		owner := mustCreateUser(t, s, "owner@example.com", "a")
		c, sec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID, Scopes: models.NewSet("a")})
		other, otherSec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})

		if err := s.RecordUsage(ctx, nil); err != nil {
			t.Fatalf("RecordUsage(nil): got %v, want nil", err)
		}

		t1 := time.Date(2032, 3, 4, 10, 0, 0, 500_000_000, time.UTC)
		check := func(t *testing.T, at time.Time, ip, ua string) {
			t.Helper()
			got := mustClient(t, s, c.ID)
			if got.LastUsedAt == nil || !sameInstant(*got.LastUsedAt, at) {
				t.Errorf("client last_used_at: got %v, want %v", got.LastUsedAt, at)
			}
			if got.LastUsedIP != ip || got.LastUserAgent != ua {
				t.Errorf("client last ip/ua: got %q/%q, want %q/%q", got.LastUsedIP, got.LastUserAgent, ip, ua)
			}
			if len(got.Secrets) != 1 || got.Secrets[0].LastUsedAt == nil || !sameInstant(*got.Secrets[0].LastUsedAt, at) {
				t.Errorf("secret last_used_at: got %+v, want %v", got.Secrets, at)
			}
		}

		t.Run("Records", func(t *testing.T) {
			err := s.RecordUsage(ctx, []models.Usage{
				{ClientID: c.ID, SecretID: sec.ID, At: t1, IP: "192.0.2.1", UserAgent: "curl/8.0"},
				{ClientID: other.ID, At: t1.Add(-time.Hour), IP: "192.0.2.9", UserAgent: "other"},
			})
			if err != nil {
				t.Fatalf("RecordUsage: got error %v, want nil", err)
			}
			check(t, t1, "192.0.2.1", "curl/8.0")
			o := mustClient(t, s, other.ID)
			if o.LastUsedAt == nil || !sameInstant(*o.LastUsedAt, t1.Add(-time.Hour)) || o.LastUsedIP != "192.0.2.9" {
				t.Errorf("second client: got %v %q, want %v 192.0.2.9", o.LastUsedAt, o.LastUsedIP, t1.Add(-time.Hour))
			}
			if o.Secrets[0].ID != otherSec.ID || o.Secrets[0].LastUsedAt != nil {
				t.Errorf("usage without SecretID touched the secret: got last_used_at %v, want nil", o.Secrets[0].LastUsedAt)
			}
		})

		t.Run("OlderDoesNotOverwrite", func(t *testing.T) {
			for _, older := range []time.Time{
				t1.Add(-50 * time.Millisecond), // 10:00:00.45 vs .5: differs in the fraction only
				t1.Add(-500 * time.Millisecond),
				t1.Add(-time.Hour),
				t1.Add(-24 * time.Hour),
				t1.In(time.FixedZone("far east", 14*3600)).Add(-time.Second),
			} {
				if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: older, IP: "198.51.100.7", UserAgent: "old"}}); err != nil {
					t.Fatalf("RecordUsage(older): %v", err)
				}
				check(t, t1, "192.0.2.1", "curl/8.0")
			}
		})

		t.Run("NewerOverwrites", func(t *testing.T) {
			for _, newer := range []time.Time{
				t1.Add(time.Millisecond), // 10:00:00.501
				t1.Add(500 * time.Millisecond),
				t1.Add(10 * time.Second).In(time.FixedZone("far west", -12*3600)),
			} {
				if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: newer, IP: "203.0.113.5", UserAgent: "new"}}); err != nil {
					t.Fatalf("RecordUsage(newer): %v", err)
				}
				check(t, newer, "203.0.113.5", "new")
			}
		})

		t.Run("UserAgentTruncated", func(t *testing.T) {
			at := t1.Add(time.Minute)
			long := strings.Repeat("Mozilla/5.0 ", 25) // 300 bytes
			if len(long) != 300 {
				t.Fatalf("test setup: user agent is %d bytes, want 300", len(long))
			}
			if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: at, IP: "203.0.113.6", UserAgent: long}}); err != nil {
				t.Fatalf("RecordUsage: %v", err)
			}
			check(t, at, "203.0.113.6", long[:256])

			// Cutting inside a multi-byte rune leaves valid UTF-8.
			at = at.Add(time.Minute)
			multi := "x" + strings.Repeat("é", 150) // 301 bytes; byte 256 is mid-rune
			if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: at, IP: "203.0.113.6", UserAgent: multi}}); err != nil {
				t.Fatalf("RecordUsage: %v", err)
			}
			got := mustClient(t, s, c.ID).LastUserAgent
			if len(got) > 256 || !utf8.ValidString(got) || !strings.HasPrefix(multi, got) || len(got) < 250 {
				t.Errorf("multi-byte user agent: got %d bytes (valid UTF-8 %v), want a valid prefix of at most 256 bytes", len(got), utf8.ValidString(got))
			}
		})

		t.Run("UnknownClientIgnored", func(t *testing.T) {
			if err := s.RecordUsage(ctx, []models.Usage{{ClientID: "gone", SecretID: "gone", At: t1}}); err != nil {
				t.Errorf("RecordUsage for an unknown client: got %v, want nil", err)
			}
		})

		t.Run("MergedPerRow", func(t *testing.T) {
			// One client used through two secrets, one of them twice, in
			// one batch: counts add up per row, the latest use wins.
			u := mustCreateUser(t, s, "merge@example.com")
			mc, s1 := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: u.ID})
			s2 := newSecret(t)
			s2.ClientID = mc.ID
			if err := s.AddSecret(ctx, s2, t1.Add(48*time.Hour)); err != nil {
				t.Fatalf("AddSecret: %v", err)
			}
			at := t1.Add(time.Hour)
			if err := s.RecordUsage(ctx, []models.Usage{
				{ClientID: mc.ID, SecretID: s1.ID, At: at.Add(2 * time.Second), IP: "192.0.2.12", UserAgent: "s1-late", Count: 5},
				{ClientID: mc.ID, SecretID: s2.ID, At: at.Add(3 * time.Second), IP: "192.0.2.23", UserAgent: "s2", Count: 7},
				{ClientID: mc.ID, SecretID: s1.ID, At: at, IP: "192.0.2.11", UserAgent: "s1-early", Count: 11},
			}); err != nil {
				t.Fatalf("RecordUsage: %v", err)
			}
			got := mustClient(t, s, mc.ID)
			if got.TokenCount != 23 || got.LastUsedIP != "192.0.2.23" || got.LastUserAgent != "s2" || !sameInstant(*got.LastUsedAt, at.Add(3*time.Second)) {
				t.Errorf("client: got count %d, last %v %q %q; want 23, %v 192.0.2.23 s2", got.TokenCount, got.LastUsedAt, got.LastUsedIP, got.LastUserAgent, at.Add(3*time.Second))
			}
			want := map[string]struct {
				count int64
				ip    string
				at    time.Time
			}{s1.ID: {16, "192.0.2.12", at.Add(2 * time.Second)}, s2.ID: {7, "192.0.2.23", at.Add(3 * time.Second)}}
			for _, sec := range got.Secrets {
				w, ok := want[sec.ID]
				if !ok {
					continue
				}
				delete(want, sec.ID)
				if sec.TokenCount != w.count || sec.LastUsedIP != w.ip || sec.LastUsedAt == nil || !sameInstant(*sec.LastUsedAt, w.at) {
					t.Errorf("secret %s: got count %d, last %v %q; want %d, %v %q", sec.ID, sec.TokenCount, sec.LastUsedAt, sec.LastUsedIP, w.count, w.at, w.ip)
				}
			}
			if len(want) != 0 {
				t.Errorf("secrets missing from the client: %v", want)
			}
		})

		t.Run("CancelledFlushWritesAllOrNothing", func(t *testing.T) {
			// A flush whose context ends at any point either wrote its batch
			// and says so, or wrote nothing: the recorder gives a failed
			// batch back and writes it again, so a write reported as failed
			// would be counted twice.
			u := mustCreateUser(t, s, "cancel@example.com")
			cc, cs := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: u.ID})
			var written int64
			for i := range 200 {
				cctx, cancel := context.WithTimeout(ctx, time.Duration(i%40)*50*time.Microsecond)
				err := s.RecordUsage(cctx, []models.Usage{{ClientID: cc.ID, SecretID: cs.ID, At: t1.Add(time.Duration(i) * time.Second), Count: 1}})
				cancel()
				if err == nil {
					written++
				}
				if got := mustClient(t, s, cc.ID).TokenCount; got != written {
					t.Fatalf("flush %d (error %v): token_count %d, want %d", i, err, got, written)
				}
			}
		})

		t.Run("ConcurrentBatches", func(t *testing.T) {
			// Several instances flushing batches over the same clients, each
			// in its own order: every count arrives, none twice.
			u := mustCreateUser(t, s, "concurrent@example.com")
			const clients, writers, batches = 40, 4, 10
			var base []models.Usage
			for range clients {
				cc, cs := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: u.ID})
				base = append(base, models.Usage{ClientID: cc.ID, SecretID: cs.ID, At: t1, IP: "192.0.2.1", Count: 1})
			}
			var wg sync.WaitGroup
			errs := make(chan error, writers*batches)
			for w := range writers {
				wg.Go(func() {
					for b := range batches {
						batch := slices.Clone(base)
						mrand.New(mrand.NewPCG(uint64(w), uint64(b))).Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
						if err := s.RecordUsage(ctx, batch); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("RecordUsage from concurrent writers: %v", err)
			}
			for _, b := range base {
				got := mustClient(t, s, b.ClientID)
				if got.TokenCount != writers*batches || got.Secrets[0].TokenCount != writers*batches {
					t.Fatalf("client %s: got %d tokens (secret %d), want %d", b.ClientID, got.TokenCount, got.Secrets[0].TokenCount, writers*batches)
				}
			}
		})
	})
}

// ---- signing keys ----

func TestSigningKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		if keys, err := s.SigningKeys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("SigningKeys on an empty DB: got %v, %v; want none, nil", keys, err)
		}

		every := make([]byte, 256) // every byte value, NULs included
		for i := range every {
			every[i] = byte(i)
		}
		activated := time.Date(2033, 1, 2, 3, 4, 5, 6_000, time.UTC)
		mk := func(kid string, gen int64) *models.SigningKey {
			return &models.SigningKey{KID: kid, Generation: gen, Alg: "ES256", PublicKey: append(randomBytes(t, 91), every...),
				PrivateKeyEnc: append(every, randomBytes(t, 150)...), State: models.KeyActive, ActivatedAt: &activated}
		}
		want := map[string]*models.SigningKey{}
		for _, k := range []*models.SigningKey{mk("kid-3", 3), mk("kid-1", 1), mk("kid-2", 2)} {
			if err := s.CreateSigningKey(ctx, k); err != nil {
				t.Fatalf("CreateSigningKey(%s): got error %v, want nil", k.KID, err)
			}
			if k.CreatedAt.IsZero() {
				t.Errorf("CreateSigningKey(%s): CreatedAt not set", k.KID)
			}
			want[k.KID] = k
		}

		for _, tc := range []struct {
			name string
			key  *models.SigningKey
		}{
			{"same generation", mk("kid-other", 2)},
			{"same kid", mk("kid-1", 9)},
		} {
			if err := s.CreateSigningKey(ctx, tc.key); !errors.Is(err, models.ErrConflict) {
				t.Errorf("CreateSigningKey with the %s: got %v, want ErrConflict", tc.name, err)
			}
		}

		keys, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatalf("SigningKeys: %v", err)
		}
		var order []string
		for _, k := range keys {
			order = append(order, k.KID)
			w := want[k.KID]
			if w == nil {
				continue
			}
			if k.Generation != w.Generation || k.Alg != w.Alg || k.State != w.State {
				t.Errorf("key %s: got gen %d alg %s state %s, want %d %s %s", k.KID, k.Generation, k.Alg, k.State, w.Generation, w.Alg, w.State)
			}
			if !bytes.Equal(k.PublicKey, w.PublicKey) {
				t.Errorf("key %s PublicKey: got %x, want %x", k.KID, k.PublicKey, w.PublicKey)
			}
			if !bytes.Equal(k.PrivateKeyEnc, w.PrivateKeyEnc) {
				t.Errorf("key %s PrivateKeyEnc: got %x, want %x", k.KID, k.PrivateKeyEnc, w.PrivateKeyEnc)
			}
			if k.ActivatedAt == nil || !k.ActivatedAt.Equal(activated) || k.RetiredAt != nil {
				t.Errorf("key %s: got activated %v retired %v, want %v and nil", k.KID, k.ActivatedAt, k.RetiredAt, activated)
			}
			if !sameInstant(k.CreatedAt, w.CreatedAt) {
				t.Errorf("key %s CreatedAt: got %v, want %v", k.KID, k.CreatedAt, w.CreatedAt)
			}
		}
		if want := []string{"kid-1", "kid-2", "kid-3"}; !slices.Equal(order, want) {
			t.Errorf("SigningKeys order: got %v, want %v (by generation)", order, want)
		}
	})
}

// ---- settings ----

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)

		if _, err := s.Setting(ctx, "missing"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("Setting(missing): got %v, want ErrNotFound", err)
		}
		for _, tc := range []struct{ value, want string }{
			{"first", "first"},
			{"second", "first"},
			{"", "first"},
		} {
			got, err := s.SetSettingOnce(ctx, "issuer", tc.value)
			if err != nil || got != tc.want {
				t.Errorf("SetSettingOnce(issuer, %q): got %q, %v; want %q, nil", tc.value, got, err, tc.want)
			}
		}
		if got, err := s.Setting(ctx, "issuer"); err != nil || got != "first" {
			t.Errorf("Setting(issuer): got %q, %v; want first, nil", got, err)
		}
		if got, err := s.SetSettingOnce(ctx, "empty", ""); err != nil || got != "" {
			t.Errorf("SetSettingOnce(empty, \"\"): got %q, %v; want \"\", nil", got, err)
		}
		if got, err := s.SetSettingOnce(ctx, "empty", "later"); err != nil || got != "" {
			t.Errorf("SetSettingOnce(empty, later) after an empty value: got %q, %v; want \"\", nil", got, err)
		}
	})
}

func TestSetSettingOnceConcurrent(t *testing.T) {
	const writers = 10
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		shared := storetest.OpenURL(t, url)
		for _, mode := range []string{"shared store", "store per writer"} {
			t.Run(mode, func(t *testing.T) {
				name := "secret-" + strings.ReplaceAll(mode, " ", "-")
				stores := make([]*models.Store, writers)
				for i := range stores {
					stores[i] = shared
					if mode == "store per writer" {
						stores[i] = openUnmigrated(t, url)
					}
				}
				var wg sync.WaitGroup
				start := make(chan struct{})
				got := make([]string, writers)
				errs := make([]error, writers)
				for i := range writers {
					wg.Go(func() {
						<-start
						got[i], errs[i] = stores[i].SetSettingOnce(ctx, name, fmt.Sprintf("value-%d", i))
					})
				}
				close(start)
				wg.Wait()
				for i := range writers {
					if errs[i] != nil {
						t.Errorf("writer %d: got error %v, want nil", i, errs[i])
					}
					if got[i] != got[0] {
						t.Errorf("writer %d: got %q, writer 0 got %q; want all the same", i, got[i], got[0])
					}
				}
				if !strings.HasPrefix(got[0], "value-") {
					t.Errorf("stored value: got %q, want one of the written values", got[0])
				}
				if v, err := shared.Setting(ctx, name); err != nil || v != got[0] {
					t.Errorf("Setting after the race: got %q, %v; want %q, nil", v, err, got[0])
				}
			})
		}
	})
}

// ---- time values ----

func TestTimeRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		// Sub-microsecond digits catch rounding; the store clock is in
		// another zone to check that it stores UTC.
		base := time.Date(2034, 12, 31, 23, 59, 58, 123_456_789, time.FixedZone("UTC+5:30", 5*3600+1800))
		s.Now = func() time.Time { return base }

		owner := &models.User{OrgID: models.DefaultOrgID, Email: "time@example.com", Name: "T"}
		if err := s.CreateUser(ctx, owner); err != nil {
			t.Fatal(err)
		}
		expires := base.Add(48 * time.Hour).UTC()
		c, sec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID, ExpiresAt: &expires})
		used := base.Add(time.Hour + 999*time.Nanosecond)
		if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: used}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokeClient(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		key := &models.SigningKey{KID: "k", Generation: 1, Alg: "ES256", PublicKey: []byte{1}, PrivateKeyEnc: []byte{2}, State: models.KeyActive, ActivatedAt: &expires}
		if err := s.CreateSigningKey(ctx, key); err != nil {
			t.Fatal(err)
		}

		u, err := s.UserByID(ctx, models.DefaultOrgID, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := mustClient(t, s, c.ID)
		keys, err := s.SigningKeys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("SigningKeys: got %d keys, %v; want 1", len(keys), err)
		}
		deref := func(p *time.Time) time.Time {
			if p == nil {
				return time.Time{}
			}
			return *p
		}
		for _, tc := range []struct {
			name      string
			got, want time.Time
		}{
			{"user created_at", u.CreatedAt, base},
			{"user updated_at", u.UpdatedAt, base},
			{"client created_at", got.CreatedAt, base},
			{"client updated_at", got.UpdatedAt, base},
			{"client expires_at", deref(got.ExpiresAt), expires},
			{"client revoked_at", deref(got.RevokedAt), base},
			{"client last_used_at", deref(got.LastUsedAt), used},
			{"secret created_at", got.Secrets[0].CreatedAt, base},
			{"secret last_used_at", deref(got.Secrets[0].LastUsedAt), used},
			{"key created_at", keys[0].CreatedAt, base},
			{"key activated_at", deref(keys[0].ActivatedAt), expires},
		} {
			if tc.got.IsZero() {
				t.Errorf("%s: got zero/nil, want %v", tc.name, tc.want.UTC())
				continue
			}
			if !sameInstant(tc.got, tc.want) {
				t.Errorf("%s: got %v, want %v (same instant at µs precision)", tc.name, tc.got, usec(tc.want).UTC())
			}
			if _, off := tc.got.Zone(); off != 0 {
				t.Errorf("%s: got %v, want it in UTC", tc.name, tc.got)
			}
		}
	})
}

// TestTimeRoundTripCallerZone checks that times handed in by callers in
// another zone are stored as UTC: on SQLite times are text, and SQL
// comparisons such as "expires_at > ?" are only right if every value has
// the same offset.
func TestTimeRoundTripCallerZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		owner := mustCreateUser(t, s, "zone@example.com")
		east := time.Date(2035, 6, 1, 8, 0, 0, 0, time.FixedZone("UTC+14", 14*3600))  // 2035-05-31 18:00Z
		west := time.Date(2035, 6, 1, 8, 0, 0, 0, time.FixedZone("UTC-12", -12*3600)) // 2035-06-01 20:00Z
		c := &models.Client{OrgID: models.DefaultOrgID, ID: randomID("cli"), Name: "zone", OwnerID: owner.ID, ExpiresAt: &east}
		sec := newSecret(t)
		sec.ExpiresAt = &west
		if err := s.CreateClient(t.Context(), c, sec, 0); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		got := mustClient(t, s, c.ID)
		for _, tc := range []struct {
			name string
			got  *time.Time
			want time.Time
		}{
			{"client expires_at", got.ExpiresAt, east},
			{"secret expires_at", got.Secrets[0].ExpiresAt, west},
		} {
			if tc.got == nil || !sameInstant(*tc.got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want.UTC())
				continue
			}
			if _, off := tc.got.Zone(); off != 0 {
				t.Errorf("%s given as %v: read back as %v, want it stored and read in UTC", tc.name, tc.want, *tc.got)
			}
		}
	})
}

// ---- database URLs ----

func TestOpenSQLiteAbsoluteURL(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "x.db")
	if !filepath.IsAbs(path) {
		t.Fatalf("test setup: %s is not absolute", path)
	}
	url := "sqlite://" + path // sqlite:///abs/path
	if !strings.HasPrefix(url, "sqlite:///") {
		t.Fatalf("test setup: got URL %q, want sqlite:///...", url)
	}
	s, err := models.Open(ctx, url, nil)
	if err != nil {
		t.Fatalf("Open(%q): got error %v, want nil", url, err)
	}
	defer s.Close()
	if s.Dialect() != "sqlite" {
		t.Errorf("Dialect: got %q, want sqlite", s.Dialect())
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	mustCreateUser(t, s, "abs@example.com")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file at the absolute path: got %v, want it to exist", err)
	}

	// The same file opened through a plain sqlite:PATH URL has the data.
	s2 := openUnmigrated(t, "sqlite:"+path)
	if _, err := s2.UserByEmail(ctx, models.DefaultOrgID, "abs@example.com"); err != nil {
		t.Errorf("user via sqlite:%s: got %v, want it found", path, err)
	}
}

func TestOpenBadURL(t *testing.T) {
	for _, tc := range []struct {
		name     string
		url      string
		contains []string
		absent   string
	}{
		{"sqlite without path", "sqlite:", []string{"needs a file path", "sqlite:authz.db"}, ""},
		{"mysql", "mysql://x", []string{`"mysql://x"`, "sqlite:PATH", "postgres://"}, ""},
		{"mysql with password", "mysql://root:hunter2@db/authz", []string{"sqlite:PATH", "postgres://"}, "hunter2"},
		{"empty", "", []string{"sqlite:PATH", "postgres://"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := models.Open(t.Context(), tc.url, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): got nil error, want one", tc.url)
			}
			for _, want := range tc.contains {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open(%q): got error %q, want it to mention %q", tc.url, err, want)
				}
			}
			if tc.absent != "" && strings.Contains(err.Error(), tc.absent) {
				t.Errorf("Open(%q): error %q leaks %q", tc.url, err, tc.absent)
			}
		})
	}
}

// ---- observation ----

func TestObserveQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		var mu sync.Mutex
		seen := map[string]int{}
		if err := s.ObserveQueries(func(op string, d time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			if d <= 0 || err != nil {
				t.Errorf("%s: got duration %v, error %v; want > 0, nil", op, d, err)
			}
			seen[op]++
		}); err != nil {
			t.Fatal(err)
		}
		owner := mustCreateUser(t, s, "observed@example.com")
		c, sec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
		mustClient(t, s, c.ID)
		if _, err := s.ReadAuthVersion(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: time.Now(), Count: 1}}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, op := range []string{"create", "query", "auth_version", "usage_flush"} {
			if seen[op] == 0 {
				t.Errorf("no %s statement observed; saw %v", op, seen)
			}
		}
	})
}

// A failed statement is logged with its duration in milliseconds and no
// SQL text.
func TestDatabaseErrorLogLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		var logs testutil.LockedBuffer
		s, err := models.Open(t.Context(), storetest.URL(t, backend), slog.New(slog.NewJSONHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.ClientByID(t.Context(), "azc_unmigrated"); err == nil {
			t.Fatal("ClientByID on an unmigrated database: no error")
		}
		var line map[string]any
		if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
			t.Fatalf("log %q: %v", logs.String(), err)
		}
		if ms, ok := line["duration_ms"].(float64); line["msg"] != "database error" || !ok || ms < 0 {
			t.Errorf("got %v, want a database error line with duration_ms", line)
		}
		if strings.Contains(logs.String(), "SELECT") || strings.Contains(logs.String(), "azc_unmigrated") {
			t.Errorf("the line shows the statement: %s", logs.String())
		}
	})
}
