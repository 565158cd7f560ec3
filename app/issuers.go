package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/google/uuid"
)

// Bounds of a trusted issuer's maximum token lifetime: platform tokens live
// longer than client assertions (Kubernetes projected tokens at least 10
// minutes, usually an hour), but a day at most.
const (
	DefaultIssuerTokenLifetime = time.Hour
	MaxIssuerTokenLifetime     = 24 * time.Hour
	minIssuerTokenLifetime     = time.Minute
)

// Discoverer reads an issuer's OpenID discovery document and returns the
// jwks_uri it names (oauth.JWKSFetcher.Discover).
type Discoverer interface {
	Discover(ctx context.Context, issuer string) (string, error)
}

// NewIssuer describes a trusted issuer to add to the actor's organization.
type NewIssuer struct {
	Name string
	// Issuer is the exact iss of the platform's tokens: an https URL.
	Issuer string
	// Keys: a jwks_uri or a pasted JWKS; neither, the jwks_uri named by the
	// issuer's discovery document.
	Keys IssuerKeys
	// Audience is the aud the platform's tokens must carry (required).
	Audience string
	// MaxTokenLifetime: 0 for DefaultIssuerTokenLifetime; at most
	// MaxIssuerTokenLifetime.
	MaxTokenLifetime time.Duration
	// ReusableTokens lets a workload reuse a token until it expires
	// (Kubernetes projected volumes); by default each token is accepted
	// once.
	ReusableTokens bool
}

// IssuerKeys say where a trusted issuer's public keys are: JWKSURI or JWKS,
// at most one; neither, discovered from the issuer.
type IssuerKeys struct {
	JWKSURI string
	JWKS    string
}

// IssuerChange is a change to a trusted issuer; nil fields are left as
// they are. The issuer URL does not change: add another issuer instead.
type IssuerChange struct {
	Name             *string
	Audience         *string
	MaxTokenLifetime *time.Duration
	SingleUse        *bool
	Keys             *IssuerKeys
}

// Issuers returns the trusted issuers of the actor's organization, which
// every member may read (to bind their clients).
func (r *Registry) Issuers(ctx context.Context, actor Actor) ([]models.TrustedIssuer, error) {
	if err := requireMember(actor); err != nil {
		return nil, err
	}
	return r.store.TrustedIssuers(ctx, actor.OrgID)
}

// Issuer returns one trusted issuer of the actor's organization; another
// organization's is 404 issuer_not_found, as a missing one.
func (r *Registry) Issuer(ctx context.Context, actor Actor, id string) (*models.TrustedIssuer, error) {
	if err := requireMember(actor); err != nil {
		return nil, err
	}
	return r.trustedIssuer(ctx, actor.OrgID, id)
}

func (r *Registry) trustedIssuer(ctx context.Context, orgID, id string) (*models.TrustedIssuer, error) {
	ti, err := r.store.TrustedIssuerByID(ctx, orgID, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, models.Errorf(models.KindNotFound, "issuer_not_found", "no trusted issuer %.64q in this organization", id)
	}
	return ti, err
}

func requireMember(actor Actor) error {
	if actor.OrgID == "" {
		return errNoOrganization
	}
	if !actor.member() {
		return models.Errorf(models.KindForbidden, "forbidden", "only the organization's members may read its trusted issuers")
	}
	return nil
}

// AddIssuer adds a trusted issuer to the actor's organization (owners and
// admins). Without keys it reads the issuer's discovery document once and
// stores the jwks_uri it names.
func (r *Registry) AddIssuer(ctx context.Context, actor Actor, in NewIssuer) (*models.TrustedIssuer, error) {
	if err := actor.requireManager("manage trusted issuers"); err != nil {
		return nil, err
	}
	name, err := checkIssuerName(in.Name)
	if err != nil {
		return nil, err
	}
	if err := oauth.CheckIssuerURL(in.Issuer, r.loopbackJWKS); err != nil {
		return nil, models.Errorf(models.KindInvalid, "invalid_issuer", "%s", err.Error())
	}
	if err := checkIssuerAudience(in.Audience); err != nil {
		return nil, err
	}
	life := in.MaxTokenLifetime
	if life == 0 {
		life = DefaultIssuerTokenLifetime
	}
	if err := checkIssuerLifetime(life); err != nil {
		return nil, err
	}
	ti := &models.TrustedIssuer{ID: uuid.NewString(), OrgID: actor.OrgID, Name: name, Issuer: in.Issuer, Audience: in.Audience,
		MaxTokenLifetime: life, SingleUse: !in.ReusableTokens, CreatedBy: actor.Name()}
	if err := r.setIssuerKeys(ctx, ti, in.Keys); err != nil {
		return nil, err
	}
	if err := r.store.CreateTrustedIssuer(ctx, ti); err != nil {
		if errors.Is(err, models.ErrConflict) {
			return nil, models.Errorf(models.KindConflict, "issuer_taken", "the organization already trusts issuer %s", in.Issuer)
		}
		return nil, err
	}
	r.audit(ctx, actor, models.AuditIssuerAdded, "", "", map[string]any{"issuer_id": ti.ID, "after": issuerDetail(ti)})
	return ti, nil
}

