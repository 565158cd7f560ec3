package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFetchGuard: the default client of a fetcher connects to public
// addresses only, whatever a URL names (an address, a name that resolves to
// loopback, an IPv4-mapped IPv6 address) and wherever a redirect points,
// unless the server allows private networks.
func TestFetchGuard(t *testing.T) {
	ctx := context.Background()
	guarded := NewJWKSFetcher(JWKSFetcherConfig{})
	for _, uri := range []string{
		"https://10.1.2.3/jwks",
		"https://172.16.0.1/jwks",
		"https://192.168.1.1/jwks",
		"https://169.254.169.254/latest/meta-data",
		"https://100.64.0.1/jwks",
		"https://127.0.0.1/jwks",
		"https://localhost/jwks",
		"https://[::1]/jwks",
		"https://[::ffff:10.1.2.3]/jwks",
		"https://[fd00::1]/jwks",
		"https://[fe80::1]/jwks",
		"https://0.0.0.0/jwks",
		"https://[64:ff9b::a01:203]/jwks",
	} {
		_, err := guarded.Keys(ctx, uri)
		if err == nil || !strings.Contains(err.Error(), "is not a public address") {
			t.Errorf("Keys(%s): err %v, want a refusal of the address", uri, err)
		}
		if _, err := guarded.Discover(ctx, strings.TrimSuffix(uri, "/jwks")); err == nil || !strings.Contains(err.Error(), "is not a public address") {
			t.Errorf("Discover(%s): err %v, want a refusal of the address", uri, err)
		}
	}
	for _, addr := range []string{"8.8.8.8:443", "[2001:4860:4860::8888]:443", "1.1.1.1:443"} {
		if err := checkDialAddress(addr, false); err != nil {
			t.Errorf("checkDialAddress(%s): %v, want nil for a public address", addr, err)
		}
	}

	// A loopback server (allowed in tests) redirecting into the private
	// network: http is refused at the redirect, https at the dial.
	var target string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	loopback := NewJWKSFetcher(JWKSFetcherConfig{AllowLoopbackHTTP: true})
	for _, tc := range []struct{ target, want string }{
		{"http://10.1.2.3/jwks", "must be an https URL"},
		{"https://10.1.2.3/jwks", "is not a public address"},
		{"https://169.254.169.254/jwks", "is not a public address"},
	} {
		target = tc.target
		_, err := loopback.Refresh(ctx, srv.URL+"/jwks?to="+tc.target)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("redirect to %s: err %v, want %q", tc.target, err, tc.want)
		}
	}

	// Allowed, a private address is dialled: the refusal is the network's
	// (nothing listens on 127.0.0.1:1), not the guard's.
	open := NewJWKSFetcher(JWKSFetcherConfig{AllowPrivateNetworks: true})
	if _, err := open.Keys(ctx, "https://127.0.0.1:1/jwks"); err == nil || strings.Contains(err.Error(), "is not a public address") {
		t.Errorf("AllowPrivateNetworks: err %v, want a connection error", err)
	}
}
