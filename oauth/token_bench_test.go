package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testissuer"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/golang-jwt/jwt/v5"
)

// The token endpoint's benchmarks, on a real SQLite store with the checks
// of a realistic policy (org and client IP allowlists, a maximum credential
// lifetime, a legacy sunset), Basic authentication and ES256:
//
//	go test ./oauth -run '^$' -bench 'TokenEndpoint|MintOnly|HashSecret|TokenStore' -benchmem
//
// BenchmarkTokenEndpoint reports x-mint, its time per token as a multiple
// of BenchmarkMintOnly's (the signature alone) measured in the same process.

const (
	benchTokenAudience = "https://api.example.com"
	benchTokenScope    = "analysis:read"
	benchTokenBody     = "grant_type=client_credentials&scope=analysis%3Aread"
)

type benchTokenEnv struct {
	body     string
	store    *models.Store
	hasher   *oauth.Hasher
	keyring  *jwtkeys.Keyring
	server   *oauth.Server
	client   *models.Client
	secret   string
	issuer   string
	authHead string
}

// newBenchTokenEnv makes the server and a project client, or with
// organizationWide an organization-wide client whose requests name the
// project.
func newBenchTokenEnv(b *testing.B, cfg oauth.Config, organizationWide bool) *benchTokenEnv {
	b.Helper()
	ctx := context.Background()
	store := storetest.Open(b, "sqlite")
	const issuer = "http://127.0.0.1:8080"
	hasher, keyring := testkeys.New(b, store, issuer)
	sunset := time.Now().Add(365 * 24 * time.Hour)
	p := models.DefaultPolicy()
	p.OrgID = models.DefaultOrgID
	p.MaxCredentialLifetime = 2 * 365 * 24 * time.Hour
	p.IPAllowlist = models.NewSet("127.0.0.0/8", "::1/128")
	p.LegacySunset = &sunset
	if err := store.SavePolicy(ctx, &p); err != nil {
		b.Fatal(err)
	}
	owner := newUser(b, store, models.User{Email: "owner@bench.example", Permissions: models.NewSet("analysis:read", "analysis:create", "config:read")})
	project := &models.Project{OrgID: models.DefaultOrgID, Slug: "api", Name: "API", Resource: benchTokenAudience}
	if err := store.CreateProject(ctx, project); err != nil {
		b.Fatal(err)
	}
	id, secret := newClient(b, store, hasher, models.Client{
		OwnerID: owner.ID, Name: "bench client", ProjectID: project.ID,
		Scopes: models.NewSet("analysis:read", "analysis:create"), IPAllowlist: models.NewSet("127.0.0.0/8"), TokenTTL: 10 * time.Minute,
	}, "")
	body := benchTokenBody
	if organizationWide {
		// An organization-wide client naming the project with resource:
		// one project lookup more than a project client, when not cached.
		id, secret = newClient(b, store, hasher, models.Client{
			OwnerID: owner.ID, Name: "bench client", Kind: models.ClientKindOrganization,
			Scopes: models.NewSet("analysis:read", "analysis:create"), IPAllowlist: models.NewSet("127.0.0.0/8"), TokenTTL: 10 * time.Minute,
		}, "")
		body += "&resource=" + url.QueryEscape(benchTokenAudience)
	}
	c, err := store.ClientByID(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	// As `authz serve`: a usage recorder, an audit writer (neither runs its
	// writer loop here; Record only updates memory) and the limiter, its
	// per-IP rate raised since every request comes from one address.
	usage := app.NewUsageRecorder(store, time.Hour, nil)
	audit := app.NewAuditWriter(store, 4096, nil)
	cfg.Issuer = issuer
	srv, err := oauth.NewServer(cfg, store, hasher, keyring, usage, audit)
	if err != nil {
		b.Fatal(err)
	}
	srv.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 1e9}))
	return &benchTokenEnv{
		body: body, store: store, hasher: hasher, keyring: keyring, server: srv, client: c, secret: secret, issuer: issuer,
		authHead: "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ID+":"+secret)),
	}
}

func (e *benchTokenEnv) request() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(e.body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", e.authHead)
	r.RemoteAddr = "127.0.0.1:50000"
	return r
}

func (e *benchTokenEnv) claims() jwtkeys.AccessToken {
	return jwtkeys.AccessToken{
		Issuer: e.issuer, ClientID: e.client.ID, OwnerID: e.client.OwnerID, Audience: benchTokenAudience,
		Scope: benchTokenScope, IssuedAt: time.Now(), TTL: 10 * time.Minute,
	}
}

