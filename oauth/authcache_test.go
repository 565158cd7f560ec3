package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
)

// countingStore is the real Store, counting the token path's reads.
type countingStore struct {
	*models.Store
	authClient, authVersion, projects atomic.Int64
}

func (c *countingStore) ProjectByID(ctx context.Context, orgID, id string) (*models.Project, error) {
	c.projects.Add(1)
	return c.Store.ProjectByID(ctx, orgID, id)
}

func (c *countingStore) ProjectBySlug(ctx context.Context, orgID, slug string) (*models.Project, error) {
	c.projects.Add(1)
	return c.Store.ProjectBySlug(ctx, orgID, slug)
}

func (c *countingStore) ProjectByResource(ctx context.Context, resource string) (*models.Project, error) {
	c.projects.Add(1)
	return c.Store.ProjectByResource(ctx, resource)
}

func (c *countingStore) AuthClient(ctx context.Context, id string) (*models.Client, *models.Policy, error) {
	c.authClient.Add(1)
	return c.Store.AuthClient(ctx, id)
}

func (c *countingStore) AuthVersion(ctx context.Context) (int64, error) {
	c.authVersion.Add(1)
	return c.Store.AuthVersion(ctx)
}

type cacheEnv struct {
	t      *testing.T
	store  *countingStore
	server *oauth.Server
	hasher *oauth.Hasher
	owner  *models.User
}

func newCacheEnv(t *testing.T, backend string, cacheSize int) *cacheEnv {
	t.Helper()
	store := &countingStore{Store: storetest.Open(t, backend)}
	hasher, keyring := testkeys.New(t, store.Store, "https://authz.example")
	srv, err := oauth.NewServer(oauth.Config{Issuer: "https://authz.example", ClientCache: cacheSize}, store, hasher, keyring, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner := newUser(t, store.Store, models.User{Email: "owner@example.com", Permissions: models.NewSet("a:read", "a:write")})
	return &cacheEnv{t: t, store: store, server: srv, hasher: hasher, owner: owner}
}

func (e *cacheEnv) client() (id, secret string) {
	e.t.Helper()
	return newClient(e.t, e.store.Store, e.hasher, models.Client{OwnerID: e.owner.ID, Scopes: models.NewSet("a:read", "a:write")}, "")
}

func (e *cacheEnv) token(id, secret string) (*oauth.TokenResponse, *oauth.Error) {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(id, secret)
	return e.server.Token(r)
}

func (e *cacheEnv) mustToken(id, secret string) *oauth.TokenResponse {
	e.t.Helper()
	resp, oerr := e.token(id, secret)
	if oerr != nil {
		e.t.Fatalf("token for %s: %v", id, oerr)
	}
	return resp
}

func TestClientCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newCacheEnv(t, backend, 0)
		id, secret := e.client()
		for range 5 {
			e.mustToken(id, secret)
		}
		if got := e.store.authClient.Load(); got != 1 {
			t.Errorf("AuthClient reads for 5 requests of one client: got %d, want 1", got)
		}
		if got := e.store.authVersion.Load(); got != 5 {
			t.Errorf("AuthVersion reads for 5 requests: got %d, want 5 (one per request)", got)
		}
		// A wrong secret is refused from the cache too.
		if _, oerr := e.token(id, secret+"x"); oerr == nil || oerr.Code != "invalid_client" {
			t.Errorf("wrong secret: got %v, want invalid_client", oerr)
		}

		// A change empties the cache: the next request reads it.
		e.owner.Permissions = models.NewSet("a:read")
		if err := e.store.UpdateUser(context.Background(), e.owner); err != nil {
			t.Fatal(err)
		}
		if resp := e.mustToken(id, secret); resp.Scope != "a:read" {
			t.Errorf("scope after the owner lost a:write: got %q, want a:read", resp.Scope)
		}
		if got := e.store.authClient.Load(); got != 2 {
			t.Errorf("AuthClient reads after a change: got %d, want 2", got)
		}

		// Usage and audit writes are not changes.
		if err := e.store.RecordUsage(context.Background(), []models.Usage{{ClientID: id, Count: 1}}); err != nil {
			t.Fatal(err)
		}
		e.mustToken(id, secret)
		if got := e.store.authClient.Load(); got != 2 {
			t.Errorf("AuthClient reads after a usage write: got %d, want 2", got)
		}
		// Unknown clients are not cached (an attacker cannot fill it).
		for i := range 3 {
			if _, oerr := e.token(fmt.Sprintf("nobody-%d", i), "x"); oerr == nil {
				t.Fatal("unknown client: got a token")
			}
		}
		if got := oauth.CachedClients(e.server); got != 1 {
			t.Errorf("cached clients: got %d, want 1", got)
		}
	})
}

