package models_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

func authVersion(t *testing.T, s *models.Store) int64 {
	t.Helper()
	v, err := s.AuthVersion(t.Context())
	if err != nil {
		t.Fatalf("AuthVersion: got error %v, want nil", err)
	}
	return v
}

// TestAuthVersionChanges checks that every change AuthClient could see
// moves AuthVersion, and that usage, audit and other writes do not.
func TestAuthVersionChanges(t *testing.T) {
	defer models.SetAuthVersionCheck(time.Hour)() // the header alone decides
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := t.Context()
		if got, want := s.AuthVersionSource(ctx), map[string]string{"sqlite": "sqlite-wal-index", "postgres": "query"}[backend]; got != want {
			t.Fatalf("AuthVersionSource: got %q, want %q", got, want)
		}
		owner := mustCreateUser(t, s, "owner@example.com", "a:read", "a:write")
		c, sec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID, Scopes: models.NewSet("a:read")})

		other := &models.Organization{Slug: "other", Name: "Other"}
		project := &models.Project{Slug: "api", Name: "API", Resource: "https://api.other.example"}
		changes := []struct {
			name string
			do   func() error
		}{
			{"create user", func() error {
				return s.CreateUser(ctx, &models.User{OrgID: models.DefaultOrgID, Email: "other@example.com", Name: "o"})
			}},
			{"owner permissions", func() error { owner.Permissions = models.NewSet("a:read"); return s.UpdateUser(ctx, owner) }},
			{"owner disabled", func() error { owner.Status = models.StatusDisabled; return s.UpdateUser(ctx, owner) }},
			{"create client", func() error {
				_, _ = mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
				return nil
			}},
			{"client scopes", func() error { c.Scopes = models.NewSet("a:write"); return s.UpdateClient(ctx, c) }},
			{"client allowlist", func() error { c.IPAllowlist = models.NewSet("10.0.0.0/8"); return s.UpdateClient(ctx, c) }},
			{"renew client", func() error { return s.RenewClient(ctx, c, time.Now().Add(time.Hour), time.Now(), 0) }},
			{"renewed_at alone, by hand", func() error {
				return models.ExecRaw(ctx, s, "UPDATE clients SET renewed_at = "+map[string]string{"sqlite": "'2030-01-01 00:00:00+00:00'", "postgres": "now()"}[backend]+" WHERE id = '"+c.ID+"'")
			}},
			{"rotate secret", func() error {
				return s.AddSecret(ctx, &models.ClientSecret{ID: randomID("sec"), ClientID: c.ID, Hash: randomBytes(t, 32), Prefix: "p", Last4: "l"}, time.Now().Add(time.Hour))
			}},
			{"revoke secret", func() error { return s.RevokeSecret(ctx, c.ID, sec.ID) }},
			{"revoke client", func() error { _, err := s.RevokeClient(ctx, c.ID); return err }},
			{"policy", func() error {
				p, err := s.Policy(ctx, models.DefaultOrgID)
				if err != nil {
					return err
				}
				p.MaxTokenTTL = 30 * time.Minute
				return s.SavePolicy(ctx, p)
			}},
			{"publishable scopes", func() error {
				p, err := s.Policy(ctx, models.DefaultOrgID)
				if err != nil {
					return err
				}
				p.PublishableScopes = models.NewSet("a:read")
				return s.SavePolicy(ctx, p)
			}},
			{"create organization", func() error { return s.CreateOrganization(ctx, other) }},
			{"another organization's first policy", func() error {
				p := models.DefaultPolicy()
				p.OrgID = other.ID
				return s.SavePolicy(ctx, &p)
			}},
			{"membership of another organization", func() error {
				m := *owner
				m.OrgID, m.Role, m.Status = other.ID, models.RoleAdmin, models.StatusActive
				return s.AddMembership(ctx, &m)
			}},
			{"may create clients", func() error { owner.MayCreateClients = true; return s.UpdateUser(ctx, owner) }},
			{"create project", func() error { project.OrgID = other.ID; return s.CreateProject(ctx, project) }},
			{"default project", func() error { return s.SetDefaultProject(ctx, other.ID, project.ID) }},
		}
		for _, ch := range changes {
			before := authVersion(t, s)
			if err := ch.do(); err != nil {
				t.Fatalf("%s: %v", ch.name, err)
			}
			if after := authVersion(t, s); after == before {
				t.Errorf("%s: AuthVersion stayed %d, want a change", ch.name, before)
			}
		}

		unrelated := []struct {
			name string
			do   func() error
		}{
			{"usage", func() error {
				return s.RecordUsage(ctx, []models.Usage{{ClientID: c.ID, SecretID: sec.ID, At: time.Now(), IP: "192.0.2.1", Count: 3}})
			}},
			{"audit", func() error {
				return s.AddAudit(ctx, models.AuditEvent{At: time.Now(), Actor: "x", Action: models.AuditAuthFailed})
			}},
			{"lease", func() error { _, err := s.AcquireLease(ctx, "job", "me", time.Minute); return err }},
		}
		for _, u := range unrelated {
			before := authVersion(t, s)
			if err := u.do(); err != nil {
				t.Fatalf("%s: %v", u.name, err)
			}
			if after := authVersion(t, s); after != before {
				t.Errorf("%s: AuthVersion moved %d -> %d, want unchanged", u.name, before, after)
			}
		}
	})
}

