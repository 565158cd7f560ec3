package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/labstack/echo/v4"
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
	// The RED metrics of every route (see Middleware), and the series of
	// each route and method, made at its first request (routeKey to
	// *httpSeries): bounded, since routes are Echo's templates and methods
	// a fixed set.
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	httpSeries   sync.Map
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
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authz_http_requests_total", Help: "HTTP requests by route (the route's template; unmatched for none), method and status class.",
		}, []string{"route", "method", "code_class"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authz_http_request_duration_seconds", Help: "HTTP request latency by route (the route's template; unmatched for none) and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	m.tokenLatency = m.latency.WithLabelValues("token")
	m.tokensIssued = m.tokenRequests.WithLabelValues("issued")
	// Every error and limit counter whose label values are known exists
	// from the start, at zero: a rate of a series that appears only at its
	// first increment misses that one, and an alert on it sees no data
	// rather than zero until then.
	for _, limit := range oauth.Limits {
		m.rateLimited.WithLabelValues(limit)
	}
	for _, code := range oauth.TokenErrorCodes {
		m.tokenRequests.WithLabelValues(code)
	}
	for _, reason := range oauth.AuthFailureReasons {
		m.authFailures.WithLabelValues(reason)
	}
	for _, op := range models.ObservedOps {
		m.dbErrors.WithLabelValues(op)
	}
	m.reg.MustRegister(m.tokenRequests, m.clients.vec, m.clients.unlisted, m.orgs.vec, m.orgs.unlisted, m.latency, m.authFailures, m.rateLimited, m.dbLatency, m.dbErrors,
		m.httpRequests, m.httpDuration,
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

// Middleware counts and times every request by route, method and status
// class (authz_http_requests_total, authz_http_request_duration_seconds),
// after routing (the route is Echo's template, such as
// /admin/api/v1/orgs/:org/clients/:id, never a path with ids in it) and
// around everything else, so the status is the one sent. A request no
// route matched is counted under the route "unmatched", and a method
// outside the standard ones as "other", so no caller can make a series.
// The series are looked up without locks once made: this runs at every
// token request (BenchmarkHTTPMetrics).
func (m *Metrics) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		hs := m.series(route, methodLabel(c.Request().Method))
		if status >= 200 && status < 600 {
			hs.requests[status/100-2].Inc()
		} else {
			m.httpRequests.WithLabelValues(hs.route, hs.method, codeClass(status)).Inc()
		}
		hs.duration.Observe(time.Since(start).Seconds())
		return nil
	}
}

// InitRoutes makes the 4xx and 5xx series of authz_http_requests_total of
// every route and method, at zero (see NewMetrics). Call it once the
// routes are mounted.
func (m *Metrics) InitRoutes(routes []*echo.Route) {
	for _, r := range routes {
		if method := methodLabel(r.Method); method != "other" {
			m.httpRequests.WithLabelValues(r.Path, method, "4xx")
			m.httpRequests.WithLabelValues(r.Path, method, "5xx")
		}
	}
}

type routeKey struct{ route, method string }

// httpSeries are the series of one route and method.
type httpSeries struct {
	route, method string
	requests      [4]prometheus.Counter // 2xx, 3xx, 4xx, 5xx
	duration      prometheus.Observer
}

// series returns the series of route and method, made at the first call.
func (m *Metrics) series(route, method string) *httpSeries {
	k := routeKey{route, method}
	if hs, ok := m.httpSeries.Load(k); ok {
		return hs.(*httpSeries)
	}
	hs := &httpSeries{route: route, method: method, duration: m.httpDuration.WithLabelValues(route, method)}
	for i := range hs.requests {
		hs.requests[i] = m.httpRequests.WithLabelValues(route, method, codeClass(200+100*i))
	}
	actual, _ := m.httpSeries.LoadOrStore(k, hs)
	return actual.(*httpSeries)
}

// methodLabel is the method label of a request: one of the standard
// methods, or "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// codeClass is the status class label of a status: "2xx" for 200 to 299.
func codeClass(status int) string {
	switch {
	case status < 200:
		return "1xx"
	case status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
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
