// This file is one job, the signing-key schedule: publishing the next key,
// promoting it after the JWKS cache lifetime, retiring and deleting old keys,
// safely when several instances run it at once. It is a little over 400 lines
// because each step's timing rule sits beside the transaction that applies it.

package jwtkeys

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/authz/authz/models"
)

// Rotation schedule defaults.
const (
	DefaultRotateEvery = 30 * 24 * time.Hour
	DefaultJWKSMaxAge  = 10 * time.Minute
	DefaultMaxStale    = 5 * time.Minute
	DefaultLeeway      = 5 * time.Minute
	// DefaultMaxTokenTTL is the longest token lifetime any policy allows
	// (models.Policy.Validate): retired keys stay published that long.
	DefaultMaxTokenTTL = 24 * time.Hour
)

// ErrStaleKeys means the keyring did not manage to reload its keys from the
// store for longer than RotationConfig.MaxStale, so it stopped signing.
var ErrStaleKeys = errors.New("keyring: signing keys not reloaded from the database recently; refusing to sign")

// RotationConfig is the signing-key rotation schedule. A key goes
//
//	next (published, not signing) → active (signing) → retired (published) → deleted
//
// and the durations are tied together so that no token fails verification
// because of a rotation:
//
//   - A resource server may cache the JWKS for JWKSMaxAge, and an instance
//     may serve a JWKS up to MaxStale old. So a next key is published for
//     PublishAhead ≥ JWKSMaxAge + MaxStale + Leeway before it signs: every
//     cached JWKS has it by then.
//   - An instance may keep signing with a key up to MaxStale after it was
//     retired (it has not reloaded yet), and a token lives at most
//     MaxTokenTTL. So a retired key stays published for RetireAfter ≥
//     MaxTokenTTL + MaxStale + Leeway.
//
// Sign enforces both assumptions: it refuses tokens living longer than
// MaxTokenTTL, and (once Run has started) signing with keys older than
// MaxStale.
type RotationConfig struct {
	// RotateEvery is the age of the active key at which the next key is
	// created. Default 30 days; at least PublishAhead.
	RotateEvery time.Duration
	// JWKSMaxAge is how long clients may cache the JWKS: the max-age the
	// JWKS endpoint must send (Keyring.JWKSMaxAge). Default 10 minutes.
	JWKSMaxAge time.Duration
	// MaxStale bounds how old an instance's view of the keys may get: Run
	// reloads more often than that, and Sign refuses once the last
	// successful reload is older. Default 5 minutes.
	MaxStale time.Duration
	// Leeway absorbs clock skew between instances, the database and
	// resource servers (including their exp leeway). Default 5 minutes.
	Leeway time.Duration
	// MaxTokenTTL is the longest lifetime of a token signed by the keyring.
	// Default 24h, the ceiling of every policy's max token TTL.
	MaxTokenTTL time.Duration
	// PublishAhead is how long a next key is published before it becomes
	// active. Default and minimum JWKSMaxAge + MaxStale + Leeway.
	PublishAhead time.Duration
	// RetireAfter is how long a retired key stays published. Default and
	// minimum MaxTokenTTL + MaxStale + Leeway.
	RetireAfter time.Duration
}

