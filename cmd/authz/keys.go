package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/web"
)

// keys runs `authz keys list|rotate|rewrap` (Run checked which).
func (m *Main) keys(ctx context.Context, args []string) error {
	switch args[0] {
	case "list":
		return m.keysList(ctx, args[1:])
	case "rotate":
		return m.keysRotate(ctx, args[1:])
	}
	return m.keysRewrap(ctx, args[1:])
}

func (m *Main) keysList(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("keys list", &c)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	store, err := m.openStore(ctx, &c, m.logger(slog.LevelWarn), false)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	views := make([]web.KeyView, 0, len(keys))
	rows := make([][]string, 0, len(keys))
	for i := range keys {
		k := &keys[i]
		views = append(views, web.ViewKey(k))
		rows = append(rows, []string{k.KID, k.Alg, k.State, fmt.Sprint(k.Generation), k.CreatedAt.UTC().Format(time.RFC3339), timeOrDash(k.ActivatedAt), timeOrDash(k.RetiredAt)})
	}
	if c.json {
		return m.printJSON(views)
	}
	m.table("KID\tALG\tSTATE\tGEN\tCREATED\tACTIVATED\tRETIRED", rows)
	return nil
}

// keyStore opens the store and reads the key material (AUTHZ_KEK and
// AUTHZ_PEPPER, or the key file).
func (m *Main) keyStore(ctx context.Context, c *common, log *slog.Logger) (*models.Store, *keyMaterial, error) {
	store, err := m.openStore(ctx, c, log, false)
	if err != nil {
		return nil, nil, err
	}
	km, err := m.loadKeyMaterial(ctx, c, store, log)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, km, nil
}

func (m *Main) keysRotate(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("keys rotate", &c)
	var alg string
	fs.StringVar(&alg, "alg", m.env("AUTHZ_SIGNING_ALG", ""), "algorithm of the new key: ES256, EdDSA or RS256; default: the active key's (env AUTHZ_SIGNING_ALG)")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if alg != "" && !jwtkeys.ValidAlg(alg) {
		return fmt.Errorf("--alg %q: want ES256, EdDSA or RS256", alg)
	}
	log := m.logger(slog.LevelWarn)
	store, km, err := m.keyStore(ctx, &c, log)
	if err != nil {
		return err
	}
	defer store.Close()
	// Loading checks that the key-encryption key opens the active key, so
	// the new key is sealed under one the servers have. On an empty
	// database it creates the first key, as serve would.
	kr, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: alg, KEK: km.kek, Logger: log})
	if err != nil {
		return err
	}
	if err := kr.Load(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	if alg == "" {
		_, active := kr.ActiveKID()
		if kr, err = jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: active, KEK: km.kek, Logger: log}); err != nil {
			return err
		}
	}
	key, created, err := kr.Rotate(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	ahead := kr.Rotation().PublishAhead
	activates := key.CreatedAt.Add(ahead)
	if c.json {
		return m.printJSON(struct {
			Created        bool        `json:"created"`
			Key            web.KeyView `json:"key"`
			PublishAhead   string      `json:"publish_ahead"`
			ActivatesAfter time.Time   `json:"activates_after"`
		}{created, web.ViewKey(&key), ahead.String(), activates})
	}
	if created {
		m.printf("generated next signing key %s (%s, generation %d), published in the JWKS from now.\n", key.KID, key.Alg, key.Generation)
	} else {
		m.printf("a rotation is already pending: next signing key %s (%s, generation %d), published since %s; nothing changed.\n",
			key.KID, key.Alg, key.Generation, key.CreatedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(m.Stdout, "Running servers start signing with it after %s (once published for %s, the default schedule); tokens signed by the current key stay valid until they expire.\n",
		activates.UTC().Format(time.RFC3339), ahead)
	return nil
}

func (m *Main) keysRewrap(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("keys rewrap", &c)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	log := m.logger(slog.LevelWarn)
	store, km, err := m.keyStore(ctx, &c, log)
	if err != nil {
		return err
	}
	defer store.Close()
	kr, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{KEK: km.kek, Logger: log})
	if err != nil {
		return err
	}
	res, err := kr.Rewrap(ctx)
	if err != nil {
		return fmt.Errorf("rewrap signing keys (%d re-encrypted before the failure): %w", res.Rewrapped, err)
	}
	if c.json {
		return m.printJSON(res)
	}
	fmt.Fprintf(m.Stdout, "re-encrypted %d signing keys under the newest key-encryption key (%d already were).\n", res.Rewrapped, res.Unchanged)
	if res.Rewrapped+res.Unchanged > 0 {
		fmt.Fprintln(m.Stdout, "Every stored key is sealed under the first key-encryption key: once every instance lists it first, older ones can be removed from AUTHZ_KEK.")
	}
	return nil
}
