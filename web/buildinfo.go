package web

import (
	"github.com/authz/authz/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

// buildInfoGauge is authz_build_info: always 1, its labels say which build
// runs (the convention of prometheus_build_info and node_exporter's), so
// dashboards can join on it and alert on a fleet running mixed versions.
func buildInfoGauge(b buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "authz_build_info",
		Help: "The running build: its version, commit and Go version (always 1).",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "commit": b.Commit, "go_version": b.GoVersion,
		},
	})
	g.Set(1)
	return g
}
