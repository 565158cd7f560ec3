package verify

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// This file is the resource server's side of DPoP (RFC 9449 §7): a
// DPoP-bound token (one with cnf.jkt) is accepted only as
// "Authorization: DPoP <token>" with one DPoP proof signed by the bound
// key, for this request (htm, htu), carrying the token's hash (ath), and
// never seen before; a bound token sent as a bearer token is refused, and
// so is an unbound one sent with the DPoP scheme.

// DefaultDPoPReplayEntries bounds the resource server's memory of proofs
// (see [WithDPoPReplayCache]).
const DefaultDPoPReplayEntries = 100_000

// WithDPoPURL sets how the middleware derives the URL a proof's htu must
// name from a request: by default the scheme of the connection (https
// with TLS), the Host header and the path. Behind a proxy that changes
// them, give the URL the client called, e.g.
//
//	verify.WithDPoPURL(func(r *http.Request) string { return "https://api.example" + r.URL.Path })
func WithDPoPURL(fn func(r *http.Request) string) MiddlewareOption {
	return func(a *BearerAuth) { a.dpopURL = fn }
}

// WithDPoPReplayCache sets how many proofs the middleware remembers to
// refuse a replay (default [DefaultDPoPReplayEntries]); each is kept for
// the proof window ([DefaultDPoPMaxAge] + [DefaultDPoPLeeway]), after
// which its iat is refused anyway. The memory is per process: instances
// behind one load balancer each refuse what they saw (RFC 9449 §11.1
// leaves the scope of replay detection to the server).
func WithDPoPReplayCache(entries int) MiddlewareOption {
	return func(a *BearerAuth) { a.replayEntries = entries }
}

// dpopReplays is the in-memory replay cache, made at the first DPoP
// request.
type dpopReplays struct {
	once  sync.Once
	mu    sync.Mutex
	cache *expirable.LRU[string, struct{}]
}

// seen records key and reports whether it was there already.
func (d *dpopReplays) seen(key string, entries int) bool {
	d.once.Do(func() {
		if entries <= 0 {
			entries = DefaultDPoPReplayEntries
		}
		d.cache = expirable.NewLRU[string, struct{}](entries, nil, DefaultDPoPMaxAge+DefaultDPoPLeeway)
	})
	d.mu.Lock() // Contains and Add as one step
	defer d.mu.Unlock()
	if d.cache.Contains(key) {
		return true
	}
	d.cache.Add(key, struct{}{})
	return false
}

// requestURL is the URL a proof's htu must name.
func (a *BearerAuth) requestURL(r *http.Request) string {
	if a.dpopURL != nil {
		return a.dpopURL(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// checkBinding applies RFC 9449 §7 to a verified token presented with
// scheme ("Bearer" or "DPoP").
func (a *BearerAuth) checkBinding(r *http.Request, scheme, token string, claims *Claims) *BearerError {
	bound := claims.Cnf != nil && claims.Cnf.JKT != ""
	dpop := scheme == schemeDPoP
	switch {
	case !dpop && !bound:
		return nil
	case !dpop:
		return &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descBoundBearer, DPoP: true, Err: errors.New("verify: DPoP-bound token sent as a bearer token")}
	case !bound:
		return &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: descUnbound, DPoP: true, Err: errors.New("verify: unbound token sent with the DPoP scheme")}
	}
	fail := func(desc string, err error) *BearerError {
		return &BearerError{Status: http.StatusUnauthorized, Code: CodeInvalidDPoPProof, Description: desc, DPoP: true, Err: err}
	}
	proofs := r.Header["Dpop"]
	if len(proofs) != 1 {
		return fail(descDPoPProof, errors.New("verify: a DPoP request needs exactly one DPoP header"))
	}
	p, err := CheckDPoPProof(proofs[0], DPoPCheck{Method: r.Method, URL: a.requestURL(r), AccessToken: token, Now: time.Now()})
	if err != nil {
		return fail(descDPoPProof, err)
	}
	if p.JKT != claims.Cnf.JKT {
		return fail(descDPoPProof, errors.New("verify: the DPoP proof is signed by another key than the token's cnf.jkt"))
	}
	if a.replays.seen(p.ReplayKey(), a.replayEntries) {
		return fail(descDPoPReplay, errors.New("verify: DPoP proof replayed"))
	}
	return nil
}
