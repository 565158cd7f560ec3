package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// This file is how a remote [Verifier] keeps its keys: fetched on first
// use, refetched when the HTTP cache lifetime ends or an unknown kid
// arrives (rate-limited, one fetch shared by concurrent callers), stale keys
// kept through a failed refetch.

// ensureKeys makes sure a key set is loaded and, if its TTL has passed,
// refetches it. With stale keys available a failed refetch is not an error.
func (v *Verifier) ensureKeys(ctx context.Context) error {
	now := v.now()
	set := v.keys.Load()
	if set != nil && now.Before(set.expires) {
		return nil // cached path
	}
	v.mu.Lock()
	set = v.keys.Load()
	if set != nil && now.Before(set.expires) {
		v.mu.Unlock()
		return nil
	}
	if !v.fetching {
		// First fetch, TTL expiry after a successful fetch, or a retry
		// after a failure once the cooldown has passed.
		if v.attempted && v.lastErr != nil && now.Sub(v.lastAttempt) < v.cooldown {
			err := v.lastErr
			v.mu.Unlock()
			if set != nil {
				return nil // keep using the stale keys
			}
			return err
		}
	}
	call := v.fetchLocked(ctx, now)
	v.mu.Unlock()
	if err := v.wait(ctx, call); err != nil && set == nil {
		return err
	}
	return nil
}

// refreshForKid refetches the JWKS because a token named an unknown kid,
// unless a refetch for that reason happened within the cooldown. It joins a
// fetch already in flight. found reports whether kid is known afterwards.
func (v *Verifier) refreshForKid(ctx context.Context, kid string) (found bool, err error) {
	if kid == "" {
		return false, nil
	}
	v.mu.Lock()
	if v.hasKid(kid) { // a concurrent fetch brought it in meanwhile
		v.mu.Unlock()
		return true, nil
	}
	now := v.now()
	if !v.fetching {
		if v.kidRefreshed && now.Sub(v.lastKidRefresh) < v.cooldown {
			v.mu.Unlock()
			return false, nil
		}
		v.kidRefreshed = true
		v.lastKidRefresh = now
	}
	call := v.fetchLocked(ctx, now)
	v.mu.Unlock()
	if err := v.wait(ctx, call); err != nil {
		return false, err
	}
	return v.hasKid(kid), nil
}

func (v *Verifier) hasKid(kid string) bool {
	set := v.keys.Load()
	if set == nil {
		return false
	}
	_, ok := set.keys[kid]
	return ok
}

// fetchLocked joins the JWKS fetch in flight or starts one, and returns
// the channel its result arrives on. singleflight runs the fetch in a
// goroutine that ends with it, detached from ctx's cancellation so that one
// caller giving up does not fail the others; it is bounded by
// v.fetchTimeout. v.mu must be held.
//
// v.fetching mirrors whether fetches holds a call, so that callers can
// decide under v.mu to join a fetch rather than be refused by a cooldown.
// The fetch publishes its result, clears v.fetching and forgets its call
// in one v.mu section: a caller that finds v.fetching set joins a call that
// has not published yet, and one that finds it clear starts a new call
// instead of joining a finished one.
func (v *Verifier) fetchLocked(ctx context.Context, now time.Time) <-chan singleflight.Result {
	if !v.fetching {
		v.fetching = true
		v.attempted = true
		v.lastAttempt = now
	}
	fctx := context.WithoutCancel(ctx)
	return v.fetches.DoChan(jwksFetch, func() (any, error) {
		set, err := v.fetch(fctx)
		v.mu.Lock()
		defer v.mu.Unlock()
		if err == nil {
			v.keys.Store(set)
		}
		v.lastErr = err
		v.fetching = false
		v.fetches.Forget(jwksFetch)
		return nil, err
	})
}

// wait blocks until the fetch's result arrives on call or ctx is done.
func (v *Verifier) wait(ctx context.Context, call <-chan singleflight.Result) error {
	select {
	case r := <-call:
		return r.Err
	default:
	}
	select {
	case r := <-call:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for JWKS fetch: %w", ErrJWKSUnavailable, context.Cause(ctx))
	}
}

// readOK reads the body of a 200 response, at most max bytes, and closes
// it. Another status, a failed read or a larger body is an error.
func readOK(resp *http.Response, max int) ([]byte, error) {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // allow connection reuse
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if len(body) > max {
		return nil, fmt.Errorf("body exceeds %d bytes", max)
	}
	return body, nil
}

// fetch GETs and parses the JWKS. Errors wrap ErrJWKSUnavailable.
func (v *Verifier) fetch(ctx context.Context) (*verifierKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, v.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.jwksURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSUnavailable, err)
	}
	body, err := readOK(resp, verifierMaxJWKSBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrJWKSUnavailable, v.jwksURL, err)
	}
	set, err := verifierParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrJWKSUnavailable, v.jwksURL, err)
	}
	ttl := v.cacheTTL
	if maxAge, ok := verifierMaxAge(resp.Header); ok {
		ttl = min(max(maxAge, verifierMinMaxAge), verifierMaxMaxAge)
	}
	set.expires = v.now().Add(ttl)
	return set, nil
}

// verifierParseJWKS parses a fetched JWKS document. Keys that fail to parse,
// have no kid, are not for signatures, or contain private key material are
// skipped; of keys sharing a kid the first one wins. A document without a
// "keys" array is an error; an empty array is a valid, empty set.
func verifierParseJWKS(body []byte) (*verifierKeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decoding JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`JWKS has no "keys" array`)
	}
	set := &verifierKeySet{keys: make(map[string]verifierKey, len(doc.Keys))}
	for _, raw := range doc.Keys {
		var k struct {
			JWK
			D string `json:"d"` // private member of EC, OKP and RSA keys
		}
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") || k.D != "" {
			continue
		}
		if _, dup := set.keys[k.Kid]; dup {
			continue
		}
		pub, err := k.JWK.PublicKey()
		if err != nil {
			continue
		}
		set.keys[k.Kid] = verifierKey{alg: k.Alg, key: pub}
	}
	return set, nil
}

// verifierMaxAge returns the max-age directive of the Cache-Control header.
func verifierMaxAge(h http.Header) (time.Duration, bool) {
	for _, line := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(line, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(dir), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
				continue
			}
			secs, err := strconv.ParseUint(strings.Trim(strings.TrimSpace(val), `"`), 10, 32)
			if err != nil {
				if errors.Is(err, strconv.ErrRange) {
					return verifierMaxMaxAge, true
				}
				continue
			}
			return time.Duration(secs) * time.Second, true
		}
	}
	return 0, false
}
