package jwtkeys

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/golang-jwt/jwt/v5"
)

// KeyStore is where a Keyring keeps its keys.
type KeyStore interface {
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
	CreateSigningKey(ctx context.Context, k *models.SigningKey) error
	// PromoteSigningKey makes the next key kid active and retires the
	// active one in one transaction; false when kid is no longer next.
	PromoteSigningKey(ctx context.Context, kid string, at time.Time) (bool, error)
	// DeleteRetiredSigningKey removes kid if it was retired at or before
	// retiredBefore.
	DeleteRetiredSigningKey(ctx context.Context, kid string, retiredBefore time.Time) (bool, error)
	// UpdateSigningKeyEnc swaps the sealed private key of kid from old to
	// sealed; false when it is no longer old.
	UpdateSigningKeyEnc(ctx context.Context, kid string, old, sealed []byte) (bool, error)
}

// Keyring holds the decrypted signing keys: the active one signs, and every
// published one is in the JWKS. It is safe for concurrent use.
type Keyring struct {
	store  KeyStore
	kek    *KEK
	alg    string
	issuer string
	now    func() time.Time
	log    *slog.Logger
	rot    RotationConfig

	// guard is set by Run: from then on Sign refuses to sign when the keys
	// were not reloaded from the store within rot.MaxStale.
	guard atomic.Bool
	// op serializes Load, Tick and Rotate, so an older read of the store
	// never replaces a newer one.
	op sync.Mutex

	mu       sync.RWMutex
	active   *signer
	jwks     verify.JWKS
	jwksJSON []byte
	own      *verify.Verifier // checks this server's tokens against the published keys
	loadedAt time.Time        // last complete reload from the store, by k.now
	lastErr  error            // of the last failed Tick, for ErrStaleKeys
	// seen is when this keyring first saw each next key in the store: a key
	// is promoted only once published for PublishAhead by this clock too,
	// whatever clock stamped its created_at (an operator's laptop).
	seen map[string]time.Time
}

type signer struct {
	kid    string
	alg    string
	key    crypto.Signer
	method jwt.SigningMethod
}

// KeyringConfig configures a Keyring.
type KeyringConfig struct {
	Alg string // algorithm of newly generated keys; default ES256
	// Issuer is the iss of this server's tokens, which VerifyOwn checks.
	Issuer string
	KEK    *KEK
	Now    func() time.Time
	Logger *slog.Logger
	// Rotation is the key rotation schedule; zero fields take their
	// defaults (see RotationConfig).
	Rotation RotationConfig
}

