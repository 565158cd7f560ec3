package web

import (
	"encoding/base64"
	"net/url"
	"strconv"

	"github.com/authz/authz/models"
)

// Limits of a page of an admin API list.
const (
	defaultPageLimit = 50
	maxPageLimit     = 200
)

// pageLimit reads the limit parameter: default 50, at most 200.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return defaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageLimit {
		return 0, invalidParam("limit must be an integer from 1 to %d", maxPageLimit)
	}
	return n, nil
}

// Cursors are opaque to callers: the base64url of the last item's key.
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(q url.Values) (string, error) {
	v := q.Get("cursor")
	if v == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) == 0 || len(b) > 256 || models.CheckText(string(b)) != nil {
		return "", invalidParam("cursor is not one this API returned")
	}
	return string(b), nil
}

// page is the body of every list.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}
