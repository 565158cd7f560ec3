package oauth

import (
	"math"
	"net/netip"
	"sync"
	"time"
)

// LimiterConfig tunes the Limiter. Zero fields take the defaults.
type LimiterConfig struct {
	// Rate and Burst bound requests per source IP (token bucket), across
	// every client-authenticating endpoint. Default 100/s, burst 200.
	Rate  float64
	Burst float64
	// FailuresPerPair failed authentications of one client_id from one IP
	// are allowed before backoff starts. Default 5.
	FailuresPerPair int
	// FailuresPerIP failed authentications from one IP, over all client
	// ids, are allowed before backoff starts. Default 20.
	FailuresPerIP int
	// BaseBackoff doubles with every failure beyond the budget, up to
	// MaxBackoff. Defaults 1s and 15m.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Forget drops the state of a key idle this long. Default 30m.
	Forget time.Duration
	// MaxKeys bounds memory: past it, idle state is dropped first.
	// Default 100,000.
	MaxKeys int
	Now     func() time.Time
}

// Limiter protects client authentication from brute force and each source
// IP from flooding. Failure budgets are kept per (client_id, source IP) and
// per source IP, never per client_id alone, so an attacker elsewhere cannot
// lock a legitimate client out of its own address. State is in memory per
// instance: behind a load balancer of N instances the effective budgets are
// N times larger (secrets have 256 bits, so the budget limits load, not
// guessing odds). It is safe for concurrent use.
type Limiter struct {
	cfg LimiterConfig

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	fails   map[failKey]*failState
}

type bucket struct {
	tokens float64
	last   time.Time
}

type failKey struct {
	ip       netip.Addr
	clientID string // "" for the per-IP budget
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
	return &Limiter{cfg: cfg, buckets: map[netip.Addr]*bucket{}, fails: map[failKey]*failState{}}
}

// Allow admits a request from ip for clientID, or returns how long to wait
// and which limit applied ("ip_rate", "ip_failures" or "client_failures").
func (l *Limiter) Allow(ip netip.Addr, clientID string) (wait time.Duration, limit string) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range []failKey{{ip: ip}, {ip: ip, clientID: clientID}} {
		if f := l.fails[k]; f != nil && now.Before(f.until) {
			limit = "ip_failures"
			if k.clientID != "" {
				limit = "client_failures"
			}
			return f.until.Sub(now), limit
		}
	}
	b := l.buckets[ip]
	if b == nil {
		l.gc(now)
		b = &bucket{tokens: l.cfg.Burst, last: now}
		l.buckets[ip] = b
	}
	b.tokens = math.Min(l.cfg.Burst, b.tokens+now.Sub(b.last).Seconds()*l.cfg.Rate)
	b.last = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) / l.cfg.Rate * float64(time.Second)), "ip_rate"
	}
	b.tokens--
	return 0, ""
}

// Failed records a failed authentication of clientID from ip.
func (l *Limiter) Failed(ip netip.Addr, clientID string) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail(failKey{ip: ip}, l.cfg.FailuresPerIP, now)
	if clientID != "" {
		l.fail(failKey{ip: ip, clientID: clientID}, l.cfg.FailuresPerPair, now)
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
	l.mu.Lock()
	delete(l.fails, failKey{ip: ip, clientID: clientID})
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
	for ip, b := range l.buckets {
		if now.Sub(b.last) > idle {
			delete(l.buckets, ip)
		}
	}
	for k, f := range l.fails {
		if now.After(f.until) && now.Sub(f.last) > l.cfg.Forget/10 {
			delete(l.fails, k)
		}
	}
	target := l.cfg.MaxKeys / 2
	for ip := range l.buckets {
		if len(l.buckets)+len(l.fails) <= target {
			return
		}
		delete(l.buckets, ip)
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
