package main

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// TestHealthcheck: `authz healthcheck` succeeds against a serving server,
// also given serve's all-addresses form of the address, and fails once the
// server is gone.
func TestHealthcheck(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		m := newMain(t, storetest.URL(t, backend))
		s := startServe(t, m)
		u, err := url.Parse(s.base)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(u.Host)
		for _, addr := range []string{u.Host, "0.0.0.0:" + port, ":" + port} {
			if out := run(t, m, "healthcheck", "--addr", addr); out != "ready\n" {
				t.Errorf("healthcheck --addr %s: %q, want ready", addr, out)
			}
		}
		if out := run(t, withEnv(m, map[string]string{"AUTHZ_ADDR": "0.0.0.0:" + port}), "healthcheck"); out != "ready\n" {
			t.Errorf("healthcheck with AUTHZ_ADDR: %q, want ready", out)
		}
		if err := s.stop(t); err != nil {
			t.Fatal(err)
		}
		if _, _, err := invoke(t, m, "healthcheck", "--addr", u.Host); err == nil || !strings.HasPrefix(err.Error(), "not ready: ") {
			t.Errorf("healthcheck with the server stopped: %v, want not ready", err)
		}
	})
}
