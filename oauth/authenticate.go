package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authz/authz/models"
	oauth2 "github.com/go-oauth2/oauth2/v4"
)

// Why a client authentication failed, as the audit log and
// authz_client_auth_failures_total name it.
const (
	FailUnknownClient        = "unknown_client"
	FailWrongSecret          = "wrong_secret"
	FailMalformedCredentials = "malformed_credentials"
	FailRevoked              = "revoked"
	FailExpired              = "expired"
	FailDeprecatedFormat     = "deprecated_format"
)

// AuthFailureReasons lists every reason a client authentication fails for:
// a secret's, then a client assertion's (private_key_jwt), then a federated
// workload token's (after its signature verified: its iss, sub or a
// condition of the client's binding).
var AuthFailureReasons = []string{FailUnknownClient, FailWrongSecret, FailMalformedCredentials, FailRevoked, FailExpired, FailDeprecatedFormat,
	"assertion_alg", "assertion_key", "assertion_signature", "assertion_malformed", "assertion_expired", "assertion_no_exp",
	"assertion_not_yet_valid", "assertion_lifetime", "assertion_audience", "assertion_no_jti", "assertion_jti_too_long",
	"assertion_replayed", "assertion_issuer", "assertion_for_secret_client", "secret_for_key_client", "client_keys_unavailable",
	"federation_issuer", "federation_subject", "federation_condition", "secret_for_federated_client"}

func (s *Server) authSucceeded(g *grant) {
	if s.limiter != nil && g.verified {
		s.limiter.Succeeded(g.ip, g.req.clientID)
	}
}

// authFailed audits and counts a refused client authentication, and counts
// it against the limiter's budgets when the credential did not verify
// (unknown client, wrong secret, malformed credentials, a refused client
// assertion: whoever signed it may be guessing). A revoked or expired client
// or a sunset legacy secret presented with its right secret is refused but
// is no guess: counting its retries would lock every healthy client behind
// the same address (one NAT, one CI runner) out.
func (s *Server) authFailed(g *grant) {
	if g.failure == "" {
		return // not an authentication failure (e.g. the database is down)
	}
	if s.limiter != nil && !g.verified {
		s.limiter.Failed(g.ip, g.req.clientID)
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.AuthFailed(g.failure)
	}
	s.auditFailure(g)
}

// auditFailure records a failed client authentication: the client_id as
// sent (cut short), why, and from where; never the secret.
func (s *Server) auditFailure(g *grant) {
	if s.audit == nil {
		return
	}
	e := models.AuditEvent{At: s.cfg.Now(), Actor: truncateID(g.req.clientID), Action: models.AuditAuthFailed, IP: g.ip.String(), Detail: `{"reason":"` + g.failure + `"}`}
	if g.client != nil {
		e.OrgID, e.ClientID, e.UserID = g.client.OrgID, g.client.ID, g.client.OwnerID
	}
	s.audit.Record(e)
}

// truncateID cuts a client_id as sent down for the audit log, into a
// string of its own: the id is a slice of the request body, which an event
// waiting in the audit queue would otherwise keep whole (up to 16 KiB).
// Something shaped like a secret (a caller who swapped id and secret) is
// redacted.
func truncateID(id string) string {
	if prefix := secretPrefixOf(id); prefix != "" {
		_, last := SecretDisplay(id)
		return prefix + "…" + last + " (a secret sent as client_id; redacted)"
	}
	if len(id) > 128 {
		id = id[:128]
	}
	return strings.Clone(strings.ToValidUTF8(id, "?"))
}

// authenticate authenticates the client of a token request. It runs before
// any grant type or scope decision, and answers an unknown client and a
// wrong secret identically.
func (s *Server) authenticate(ctx context.Context, g *grant) error {
	if err := s.authenticateClient(ctx, g); err != nil {
		return err
	}
	if gt := g.req.form.Get("grant_type"); gt != string(oauth2.ClientCredentials) {
		// Decided only now that the client is authenticated.
		return ErrUnsupportedGrantType.With("only grant_type=client_credentials is supported")
	}
	return nil
}

// authenticateClient authenticates the client of any client request and
// refuses revoked, expired and sunset credentials, saying which.
func (s *Server) authenticateClient(ctx context.Context, g *grant) error {
	if g.req.assertion != "" {
		return s.authenticateAssertion(ctx, g)
	}
	id, secret := g.req.clientID, g.req.clientSecret
	if strings.HasPrefix(id, ClientIDPrefix) && (!ValidClientID(id) || !ValidSecret(secret)) {
		// Generated credentials carry a checksum: a mistyped one is refused
		// without a database lookup. Other ids may be imported (legacy). A
		// well-formed secret of another kind than the client's passes here
		// and fails as a wrong secret: the prefix is part of what is hashed.
		g.failure = FailMalformedCredentials
		return errUnknownClientOrSecret
	}
	c, policy, version, err := s.authClient(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		s.hasher.Hash(secret) // spend the same time as a wrong secret
		g.failure = FailUnknownClient
		return errUnknownClientOrSecret
	}
	if err != nil {
		return fmt.Errorf("%w: client lookup: %v", errStoreUnavailable, err)
	}
	g.policy, g.version = policy, version
	if c.UsesKeys() {
		g.client, g.failure = c, "secret_for_key_client"
		return ErrInvalidClient.With("this client authenticates with a client assertion (private_key_jwt), not a secret")
	}
	if c.Federated() {
		g.client, g.failure = c, "secret_for_federated_client"
		return ErrInvalidClient.With("this client authenticates with a workload token of its trusted issuer sent as client_assertion, not a secret")
	}
	now := s.cfg.Now()
	sum := s.hasher.Hash(secret)
	for i := range c.Secrets {
		cs := &c.Secrets[i]
		if cs.Live(now) && hashMatches(sum, cs.Hash) {
			g.secret = cs
		}
	}
	if g.secret == nil {
		g.failure = FailWrongSecret
		g.client = c
		return errUnknownClientOrSecret
	}
	g.client, g.verified = c, true
	if err := s.checkClientState(g); err != nil {
		return err
	}
	if g.secret.Format == models.FormatLegacy && g.policy.LegacySunset != nil && !now.Before(*g.policy.LegacySunset) {
		g.failure = "deprecated_format"
		return ErrInvalidClient.With("KEY_FORMAT_DEPRECATED: this secret's legacy format was retired on " + g.policy.LegacySunset.UTC().Format(time.RFC3339) + "; rotate to a new secret")
	}
	return nil
}

// checkClientState refuses an authenticated client that is revoked or
// expired, saying which.
func (s *Server) checkClientState(g *grant) *Error {
	c, now := g.client, s.cfg.Now()
	if c.Status == models.StatusRevoked {
		g.failure = FailRevoked
		return ErrInvalidClient.With("the client has been revoked")
	}
	if exp := c.EffectiveExpiry(g.policy); exp != nil && !now.Before(*exp) {
		g.failure = FailExpired
		return ErrInvalidClient.With("the client expired on " + exp.UTC().Format(time.RFC3339) + "; an admin or its owner can renew it, keeping its client_id and secret")
	}
	return nil
}
