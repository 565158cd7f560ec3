package oauth

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"
)

// The limits Allow applies, as named in its answer, in metrics and in logs.
const (
	LimitIPRate         = "ip_rate"
	LimitIPFailures     = "ip_failures"
	LimitClientFailures = "client_failures"
)

// Limits lists every limit Allow may apply.
var Limits = []string{LimitIPRate, LimitIPFailures, LimitClientFailures}

// LimiterConfig tunes the Limiter. Zero fields take the defaults.
type LimiterConfig struct {
	// Rate and Burst bound requests per source (an IPv4 address or an IPv6
	// /64; token bucket), across every client-authenticating endpoint.
	// Default 100/s, burst 200.
	Rate  float64
	Burst float64
	// FailuresPerPair failed authentications of one client_id from one source
	// are allowed before backoff starts. Default 5.
	FailuresPerPair int
	// FailuresPerIP failed authentications from one source, over all client
	// ids, are allowed before backoff starts. Default 20.
	FailuresPerIP int
	// BaseBackoff doubles with every failure beyond the budget, up to
	// MaxBackoff. Defaults 1s and 15m.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Forget drops the state of a key idle this long. Default 30m.
	Forget time.Duration
	// MaxKeys bounds memory: past it, idle state is dropped first.
	// Default 100,000 (about 15 MB).
	MaxKeys int
	Now     func() time.Time
}

// Limiter protects client authentication from brute force and each source
// from flooding. A source is an IPv4 address or an IPv6 /64 (one host or
// site usually holds a whole /64: counting single IPv6 addresses would give
// one attacker 2^64 budgets). Failure budgets are kept per (client_id,
// source) and per source, never per client_id alone, so an attacker
// elsewhere cannot lock a legitimate client out of its own address. State is
// in memory per instance: behind a load balancer of N instances the
// effective budgets are N times larger (secrets have 256 bits, so the budget
// limits load, not guessing odds). It is safe for concurrent use.
//
// Nothing of a request is kept: a client_id is kept as a keyed 64-bit hash,
// so every entry has the same size (about 150 bytes, TestLimiterBoundsBytes)
// and MaxKeys bounds the bytes as well as the entries, whatever the
// client_ids sent.
type Limiter struct {
	cfg  LimiterConfig
	seed maphash.Seed

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
	fails   map[failKey]*failState
}

type bucket struct {
	tokens float64
	last   time.Time
}

type failKey struct {
	source netip.Prefix
	pair   bool   // false for the per-source budget
	client uint64 // the client_id's hash, for a pair
}

// sourceOf is the source ip counts as: the address itself for IPv4, its /64
// for IPv6 (zone dropped). An invalid address is one source of its own.
func sourceOf(ip netip.Addr) netip.Prefix {
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// pairKey is the key of clientID's budget from ip's source. The hash is
// keyed with a random seed per Limiter, so no one can choose client_ids
// that share a budget.
func (l *Limiter) pairKey(ip netip.Addr, clientID string) failKey {
	return failKey{source: sourceOf(ip), pair: true, client: maphash.String(l.seed, clientID)}
}

type failState struct {
	count int
	until time.Time // blocked until
	last  time.Time
}

// NewLimiter returns a Limiter.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.Rate <= 0 {
		cfg.Rate = 100
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 2 * cfg.Rate
	}
	if cfg.FailuresPerPair <= 0 {
		cfg.FailuresPerPair = 5
	}
	if cfg.FailuresPerIP <= 0 {
		cfg.FailuresPerIP = 20
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 15 * time.Minute
	}
	if cfg.Forget <= 0 {
		cfg.Forget = 30 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, seed: maphash.MakeSeed(), buckets: map[netip.Prefix]*bucket{}, fails: map[failKey]*failState{}}
}

// Allow admits a request from ip for clientID, or returns how long to wait
// and which limit applied (LimitIPRate, LimitIPFailures or
// LimitClientFailures).
func (l *Limiter) Allow(ip netip.Addr, clientID string) (wait time.Duration, limit string) {
	now := l.cfg.Now()
	source := sourceOf(ip)
	pair := l.pairKey(ip, clientID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.fails[failKey{source: source}]; f != nil && now.Before(f.until) {
		return f.until.Sub(now), LimitIPFailures
	}
	if f := l.fails[pair]; f != nil && now.Before(f.until) {
		return f.until.Sub(now), LimitClientFailures
	}
	b := l.buckets[source]
	if b == nil {
		l.gc(now)
		b = &bucket{tokens: l.cfg.Burst, last: now}
		l.buckets[source] = b
	}
	b.tokens = math.Min(l.cfg.Burst, b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate)
	b.last = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.cfg.Rate * float64(time.Second)), LimitIPRate
	}
	b.tokens--
	return 0, ""
}

// Failed records a failed authentication of clientID from ip.
func (l *Limiter) Failed(ip netip.Addr, clientID string) {
	now := l.cfg.Now()
	pair := l.pairKey(ip, clientID)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail(failKey{source: pair.source}, l.cfg.FailuresPerIP, now)
	if clientID != "" {
		l.fail(pair, l.cfg.FailuresPerPair, now)
	}
}

func (l *Limiter) fail(k failKey, budget int, now time.Time) {
	f := l.fails[k]
	if f == nil || now.Sub(f.last) > l.cfg.Forget {
		l.gc(now)
		f = &failState{}
		l.fails[k] = f
	}
	f.count++
	f.last = now
	if over := f.count - budget; over > 0 {
		backoff := l.cfg.BaseBackoff << min(over-1, 30)
		if backoff <= 0 || backoff > l.cfg.MaxBackoff {
			backoff = l.cfg.MaxBackoff
		}
		f.until = now.Add(backoff)
	}
}

// Succeeded clears the failures of clientID from ip.
func (l *Limiter) Succeeded(ip netip.Addr, clientID string) {
	pair := l.pairKey(ip, clientID)
	l.mu.Lock()
	delete(l.fails, pair)
	l.mu.Unlock()
}

// gc drops idle state when the maps are full: first idle buckets and
// spent failure records, then, under a flood of addresses, buckets and
// records that block nothing, and last anything, so that memory stays
// bounded whatever an attacker sends. Called with l.mu held.
func (l *Limiter) gc(now time.Time) {
	if len(l.buckets)+len(l.fails) < l.cfg.MaxKeys {
		return
	}
	idle := time.Duration(float64(time.Second) * l.cfg.Burst / l.cfg.Rate)
	for source, b := range l.buckets {
		if now.Sub(b.last) > idle {
			delete(l.buckets, source)
		}
	}
	for k, f := range l.fails {
		if now.After(f.until) && now.Sub(f.last) > l.cfg.Forget/10 {
			delete(l.fails, k)
		}
	}
	target := l.cfg.MaxKeys / 2
	for source := range l.buckets {
		if len(l.buckets)+len(l.fails) <= target {
			return
		}
		delete(l.buckets, source)
	}
	for k, f := range l.fails {
		if len(l.fails) <= target {
			break
		}
		if !now.Before(f.until) {
			delete(l.fails, k)
		}
	}
	for k := range l.fails {
		if len(l.fails) <= target {
			return
		}
		delete(l.fails, k)
	}
}
