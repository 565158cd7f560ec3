package buildinfo

import (
	"runtime"
	"testing"
)

func TestGetStamped(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123abcd", "2026-01-02T03:04:05Z"
	got := Get()
	want := Info{Version: "v1.2.3", Commit: "0123abcd", Date: "2026-01-02T03:04:05Z", GoVersion: runtime.Version()}
	if got != want {
		t.Fatalf("Get() = %+v, want %+v", got, want)
	}
}

// A test binary carries no version-control information, like a build from
// a source tree without .git: the fallbacks apply.
func TestGetUnstamped(t *testing.T) {
	got := Get()
	want := Info{Version: "devel", Commit: "unknown", Date: "unknown", GoVersion: runtime.Version()}
	if got != want {
		t.Fatalf("Get() = %+v, want %+v", got, want)
	}
}
