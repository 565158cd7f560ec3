// Command tracestat summarises a Go execution trace (as written by
// /debug/pprof/trace) for the latency analysis of bench/load.sh: how long
// goroutines waited to run once runnable, how long they ran at a time, and
// how much of the trace the garbage collector's phases covered.
//
//	go run . token.trace
//
// It is its own module so that the trace parser (golang.org/x/exp/trace)
// stays out of authz's dependencies.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"golang.org/x/exp/trace"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracestat FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tracestat:", err)
		os.Exit(1)
	}
}

func run(path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return err
	}
	var (
		first, last    trace.Time
		runnableSince  = map[trace.GoID]trace.Time{}
		runningSince   = map[trace.GoID]trace.Time{}
		waits, slices_ []time.Duration
		longest        []slice
		rangeBegin     = map[string]trace.Time{}
		ranges         = map[string][]time.Duration{}
	)
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			id := st.Resource.Goroutine()
			from, to := st.Goroutine()
			switch {
			case to == trace.GoRunnable:
				runnableSince[id] = ev.Time()
			case to == trace.GoRunning && from != trace.GoSyscall:
				if t, ok := runnableSince[id]; ok {
					waits = append(waits, ev.Time().Sub(t))
				}
				runningSince[id] = ev.Time()
			}
			// A slice lasts from being scheduled until the goroutine blocks
			// or is descheduled; a syscall that returns at once does not
			// end it.
			if (from == trace.GoRunning || from == trace.GoSyscall) && (to == trace.GoWaiting || to == trace.GoRunnable || to == trace.GoNotExist) {
				if t, ok := runningSince[id]; ok {
					d := ev.Time().Sub(t)
					slices_ = append(slices_, d)
					if len(longest) < 5 || d > longest[len(longest)-1].d {
						longest = append(longest, slice{d, ev.Time().Sub(first), where(st.Stack)})
						slices.SortFunc(longest, func(a, b slice) int { return int(b.d - a.d) })
						longest = longest[:min(len(longest), 5)]
					}
				}
				delete(runningSince, id)
			}
		case trace.EventRangeBegin:
			rg := ev.Range()
			rangeBegin[rg.Name+"/"+rg.Scope.String()] = ev.Time()
		case trace.EventRangeEnd:
			rg := ev.Range()
			if t, ok := rangeBegin[rg.Name+"/"+rg.Scope.String()]; ok {
				ranges[rg.Name] = append(ranges[rg.Name], ev.Time().Sub(t))
			}
		}
	}
	span := last.Sub(first)
	if span <= 0 {
		return fmt.Errorf("%s: an empty trace", path)
	}
	fmt.Fprintf(out, "trace: %v\n", span.Round(time.Millisecond))
	fmt.Fprintf(out, "runnable -> running: %s\n", dist(waits))
	fmt.Fprintf(out, "running slices (scheduled until blocked or descheduled): %s\n", dist(slices_))
	for _, l := range longest {
		fmt.Fprintf(out, "  long slice: %v at %v in %s\n", l.d.Round(time.Microsecond), l.at.Round(time.Millisecond), l.where)
	}
	names := make([]string, 0, len(ranges))
	for name := range ranges {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ds := ranges[name]
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		fmt.Fprintf(out, "%s: %d (%.1f/s), %.1f%% of the trace, %s\n", name, len(ds), float64(len(ds))/span.Seconds(), 100*float64(sum)/float64(span), dist(ds))
	}
	return nil
}

type slice struct {
	d, at time.Duration
	where string
}

// where names the innermost function of stk outside the scheduler.
func where(stk trace.Stack) string {
	for fr := range stk.Frames() {
		switch fr.Func {
		case "runtime.gopark", "runtime.goparkunlock", "runtime.park_m", "runtime.mcall":
			continue
		}
		return fr.Func
	}
	return "?"
}

// dist formats the percentiles of ds (sorted in place).
func dist(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[int(float64(len(ds)-1)*p)].Round(time.Microsecond) }
	return fmt.Sprintf("n=%d p50=%v p90=%v p99=%v max=%v", len(ds), at(.5), at(.9), at(.99), at(1))
}
