package oauth

import (
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterRate(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLimiter(LimiterConfig{Rate: 10, Burst: 5, Now: clock.Now})
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 5; i++ {
		if wait, limit := l.Allow(ip, "c"); wait != 0 {
			t.Fatalf("request %d: got wait %s (%s), want admitted within the burst", i, wait, limit)
		}
	}
	wait, limit := l.Allow(ip, "c")
	if wait <= 0 || limit != "ip_rate" {
		t.Fatalf("past the burst: got wait %s limit %q, want a wait and ip_rate", wait, limit)
	}
	if other, _ := l.Allow(netip.MustParseAddr("192.0.2.2"), "c"); other != 0 {
		t.Errorf("another address is limited too: wait %s", other)
	}
	clock.Advance(100 * time.Millisecond) // one token at 10/s
	if wait, _ := l.Allow(ip, "c"); wait != 0 {
		t.Errorf("after refilling one token: got wait %s, want admitted", wait)
	}
}

// Failures lock out the (client, address) pair, never the client from
// another address.
func TestLimiterFailureBudgets(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLimiter(LimiterConfig{Rate: 1000, FailuresPerPair: 3, FailuresPerIP: 10, BaseBackoff: time.Second, MaxBackoff: time.Minute, Now: clock.Now})
	attacker, victim := netip.MustParseAddr("198.51.100.66"), netip.MustParseAddr("203.0.113.7")
	for i := 0; i < 3; i++ {
		l.Failed(attacker, "client-a")
	}
	if wait, _ := l.Allow(attacker, "client-a"); wait != 0 {
		t.Fatalf("within the budget: got wait %s, want admitted", wait)
	}
	l.Failed(attacker, "client-a") // 4th: 1s backoff
	wait, limit := l.Allow(attacker, "client-a")
	if wait != time.Second || limit != "client_failures" {
		t.Fatalf("over the pair budget: got %s %q, want 1s client_failures", wait, limit)
	}
	l.Failed(attacker, "client-a") // 5th: 2s
	if wait, _ := l.Allow(attacker, "client-a"); wait != 2*time.Second {
		t.Errorf("backoff doubles: got %s, want 2s", wait)
	}
	if wait, limit := l.Allow(victim, "client-a"); wait != 0 {
		t.Errorf("the legitimate client from its own address is locked out: %s %q", wait, limit)
	}
	if wait, _ := l.Allow(attacker, "client-b"); wait != 0 {
		t.Errorf("another client from the attacker's address, within the IP budget: got wait %s", wait)
	}
	for i := 0; i < 10; i++ {
		l.Failed(attacker, "client-"+string(rune('c'+i)))
	}
	if wait, limit := l.Allow(attacker, "client-z"); wait == 0 || limit != "ip_failures" {
		t.Errorf("over the IP budget: got %s %q, want ip_failures", wait, limit)
	}
	if wait, _ := l.Allow(victim, "client-z"); wait != 0 {
		t.Errorf("the IP budget leaks to other addresses: %s", wait)
	}
	clock.Advance(2 * time.Minute)
	if wait, _ := l.Allow(attacker, "client-a"); wait != 0 {
		t.Errorf("after the backoff: got wait %s, want admitted", wait)
	}
	for i := 0; i < 3; i++ {
		l.Failed(victim, "client-v")
	}
	l.Succeeded(victim, "client-v")
	l.Failed(victim, "client-v")
	if wait, limit := l.Allow(victim, "client-v"); wait != 0 {
		t.Errorf("a success resets the pair budget: got wait %s (%s)", wait, limit)
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLimiter(LimiterConfig{MaxKeys: 1000, Now: clock.Now})
	for i := 0; i < 100_000; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(ip, "x")
		l.Failed(ip, "x")
		if i%1000 == 0 {
			clock.Advance(time.Second)
		}
	}
	if n := len(l.buckets) + len(l.fails); n > 3000 {
		t.Errorf("state grew to %d entries, want it bounded near MaxKeys", n)
	}
}
