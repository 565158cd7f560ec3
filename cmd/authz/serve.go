package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

type serveConfig struct {
	common
	addr             string
	issuer           string
	alg              string
	audience         string
	trustedProxies   string
	corsOrigins      string
	usageFlush       time.Duration
	reminderInterval time.Duration
	keyRotateEvery   time.Duration
	keyCheck         time.Duration
	rateLimit        float64
	authFailures     int
	clientCache      int
	metricsClients   int
	logLevel         string
	oauthLogLevel    string
	auditRetention   time.Duration
	smtpURL          string
	legacyPrefixes   string
	smtpFrom         string
	tlsCert          string
	tlsKey           string
	insecureHTTP     bool
	dpopNonce        bool
	fetchPrivate     bool
	// mailer sends expiry reminders by email when --smtp-url is set.
	mailer      *app.Mailer
	envProblems []string
}

func (m *Main) serveFlags(cfg *serveConfig, args []string) error {
	fs := m.flags("serve", &cfg.common)
	m.allowEmptyFlag(fs, &cfg.common, &cfg.envProblems)
	fs.StringVar(&cfg.addr, "addr", m.env("AUTHZ_ADDR", "127.0.0.1:8080"), "listen address host:port (env AUTHZ_ADDR)")
	fs.StringVar(&cfg.issuer, "issuer", m.env("AUTHZ_ISSUER", ""), "issuer URL, the iss of every token; default https://ADDR with --tls-cert, else http://ADDR (env AUTHZ_ISSUER)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", m.env("AUTHZ_TLS_CERT", ""), "PEM certificate chain file: serve HTTPS (with --tls-key); reloaded when it changes (env AUTHZ_TLS_CERT)")
	fs.StringVar(&cfg.tlsKey, "tls-key", m.env("AUTHZ_TLS_KEY", ""), "PEM private key file of --tls-cert (env AUTHZ_TLS_KEY)")
	fs.BoolVar(&cfg.insecureHTTP, "insecure-http", envBool(m, "AUTHZ_INSECURE_HTTP", &cfg.envProblems), "serve plain HTTP with an http:// issuer on an address beyond loopback, e.g. behind a TLS-terminating proxy (env AUTHZ_INSECURE_HTTP)")
	fs.BoolVar(&cfg.dpopNonce, "dpop-nonce", envBool(m, "AUTHZ_DPOP_NONCE", &cfg.envProblems), "require DPoP proofs to carry a server nonce (RFC 9449 §8), answering use_dpop_nonce with a DPoP-Nonce header (env AUTHZ_DPOP_NONCE)")
	fs.BoolVar(&cfg.fetchPrivate, "fetch-private-networks", envBool(m, "AUTHZ_FETCH_PRIVATE_NETWORKS", &cfg.envProblems), "let clients' jwks_uri and trusted issuers' keys and discovery documents be fetched from loopback, private and link-local addresses, e.g. an internal Kubernetes API server; off, such addresses are refused (env AUTHZ_FETCH_PRIVATE_NETWORKS)")
	fs.StringVar(&cfg.alg, "alg", m.env("AUTHZ_SIGNING_ALG", jwtkeys.ES256), "algorithm of generated signing keys: ES256, EdDSA or RS256 (env AUTHZ_SIGNING_ALG)")
	fs.StringVar(&cfg.audience, "audience", m.env("AUTHZ_DEFAULT_AUDIENCE", ""), "aud of tokens for clients that name no audience; default the issuer (env AUTHZ_DEFAULT_AUDIENCE)")
	fs.StringVar(&cfg.corsOrigins, "cors-origins", m.env("AUTHZ_CORS_ORIGINS", ""), "comma-separated browser origins (https://app.example) allowed to call the token endpoint and read the discovery documents; none by default (env AUTHZ_CORS_ORIGINS)")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", m.env("AUTHZ_TRUSTED_PROXIES", ""), "comma-separated IPs/CIDRs whose X-Forwarded-For is believed (env AUTHZ_TRUSTED_PROXIES)")
	fs.DurationVar(&cfg.usageFlush, "usage-flush", envDuration(m, "AUTHZ_USAGE_FLUSH", 5*time.Second, &cfg.envProblems), "how often last-use data is written (env AUTHZ_USAGE_FLUSH)")
	fs.DurationVar(&cfg.reminderInterval, "reminder-interval", envDuration(m, "AUTHZ_REMINDER_INTERVAL", 10*time.Minute, &cfg.envProblems), "how often expiry reminders are checked (env AUTHZ_REMINDER_INTERVAL)")
	fs.DurationVar(&cfg.keyRotateEvery, "key-rotate-every", envDuration(m, "AUTHZ_KEY_ROTATE_EVERY", 30*24*time.Hour, &cfg.envProblems), "age of the signing key at which a scheduled rotation starts (env AUTHZ_KEY_ROTATE_EVERY)")
	fs.DurationVar(&cfg.keyCheck, "key-check-interval", envDuration(m, "AUTHZ_KEY_CHECK_INTERVAL", time.Minute, &cfg.envProblems), "how often signing keys are reloaded and the rotation schedule advanced (env AUTHZ_KEY_CHECK_INTERVAL)")
	fs.Float64Var(&cfg.rateLimit, "rate-limit", envFloat(m, "AUTHZ_RATE_LIMIT", 100, &cfg.envProblems), "requests per second per source IP at the OAuth endpoints, burst twice that (env AUTHZ_RATE_LIMIT)")
	fs.IntVar(&cfg.authFailures, "auth-failures", int(envFloat(m, "AUTHZ_AUTH_FAILURES", 5, &cfg.envProblems)), "failed authentications of one client from one IP before exponential backoff (env AUTHZ_AUTH_FAILURES)")
	fs.IntVar(&cfg.clientCache, "client-cache", int(envFloat(m, "AUTHZ_CLIENT_CACHE", oauth.DefaultClientCache, &cfg.envProblems)), "clients whose authentication data the token endpoint keeps in memory, checked against the database's change counter at every request; 0 turns the cache off (env AUTHZ_CLIENT_CACHE)")
	fs.IntVar(&cfg.metricsClients, "metrics-client-series", int(envFloat(m, "AUTHZ_METRICS_CLIENT_SERIES", web.DefaultClientSeries, &cfg.envProblems)), "clients with a series of their own in authz_client_tokens_issued_total; later ones count in authz_client_tokens_issued_unlisted_total (env AUTHZ_METRICS_CLIENT_SERIES)")
	fs.StringVar(&cfg.logLevel, "log-level", m.env("AUTHZ_LOG_LEVEL", "info"), "debug, info, warn or error (env AUTHZ_LOG_LEVEL)")
	fs.StringVar(&cfg.oauthLogLevel, "oauth-log-level", m.env("AUTHZ_OAUTH_LOG_LEVEL", "info"), "level of the one log line per token, introspection and revocation request (env AUTHZ_OAUTH_LOG_LEVEL)")
	m.auditRetentionFlag(fs, &cfg.auditRetention, &cfg.envProblems)
	fs.StringVar(&cfg.legacyPrefixes, "legacy-prefixes", m.env("AUTHZ_LEGACY_PREFIXES", ""), "comma-separated prefixes by which imported (legacy) secrets are recognised; an import of a secret starting with none of them is refused; any by default (env AUTHZ_LEGACY_PREFIXES)")
	fs.StringVar(&cfg.smtpURL, "smtp-url", m.env("AUTHZ_SMTP_URL", ""), "SMTP server expiry reminders are emailed through: smtp://user:password@host:587 (STARTTLS) or smtps://user:password@host:465; none by default (env AUTHZ_SMTP_URL)")
	fs.StringVar(&cfg.smtpFrom, "smtp-from", m.env("AUTHZ_SMTP_FROM", ""), "sender address of reminder emails, e.g. \"authz <authz@example.com>\" (env AUTHZ_SMTP_FROM)")
	// The heap floor (which set GOGC from the live heap every second) is
	// gone: a configuration that still sets it is refused, saying what to
	// set instead, rather than started with a collector it did not ask for.
	fs.Func("gc-min-heap", "removed: "+gcMinHeapRemoved, func(string) error { return errors.New(gcMinHeapRemoved) })
	if m.Getenv("AUTHZ_GC_MIN_HEAP") != "" {
		cfg.envProblems = append(cfg.envProblems, "AUTHZ_GC_MIN_HEAP: "+gcMinHeapRemoved)
	}
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	return cfg.validate()
}