// UpdateIssuer changes a trusted issuer's name, audience, maximum token
// lifetime, single use or keys (owners and admins). Every bound client's
// next request is checked under the new settings, on every instance.
func (r *Registry) UpdateIssuer(ctx context.Context, actor Actor, id string, ch IssuerChange) (*models.TrustedIssuer, error) {
	if err := actor.requireManager("manage trusted issuers"); err != nil {
		return nil, err
	}
	ti, err := r.trustedIssuer(ctx, actor.OrgID, id)
	if err != nil {
		return nil, err
	}
	before := issuerDetail(ti)
	if ch.Name != nil {
		if ti.Name, err = checkIssuerName(*ch.Name); err != nil {
			return nil, err
		}
	}
	if ch.Audience != nil {
		if err := checkIssuerAudience(*ch.Audience); err != nil {
			return nil, err
		}
		ti.Audience = *ch.Audience
	}
	if ch.MaxTokenLifetime != nil {
		if err := checkIssuerLifetime(*ch.MaxTokenLifetime); err != nil {
			return nil, err
		}
		ti.MaxTokenLifetime = *ch.MaxTokenLifetime
	}
	if ch.SingleUse != nil {
		ti.SingleUse = *ch.SingleUse
	}
	if ch.Keys != nil {
		if err := r.setIssuerKeys(ctx, ti, *ch.Keys); err != nil {
			return nil, err
		}
	}
	after := issuerDetail(ti)
	for k, v := range after {
		if before[k] == v {
			delete(before, k)
			delete(after, k)
		}
	}
	if len(after) == 0 {
		return ti, nil
	}
	if err := r.store.UpdateTrustedIssuer(ctx, ti); err != nil {
		return nil, err
	}
	r.audit(ctx, actor, models.AuditIssuerUpdated, "", "", map[string]any{"issuer_id": ti.ID, "before": before, "after": after})
	return ti, nil
}

// RemoveIssuer deletes a trusted issuer (owners and admins); one that
// clients not revoked are bound to is 409 issuer_in_use.
func (r *Registry) RemoveIssuer(ctx context.Context, actor Actor, id string) error {
	if err := actor.requireManager("manage trusted issuers"); err != nil {
		return err
	}
	ti, err := r.trustedIssuer(ctx, actor.OrgID, id)
	if err != nil {
		return err
	}
	if err := r.store.DeleteTrustedIssuer(ctx, actor.OrgID, id); err != nil {
		return err // issuer_in_use, or issuer_not_found when deleted meanwhile
	}
	r.audit(ctx, actor, models.AuditIssuerRemoved, "", "", map[string]any{"issuer_id": ti.ID, "before": issuerDetail(ti)})
	return nil
}

// issuerDetail is a trusted issuer as its audit events show it: a pasted
// JWKS by its SHA-256, which tells two documents apart without copying
// them into the log.
func issuerDetail(ti *models.TrustedIssuer) map[string]any {
	keys, digest := "jwks_uri", ""
	switch {
	case ti.JWKS != "":
		sum := sha256.Sum256([]byte(ti.JWKS))
		keys, digest = "jwks", hex.EncodeToString(sum[:])
	case ti.Discovered:
		keys = "discovered"
	}
	return map[string]any{"name": ti.Name, "issuer": ti.Issuer, "keys": keys, "jwks_uri": ti.JWKSURI, "jwks_sha256": digest,
		"audience": ti.Audience, "max_token_lifetime": models.FormatDuration(ti.MaxTokenLifetime), "single_use": ti.SingleUse}
}

