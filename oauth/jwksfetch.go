package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/authz/authz/jwtkeys"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Defaults of JWKSFetcherConfig.
const (
	DefaultJWKSMaxBytes   = 64 << 10
	DefaultJWKSTimeout    = 5 * time.Second
	DefaultJWKSCooldown   = time.Minute
	DefaultJWKSMaxAge     = 10 * time.Minute
	DefaultJWKSMaxEntries = 10_000
)

// JWKSFetcherConfig configures a JWKSFetcher; zero fields take the defaults.
type JWKSFetcherConfig struct {
	// Client makes the requests (http.DefaultClient's transport when nil);
	// every request is bounded by Timeout.
	Client *http.Client
	// MaxBytes bounds a document; a larger one is refused.
	MaxBytes int64
	Timeout  time.Duration
	// Cooldown is the least time between two fetches of one URL, whatever
	// the requests ask: a request signed with an unknown kid refetches the
	// keys at most this often, and a failed fetch is answered from memory
	// for this long.
	Cooldown time.Duration
	// MaxAge is how long fetched keys are used before they are fetched
	// again.
	MaxAge time.Duration
	// MaxEntries bounds how many URLs' keys are kept (least recently used
	// go first).
	MaxEntries int
	// AllowLoopbackHTTP lets http:// URLs of 127.0.0.1, ::1 and localhost
	// through: for tests only. Every other URL must be https.
	AllowLoopbackHTTP bool
	// AllowPrivateNetworks lets the default client connect to addresses
	// that are not public (loopback, private, link-local, shared): for
	// deployments whose issuers are on an internal network, such as a
	// Kubernetes API server. Otherwise such an address is refused when it
	// is dialled, after name resolution and at every redirect, so that a
	// URL an organization registers cannot reach into the server's own
	// network; and the environment's proxy is not used, since the guard
	// would then see only the proxy's address.
	AllowPrivateNetworks bool
	Now                  func() time.Time
}

// CheckJWKSURI says why uri cannot be a jwks_uri: it must be an absolute
// https URL without credentials or fragment (http to a loopback address
// when allowLoopbackHTTP).
func CheckJWKSURI(uri string, allowLoopbackHTTP bool) error {
	return checkHTTPSURL("jwks_uri", uri, allowLoopbackHTTP)
}

// CheckIssuerURL says why uri cannot be a trusted issuer's URL: as a
// jwks_uri, and without a query (OpenID discovery appends a path to it).
func CheckIssuerURL(uri string, allowLoopbackHTTP bool) error {
	if err := checkHTTPSURL("issuer", uri, allowLoopbackHTTP); err != nil {
		return err
	}
	if u, _ := url.Parse(uri); u.RawQuery != "" || u.ForceQuery {
		return errors.New("issuer may hold no query")
	}
	return nil
}

func checkHTTPSURL(name, uri string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New(name + " must be an absolute URL")
	}
	if u.User != nil || u.Fragment != "" {
		return errors.New(name + " may hold no user information and no fragment")
	}
	if len(uri) > 2048 {
		return errors.New(name + " is longer than 2048 characters")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && allowLoopbackHTTP:
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h).IsLoopback() {
			return nil
		}
	}
	return errors.New(name + " must be an https URL")
}

// JWKSFetcher fetches and caches the public keys of parties that publish
// them at a URL (a client's jwks_uri, a federated issuer's JWKS). Fetches
// of one URL are shared by concurrent requests and spaced by the cooldown,
// so requests, authenticated or not, cannot make it fetch more often.
type JWKSFetcher struct {
	cfg     JWKSFetcherConfig
	entries *lru.Cache[string, *jwksEntry]
	group   singleflight.Group
}

type jwksEntry struct {
	keys      []jwtkeys.PublicKey
	err       error
	fetchedAt time.Time // of the last attempt, successful or not
}

// NewJWKSFetcher returns a fetcher with cfg's limits.
func NewJWKSFetcher(cfg JWKSFetcherConfig) *JWKSFetcher {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultJWKSMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultJWKSTimeout
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = DefaultJWKSCooldown
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultJWKSMaxAge
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultJWKSMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = fetchClient(cfg)
	}
	entries, _ := lru.New[string, *jwksEntry](cfg.MaxEntries) // errors only for a size <= 0
	return &JWKSFetcher{cfg: cfg, entries: entries}
}

// maxRedirects is how many redirects a fetch follows, each to a URL that
// passes the same checks as the first.
const maxRedirects = 3