// gcMinHeapRemoved is what --gc-min-heap and AUTHZ_GC_MIN_HEAP are refused
// with.
const gcMinHeapRemoved = "the heap floor was removed: serve runs the garbage collector at GOGC=400 unless the environment sets GOGC; tune it with GOGC or GOMEMLIMIT in the environment (docs/operations.md, Go runtime)"

// defaultGOGC is the collector's GOGC in serve when the environment sets
// none. A token request allocates about 20 KB around a live heap of a few
// MiB, so at Go's default of 100 the collector starts a cycle every few MiB
// allocated: under load the token endpoint then took 110 to 112 µs of CPU
// per request against 100 at 400, and issued 10% fewer tokens per second
// (docs/performance.md). The heap grows to about five times the live heap;
// GOMEMLIMIT bounds it where memory is tight.
const defaultGOGC = 400

// clientCache maps --client-cache (0: off) onto oauth.Config.ClientCache
// (0: the default, negative: off).
func clientCache(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// envFloat reads a number from the environment, like envDuration.
// envBool reads a boolean from the environment (false when unset). A value
// that does not parse is an error reported by validate.
func envBool(m *Main, name string, problems *[]string) bool {
	v := m.Getenv(name)
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s=%q: want true or false", name, v))
	}
	return b
}

