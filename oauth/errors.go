package oauth

import (
	"errors"
	"net/http"

	oerrors "github.com/go-oauth2/oauth2/v4/errors"
)

// Error is an RFC 6749 §5.2 error response. The values below are
// immutable; With returns a copy carrying a description.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status of the response.
	Status int `json:"-"`
	// RetryAfter, when set, is sent as a Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// Limit names the limit a 429 applied, for metrics and logs.
	Limit string `json:"-"`
	// NoChallenge marks a 401 answered to a client that did not use the
	// Authorization header (a client assertion): no WWW-Authenticate.
	NoChallenge bool `json:"-"`
	// ClientID names the client refused after it authenticated (its
	// secret matched), for the log; empty before.
	ClientID string `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is matches errors by code, so errors.Is(err, ErrInvalidScope) holds for
// every invalid_scope error whatever its description.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// With returns a copy of e with the given description.
func (e *Error) With(description string) *Error {
	c := *e
	c.Description = description
	return &c
}

// asAssertion returns a copy of e for a client that authenticated with a
// client assertion: no Basic challenge goes with it.
func (e *Error) asAssertion() *Error {
	c := *e
	c.NoChallenge = true
	return &c
}

// RFC 6749 §5.2, RFC 8707 §2 and RFC 6749 §4.1.2.1 error values, and
// ErrSlowDown, which answers a request over a rate limit or failure budget
// (429 with Retry-After): "slow_down" is the registered OAuth error code
// for "slow down your requests" (RFC 8628 §3.5).
var (
	ErrInvalidRequest         = &Error{Code: "invalid_request", Status: http.StatusBadRequest}
	ErrInvalidClient          = &Error{Code: "invalid_client", Status: http.StatusUnauthorized}
	ErrInvalidGrant           = &Error{Code: "invalid_grant", Status: http.StatusBadRequest}
	ErrUnauthorizedClient     = &Error{Code: "unauthorized_client", Status: http.StatusBadRequest}
	ErrUnsupportedGrantType   = &Error{Code: "unsupported_grant_type", Status: http.StatusBadRequest}
	ErrInvalidScope           = &Error{Code: "invalid_scope", Status: http.StatusBadRequest}
	ErrInvalidTarget          = &Error{Code: "invalid_target", Status: http.StatusBadRequest}
	ErrServerError            = &Error{Code: "server_error", Status: http.StatusInternalServerError}
	ErrTemporarilyUnavailable = &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable}
	ErrUnsupportedTokenType   = &Error{Code: "unsupported_token_type", Status: http.StatusBadRequest}
	ErrSlowDown               = &Error{Code: "slow_down", Status: http.StatusTooManyRequests}
	// RFC 9449 §5 and §8: a DPoP proof that fails its checks, and the
	// server's demand for a proof carrying its nonce.
	ErrInvalidDPoPProof      = &Error{Code: "invalid_dpop_proof", Status: http.StatusBadRequest}
	ErrUseDPoPNonce          = &Error{Code: "use_dpop_nonce", Status: http.StatusBadRequest}
	errUnknownClientOrSecret = ErrInvalidClient.With("client authentication failed")
)

// TokenErrorCodes lists the error codes the token endpoint answers with.
var TokenErrorCodes = []string{
	ErrInvalidRequest.Code, ErrInvalidClient.Code, ErrUnauthorizedClient.Code, ErrUnsupportedGrantType.Code,
	ErrInvalidScope.Code, ErrInvalidTarget.Code, ErrServerError.Code, ErrTemporarilyUnavailable.Code, ErrSlowDown.Code,
}

// fromLibrary maps errors from the flow onto ours: our own pass through,
// and go-oauth2's Manager has one of its own, invalid_client (whose status
// is not RFC 6749's), when VerifyPassword refuses or the ClientStore does
// not know the client.
func fromLibrary(err error) (*Error, bool) {
	var ours *Error
	if errors.As(err, &ours) {
		return ours, true
	}
	if errors.Is(err, oerrors.ErrInvalidClient) {
		return errUnknownClientOrSecret, true
	}
	return nil, false
}
