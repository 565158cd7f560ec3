// Command resource-server is a minimal API protected by authz access tokens:
// GET /analyses needs the scope analysis:read, POST /analyses needs
// analysis:create.
//
// Offline verification against the issuer's JWKS (the default):
//
//	go run ./examples/resource-server --issuer http://127.0.0.1:8080 --audience http://127.0.0.1:8080
//
// Online verification by introspection, so a revoked token is refused within
// --cache-ttl (the client must be registered with --resource-server):
//
//	RS_CLIENT_SECRET=azs_... go run ./examples/resource-server --issuer http://127.0.0.1:8080 \
//	    --audience http://127.0.0.1:8080 --introspect --client-id azc_...
//
// Of authz it imports only the verifier, github.com/authz/authz/jwtkeys/verify,
// which links no database driver: it builds with CGO_ENABLED=0.
package main

import (
	"encoding/json"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "authz issuer URL (the tokens' iss)")
	audience := flag.String("audience", "", "this API's audience (the tokens' aud); default: the issuer")
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	introspect := flag.Bool("introspect", false, "ask authz about every token (cached for --cache-ttl) so revocation holds before exp")
	clientID := flag.String("client-id", "", "with --introspect: this API's client_id (secret from $RS_CLIENT_SECRET)")
	cacheTTL := flag.Duration("cache-ttl", 15*time.Second, "with --introspect: how long an answer is reused")
	flag.Parse()
	iss := strings.TrimSuffix(*issuer, "/")
	if *audience == "" {
		*audience = iss
	}

	// Offline: signature, typ, iss, aud, exp, nbf, iat against the JWKS.
	var verifier verify.TokenVerifier
	jwks, err := verify.NewVerifier(verify.VerifierConfig{JWKSURL: iss + "/.well-known/jwks.json", Issuer: iss, Audience: *audience})
	if err != nil {
		fatal(err)
	}
	verifier = jwks
	if *introspect {
		// Online: RFC 7662 with this API's own credentials; the JWKS check
		// runs first, so garbage never reaches authz.
		verifier, err = verify.NewIntrospectionVerifier(verify.IntrospectionConfig{
			URL: iss + "/oauth2/introspect", ClientID: *clientID, ClientSecret: os.Getenv("RS_CLIENT_SECRET"),
			Issuer: iss, Audience: *audience, Local: jwks, CacheTTL: *cacheTTL,
		})
		if err != nil {
			fatal(err)
		}
	}

	var store analyses
	mux := http.NewServeMux()
	mux.Handle("GET /analyses", verify.RequireScope("analysis:read")(http.HandlerFunc(store.list)))
	mux.Handle("POST /analyses", verify.RequireScope("analysis:create")(http.HandlerFunc(store.create)))

	auth := verify.Middleware(verifier,
		verify.WithRealm("analyses"),
		verify.WithRejectHook(func(r *http.Request, e *verify.BearerError) {
			slog.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", e.Status, "reason", e)
		}))
	srv := &http.Server{Addr: *addr, Handler: auth(mux), ReadHeaderTimeout: 10 * time.Second}
	slog.Info("resource server listening", "addr", *addr, "issuer", iss, "audience", *audience, "introspect", *introspect)
	fatal(srv.ListenAndServe())
}

// analysis is what the API stores: who created it comes from the token.
type analysis struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
	OwnerID  string `json:"owner_id"`
}

type analyses struct {
	mu    sync.Mutex
	items []analysis
}

// list returns the analyses created by clients of the caller's owner.
func (s *analyses) list(w http.ResponseWriter, r *http.Request) {
	claims, _ := verify.ClaimsFrom(r.Context())
	s.mu.Lock()
	out := []analysis{}
	for _, a := range s.items {
		if a.OwnerID == claims.OwnerID {
			out = append(out, a)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *analyses) create(w http.ResponseWriter, r *http.Request) {
	claims, _ := verify.ClaimsFrom(r.Context())
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil || in.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want {"name": "..."}`})
		return
	}
	s.mu.Lock()
	a := analysis{ID: len(s.items) + 1, Name: in.Name, ClientID: claims.ClientID, OwnerID: claims.OwnerID}
	s.items = append(s.items, a)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, a)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fatal(err error) {
	slog.Error("resource server", "error", err)
	os.Exit(1)
}
