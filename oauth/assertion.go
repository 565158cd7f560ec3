package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 §2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// AssertionAlgs are the algorithms accepted in client assertions, as the
// metadata advertises them.
var AssertionAlgs = jwtkeys.AssertionAlgs

// Bounds on client assertions (private_key_jwt): exp may be at most
// AssertionMaxLifetime (+ leeway) ahead, and exp, nbf and iat are checked
// with AssertionLeeway for clocks that differ. A federated issuer sets its
// own lifetime bound (its MaxTokenLifetime).
const (
	AssertionMaxLifetime = 5 * time.Minute
	AssertionLeeway      = 30 * time.Second
)

// AssertionError is a refused assertion: Reason is a stable name for audit
// logs and metrics ("assertion_expired", …), Description what the client is
// told.
type AssertionError struct {
	Reason      string
	Description string
}

func (e *AssertionError) Error() string { return e.Description }

// AssertionChecker checks JWT assertions a party signs with its own keys:
// the signature (jwtkeys.VerifyAssertion), the lifetime bound, the audience
// and the replay of jti. It is the part client assertions and federated
// workload tokens share; who the party is (iss, sub) is the caller's.
type AssertionChecker struct {
	Replay ReplayStore
	Now    func() time.Time
}

// AssertionRules are what Check requires of an assertion beyond its
// signature and time claims.
type AssertionRules struct {
	// Audiences: the assertion's aud must hold one of them.
	Audiences []string
	// MaxLifetime bounds how far ahead (+ leeway) the assertion's exp may
	// be.
	MaxLifetime time.Duration
	// ReplayKind and Party key the record of the assertion's jti in the
	// replay store (Party:jti under ReplayKind): a jti is then required
	// and accepted once. An empty ReplayKind lets the assertion be reused
	// until it expires, and requires no jti.
	ReplayKind string
	Party      string
	// Accept, when set, checks the verified claims (who the party is)
	// before the jti is recorded, so that an assertion refused by it is not
	// spent.
	Accept func(*jwtkeys.AssertionClaims) *AssertionError
}

// Check verifies token with keys under rules. A refusal is an
// *AssertionError; an error of the replay store is returned as it is.
func (a *AssertionChecker) Check(ctx context.Context, token string, keys []jwtkeys.PublicKey, rules AssertionRules) (*jwtkeys.AssertionClaims, error) {
	now := a.Now()
	claims, err := jwtkeys.VerifyAssertion(token, keys, now, AssertionLeeway)
	if err != nil {
		return nil, assertionRefusal(err)
	}
	if claims.ExpiresAt.After(now.Add(rules.MaxLifetime + AssertionLeeway)) {
		return nil, &AssertionError{"assertion_lifetime", fmt.Sprintf("the client assertion's exp is more than %s ahead", models.FormatDuration(rules.MaxLifetime))}
	}
	if !slices.ContainsFunc(claims.Audience, func(aud string) bool { return slices.Contains(rules.Audiences, aud) }) {
		return nil, &AssertionError{"assertion_audience", fmt.Sprintf("the client assertion's aud must name %s", quoteList(rules.Audiences))}
	}
	if rules.ReplayKind != "" && claims.ID == "" {
		return nil, &AssertionError{"assertion_no_jti", "the client assertion has no jti"}
	}
	if len(claims.ID) > 256 {
		return nil, &AssertionError{"assertion_jti_too_long", "the client assertion's jti is longer than 256 characters"}
	}
	if rules.Accept != nil {
		if ae := rules.Accept(claims); ae != nil {
			return nil, ae
		}
	}
	if rules.ReplayKind == "" {
		return claims, nil
	}
	first, err := a.Replay.RecordReplay(ctx, rules.ReplayKind, rules.Party+":"+claims.ID, claims.ExpiresAt.Add(AssertionLeeway))
	if err != nil {
		return nil, fmt.Errorf("%w: assertion replay store: %v", errStoreUnavailable, err)
	}
	if !first {
		return nil, &AssertionError{"assertion_replayed", "this client assertion (its jti) was used before; sign a new one for each request"}
	}
	return claims, nil
}

func quoteList(list []string) string {
	out := ""
	for i, s := range list {
		if i > 0 {
			out += " or "
		}
		out += `"` + s + `"`
	}
	return out
}