// fetchClient is the default client of a fetcher: it dials only public
// addresses (unless cfg.AllowPrivateNetworks; loopback too with
// cfg.AllowLoopbackHTTP) and follows at most maxRedirects redirects, each
// to an https URL.
func fetchClient(cfg JWKSFetcherConfig) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if !cfg.AllowPrivateNetworks {
		tr.Proxy = nil
		dialer := &net.Dialer{Timeout: cfg.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
			return checkDialAddress(address, cfg.AllowLoopbackHTTP)
		}}
		tr.DialContext = dialer.DialContext
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		return checkHTTPSURL("a redirect's location", req.URL.String(), cfg.AllowLoopbackHTTP)
	}}
}

// nonPublic are address ranges beyond those netip classifies that a fetch
// may not reach: "this network", shared address space (RFC 6598, carrier
// NAT and some clouds' internal networks), IETF protocol assignments,
// benchmarking, reserved, and NAT64 (which maps IPv4 addresses, private
// ones too, into IPv6).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// checkDialAddress refuses to connect to an address that is not public:
// loopback (unless allowLoopback), private, link-local, unspecified,
// multicast or one of nonPublic.
func checkDialAddress(address string, allowLoopback bool) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("not an IP address: %q", host)
	}
	ip = ip.Unmap()
	if ip.IsLoopback() && allowLoopback {
		return nil
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() ||
		slices.ContainsFunc(nonPublic, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return fmt.Errorf("%s is not a public address (keys and discovery documents are fetched from public addresses only, unless the server runs with --fetch-private-networks)", ip)
	}
	return nil
}

// Keys returns the keys published at uri: from memory while younger than
// MaxAge, else fetched again (or, within the cooldown of the last attempt,
// what that attempt gave). When a fetch failed, the error comes with the
// keys of the last successful fetch, if any, which the caller may still
// use.
func (f *JWKSFetcher) Keys(ctx context.Context, uri string) ([]jwtkeys.PublicKey, error) {
	e, ok := f.entries.Get(uri)
	if ok && f.cfg.Now().Sub(e.fetchedAt) < f.cfg.MaxAge && e.err == nil {
		return e.keys, nil
	}
	return f.Refresh(ctx, uri)
}

// Refresh fetches the keys at uri again, unless the last attempt is younger
// than the cooldown: then it answers what that attempt gave. For a kid the
// keys in memory do not have (the party rotated its keys).
func (f *JWKSFetcher) Refresh(ctx context.Context, uri string) ([]jwtkeys.PublicKey, error) {
	if e, ok := f.entries.Get(uri); ok && f.cfg.Now().Sub(e.fetchedAt) < f.cfg.Cooldown {
		return e.keys, e.err
	}
	ch := f.group.DoChan(uri, func() (any, error) {
		// Detached from the request: a caller that gives up does not
		// cancel the fetch others wait for; Timeout bounds it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Timeout)
		defer cancel()
		e := &jwksEntry{fetchedAt: f.cfg.Now()}
		e.keys, e.err = f.fetch(fctx, uri)
		if prev, ok := f.entries.Get(uri); ok && e.err != nil && prev.err == nil {
			e.keys = prev.keys // keep using the keys of before through an outage
		}
		f.entries.Add(uri, e)
		return e, nil
	})
	select {
	case r := <-ch:
		e := r.Val.(*jwksEntry)
		return e.keys, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *JWKSFetcher) fetch(ctx context.Context, uri string) ([]jwtkeys.PublicKey, error) {
	if err := CheckJWKSURI(uri, f.cfg.AllowLoopbackHTTP); err != nil {
		return nil, err
	}
	body, err := f.get(ctx, uri, "application/jwk-set+json, application/json", "the JWKS")
	if err != nil {
		return nil, err
	}
	return jwtkeys.ParsePublicJWKS(body)
}

// get fetches uri, at most MaxBytes, within ctx; what names the document
// in errors.
func (f *JWKSFetcher) get(ctx context.Context, uri, accept, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: HTTP status %d", what, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", what, f.cfg.MaxBytes)
	}
	return body, nil
}

// Discover reads the OpenID discovery document of issuer
// ({issuer}/.well-known/openid-configuration), bounded as JWKS fetches
// are, and returns the jwks_uri it names: its issuer must be issuer
// exactly, and its jwks_uri pass CheckJWKSURI. Nothing is cached: it is
// for registering an issuer, not for requests.
func (f *JWKSFetcher) Discover(ctx context.Context, issuer string) (string, error) {
	if err := CheckIssuerURL(issuer, f.cfg.AllowLoopbackHTTP); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	body, err := f.get(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", "application/json", "the discovery document")
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("the discovery document is not a JSON object")
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("the discovery document names another issuer (%.100q)", doc.Issuer)
	}
	if err := CheckJWKSURI(doc.JWKSURI, f.cfg.AllowLoopbackHTTP); err != nil {
		return "", fmt.Errorf("the discovery document's %w", err)
	}
	return doc.JWKSURI, nil
}
