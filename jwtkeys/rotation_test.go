package jwtkeys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

const (
	testIssuer   = "https://authz.example.com"
	testAudience = "https://api.example.com"
)

// rotEpoch is where every test's clock starts.
var rotEpoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func rotKeyring(t *testing.T, store jwtkeys.KeyStore, alg string, kek *jwtkeys.KEK, clock *testutil.Clock, rot jwtkeys.RotationConfig) *jwtkeys.Keyring {
	t.Helper()
	kr, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: alg, KEK: kek, Issuer: testIssuer, Now: clock.Now, Rotation: rot})
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

func mustLoad(t *testing.T, kr *jwtkeys.Keyring) {
	t.Helper()
	if err := kr.Load(t.Context()); err != nil {
		t.Fatalf("Load: %v", err)
	}
}

func mustTick(t *testing.T, kr *jwtkeys.Keyring) {
	t.Helper()
	if err := kr.Tick(t.Context()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

func mint(t *testing.T, kr *jwtkeys.Keyring, now time.Time, ttl time.Duration) string {
	t.Helper()
	tok, err := kr.Mint(jwtkeys.AccessToken{Issuer: testIssuer, ClientID: "client-1", OwnerID: "owner-1", Audience: testAudience, Scope: "a:read", IssuedAt: now, TTL: ttl})
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// verifyAgainst verifies token with exactly the keys of set, as a resource
// server holding that JWKS would.
func verifyAgainst(set verify.JWKS, clock func() time.Time, token string) error {
	v, err := verify.NewStaticVerifier(set, testIssuer, testAudience, 0, clock)
	if err != nil {
		return err
	}
	_, err = v.Verify(context.Background(), token)
	return err
}

func jwksKIDs(set verify.JWKS) []string {
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	slices.Sort(kids)
	return kids
}

func sorted(kids ...string) []string {
	out := slices.Clone(kids)
	slices.Sort(out)
	return out
}

// states returns kid → state of the stored keys.
func states(t *testing.T, s *models.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range mustKeys(t, s) {
		out[k.KID] = k.State
	}
	return out
}

func keyByState(t *testing.T, s *models.Store, state string) *models.SigningKey {
	t.Helper()
	var found *models.SigningKey
	for _, k := range mustKeys(t, s) {
		if k.State == state {
			if found != nil {
				t.Fatalf("two %s keys: %s and %s", state, found.KID, k.KID)
			}
			found = &k
		}
	}
	return found
}

func headerKID(t *testing.T, token string) string {
	t.Helper()
	h := decodeJWTHeader(t, token)
	kid, _ := h["kid"].(string)
	return kid
}

func TestRotationConfig(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	kek := mustKEK(t, rawKEK(t))
	kr, err := jwtkeys.NewKeyring(s, jwtkeys.KeyringConfig{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	got := kr.Rotation()
	want := jwtkeys.RotationConfig{
		RotateEvery: 30 * 24 * time.Hour, JWKSMaxAge: 10 * time.Minute, MaxStale: 5 * time.Minute, Leeway: 5 * time.Minute,
		MaxTokenTTL: 24 * time.Hour, PublishAhead: 20 * time.Minute, RetireAfter: 24*time.Hour + 10*time.Minute,
	}
	if got != want {
		t.Errorf("default rotation config:\n got %+v\nwant %+v", got, want)
	}
	if kr.JWKSMaxAge() != 10*time.Minute {
		t.Errorf("JWKSMaxAge: got %s, want 10m", kr.JWKSMaxAge())
	}
	if got.PublishAhead < got.JWKSMaxAge+got.MaxStale || got.RetireAfter < got.MaxTokenTTL+got.MaxStale {
		t.Errorf("default schedule breaks its own invariants: %+v", got)
	}

	// PublishAhead follows JWKSMaxAge.
	kr, err = jwtkeys.NewKeyring(s, jwtkeys.KeyringConfig{KEK: kek, Rotation: jwtkeys.RotationConfig{JWKSMaxAge: time.Hour, MaxTokenTTL: time.Hour, Leeway: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if r := kr.Rotation(); r.PublishAhead != time.Hour+6*time.Minute || r.RetireAfter != time.Hour+6*time.Minute || kr.JWKSMaxAge() != time.Hour {
		t.Errorf("derived schedule: got %+v, want PublishAhead and RetireAfter 1h6m", r)
	}

	for _, tc := range []struct {
		name string
		rot  jwtkeys.RotationConfig
		want string
	}{
		{"negative", jwtkeys.RotationConfig{Leeway: -time.Second}, "Leeway must not be negative"},
		{"publish ahead below the JWKS cache lifetime", jwtkeys.RotationConfig{JWKSMaxAge: time.Hour, PublishAhead: time.Hour}, "PublishAhead"},
		{"retire after below the token lifetime", jwtkeys.RotationConfig{MaxTokenTTL: time.Hour, RetireAfter: time.Hour}, "RetireAfter"},
		{"rotate faster than publishing", jwtkeys.RotationConfig{RotateEvery: 10 * time.Minute}, "RotateEvery"},
		{"sub-second max-age", jwtkeys.RotationConfig{JWKSMaxAge: time.Millisecond}, "JWKSMaxAge"},
	} {
		if _, err := jwtkeys.NewKeyring(s, jwtkeys.KeyringConfig{KEK: kek, Rotation: tc.rot}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewKeyring with %s: got %v, want an error about %s", tc.name, err, tc.want)
		}
	}
}

// TestRotationLifecycle walks one key through next → active → retired →
// removed with a fake clock and the default schedule.
func TestRotationLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		clock := testutil.NewClock(rotEpoch)
		kr := rotKeyring(t, s, jwtkeys.ES256, mustKEK(t, rawKEK(t)), clock, jwtkeys.RotationConfig{})
		rot := kr.Rotation()
		start := clock.Now()
		mustLoad(t, kr)
		a, _ := kr.ActiveKID()

		// Not yet due.
		clock.Set(start.Add(rot.RotateEvery - time.Second))
		mustTick(t, kr)
		if n := len(mustKeys(t, s)); n != 1 {
			t.Fatalf("keys before RotateEvery: got %d, want 1", n)
		}

		// Due: a next key B is published, A still signs.
		clock.Set(start.Add(rot.RotateEvery))
		mustTick(t, kr)
		next := keyByState(t, s, models.KeyNext)
		if next == nil || next.Generation != 2 || !next.CreatedAt.Equal(clock.Now()) || next.ActivatedAt != nil {
			t.Fatalf("after RotateEvery: next key %+v, want generation 2 created now", next)
		}
		b := next.KID
		if got := states(t, s); got[a] != models.KeyActive || got[b] != models.KeyNext {
			t.Fatalf("states: got %v, want %s active and %s next", got, a, b)
		}
		if got := jwksKIDs(kr.JWKS()); !slices.Equal(got, sorted(a, b)) {
			t.Errorf("JWKS with a next key: got %v, want A and B", got)
		}
		if kid, _ := kr.ActiveKID(); kid != a || headerKID(t, mint(t, kr, clock.Now(), time.Minute)) != a {
			t.Errorf("a next key must not sign yet: ActiveKID %s, want %s", kid, a)
		}
		// Ticking again changes nothing (idempotent).
		mustTick(t, kr)
		if n := len(mustKeys(t, s)); n != 2 {
			t.Errorf("keys after a second Tick: got %d, want 2", n)
		}

		// Published for less than PublishAhead: B is still next.
		clock.Set(next.CreatedAt.Add(rot.PublishAhead - time.Second))
		mustTick(t, kr)
		if got := states(t, s); got[b] != models.KeyNext {
			t.Fatalf("B before PublishAhead: got %s, want next", got[b])
		}
		tokA := mint(t, kr, clock.Now(), rot.MaxTokenTTL) // the last and longest-lived token of A
		if headerKID(t, tokA) != a {
			t.Fatalf("token before promotion signed by %s, want A %s", headerKID(t, tokA), a)
		}

		// Published long enough: B active, A retired, both published.
		clock.Advance(time.Second)
		promoted := clock.Now()
		mustTick(t, kr)
		keys := mustKeys(t, s)
		for _, k := range keys {
			switch k.KID {
			case a:
				if k.State != models.KeyRetired || k.RetiredAt == nil || !k.RetiredAt.Equal(promoted) {
					t.Errorf("A after promotion: state %s retired %v, want retired at %v", k.State, k.RetiredAt, promoted)
				}
			case b:
				if k.State != models.KeyActive || k.ActivatedAt == nil || !k.ActivatedAt.Equal(promoted) {
					t.Errorf("B after promotion: state %s activated %v, want active at %v", k.State, k.ActivatedAt, promoted)
				}
			}
		}
		if kid, _ := kr.ActiveKID(); kid != b {
			t.Errorf("ActiveKID after promotion: got %s, want B %s", kid, b)
		}
		if kid := headerKID(t, mint(t, kr, clock.Now(), time.Minute)); kid != b {
			t.Errorf("token after promotion signed by %s, want B", kid)
		}
		if got := jwksKIDs(kr.JWKS()); !slices.Equal(got, sorted(a, b)) {
			t.Errorf("JWKS after promotion: got %v, want A and B", got)
		}
		if jwks := kr.JWKS(); jwks.Keys[0].Kid != b {
			t.Errorf("JWKS order: first key %s, want the active B", jwks.Keys[0].Kid)
		}

		// A's last token verifies through the published JWKS until it
		// expires, and through VerifyOwn (introspection).
		for _, at := range []time.Duration{0, time.Hour, rot.MaxTokenTTL - 2*time.Second} {
			clock.Set(promoted.Add(at))
			mustTick(t, kr)
			if err := verifyAgainst(kr.JWKS(), clock.Now, tokA); err != nil {
				t.Errorf("A's token %s after promotion: %v", at, err)
			}
			if _, err := kr.VerifyOwn(tokA); err != nil {
				t.Errorf("VerifyOwn of A's token %s after promotion: %v", at, err)
			}
		}

		// A stays published until RetireAfter, then goes.
		clock.Set(promoted.Add(rot.RetireAfter - time.Second))
		mustTick(t, kr)
		if got := jwksKIDs(kr.JWKS()); !slices.Equal(got, sorted(a, b)) {
			t.Errorf("JWKS just before RetireAfter: got %v, want A and B", got)
		}
		clock.Set(promoted.Add(rot.RetireAfter))
		mustTick(t, kr)
		if got := jwksKIDs(kr.JWKS()); !slices.Equal(got, []string{b}) {
			t.Errorf("JWKS after RetireAfter: got %v, want only B", got)
		}
		if got := states(t, s); len(got) != 1 || got[b] != models.KeyActive {
			t.Errorf("stored keys after RetireAfter: got %v, want only B active", got)
		}
	})
}

// TestRotationNoTokenFailsVerification simulates two instances that reload
// every 4 minutes (at different minutes, within MaxStale) and mint tokens of
// the longest lifetime every minute across two full rotations, and resource
// servers that cache the JWKS they fetch from either instance for exactly
// JWKSMaxAge, one per instance and fetch minute (so one always fetches just
// before an instance reloads). Every token must verify against every
// resource server's cached JWKS at every minute of its life.
func TestRotationNoTokenFailsVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		storetest.OpenURL(t, url) // migrate
		clock := testutil.NewClock(rotEpoch)
		kek := mustKEK(t, rawKEK(t))
		rot := jwtkeys.RotationConfig{RotateEvery: 3 * time.Hour, JWKSMaxAge: 10 * time.Minute, MaxStale: 5 * time.Minute, Leeway: time.Minute, MaxTokenTTL: 30 * time.Minute}
		var instances [2]*jwtkeys.Keyring
		var stores [2]*models.Store
		for i := range instances {
			s, err := models.Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
			instances[i] = rotKeyring(t, s, jwtkeys.EdDSA, kek, clock, rot)
			mustLoad(t, instances[i])
		}
		rot = instances[0].Rotation()
		const reload = 4 // minutes between an instance's reloads (< MaxStale)

		type rs struct {
			maxAge   time.Duration
			from     int  // instance it fetches from
			phase    int  // minute of its first fetch
			late     bool // fetches after the instances' reloads of the minute, not before
			cached   verify.JWKS
			kids     string // the cached kids, the memo key
			fetched  time.Time
			failures int
		}
		var servers []*rs
		for phase := 0; phase < int(rot.JWKSMaxAge/time.Minute); phase++ {
			for from := range instances {
				for _, late := range []bool{false, true} {
					servers = append(servers, &rs{maxAge: rot.JWKSMaxAge, from: from, phase: phase, late: late})
				}
			}
		}
		// A control that ignores max-age and caches for an hour must see
		// failures: the simulation can detect a broken schedule.
		control := &rs{maxAge: time.Hour, from: 0}
		servers = append(servers, control)

		type token struct {
			jwt, kid string
			exp      time.Time
			valid    map[string]bool // kids of a JWKS → verified against it
		}
		var tokens []*token
		usedKIDs := map[string]bool{}
		maxKeys := 0
		end := clock.Now().Add(2*(rot.RotateEvery+rot.PublishAhead) + rot.RetireAfter + time.Hour)
		for minute := 0; clock.Now().Before(end); minute++ {
			now := clock.Now()
			// Resource servers refresh expired caches just before (the
			// stalest view an instance hands out) or just after the
			// instances' reloads of the minute.
			refresh := func(late bool) {
				for _, r := range servers {
					if r.late == late && minute >= r.phase && (r.kids == "" || !now.Before(r.fetched.Add(r.maxAge))) {
						r.cached, r.fetched = instances[r.from].JWKS(), now
						r.kids = strings.Join(jwksKIDs(r.cached), " ")
					}
				}
			}
			refresh(false)
			for i, kr := range instances {
				if (minute+i)%reload == 0 { // X at 0 mod 4, Y at 3 mod 4: Y lags X by 3 minutes
					mustTick(t, kr)
				}
			}
			refresh(true)
			if n := len(mustKeys(t, stores[0])); n > maxKeys {
				maxKeys = n
			}
			for _, kr := range instances {
				jwt := mint(t, kr, now, rot.MaxTokenTTL)
				kid := headerKID(t, jwt)
				usedKIDs[kid] = true
				tokens = append(tokens, &token{jwt: jwt, kid: kid, exp: now.Add(rot.MaxTokenTTL), valid: map[string]bool{}})
			}
			live := tokens[:0]
			for _, tok := range tokens {
				if !now.Before(tok.exp) {
					continue // expired
				}
				live = append(live, tok)
				for _, r := range servers {
					if r.kids == "" {
						continue
					}
					ok, seen := tok.valid[r.kids]
					if !seen {
						// The same key set verifies a live token the same
						// way at any time before exp.
						err := verifyAgainst(r.cached, clock.Now, tok.jwt)
						ok = err == nil
						tok.valid[r.kids] = ok
					}
					if !ok {
						r.failures++
						if r != control {
							t.Errorf("minute %d: token signed by %s at %s fails at the resource server that fetched [%s] from instance %d at %s",
								minute, tok.kid, tok.exp.Add(-rot.MaxTokenTTL).Format(time.TimeOnly), r.kids, r.from, r.fetched.Format(time.TimeOnly))
						}
					}
				}
			}
			tokens = live
			clock.Advance(time.Minute)
		}
		if len(usedKIDs) < 3 {
			t.Errorf("tokens were signed by %d keys, want at least 3 (two rotations)", len(usedKIDs))
		}
		if got := len(mustKeys(t, stores[0])); got != 1 {
			t.Errorf("keys stored at the end: %d, want the retired ones removed", got)
		}
		if maxKeys > 3 {
			t.Errorf("at most %d keys were stored at once, want ≤ 3", maxKeys)
		}
		if control.failures == 0 {
			t.Errorf("a resource server caching the JWKS for an hour saw no failure: the simulation does not exercise rotation")
		}
	})
}

// TestRotationConcurrentInstances has 16 instances, each with its own
// connection pool, tick at the rotation moment and at the promotion moment:
// exactly one next key is created and exactly one promotion applies, and a
// poller never sees zero or two active keys.
func TestRotationConcurrentInstances(t *testing.T) {
	const instances = 16
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		check := storetest.OpenURL(t, url)
		clock := testutil.NewClock(rotEpoch)
		kek := mustKEK(t, rawKEK(t))
		rings := make([]*jwtkeys.Keyring, instances)
		for i := range rings {
			s, err := models.Open(ctx, url, nil)
			if err != nil {
				t.Fatalf("instance %d: %v", i, err)
			}
			t.Cleanup(func() { s.Close() })
			rings[i] = rotKeyring(t, s, jwtkeys.ES256, kek, clock, jwtkeys.RotationConfig{})
		}
		mustLoad(t, rings[0])
		for _, kr := range rings[1:] {
			mustLoad(t, kr)
		}
		a, _ := rings[0].ActiveKID()
		rot := rings[0].Rotation()

		// all runs fn on every instance at once while a poller counts the
		// active keys.
		all := func(what string, fn func(kr *jwtkeys.Keyring) error) {
			t.Helper()
			var wg sync.WaitGroup
			var polls, bad atomic.Int64
			var badStates sync.Map
			done := make(chan struct{})
			polled := make(chan struct{})
			go func() {
				defer close(polled)
				for {
					keys, err := check.SigningKeys(ctx)
					if err == nil {
						n := 0
						for _, k := range keys {
							if k.State == models.KeyActive {
								n++
							}
						}
						polls.Add(1)
						if n != 1 {
							bad.Add(1)
							badStates.Store(n, true)
						}
					}
					select {
					case <-done:
						return
					default:
					}
				}
			}()
			startc := make(chan struct{})
			errs := make([]error, len(rings))
			for i, kr := range rings {
				wg.Go(func() {
					<-startc
					errs[i] = fn(kr)
				})
			}
			close(startc)
			wg.Wait()
			close(done)
			<-polled
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s: instance %d: %v", what, i, err)
				}
			}
			if bad.Load() > 0 {
				var counts []any
				badStates.Range(func(k, _ any) bool { counts = append(counts, k); return true })
				t.Errorf("%s: %d of %d polls saw an active-key count other than 1 (%v)", what, bad.Load(), polls.Load(), counts)
			}
			t.Logf("%s: %d polls", what, polls.Load())
		}

		clock.Advance(rot.RotateEvery)
		all("tick at the rotation moment", func(kr *jwtkeys.Keyring) error { return kr.Tick(ctx) })
		keys := mustKeys(t, check)
		if len(keys) != 2 || keys[0].KID != a || keys[1].State != models.KeyNext || keys[1].Generation != 2 {
			t.Fatalf("after concurrent ticks: got %+v, want A active and one next key of generation 2", keys)
		}
		b := keys[1].KID
		for i, kr := range rings {
			if got := jwksKIDs(kr.JWKS()); !slices.Equal(got, sorted(a, b)) {
				t.Errorf("instance %d JWKS: got %v, want A and B", i, got)
			}
		}

		clock.Advance(rot.PublishAhead)
		all("tick at the promotion moment", func(kr *jwtkeys.Keyring) error { return kr.Tick(ctx) })
		if got := states(t, check); len(got) != 2 || got[a] != models.KeyRetired || got[b] != models.KeyActive {
			t.Fatalf("after concurrent promotion: got %v, want A retired and B active", got)
		}
		for i, kr := range rings {
			if kid, _ := kr.ActiveKID(); kid != b {
				t.Errorf("instance %d signs with %s, want B %s", i, kid, b)
			}
		}

		// Forced rotations at once: exactly one creates.
		var created atomic.Int64
		var kids sync.Map
		all("concurrent Rotate", func(kr *jwtkeys.Keyring) error {
			key, ok, err := kr.Rotate(ctx)
			if ok {
				created.Add(1)
			}
			kids.Store(key.KID, true)
			return err
		})
		n := 0
		kids.Range(func(any, any) bool { n++; return true })
		if created.Load() != 1 || n != 1 {
			t.Errorf("concurrent Rotate: %d created and %d distinct kids returned, want 1 and 1", created.Load(), n)
		}
		if keys := mustKeys(t, check); len(keys) != 3 || keys[2].State != models.KeyNext || keys[2].Generation != 3 {
			t.Errorf("after concurrent Rotate: got %+v, want one next key of generation 3", keys)
		}
	})
}

