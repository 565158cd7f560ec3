package web

import (
	"net/url"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// query returns the request's query parameters, refusing unknown and
// repeated ones (a mistyped filter must not silently match everything).
func query(c echo.Context, allowed ...string) (url.Values, error) {
	q := c.Request().URL.Query()
	for name, values := range q {
		if !contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, invalidParam("this endpoint takes no query parameters (got %q)", safeParam(name))
			}
			return nil, invalidParam("unknown query parameter %q: want one of %s", safeParam(name), strings.Join(allowed, ", "))
		}
		if len(values) > 1 {
			return nil, invalidParam("query parameter %q is repeated", name)
		}
	}
	return q, nil
}

func contains(list []string, s string) bool {
	for _, it := range list {
		if it == s {
			return true
		}
	}
	return false
}

func safeParam(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.ToValidUTF8(s, "?")
}

// pathParam returns a path parameter, percent-decoded: Echo routes on the
// raw path when it has escapes (an imported client_id may hold a '/').
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", invalidParam("path parameter %s is not percent-encoded correctly", name)
	}
	return u, nil
}

func durationField(name string, v *string) (time.Duration, error) {
	if v == nil || *v == "" {
		return 0, nil
	}
	d, err := models.ParseDuration(*v)
	if err != nil {
		return 0, models.Errorf(models.KindInvalid, "invalid_duration", "%s: %s", name, models.ErrorMessage(err))
	}
	return d, nil
}
