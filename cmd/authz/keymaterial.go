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
		path := c.keyFile
		if path == "" {
			if store.Dialect() != "sqlite" {
				return nil, errors.New("PostgreSQL needs shared key material: set AUTHZ_KEK and AUTHZ_PEPPER (each `openssl rand -base64 32`), or --key-file")
			}
			path = filepath.Join(filepath.Dir(sqlitePath(c.db)), "authz.key")
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
