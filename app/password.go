package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/models"
	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultPasswordParams hash admin passwords: RFC 9106 §4's second
// recommended option (m = 64 MiB, t = 3, p = 4), which is above the OWASP
// Password Storage Cheat Sheet's minimum for argon2id (m = 19 MiB, t = 2,
// p = 1), with a 128-bit salt and a 256-bit tag. One hash takes 64 MiB and
// about 0.1 to 0.3 s of CPU; passwordSlots bounds how many run at once.
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// passwordParams are the parameters of new hashes; tests lower them.
var passwordParams = DefaultPasswordParams

// Limits of an admin password, in characters.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Bounds on the parameters of a stored hash, so that a tampered row cannot
// make a sign-in allocate gigabytes or spin for minutes.
const (
	maxHashMemory  = 1 << 20 // KiB: 1 GiB
	maxHashTime    = 16
	maxHashThreads = 16
)

// ErrInvalidCredentials is the single answer to a failed sign-in, whatever
// the reason (unknown email, wrong password, no password set, disabled
// user), so that a caller learns nothing about which accounts exist.
var ErrInvalidCredentials = &models.Error{Kind: models.KindUnauthenticated, Code: "invalid_credentials", Message: "invalid email or password"}

// credentialsError carries the reason of a failed sign-in and the user it
// concerns, for the audit log only; it unwraps to ErrInvalidCredentials.
type credentialsError struct{ reason, userID string }

func (e *credentialsError) Error() string { return ErrInvalidCredentials.Error() }
func (e *credentialsError) Unwrap() error { return ErrInvalidCredentials }

// idKey is argon2.IDKey; tests count its calls and how many run at once.
var idKey = argon2.IDKey

// passwordSlots bounds concurrent argon2id computations in the process:
// each takes DefaultPasswordParams.Memory, so unbounded sign-in attempts
// would be a memory exhaustion attack. Two hashes take 128 MiB, which the
// collector's headroom about doubles: under 16 concurrent guessers the
// server's peak RSS stayed between 300 and 350 MB, against 560 to 680 MB
// with four slots. Two at once still check about ten sign-ins a second.
var passwordSlots = make(chan struct{}, 2)

// passwordWait is how long a request waits for a slot before it is refused
// with ErrPasswordBusy: the time of a few dozen hashes, long enough for a
// burst of real sign-ins, short enough that a flood queues no more than
// what arrives in that time.
var passwordWait = 5 * time.Second

// ErrPasswordBusy answers a sign-in or password change that found every
// argon2id slot taken for passwordWait: the server is checking too many
// passwords at once. Nothing was checked; the caller may retry.
var ErrPasswordBusy = &models.Error{Kind: models.KindUnavailable, Code: "busy", RetryAfter: time.Second,
	Message: "the server is checking too many passwords at once; retry in a moment"}

