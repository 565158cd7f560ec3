package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// CSRF. Every form of a signed-in page carries csrf_token, the HMAC-SHA256
// of a fixed label under the session token (the 256-bit random value of the
// authz_session cookie, which the server sees but never stores). So the
// token is bound to the session, changes at every sign-in, needs no server
// state (any instance can check it), and reveals nothing about the session
// token. A POST whose token does not match its session is refused with 403
// and changes nothing. The sign-in form, which has no session yet, uses a
// double-submit token: a random value in an HttpOnly, SameSite=Strict
// cookie scoped to /admin/login that the form must echo. The API's
// same-origin check (Origin, Sec-Fetch-Site) applies to every POST as well.
const (
	csrfField       = "csrf_token"
	loginCSRFCookie = "authz_login_csrf"
	csrfLabel       = "authz admin console CSRF v1"
)

func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte(csrfLabel))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validCSRF(want, got string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// validToken reports whether tok has the form randomToken makes, so that
// garbage in a cookie is refused before any comparison.
func validToken(tok string) bool {
	if len(tok) != 43 { // base64url of 32 bytes
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil
}

func randomToken() (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// loginCSRF returns the sign-in form's token, setting its cookie when the
// browser has none.
func (u *adminUI) loginCSRF(c echo.Context) (string, error) {
	if ck, err := c.Cookie(loginCSRFCookie); err == nil && validToken(ck.Value) {
		return ck.Value, nil
	}
	tok, err := randomToken()
	if err != nil {
		return "", err
	}
	u.setLoginCookie(c, tok, int(time.Hour/time.Second))
	return tok, nil
}

func (u *adminUI) setLoginCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name: loginCSRFCookie, Value: value, Path: UIPrefix + "/login", MaxAge: maxAge,
		Secure: u.SecureCookies, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

type loginData struct {
	Email, Next, Error, CSRF string
}

// loginPage is GET /admin/login. A signed-in caller goes on to the console.
func (u *adminUI) loginPage(c echo.Context, p *uiCtx) error {
	next := safeNext(c.QueryParam("next"))
	if _, err := u.session(c); err == nil {
		return c.Redirect(http.StatusSeeOther, next)
	}
	tok, err := u.loginCSRF(c)
	if err != nil {
		return err
	}
	return u.renderPage(c, p, http.StatusOK, "login.html", "Sign in", "", loginData{Next: next, CSRF: tok})
}

// loginSubmit is POST /admin/login: Registry.SignIn (argon2id, audited),
// then a new session exactly as the API's POST /session makes one.
func (u *adminUI) loginSubmit(c echo.Context, p *uiCtx) error {
	form := c.Request().PostForm
	email, next := strings.TrimSpace(form.Get("email")), safeNext(form.Get("next"))
	ck, err := c.Cookie(loginCSRFCookie)
	if err != nil || !validToken(ck.Value) || !validCSRF(ck.Value, form.Get(csrfField)) {
		// A stale or forged form: nothing is checked; a fresh token is issued.
		tok, err := randomToken()
		if err != nil {
			return err
		}
		u.setLoginCookie(c, tok, int(time.Hour/time.Second))
		return u.renderPage(c, p, http.StatusForbidden, "login.html", "Sign in", "",
			loginData{Email: email, Next: next, CSRF: tok, Error: "The sign-in form expired or was not sent from this page. Please sign in again."})
	}
	user, err := u.Registry.SignIn(c.Request().Context(), p.ip, email, form.Get("password"))
	if errors.Is(err, app.ErrInvalidCredentials) {
		logOutcome(c, "invalid_credentials")
		return u.renderPage(c, p, http.StatusUnauthorized, "login.html", "Sign in", "",
			loginData{Email: email, Next: next, CSRF: ck.Value, Error: "Invalid email or password."})
	}
	if err = passwordProblem(err); errors.Is(err, app.ErrPasswordBusy) || models.ErrorKind(err) == models.KindTooManyRequests {
		// Throttled or busy: nothing was checked; the form stays as it was.
		status, body, _ := render(err)
		logOutcome(c, body.Code)
		setRetryAfter(c, err)
		msg := "The server is busy checking other sign-ins. Please try again in a moment."
		if status == http.StatusTooManyRequests {
			wait := c.Response().Header().Get("Retry-After") + " seconds"
			if wait == "1 seconds" {
				wait = "a second"
			}
			msg = "Too many failed sign-ins from this address. Please try again in " + wait + "."
		}
		return u.renderPage(c, p, status, "login.html", "Sign in", "",
			loginData{Email: email, Next: next, CSRF: ck.Value, Error: msg})
	}
	if err != nil {
		return err
	}
	if _, err := u.startSession(c, user, p.ip); err != nil {
		return err
	}
	u.setLoginCookie(c, "", -1)
	logOutcome(c, "signed_in")
	return c.Redirect(http.StatusSeeOther, next)
}

// logoutSubmit is POST /admin/logout: the session ends and the cookie is
// cleared. With everywhere=1 ("Sign out everywhere") every session of the
// user ends, on every browser and instance, and the audit log says so.
func (u *adminUI) logoutSubmit(c echo.Context, p *uiCtx) error {
	if c.Request().PostForm.Get("everywhere") == "1" {
		if _, err := u.Registry.EndSessions(c.Request().Context(), p.actor(), p.person.ID); err != nil {
			return err
		}
		u.setCookie(c, "", -1)
		logOutcome(c, "signed_out_everywhere")
		return c.Redirect(http.StatusSeeOther, UIPrefix+"/login")
	}
	if err := u.sessions.End(c.Request().Context(), sessionToken(c)); err != nil {
		return err
	}
	u.setCookie(c, "", -1)
	logOutcome(c, "signed_out")
	return c.Redirect(http.StatusSeeOther, UIPrefix+"/login")
}
