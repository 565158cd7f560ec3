package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
)

// keyMaterial is the server's two secrets: the key-encryption key that
// seals signing keys, and the pepper under which client secrets are hashed.
type keyMaterial struct {
	kek    *jwtkeys.KEK
	hasher *oauth.Hasher
}

// loadKeyMaterial reads AUTHZ_KEK and AUTHZ_PEPPER, or else a key file. On
// SQLite a missing key file is generated (development); on PostgreSQL, where
// several instances must share the secrets, it is an error.
func (m *Main) loadKeyMaterial(ctx context.Context, c *common, store *models.Store, log *slog.Logger) (*keyMaterial, error) {
	kekList, pepper := m.Getenv("AUTHZ_KEK"), m.Getenv("AUTHZ_PEPPER")
	if (kekList == "") != (pepper == "") {
		return nil, errors.New("set both AUTHZ_KEK and AUTHZ_PEPPER, or neither (to use a key file)")
	}
	source := "AUTHZ_KEK/AUTHZ_PEPPER"
	if kekList == "" {
		path := keyFilePath(c, store.Dialect())
		if path == "" {
			return nil, errors.New("PostgreSQL needs shared key material: set AUTHZ_KEK and AUTHZ_PEPPER (each `openssl rand -base64 32`), or --key-file")
		}
		var err error
		kekList, pepper, err = readOrCreateKeyFile(path, log)
		if err != nil {
			return nil, err
		}
		source = path
	}
	kek, err := jwtkeys.ParseKEK(kekList)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(pepper))
	if err != nil {
		return nil, fmt.Errorf("%s: the pepper is not base64", source)
	}
	hasher, err := oauth.NewHasher(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	stored, err := store.SetSettingOnce(ctx, "pepper_fingerprint", hasher.Fingerprint())
	if err != nil {
		return nil, err
	}
	if stored != hasher.Fingerprint() {
		return nil, fmt.Errorf("the secret pepper from %s is not the one this database's client secrets were hashed with; no client could authenticate. Use the original pepper", source)
	}
	return &keyMaterial{kek: kek, hasher: hasher}, nil
}

// keyFilePath is the key file used when AUTHZ_KEK and AUTHZ_PEPPER are
// unset: --key-file, else authz.key beside the SQLite file; "" on
// PostgreSQL without --key-file.
func keyFilePath(c *common, dialect string) string {
	if c.keyFile != "" || dialect != "sqlite" {
		return c.keyFile
	}
	return filepath.Join(filepath.Dir(sqlitePath(c.db)), "authz.key")
}

// guardEmptyDatabase refuses to start afresh on an unused SQLite database
// (models.Store.Unused) while its key file exists. authz writes the key
// file at a database's first start and stores the pepper's fingerprint in
// the database at once, so an existing key file beside an unused database
// means the database it was made with was deleted or moved: starting would
// silently create an empty one with a new signing key, and every client
// would be refused. A genuine first start has no key file yet. With
// AUTHZ_KEK and AUTHZ_PEPPER, or on PostgreSQL (where instances start
// together on one empty database), a first start looks exactly like a
// restart on an emptied database, so nothing is refused there.
func (m *Main) guardEmptyDatabase(ctx context.Context, c *common, store *models.Store) error {
	if c.allowEmpty || m.Getenv("AUTHZ_KEK") != "" || m.Getenv("AUTHZ_PEPPER") != "" || store.Dialect() != "sqlite" {
		return nil
	}
	keyFile := keyFilePath(c, store.Dialect())
	if _, err := os.Stat(keyFile); err != nil {
		return nil // a first start; a key file that cannot be read is loadKeyMaterial's to report
	}
	unused, err := store.Unused(ctx)
	if err != nil || !unused {
		return err
	}
	return fmt.Errorf("the database %s is empty, but the key file %s exists: it was written at the first start of a database that has since been deleted or moved. "+
		"Starting now would create an empty database with a new signing key, and every existing client would be refused. "+
		"Restore the database file from a backup (keep the key file: the database needs it), or point --db at it; "+
		"to start afresh on purpose, run again with --allow-empty-database (env AUTHZ_ALLOW_EMPTY_DATABASE=true)", sqlitePath(c.db), keyFile)
}

func sqlitePath(dbURL string) string {
	p := strings.TrimPrefix(dbURL, "sqlite:")
	return strings.TrimPrefix(p, "//")
}

// readOrCreateKeyFile reads "kek=..." and "pepper=..." lines, generating the
// file with mode 0600 when it does not exist.
func readOrCreateKeyFile(path string, log *slog.Logger) (kek, pepper string, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		created, cerr := createKeyFile(path)
		if cerr != nil {
			return "", "", cerr
		}
		if created {
			log.Warn("generated a development key file; in production set AUTHZ_KEK and AUTHZ_PEPPER", "path", path)
		}
		f, err = os.Open(path)
	}
	if err != nil {
		return "", "", fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("key file is readable by other users; chmod 600 it", "path", path, "mode", st.Mode().Perm().String())
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok || strings.HasPrefix(name, "#"):
		case name == "kek":
			kek = value
		case name == "pepper":
			pepper = value
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("key file %s: %w", path, err)
	}
	if kek == "" || pepper == "" {
		return "", "", fmt.Errorf("key file %s: want a kek= and a pepper= line", path)
	}
	return kek, pepper, nil
}

// createKeyFile writes fresh key material to a temporary file and links it
// into place, so concurrent first starts agree on one file and no reader
// ever sees a half-written one. It reports false if another process won.
func createKeyFile(path string) (bool, error) {
	body := "# authz development key material: keep secret, back it up with the database.\n" +
		"# In production set AUTHZ_KEK and AUTHZ_PEPPER instead.\nkek=" + random32() + "\npepper=" + random32() + "\n"
	tmp, err := os.CreateTemp(filepath.Dir(path), ".authz-key-*")
	if err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("create key file: %w", err)
	}
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		return false, fmt.Errorf("create key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("create key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("create key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("create key file: %w", err)
	}
	return true, nil
}

func random32() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