// TestRotationTwoInstances: a rotation forced on X reaches Y on its next
// Tick, without a restart.
func TestRotationTwoInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		storetest.OpenURL(t, url)
		clock := testutil.NewClock(rotEpoch)
		kek := mustKEK(t, rawKEK(t))
		open := func() *jwtkeys.Keyring {
			s, err := models.Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			kr := rotKeyring(t, s, jwtkeys.ES256, kek, clock, jwtkeys.RotationConfig{})
			mustLoad(t, kr)
			return kr
		}
		x, y := open(), open()
		a, _ := x.ActiveKID()

		key, created, err := x.Rotate(ctx)
		if err != nil || !created || key.State != models.KeyNext {
			t.Fatalf("X.Rotate: got %+v, %v, %v; want a new next key", key, created, err)
		}
		b := key.KID
		if got := jwksKIDs(x.JWKS()); !slices.Equal(got, sorted(a, b)) {
			t.Errorf("X JWKS right after Rotate: got %v, want A and B", got)
		}
		if again, created, err := x.Rotate(ctx); err != nil || created || again.KID != b {
			t.Errorf("second Rotate while B is pending: got %s, %v, %v; want B, false, nil", again.KID, created, err)
		}
		if got := jwksKIDs(y.JWKS()); !slices.Equal(got, []string{a}) {
			t.Errorf("Y JWKS before its Tick: got %v, want only A", got)
		}
		clock.Advance(time.Minute)
		mustTick(t, y)
		if got := jwksKIDs(y.JWKS()); !slices.Equal(got, sorted(a, b)) {
			t.Errorf("Y JWKS after its Tick: got %v, want A and B", got)
		}
		if kid, _ := y.ActiveKID(); kid != a {
			t.Errorf("Y signs with %s before promotion, want A", kid)
		}

		// Y has seen B for a minute less than PublishAhead: not yet.
		clock.Set(key.CreatedAt.Add(y.Rotation().PublishAhead))
		mustTick(t, y)
		if kid, _ := y.ActiveKID(); kid != a {
			t.Errorf("Y promoted B before seeing it published for PublishAhead")
		}
		clock.Advance(time.Minute)
		mustTick(t, y)
		if kid := headerKID(t, mint(t, y, clock.Now(), time.Minute)); kid != b {
			t.Errorf("Y signs with %s after promotion, want B %s", kid, b)
		}
		// X has not reloaded: it still signs with A, now retired but
		// published everywhere, so its token verifies with Y's JWKS.
		tok := mint(t, x, clock.Now(), time.Hour)
		if headerKID(t, tok) != a {
			t.Errorf("X before its Tick signs with %s, want A", headerKID(t, tok))
		}
		if err := verifyAgainst(y.JWKS(), clock.Now, tok); err != nil {
			t.Errorf("X's A token against Y's JWKS: %v", err)
		}
		mustTick(t, x)
		if kid, _ := x.ActiveKID(); kid != b {
			t.Errorf("X after its Tick signs with %s, want B", kid)
		}
	})
}