// NewKeyring returns an empty Keyring; call Load before signing.
func NewKeyring(store KeyStore, cfg KeyringConfig) (*Keyring, error) {
	if cfg.Alg == "" {
		cfg.Alg = ES256
	}
	if !ValidAlg(cfg.Alg) {
		return nil, fmt.Errorf("unsupported signing algorithm %q: want ES256, EdDSA or RS256", cfg.Alg)
	}
	if cfg.KEK == nil {
		return nil, errors.New("keyring: a key-encryption key is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	rot, err := cfg.Rotation.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Keyring{store: store, kek: cfg.KEK, alg: cfg.Alg, issuer: cfg.Issuer, now: cfg.Now, log: cfg.Logger, rot: rot}, nil
}

// Load reads the keys from the store and installs the active one. Only when
// the store holds no key at all does it generate the first one, directly
// active (no token can exist yet). Instances racing to create it agree on
// one: the insert is unique by generation and the loser reloads.
//
// Load never generates a key to work around a key it cannot use: if no
// configured key-encryption key opens the active key it fails with an error
// wrapping ErrKEKMismatch, and stored keys without an active one are an
// error too.
func (k *Keyring) Load(ctx context.Context) error {
	k.op.Lock()
	defer k.op.Unlock()
	return k.load(ctx)
}

func (k *Keyring) load(ctx context.Context) error {
	for attempt := 0; attempt < 3; attempt++ {
		keys, readAt, err := k.read(ctx)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := k.install(keys, readAt); err != nil {
				return err
			}
			for i := range keys {
				if keys[i].State == models.KeyNext {
					if _, err := k.openPrivate(&keys[i]); err != nil {
						k.log.Warn("the pending signing key cannot be decrypted with this instance's key-encryption keys: this instance will stop signing once it becomes active", "error", err)
					}
				}
			}
			return nil
		}
		row, err := k.newKey(1, models.KeyActive)
		if err != nil {
			return err
		}
		err = k.store.CreateSigningKey(ctx, row)
		if errors.Is(err, models.ErrConflict) {
			continue // another instance created it first
		}
		if err != nil {
			return err
		}
		k.log.Info("generated signing key", "kid", row.KID, "alg", row.Alg, "generation", row.Generation)
	}
	keys, readAt, err := k.read(ctx)
	if err != nil {
		return err
	}
	return k.install(keys, readAt)
}

// read returns the stored keys and the time the read started: the keys are
// at least that fresh.
func (k *Keyring) read(ctx context.Context) ([]models.SigningKey, time.Time, error) {
	readAt := k.now()
	keys, err := k.store.SigningKeys(ctx)
	return keys, readAt, err
}

func activeKey(keys []models.SigningKey) *models.SigningKey {
	var active *models.SigningKey
	for i := range keys {
		if keys[i].State == models.KeyActive {
			active = &keys[i] // the newest active generation wins
		}
	}
	return active
}

// newKey generates a key and seals its private part.
func (k *Keyring) newKey(generation int64, state string) (*models.SigningKey, error) {
	priv, err := GenerateKey(k.alg)
	if err != nil {
		return nil, err
	}
	kid, err := KID(priv.Public())
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed, err := k.kek.Seal(der, []byte(kid))
	if err != nil {
		return nil, err
	}
	now := k.now().UTC()
	row := &models.SigningKey{KID: kid, Generation: generation, Alg: k.alg, PublicKey: pub, PrivateKeyEnc: sealed, State: state, CreatedAt: now}
	if state == models.KeyActive {
		row.ActivatedAt = &now
	}
	return row, nil
}

// install publishes every stored key (next, active and retired) and signs
// with the active one, decrypting it only when it changed. readAt is when
// the read of keys started, the freshness the staleness guard counts from.
// If the active key cannot be decrypted the published set is still updated,
// the previous signer (if any) is kept, and the error is returned; the
// reload does not count as fresh.
func (k *Keyring) install(keys []models.SigningKey, readAt time.Time) error {
	row := activeKey(keys)
	if row == nil {
		return fmt.Errorf("keyring: %d signing keys are stored but none is active; check `authz keys list` (no key was generated)", len(keys))
	}
	set, err := publish(keys, row.KID)
	if err != nil {
		return err
	}
	body, err := json.Marshal(set)
	if err != nil {
		return err
	}
	var own *verify.Verifier
	if k.issuer != "" {
		if own, err = verify.NewIssuerVerifier(set, k.issuer, ownLeeway, k.now); err != nil {
			return err
		}
	}

	k.mu.RLock()
	active := k.active
	k.mu.RUnlock()
	var openErr error
	if active == nil || active.kid != row.KID {
		s, err := k.openSigner(row)
		if err != nil {
			openErr = err
		} else {
			active = s
		}
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make(map[string]time.Time)
	for _, key := range keys {
		if key.State == models.KeyNext {
			if at, ok := k.seen[key.KID]; ok {
				seen[key.KID] = at
			} else {
				seen[key.KID] = now
			}
		}
	}
	k.active, k.jwks, k.jwksJSON, k.own, k.seen = active, set, body, own, seen
	if openErr != nil {
		return openErr
	}
	k.loadedAt = readAt
	return nil
}

// publish returns the JWKS of keys: the active key first, then the others
// newest generation first.
func publish(keys []models.SigningKey, activeKID string) (verify.JWKS, error) {
	set := verify.JWKS{Keys: make([]verify.JWK, 0, len(keys))}
	add := func(key models.SigningKey) error {
		pub, err := x509.ParsePKIXPublicKey(key.PublicKey)
		if err != nil {
			return fmt.Errorf("signing key %s: public key: %w", key.KID, err)
		}
		jwk, err := verify.PublicJWK(key.KID, key.Alg, pub)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", key.KID, err)
		}
		set.Keys = append(set.Keys, jwk)
		return nil
	}
	for _, key := range keys {
		if key.KID == activeKID {
			if err := add(key); err != nil {
				return verify.JWKS{}, err
			}
		}
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].KID != activeKID {
			if err := add(keys[i]); err != nil {
				return verify.JWKS{}, err
			}
		}
	}
	return set, nil
}

