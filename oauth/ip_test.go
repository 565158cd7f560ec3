package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/authz/authz/models"
)

func mustPrefixes(t *testing.T, list ...string) []netip.Prefix {
	t.Helper()
	p, err := ParsePrefixes(list)
	if err != nil {
		t.Fatalf("ParsePrefixes(%q): %v", list, err)
	}
	return p
}

func TestClientIP(t *testing.T) {
	proxies := []string{"10.0.0.0/8", "fd00::/8"}
	tests := []struct {
		name    string
		trusted []string
		peer    string
		xff     []string // one X-Forwarded-For header per entry
		want    string   // "" for the invalid Addr
	}{
		{name: "no proxies, no XFF", peer: "203.0.113.7:1234", want: "203.0.113.7"},
		{name: "no trusted proxies ignores XFF", peer: "203.0.113.7:1234", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "untrusted peer ignores XFF", trusted: proxies, peer: "203.0.113.7:1234", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "trusted proxy", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted proxy, spoofed left entries", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"6.6.6.6, 7.7.7.7, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "chain of two trusted proxies", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"6.6.6.6, 198.51.100.1, 10.0.0.2"}, want: "198.51.100.1"},
		{name: "chain of trusted v4 and v6 proxies", trusted: proxies, peer: "[fd00::1]:443", xff: []string{"198.51.100.1,10.9.9.9"}, want: "198.51.100.1"},
		{name: "every hop trusted", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"10.0.0.3, 10.0.0.2"}, want: "10.0.0.1"},
		{name: "trusted proxy without XFF", trusted: proxies, peer: "10.0.0.1:1234", want: "10.0.0.1"},
		{name: "trusted proxy, empty XFF", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{""}, want: "10.0.0.1"},
		{name: "malformed XFF", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"not-an-ip"}, want: "10.0.0.1"},
		{name: "malformed rightmost XFF", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"198.51.100.1, garbage"}, want: "10.0.0.1"},
		{name: "XFF entry with port", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"198.51.100.1:80"}, want: "10.0.0.1"},
		{name: "XFF trailing comma", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"198.51.100.1,"}, want: "10.0.0.1"},
		{name: "malformed entry left of the client is not reached", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"garbage, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "XFF with spaces", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"  198.51.100.1  "}, want: "198.51.100.1"},
		{name: "IPv6 peer", peer: "[::1]:1234", want: "::1"},
		{name: "IPv6 peer with XFF untrusted", trusted: proxies, peer: "[2001:db8::1]:1234", xff: []string{"198.51.100.1"}, want: "2001:db8::1"},
		{name: "IPv6 client behind proxy", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"2001:db8::7"}, want: "2001:db8::7"},
		{name: "IPv4-mapped peer unmapped", peer: "[::ffff:203.0.113.7]:1234", want: "203.0.113.7"},
		{name: "IPv4-mapped peer is a trusted proxy", trusted: proxies, peer: "[::ffff:10.0.0.1]:1234", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPv4-mapped XFF unmapped", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"::ffff:198.51.100.1"}, want: "198.51.100.1"},
		{name: "IPv4-mapped trusted hop skipped", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"198.51.100.1, ::ffff:10.0.0.2"}, want: "198.51.100.1"},
		{name: "multiple XFF headers joined", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"6.6.6.6", "198.51.100.1", "10.0.0.2"}, want: "198.51.100.1"},
		{name: "multiple XFF headers, last is client", trusted: proxies, peer: "10.0.0.1:1234", xff: []string{"6.6.6.6, 7.7.7.7", "198.51.100.1"}, want: "198.51.100.1"},
		{name: "peer without port", peer: "203.0.113.7", want: "203.0.113.7"},
		{name: "peer garbage", trusted: proxies, peer: "garbage", xff: []string{"198.51.100.1"}, want: ""},
		{name: "peer empty", peer: "", want: ""},
		{name: "single trusted address", trusted: []string{"192.0.2.10"}, peer: "192.0.2.10:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "single trusted address, neighbour untrusted", trusted: []string{"192.0.2.10"}, peer: "192.0.2.11:1", xff: []string{"198.51.100.1"}, want: "192.0.2.11"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
			r.RemoteAddr = tc.peer
			for _, h := range tc.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			got := ClientIP(r, mustPrefixes(t, tc.trusted...))
			if tc.want == "" {
				if got.IsValid() {
					t.Errorf("got %v, want the invalid Addr", got)
				}
				return
			}
			if want := netip.MustParseAddr(tc.want); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, []string{}},
		{"bare IPv4", []string{"192.0.2.1"}, []string{"192.0.2.1/32"}},
		{"bare IPv6", []string{"2001:db8::1"}, []string{"2001:db8::1/128"}},
		{"bare IPv4-mapped IPv6 unmapped", []string{"::ffff:192.0.2.1"}, []string{"192.0.2.1/32"}},
		{"CIDR v4", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}},
		{"CIDR v6", []string{"2001:db8::/32"}, []string{"2001:db8::/32"}},
		{"normalizes v4 host bits", []string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}},
		{"normalizes v6 host bits", []string{"2001:db8::1/32"}, []string{"2001:db8::/32"}},
		{"/0 and /32", []string{"0.0.0.0/0", "192.0.2.1/32"}, []string{"0.0.0.0/0", "192.0.2.1/32"}},
		{"whitespace trimmed", []string{" 10.0.0.1 ", "\t10.0.0.0/8\n"}, []string{"10.0.0.1/32", "10.0.0.0/8"}},
		{"order kept", []string{"2001:db8::/32", "10.0.0.0/8", "192.0.2.1"}, []string{"2001:db8::/32", "10.0.0.0/8", "192.0.2.1/32"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrefixes(tc.in)
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if want := netip.MustParsePrefix(tc.want[i]); got[i] != want {
					t.Errorf("entry %d: got %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

func TestParsePrefixesInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		bad  string
	}{
		{"garbage", []string{"garbage"}, "garbage"},
		{"garbage after valid", []string{"10.0.0.0/8", "not-an-ip"}, "not-an-ip"},
		{"empty entry", []string{""}, `""`},
		{"hostname", []string{"example.com"}, "example.com"},
		{"v4 prefix too long", []string{"10.0.0.0/33"}, "10.0.0.0/33"},
		{"v6 prefix too long", []string{"2001:db8::/129"}, "2001:db8::/129"},
		{"missing bits", []string{"10.0.0.0/"}, "10.0.0.0/"},
		{"bad CIDR address", []string{"10.0.0/8"}, "10.0.0/8"},
		{"IPv4 with port", []string{"10.0.0.1:80"}, "10.0.0.1:80"},
		{"range syntax", []string{"10.0.0.1-10.0.0.9"}, "10.0.0.1-10.0.0.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrefixes(tc.in)
			if err == nil {
				t.Fatalf("got %v, nil; want an error", got)
			}
			if got != nil {
				t.Errorf("got prefixes %v alongside the error, want nil", got)
			}
			if !errors.Is(err, models.ErrInvalid) {
				t.Errorf("got error %v, want one wrapping models.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("got error %q, want it to name %q", err, tc.bad)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	list := models.Set{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::1"}
	tests := []struct {
		name string
		ip   netip.Addr
		list models.Set
		want bool
	}{
		{"inside v4 CIDR", netip.MustParseAddr("10.20.30.40"), list, true},
		{"v4 CIDR edge", netip.MustParseAddr("10.255.255.255"), list, true},
		{"outside v4 CIDR", netip.MustParseAddr("11.0.0.0"), list, false},
		{"v4 single address", netip.MustParseAddr("192.0.2.7"), list, true},
		{"v4 single address neighbour", netip.MustParseAddr("192.0.2.8"), list, false},
		{"inside v6 CIDR", netip.MustParseAddr("2001:db8:1::5"), list, true},
		{"outside v6 CIDR", netip.MustParseAddr("2001:db9::1"), list, false},
		{"v6 single address", netip.MustParseAddr("::1"), list, true},
		{"v6 single address neighbour", netip.MustParseAddr("::2"), list, false},
		{"v4 never matches v6 range", netip.MustParseAddr("0.0.0.1"), list, false},
		{"invalid addr", netip.Addr{}, list, false},
		{"invalid addr, match-all list", netip.Addr{}, models.Set{"0.0.0.0/0", "::/0"}, false},
		{"empty list", netip.MustParseAddr("10.0.0.1"), nil, false},
		{"garbage entries skipped", netip.MustParseAddr("10.0.0.1"), models.Set{"garbage", "10.0.0.0/8"}, true},
		{"only garbage", netip.MustParseAddr("10.0.0.1"), models.Set{"garbage"}, false},
		{"host bits in stored CIDR", netip.MustParseAddr("10.9.9.9"), models.Set{"10.1.2.3/8"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := allowed(tc.ip, tc.list); got != tc.want {
				t.Errorf("allowed(%v, %q) = %v, want %v", tc.ip, tc.list, got, tc.want)
			}
		})
	}
}
