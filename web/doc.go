// Package web serves authz over HTTP with Echo: the token endpoint, the
// discovery documents and the health probes.
package web
