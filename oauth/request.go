package oauth

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/authz/authz/jwtkeys"
)

// Limits on a token request; each breach gets its own clear error.
const (
	formContentType = "application/x-www-form-urlencoded"
	maxBodyBytes    = 16 << 10
	maxParams       = 16
	maxParamLength  = 4096
)

// tokenRequest is a parsed, syntactically valid token request.
type tokenRequest struct {
	form         url.Values
	clientID     string
	clientSecret string
	basic        bool // credentials came in the Authorization header
	// assertion is a JWT client assertion (RFC 7523 §2.2), sent instead of
	// a secret; clientID is then the body's client_id or the assertion's
	// sub.
	assertion string
	scope     string
	resource  string
}

// parseTokenRequest parses a token request: a client request (see
// parseClientRequest) with a grant_type and at most one absolute resource.
func parseTokenRequest(r *http.Request) (*tokenRequest, *Error) {
	tr, oerr := parseClientRequest(r)
	if oerr != nil {
		return nil, oerr
	}
	if tr.form.Get("grant_type") == "" {
		return nil, ErrInvalidRequest.With("grant_type is required")
	}
	if tr.resource != "" {
		if u, err := url.Parse(tr.resource); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, ErrInvalidTarget.With("resource must be an absolute URI without a fragment")
		}
	}
	return tr, nil
}

// parseClientRequest applies RFC 6749 §3.2 and §2.3.1 strictly to a request
// from an authenticating client (token, introspection, revocation): POST
// only, a form body only, nothing in the query string, no repeated
// parameter, and exactly one client authentication method.
func parseClientRequest(r *http.Request) (*tokenRequest, *Error) {
	if r.Method != http.MethodPost {
		return nil, ErrInvalidRequest.With("this endpoint accepts POST only")
	}
	if r.URL.RawQuery != "" {
		return nil, ErrInvalidRequest.With("parameters and credentials must be sent in the request body, not the query string")
	}
	if ct := headerValue(r.Header, "Content-Type"); ct != formContentType { // the usual case needs no parsing
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != formContentType {
			return nil, ErrInvalidRequest.With("the request body must be application/x-www-form-urlencoded")
		}
	}
	body, err := readBody(r)
	if err != nil {
		return nil, ErrInvalidRequest.With("the request body could not be read")
	}
	if len(body) > maxBodyBytes {
		return nil, ErrInvalidRequest.With("the request body is larger than 16 KiB")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, ErrInvalidRequest.With("the request body is not valid form encoding")
	}
	if len(form) > maxParams {
		return nil, ErrInvalidRequest.With("too many parameters")
	}
	for name, values := range form {
		if len(values) > 1 {
			if name == "resource" {
				return nil, ErrInvalidTarget.With("request one resource per token")
			}
			return nil, ErrInvalidRequest.With("parameter " + safeName(name) + " is repeated")
		}
		if len(values[0]) > maxParamLength || len(name) > 64 {
			return nil, ErrInvalidRequest.With("parameter " + safeName(name) + " is too long")
		}
		if p := textProblem(name); p != "" {
			return nil, ErrInvalidRequest.With("parameter name " + safeName(name) + " " + p)
		}
		if p := textProblem(values[0]); p != "" {
			return nil, ErrInvalidRequest.With("parameter " + safeName(name) + " " + p)
		}
	}

	tr := &tokenRequest{form: form, scope: form.Get("scope"), resource: form.Get("resource")}

	_, hasBodyID := form["client_id"]
	_, hasBodySecret := form["client_secret"]
	_, hasAssertion := form["client_assertion"]
	_, hasAssertionType := form["client_assertion_type"]
	if hasAssertion || hasAssertionType {
		return parseAssertion(tr, r, hasBodySecret)
	}
	if auth := headerValue(r.Header, "Authorization"); auth != "" {
		scheme, creds, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return nil, ErrInvalidClient.With("unsupported client authentication scheme; use Basic or client_secret_post")
		}
		if hasBodyID || hasBodySecret {
			return nil, ErrInvalidRequest.With("use one client authentication method: Basic or body parameters, not both")
		}
		id, secret, err := decodeBasic(strings.TrimSpace(creds))
		if err != nil {
			return nil, ErrInvalidRequest.With("malformed Basic credentials: " + err.Error())
		}
		tr.clientID, tr.clientSecret, tr.basic = id, secret, true
	} else {
		tr.clientID, tr.clientSecret = form.Get("client_id"), form.Get("client_secret")
	}
	if tr.clientID == "" || tr.clientSecret == "" {
		return nil, ErrInvalidClient.With("client authentication required: send client_id and client_secret with Basic or in the body")
	}
	return tr, nil
}

