// Package oauth implements the OAuth 2.0 client-credentials grant on top of
// go-oauth2: strict request parsing, client authentication, effective
// permissions and RFC 6749 error values.
package oauth