// TestAuthVersionNoQueryWhileUnchanged checks the SQLite fast path: with no
// commit in between, AuthVersion answers from shared memory.
func TestAuthVersionNoQueryWhileUnchanged(t *testing.T) {
	defer models.SetAuthVersionCheck(time.Hour)()
	s := storetest.Open(t, "sqlite")
	first := authVersion(t, s)
	reads := models.AuthVersionReads(s)
	for range 1000 {
		if v := authVersion(t, s); v != first {
			t.Fatalf("AuthVersion: got %d, want %d", v, first)
		}
	}
	if got := models.AuthVersionReads(s) - reads; got != 0 {
		t.Errorf("auth_version queries over 1000 calls on an unchanged database: got %d, want 0", got)
	}
	// A commit that is not an auth change costs one query, then none.
	if _, err := s.AcquireLease(t.Context(), "job", "me", time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		authVersion(t, s)
	}
	if got := models.AuthVersionReads(s) - reads; got != 1 {
		t.Errorf("auth_version queries after one unrelated commit: got %d, want 1", got)
	}
	// Past authVersionCheck the row is read again whatever the header says.
	defer models.SetAuthVersionCheck(0)()
	authVersion(t, s)
	if got := models.AuthVersionReads(s) - reads; got != 2 {
		t.Errorf("auth_version queries past the check interval: got %d, want 2", got)
	}
}

// TestAuthVersionOtherProcess checks that a change committed by another
// process (as the CLI does) is seen at the next call, several times over:
// each writer opens and closes the database, which must not leave this
// process watching a deleted shared-memory file.
func TestAuthVersionOtherProcess(t *testing.T) {
	if os.Getenv("AUTHZ_TEST_WRITER_URL") != "" {
		t.Skip("runs in the parent only")
	}
	defer models.SetAuthVersionCheck(time.Hour)()
	storetest.Each(t, func(t *testing.T, backend string) {
		url := storetest.URL(t, backend)
		s := storetest.OpenURL(t, url)
		owner := mustCreateUser(t, s, "owner@example.com", "a:read")
		// As after a long idle period: this process keeps no pooled
		// connection open, so each writer may be the database's last.
		models.NoIdleConns(s)
		for i := range 3 {
			before := authVersion(t, s)
			cmd := exec.Command(os.Args[0], "-test.run=^TestAuthVersionWriterProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "AUTHZ_TEST_WRITER_URL="+url, "AUTHZ_TEST_WRITER_OWNER="+owner.ID, fmt.Sprintf("AUTHZ_TEST_WRITER_N=%d", i))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("writer process: %v\n%s", err, out)
			}
			if after := authVersion(t, s); after == before {
				t.Fatalf("round %d: AuthVersion stayed %d after another process created a client", i, before)
			}
		}
	})
}

// TestAuthVersionWriterProcess is the other process of
// TestAuthVersionOtherProcess.
func TestAuthVersionWriterProcess(t *testing.T) {
	url := os.Getenv("AUTHZ_TEST_WRITER_URL")
	if url == "" {
		t.Skip("started by TestAuthVersionOtherProcess")
	}
	s, err := models.Open(context.Background(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &models.Client{OrgID: models.DefaultOrgID, ID: "cli-writer-" + os.Getenv("AUTHZ_TEST_WRITER_N"), Name: "w", OwnerID: os.Getenv("AUTHZ_TEST_WRITER_OWNER")}
	if err := s.CreateClient(context.Background(), c, newSecret(t), 0); err != nil {
		t.Fatal(err)
	}
}

// TestAuthVersionConcurrentWriters changes owners and clients from many
// transactions at once: the version bump must not make them deadlock or
// fail.
func TestAuthVersionConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		ctx := t.Context()
		owners := make([]*models.User, 4)
		for i := range owners {
			owners[i] = mustCreateUser(t, s, fmt.Sprintf("o%d@example.com", i), "a:read")
		}
		before := authVersion(t, s)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o := owners[i%len(owners)]
				for j := range 5 {
					c := &models.Client{OrgID: models.DefaultOrgID, ID: fmt.Sprintf("cli-%d-%d", i, j), Name: "c", OwnerID: o.ID}
					if err := s.CreateClient(ctx, c, &models.ClientSecret{ID: fmt.Sprintf("sec-%d-%d", i, j), Hash: []byte("h"), Prefix: "p", Last4: "l"}, 0); err != nil {
						errs <- fmt.Errorf("create client: %w", err)
						return
					}
					u := *o
					u.Permissions = models.NewSet("a:read", fmt.Sprintf("p:%d", j))
					if err := s.UpdateUser(ctx, &u); err != nil {
						errs <- fmt.Errorf("update user: %w", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if after := authVersion(t, s); after <= before {
			t.Errorf("AuthVersion after 160 changes: got %d, want more than %d", after, before)
		}
	})
}
