// Command authz-bench runs the production token endpoint beside two
// reference endpoints, for load tests (bench/load.sh).
//
// It wires the pieces `authz serve` wires, with its defaults (models.Store
// with its pool settings and query metrics, oauth.Hasher, jwtkeys.Keyring,
// oauth.Server with its usage recorder, audit writer, metrics observer and
// limiter, web.Server with its request log, metrics and admin API, the same
// background jobs and http.Server timeouts) and serves, on one listener:
//
//	/oauth2/token, ...       web.Server, exactly as in production
//	/bench/fixed, /bench/sign  web/benchref: Echo routes answering the same
//	                           token response, fixed or around a JWT minted
//	                           per request with the same Keyring
//
// One setting differs from authz serve's defaults: --rate-limit (requests
// per second per source IP) defaults to 1e9, since all load comes from
// 127.0.0.1; the limiter still runs on every request.
//
// It can also seed a database with N clients (--seed-clients, with
// --seed-only to seed and exit) and writes the credentials of some of them
// to --creds-file for the load generator.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"github.com/authz/authz/web/benchref"
	"github.com/google/uuid"
)

// cacheSize maps --client-cache (0: none) onto oauth.Config.ClientCache.
func cacheSize(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// logFlushInterval is authz serve's.
const logFlushInterval = 200 * time.Millisecond

// What seeded clients look like, and what the load generator asks for.
const (
	benchAudience = "https://api.example.com"
	benchScope    = "analysis:read"
	benchTTL      = 10 * time.Minute
	// clientsPerOwner keeps seeded data within the default policy's
	// MaxClientsPerOwner.
	clientsPerOwner = 5
	// registryClients are created through oauth.Registry (with its checks
	// and audit rows); the rest through the bulk path.
	registryClients = 10
)

var ownerPermissions = []string{"analysis:read", "analysis:create", "config:read"}

type config struct {
	db          string
	addr        string
	readyFile   string
	pprofAddr   string
	logLevel    string
	logFile     string
	usageFlush  time.Duration
	rateLimit   float64
	clientCache int
	seedClients int
	seedOnly    bool
	seedWorkers int
	credsFile   string
	credsCount  int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "authz-bench:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("authz-bench", flag.ContinueOnError)
	fs.StringVar(&cfg.db, "db", "", "database URL (required), e.g. sqlite:/tmp/x/authz.db; the key file authz-bench.key is kept beside an SQLite file")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "listen address (loopback)")
	fs.StringVar(&cfg.readyFile, "ready-file", "", "write the listen address to this file once serving")
	fs.StringVar(&cfg.pprofAddr, "pprof", "", "serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log level, as authz serve (info logs one line per request)")
	fs.StringVar(&cfg.logFile, "log-file", "", "append logs to this file instead of stderr")
	fs.DurationVar(&cfg.usageFlush, "usage-flush", 5*time.Second, "usage write interval, as authz serve")
	fs.IntVar(&cfg.clientCache, "client-cache", oauth.DefaultClientCache, "authz serve's --client-cache: clients kept in memory, 0 for none")
	fs.Float64Var(&cfg.rateLimit, "rate-limit", 1e9, "requests per second per source IP (authz serve's --rate-limit, default 100 there): the load comes from one IP")
	fs.IntVar(&cfg.seedClients, "seed-clients", 0, "ensure the database holds this many clients before serving")
	fs.BoolVar(&cfg.seedOnly, "seed-only", false, "seed, write --creds-file and exit")
	fs.IntVar(&cfg.seedWorkers, "seed-workers", 1, "goroutines inserting clients in the bulk path (SQLite has one writer: 1 was fastest, 2500 clients/s vs 2200 with 2 or 4)")
	fs.StringVar(&cfg.credsFile, "creds-file", "", "write \"client_id secret\" lines of seeded clients here")
	fs.IntVar(&cfg.credsCount, "creds-count", 1000, "how many seeded clients, spread evenly over all of them, go to --creds-file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.db == "" {
		return errors.New("--db is required")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logOut := io.Writer(os.Stderr)
	if cfg.logFile != "" {
		f, err := os.OpenFile(cfg.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	out := web.NewLogOutput(logOut, logFlushInterval)
	defer out.Close()
	log := slog.New(web.NewLogHandler(out, level))

	// As `authz serve`: open, migrate, key material, keyring.
	store, err := models.Open(ctx, cfg.db, log)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	kek, hasher, err := keyMaterial(ctx, cfg.db, store)
	if err != nil {
		return err
	}

	var seed *seedResult
	if cfg.seedClients > 0 {
		if seed, err = seedDB(ctx, store, hasher, cfg, os.Stdout); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	if cfg.seedOnly {
		return nil
	}
	sample, err := sampleClient(ctx, store, seed)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	issuer := "http://" + ln.Addr().String()
	keyring, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: jwtkeys.ES256, Issuer: issuer, KEK: kek, Logger: log,
		Rotation: jwtkeys.RotationConfig{RotateEvery: 30 * 24 * time.Hour}})
	if err != nil {
		return err
	}
	if err := keyring.Load(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	metrics := web.NewMetrics(func() []web.KeyAge {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		keys, err := store.SigningKeys(ctx)
		if err != nil {
			return nil
		}
		ages := make([]web.KeyAge, 0, len(keys))
		for _, k := range keys {
			ages = append(ages, web.KeyAge{KID: k.KID, State: k.State, Created: k.CreatedAt})
		}
		return ages
	})
	if err := store.ObserveQueries(metrics.ObserveQuery); err != nil {
		return err
	}
	usage := oauth.NewUsageRecorder(store, cfg.usageFlush, log)
	audit := oauth.NewAuditWriter(store, 4096, log)
	tokens, err := oauth.NewServer(oauth.Config{Issuer: issuer, Observer: metrics, Logger: log, ClientCache: cacheSize(cfg.clientCache)}, store, hasher, keyring, usage, audit)
	if err != nil {
		return err
	}
	tokens.EnableIntrospection(keyring, store)
	tokens.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: cfg.rateLimit, FailuresPerPair: 5, FailuresPerIP: 20}))
	admin := &web.Admin{Store: store, Registry: oauth.NewRegistry(store, hasher, nil, log), TrustedProxies: nil}
	prod := web.New(web.Config{Issuer: issuer, Logger: log, Admin: admin, Metrics: metrics, OAuthLogLevel: level, JWKSMaxAge: keyring.JWKSMaxAge()}, tokens, keyring, store)

	ref, err := benchref.New(keyring, benchref.Token{Claims: jwtkeys.AccessToken{
		Issuer: issuer, ClientID: sample.ID, OwnerID: sample.OwnerID, Audience: benchAudience, Scope: benchScope, TTL: benchTTL,
	}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/bench/", ref)
	mux.Handle("/", prod)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	instance := fmt.Sprintf("authz-bench-%d", os.Getpid())
	reminders := oauth.NewReminders(store, oauth.ReminderConfig{WebhookSecret: hasher.DeriveKey("webhook"), Logger: log, Holder: instance})
	janitor := oauth.NewJanitor(store, instance, nil, log)
	for _, job := range []func(){
		func() { usage.Run(bg) },
		func() { audit.Run(bg, time.Second) },
		func() { reminders.Run(bg, 10*time.Minute) },
		func() { janitor.Run(bg, 10*time.Minute) },
		func() { keyring.Run(bg, time.Minute) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job()
		}()
	}

	if cfg.pprofAddr != "" {
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pm.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pln, err := net.Listen("tcp", cfg.pprofAddr)
		if err != nil {
			return fmt.Errorf("pprof: %w", err)
		}
		defer pln.Close()
		go func() { _ = http.Serve(pln, pm) }()
		fmt.Fprintln(os.Stdout, "pprof on", pln.Addr().String())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintln(os.Stdout, "listening on", ln.Addr().String())
	if cfg.readyFile != "" {
		if err := os.WriteFile(cfg.readyFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
			return err
		}
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// keyMaterial keeps a key-encryption key and a pepper in authz-bench.key
// beside the SQLite database (or the working directory), so that a seeded
// database can be served again. The pepper's fingerprint is stored as
// `authz serve` stores it.
func keyMaterial(ctx context.Context, dbURL string, store *models.Store) (*jwtkeys.KEK, *oauth.Hasher, error) {
	dir := "."
	if p, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		dir = filepath.Dir(strings.TrimPrefix(p, "//"))
	}
	path := filepath.Join(dir, "authz-bench.key")
	body, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		body = []byte("kek=" + random32() + "\npepper=" + random32() + "\n")
		if err := os.WriteFile(path, body, 0o600); err != nil {
			return nil, nil, err
		}
	} else if err != nil {
		return nil, nil, err
	}
	var kekText, pepperText string
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), "=")
		switch name {
		case "kek":
			kekText = value
		case "pepper":
			pepperText = value
		}
	}
	kek, err := jwtkeys.ParseKEK(kekText)
	if err != nil {
		return nil, nil, err
	}
	pepper, err := base64.StdEncoding.DecodeString(pepperText)
	if err != nil {
		return nil, nil, err
	}
	hasher, err := oauth.NewHasher(pepper)
	if err != nil {
		return nil, nil, err
	}
	if stored, err := store.SetSettingOnce(ctx, "pepper_fingerprint", hasher.Fingerprint()); err != nil {
		return nil, nil, err
	} else if stored != hasher.Fingerprint() {
		return nil, nil, fmt.Errorf("%s is not the key file this database was seeded with", path)
	}
	return kek, hasher, nil
}

