package main

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models/storetest"
)

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 64 * mib, 1600},         // the runtime's 4 MiB minimum heap × 16 = 64 MiB
		{2 * mib, 64 * mib, 1600},   // still paced by the minimum heap
		{5 * mib, 64 * mib, 1180},   // 5 MiB × (1 + 11.8) = 64 MiB
		{16 * mib, 64 * mib, 300},   // 16 MiB × 4
		{31 * mib, 64 * mib, 106},   // just under half the floor
		{32 * mib, 64 * mib, 100},   // at half the floor, GOGC=100 reaches it
		{500 * mib, 64 * mib, 100},  // a large live heap keeps the default
		{5 * mib, 4 * mib, 100},     // a floor under the minimum heap changes nothing
		{1 * mib, 256 * mib, 6400},  // paced by the minimum heap again
		{100 * mib, 256 * mib, 156}, // 100 MiB × 2.56
	} {
		if got := gcPercentFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB, %d MiB) = %d, want %d", tc.live/mib, tc.floor/mib, got, tc.want)
		}
	}
}

// next keeps GOGC until the live heap moves it by more than a tenth.
func TestGCFloorNext(t *testing.T) {
	const mib = 1 << 20
	g := newGCFloor(64 * mib)
	for _, step := range []struct {
		live uint64
		want int
	}{
		{5 * mib, 1180},       // first call: set
		{5*mib + mib/4, 1180}, // 1119 is within a tenth of 1180: kept
		{6 * mib, 966},        // off by more than a tenth: changed
		{20 * mib, 220},       // the heap grew
		{40 * mib, 100},       // past half the floor: Go's default
		{31 * mib, 100},       // 106 is within a tenth of 100: kept
		{2 * mib, 1600},       // the heap shrank
	} {
		if got := g.next(step.live); got != step.want {
			t.Errorf("next(%.2f MiB) = %d, want %d", float64(step.live)/mib, got, step.want)
		}
	}
}

func TestFloorUnderLimit(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		floor uint64
		limit int64
		want  uint64
	}{
		{64 * mib, math.MaxInt64, 64 * mib}, // no limit set
		{64 * mib, 1024 * mib, 64 * mib},    // a limit well above the floor
		{64 * mib, 100 * mib, 50 * mib},     // half the limit
		{64 * mib, 0, 64 * mib},             // not a limit
	} {
		if got := floorUnderLimit(tc.floor, tc.limit); got != tc.want {
			t.Errorf("floorUnderLimit(%d MiB, %d) = %d MiB, want %d MiB", tc.floor/mib, tc.limit, got/mib, tc.want/mib)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{in: "0", want: 0},
		{in: "64MiB", want: 64 << 20},
		{in: "512KiB", want: 512 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: " 2 GiB", want: 2 << 30},
		{in: "64", err: "want a unit"},
		{in: "64MB", err: "want a size"},
		{in: "-1MiB", err: "want a size"},
		{in: "MiB", err: "want a size"},
		{in: "", err: "want a size"},
		{in: "99999999999999GiB", err: "want a size"},
	} {
		got, err := parseSize(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in)):
			t.Errorf("parseSize(%q) = %d, %v; want an error naming the input and saying %q", tc.in, got, err, tc.err)
		}
	}
}

// gogc is the collector's current GOGC as the runtime reports it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC polls until cond holds for GOGC or five seconds pass.
func waitGOGC(cond func(int) bool) int {
	deadline := time.Now().Add(5 * time.Second)
	for !cond(gogc()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return gogc()
}

func TestGCFloorRun(t *testing.T) {
	before := gogc()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		newGCFloor(64<<20).Run(ctx, 10*time.Millisecond)
	}()
	// This test binary's live heap is a few MiB: GOGC rises well above 100.
	if got := waitGOGC(func(p int) bool { return p > 100 }); got <= 100 {
		t.Errorf("GOGC %d while the tuner runs, want above 100", got)
	}
	cancel()
	<-done
	if got := gogc(); got != before {
		t.Errorf("GOGC %d after the tuner stopped, want %d restored", got, before)
	}
}

// logShows waits up to five seconds for serve's log to contain s.
func logShows(srv *server, s string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(srv.stderr.String(), s) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return strings.Contains(srv.stderr.String(), s)
}

// serve runs the tuner by default, and not with a floor of 0 or when
// the operator set GOGC.
func TestGCFloorServe(t *testing.T) {
	before := gogc()
	m := newMain(t, storetest.URL(t, "sqlite"))
	run(t, m, "migrate")

	srv := startServe(t, m)
	if got := waitGOGC(func(p int) bool { return p > 100 }); got <= 100 {
		t.Errorf("GOGC %d while serving with the default --gc-min-heap, want above 100", got)
	}
	if !logShows(srv, `"gc_min_heap":"64MiB"`) {
		t.Errorf("the listening line does not report the heap floor:\n%s", srv.stderr.String())
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if got := gogc(); got != before {
		t.Errorf("GOGC %d after serve stopped, want %d restored", got, before)
	}

	// Under a 100 MiB memory limit the floor is half of it.
	prevLimit := debug.SetMemoryLimit(100 << 20)
	t.Cleanup(func() { debug.SetMemoryLimit(prevLimit) })
	srv = startServe(t, m)
	if !logShows(srv, `"gc_min_heap":"51200KiB (half the memory limit)"`) {
		t.Errorf("under a 100 MiB memory limit, the listening line does not report a 50 MiB floor:\n%s", srv.stderr.String())
	}
	if err := srv.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	debug.SetMemoryLimit(prevLimit)

	for name, mm := range map[string]*Main{
		"AUTHZ_GC_MIN_HEAP=0": withEnv(m, map[string]string{"AUTHZ_GC_MIN_HEAP": "0"}),
		"GOGC set":            withEnv(m, map[string]string{"GOGC": "100"}),
	} {
		t.Run(name, func(t *testing.T) {
			srv := startServe(t, mm)
			// Longer than the tuner's one-second interval.
			time.Sleep(1200 * time.Millisecond)
			if got := gogc(); got != before {
				t.Errorf("GOGC %d, want %d left alone", got, before)
			}
			if !logShows(srv, `"gc_min_heap":"off"`) {
				t.Errorf("the listening line does not say the floor is off:\n%s", srv.stderr.String())
			}
			if err := srv.stop(t); err != nil {
				t.Fatalf("serve: %v", err)
			}
		})
	}
}