// TestRotationSkewedCreator: a next key stamped by a clock far behind (say
// `authz keys rotate` on a laptop) is still published for PublishAhead, as
// measured by the promoting instance, before it signs.
func TestRotationSkewedCreator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		kek := mustKEK(t, rawKEK(t))
		clock := testutil.NewClock(rotEpoch)
		server := rotKeyring(t, s, jwtkeys.ES256, kek, clock, jwtkeys.RotationConfig{})
		mustLoad(t, server)
		a, _ := server.ActiveKID()

		behind := testutil.NewClock(rotEpoch)
		behind.Set(clock.Now().Add(-3 * time.Hour))
		laptop := rotKeyring(t, s, jwtkeys.ES256, kek, behind, jwtkeys.RotationConfig{})
		mustLoad(t, laptop)
		key, created, err := laptop.Rotate(t.Context())
		if err != nil || !created {
			t.Fatalf("Rotate: %v, %v", created, err)
		}

		ahead := server.Rotation().PublishAhead
		mustTick(t, server) // first sight
		clock.Advance(ahead - time.Second)
		mustTick(t, server)
		if kid, _ := server.ActiveKID(); kid != a {
			t.Fatalf("key stamped 3h in the past promoted after %s of publication, want %s", ahead-time.Second, ahead)
		}
		clock.Advance(time.Second)
		mustTick(t, server)
		if kid, _ := server.ActiveKID(); kid != key.KID {
			t.Errorf("after PublishAhead: signs with %s, want the new key %s", kid, key.KID)
		}
	})
}