// assertionRefusal turns VerifyAssertion's error into an AssertionError.
func assertionRefusal(err error) *AssertionError {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{jwtkeys.ErrAssertionAlg, "assertion_alg"},
		{jwtkeys.ErrAssertionKey, "assertion_key"},
		{jwtkeys.ErrAssertionSignature, "assertion_signature"},
		{jwtkeys.ErrAssertionExpired, "assertion_expired"},
		{jwtkeys.ErrAssertionNoExp, "assertion_no_exp"},
		{jwtkeys.ErrAssertionNotYet, "assertion_not_yet_valid"},
	} {
		if errors.Is(err, r.err) {
			return &AssertionError{r.reason, "client assertion refused: " + err.Error()}
		}
	}
	return &AssertionError{"assertion_malformed", "client assertion refused: " + err.Error()}
}

// CheckJWKS says why data cannot be a client's registered JWKS (see
// jwtkeys.ParsePublicJWKS: public asymmetric signing keys only).
func CheckJWKS(data []byte) error {
	_, err := jwtkeys.ParsePublicJWKS(data)
	return err
}

// assertionAudiences are the aud values a client assertion may carry: the
// issuer and the token endpoint's URL (RFC 7523 §3).
func (s *Server) assertionAudiences() []string {
	return []string{s.cfg.Issuer, s.cfg.Issuer + "/oauth2/token"}
}

// clientKeys returns the public keys of a private_key_jwt client; refresh
// asks a jwks_uri client's keys again (within the fetcher's cooldown).
func (s *Server) clientKeys(ctx context.Context, c *models.Client, refresh bool) ([]jwtkeys.PublicKey, error) {
	if c.JWKS != "" {
		return jwtkeys.ParsePublicJWKS([]byte(c.JWKS))
	}
	if c.JWKSURI == "" || s.jwks == nil {
		return nil, errors.New("the client has no keys")
	}
	if refresh {
		// Within the fetcher's cooldown: no more often than that.
		return s.jwks.Refresh(ctx, c.JWKSURI)
	}
	return s.jwks.Keys(ctx, c.JWKSURI)
}

// authenticateAssertion authenticates a client by its client assertion
// (private_key_jwt). Until the signature verifies, every failure is the
// same invalid_client as an unknown client; after, the client is told what
// was wrong.
func (s *Server) authenticateAssertion(ctx context.Context, g *grant) error {
	id := g.req.clientID
	c, policy, version, err := s.authClient(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		g.failure = "unknown_client"
		return errUnknownClientOrSecret.asAssertion()
	}
	if err != nil {
		return fmt.Errorf("%w: client lookup: %v", errStoreUnavailable, err)
	}
	g.client, g.policy, g.version = c, policy, version
	if c.Federated() {
		return s.authenticateFederated(ctx, g)
	}
	if !c.UsesKeys() {
		g.failure = "assertion_for_secret_client"
		return ErrInvalidClient.With("this client authenticates with a client secret, not a client assertion").asAssertion()
	}
	// keys may come with keysErr: a jwks_uri that could not be fetched
	// again, whose keys of before are still used.
	keys, keysErr := s.clientKeys(ctx, c, false)
	err = keysErr
	var claims *jwtkeys.AssertionClaims
	var ae *AssertionError
	rules := AssertionRules{Audiences: s.assertionAudiences(), MaxLifetime: AssertionMaxLifetime, ReplayKind: models.ReplayAssertion, Party: c.ID}
	if keys != nil {
		claims, err = s.assertions.Check(ctx, g.req.assertion, keys, rules)
		if errors.As(err, &ae) && ae.Reason == "assertion_key" && c.JWKSURI != "" {
			// An unknown kid: the client may have rotated its keys.
			if keys, keysErr = s.clientKeys(ctx, c, true); keys != nil {
				claims, err = s.assertions.Check(ctx, g.req.assertion, keys, rules)
			}
		}
	}
	switch {
	case errors.As(err, &ae):
		g.failure = ae.Reason
		if ae.Reason == "assertion_signature" || ae.Reason == "assertion_malformed" {
			return errUnknownClientOrSecret.asAssertion()
		}
		if ae.Reason == "assertion_key" && keysErr != nil {
			return ErrInvalidClient.With(ae.Description + "; the client's jwks_uri could not be fetched again: " + keysErr.Error()).asAssertion()
		}
		return ErrInvalidClient.With(ae.Description).asAssertion()
	case errors.Is(err, errStoreUnavailable):
		return err
	case err != nil:
		g.failure = "client_keys_unavailable"
		return ErrInvalidClient.With("the client's public keys could not be read: " + err.Error()).asAssertion()
	}
	if claims.Issuer != c.ID || claims.Subject != c.ID {
		g.failure = "assertion_issuer"
		return ErrInvalidClient.With("the client assertion's iss and sub must both be the client_id").asAssertion()
	}
	g.verified = true
	if oerr := s.checkClientState(g); oerr != nil {
		return oerr.asAssertion()
	}
	return nil
}
