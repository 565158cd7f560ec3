package jwtkeys

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/authz/authz/models"
	"github.com/golang-jwt/jwt/v5"
)

// KeyStore is where a Keyring keeps its keys.
type KeyStore interface {
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
	CreateSigningKey(ctx context.Context, k *models.SigningKey) error
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

	mu       sync.RWMutex
	active   *signer
	jwks     JWKS
	jwksJSON []byte
	own      *Verifier // checks this server's tokens against the published keys
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
	return &Keyring{store: store, kek: cfg.KEK, alg: cfg.Alg, issuer: cfg.Issuer, now: cfg.Now, log: cfg.Logger}, nil
}

// Load reads the keys from the store, generating the first one when the
// store has none. Instances racing to create it agree on one: the insert is
// unique by generation and the loser reloads.
func (k *Keyring) Load(ctx context.Context) error {
	for attempt := 0; attempt < 3; attempt++ {
		keys, err := k.store.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if activeKey(keys) != nil {
			return k.install(keys)
		}
		next := int64(1)
		if len(keys) > 0 {
			next = keys[len(keys)-1].Generation + 1
		}
		row, err := k.newKey(next, models.KeyActive)
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
		k.log.Info("generated signing key", "kid", row.KID, "alg", row.Alg)
	}
	keys, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	return k.install(keys)
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

// install decrypts the active key and rebuilds the JWKS.
func (k *Keyring) install(keys []models.SigningKey) error {
	row := activeKey(keys)
	if row == nil {
		return errors.New("keyring: no active signing key")
	}
	der, err := k.kek.Open(row.PrivateKeyEnc, []byte(row.KID))
	if err != nil {
		return fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("signing key %s: %w", row.KID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return fmt.Errorf("signing key %s: not a signing key", row.KID)
	}
	active := &signer{kid: row.KID, alg: row.Alg, key: priv, method: jwt.GetSigningMethod(row.Alg)}
	if active.method == nil {
		return fmt.Errorf("signing key %s: unsupported alg %q", row.KID, row.Alg)
	}

	set := JWKS{Keys: []JWK{}}
	for _, key := range keys {
		pub, err := x509.ParsePKIXPublicKey(key.PublicKey)
		if err != nil {
			return fmt.Errorf("signing key %s: public key: %w", key.KID, err)
		}
		jwk, err := PublicJWK(key.KID, key.Alg, pub)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", key.KID, err)
		}
		set.Keys = append(set.Keys, jwk)
	}
	body, err := json.Marshal(set)
	if err != nil {
		return err
	}
	var own *Verifier
	if k.issuer != "" {
		own = newVerifier(k.issuer, "", ownLeeway, k.now)
		keys := &verifierKeySet{keys: make(map[string]verifierKey, len(set.Keys))}
		for _, jwk := range set.Keys {
			pub, err := jwk.PublicKey()
			if err != nil {
				return fmt.Errorf("signing key %s: %w", jwk.Kid, err)
			}
			keys.keys[jwk.Kid] = verifierKey{alg: jwk.Alg, key: pub}
		}
		own.keys.Store(keys)
	}
	k.mu.Lock()
	k.active, k.jwks, k.jwksJSON, k.own = active, set, body, own
	k.mu.Unlock()
	return nil
}

// AccessToken is what an RFC 9068 access token says; Mint turns it into
// claims.
type AccessToken struct {
	Issuer   string
	ClientID string // also the subject
	OwnerID  string
	Audience string
	Scope    string
	IssuedAt time.Time
	TTL      time.Duration
}

// Mint signs an RFC 9068 access token with the active key: header typ
// at+jwt and kid; claims iss, sub, aud, exp, iat, nbf, jti, client_id,
// scope and owner_id.
func (k *Keyring) Mint(t AccessToken) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	iat := t.IssuedAt.Truncate(time.Second)
	return k.Sign(&Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.Issuer,
			Subject:   t.ClientID,
			Audience:  jwt.ClaimStrings{t.Audience},
			ExpiresAt: jwt.NewNumericDate(iat.Add(t.TTL)),
			IssuedAt:  jwt.NewNumericDate(iat),
			NotBefore: jwt.NewNumericDate(iat),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
		ClientID: t.ClientID,
		Scope:    t.Scope,
		OwnerID:  t.OwnerID,
	})
}

// Sign signs claims with the active key as an RFC 9068 access token.
func (k *Keyring) Sign(claims *Claims) (string, error) {
	k.mu.RLock()
	s := k.active
	k.mu.RUnlock()
	if s == nil {
		return "", errors.New("keyring: not loaded")
	}
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = s.kid
	return tok.SignedString(s.key)
}

// ownLeeway absorbs clock skew between instances sharing a database.
const ownLeeway = 5 * time.Second

// VerifyOwn checks a token this server issued, for any audience: a
// published key's signature, typ, iss (the configured Issuer), exp, nbf and
// iat. It returns an error wrapping ErrUnknownKey for a token signed by a
// key that is not published.
func (k *Keyring) VerifyOwn(token string) (*Claims, error) {
	k.mu.RLock()
	own := k.own
	k.mu.RUnlock()
	if own == nil {
		return nil, errors.New("keyring: no issuer configured or keys not loaded")
	}
	claims, _, err := own.verify(token)
	return claims, err
}

// JWKS returns the published public keys.
func (k *Keyring) JWKS() JWKS {
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
