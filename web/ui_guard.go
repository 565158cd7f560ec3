package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/labstack/echo/v4"
)

// uiHeaders sets the security headers of every console response.
func uiHeaders(c echo.Context, secure bool) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
	if secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// handle wraps a page with the console's rules, in order: security
// headers; no bearer token or client credential; for a POST a same-origin
// urlencoded form of at most 64 KiB; a live session (else a redirect to the
// sign-in page); for a POST the session's CSRF token; the organization of
// the URL (404 for one the caller is not an active member of, whatever the
// reason) and the owner or admin role where the page needs it. Errors are
// rendered as HTML pages.
func (u *adminUI) handle(acc access, h uiHandler) echo.HandlerFunc {
	return func(c echo.Context) error {
		uiHeaders(c, u.SecureCookies)
		c.Response().Header().Set("Cache-Control", "no-store")
		r := c.Request()
		p := &uiCtx{principal: &principal{ip: oauth.ClientIP(r, u.TrustedProxies).String()}}
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "" || q.Has("access_token") || q.Has("client_secret") {
			return u.errorPage(c, p, http.StatusUnauthorized, "Credentials are not accepted here",
				"The admin console accepts only signed-in sessions: no access token or client credential can manage credentials.")
		}
		post := r.Method == http.MethodPost
		if post {
			if err := checkFormOrigin(r); err != nil {
				return u.errorPage(c, p, http.StatusForbidden, "Cross-site request refused", "This form was not sent from this site.")
			}
			if err := parseForm(c); err != nil {
				status, body, _ := render(err)
				return u.errorPage(c, p, status, "The form could not be read", body.Message)
			}
		}
		if acc != public {
			sess, err := u.session(c)
			if models.ErrorKind(err) == models.KindUnauthenticated {
				return u.toLogin(c)
			}
			if err != nil {
				return u.fail(c, p, err)
			}
			p.session, p.person = sess, sess.User
			ck, _ := c.Cookie(SessionCookie) // session() validated it
			p.csrf = csrfToken(ck.Value)
			if p.orgs, err = u.organizations(r.Context(), p.person.ID); err != nil {
				return u.fail(c, p, err)
			}
			if post && !validCSRF(p.csrf, r.PostForm.Get(csrfField)) {
				return u.errorPage(c, p, http.StatusForbidden, "This form has expired",
					"The form's security token does not match your session, so nothing was changed. Go back, reload the page and try again.")
			}
			if err := u.admit(c, p.principal, acc); err != nil {
				if err == errAdminRequired {
					return u.errorPage(c, p, http.StatusForbidden, "Owners and admins only", "Only the organization's owners and admins may open this page.")
				}
				return u.fail(c, p, err)
			}
		}
		if err := h(c, p); err != nil {
			return u.fail(c, p, err)
		}
		return nil
	}
}

// checkFormOrigin is the API's checkSameOrigin for the console's forms.
// Under Referrer-Policy: no-referrer browsers send "Origin: null" even on a
// same-origin form post; so does a sandboxed frame of another site, so a
// null origin is accepted only when the browser vouches for the request
// with Sec-Fetch-Site: same-origin. (The CSRF token is checked as well.)
func checkFormOrigin(r *http.Request) error {
	if r.Header.Get("Origin") == "null" {
		if r.Header.Get("Sec-Fetch-Site") != "same-origin" {
			return models.Errorf(models.KindForbidden, "cross_origin", "cross-origin requests are refused")
		}
		return nil
	}
	return checkSameOrigin(r)
}

// parseForm reads a POST body: an urlencoded form of at most 64 KiB.
func parseForm(c echo.Context) error {
	r := c.Request()
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return models.Errorf(models.KindUnsupportedMediaType, "unsupported_media_type", "Forms must be sent as application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return models.Errorf(models.KindTooLarge, "body_too_large", "The form is larger than 64 KiB.")
		}
		return models.Errorf(models.KindInvalid, "invalid_form", "The form is malformed.")
	}
	return nil
}

// toLogin sends a caller without a live session to the sign-in page, which
// brings a GET back to where it was going.
func (u *adminUI) toLogin(c echo.Context) error {
	target := UIPrefix + "/login"
	r := c.Request()
	if r.Method == http.MethodGet && r.URL.RequestURI() != UIPrefix+"/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// safeNext is the page to go to after signing in: a page of this console,
// never another site (an open redirect) and never the JSON API.
func safeNext(next string) string {
	const home = UIPrefix + "/"
	if !strings.HasPrefix(next, home) || strings.ContainsAny(next, "\\\r\n\t") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || (u.Path != path.Clean(u.Path) && u.Path != path.Clean(u.Path)+"/") || strings.HasPrefix(u.Path, AdminPrefix+"/") || u.Path == UIPrefix+"/login" {
		return home
	}
	return next
}
