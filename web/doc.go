// Package web serves authz over HTTP with Echo: the token, introspection and
// revocation endpoints, JWKS and discovery, the admin JSON API, the admin
// console, the request log, Prometheus metrics and the health probes.
package web
