// Package logsample lets one log line of a kind through per second and
// counts the ones it holds back, for the next line to report: a flood of
// identical failures (a database outage, a source over its rate limit)
// would otherwise write the log as fast as requests arrive.
package logsample

import (
	"sync"
	"time"
)

// Sampler samples one kind of line. The zero value is ready; it is safe
// for concurrent use.
type Sampler struct {
	mu         sync.Mutex
	last       time.Time // when the last line was let through
	started    bool
	suppressed int
}

// Take reports whether a line may be written at now, and how many were
// held back since the last one that was.
func (s *Sampler) Take(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started && now.Sub(s.last) < time.Second {
		s.suppressed++
		return false, 0
	}
	s.started, s.last = true, now
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}