var benchMint struct {
	once sync.Once
	ns   float64
}

// mintNsPerOp times Keyring.Mint once per process, for x-mint. It must run
// outside b.Loop (testing.Benchmark cannot nest inside a benchmark).
func mintNsPerOp(e *benchTokenEnv) float64 {
	benchMint.once.Do(func() {
		const d = 500 * time.Millisecond
		n, start := 0, time.Now()
		for ; time.Since(start) < d; n++ {
			if _, err := e.keyring.Mint(e.claims()); err != nil {
				panic(err)
			}
		}
		benchMint.ns = float64(time.Since(start).Nanoseconds()) / float64(n)
	})
	return benchMint.ns
}

// BenchmarkTokenEndpoint is Server.Token end to end: parse, client lookup
// (from the cache, validated by AuthVersion), secret check, go-oauth2's
// pipeline, the checks, and the ES256 signature.
func BenchmarkTokenEndpoint(b *testing.B) { benchTokenEndpoint(b, oauth.Config{}, false) }

// BenchmarkTokenEndpointUncached is the same with the client cache off:
// every request reads the client, owner, secrets and policy.
func BenchmarkTokenEndpointUncached(b *testing.B) {
	benchTokenEndpoint(b, oauth.Config{ClientCache: -1}, false)
}

// BenchmarkTokenEndpointOrganization is BenchmarkTokenEndpoint for an
// organization-wide client whose request names the project with resource
// (the project lookup cached with the client).
func BenchmarkTokenEndpointOrganization(b *testing.B) {
	benchTokenEndpoint(b, oauth.Config{}, true)
}

// BenchmarkTokenEndpointOrganizationUncached is the same with the cache
// off: every request reads the client and then the project.
func BenchmarkTokenEndpointOrganizationUncached(b *testing.B) {
	benchTokenEndpoint(b, oauth.Config{ClientCache: -1}, true)
}

func benchTokenEndpoint(b *testing.B, cfg oauth.Config, organizationWide bool) {
	e := newBenchTokenEnv(b, cfg, organizationWide)
	if resp, oerr := e.server.Token(e.request()); oerr != nil || resp.Scope != benchTokenScope {
		b.Fatalf("token: %v %+v", oerr, resp)
	}
	b.Run("serial", func(b *testing.B) {
		mint := mintNsPerOp(e)
		b.ReportAllocs()
		for b.Loop() {
			if _, oerr := e.server.Token(e.request()); oerr != nil {
				b.Fatal(oerr)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mint, "x-mint")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, oerr := e.server.Token(e.request()); oerr != nil {
					b.Error(oerr)
					return
				}
			}
		})
	})
}

