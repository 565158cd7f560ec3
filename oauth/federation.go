package oauth

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
)

// Bounds on a federated client's binding.
const (
	MaxFederationConditions = 10
	maxSubjectPattern       = 512
	maxConditionPath        = 256
	maxConditionValue       = 512
)

// checkedClaims are the claims a condition may not name: the token
// endpoint checks them itself (the issuer, audience, lifetime, replay) or
// the subject pattern does.
var checkedClaims = map[string]bool{"iss": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true, "sub": true}

// MatchSubject reports whether sub matches pattern: exactly, where every
// * of pattern matches any run of characters (none included, / and :
// too). Nothing else is special.
func MatchSubject(pattern, sub string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == sub
	}
	first, last := parts[0], parts[len(parts)-1]
	if len(sub) < len(first)+len(last) || !strings.HasPrefix(sub, first) || !strings.HasSuffix(sub, last) {
		return false
	}
	// The middle parts in order, each as early as it can be: a match leaves
	// the most room to the rest.
	rest := sub[len(first) : len(sub)-len(last)]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return true
}

// ClaimAt returns the string at path in claims: a claim name, or a
// /-separated path into nested objects ("kubernetes.io/namespace" is
// claims["kubernetes.io"]["namespace"]). A missing claim, or a value that
// is not a JSON string (a number, a boolean, an array, an object), is not
// found.
func ClaimAt(claims map[string]any, path string) (string, bool) {
	var v any = claims
	for seg := range strings.SplitSeq(path, "/") {
		obj, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = obj[seg]; !ok {
			return "", false
		}
	}
	s, ok := v.(string)
	return s, ok
}

// CheckBinding says why subject and conditions cannot be a federated
// client's binding: a malformed pattern or condition (invalid_subject,
// invalid_condition), or a pattern that would let too many workloads in
// (binding_too_wide), each refusal saying what it would match and what to
// write instead. The rules, by the shape of the subject:
//
//   - any: not empty, not only wildcards, not starting with *;
//   - Kubernetes (system:serviceaccount:NS:SA): NS literal, SA literal and
//     not "default" (every pod without a service account of its own runs
//     as default);
//   - GitHub Actions (repo:OWNER/REPO:…): OWNER literal;
//   - SPIFFE (spiffe://TRUST-DOMAIN/PATH): the trust domain and the first
//     path segment literal;
//   - others: at least 4 literal characters before the first *, and not a
//     wildcard within one of the prefixes above (repo*, system:*).
func CheckBinding(subject string, conditions map[string]string) error {
	if err := checkSubject(subject); err != nil {
		return err
	}
	if len(conditions) > MaxFederationConditions {
		return models.Errorf(models.KindInvalid, "invalid_condition", "at most %d conditions", MaxFederationConditions)
	}
	for path, value := range conditions {
		if err := checkCondition(path, value); err != nil {
			return err
		}
	}
	return nil
}

func tooWide(format string, args ...any) error {
	return models.Errorf(models.KindInvalid, "binding_too_wide", format, args...)
}

