package oauth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/authz/authz/models"
)

// ClientIP returns the address of the client: the connection's peer, or,
// when the peer is a trusted proxy, the rightmost X-Forwarded-For entry that
// is not itself a trusted proxy.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain is not believed
		}
		addr = addr.Unmap()
		if !inPrefixes(addr, trusted) {
			return addr
		}
	}
	return peer
}

func remoteAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

func inPrefixes(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParsePrefixes parses IPs and CIDR ranges (IPv4 and IPv6); a bare IP is a
// single-address range.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, item := range list {
		p, err := parsePrefix(item)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(item string) (netip.Prefix, error) {
	item = strings.TrimSpace(item)
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return netip.Prefix{}, models.Errorf(models.KindInvalid, "invalid_request", "IP range %q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", item)
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, models.Errorf(models.KindInvalid, "invalid_request", "IP range %q is IPv4-mapped IPv6: write it as an IPv4 range", item)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(item)
	if err != nil {
		return netip.Prefix{}, models.Errorf(models.KindInvalid, "invalid_request", "%q is not an IPv4 or IPv6 address or CIDR range", item)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// allowed reports whether ip is inside any entry of an allowlist stored as
// strings (validated when stored).
func allowed(ip netip.Addr, list models.Set) bool {
	if !ip.IsValid() {
		return false
	}
	for _, item := range list {
		if p, err := parsePrefix(item); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}
