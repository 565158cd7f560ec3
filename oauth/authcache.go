package oauth

import (
	"context"
	"strings"
	"sync"

	"github.com/authz/authz/models"
)

// DefaultClientCache is how many clients' authentication data the token
// endpoint keeps in memory by default (about 1.5 KiB each: BenchmarkClientCacheEntry).
const DefaultClientCache = 100_000

// authCache keeps what Store.AuthClient returned for each client (the
// client, its owner, its live secrets, the policy) for as long as
// Store.AuthVersion is unchanged. Every request reads AuthVersion first, so
// a revocation, rotation, owner or policy change made anywhere (this
// instance, another one, the CLI) holds at the next request exactly as
// without the cache. Time-based decisions (expiry, sunset) are made per
// request from the cached timestamps. Entries are shared between requests
// and never modified.
type authCache struct {
	max     int
	mu      sync.RWMutex
	version int64
	entries map[string]authEntry
	// projects are the projects organization-wide clients' requests named,
	// under the same version (AuthVersion changes with every project).
	// Only projects that exist are kept, so they are bounded by the
	// projects in the database, and by max.
	projects map[projectKey]*models.Project
}

// projectKey is a project lookup: of organization org, by id, slug or own
// resource (the first one set).
type projectKey struct{ org, id, slug, resource string }

type authEntry struct {
	client *models.Client
	policy *models.Policy
}

func newAuthCache(max int) *authCache {
	if max <= 0 {
		return nil
	}
	return &authCache{max: max, entries: map[string]authEntry{}, projects: map[projectKey]*models.Project{}}
}

func (a *authCache) get(version int64, id string) (authEntry, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.version != version {
		return authEntry{}, false
	}
	e, ok := a.entries[id]
	return e, ok
}

// put stores what was read after AuthVersion answered version; a version
// other than the cache's empties the cache first.
func (a *authCache) put(version int64, id string, e authEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if version != a.version {
		// Not "newer": requests may finish out of order, and a restored
		// backup moves the version back. An entry tagged with an older
		// version than its data only costs a reload at the next request.
		a.version = version
		clear(a.entries)
		clear(a.projects)
	}
	if len(a.entries) >= a.max {
		for k := range a.entries { // an arbitrary entry (map order)
			delete(a.entries, k)
			break
		}
	}
	a.entries[id] = e
}

func (a *authCache) project(version int64, k projectKey) (*models.Project, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.version != version {
		return nil, false
	}
	p, ok := a.projects[k]
	return p, ok
}

// putProject stores a project read after AuthVersion answered version, as
// put does.
func (a *authCache) putProject(version int64, k projectKey, p *models.Project) {
	// The key's strings may be slices of the request body (a resource
	// parameter), which the entry would keep whole.
	k = projectKey{org: strings.Clone(k.org), id: strings.Clone(k.id), slug: strings.Clone(k.slug), resource: strings.Clone(k.resource)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if version != a.version {
		a.version = version
		clear(a.entries)
		clear(a.projects)
	}
	if len(a.projects) >= a.max {
		for k := range a.projects { // an arbitrary entry (map order)
			delete(a.projects, k)
			break
		}
	}
	a.projects[k] = p
}

func (a *authCache) len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.entries)
}

// authClient returns the client (with owner, organization, project and
// live secrets) and the policy, from the cache when nothing changed since
// they were read, and the AuthVersion it read them under (0 without the
// cache), for the request's project lookups.
func (s *Server) authClient(ctx context.Context, id string) (*models.Client, *models.Policy, int64, error) {
	if s.cache == nil {
		c, p, err := s.store.AuthClient(ctx, id)
		return c, p, 0, err
	}
	// The version is read before the data: data read after it is at least
	// as new, so a change committed in between only costs a reload.
	version, err := s.store.AuthVersion(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	if e, ok := s.cache.get(version, id); ok {
		return e.client, e.policy, version, nil
	}
	c, p, err := s.store.AuthClient(ctx, id)
	if err != nil {
		return nil, nil, 0, err
	}
	// Keyed by the id as read, not as sent: the id sent is a slice of the
	// request body, which the entry would keep whole (up to 16 KiB).
	s.cache.put(version, c.ID, authEntry{client: c, policy: p})
	return c, p, version, nil
}