// setIssuerKeys checks k and sets ti's keys: a jwks_uri, a pasted JWKS
// (compacted), or the jwks_uri the issuer's discovery document names.
func (r *Registry) setIssuerKeys(ctx context.Context, ti *models.TrustedIssuer, k IssuerKeys) error {
	switch {
	case k.JWKSURI != "" && k.JWKS != "":
		return models.Errorf(models.KindInvalid, "invalid_keys", "give the issuer's jwks_uri or its jwks, not both (neither: they are discovered from the issuer)")
	case k.JWKSURI != "" || k.JWKS != "":
		// Checked as a private_key_jwt client's keys are.
		keys, err := r.checkKeys(Keys{JWKS: k.JWKS, JWKSURI: k.JWKSURI})
		if err != nil {
			return err
		}
		ti.JWKSURI, ti.JWKS, ti.Discovered = keys.JWKSURI, keys.JWKS, false
	default:
		if r.discovery == nil {
			return models.Errorf(models.KindInvalid, "discovery_failed", "this server does not read discovery documents: give the issuer's jwks_uri or jwks")
		}
		uri, err := r.discovery.Discover(ctx, ti.Issuer)
		if err != nil {
			return models.Errorf(models.KindInvalid, "discovery_failed", "the issuer's discovery document (%s/.well-known/openid-configuration) could not be used: %s; give its jwks_uri or jwks instead", ti.Issuer, err.Error())
		}
		ti.JWKSURI, ti.JWKS, ti.Discovered = uri, "", true
	}
	return nil
}

func checkIssuerName(name string) (string, error) {
	n, err := checkClientName(name)
	if err != nil {
		return "", models.Errorf(models.KindInvalid, "invalid_name", "%s", models.ErrorMessage(err))
	}
	return n, nil
}

func checkIssuerAudience(aud string) error {
	if aud == "" || len(aud) > 512 || models.CheckText(aud) != nil {
		return models.Errorf(models.KindInvalid, "invalid_audience", "the audience (the aud the issuer's tokens must carry) is required: 1 to 512 printable characters, e.g. this server's issuer URL with /orgs/ORG")
	}
	return nil
}

func checkIssuerLifetime(d time.Duration) error {
	if d < minIssuerTokenLifetime || d > MaxIssuerTokenLifetime {
		return models.Errorf(models.KindInvalid, "invalid_token_lifetime", "the maximum token lifetime must be between %s and %s", models.FormatDuration(minIssuerTokenLifetime), models.FormatDuration(MaxIssuerTokenLifetime))
	}
	return nil
}

// checkFederation checks a federated client's binding in the
// organization orgID: the issuer is one of the organization's (404
// issuer_not_found), and the subject pattern and conditions pass
// oauth.CheckBinding.
func (r *Registry) checkFederation(ctx context.Context, orgID string, f models.Federation) (models.Federation, error) {
	if f.IssuerID == "" {
		return f, models.Errorf(models.KindInvalid, "federation_required", "a federated client needs its binding: a trusted issuer's id, a subject pattern and optional conditions")
	}
	if _, err := r.trustedIssuer(ctx, orgID, f.IssuerID); err != nil {
		return f, err
	}
	if err := oauth.CheckBinding(f.Subject, f.Conditions); err != nil {
		return f, err
	}
	if f.Conditions == nil {
		f.Conditions = models.Conditions{}
	}
	return f, nil
}

// SetFederation replaces the binding of a federated client: tokens that
// matched only the old one are refused from the next request, on every
// instance. The audit event holds the binding before and after.
func (r *Registry) SetFederation(ctx context.Context, actor Actor, clientID string, f models.Federation) (*models.Client, error) {
	c, err := r.manageable(ctx, actor, clientID)
	if err != nil {
		return nil, err
	}
	if c.Status == models.StatusRevoked {
		return nil, models.Errorf(models.KindConflict, "client_revoked", "client %s is revoked and cannot be used again: create a new client", clientID)
	}
	if !c.Federated() {
		return nil, models.Errorf(models.KindConflict, "not_federated_client", "client %s does not authenticate with federated workload tokens: create a federated client instead", clientID)
	}
	if f, err = r.checkFederation(ctx, c.OrgID, f); err != nil {
		return nil, err
	}
	if err := r.store.SetClientFederation(ctx, clientID, f); err != nil {
		return nil, err
	}
	before := c.Federation
	c.Federation = f
	r.audit(ctx, actor, models.AuditClientFederation, clientID, c.OwnerID, map[string]any{"before": federationDetail(before), "after": federationDetail(f)})
	return c, nil
}

func federationDetail(f models.Federation) map[string]any {
	conds := f.Conditions
	if conds == nil {
		conds = models.Conditions{}
	}
	return map[string]any{"issuer_id": f.IssuerID, "subject": f.Subject, "conditions": conds}
}
