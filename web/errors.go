package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// The admin API's and console's errors are models.Error values (see
// docs/design.md, "Errors"); this file is the one table from their kind to
// an HTTP status.

// kinds answers each kind of application error: its HTTP status, the
// console's page title, and the Retry-After of an error that names none.
// Every KindInvalid is a 400 (not a 422): the request could not be carried
// out as sent.
var kinds = map[models.Kind]struct {
	status     int
	title      string
	retryAfter time.Duration
}{
	models.KindInvalid:              {http.StatusBadRequest, "The request could not be carried out", 0},
	models.KindUnauthenticated:      {http.StatusUnauthorized, "The request could not be carried out", 0},
	models.KindForbidden:            {http.StatusForbidden, "Not allowed", 0},
	models.KindNotFound:             {http.StatusNotFound, "Not found", 0},
	models.KindConflict:             {http.StatusConflict, "Conflict", 0},
	models.KindTooLarge:             {http.StatusRequestEntityTooLarge, "The request could not be carried out", 0},
	models.KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "The request could not be carried out", 0},
	models.KindTooManyRequests:      {http.StatusTooManyRequests, "The request could not be carried out", time.Second},
	models.KindUnavailable:          {http.StatusServiceUnavailable, "Temporarily unavailable", 5 * time.Second},
	models.KindInternal:             {http.StatusInternalServerError, "Something went wrong", 0},
}

// invalidParam is the error of a query or path parameter the API cannot
// use.
func invalidParam(format string, args ...any) error {
	return models.Errorf(models.KindInvalid, "invalid_parameter", format, args...)
}

// render turns any error into a status and a JSON body; errors that are
// not models.Error values are internal (500) and their text is not shown.
func render(err error) (int, apiError, bool) {
	kind := models.ErrorKind(err)
	return kinds[kind].status, apiError{Code: models.ErrorCode(err), Message: models.ErrorMessage(err)}, kind != models.KindInternal
}

// setRetryAfter sets the Retry-After header (whole seconds, rounded up) of
// a 429 or 503: the error's own wait, else its kind's.
func setRetryAfter(c echo.Context, err error) {
	wait := kinds[models.ErrorKind(err)].retryAfter
	var e *models.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		wait = e.RetryAfter
	}
	if wait > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
}

func (a *adminAPI) writeError(c echo.Context, err error) {
	status, body, known := render(err)
	if !known {
		a.log.ErrorContext(c.Request().Context(), "admin API request failed", "error", err, "method", c.Request().Method, "path", c.Path())
	}
	setRetryAfter(c, err)
	logOutcome(c, body.Code)
	_ = c.JSON(status, body)
}

// notFound gives a store's not-found error, which names no resource, a
// resource-specific code.
func notFound(err error, code, what string) error {
	var e *models.Error
	if errors.As(err, &e) && e.Kind == models.KindNotFound && e.Code == "" {
		return models.Errorf(models.KindNotFound, code, "%s not found", what)
	}
	return err
}
