//go:build authzbench

// The load test's additions to authz (bench/load.sh builds with
// -tags authzbench): the reference endpoints served beside the production
// handler by `authz serve`, and `authz bench-seed`, which fills a database
// with clients. A build without the tag contains none of this: the sign
// reference mints tokens for anyone who asks.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web/benchref"
	"github.com/google/uuid"
)

// What seeded clients look like, and what the load generator asks for.
const (
	benchAudience = "https://api.example.com"
	benchScope    = "analysis:read"
	benchTTL      = 10 * time.Minute
	// clientsPerOwner keeps seeded data within the default policy's
	// MaxClientsPerOwner.
	clientsPerOwner = 5
	// registryClients are created through app.Registry (with its checks
	// and audit rows); the rest through the bulk path.
	registryClients = 10
)

var ownerPermissions = []string{"analysis:read", "analysis:create", "config:read"}

func init() {
	benchRoutes = serveBenchRoutes
	benchCommands = map[string]func(ctx context.Context, m *Main, args []string) error{
		"bench-seed":     func(ctx context.Context, m *Main, args []string) error { return m.benchSeed(ctx, args) },
		"bench-requests": func(ctx context.Context, m *Main, args []string) error { return m.benchRequests(ctx, args) },
	}
	commands = append(commands,
		command{"bench-seed", "", "seed an empty database for the load test and write the load generator's credentials", keyFileFlag},
		command{"bench-requests", "", "write signed token requests (client assertions, DPoP proofs), each usable once, for the load generator", noDBFlag})
}

// serveBenchRoutes serves /bench/fixed and /bench/sign (web/benchref) on
// serve's listener, in front of the production handler, and pprof on
// AUTHZ_BENCH_PPROF (host:port) when set.
func serveBenchRoutes(ctx context.Context, b benchServer) (http.Handler, error) {
	sample, err := sampleClient(ctx, b.store)
	if err != nil {
		return nil, err
	}
	ref, err := benchref.New(b.keyring, benchref.Token{Claims: jwtkeys.AccessToken{
		Issuer: b.issuer, ClientID: sample.ID, OwnerID: sample.OwnerID, Audience: benchAudience, Scope: benchScope, TTL: benchTTL,
	}})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/bench/", ref)
	mux.Handle("/", b.handler)
	if addr := os.Getenv("AUTHZ_BENCH_PPROF"); addr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("pprof: %w", err)
		}
		go func() { _ = http.Serve(pln, pm) }()
		b.log.Warn("bench: pprof listening", "addr", pln.Addr().String())
	}
	b.log.Warn("bench: reference endpoints /bench/fixed and /bench/sign are served (an authzbench build)")
	return mux, nil
}

// sampleClient returns a client whose id and owner give the reference
// tokens the same claims as real ones.
func sampleClient(ctx context.Context, store *models.Store) (*models.Client, error) {
	cs, err := store.ListClients(ctx, models.ClientFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return &models.Client{ID: oauth.NewClientID(), OwnerID: uuid.NewString()}, nil
	}
	return &cs[0], nil
}

type seedConfig struct {
	clients    int
	orgs       int
	workers    int
	credsFile  string
	credsCount int
	keysDir    string
	keyClients int
}