// parseAssertion completes a request that authenticates with a client
// assertion (RFC 7521 §4.2): the assertion and its type, no other
// method, and a client_id, when sent, that the assertion's sub must match.
func parseAssertion(tr *tokenRequest, r *http.Request, hasBodySecret bool) (*tokenRequest, *Error) {
	if headerValue(r.Header, "Authorization") != "" || hasBodySecret {
		return nil, ErrInvalidRequest.With("use one client authentication method: a client assertion, Basic or client_secret, not several")
	}
	typ, assertion := tr.form.Get("client_assertion_type"), tr.form.Get("client_assertion")
	if typ == "" || assertion == "" {
		return nil, ErrInvalidRequest.With("client_assertion and client_assertion_type go together")
	}
	if typ != ClientAssertionType {
		return nil, ErrInvalidClient.With("unsupported client_assertion_type; use " + ClientAssertionType).asAssertion()
	}
	tr.assertion = assertion
	tr.clientID = tr.form.Get("client_id")
	if tr.clientID == "" {
		tr.clientID = jwtkeys.AssertionSubject(assertion)
	}
	if tr.clientID == "" {
		return nil, ErrInvalidClient.With("the client assertion names no client: it is not a JWT with a sub, and no client_id was sent").asAssertion()
	}
	if p := textProblem(tr.clientID); p != "" {
		return nil, ErrInvalidRequest.With("the client assertion's sub " + p)
	}
	return tr, nil
}

// readBody reads at most maxBodyBytes+1 bytes of the body, into a buffer
// of the declared length when there is one (io.ReadAll starts at 512 bytes
// for a body of about 60).
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes {
		buf := make([]byte, n+1) // one more, to notice a body longer than declared
		m, err := io.ReadFull(r.Body, buf)
		switch {
		case err == io.ErrUnexpectedEOF && int64(m) == n:
			return buf[:m], nil // the declared length exactly: the usual case
		case err == nil:
			rest, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1-int64(m)))
			return append(buf, rest...), err
		case err == io.ErrUnexpectedEOF:
			return nil, errors.New("the body is shorter than its Content-Length")
		default:
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
}

// headerValue is h.Get(key) for a key in canonical form, without
// canonicalizing it again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decodeBasic decodes RFC 6749 §2.3.1 Basic credentials: base64, then the
// id and the secret each form-URL-decoded.
func decodeBasic(creds string) (id, secret string, err error) {
	raw, err := base64.StdEncoding.DecodeString(creds)
	if err != nil {
		return "", "", errors.New("not base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New("no ':' between id and secret")
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errors.New("client id is not form-URL-encoded")
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errors.New("client secret is not form-URL-encoded")
	}
	if p := textProblem(id); p != "" {
		return "", "", errors.New("client id " + p)
	}
	if p := textProblem(secret); p != "" {
		return "", "", errors.New("client secret " + p)
	}
	return id, secret, nil
}

// textProblem says why s cannot be a parameter's name or value, or "".
// Parameters are UTF-8 (RFC 6749 Appendix B), and no id, secret, scope or
// URI of ours holds a NUL. Both are checked before anything reaches the
// database: PostgreSQL refuses them in text, and its error read as an
// outage (503 and a "database unavailable" line) for a client's mistake.
// A malformed request is invalid_request (RFC 6749 §5.2), also for
// credentials: invalid_client is for well-formed ones that fail.
func textProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// safeName quotes a parameter name for an error description, cut short and
// reduced to printable ASCII.
func safeName(name string) string {
	if len(name) > 40 {
		name = name[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, `"`+name+`"`)
}
