package oauth

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
)

func TestLimiterRate(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
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
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
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
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
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

// An IPv6 source is its /64: the addresses of one /64 share one rate bucket
// and one failure budget, other /64s have their own.
func TestLimiterCountsIPv6By64(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLimiter(LimiterConfig{Rate: 0.001, Burst: 2, FailuresPerPair: 100, FailuresPerIP: 3, Now: clock.Now})
	a, b := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff:ffff:ffff:ffff")
	other := netip.MustParseAddr("2001:db8:1:3::1")
	for i, ip := range []netip.Addr{a, b} {
		if wait, limit := l.Allow(ip, "c"); wait != 0 {
			t.Fatalf("request %d within the /64's burst: got wait %s (%s)", i, wait, limit)
		}
	}
	if wait, limit := l.Allow(netip.MustParseAddr("2001:db8:1:2:abcd::9"), "c"); wait == 0 || limit != LimitIPRate {
		t.Errorf("a third address of the /64 past its burst of 2: got wait %s %q, want %s", wait, limit, LimitIPRate)
	}
	if wait, limit := l.Allow(other, "c"); wait != 0 {
		t.Errorf("the next /64: got wait %s (%s), want admitted", wait, limit)
	}

	l = NewLimiter(LimiterConfig{Rate: 1000, FailuresPerPair: 100, FailuresPerIP: 3, Now: clock.Now})
	for i := range 4 { // four addresses of one /64: the fourth failure is over the budget of 3
		l.Failed(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, byte(i + 1)}), "c")
	}
	if wait, limit := l.Allow(b, "another"); wait == 0 || limit != LimitIPFailures {
		t.Errorf("an address of the /64 after 4 failures from it: got wait %s %q, want %s", wait, limit, LimitIPFailures)
	}
	if wait, limit := l.Allow(other, "another"); wait != 0 {
		t.Errorf("the next /64 after failures from its neighbour: got wait %s (%s), want admitted", wait, limit)
	}
	v4a, v4b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for range 4 {
		l.Failed(v4a, "c")
	}
	if wait, limit := l.Allow(v4b, "c"); wait != 0 {
		t.Errorf("an IPv4 neighbour of a blocked address: got wait %s (%s), want admitted (IPv4 sources are single addresses)", wait, limit)
	}
}

// The limiter keeps nothing of the client_ids sent: an entry has the same
// size whatever the client_id's, so MaxKeys bounds bytes as well.
func TestLimiterBoundsBytes(t *testing.T) {
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := NewLimiter(LimiterConfig{Now: clock.Now})
	const sources = 10_000
	before := heapAlloc()
	for i := range sources {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		l.Allow(ip, "")
		l.Failed(ip, fmt.Sprintf("%04d%s", i, strings.Repeat("x", 4092))) // a 4 KiB client_id of its own
	}
	after := heapAlloc()
	entries := len(l.buckets) + len(l.fails)
	perEntry := (int64(after) - int64(before)) / int64(entries)
	t.Logf("%d entries, %d bytes each", entries, perEntry)
	if entries != 3*sources {
		t.Fatalf("got %d entries, want %d (a bucket, a per-source and a pair budget per source)", entries, 3*sources)
	}
	if perEntry > 256 {
		t.Errorf("an entry takes %d bytes, want at most 256: the client_ids sent are kept", perEntry)
	}
	runtime.KeepAlive(l)
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
