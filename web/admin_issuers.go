package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// IssuerView is a trusted issuer of federated workload tokens as the admin
// API and the CLI show it. KeysSource says where its keys come from:
// jwks_uri (given), discovery (the jwks_uri its discovery document named
// at registration) or jwks (pasted). Clients counts the clients not
// revoked bound to it.
type IssuerView struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Issuer           string          `json:"issuer"`
	KeysSource       string          `json:"keys_source"`
	JWKSURI          string          `json:"jwks_uri,omitempty"`
	JWKS             json.RawMessage `json:"jwks,omitempty"`
	Audience         string          `json:"audience"`
	MaxTokenLifetime string          `json:"max_token_lifetime"`
	SingleUse        bool            `json:"single_use"`
	Clients          int64           `json:"clients"`
	CreatedAt        time.Time       `json:"created_at"`
	CreatedBy        string          `json:"created_by"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// ViewIssuer shows a trusted issuer.
func ViewIssuer(ti *models.TrustedIssuer) IssuerView {
	v := IssuerView{ID: ti.ID, Name: ti.Name, Issuer: ti.Issuer, KeysSource: "jwks_uri", JWKSURI: ti.JWKSURI, Audience: ti.Audience,
		MaxTokenLifetime: models.FormatDuration(ti.MaxTokenLifetime), SingleUse: ti.SingleUse, Clients: ti.Clients,
		CreatedAt: ti.CreatedAt.UTC(), CreatedBy: ti.CreatedBy, UpdatedAt: ti.UpdatedAt.UTC()}
	switch {
	case ti.JWKS != "":
		v.KeysSource, v.JWKS = "jwks", json.RawMessage(ti.JWKS)
	case ti.Discovered:
		v.KeysSource = "discovery"
	}
	return v
}

// listIssuers is GET /orgs/{org}/issuers: the organization's trusted
// issuers by name, which every member may read.
func (a *adminAPI) listIssuers(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	list, err := a.Registry.Issuers(c.Request().Context(), p.actor())
	if err != nil {
		return err
	}
	out := page[IssuerView]{Items: make([]IssuerView, 0, len(list))}
	for i := range list {
		out.Items = append(out.Items, ViewIssuer(&list[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// issuerInput is a trusted issuer as POST and PATCH take it. Keys are
// jwks_uri or jwks; at creation neither means the issuer's discovery
// document names them, in a change "discover": true asks it again.
type issuerInput struct {
	Name             *string         `json:"name"`
	Issuer           string          `json:"issuer"`
	JWKSURI          *string         `json:"jwks_uri"`
	JWKS             json.RawMessage `json:"jwks"`
	Discover         bool            `json:"discover"`
	Audience         *string         `json:"audience"`
	MaxTokenLifetime *string         `json:"max_token_lifetime"`
	SingleUse        *bool           `json:"single_use"`
}

func (in *issuerInput) keys() app.IssuerKeys {
	k := app.IssuerKeys{JWKS: jwksText(in.JWKS)}
	if in.JWKSURI != nil {
		k.JWKSURI = *in.JWKSURI
	}
	return k
}

// createIssuer is POST /orgs/{org}/issuers: an owner or admin trusts an
// issuer (201 with its view and Location).
func (a *adminAPI) createIssuer(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in issuerInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	life, err := durationField("max_token_lifetime", in.MaxTokenLifetime)
	if err != nil {
		return err
	}
	ni := app.NewIssuer{Issuer: in.Issuer, Keys: in.keys(), MaxTokenLifetime: life, ReusableTokens: in.SingleUse != nil && !*in.SingleUse}
	if in.Name != nil {
		ni.Name = *in.Name
	}
	if in.Audience != nil {
		ni.Audience = *in.Audience
	}
	ti, err := a.Registry.AddIssuer(c.Request().Context(), p.actor(), ni)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", p.orgPath()+"/issuers/"+url.PathEscape(ti.ID))
	return c.JSON(http.StatusCreated, ViewIssuer(ti))
}

// getIssuer is GET /orgs/{org}/issuers/{issuer_id}.
func (a *adminAPI) getIssuer(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := pathParam(c, "issuer_id")
	if err != nil {
		return err
	}
	ti, err := a.Registry.Issuer(c.Request().Context(), p.actor(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ViewIssuer(ti))
}

// updateIssuer is PATCH /orgs/{org}/issuers/{issuer_id}: name, audience,
// max_token_lifetime, single_use and the keys (jwks_uri, jwks, or
// "discover": true); the issuer URL does not change. It holds at the bound
// clients' next request.
func (a *adminAPI) updateIssuer(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	id, err := pathParam(c, "issuer_id")
	if err != nil {
		return err
	}
	var in issuerInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	if in.Issuer != "" {
		return models.Errorf(models.KindInvalid, "invalid_issuer", "an issuer's URL does not change: add another trusted issuer")
	}
	ch := app.IssuerChange{Name: in.Name, Audience: in.Audience, SingleUse: in.SingleUse}
	if in.MaxTokenLifetime != nil {
		life, err := durationField("max_token_lifetime", in.MaxTokenLifetime)
		if err != nil {
			return err
		}
		ch.MaxTokenLifetime = &life
	}
	if k := in.keys(); k.JWKSURI != "" || k.JWKS != "" || in.Discover {
		ch.Keys = &k
	}
	ti, err := a.Registry.UpdateIssuer(c.Request().Context(), p.actor(), id, ch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ViewIssuer(ti))
}

// deleteIssuer is DELETE /orgs/{org}/issuers/{issuer_id}: 204, or 409
// issuer_in_use while clients are bound to it.
func (a *adminAPI) deleteIssuer(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}, false); err != nil {
		return err
	}
	id, err := pathParam(c, "issuer_id")
	if err != nil {
		return err
	}
	if err := a.Registry.RemoveIssuer(c.Request().Context(), p.actor(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// federationInput is a federated client's binding as the admin API takes
// it.
type federationInput struct {
	IssuerID   string            `json:"issuer_id"`
	Subject    string            `json:"subject"`
	Conditions map[string]string `json:"conditions"`
}

func (in *federationInput) federation() models.Federation {
	if in == nil {
		return models.Federation{}
	}
	return models.Federation{IssuerID: in.IssuerID, Subject: in.Subject, Conditions: in.Conditions}
}

// setClientFederation is PUT /orgs/{org}/clients/{id}/federation
// {"issuer_id":…,"subject":…,"conditions":{…}}: a federated client's
// binding, replaced; it holds at the next request.
func (a *adminAPI) setClientFederation(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in federationInput
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	cl, err := a.clientByParam(c, p)
	if err != nil {
		return err
	}
	cl, err = a.Registry.SetFederation(c.Request().Context(), p.actor(), cl.ID, in.federation())
	if err != nil {
		return notFound(err, "client_not_found", "client")
	}
	return a.writeClient(c, p, http.StatusOK, cl, "", "")
}
