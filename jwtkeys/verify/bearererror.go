package verify

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file is the RFC 6750 §3 answer to a rejected request: the error
// codes, [BearerError] with its WWW-Authenticate challenge and JSON body,
// and the fixed descriptions a client sees.

// Error codes of RFC 6750 §3.1 and the two this package adds for answers
// that are not about the token.
const (
	// CodeInvalidRequest: the request is malformed (two Authorization
	// headers, or an access_token query parameter). Status 400.
	CodeInvalidRequest = "invalid_request"
	// CodeInvalidToken: the token is malformed, expired, revoked, not for
	// this resource server, or otherwise invalid. Status 401.
	CodeInvalidToken = "invalid_token"
	// CodeInsufficientScope: the token lacks a required scope. Status 403.
	CodeInsufficientScope = "insufficient_scope"
	// CodeTemporarilyUnavailable: the token could not be checked because
	// the JWKS or introspection endpoint is unavailable. Status 503, sent
	// without a WWW-Authenticate challenge: the token is not at fault.
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeInvalidDPoPProof: the DPoP proof of a DPoP-bound token is
	// missing, malformed, for another request or key, or replayed (RFC
	// 9449 §7.1). Status 401.
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	// CodeServerError: the resource server is misconfigured
	// ([RequireScope] without [Middleware]). Status 500.
	CodeServerError = "server_error"
)

// BearerError is a rejected request: the RFC 6750 §3 answer to send and,
// in Err, the detailed cause to log. Description is a fixed, short text
// chosen by the kind of failure; it never contains the cause's text, a key
// id or a claim value.
//
// [BearerAuth.Authenticate] and [ScopeCheck.Check] return it; WriteResponse
// sends it.
type BearerError struct {
	// Status is the HTTP status: 400, 401, 403, 500 or 503.
	Status int
	// Code is the error code (the Code* constants), or "" when the request
	// carried no bearer token at all (RFC 6750 §3.1: then the challenge
	// has no error attribute).
	Code string
	// Description is the error_description sent to the client.
	Description string
	// Scope is, for insufficient_scope, the missing scopes separated by
	// spaces.
	Scope string
	// Realm is the realm of the challenge; "" omits it.
	Realm string
	// DPoP makes the challenge a DPoP one (RFC 9449 §7.1): the request
	// used the DPoP scheme, or presented a DPoP-bound token as a bearer
	// one.
	DPoP bool
	// RetryAfter is sent as the Retry-After header (rounded up to whole
	// seconds) when positive.
	RetryAfter time.Duration
	// Err is the cause (it wraps one of the Err* values when the verifier
	// rejected the token). It is for logs and is never sent.
	Err error
}

// Error implements error for logs: status, code, description and the cause.
func (e *BearerError) Error() string {
	msg := "verify: request rejected: " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	msg += ": " + e.Description
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, so errors.Is(e, ErrTokenExpired) works.
func (e *BearerError) Unwrap() error { return e.Err }

// Challenge returns the WWW-Authenticate header value (RFC 6750 §3), for
// example
//
//	Bearer realm="analyses", error="invalid_token", error_description="the access token expired"
//
// or "" for answers that carry no challenge (500 and 503).
func (e *BearerError) Challenge() string {
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusInternalServerError {
		return ""
	}
	var b strings.Builder
	if e.DPoP {
		b.WriteString("DPoP")
	} else {
		b.WriteString("Bearer")
	}
	sep := " "
	attr := func(name, val string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(val)
		b.WriteByte('"')
		sep = ", "
	}
	if e.Realm != "" {
		attr("realm", quoteRealm(e.Realm))
	}
	if e.Code != "" {
		attr("error", e.Code)
		if e.Description != "" {
			attr("error_description", sanitizeAttr(e.Description))
		}
		if e.Scope != "" {
			attr("scope", sanitizeAttr(e.Scope))
		}
	}
	if e.DPoP {
		attr("algs", strings.Join(DPoPAlgs, " "))
	}
	return b.String()
}

// bearerErrorBody is the JSON body of every rejection.
type bearerErrorBody struct {
	Error       string `json:"error,omitempty"`
	Description string `json:"error_description,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// WriteResponse sends the error: its status; WWW-Authenticate (see
// Challenge); Retry-After if set; Cache-Control: no-store; and a JSON body
// such as
//
//	{"error":"invalid_token","error_description":"the access token expired"}
//
// (with "scope" added for insufficient_scope, and no "error" member when no
// token was presented).
func (e *BearerError) WriteResponse(w http.ResponseWriter) {
	h := w.Header()
	if c := e.Challenge(); c != "" {
		h.Set("WWW-Authenticate", c)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	body, err := json.Marshal(bearerErrorBody{Error: e.Code, Description: e.Description, Scope: e.Scope})
	if err != nil { // cannot happen: three strings
		body = []byte("{}")
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(body, '\n'))
}

// Client-facing descriptions. They name the kind of failure only.
const (
	descNoToken       = "a bearer access token is required"
	descEmptyToken    = "the access token is missing"
	descTwoHeaders    = "the request has more than one Authorization header"
	descQueryToken    = "send the access token in the Authorization header, not in the URL"
	descMalformed     = "the access token is malformed"
	descExpired       = "the access token expired"
	descNotYetValid   = "the access token is not valid yet"
	descUnknownKey    = "the access token is signed by an unknown key"
	descSignature     = "the access token signature is invalid"
	descClaims        = "the access token is not valid for this resource"
	descInactive      = "the access token is not active"
	descInvalid       = "the access token is invalid"
	descUnavailable   = "the access token cannot be checked right now; try again later"
	descBoundBearer   = "the access token is DPoP-bound: send it with the DPoP scheme and a proof"
	descUnbound       = "the access token is not DPoP-bound: send it with the Bearer scheme"
	descDPoPProof     = "the DPoP proof is missing or invalid"
	descDPoPReplay    = "the DPoP proof was used before"
	descMisconfigured = "the resource server is misconfigured"
)

// sanitizeAttr keeps the characters RFC 6750 §3 allows in error_description
// and scope (%x20-21 / %x23-5B / %x5D-7E) and replaces others with '?'.
func sanitizeAttr(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

// quoteRealm escapes a realm for an RFC 9110 quoted-string; control and
// non-ASCII bytes become '?'.
func quoteRealm(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
