package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// The admin API's errors: problems answered as they are, and one table from
// the kinds of domain errors to HTTP statuses.

// apiProblem is an error the admin API answers with as it is.
type apiProblem struct {
	status        int
	code, message string
}

func (e *apiProblem) Error() string { return e.code + ": " + e.message }

func problem(status int, code, format string, args ...any) *apiProblem {
	return &apiProblem{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

func invalidParam(format string, args ...any) *apiProblem {
	return problem(http.StatusBadRequest, "invalid_parameter", format, args...)
}

// errorKinds maps the kinds of domain errors onto HTTP statuses, and gives
// the code of an error that carries none. Every ErrInvalid is a 400 (not a
// 422): the request could not be carried out as sent.
var errorKinds = []struct {
	kind    error
	status  int
	code    string
	message string // used when the error's own text is not for the caller
}{
	{models.ErrInvalid, http.StatusBadRequest, "invalid_request", ""},
	{models.ErrNotFound, http.StatusNotFound, "not_found", "not found"},
	{models.ErrConflict, http.StatusConflict, "conflict", "the request conflicts with the current state"},
	{models.ErrForbidden, http.StatusForbidden, "forbidden", "not allowed"},
	{app.ErrInvalidCredentials, http.StatusUnauthorized, "invalid_credentials", "invalid email or password"},
	{models.ErrUnavailable, http.StatusServiceUnavailable, "temporarily_unavailable", "the server cannot reach its database; retry later"},
}

// retryAfterUnavailable is the Retry-After (seconds) of a 503 answered
// while the database is unreachable.
const retryAfterUnavailable = "5"

// render turns any error into a status and a JSON body; unknown errors are
// internal (500) and their text is not shown. A 503 needs a Retry-After
// header (retryAfterUnavailable).
func render(err error) (int, apiError, bool) {
	var p *apiProblem
	if errors.As(err, &p) {
		return p.status, apiError{Code: p.code, Message: p.message}, true
	}
	var de *models.Error
	hasCode := errors.As(err, &de) && de.Code != ""
	for _, k := range errorKinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		switch {
		case hasCode:
			return k.status, apiError{Code: de.Code, Message: de.Msg}, true
		case k.message == "":
			return k.status, apiError{Code: k.code, Message: strings.TrimPrefix(err.Error(), models.ErrInvalid.Error()+": ")}, true
		default:
			return k.status, apiError{Code: k.code, Message: k.message}, true
		}
	}
	return http.StatusInternalServerError, apiError{Code: "internal", Message: "internal error; it has been logged"}, false
}

func (a *adminAPI) writeError(c echo.Context, err error) {
	status, body, known := render(err)
	if !known {
		a.log.ErrorContext(c.Request().Context(), "admin API request failed", "error", err, "method", c.Request().Method, "path", c.Path())
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterUnavailable)
	}
	logOutcome(c, body.Code)
	_ = c.JSON(status, body)
}

// notFound gives a store's not-found error a resource-specific code.
func notFound(err error, code, what string) error {
	var de *models.Error
	if errors.Is(err, models.ErrNotFound) && !errors.As(err, &de) {
		return problem(http.StatusNotFound, code, "%s not found", what)
	}
	return err
}