// openSigner decrypts a stored key.
func (k *Keyring) openSigner(row *models.SigningKey) (*signer, error) {
	priv, err := k.openPrivate(row)
	if err != nil {
		return nil, err
	}
	s := &signer{kid: row.KID, alg: row.Alg, key: priv, method: jwt.GetSigningMethod(row.Alg)}
	if s.method == nil || !ValidAlg(row.Alg) {
		return nil, fmt.Errorf("signing key %s: unsupported alg %q", row.KID, row.Alg)
	}
	return s, nil
}

// openPrivate decrypts the private key of row and checks that it matches
// the stored public key.
func (k *Keyring) openPrivate(row *models.SigningKey) (crypto.Signer, error) {
	der, err := k.kek.Open(row.PrivateKeyEnc, []byte(row.KID))
	if errors.Is(err, ErrKEKMismatch) {
		return nil, fmt.Errorf("signing key %s (generation %d, %s): %w: if the key-encryption key was replaced, "+
			"list the previous one after the new one (AUTHZ_KEK=new,old) and run `authz keys rewrap`", row.KID, row.Generation, row.State, err)
	}
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not a signing key", row.KID)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil || !bytes.Equal(pub, row.PublicKey) {
		return nil, fmt.Errorf("signing key %s: the decrypted private key does not match the stored public key", row.KID)
	}
	return priv, nil
}

// Ready reports whether the keyring can sign: it is loaded and, once Run
// has started, its keys were reloaded within RotationConfig.MaxStale (else
// an error wrapping ErrStaleKeys).
func (k *Keyring) Ready() error {
	k.mu.RLock()
	s, loadedAt, lastErr := k.active, k.loadedAt, k.lastErr
	k.mu.RUnlock()
	if s == nil {
		return errors.New("keyring: not loaded")
	}
	if k.guard.Load() {
		if age := k.now().Sub(loadedAt); age > k.rot.MaxStale {
			return fmt.Errorf("%w: last reload %s ago, limit %s; last error: %v", ErrStaleKeys, age.Round(time.Second), k.rot.MaxStale, lastErr)
		}
	}
	return nil
}

// ownLeeway absorbs clock skew between instances sharing a database.
const ownLeeway = 5 * time.Second

// VerifyOwn checks a token this server issued, for any audience: a
// published key's signature, typ, iss (the configured Issuer), exp, nbf and
// iat. It returns an error wrapping verify.ErrUnknownKey for a token signed
// by a key that is not published.
func (k *Keyring) VerifyOwn(token string) (*verify.Claims, error) {
	k.mu.RLock()
	own := k.own
	k.mu.RUnlock()
	if own == nil {
		return nil, errors.New("keyring: no issuer configured or keys not loaded")
	}
	// A static verifier makes no request: the context is not used.
	return own.Verify(context.Background(), token)
}

// JWKS returns the published public keys.
func (k *Keyring) JWKS() verify.JWKS {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

// JWKSJSON returns the published keys encoded once per change.
func (k *Keyring) JWKSJSON() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwksJSON
}

// ActiveKID returns the kid and alg of the signing key.
func (k *Keyring) ActiveKID() (kid, alg string) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.active == nil {
		return "", ""
	}
	return k.active.kid, k.active.alg
}
