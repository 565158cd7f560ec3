package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/authz/authz/models"
	"github.com/labstack/echo/v4"
)

// maxAdminBody bounds an admin API request body.
const maxAdminBody = 64 << 10

// decodeJSON reads a JSON object of at most 64 KiB into dst, refusing
// unknown fields and trailing data. An empty body leaves dst as it is
// unless required.
func decodeJSON(c echo.Context, dst any, required bool) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAdminBody+1))
	if err != nil {
		return models.Errorf(models.KindInvalid, "invalid_json", "the request body could not be read")
	}
	if len(body) > maxAdminBody {
		return models.Errorf(models.KindTooLarge, "body_too_large", "the request body is larger than 64 KiB")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if required {
			return models.Errorf(models.KindInvalid, "invalid_json", "a JSON object is required in the body")
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return models.Errorf(models.KindInvalid, "invalid_json", "%s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return models.Errorf(models.KindInvalid, "invalid_json", "unexpected data after the JSON object")
	}
	return nil
}

// describeJSONError says what is wrong with a body, for the caller.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of the body"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the body must be a JSON object"
		}
		return fmt.Sprintf("field %q: want %s, got JSON %s", typ.Field, jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no error type for an unknown field (its
		// DisallowUnknownFields error is an errors.New text): the one place
		// an error's text is read, and only to echo the field's name.
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr", "interface":
		return "a value"
	}
	return "a number"
}

// utc is t in UTC, for the bodies the API answers with.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// nonNil is s, or an empty list: a JSON body says [] rather than null.
func nonNil(s models.Set) []string {
	if s == nil {
		return []string{}
	}
	return s
}
