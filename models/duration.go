package models

import (
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration ("90m", "24h") or a whole number of
// days ("30d", "365d"), the unit credential lifetimes are thought in.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, Errorf(KindInvalid, "invalid_request", "duration %q: want a whole number of days such as 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, Errorf(KindInvalid, "invalid_request", "duration %q: want e.g. 15m, 24h or 30d", s)
	}
	return d, nil
}

// FormatDuration writes whole days as "Nd" and anything else as Go does.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}