func envFloat(m *Main, name string, def float64, problems *[]string) float64 {
	v := m.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s=%q: want a number", name, v))
		return def
	}
	return f
}

// envDuration reads a duration from the environment. A value that does not
// parse is an error reported by validate, never silently the default.
func envDuration(m *Main, name string, def time.Duration, problems *[]string) time.Duration {
	v := m.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		*problems = append(*problems, fmt.Sprintf("%s=%q: want a duration such as 5s or 10m", name, v))
		return def
	}
	return d
}

// validate checks the configuration and says what to fix.
func (cfg *serveConfig) validate() error {
	problems := cfg.envProblems
	_, _, addrErr := net.SplitHostPort(cfg.addr)
	if addrErr != nil {
		problems = append(problems, fmt.Sprintf("--addr %q: want host:port, e.g. 127.0.0.1:8080 or :8080", cfg.addr))
	}
	if cfg.issuer != "" && !strings.HasPrefix(cfg.issuer, "https://") && !strings.HasPrefix(cfg.issuer, "http://") {
		problems = append(problems, fmt.Sprintf("--issuer %q: want an http(s) URL", cfg.issuer))
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		problems = append(problems, "--tls-cert and --tls-key: give both (a certificate file and its key file) or neither")
	}
	servesTLS := cfg.tlsCert != ""
	if servesTLS && strings.HasPrefix(cfg.issuer, "http://") {
		problems = append(problems, fmt.Sprintf("--issuer %q: serve terminates TLS itself (--tls-cert), so the issuer is an https:// URL; leave it out for https://ADDR", cfg.issuer))
	}
	if addrErr == nil && !servesTLS && !cfg.insecureHTTP && !loopbackAddr(cfg.addr) && !strings.HasPrefix(cfg.issuer, "https://") {
		problems = append(problems, fmt.Sprintf("--addr %q listens beyond this machine, but tokens, secrets and the admin cookie would travel in plain HTTP under an http:// issuer. "+
			"Do one of: serve HTTPS with --tls-cert FILE --tls-key FILE (env AUTHZ_TLS_CERT, AUTHZ_TLS_KEY); "+
			"or, behind a TLS-terminating proxy, set --issuer to its public https:// URL (env AUTHZ_ISSUER); "+
			"or, if plain HTTP on this network is what you mean (a proxy whose public URL is http://, a private test network), set --insecure-http (env AUTHZ_INSECURE_HTTP=true); "+
			"or listen on loopback only (--addr 127.0.0.1:8080)", cfg.addr))
	}
	if !jwtkeys.ValidAlg(cfg.alg) {
		problems = append(problems, fmt.Sprintf("--alg %q: want ES256, EdDSA or RS256", cfg.alg))
	}
	if cfg.keyRotateEvery < time.Hour {
		problems = append(problems, "--key-rotate-every: want at least 1h")
	}
	if cfg.keyCheck < time.Second || cfg.keyCheck > 2*time.Minute {
		problems = append(problems, "--key-check-interval: want between 1s and 2m (keys must be reloaded well within 5 minutes)")
	}
	if cfg.rateLimit <= 0 {
		problems = append(problems, "--rate-limit: want a positive number of requests per second")
	}
	if cfg.clientCache < 0 {
		problems = append(problems, "--client-cache: want 0 (off) or a number of clients")
	}
	if cfg.authFailures < 1 {
		problems = append(problems, "--auth-failures: want at least 1")
	}
	if cfg.metricsClients < 0 {
		problems = append(problems, "--metrics-client-series: want 0 (none) or a number of clients")
	}
	if cfg.reminderInterval < time.Second {
		problems = append(problems, "--reminder-interval: want at least 1s")
	}
	if cfg.smtpURL != "" {
		// NewMailer's errors name the URL with its password redacted.
		m, err := app.NewMailer(app.MailerConfig{URL: cfg.smtpURL, From: cfg.smtpFrom})
		if err != nil {
			problems = append(problems, "--smtp-url/--smtp-from: "+err.Error())
		}
		cfg.mailer = m
	} else if cfg.smtpFrom != "" {
		problems = append(problems, "--smtp-from: set --smtp-url too, or reminders are not emailed")
	}
	if cfg.usageFlush < 100*time.Millisecond {
		problems = append(problems, "--usage-flush: want at least 100ms")
	}
	for _, o := range splitList(cfg.corsOrigins) {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			problems = append(problems, fmt.Sprintf("--cors-origins: %q is not an origin such as https://app.example.com", o))
		}
	}
	if _, err := oauth.ParsePrefixes(splitList(cfg.trustedProxies)); err != nil {
		problems = append(problems, "--trusted-proxies: "+models.ErrorMessage(err))
	}
	for flag, value := range map[string]string{"log-level": cfg.logLevel, "oauth-log-level": cfg.oauthLogLevel} {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(value)); err != nil {
			problems = append(problems, fmt.Sprintf("--%s %q: want debug, info, warn or error", flag, value))
		}
	}
	if len(problems) > 0 {
		return errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// benchRoutes is set only in builds with the authzbench tag (bench.go, for
// bench/load.sh): it adds the load test's reference endpoints beside the
// production handler. Production builds contain no such code.
var benchRoutes func(ctx context.Context, b benchServer) (http.Handler, error)

// benchServer is what benchRoutes gets from serve.
type benchServer struct {
	log     *slog.Logger
	store   *models.Store
	keyring *jwtkeys.Keyring
	issuer  string
	handler http.Handler
}

func (m *Main) serve(ctx context.Context, args []string) error {
	var cfg serveConfig
	if err := m.serveFlags(&cfg, args); err != nil {
		return err
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.logLevel))
	log := m.logger(level)

	store, err := m.openStore(ctx, &cfg.common, log, true)
	if err != nil {
		return err
	}
	defer store.Close()
	km, err := m.loadKeyMaterial(ctx, &cfg.common, store, log)
	if err != nil {
		return err
	}
	var certs *certLoader
	if cfg.tlsCert != "" {
		if certs, err = newCertLoader(cfg.tlsCert, cfg.tlsKey, log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	issuer := cfg.issuer
	if issuer == "" {
		scheme := "http://"
		if certs != nil {
			scheme = "https://"
		}
		issuer = scheme + displayAddr(ln.Addr().String())
	}
	keyring, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{Alg: cfg.alg, Issuer: issuer, KEK: km.kek, Logger: log,
		Rotation: jwtkeys.RotationConfig{RotateEvery: cfg.keyRotateEvery}})
	if err != nil {
		return err
	}
	if err := keyring.Load(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	proxies, _ := oauth.ParsePrefixes(splitList(cfg.trustedProxies))
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
	metrics.LimitClientSeries(cfg.metricsClients)
	if err := store.ObserveQueries(metrics.ObserveQuery); err != nil {
		return err
	}
	usage := app.NewUsageRecorder(store, cfg.usageFlush, log)
	audit := app.NewAuditWriter(store, 4096, log)
	tokens, err := oauth.NewServer(oauth.Config{
		Issuer:          issuer,
		DefaultAudience: cfg.audience,
		TrustedProxies:  proxies,
		ClientCache:     clientCache(cfg.clientCache),
		DPoPNonce:       cfg.dpopNonce,
		JWKS:            oauth.JWKSFetcherConfig{AllowPrivateNetworks: cfg.fetchPrivate},
		NonceKey:        km.hasher.DeriveKey("dpop-nonce"),
		Observer:        metrics,
		Logger:          log,
	}, store, km.hasher, keyring, usage, audit)
	if err != nil {
		return err
	}
	tokens.EnableDPoP(store)
	tokens.EnableIntrospection(keyring, store)
	tokens.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: cfg.rateLimit, FailuresPerPair: cfg.authFailures, FailuresPerIP: 4 * cfg.authFailures}))
	admin := &web.Admin{
		Store: store,
		Registry: app.NewRegistry(store, app.RegistryConfig{
			Hasher: km.hasher, Issuer: issuer, DefaultAudience: cfg.audience, Log: log,
			LegacyPrefixes: splitList(cfg.legacyPrefixes),
			// Adding a trusted issuer without keys reads its discovery
			// document, bounded as JWKS fetches are.
			Discovery: oauth.NewJWKSFetcher(oauth.JWKSFetcherConfig{AllowPrivateNetworks: cfg.fetchPrivate}),
		}),
		SecureCookies:   !strings.HasPrefix(issuer, "http://"),
		TrustedProxies:  proxies,
		DefaultAudience: cfg.audience,
	}
	var oauthLevel slog.Level
	_ = oauthLevel.UnmarshalText([]byte(cfg.oauthLogLevel))
	var handler http.Handler = web.New(web.Config{Issuer: issuer, Logger: log, Admin: admin, Metrics: metrics, OAuthLogLevel: oauthLevel, JWKSMaxAge: keyring.JWKSMaxAge(), CORSOrigins: splitList(cfg.corsOrigins)}, tokens, keyring, store)
	if benchRoutes != nil {
		if handler, err = benchRoutes(ctx, benchServer{log: log, store: store, keyring: keyring, issuer: issuer, handler: handler}); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if certs != nil {
		srv.TLSConfig = tlsConfig(certs)
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	instance := instanceID()
	reminders := app.NewReminders(store, app.ReminderConfig{
		WebhookSecret: km.hasher.DeriveKey("webhook"), Logger: log, Holder: instance, Mailer: cfg.mailer, ConsoleURL: issuer,
	})
	janitor := app.NewJanitor(store, instance, nil, log)
	janitor.AuditRetention = cfg.auditRetention
	// Each goroutine exits when stopBG is called: the usage recorder and the
	// audit writer after writing what they hold.
	jobs := []func(){
		func() { usage.Run(bg) },
		func() { audit.Run(bg, time.Second) },
		func() { reminders.Run(bg, cfg.reminderInterval) },
		func() { janitor.Run(bg, 10*time.Minute) },
		func() { keyring.Run(bg, cfg.keyCheck) },
	}
	for _, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job()
		}()
	}

	gogc := m.Getenv("GOGC") // the runtime applied it at start
	if gogc == "" {
		gogc = strconv.Itoa(defaultGOGC)
		debug.SetGCPercent(defaultGOGC)
	}

	kid, alg := keyring.ActiveKID()
	smtp := "none"
	if cfg.mailer != nil {
		smtp = cfg.mailer.String() // password redacted
	}
	build := buildinfo.Get()
	log.Info("authz listening", "addr", ln.Addr().String(), "issuer", issuer, "database", store.Dialect(), "kid", kid, "alg", alg,
		"tls", certs != nil, "client_cache", cfg.clientCache, "client_cache_check", store.AuthVersionSource(ctx), "gogc", gogc, "reminder_smtp", smtp,
		"version", build.Version, "commit", build.Commit, "build_date", build.Date, "go_version", build.GoVersion)
	if m.Listening != nil {
		m.Listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if certs != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = srv.Shutdown(shutdownCtx)
		cancel()
	}
	stopBG()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	log.Info("stopped")
	return err
}

// instanceID names this process in leases and claims.
func instanceID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// displayAddr turns a listen address into one a client can dial.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