// withDefaults fills in zero fields and checks the invariants.
func (c RotationConfig) withDefaults() (RotationConfig, error) {
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"RotateEvery", &c.RotateEvery, DefaultRotateEvery},
		{"JWKSMaxAge", &c.JWKSMaxAge, DefaultJWKSMaxAge},
		{"MaxStale", &c.MaxStale, DefaultMaxStale},
		{"Leeway", &c.Leeway, DefaultLeeway},
		{"MaxTokenTTL", &c.MaxTokenTTL, DefaultMaxTokenTTL},
		{"PublishAhead", &c.PublishAhead, 0},
		{"RetireAfter", &c.RetireAfter, 0},
	} {
		if *f.v < 0 {
			return c, fmt.Errorf("key rotation: %s must not be negative, got %s", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if c.JWKSMaxAge < time.Second {
		return c, fmt.Errorf("key rotation: JWKSMaxAge must be at least 1s, got %s", c.JWKSMaxAge)
	}
	minPublish := c.JWKSMaxAge + c.MaxStale + c.Leeway
	if c.PublishAhead == 0 {
		c.PublishAhead = minPublish
	}
	if c.PublishAhead < minPublish {
		return c, fmt.Errorf("key rotation: PublishAhead %s is shorter than JWKSMaxAge + MaxStale + Leeway = %s: a resource server's cached JWKS could lack the new key", c.PublishAhead, minPublish)
	}
	minRetire := c.MaxTokenTTL + c.MaxStale + c.Leeway
	if c.RetireAfter == 0 {
		c.RetireAfter = minRetire
	}
	if c.RetireAfter < minRetire {
		return c, fmt.Errorf("key rotation: RetireAfter %s is shorter than MaxTokenTTL + MaxStale + Leeway = %s: tokens could outlive their key", c.RetireAfter, minRetire)
	}
	if c.RotateEvery < c.PublishAhead {
		return c, fmt.Errorf("key rotation: RotateEvery %s is shorter than PublishAhead %s", c.RotateEvery, c.PublishAhead)
	}
	return c, nil
}

// Rotation returns the effective rotation schedule.
func (k *Keyring) Rotation() RotationConfig { return k.rot }

// JWKSMaxAge is the Cache-Control max-age the JWKS endpoint must send: the
// rotation schedule publishes new keys at least this long (plus margins)
// before they sign.
func (k *Keyring) JWKSMaxAge() time.Duration { return k.rot.JWKSMaxAge }

func nextKey(keys []models.SigningKey) *models.SigningKey {
	for i := range keys {
		if keys[i].State == models.KeyNext {
			return &keys[i] // the oldest pending key goes first
		}
	}
	return nil
}

func activeSince(k *models.SigningKey) time.Time {
	if k.ActivatedAt != nil {
		return *k.ActivatedAt
	}
	return k.CreatedAt
}

// Tick runs one step of the rotation state machine and reloads the keys, so
// an instance picks up keys created, promoted or removed by any other. It is
// idempotent and safe to call from every instance at once:
//
//   - a next key published for PublishAhead is promoted to active, and the
//     active key retired, in one conditional transaction that only one
//     instance wins (there is exactly one active key at any moment);
//   - with no next key pending and the active key RotateEvery old, a next
//     key is created with the following generation (unique, so concurrent
//     creators yield exactly one);
//   - retired keys retired RetireAfter ago are deleted.
//
// A next key this instance cannot decrypt is not promoted (the error wraps
// ErrKEKMismatch); an instance with the right key-encryption key will.
func (k *Keyring) Tick(ctx context.Context) error {
	k.op.Lock()
	defer k.op.Unlock()
	err := k.tick(ctx)
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
	return err
}

func (k *Keyring) tick(ctx context.Context) error {
	keys, readAt, err := k.read(ctx)
	if err != nil {
		return err
	}
	active := activeKey(keys)
	if active == nil {
		return k.load(ctx)
	}
	now := k.now()
	var errs []error
	acted := false
	if next := nextKey(keys); next != nil {
		if k.publishedLongEnough(next, now) {
			acted = true
			if err := k.promote(ctx, next, now); err != nil {
				errs = append(errs, err)
			}
		}
	} else if !now.Before(activeSince(active).Add(k.rot.RotateEvery)) {
		acted = true
		if _, _, err := k.createNext(ctx, keys); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range keys {
		if r.State != models.KeyRetired || r.RetiredAt == nil || now.Before(r.RetiredAt.Add(k.rot.RetireAfter)) {
			continue
		}
		acted = true
		deleted, err := k.store.DeleteRetiredSigningKey(ctx, r.KID, now.Add(-k.rot.RetireAfter))
		if err != nil {
			errs = append(errs, err)
		} else if deleted {
			k.log.Info("removed retired signing key", "kid", r.KID, "generation", r.Generation, "retired_at", r.RetiredAt)
		}
	}
	if acted {
		if keys, readAt, err = k.read(ctx); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	if err := k.install(keys, readAt); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// publishedLongEnough reports whether next has been published for
// PublishAhead both by its created_at and by when this keyring first saw it.
func (k *Keyring) publishedLongEnough(next *models.SigningKey, now time.Time) bool {
	k.mu.RLock()
	seen, ok := k.seen[next.KID]
	k.mu.RUnlock()
	return ok && !now.Before(seen.Add(k.rot.PublishAhead)) && !now.Before(next.CreatedAt.Add(k.rot.PublishAhead))
}

func (k *Keyring) promote(ctx context.Context, next *models.SigningKey, now time.Time) error {
	if _, err := k.openSigner(next); err != nil {
		return fmt.Errorf("not promoting: %w", err)
	}
	ok, err := k.store.PromoteSigningKey(ctx, next.KID, now)
	if err != nil {
		return err
	}
	if ok {
		k.log.Info("activated signing key", "kid", next.KID, "alg", next.Alg, "generation", next.Generation, "published_since", next.CreatedAt)
	}
	return nil
}

// createNext stores a new next key with the generation after the newest in
// keys. When another instance created that generation first it returns the
// pending next key and created false.
func (k *Keyring) createNext(ctx context.Context, keys []models.SigningKey) (row models.SigningKey, created bool, err error) {
	var gen int64
	for _, key := range keys {
		gen = max(gen, key.Generation)
	}
	newRow, err := k.newKey(gen+1, models.KeyNext)
	if err != nil {
		return models.SigningKey{}, false, err
	}
	err = k.store.CreateSigningKey(ctx, newRow)
	if err == nil {
		k.log.Info("generated next signing key", "kid", newRow.KID, "alg", newRow.Alg, "generation", newRow.Generation,
			"activates_after", newRow.CreatedAt.Add(k.rot.PublishAhead))
		return *newRow, true, nil
	}
	if !errors.Is(err, models.ErrConflict) {
		return models.SigningKey{}, false, err
	}
	keys, err = k.store.SigningKeys(ctx)
	if err != nil {
		return models.SigningKey{}, false, err
	}
	if next := nextKey(keys); next != nil {
		return *next, false, nil
	}
	// The generation was taken by a key already promoted meanwhile.
	return models.SigningKey{}, false, fmt.Errorf("keyring: generation %d was created concurrently and is no longer pending; retry", gen+1)
}

// Rotate starts a rotation now: it creates a next key, which the normal
// schedule (Tick on the servers) promotes once it has been published for
// PublishAhead, so no token fails verification. If a next key is already
// pending, it is returned with created false and nothing changes;
// concurrent calls from any number of processes create exactly one key.
// The keyring is reloaded, so its JWKS includes the returned key.
func (k *Keyring) Rotate(ctx context.Context) (key models.SigningKey, created bool, err error) {
	k.op.Lock()
	defer k.op.Unlock()
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return models.SigningKey{}, false, err
	}
	if activeKey(keys) == nil {
		return models.SigningKey{}, false, errors.New("keyring: no active signing key; Load first")
	}
	if next := nextKey(keys); next != nil {
		key = *next
	} else if key, created, err = k.createNext(ctx, keys); err != nil {
		return models.SigningKey{}, false, err
	}
	keys, readAt, err := k.read(ctx)
	if err != nil {
		return key, created, err
	}
	return key, created, k.install(keys, readAt)
}

// Run calls Tick at once and then every interval, logging (never returning)
// its errors, until ctx is done; it returns when ctx is done. A zero
// interval means MaxStale/5; an interval above MaxStale/2 is lowered to it,
// so one failed tick does not stop signing.
//
// From the start of Run, Sign refuses to sign (ErrStaleKeys) while the last
// successful reload is older than MaxStale, e.g. when this instance cannot
// reach the database.
func (k *Keyring) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = k.rot.MaxStale / 5
	}
	if limit := k.rot.MaxStale / 2; interval > limit {
		k.log.Warn("signing keys: reload interval lowered to half of MaxStale", "requested_seconds", interval.Seconds(), "interval_seconds", limit.Seconds())
		interval = limit
	}
	k.guard.Store(true)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := k.Tick(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("signing keys: rotation tick failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RewrapResult counts the keys a Rewrap re-encrypted and those already
// sealed under the newest key-encryption key.
type RewrapResult struct {
	Rewrapped int `json:"rewrapped"`
	Unchanged int `json:"unchanged"`
}

// Rewrap re-encrypts every stored private key that is not sealed under the
// newest (first) key-encryption key, so the older ones can then be dropped
// from the list. Each update is a compare-and-swap on the old ciphertext:
// concurrent Rewraps, from any number of processes, never overwrite one
// another and each key is counted as rewrapped by exactly one of them. Keys
// no configured key-encryption key opens are left as they are and reported
// in the error (wrapping ErrKEKMismatch).
func (k *Keyring) Rewrap(ctx context.Context) (RewrapResult, error) {
	var res RewrapResult
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return res, err
	}
	var errs []error
	for i := range keys {
		done, err := k.rewrapOne(ctx, keys[i])
		switch {
		case err != nil:
			errs = append(errs, err)
		case done:
			res.Rewrapped++
		default:
			res.Unchanged++
		}
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	if res.Rewrapped > 0 {
		k.log.Info("re-encrypted signing keys under the newest key-encryption key", "rewrapped", res.Rewrapped, "unchanged", res.Unchanged)
	}
	return res, nil
}

// rewrapOne reseals row, reporting false when it needed nothing (or was
// deleted meanwhile).
func (k *Keyring) rewrapOne(ctx context.Context, row models.SigningKey) (bool, error) {
	for attempt := 0; attempt < 5; attempt++ {
		if k.kek.SealedByNewest(row.PrivateKeyEnc) {
			return false, nil
		}
		priv, err := k.openPrivate(&row)
		if err != nil {
			return false, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return false, fmt.Errorf("signing key %s: %w", row.KID, err)
		}
		sealed, err := k.kek.Seal(der, []byte(row.KID))
		if err != nil {
			return false, err
		}
		ok, err := k.store.UpdateSigningKeyEnc(ctx, row.KID, row.PrivateKeyEnc, sealed)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
		// Changed (or deleted) concurrently: look again.
		keys, err := k.store.SigningKeys(ctx)
		if err != nil {
			return false, err
		}
		found := false
		for _, key := range keys {
			if key.KID == row.KID {
				found, row = true, key
			}
		}
		if !found {
			return false, nil
		}
	}
	return false, fmt.Errorf("signing key %s: kept changing during rewrap; retry", row.KID)
}
