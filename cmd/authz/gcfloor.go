package main

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The token endpoint allocates about 20 KB per request around a live heap
// of a few MiB. With Go's default GOGC=100 the collector then runs every
// few MiB allocated: 26 cycles per second at 8,000 tokens/s, its mark phase
// active 18% of the time on the server's core, and those phases are what
// stretch the latency tail. A heap floor keeps the collector idle until the
// heap reaches the floor, while a large live heap (a full client cache)
// still gets GOGC=100's proportional headroom and not a multiple of it.

// gcFloor steers the collector so that the next cycle starts at
// max(2 × live heap, floor): Run sets GOGC from the live heap at every
// tick.
type gcFloor struct {
	floor   uint64
	sample  []metrics.Sample
	percent int
}

func newGCFloor(floor uint64) *gcFloor {
	return &gcFloor{floor: floor, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
}

// gcPercentFor is the GOGC that puts the next collection at floor for a
// live heap of live bytes, never below Go's default of 100. The runtime's
// goal is max(live × (1 + GOGC/100), 4 MiB × GOGC/100): its minimum heap
// grows with GOGC, so a heap smaller than 4 MiB is paced by the second term.
func gcPercentFor(live, floor uint64) int {
	const lo, minHeap = 100, 4 << 20
	p := floor * 100 / minHeap
	if live > 0 {
		p = min(p, floor*100/live-100)
	}
	if floor <= 2*live || p < lo {
		return lo
	}
	return int(p)
}

// gcFloorRuns counts the calls of gcFloor.Run, so that a test can tell
// whether serve started the tuner without waiting for it to act.
var gcFloorRuns atomic.Int64

// Run adjusts GOGC every interval until ctx is done, then restores the
// value it found.
func (g *gcFloor) Run(ctx context.Context, interval time.Duration) {
	gcFloorRuns.Add(1)
	prev := debug.SetGCPercent(g.next(g.liveHeap()))
	defer debug.SetGCPercent(prev)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			debug.SetGCPercent(g.next(g.liveHeap()))
		}
	}
}

// liveHeap is the heap marked live by the last collection.
func (g *gcFloor) liveHeap() uint64 {
	metrics.Read(g.sample)
	if g.sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return g.sample[0].Value.Uint64()
}

// next returns the GOGC for a live heap of live bytes, keeping the current
// one unless it is off by more than a tenth (a new target on every tick
// would make the pacer's work harder, not easier).
func (g *gcFloor) next(live uint64) int {
	p := gcPercentFor(live, g.floor)
	if g.percent == 0 || p*10 < g.percent*9 || p*10 > g.percent*11 {
		g.percent = p
	}
	return g.percent
}

// floorUnderLimit caps a heap floor at half of a memory limit (GOMEMLIMIT
// or debug.SetMemoryLimit), so that the floor never has the collector
// running against the limit; limit is math.MaxInt64 when none is set.
func floorUnderLimit(floor uint64, limit int64) uint64 {
	if limit <= 0 || limit == math.MaxInt64 {
		return floor
	}
	return min(floor, uint64(limit)/2)
}

// parseSize reads a size in bytes such as 64MiB, 512KiB, 1GiB or 0.
func parseSize(s string) (uint64, error) {
	num, mult := s, uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || n > (1<<64-1)/mult {
		return 0, fmt.Errorf("%q: want a size such as 64MiB, 512KiB or 0", s)
	}
	if mult == 1 && n != 0 {
		return 0, fmt.Errorf("%q: want a unit, KiB, MiB or GiB (or 0 for off)", s)
	}
	return n * mult, nil
}
