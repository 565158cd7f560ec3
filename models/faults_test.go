//go:build unix

package models_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// The SQLite file, and the -wal and -shm files SQLite makes beside it,
// hold client secrets' hashes and encrypted signing keys: they are created
// 0600 whatever the umask.
func TestSQLiteFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "authz.db")
	s := storetest.OpenURL(t, "sqlite:"+path)
	if err := s.CreateUser(t.Context(), &models.User{OrgID: models.DefaultOrgID, Email: "a@example.com", Name: "A", Role: models.RoleMember}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", filepath.Base(p), err)
			continue
		}
		if got := st.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want -rw-------", filepath.Base(p), got)
		}
	}
}

// Ping notices an SQLite file deleted or replaced while open (the open
// descriptors keep answering, so only the path tells), and a new
// connection does not create an empty database in a deleted one's place.
func TestPingNoticesGoneFile(t *testing.T) {
	cases := []struct {
		name   string
		change func(path string) error
	}{
		{"deleted", os.Remove},
		{"replaced", func(path string) error {
			if err := os.Rename(path, path+".moved"); err != nil {
				return err
			}
			return os.WriteFile(path, nil, 0o600)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "authz.db")
			s := storetest.OpenURL(t, "sqlite:"+path)
			if err := s.Ping(ctx); err != nil {
				t.Fatalf("Ping before: got %v, want nil", err)
			}
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(ctx); !errors.Is(err, models.ErrFileGone) {
				t.Errorf("Ping after the file was %s: got %v, want ErrFileGone", tc.name, err)
			}
		})
	}
	t.Run("no new empty database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "authz.db")
		s := storetest.OpenURL(t, "sqlite:"+path)
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		models.NoIdleConns(s) // the next statement opens a new connection
		if _, err := s.ListUsers(t.Context(), models.DefaultOrgID); !errors.Is(err, models.ErrUnavailable) {
			t.Errorf("ListUsers on a new connection after the file was deleted: got %v, want ErrUnavailable", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after the file was deleted, stat %s: got %v, want it still missing", path, err)
		}
	})
}

// A database that cannot be reached is ErrUnavailable (the admin API
// answers 503); a statement the database refuses is not.
func TestUnreachableDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		rawURL := storetest.URL(t, backend)
		s := storetest.OpenURL(t, rawURL)
		u := &models.User{OrgID: models.DefaultOrgID, Email: "a@example.com", Name: "A", Role: models.RoleMember}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		err := s.CreateUser(ctx, &models.User{OrgID: models.DefaultOrgID, Email: u.Email, Name: "A again", Role: models.RoleMember})
		if !errors.Is(err, models.ErrConflict) || errors.Is(err, models.ErrUnavailable) {
			t.Errorf("duplicate user: got %v, want ErrConflict and not ErrUnavailable", err)
		}
		if backend == "sqlite" {
			if err := os.Remove(filepath.Clean(rawURL[len("sqlite:"):])); err != nil {
				t.Fatal(err)
			}
		} else {
			storetest.CutOff(t, rawURL)
		}
		if backend == "sqlite" {
			// Pooled connections keep the deleted file open; a new one
			// finds it missing. (PostgreSQL's were terminated: the read
			// meets a dead connection, the write a refused one.)
			models.NoIdleConns(s)
		}
		ops := []struct {
			name string
			op   func() error
		}{
			{"read", func() error { _, err := s.UserByEmail(ctx, models.DefaultOrgID, u.Email); return err }},
			{"write", func() error {
				return s.CreateUser(ctx, &models.User{OrgID: models.DefaultOrgID, Email: "b@example.com", Name: "B", Role: models.RoleMember})
			}},
		}
		for _, o := range ops {
			if err := o.op(); !errors.Is(err, models.ErrUnavailable) || errors.Is(err, models.ErrNotFound) {
				t.Errorf("%s with the database unreachable: got %v, want ErrUnavailable", o.name, err)
			}
		}
	})
}
