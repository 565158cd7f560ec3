package logsample

import (
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	var s Sampler
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		at             time.Duration
		ok             bool
		wantSuppressed int
	}{
		{0, true, 0},                       // the first line passes
		{100 * time.Millisecond, false, 0}, // held back
		{999 * time.Millisecond, false, 0}, // still within the second
		{time.Second, true, 2},             // passes, reporting the two held back
		{time.Second + time.Millisecond, false, 0},
		{5 * time.Second, true, 1},
		{7 * time.Second, true, 0}, // nothing held back since
	} {
		ok, suppressed := s.Take(t0.Add(step.at))
		if ok != step.ok || suppressed != step.wantSuppressed {
			t.Errorf("at %v: got (%v, %d), want (%v, %d)", step.at, ok, suppressed, step.ok, step.wantSuppressed)
		}
	}
}