// BenchmarkMintOnly is the signature alone: Keyring.Mint of the claims a
// token request produces.
func BenchmarkMintOnly(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.keyring.Mint(e.claims()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashSecret is the HMAC-SHA256 of a client secret.
func BenchmarkHashSecret(b *testing.B) {
	h, err := oauth.NewHasher([]byte(strings.Repeat("p", 32)))
	if err != nil {
		b.Fatal(err)
	}
	secret := oauth.NewSecret()
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(secret)
	}
}

// BenchmarkTokenStore is the database part of a token request: the reads
// Server.Token makes through its Store (AuthVersion at every request,
// AuthClient when the cache misses).
func BenchmarkTokenStore(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	ctx := context.Background()
	b.Run("AuthVersion", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.store.AuthVersion(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuthClient", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := e.store.AuthClient(ctx, e.client.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClientCacheEntry reports the heap one cached client keeps alive
// (what AuthClient returns, as the cache holds it), for sizing
// --client-cache.
func BenchmarkClientCacheEntry(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	ctx := context.Background()
	type entry struct {
		c *models.Client
		p *models.Policy
	}
	var keep []entry
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		c, p, err := e.store.AuthClient(ctx, e.client.ID)
		if err != nil {
			b.Fatal(err)
		}
		keep = append(keep, entry{c, p})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(len(keep)), "retained-B/entry")
	runtime.KeepAlive(keep)
}

// BenchmarkTokenEndpointPrivateKeyJWT is BenchmarkTokenEndpoint/serial for
// a private_key_jwt client: ES256 client assertions, signed before the
// timer starts, so the figure is the server's (one signature verification
// and one replay-store insert more than a secret, no secret hash).
func BenchmarkTokenEndpointPrivateKeyJWT(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	jwk, err := verify.PublicJWK("bench", "ES256", key.Public())
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(verify.JWKS{Keys: []verify.JWK{jwk}})
	id, _ := newClient(b, e.store, e.hasher, models.Client{
		OwnerID: e.client.OwnerID, Name: "bench key client", ProjectID: e.client.ProjectID, Scopes: e.client.Scopes,
		IPAllowlist: e.client.IPAllowlist, TokenTTL: e.client.TokenTTL, AuthMethod: models.AuthPrivateKeyJWT, JWKS: string(raw),
	}, "")
	mint := mintNsPerOp(e)
	bodies := make([]string, b.N)
	now := time.Now()
	for i := range bodies {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": id, "sub": id, "aud": e.issuer, "exp": now.Add(4 * time.Minute).Unix(), "jti": fmt.Sprintf("bench-%d", i)})
		tok.Header["kid"] = "bench"
		a, err := tok.SignedString(key)
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = benchTokenBody + "&client_assertion_type=" + url.QueryEscape(oauth.ClientAssertionType) + "&client_assertion=" + a
	}
	postBodies(b, e, bodies, mint)
}

// postBodies times one token request per body (each made before the timer,
// since each carries a single-use assertion) and reports x-mint.
func postBodies(b *testing.B, e *benchTokenEnv, bodies []string, mint float64) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(bodies[i]))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.RemoteAddr = "127.0.0.1:50000"
		if _, oerr := e.server.Token(r); oerr != nil {
			b.Fatal(oerr)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mint, "x-mint")
}

// BenchmarkTokenEndpointFederated is BenchmarkTokenEndpointPrivateKeyJWT
// for a federated client: Kubernetes-shaped ES256 tokens of a trusted
// issuer with a pasted JWKS (parsed at every request, as a key client's),
// a subject pattern and a nested condition, each token single use.
func BenchmarkTokenEndpointFederated(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	platform := testissuer.New(b)
	ti := &models.TrustedIssuer{ID: "bench-issuer", OrgID: models.DefaultOrgID, Name: "cluster", Issuer: platform.Iss, JWKS: platform.JWKS(b),
		Audience: benchTokenAudience, MaxTokenLifetime: 2 * time.Hour, SingleUse: true}
	if err := e.store.CreateTrustedIssuer(b.Context(), ti); err != nil {
		b.Fatal(err)
	}
	id, _ := newClient(b, e.store, e.hasher, models.Client{
		OwnerID: e.client.OwnerID, Name: "bench federated client", ProjectID: e.client.ProjectID, Scopes: e.client.Scopes,
		IPAllowlist: e.client.IPAllowlist, TokenTTL: e.client.TokenTTL, AuthMethod: models.AuthFederated,
		Federation: models.Federation{IssuerID: ti.ID, Subject: "system:serviceaccount:payments:worker", Conditions: models.Conditions{"kubernetes.io/namespace": "payments"}},
	}, "")
	mint := mintNsPerOp(e)
	bodies := make([]string, b.N)
	for i := range bodies {
		bodies[i] = benchTokenBody + "&client_id=" + id + "&client_assertion_type=" + url.QueryEscape(oauth.ClientAssertionType) +
			"&client_assertion=" + platform.Sign(b, platform.Kubernetes(benchTokenAudience))
	}
	postBodies(b, e, bodies, mint)
}

// BenchmarkTokenEndpointDPoP is BenchmarkTokenEndpoint with a DPoP proof
// (RFC 9449): one more signature verification (ES256) and the proof's jti
// written to the replays table. Making each proof (the client's signature)
// is outside the timing.
func BenchmarkTokenEndpointDPoP(b *testing.B) {
	e := newBenchTokenEnv(b, oauth.Config{}, false)
	e.server.EnableDPoP(e.store)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := key.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	header := b64([]byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"` + b64(raw[1:33]) + `","y":"` + b64(raw[33:]) + `"}}`))
	n := 0
	proof := func() string {
		n++
		input := header + "." + b64([]byte(`{"jti":"`+strconv.Itoa(n)+`","htm":"POST","htu":"`+e.issuer+`/oauth2/token","iat":`+strconv.FormatInt(time.Now().Unix(), 10)+`}`))
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			b.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return input + "." + b64(sig)
	}
	request := func() *http.Request {
		r := e.request()
		r.Header.Set("DPoP", proof())
		return r
	}
	if resp, oerr := e.server.Token(request()); oerr != nil || resp.TokenType != "DPoP" {
		b.Fatalf("token: %v %+v", oerr, resp)
	}
	mint := mintNsPerOp(e)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		r := request()
		b.StartTimer()
		if _, oerr := e.server.Token(r); oerr != nil {
			b.Fatal(oerr)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mint, "x-mint")
}
