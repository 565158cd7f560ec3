package web

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Admin sessions: a sign-in with email and password yields a random
// 256-bit token in an HttpOnly, SameSite=Strict cookie scoped to /admin.
// The database keeps only its SHA-256, so a read of the sessions table
// yields no usable cookie. A session lasts 24 hours from sign-in, and ends
// early on sign-out or when its user is disabled.
const (
	SessionCookie   = "authz_session"
	SessionLifetime = 24 * time.Hour
	sessionTokenLen = 43 // base64url of 32 bytes
)

var errUnauthenticated = problem(http.StatusUnauthorized, "unauthenticated", "sign in first: POST /admin/api/v1/session")

// sessionID is the stored id of a session token.
func sessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func validToken(tok string) bool {
	if len(tok) != sessionTokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil
}

// session returns the caller's live session with its user.
func (a *adminAPI) session(c echo.Context) (*models.Session, error) {
	ck, err := c.Cookie(SessionCookie)
	if err != nil || !validToken(ck.Value) {
		return nil, errUnauthenticated
	}
	sess, err := a.Store.SessionByID(c.Request().Context(), sessionID(ck.Value))
	if errors.Is(err, models.ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	if !a.Now().Before(sess.ExpiresAt) {
		return nil, problem(http.StatusUnauthorized, "unauthenticated", "the session has expired: sign in again")
	}
	if sess.User == nil || !sess.User.Active() {
		return nil, problem(http.StatusUnauthorized, "unauthenticated", "the user is disabled")
	}
	return sess, nil
}

func (a *adminAPI) setCookie(c echo.Context, value string, maxAge int) {
	c.SetCookie(&http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/admin",
		MaxAge:   maxAge,
		Secure:   a.SecureCookies,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
}

type sessionView struct {
	User      UserView  `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login signs in: POST /session {"email","password"}.
func (a *adminAPI) login(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	user, err := a.Registry.SignIn(ctx, p.ip, in.Email, in.Password)
	if err != nil {
		return err
	}
	sess, err := a.startSession(c, user, p.ip)
	if err != nil {
		return err
	}
	logOutcome(c, "signed_in")
	return c.JSON(http.StatusCreated, sessionView{User: ViewUser(user), ExpiresAt: sess.ExpiresAt})
}

// startSession starts a session for a user who just signed in (API or
// console) and sets its cookie. A sign-in always starts a new session; one
// the browser still holds ends.
func (a *adminAPI) startSession(c echo.Context, user *models.User, ip string) (*models.Session, error) {
	ctx := c.Request().Context()
	if old, err := c.Cookie(SessionCookie); err == nil && validToken(old.Value) {
		_ = a.Store.DeleteSession(ctx, sessionID(old.Value))
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	ua := c.Request().UserAgent()
	if len(ua) > 256 {
		ua = strings.ToValidUTF8(ua[:256], "")
	}
	sess := &models.Session{ID: sessionID(token), UserID: user.ID, ExpiresAt: a.Now().Add(SessionLifetime).UTC(), IP: ip, UserAgent: ua}
	if err := a.Store.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	a.setCookie(c, token, int(SessionLifetime/time.Second))
	return sess, nil
}

// currentSession is GET /session: who is signed in, until when.
func (a *adminAPI) currentSession(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sessionView{User: ViewUser(p.user), ExpiresAt: p.session.ExpiresAt.UTC()})
}

// logout is DELETE /session: it ends the session, if any, and clears the
// cookie. It always answers 204, so it is safe to repeat.
func (a *adminAPI) logout(c echo.Context, _ *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	if ck, err := c.Cookie(SessionCookie); err == nil && validToken(ck.Value) {
		if err := a.Store.DeleteSession(c.Request().Context(), sessionID(ck.Value)); err != nil {
			return err
		}
	}
	a.setCookie(c, "", -1)
	return c.NoContent(http.StatusNoContent)
}