func checkSubject(p string) error {
	if len(p) > maxSubjectPattern {
		return models.Errorf(models.KindInvalid, "invalid_subject", "the subject pattern is longer than %d characters", maxSubjectPattern)
	}
	if err := models.CheckText(p); err != nil {
		return models.Errorf(models.KindInvalid, "invalid_subject", "the subject pattern %v", err)
	}
	switch {
	case strings.Trim(p, "*") == "":
		return tooWide("the subject pattern %q would match every token of the issuer, whatever workload it was issued to: name the workload, e.g. repo:OWNER/REPO:ref:refs/heads/main or system:serviceaccount:NAMESPACE:NAME", p)
	case strings.HasPrefix(p, "*"):
		return tooWide("the subject pattern %q starts with *: it would match subjects of any owner, repository or namespace; start with the literal part that names yours", p)
	}
	if rest, ok := strings.CutPrefix(p, "system:serviceaccount:"); ok {
		ns, sa, ok := strings.Cut(rest, ":")
		switch {
		case strings.Contains(ns, "*"):
			return tooWide("the namespace of %q has a wildcard: it would match service accounts of every namespace matching it, other teams' included; name the namespace", p)
		case !ok || ns == "" || sa == "":
			return models.Errorf(models.KindInvalid, "invalid_subject", "a Kubernetes service account subject is system:serviceaccount:NAMESPACE:NAME")
		case strings.Contains(sa, "*"):
			return tooWide("the service account of %q has a wildcard: it would match every service account of namespace %s, its default one included (the one every pod without its own runs as); name the service account", p, ns)
		case sa == "default":
			return tooWide("%q is the default service account: every pod of namespace %s that names no service account of its own runs as it; create a service account for the workload and bind that one", p, ns)
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(p, "repo:"); ok {
		owner, _, hasRepo := strings.Cut(rest, "/")
		if !hasRepo || owner == "" || strings.ContainsAny(owner, "*:") {
			return tooWide("the owner in %q is not literal: it would match repositories of other GitHub owners, whoever they are; write repo:OWNER/REPO:… with your organization or user as OWNER", p)
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(p, "spiffe://"); ok {
		domain, path, _ := strings.Cut(rest, "/")
		first, _, _ := strings.Cut(path, "/")
		if domain == "" || strings.Contains(domain, "*") {
			return tooWide("the trust domain of %q is not literal: it would match SPIFFE IDs of other trust domains; name yours, as in spiffe://example.org/ns/payments/sa/worker", p)
		}
		if first == "" || strings.Contains(first, "*") {
			return tooWide("the path of %q has no literal first segment: it would match every workload of trust domain %s; name at least its first segment, as in spiffe://%s/ns/payments/…", p, domain, domain)
		}
		return nil
	}
	i := strings.Index(p, "*")
	if i < 0 {
		return nil
	}
	for _, shaped := range []string{"system:serviceaccount:", "repo:", "spiffe://"} {
		if strings.HasPrefix(shaped, p[:i]) {
			return tooWide("the subject pattern %q has a wildcard before the end of %q: it would match the subjects of every namespace, owner or trust domain; write the subject out to the part that names yours", p, shaped)
		}
	}
	if i < 4 {
		return tooWide("the subject pattern %q has fewer than 4 characters before its first *: it would match the subjects of too many workloads; write more of the subject literally", p)
	}
	return nil
}

func checkCondition(path, value string) error {
	if path == "" || len(path) > maxConditionPath || models.CheckText(path) != nil {
		return models.Errorf(models.KindInvalid, "invalid_condition", "a condition's claim is 1 to %d printable characters", maxConditionPath)
	}
	if value == "" || len(value) > maxConditionValue || models.CheckText(value) != nil {
		return models.Errorf(models.KindInvalid, "invalid_condition", "the value of condition %q must be 1 to %d printable characters", path, maxConditionValue)
	}
	segs := strings.Split(path, "/")
	for _, seg := range segs {
		if seg == "" {
			return models.Errorf(models.KindInvalid, "invalid_condition", "condition %q: a claim path is names separated by single slashes (kubernetes.io/namespace)", path)
		}
	}
	if checkedClaims[segs[0]] {
		return models.Errorf(models.KindInvalid, "invalid_condition", "condition %q: the token's %s is checked by the issuer's settings or the subject pattern, not by a condition", path, segs[0])
	}
	return nil
}

// issuerKeys returns a trusted issuer's public keys; refresh asks a
// jwks_uri issuer's keys again (within the fetcher's cooldown).
func (s *Server) issuerKeys(ctx context.Context, ti *models.TrustedIssuer, refresh bool) ([]jwtkeys.PublicKey, error) {
	if ti.JWKS != "" {
		return jwtkeys.ParsePublicJWKS([]byte(ti.JWKS))
	}
	if ti.JWKSURI == "" || s.jwks == nil {
		return nil, errors.New("the trusted issuer has no keys")
	}
	if refresh {
		return s.jwks.Refresh(ctx, ti.JWKSURI)
	}
	return s.jwks.Keys(ctx, ti.JWKSURI)
}

// authenticateFederated authenticates a federated client by a workload
// token of its trusted issuer, sent as the client assertion: the signature
// with the issuer's keys, the issuer's audience and lifetime bound, then
// iss, the subject pattern and every condition of the client's binding,
// and last the replay of its jti when the issuer's tokens are single use
// (a token refused by the binding is not spent). Until the signature
// verifies, every failure is the answer to an unknown client.
func (s *Server) authenticateFederated(ctx context.Context, g *grant) error {
	c, ti := g.client, g.client.TrustedIssuer
	if ti == nil {
		g.failure = "federation_issuer" // deleted, or never of this organization
		return errUnknownClientOrSecret.asAssertion()
	}
	rules := AssertionRules{Audiences: []string{ti.Audience}, MaxLifetime: ti.MaxTokenLifetime, Party: ti.ID,
		Accept: func(claims *jwtkeys.AssertionClaims) *AssertionError {
			return checkFederation(ti, c.Federation, claims)
		}}
	if ti.SingleUse {
		rules.ReplayKind = models.ReplayFederated
	}
	keys, err := s.issuerKeys(ctx, ti, false)
	var ae *AssertionError
	if keys != nil {
		_, err = s.assertions.Check(ctx, g.req.assertion, keys, rules)
		if errors.As(err, &ae) && ae.Reason == "assertion_key" && ti.JWKSURI != "" {
			// An unknown kid: the issuer may have rotated its keys.
			if keys, _ = s.issuerKeys(ctx, ti, true); keys != nil {
				_, err = s.assertions.Check(ctx, g.req.assertion, keys, rules)
			}
		}
	}
	switch {
	case errors.As(err, &ae):
		g.failure = ae.Reason
		if ae.Reason == "assertion_signature" || ae.Reason == "assertion_malformed" || ae.Reason == "assertion_key" || ae.Reason == "assertion_alg" {
			return errUnknownClientOrSecret.asAssertion()
		}
		return ErrInvalidClient.With(ae.Description).asAssertion()
	case errors.Is(err, errStoreUnavailable):
		return err
	case err != nil:
		g.failure = "client_keys_unavailable"
		return ErrInvalidClient.With("the trusted issuer's public keys could not be read").asAssertion()
	}
	g.verified = true
	if oerr := s.checkClientState(g); oerr != nil {
		return oerr.asAssertion()
	}
	return nil
}

// checkFederation checks a verified token's iss, sub and the binding's
// conditions. Descriptions name the claim, never echo its value.
func checkFederation(ti *models.TrustedIssuer, f models.Federation, claims *jwtkeys.AssertionClaims) *AssertionError {
	if claims.Issuer != ti.Issuer {
		return &AssertionError{"federation_issuer", "the token's iss is not the client's trusted issuer"}
	}
	if !MatchSubject(f.Subject, claims.Subject) {
		return &AssertionError{"federation_subject", "the token's sub does not match the client's subject pattern"}
	}
	for _, path := range slices.Sorted(maps.Keys(f.Conditions)) { // the first failing one by name
		if got, ok := ClaimAt(claims.Claims, path); !ok || got != f.Conditions[path] {
			return &AssertionError{"federation_condition", fmt.Sprintf("the token's claim %s does not equal the value the client's binding requires", safeName(path))}
		}
	}
	return nil
}
