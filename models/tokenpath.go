package models

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// tokenClientSQL reads in one statement what a client authentication
// needs: the client, its owner and the owner's membership of the client's
// organization, the organization, the client's project, the
// organization's policy and the client's unrevoked secrets (a federated
// client's trusted issuer is read by a second statement, so that the
// other clients' statement does not carry its columns). The token
// endpoint reads the database at every request (a revocation or an owner
// change holds at the very next one), so this is its hot path: raw SQL
// rather than gorm's reflection, and one round trip instead of six.
const tokenClientSQL = `SELECT c.id, c.org_id, c.project_id, c.kind, c.owner_id, c.created_by, c.scopes, c.audiences, c.token_ttl, c.ip_allowlist, c.expires_at, c.status, c.created_at, c.renewed_at, c.resource_server, c.auth_method, c.jwks, c.jwks_uri, c.require_dpop,
 c.federation_issuer_id, c.federation_subject, c.federation_conditions,
 u.id, u.email, m.role, m.status, m.permissions, m.may_create_clients,
 o.id, o.slug, o.status, o.default_project_id,
 pr.id, pr.slug, pr.resource,
 p.org_id, p.max_credential_lifetime, p.default_token_ttl, p.max_token_ttl, p.ip_allowlist, p.legacy_sunset, p.creation_restricted, p.publishable_scopes,
 s.id, s.hash, s.format, s.created_at, s.expires_at
FROM clients c
JOIN users u ON u.id = c.owner_id
JOIN organizations o ON o.id = c.org_id
LEFT JOIN memberships m ON m.org_id = c.org_id AND m.user_id = c.owner_id
LEFT JOIN projects pr ON pr.id = c.project_id
LEFT JOIN policies p ON p.org_id = c.org_id
LEFT JOIN client_secrets s ON s.client_id = c.id AND s.revoked_at IS NULL
WHERE c.id = ?
ORDER BY s.created_at`

// AuthClient loads a client for authentication: with its owner (id,
// email, and the membership of the client's organization: role, status,
// permissions, right to create; Status empty when the owner is no longer a
// member), its organization (id, slug, status, default project), its
// project (id, slug, resource; nil for an organization-wide client), its
// unrevoked secrets, and the organization policy's fields that client
// authentication and token issuance use, and a federated client's binding
// and trusted issuer (id, issuer, keys, audience, lifetime, single use; nil
// when the issuer is not one of the client's organization). Other fields
// are left zero.
func (s *Store) AuthClient(ctx context.Context, id string) (*Client, *Policy, error) {
	rows, err := s.db.WithContext(ctx).Raw(tokenClientSQL, id).Rows()
	if err != nil {
		return nil, nil, translate(err, "client "+id)
	}
	defer rows.Close()
	var c *Client
	var p *Policy
	for rows.Next() {
		var (
			cc                    Client
			owner                 User
			org                   Organization
			role, mstatus         sql.NullString
			mperms                Set
			mayCreate             sql.NullBool
			prID, prSlug, prRes   sql.NullString
			ttl                   int64
			exp, renewed, sunset  sql.NullTime
			polOrg                sql.NullString
			maxLife, defTTL, maxT sql.NullInt64
			polIPs, pubScopes     Set
			restricted            sql.NullBool
			sid, format           sql.NullString
			hash                  []byte
			screated, sexp        sql.NullTime
			conds                 sql.RawBytes // parsed once, for a federated client only
		)
		err := rows.Scan(&cc.ID, &cc.OrgID, &cc.ProjectID, &cc.Kind, &cc.OwnerID, &cc.CreatedBy, &cc.Scopes, &cc.Audiences, &ttl, &cc.IPAllowlist, &exp, &cc.Status, &cc.CreatedAt, &renewed, &cc.ResourceServer, &cc.AuthMethod, &cc.JWKS, &cc.JWKSURI, &cc.RequireDPoP,
			&cc.Federation.IssuerID, &cc.Federation.Subject, &conds,
			&owner.ID, &owner.Email, &role, &mstatus, &mperms, &mayCreate,
			&org.ID, &org.Slug, &org.Status, &org.DefaultProjectID,
			&prID, &prSlug, &prRes,
			&polOrg, &maxLife, &defTTL, &maxT, &polIPs, &sunset, &restricted, &pubScopes,
			&sid, &hash, &format, &screated, &sexp)
		if err != nil {
			return nil, nil, translate(err, "client "+id)
		}
		if c == nil {
			cc.TokenTTL = time.Duration(ttl)
			cc.ExpiresAt, cc.RenewedAt = nullTime(exp), nullTime(renewed)
			if role.Valid {
				owner.OrgID, owner.Role, owner.Status, owner.Permissions, owner.MayCreateClients = cc.OrgID, role.String, mstatus.String, mperms, mayCreate.Bool
			}
			cc.Owner = &owner
			cc.Org = &org
			if prID.Valid {
				cc.Project = &Project{ID: prID.String, OrgID: cc.OrgID, Slug: prSlug.String, Resource: prRes.String}
			}
			if cc.Federated() {
				if err := cc.Federation.Conditions.Scan([]byte(conds)); err != nil {
					return nil, nil, err
				}
			}
			c = &cc
			d := DefaultPolicy()
			d.OrgID = cc.OrgID
			p = &d
			if polOrg.Valid {
				p.MaxCredentialLifetime, p.DefaultTokenTTL, p.MaxTokenTTL = time.Duration(maxLife.Int64), time.Duration(defTTL.Int64), time.Duration(maxT.Int64)
				p.IPAllowlist, p.LegacySunset = polIPs, nullTime(sunset)
				p.CreationRestricted, p.PublishableScopes = restricted.Bool, pubScopes
			}
		}
		if sid.Valid {
			c.Secrets = append(c.Secrets, ClientSecret{ID: sid.String, ClientID: c.ID, Hash: hash, Format: format.String, CreatedAt: screated.Time, ExpiresAt: nullTime(sexp)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(err, "client "+id)
	}
	if c == nil {
		return nil, nil, translate(sql.ErrNoRows, "client "+id)
	}
	if c.Federated() {
		ti := &TrustedIssuer{OrgID: c.OrgID}
		var life int64
		err := s.db.WithContext(ctx).Raw(authIssuerSQL, c.Federation.IssuerID, c.OrgID).Row().
			Scan(&ti.ID, &ti.Issuer, &ti.JWKSURI, &ti.JWKS, &ti.Audience, &life, &ti.SingleUse)
		switch {
		case err == nil:
			ti.MaxTokenLifetime = time.Duration(life)
			c.TrustedIssuer = ti
		case !errors.Is(err, sql.ErrNoRows):
			return nil, nil, translate(err, "trusted issuer of client "+id)
		}
	}
	return c, p, nil
}

// authIssuerSQL reads what authenticating a federated client needs of its
// trusted issuer, when it is one of the client's organization.
const authIssuerSQL = `SELECT id, issuer, jwks_uri, jwks, audience, max_token_lifetime, single_use FROM trusted_issuers WHERE id = ? AND org_id = ?`

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