// An organization-wide client's request that names a project costs one
// project lookup more than a project client's, and only until the cache
// has it: the same request again reads nothing but AuthVersion. Projects
// that do not exist are not kept.
func TestClientCacheProjects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newCacheEnv(t, backend, 0)
		ctx := context.Background()
		p := &models.Project{OrgID: models.DefaultOrgID, Slug: "api", Name: "API", Resource: "https://api.example.com"}
		if err := e.store.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		id, secret := newClient(t, e.store.Store, e.hasher, models.Client{Kind: models.ClientKindOrganization, OwnerID: e.owner.ID, Scopes: models.NewSet("a:read")}, "")
		derived := models.DerivedResource("https://authz.example", "default", "api-2")
		if err := e.store.CreateProject(ctx, &models.Project{OrgID: models.DefaultOrgID, Slug: "api-2", Name: "API 2"}); err != nil {
			t.Fatal(err)
		}
		request := func(resource string) *oauth.Error {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials&resource="+url.QueryEscape(resource)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(id, secret)
			_, oerr := e.server.Token(r)
			return oerr
		}
		for _, resource := range []string{p.Resource, derived, ""} {
			before := e.store.projects.Load()
			for i := range 3 {
				if oerr := request(resource); oerr != nil {
					t.Fatalf("request %d for %q: %v", i, resource, oerr)
				}
			}
			if got := e.store.projects.Load() - before; got != 1 {
				t.Errorf("project lookups for 3 requests naming %q: got %d, want 1", resource, got)
			}
		}
		before := e.store.projects.Load()
		for range 3 {
			if oerr := request("https://unknown.example"); oerr == nil || oerr.Code != "invalid_target" {
				t.Fatalf("unknown resource: got %v, want invalid_target", oerr)
			}
		}
		if got := e.store.projects.Load() - before; got != 3 {
			t.Errorf("project lookups for 3 requests naming an unknown resource: got %d, want 3 (misses are not kept)", got)
		}
		// A change anywhere empties the cache, projects included.
		if err := e.store.CreateProject(ctx, &models.Project{OrgID: models.DefaultOrgID, Slug: "other", Name: "Other"}); err != nil {
			t.Fatal(err)
		}
		before = e.store.projects.Load()
		if oerr := request(p.Resource); oerr != nil {
			t.Fatal(oerr)
		}
		if got := e.store.projects.Load() - before; got != 1 {
			t.Errorf("project lookups after a project was created: got %d, want 1", got)
		}
	})
}

func TestClientCacheBounded(t *testing.T) {
	e := newCacheEnv(t, "sqlite", 3)
	var ids, secrets []string
	for range 5 { // the default policy's maximum per owner
		id, secret := e.client()
		ids, secrets = append(ids, id), append(secrets, secret)
	}
	for i := range ids {
		e.mustToken(ids[i], secrets[i])
	}
	if got := oauth.CachedClients(e.server); got != 3 {
		t.Errorf("cached clients with ClientCache 3 after 5 clients: got %d, want 3", got)
	}
}

func TestClientCacheOff(t *testing.T) {
	e := newCacheEnv(t, "sqlite", -1)
	id, secret := e.client()
	for range 3 {
		e.mustToken(id, secret)
	}
	if got := e.store.authClient.Load(); got != 3 {
		t.Errorf("AuthClient reads with the cache off: got %d, want 3", got)
	}
	if got := e.store.authVersion.Load(); got != 0 {
		t.Errorf("AuthVersion reads with the cache off: got %d, want 0", got)
	}
}

// The cache keys its entries by the id the database returned, not by the
// client_id sent, a slice of the request body that would keep the whole
// body (up to 16 KiB) alive as long as the entry.
func TestClientCacheKeepsNoBodies(t *testing.T) {
	e := newCacheEnv(t, "sqlite", 0)
	ctx := context.Background()
	const clients = 1000
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = oauth.NewClientID()
		c := &models.Client{ID: ids[i], Name: "c", OrgID: models.DefaultOrgID, ProjectID: models.DefaultProjectID, OwnerID: e.owner.ID, Scopes: models.NewSet("a:read")}
		if err := e.store.CreateClient(ctx, c, &models.ClientSecret{ID: fmt.Sprintf("secret-%d", i), Hash: []byte("h")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	padding := "&pad1=" + strings.Repeat("p", 4000) + "&pad2=" + strings.Repeat("p", 4000) + "&pad3=" + strings.Repeat("p", 4000)
	before := heapAlloc()
	for _, id := range ids {
		body := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + oauth.NewSecret() + padding
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if _, oerr := e.server.Token(r); oerr == nil || oerr.Code != "invalid_client" {
			t.Fatalf("wrong secret for %s: got %v, want invalid_client", id, oerr)
		}
	}
	after := heapAlloc()
	if got := oauth.CachedClients(e.server); got != clients {
		t.Fatalf("cached clients: got %d, want %d", got, clients)
	}
	// Kept bodies would be 1,000 × 12 KiB; the entries alone are about
	// 1.5 KiB each (BenchmarkClientCacheEntry).
	if grown := int64(after) - int64(before); grown > 6<<20 {
		t.Errorf("the heap grew by %d KiB for %d cached clients, want under 6 MiB: request bodies are kept", grown>>10, clients)
	}
	runtime.KeepAlive(e.server)
}