func random32() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

type seedResult struct {
	first *models.Client
}

// seedDB brings the database to cfg.seedClients clients under a policy that
// exercises every check of the token endpoint (an org IP allowlist, a
// maximum credential lifetime, a legacy sunset), owned by one user per
// clientsPerOwner clients. The first registryClients go through
// oauth.Registry; the rest through models.Store.CreateClient from
// cfg.seedWorkers goroutines. Secrets are known only for clients created by
// this call, so a database is seeded once, by one call.
func seedDB(ctx context.Context, store *models.Store, hasher *oauth.Hasher, cfg config, out io.Writer) (*seedResult, error) {
	existing, err := store.ListClients(ctx, models.ClientFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 {
		return nil, errors.New("the database already holds clients; seed a fresh one")
	}
	start := time.Now()
	now := time.Now().UTC()
	sunset := now.Add(365 * 24 * time.Hour)
	policy := models.DefaultPolicy()
	policy.MaxCredentialLifetime = 2 * 365 * 24 * time.Hour
	policy.IPAllowlist = models.NewSet("127.0.0.0/8", "::1/128")
	policy.LegacySunset = &sunset
	policy.UpdatedBy = "authz-bench"
	if err := store.SavePolicy(ctx, &policy); err != nil {
		return nil, err
	}

	n := cfg.seedClients
	owners := make([]*models.User, (n+clientsPerOwner-1)/clientsPerOwner)
	stride := max(1, n/max(1, cfg.credsCount))
	var (
		credsMu sync.Mutex
		creds   []string
		first   *models.Client
	)
	keep := func(i int, id, secret string) {
		if i%stride == 0 && i/stride < cfg.credsCount {
			credsMu.Lock()
			creds = append(creds, id+" "+secret)
			credsMu.Unlock()
		}
	}

	// Owners, through the workers too.
	if err := parallel(ctx, len(owners), cfg.seedWorkers, func(i int) error {
		u := &models.User{Email: fmt.Sprintf("owner%07d@bench.example", i), Name: fmt.Sprintf("Owner %d", i), Permissions: models.NewSet(ownerPermissions...)}
		owners[i] = u
		return store.CreateUser(ctx, u)
	}); err != nil {
		return nil, err
	}
	ownersDone := time.Since(start)

	registry := oauth.NewRegistry(store, hasher, nil, nil)
	clientIn := func(owner *models.User) oauth.NewClient {
		return oauth.NewClient{
			OwnerEmail: owner.Email, Name: "bench client",
			Scopes: []string{"analysis:read", "analysis:create"}, Audiences: []string{benchAudience},
			IPAllowlist: []string{"127.0.0.0/8"}, TokenTTL: benchTTL,
		}
	}
	for i := 0; i < min(n, registryClients); i++ {
		c, secret, err := registry.Create(ctx, oauth.CLI, clientIn(owners[i/clientsPerOwner]))
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = c
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
	err = parallel(ctx, max(0, n-registryClients), cfg.seedWorkers, func(j int) error {
		i := registryClients + j
		owner := owners[i/clientsPerOwner]
		id, secret := oauth.NewClientID(), oauth.NewSecret()
		prefix, last := oauth.SecretDisplay(secret)
		exp := expires
		c := &models.Client{
			ID: id, Name: "bench client", OwnerID: owner.ID, CreatedBy: "cli",
			Scopes: models.NewSet("analysis:read", "analysis:create"), Audiences: models.NewSet(benchAudience),
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
		return nil, err
	}
	bulk := time.Since(bulkStart)
	fmt.Fprintf(out, "seeded %d clients (%d owners) in %s: owners %s, bulk %d clients in %s (%.0f clients/s, %d workers)\n",
		n, len(owners), time.Since(start).Round(time.Millisecond), ownersDone.Round(time.Millisecond),
		max(0, n-registryClients), bulk.Round(time.Millisecond), float64(max(0, n-registryClients))/bulk.Seconds(), cfg.seedWorkers)
	if cfg.credsFile != "" {
		body := strings.Join(creds, "\n") + "\n"
		if err := os.WriteFile(cfg.credsFile, []byte(body), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(out, "wrote %d credentials to %s\n", len(creds), cfg.credsFile)
	}
	return &seedResult{first: first}, nil
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

// sampleClient returns a client whose id and owner give the reference
// tokens the same claims as real ones.
func sampleClient(ctx context.Context, store *models.Store, seed *seedResult) (*models.Client, error) {
	if seed != nil && seed.first != nil {
		return seed.first, nil
	}
	cs, err := store.ListClients(ctx, models.ClientFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return &models.Client{ID: oauth.NewClientID(), OwnerID: uuid.NewString()}, nil
	}
	return &cs[0], nil
}