// threeKeys builds a keyring history sealed under one KEK: a retired, an
// active and a next key.
func threeKeys(t *testing.T, s *models.Store, kek *jwtkeys.KEK, clock *testutil.Clock) (retired, active, next string) {
	t.Helper()
	kr := rotKeyring(t, s, jwtkeys.ES256, kek, clock, jwtkeys.RotationConfig{})
	mustLoad(t, kr)
	retired, _ = kr.ActiveKID()
	key, _, err := kr.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(kr.Rotation().PublishAhead)
	mustTick(t, kr)
	active = key.KID
	key, _, err = kr.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return retired, active, key.KID
}

func TestRewrap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		url := storetest.URL(t, backend)
		s := storetest.OpenURL(t, url)
		clock := testutil.NewClock(rotEpoch)
		oldRaw, newRaw := rawKEK(t), rawKEK(t)
		oldKEK, newKEK, rotated := mustKEK(t, oldRaw), mustKEK(t, newRaw), mustKEK(t, newRaw+","+oldRaw)
		_, active, next := threeKeys(t, s, oldKEK, clock)
		before := mustKeys(t, s)

		// Only the new KEK: a clear startup error, no key generated.
		err := rotKeyring(t, s, jwtkeys.ES256, newKEK, clock, jwtkeys.RotationConfig{}).Load(ctx)
		if !errors.Is(err, jwtkeys.ErrKEKMismatch) || !strings.Contains(err.Error(), active) || !strings.Contains(err.Error(), "AUTHZ_KEK=new,old") {
			t.Errorf("Load with only the new KEK: got %v, want ErrKEKMismatch naming %s and telling to list the old key", err, active)
		}
		if n := len(mustKeys(t, s)); n != len(before) {
			t.Errorf("keys after a KEK mismatch: got %d, want %d (none generated)", n, len(before))
		}
		if _, err := rotKeyring(t, s, jwtkeys.ES256, newKEK, clock, jwtkeys.RotationConfig{}).Rewrap(ctx); !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Errorf("Rewrap with only the new KEK: got %v, want ErrKEKMismatch", err)
		}

		// An instance still on the old KEK, loaded before the rewrap.
		oldInstance := rotKeyring(t, s, jwtkeys.ES256, oldKEK, clock, jwtkeys.RotationConfig{})
		mustLoad(t, oldInstance)

		// Concurrent rewraps with new,old, each its own connection pool.
		const rewrappers = 8
		results := make([]jwtkeys.RewrapResult, rewrappers)
		errs := make([]error, rewrappers)
		var wg sync.WaitGroup
		startc := make(chan struct{})
		for i := range rewrappers {
			st, err := models.Open(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			kr := rotKeyring(t, st, jwtkeys.ES256, rotated, clock, jwtkeys.RotationConfig{})
			wg.Go(func() {
				<-startc
				results[i], errs[i] = kr.Rewrap(ctx)
			})
		}
		close(startc)
		wg.Wait()
		total := 0
		for i := range rewrappers {
			if errs[i] != nil {
				t.Errorf("rewrapper %d: %v", i, errs[i])
			}
			if results[i].Rewrapped+results[i].Unchanged != len(before) {
				t.Errorf("rewrapper %d: %+v, want %d keys counted", i, results[i], len(before))
			}
			total += results[i].Rewrapped
		}
		if total != len(before) {
			t.Errorf("concurrent rewraps re-encrypted %d keys in total, want each of the %d exactly once", total, len(before))
		}
		after := mustKeys(t, s)
		for i, k := range after {
			if !newKEK.SealedByNewest(k.PrivateKeyEnc) {
				t.Errorf("key %s not sealed under the new KEK after rewrap", k.KID)
			}
			if k.KID != before[i].KID || k.State != before[i].State || string(k.PublicKey) != string(before[i].PublicKey) {
				t.Errorf("rewrap changed more than the ciphertext of %s", k.KID)
			}
		}
		if res, err := rotKeyring(t, s, jwtkeys.ES256, rotated, clock, jwtkeys.RotationConfig{}).Rewrap(ctx); err != nil || res.Rewrapped != 0 || res.Unchanged != len(before) {
			t.Errorf("second rewrap: got %+v, %v; want nothing to do", res, err)
		}

		// The new KEK alone now loads, signs, and can promote the next key.
		newInstance := rotKeyring(t, s, jwtkeys.ES256, newKEK, clock, jwtkeys.RotationConfig{})
		mustLoad(t, newInstance)
		if kid, _ := newInstance.ActiveKID(); kid != active {
			t.Errorf("new-KEK instance signs with %s, want %s", kid, active)
		}

		// At promotion time the old-KEK instance cannot open the next key,
		// so it does not promote it...
		clock.Advance(newInstance.Rotation().PublishAhead)
		if err := oldInstance.Tick(ctx); !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Errorf("Tick on an instance that cannot open the next key: got %v, want ErrKEKMismatch", err)
		}
		if got := states(t, s); got[next] != models.KeyNext {
			t.Errorf("next key after the old instance's Tick: %s, want still next", got[next])
		}
		// ...the new one does...
		mustTick(t, newInstance)
		if kid, _ := newInstance.ActiveKID(); kid != next {
			t.Errorf("new-KEK instance after promotion signs with %s, want %s", kid, next)
		}
		// ...and the old one reports it, keeps signing with the still
		// published previous key, and publishes the new set.
		if err := oldInstance.Tick(ctx); !errors.Is(err, jwtkeys.ErrKEKMismatch) {
			t.Errorf("Tick on an instance that cannot open the active key: got %v, want ErrKEKMismatch", err)
		}
		if kid, _ := oldInstance.ActiveKID(); kid != active {
			t.Errorf("old instance signs with %s, want the previous key %s", kid, active)
		}
		if got := oldInstance.JWKS().Keys[0].Kid; got != next {
			t.Errorf("old instance JWKS lists %s first, want the new active %s", got, next)
		}
	})
}

func TestLoadNeverGeneratesOverStoredKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		// Stored keys but none active (not a state rotation produces).
		if err := s.CreateSigningKey(ctx, &models.SigningKey{KID: "pending", Generation: 1, Alg: "ES256", PublicKey: []byte{1}, PrivateKeyEnc: []byte{2}, State: models.KeyNext}); err != nil {
			t.Fatal(err)
		}
		kr := newKeyring(t, s, jwtkeys.ES256, mustKEK(t, rawKEK(t)))
		if err := kr.Load(ctx); err == nil || !strings.Contains(err.Error(), "none is active") {
			t.Errorf("Load with stored keys and no active one: got %v, want an error", err)
		}
		if keys := mustKeys(t, s); len(keys) != 1 || keys[0].KID != "pending" {
			t.Errorf("keys after the failed Load: got %+v, want only the stored one", keys)
		}
		if kid, _ := kr.ActiveKID(); kid != "" {
			t.Errorf("ActiveKID after the failed Load: %q", kid)
		}
	})
}

func TestStoreKeyTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		ctx := t.Context()
		s := storetest.Open(t, backend)
		at := time.Date(2031, 2, 3, 4, 5, 6, 7000, time.UTC)
		mk := func(kid string, gen int64, state string) {
			t.Helper()
			if err := s.CreateSigningKey(ctx, &models.SigningKey{KID: kid, Generation: gen, Alg: "ES256", PublicKey: []byte{1}, PrivateKeyEnc: []byte(kid), State: state}); err != nil {
				t.Fatal(err)
			}
		}
		mk("k1", 1, models.KeyActive)
		mk("k2", 2, models.KeyNext)
		if ok, err := s.PromoteSigningKey(ctx, "k1", at); err != nil || ok {
			t.Errorf("promote the active key: got %v, %v; want false, nil", ok, err)
		}
		if ok, err := s.PromoteSigningKey(ctx, "missing", at); err != nil || ok {
			t.Errorf("promote a missing key: got %v, %v; want false, nil", ok, err)
		}
		if ok, err := s.PromoteSigningKey(ctx, "k2", at); err != nil || !ok {
			t.Fatalf("promote the next key: got %v, %v; want true, nil", ok, err)
		}
		if ok, err := s.PromoteSigningKey(ctx, "k2", at); err != nil || ok {
			t.Errorf("promote it again: got %v, %v; want false, nil", ok, err)
		}
		keys := mustKeys(t, s)
		if keys[0].State != models.KeyRetired || keys[0].RetiredAt == nil || !keys[0].RetiredAt.Equal(at) ||
			keys[1].State != models.KeyActive || keys[1].ActivatedAt == nil || !keys[1].ActivatedAt.Equal(at) {
			t.Errorf("after promotion: %+v", keys)
		}
		// Deletion only of retired keys retired long enough ago.
		if ok, err := s.DeleteRetiredSigningKey(ctx, "k1", at.Add(-time.Nanosecond*1000)); err != nil || ok {
			t.Errorf("delete a key retired after the cutoff: got %v, %v; want false", ok, err)
		}
		if ok, err := s.DeleteRetiredSigningKey(ctx, "k2", at.Add(time.Hour)); err != nil || ok {
			t.Errorf("delete the active key: got %v, %v; want false", ok, err)
		}
		if ok, err := s.DeleteRetiredSigningKey(ctx, "k1", at); err != nil || !ok {
			t.Errorf("delete the retired key at its cutoff: got %v, %v; want true", ok, err)
		}
		// Compare-and-swap of the ciphertext.
		if ok, err := s.UpdateSigningKeyEnc(ctx, "k2", []byte("stale"), []byte("x")); err != nil || ok {
			t.Errorf("swap from a stale ciphertext: got %v, %v; want false", ok, err)
		}
		if ok, err := s.UpdateSigningKeyEnc(ctx, "k2", []byte("k2"), []byte{0, 1, 2}); err != nil || !ok {
			t.Errorf("swap from the stored ciphertext: got %v, %v; want true", ok, err)
		}
		if keys := mustKeys(t, s); len(keys) != 1 || string(keys[0].PrivateKeyEnc) != "\x00\x01\x02" {
			t.Errorf("after the swap: %+v", keys)
		}
	})
}