// benchSeed is `authz bench-seed`: it seeds an empty database (migrated, with
// serve's key material) and writes credentials for the load generator.
func (m *Main) benchSeed(ctx context.Context, args []string) error {
	var c common
	var cfg seedConfig
	fs := m.flags("bench-seed", &c)
	fs.IntVar(&cfg.clients, "clients", 10, "clients to create")
	fs.IntVar(&cfg.orgs, "orgs", 1, "organizations the clients are spread over (the default one and orgs-1 more), each with its policy and a project")
	fs.IntVar(&cfg.workers, "workers", 4, "goroutines creating clients")
	fs.StringVar(&cfg.credsFile, "creds-file", "", "write \"client_id secret\" lines of seeded clients here")
	fs.IntVar(&cfg.credsCount, "creds-count", 1000, "how many seeded clients, spread evenly over all of them, go to --creds-file")
	fs.StringVar(&cfg.keysDir, "keys-dir", "", "with --key-clients: write the key clients' private keys and client_ids here (for bench-requests)")
	fs.IntVar(&cfg.keyClients, "key-clients", 0, "private_key_jwt clients to register per algorithm (ES256, RS256; one key pair each), besides --clients")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if cfg.keyClients < 0 || (cfg.keyClients > 0) != (cfg.keysDir != "") {
		return errors.New("--key-clients and --keys-dir go together")
	}
	if cfg.clients < 1 {
		return errors.New("--clients: want at least 1")
	}
	if cfg.orgs < 1 || cfg.orgs > cfg.clients {
		return errors.New("--orgs: want at least 1 and at most --clients")
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, true)
	if err != nil {
		return err
	}
	defer store.Close()
	km, err := m.loadKeyMaterial(ctx, &c, store, log)
	if err != nil {
		return err
	}
	if err := seedDB(ctx, store, km.hasher, cfg, m.Stdout); err != nil {
		return err
	}
	if cfg.keyClients > 0 {
		return seedKeyClients(ctx, store, km.hasher, cfg, m.Stdout)
	}
	return nil
}

