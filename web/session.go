package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// Admin sessions (app.Sessions) over HTTP: the session token travels in an
// HttpOnly, SameSite=Strict cookie scoped to /admin.
const SessionCookie = "authz_session"

var errUnauthenticated = models.Errorf(models.KindUnauthenticated, "unauthenticated", "sign in first: POST /admin/api/v1/session")

// sessionToken is the token of the session cookie, "" without one.
func sessionToken(c echo.Context) string {
	if ck, err := c.Cookie(SessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

// session returns the caller's live session with its user.
func (a *adminAPI) session(c echo.Context) (*models.Session, error) {
	sess, err := a.sessions.Resume(c.Request().Context(), sessionToken(c))
	if errors.Is(err, app.ErrNoSession) {
		return nil, errUnauthenticated
	}
	return sess, err
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

// sessionView is who is signed in: the person, the organizations they
// may open with their role in each, and until when.
type sessionView struct {
	User          PersonView `json:"user"`
	Organizations []OrgView  `json:"organizations"`
	ExpiresAt     time.Time  `json:"expires_at"`
}

// PersonView is a person, whatever their organizations: no role, no
// password hash.
type PersonView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// OrgView is an organization as one of its members sees it, with their
// role in it.
type OrgView struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
	Role string `json:"role"`
	// DefaultProject is the slug of the project an organization-wide
	// client's token is for when its request names none ("": none); only
	// in GET /orgs/{org}.
	DefaultProject *string `json:"default_project,omitempty"`
}

// viewSession shows the session of a person.
func (a *adminAPI) viewSession(ctx context.Context, person *models.User, expires time.Time) (sessionView, error) {
	orgs, err := a.organizations(ctx, person.ID)
	if err != nil {
		return sessionView{}, err
	}
	v := sessionView{User: PersonView{person.ID, person.Email, person.Name}, Organizations: viewOrgs(orgs), ExpiresAt: expires.UTC()}
	return v, nil
}

func viewOrgs(orgs []models.OrgMembership) []OrgView {
	out := make([]OrgView, 0, len(orgs))
	for _, m := range orgs {
		out = append(out, OrgView{Slug: m.Org.Slug, Name: m.Org.Name, Role: m.Role})
	}
	return out
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
		return passwordProblem(err)
	}
	sess, err := a.startSession(c, user, p.ip)
	if err != nil {
		return err
	}
	v, err := a.viewSession(ctx, user, sess.ExpiresAt)
	if err != nil {
		return err
	}
	logOutcome(c, "signed_in")
	return c.JSON(http.StatusCreated, v)
}

// startSession starts a session for a user who just signed in (API or
// console) and sets its cookie. A sign-in always starts a new session; one
// the browser still holds ends.
func (a *adminAPI) startSession(c echo.Context, user *models.User, ip string) (*models.Session, error) {
	token, sess, err := a.sessions.Start(c.Request().Context(), user, ip, c.Request().UserAgent(), sessionToken(c))
	if err != nil {
		return nil, err
	}
	a.setCookie(c, token, int(app.SessionLifetime/time.Second))
	return sess, nil
}

// currentSession is GET /session: who is signed in, in which
// organizations, until when.
func (a *adminAPI) currentSession(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	v, err := a.viewSession(c.Request().Context(), p.person, p.session.ExpiresAt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// listOrgs is GET /orgs: the organizations the signed-in person may open,
// by slug, with their role in each.
func (a *adminAPI) listOrgs(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	orgs, err := a.organizations(c.Request().Context(), p.person.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page[OrgView]{Items: viewOrgs(orgs)})
}

// logout is DELETE /session: it ends the session, if any, and clears the
// cookie. It always answers 204, so it is safe to repeat.
func (a *adminAPI) logout(c echo.Context, _ *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	if err := a.sessions.End(c.Request().Context(), sessionToken(c)); err != nil {
		return err
	}
	a.setCookie(c, "", -1)
	return c.NoContent(http.StatusNoContent)
}

// passwordProblem turns a spent sign-in failure budget into a 429
// too_many_attempts that says how long to wait. Other errors (among them
// app.ErrPasswordBusy, a 503 busy) are returned as they are.
func passwordProblem(err error) error {
	var th *app.SignInThrottled
	if !errors.As(err, &th) {
		return err
	}
	secs := int((th.Wait + time.Second - 1) / time.Second)
	return &models.Error{Kind: models.KindTooManyRequests, Code: "too_many_attempts", RetryAfter: th.Wait,
		Message: fmt.Sprintf("%s; retry in %d s", th.Error(), secs)}
}

// sessionItem is a session as its user and admins see it: never the token
// or its hash, only the random ref as id.
type sessionItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	// Current marks the session of the request.
	Current bool `json:"current"`
}

// sessionOwner returns the member of a /members/{id}/sessions route:
// owners and admins may reach the sessions of any member of their
// organization, members their own.
func (a *adminAPI) sessionOwner(c echo.Context, p *principal) (*models.User, error) {
	id, err := pathParam(c, "id")
	if err != nil {
		return nil, err
	}
	if !p.manages() && id != p.user.ID {
		return nil, errAdminRequired
	}
	return a.userByParam(c, p)
}

// listSessions is GET /orgs/{org}/members/{id}/sessions: the user's live sessions,
// newest first.
func (a *adminAPI) listSessions(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	u, err := a.sessionOwner(c, p)
	if err != nil {
		return err
	}
	list, err := a.Store.ListSessions(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	out := page[sessionItem]{Items: make([]sessionItem, 0, len(list))}
	for _, s := range list {
		out.Items = append(out.Items, sessionItem{
			ID: s.Ref, CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			IP: s.IP, UserAgent: s.UserAgent, Current: s.ID == p.session.ID,
		})
	}
	return c.JSON(http.StatusOK, out)
}

// endSession is DELETE /orgs/{org}/members/{id}/sessions/{session_id}: that session
// ends at its next request. Ending one's own current session also clears
// its cookie.
func (a *adminAPI) endSession(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	u, err := a.sessionOwner(c, p)
	if err != nil {
		return err
	}
	ref, err := pathParam(c, "session_id")
	if err != nil {
		return err
	}
	if err := a.Registry.EndSession(c.Request().Context(), p.actor(), u.ID, ref); err != nil {
		return notFound(err, "session_not_found", "session")
	}
	if ref == p.session.Ref {
		a.setCookie(c, "", -1)
	}
	return c.NoContent(http.StatusNoContent)
}

// endSessions is DELETE /orgs/{org}/members/{id}/sessions: every session of the user
// ends, the caller's own included when it is theirs ("sign out
// everywhere"), whose cookie is then cleared.
func (a *adminAPI) endSessions(c echo.Context, p *principal) error {
	if _, err := query(c); err != nil {
		return err
	}
	u, err := a.sessionOwner(c, p)
	if err != nil {
		return err
	}
	if _, err := a.Registry.EndSessions(c.Request().Context(), p.actor(), u.ID); err != nil {
		return err
	}
	if u.ID == p.user.ID {
		a.setCookie(c, "", -1)
	}
	return c.NoContent(http.StatusNoContent)
}