// staleStore fails SigningKeys while fail is set.
type staleStore struct {
	*models.Store
	fail atomic.Bool
}

func (s *staleStore) SigningKeys(ctx context.Context) ([]models.SigningKey, error) {
	if s.fail.Load() {
		return nil, errors.New("database unreachable")
	}
	return s.Store.SigningKeys(ctx)
}

func TestSignRefusesStaleKeys(t *testing.T) {
	s := &staleStore{Store: storetest.Open(t, "sqlite")}
	clock := testutil.NewClock(rotEpoch)
	kr := rotKeyring(t, s, jwtkeys.ES256, mustKEK(t, rawKEK(t)), clock, jwtkeys.RotationConfig{})
	mustLoad(t, kr)
	maxStale := kr.Rotation().MaxStale

	// Without Run nothing reloads, and nothing is refused (callers that do
	// not rotate keep working).
	clock.Advance(2 * maxStale)
	mint(t, kr, clock.Now(), time.Minute)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		kr.Run(ctx, time.Millisecond)
	}()
	signErr := func() error {
		_, err := kr.Sign(testClaims(clock.Now()))
		return err
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (Sign: %v)", what, signErr())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor("Run to reload", func() bool { return signErr() == nil })

	s.fail.Store(true)
	clock.Advance(maxStale + time.Second)
	// Refused, saying why once a failed reload is on record.
	waitFor("Sign to refuse stale keys, naming the reload error", func() bool {
		err := signErr()
		return errors.Is(err, jwtkeys.ErrStaleKeys) && strings.Contains(err.Error(), "database unreachable")
	})

	s.fail.Store(false)
	waitFor("Sign to work after a reload", func() bool { return signErr() == nil })

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

func TestSignRefusesTokensOutlivingRetirement(t *testing.T) {
	s := storetest.Open(t, "sqlite")
	clock := testutil.NewClock(rotEpoch)
	kr := rotKeyring(t, s, jwtkeys.ES256, mustKEK(t, rawKEK(t)), clock, jwtkeys.RotationConfig{MaxTokenTTL: time.Hour})
	mustLoad(t, kr)
	mint(t, kr, clock.Now(), time.Hour)
	_, err := kr.Mint(jwtkeys.AccessToken{Issuer: testIssuer, ClientID: "c", Audience: testAudience, IssuedAt: clock.Now(), TTL: time.Hour + time.Second})
	if err == nil || !strings.Contains(err.Error(), "MaxTokenTTL") {
		t.Errorf("Mint beyond MaxTokenTTL: got %v, want an error naming MaxTokenTTL", err)
	}
}

func decodeJWTHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return out
}

// Run lowers an interval above half of MaxStale, and its warning gives
// both durations in seconds.
func TestRunLowersIntervalLogsSeconds(t *testing.T) {
	var logs testutil.LockedBuffer
	kr, err := jwtkeys.NewKeyring(storetest.Open(t, "sqlite"), jwtkeys.KeyringConfig{KEK: mustKEK(t, rawKEK(t)), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // Run returns after its first tick
	kr.Run(ctx, 10*time.Minute)
	var line struct {
		Msg       string
		Requested float64 `json:"requested_seconds"`
		Interval  float64 `json:"interval_seconds"`
	}
	if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
		t.Fatalf("log %q: %v", logs.String(), err)
	}
	if !strings.Contains(line.Msg, "reload interval lowered") || line.Requested != 600 || line.Interval != 150 {
		t.Errorf("got %+v, want the interval lowered from 600 to 150 seconds", line)
	}
}