// seedDB brings the database to cfg.clients clients of cfg.orgs
// organizations (the default one and bench-00001, ...), each under a
// policy that exercises every check of the token endpoint (an org IP
// allowlist, a maximum credential lifetime, a legacy sunset) and with a
// project "bench". Clients are owned by one member per clientsPerOwner
// clients; consecutive owners share an organization (as many per
// organization as it takes to place them all), so the credentials written
// for the load generator, every stride-th client, are of as many
// organizations as there are credentials (up to cfg.orgs). The first registryClients go through app.Registry; the
// rest through models.Store.CreateClient from cfg.workers goroutines.
// Secrets are known only for clients created by this call, so a database
// is seeded once, by one call.
func seedDB(ctx context.Context, store *models.Store, hasher *oauth.Hasher, cfg seedConfig, out io.Writer) error {
	existing, err := store.ListClients(ctx, models.ClientFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return errors.New("the database already holds clients; seed a fresh one")
	}
	start := time.Now()
	now := time.Now().UTC()
	sunset := now.Add(365 * 24 * time.Hour)
	policy := models.DefaultPolicy()
	policy.MaxCredentialLifetime = 2 * 365 * 24 * time.Hour
	policy.IPAllowlist = models.NewSet("127.0.0.0/8", "::1/128")
	policy.LegacySunset = &sunset
	policy.UpdatedBy = "authz bench-seed"
	// Each organization's clients are bound to its project "bench"; the
	// default organization's has the audience of the reference tokens,
	// the others one below it.
	projects := make([]*models.Project, cfg.orgs)
	if err := parallel(ctx, cfg.orgs, cfg.workers, func(i int) error {
		orgID, resource := models.DefaultOrgID, benchAudience
		if i > 0 {
			o := &models.Organization{Slug: fmt.Sprintf("bench-%05d", i), Name: fmt.Sprintf("Bench %d", i)}
			if err := store.CreateOrganization(ctx, o); err != nil {
				return err
			}
			orgID, resource = o.ID, benchAudience+"/"+o.Slug
		}
		p := policy
		p.OrgID = orgID
		if err := store.SavePolicy(ctx, &p); err != nil {
			return err
		}
		projects[i] = &models.Project{OrgID: orgID, Slug: "bench", Name: "Bench", Resource: resource}
		return store.CreateProject(ctx, projects[i])
	}); err != nil {
		return err
	}
	orgsDone := time.Since(start)

	n := cfg.clients
	owners := make([]*models.User, (n+clientsPerOwner-1)/clientsPerOwner)
	stride := max(1, n/max(1, cfg.credsCount))
	var (
		credsMu sync.Mutex
		creds   []string
	)
	keep := func(i int, id, secret string) {
		if i%stride == 0 && i/stride < cfg.credsCount {
			credsMu.Lock()
			creds = append(creds, id+" "+secret)
			credsMu.Unlock()
		}
	}

	// Owners, through the workers too: consecutive owners share an
	// organization, so that the credentials kept for the load generator
	// (every stride-th client) are of as many organizations as they can.
	ownersPerOrg := (len(owners) + cfg.orgs - 1) / cfg.orgs
	if err := parallel(ctx, len(owners), cfg.workers, func(i int) error {
		u := &models.User{OrgID: projects[i/ownersPerOrg].OrgID, Email: fmt.Sprintf("owner%07d@bench.example", i), Name: fmt.Sprintf("Owner %d", i), Permissions: models.NewSet(ownerPermissions...)}
		owners[i] = u
		return store.CreateUser(ctx, u)
	}); err != nil {
		return err
	}
	ownersDone := time.Since(start)

	registry := app.NewRegistry(store, app.RegistryConfig{Hasher: hasher})
	clientIn := func(owner *models.User) app.NewClient {
		return app.NewClient{
			Project: "bench", OwnerEmail: owner.Email, Name: "bench client",
			Scopes:      []string{"analysis:read", "analysis:create"},
			IPAllowlist: []string{"127.0.0.0/8"}, TokenTTL: benchTTL,
		}
	}
	for i := 0; i < min(n, registryClients); i++ {
		owner := owners[i/clientsPerOwner]
		c, secret, err := registry.Create(ctx, app.Operator(owner.OrgID), clientIn(owner))
		if err != nil {
			return err
		}
		keep(i, c.ID, secret)
	}

	// The bulk path: the rows Registry.Create writes, without its reads
	// (policy, owner, count) and its audit row.
	expires := now.Add(policy.DefaultCredentialLifetime)
	bulkStart := time.Now()
	var done atomic.Int64
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	stopProgress := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopProgress:
				return
			case <-progress.C:
				d := done.Load()
				fmt.Fprintf(out, "seed: %d/%d bulk clients, %.0f/s\n", d, n-registryClients, float64(d)/time.Since(bulkStart).Seconds())
			}
		}
	}()
	err = parallel(ctx, max(0, n-registryClients), cfg.workers, func(j int) error {
		i := registryClients + j
		o := i / clientsPerOwner
		owner, project := owners[o], projects[o/ownersPerOrg]
		id, secret := oauth.NewClientID(), oauth.NewSecret()
		prefix, last := oauth.SecretDisplay(secret)
		exp := expires
		c := &models.Client{
			ID: id, OrgID: owner.OrgID, ProjectID: project.ID, Kind: models.ClientKindProject, Name: "bench client", OwnerID: owner.ID, CreatedBy: "cli",
			Scopes:      models.NewSet("analysis:read", "analysis:create"),
			IPAllowlist: models.NewSet("127.0.0.0/8"), TokenTTL: benchTTL, ExpiresAt: &exp, Status: models.StatusActive,
		}
		cs := &models.ClientSecret{ID: uuid.NewString(), Hash: hasher.Hash(secret), Prefix: prefix, Last4: last, Format: models.FormatCurrent}
		if err := store.CreateClient(ctx, c, cs, 0); err != nil { // 0: the owner limit is kept by construction
			return err
		}
		done.Add(1)
		keep(i, id, secret)
		return nil
	})
	close(stopProgress)
	if err != nil {
		return err
	}
	bulk := time.Since(bulkStart)
	fmt.Fprintf(out, "seeded %d clients (%d owners, %d organizations) in %s: organizations %s, owners %s, bulk %d clients in %s (%.0f clients/s, %d workers)\n",
		n, len(owners), cfg.orgs, time.Since(start).Round(time.Millisecond), orgsDone.Round(time.Millisecond), ownersDone.Round(time.Millisecond),
		max(0, n-registryClients), bulk.Round(time.Millisecond), float64(max(0, n-registryClients))/bulk.Seconds(), cfg.workers)
	if cfg.credsFile != "" {
		body := strings.Join(creds, "\n") + "\n"
		if err := os.WriteFile(cfg.credsFile, []byte(body), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %d credentials to %s\n", len(creds), cfg.credsFile)
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first
// error; the others stop at their next item.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		failed  atomic.Bool
	)
	for w := 0; w < max(1, workers); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