// withSlot runs fn in a slot: at once if one is free, else after waiting
// at most passwordWait for one.
func withSlot(ctx context.Context, fn func()) error {
	select {
	case passwordSlots <- struct{}{}:
	default:
		timer := time.NewTimer(passwordWait)
		defer timer.Stop()
		select {
		case passwordSlots <- struct{}{}:
		case <-timer.C:
			return ErrPasswordBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-passwordSlots }()
	fn()
	return nil
}

// HashPassword returns the PHC string of an argon2id hash of password with
// DefaultPasswordParams and a fresh random salt:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash> (unpadded standard base64).
func HashPassword(password string) string {
	return hashPassword(password, passwordParams)
}

func hashPassword(password string, p PasswordParams) string {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	key := idKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params PasswordParams
	salt   []byte
	key    []byte
}

var errHashFormat = errors.New("not an argon2id PHC string")

func parsePHC(encoded string) (*phc, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errHashFormat
	}
	var h phc
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errHashFormat
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return nil, errHashFormat
		}
		switch k {
		case "m":
			h.params.Memory, seen = uint32(n), seen|1
		case "t":
			h.params.Time, seen = uint32(n), seen|2
		case "p":
			if n > 255 {
				return nil, errHashFormat
			}
			h.params.Threads, seen = uint8(n), seen|4
		default:
			return nil, errHashFormat
		}
	}
	if seen != 7 || h.params.Memory > maxHashMemory || h.params.Time > maxHashTime || h.params.Threads > maxHashThreads || h.params.Memory < 8*uint32(h.params.Threads) {
		return nil, errHashFormat
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return nil, errHashFormat
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, errHashFormat
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	return &h, nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// comparing in constant time. A malformed or empty encoded never matches.
func VerifyPassword(password, encoded string) bool {
	h, err := parsePHC(encoded)
	if err != nil {
		return false
	}
	key := idKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// NeedsRehash reports whether encoded was made with other parameters than
// DefaultPasswordParams (or is not an argon2id hash at all), so that it
// should be replaced at the next successful sign-in.
func NeedsRehash(encoded string) bool {
	h, err := parsePHC(encoded)
	return err != nil || h.params != passwordParams
}

var (
	dummyMu     sync.Mutex
	dummyHash   string
	dummyParams PasswordParams
)

// dummy is a hash of a random password with the current parameters: what
// a sign-in with an unknown email (or a user without a password) is checked
// against, so that it costs the same time as a wrong password.
func dummy() string {
	dummyMu.Lock()
	defer dummyMu.Unlock()
	if dummyHash == "" || dummyParams != passwordParams {
		var b [32]byte
		_, _ = rand.Read(b[:])
		dummyHash, dummyParams = HashPassword(base64.RawStdEncoding.EncodeToString(b[:])), passwordParams
	}
	return dummyHash
}

// checkPasswordPolicy applies the length rules of a new password.
func checkPasswordPolicy(password string) error {
	if !utf8.ValidString(password) {
		return models.Errorf(models.KindInvalid, "invalid_password", "the password must be valid UTF-8")
	}
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLen:
		return models.Errorf(models.KindInvalid, "password_too_short", "the password must have at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return models.Errorf(models.KindInvalid, "password_too_long", "the password must have at most %d characters", MaxPasswordLen)
	}
	return nil
}

// SetPassword sets the admin-API password of the member of the actor's
// organization with the given email: a person sets their own; an owner or
// admin sets a member's only when that person belongs to no other
// organization (see checkPersonChange); the operator anyone's. The
// password is 12 to 256 characters and is stored as an argon2id hash; it
// is never logged or audited. Every session of the person ends, but the
// actor's own when they set their own password.
func (r *Registry) SetPassword(ctx context.Context, actor Actor, email, password string) error {
	if actor.OrgID == "" {
		return errNoOrganization
	}
	self := actor.User != nil && models.NormalizeEmail(email) == models.NormalizeEmail(actor.User.Email)
	if !self && !actor.managesOrg() {
		return models.Errorf(models.KindForbidden, "admin_required", "only the organization's owners and admins may set another member's password")
	}
	if err := checkPasswordPolicy(password); err != nil {
		return err
	}
	u, err := r.store.UserByEmail(ctx, actor.OrgID, email)
	if errors.Is(err, models.ErrNotFound) {
		return models.Errorf(models.KindNotFound, "user_not_found", "no member with email %q", models.NormalizeEmail(email))
	}
	if err != nil {
		return err
	}
	if err := r.checkPersonChange(ctx, actor, u, "password"); err != nil {
		return err
	}
	var hash string
	if err := withSlot(ctx, func() { hash = HashPassword(password) }); err != nil {
		return err
	}
	u.PasswordHash = hash
	n, err := r.store.UpdateUserEndSessions(ctx, u, actor.keep(u.ID))
	if err != nil {
		return err
	}
	r.audit(ctx, actor, models.AuditPasswordUpdated, "", u.ID, map[string]any{"email": u.Email, "sessions_ended": n})
	return nil
}

// Authenticate checks an email and password for a sign-in. It returns the
// person (without a membership: OrgID empty), or an error matching
// ErrInvalidCredentials for an unknown email, a person without a password,
// a wrong password or a person with no active membership of any
// organization; every one of these spends one argon2id computation, so
// response times do not tell them apart. A correct password stored with
// outdated parameters is rehashed. Other errors are the store's.
func (r *Registry) Authenticate(ctx context.Context, email, password string) (*models.User, error) {
	u, err := r.store.PersonByEmail(ctx, email)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return nil, err
	}
	stored, reason := dummy(), ""
	switch {
	case u == nil:
		reason = "unknown_user"
	case u.PasswordHash == "":
		reason = "no_password"
	default:
		if _, perr := parsePHC(u.PasswordHash); perr != nil {
			reason = "unusable_hash"
		} else {
			stored = u.PasswordHash
		}
	}
	var ok bool
	if err := withSlot(ctx, func() { ok = VerifyPassword(password, stored) }); err != nil {
		return nil, err
	}
	switch {
	case u == nil:
		return nil, &credentialsError{reason: reason}
	case reason != "":
		return nil, &credentialsError{reason: reason, userID: u.ID}
	case !ok:
		return nil, &credentialsError{reason: "wrong_password", userID: u.ID}
	}
	active, err := activeMember(ctx, r.store, u.ID)
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, &credentialsError{reason: "user_disabled", userID: u.ID}
	}
	if NeedsRehash(u.PasswordHash) {
		var hash string
		if err := withSlot(ctx, func() { hash = HashPassword(password) }); err == nil {
			u.PasswordHash = hash
			if err := r.store.UpdateUser(ctx, u); err != nil { // the person's fields only: u has no OrgID
				r.log.Warn("password rehash not saved", "user_id", u.ID, "error", err)
			}
		}
	}
	return u, nil
}
