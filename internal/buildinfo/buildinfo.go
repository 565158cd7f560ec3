// Package buildinfo says which build of authz is running: its version,
// commit, build date and Go version.
//
// Release builds (scripts/build) stamp the first three with
// -ldflags "-X github.com/authz/authz/internal/buildinfo.version=..." (and
// .commit, .date). An unstamped build takes the commit and its time from
// the version-control information the go command records
// (runtime/debug.ReadBuildInfo, vcs.revision and vcs.time), and its version
// from the module version (`go install ...@v1.2.3`), else "devel".
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker in release builds; see the package comment.
var (
	version string
	commit  string
	date    string
)

// Info describes the running build. A value that is not known is
// "unknown"; Version is "devel" for an unstamped build from a work tree.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	// Modified is true when an unstamped build was made from a work tree
	// with uncommitted changes (vcs.modified).
	Modified bool `json:"modified,omitempty"`
}

// Get returns the running build's Info.
func Get() Info {
	info := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if info.Commit == "" {
					info.Commit = s.Value
				}
			case "vcs.time":
				if info.Date == "" {
					info.Date = s.Value
				}
			case "vcs.modified":
				info.Modified = commit == "" && s.Value == "true"
			}
		}
	}
	if info.Version == "" {
		info.Version = "devel"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}
