package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/oauth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// KeyAge describes one signing key for the key-age gauge.
type KeyAge struct {
	KID     string
	State   string
	Created time.Time
}

// DefaultClientSeries is how many clients get a series of their own in
// authz_client_tokens_issued_total by default.
const DefaultClientSeries = 10_000

// DefaultOrgSeries is how many organizations get a series of their own in
// authz_org_tokens_issued_total by default.
const DefaultOrgSeries = 10_000

// Metrics are the Prometheus metrics of one authz process, served at
// /metrics. authz_client_tokens_issued_total has one series per client
// that obtained a token, for the first LimitClientSeries clients to do so;
// tokens of later ones are counted in
// authz_client_tokens_issued_unlisted_total, so that a million active
// clients cannot make a million series. authz_org_tokens_issued_total does
// the same per organization (LimitOrgSeries).
type Metrics struct {
	reg           *prometheus.Registry
	tokenRequests *prometheus.CounterVec
	clients       *boundedSeries
	orgs          *boundedSeries
	latency       *prometheus.HistogramVec
	// The token endpoint's series for issued tokens, resolved once: a
	// label lookup hashes its values at every call.
	tokenLatency prometheus.Observer
	tokensIssued prometheus.Counter
	authFailures *prometheus.CounterVec
	rateLimited  *prometheus.CounterVec
	dbLatency    *prometheus.HistogramVec
	dbErrors     *prometheus.CounterVec
}

// NewMetrics registers authz's metrics, the Go runtime's and the process's.
// keys, when set, is read at each scrape for the key-age gauge.
func NewMetrics(keys func() []KeyAge) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_token_requests_total", Help: "Token endpoint requests by outcome: issued or the OAuth error code.",
		}, []string{"outcome"}),
		clients: newBoundedSeries(DefaultClientSeries, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_client_tokens_issued_total", Help: "Tokens issued, by client (the first clients up to the configured number of series).",
		}, []string{"client_id"}), prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authz_client_tokens_issued_unlisted_total", Help: "Tokens issued to clients without a series of their own in authz_client_tokens_issued_total.",
		})),
		orgs: newBoundedSeries(DefaultOrgSeries, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_org_tokens_issued_total", Help: "Tokens issued, by the client's organization (id; the first organizations up to the configured number of series).",
		}, []string{"org_id"}), prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authz_org_tokens_issued_unlisted_total", Help: "Tokens issued to clients of organizations without a series of their own in authz_org_tokens_issued_total.",
		})),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authz_request_duration_seconds", Help: "Latency of the OAuth endpoints.",
			Buckets: []float64{.0005, .001, .002, .004, .008, .016, .032, .064, .128, .256, .512, 1},
		}, []string{"endpoint"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_client_auth_failures_total", Help: "Failed client authentications by reason.",
		}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_rate_limited_total", Help: "Requests refused with 429, by the limit that applied.",
		}, []string{"limit"}),
		dbLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authz_db_query_duration_seconds", Help: "Database statement latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"op"}),
		dbErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_db_errors_total", Help: "Database statements that failed, by operation.",
		}, []string{"op"}),
	}
	m.tokenLatency = m.latency.WithLabelValues("token")
	m.tokensIssued = m.tokenRequests.WithLabelValues("issued")
	for _, limit := range oauth.Limits {
		// Every limit's series exists from the start, at zero: a rate of
		// a series that appears only at its first 429 misses that one.
		m.rateLimited.WithLabelValues(limit)
	}
	m.reg.MustRegister(m.tokenRequests, m.clients.vec, m.clients.unlisted, m.orgs.vec, m.orgs.unlisted, m.latency, m.authFailures, m.rateLimited, m.dbLatency, m.dbErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if keys != nil {
		m.reg.MustRegister(keyAgeCollector{keys: keys, desc: prometheus.NewDesc("authz_signing_key_age_seconds",
			"Age of each published signing key, by state.", []string{"kid", "state"}, nil)})
	}
	m.reg.MustRegister(buildInfoGauge(buildinfo.Get()))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// AuthFailed counts a failed client authentication (oauth.Observer).
func (m *Metrics) AuthFailed(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

// ObserveQuery records one database statement (models.Store hook).
func (m *Metrics) ObserveQuery(op string, d time.Duration, err error) {
	m.dbLatency.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.dbErrors.WithLabelValues(op).Inc()
	}
}

// oauthRequest counts one OAuth endpoint request; clientID and orgID are
// the client an issued token went to and its organization.
func (m *Metrics) oauthRequest(endpoint, outcome, clientID, orgID, limit string, d time.Duration) {
	if endpoint == "token" && outcome == "issued" {
		m.tokenLatency.Observe(d.Seconds())
		m.tokensIssued.Inc()
		m.clients.counter(clientID).Inc()
		m.orgs.counter(orgID).Inc()
		return
	}
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
	if endpoint == "token" {
		m.tokenRequests.WithLabelValues(outcome).Inc()
	}
	if limit != "" {
		m.rateLimited.WithLabelValues(limit).Inc()
	}
}

// LimitClientSeries sets how many clients get a series of their own in
// authz_client_tokens_issued_total (0: none). Call it before serving.
func (m *Metrics) LimitClientSeries(n int) { m.clients.setLimit(n) }

// LimitOrgSeries sets how many organizations get a series of their own in
// authz_org_tokens_issued_total (0: none). Call it before serving.
func (m *Metrics) LimitOrgSeries(n int) { m.orgs.setLimit(n) }

// boundedSeries is a counter with one label whose first limit values get a
// series of their own; later ones are counted in unlisted.
type boundedSeries struct {
	vec      *prometheus.CounterVec
	unlisted prometheus.Counter
	// series maps a label value to its series (prometheus.Counter): a
	// lookup without hashing the label value at every token.
	series sync.Map
	mu     sync.Mutex // guards n, limit and adding to series
	n      int
	limit  int
}

func newBoundedSeries(limit int, vec *prometheus.CounterVec, unlisted prometheus.Counter) *boundedSeries {
	return &boundedSeries{vec: vec, unlisted: unlisted, limit: limit}
}

func (b *boundedSeries) setLimit(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limit = max(0, n)
}

// counter returns the series of value, or the unlisted counter once the
// limit of series is reached.
func (b *boundedSeries) counter(value string) prometheus.Counter {
	if c, ok := b.series.Load(value); ok {
		return c.(prometheus.Counter)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.series.Load(value); ok {
		return c.(prometheus.Counter)
	}
	if b.n >= b.limit {
		return b.unlisted
	}
	c := b.vec.WithLabelValues(value)
	b.series.Store(value, c)
	b.n++
	return c
}

type keyAgeCollector struct {
	keys func() []KeyAge
	desc *prometheus.Desc
}

func (c keyAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c keyAgeCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, k := range c.keys() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, now.Sub(k.Created).Seconds(), k.KID, k.State)
	}
}
