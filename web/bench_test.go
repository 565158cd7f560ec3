package web_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testkeys"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
	"github.com/authz/authz/web/benchref"
	"github.com/labstack/echo/v4"
)

// BenchmarkTokenHTTP serves token requests through web.New's handler (Echo,
// metrics, the request log at info as authz serve writes it, into
// io.Discard) with an httptest recorder, next to the references of
// web/benchref on the same requests:
//
//	go test ./web -run '^$' -bench TokenHTTP -benchmem
//
// token reports x-sign and x-fixed: its time per request as a multiple of
// the sign and fixed references measured just before it.
func BenchmarkTokenHTTP(b *testing.B) {
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
	owner := &models.User{OrgID: models.DefaultOrgID, Email: "owner@bench.example", Name: "Owner", Permissions: models.NewSet(readScope, createScope, configScope)}
	if err := store.CreateUser(ctx, owner); err != nil {
		b.Fatal(err)
	}
	c, secret, err := app.NewRegistry(store, app.RegistryConfig{Hasher: hasher, Issuer: issuer}).Create(ctx, app.Operator(models.DefaultOrgID), app.NewClient{
		OwnerEmail: owner.Email, Name: "bench client", Scopes: []string{readScope, createScope},
		IPAllowlist: []string{"127.0.0.0/8"}, TokenTTL: 10 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	// As authz serve: query metrics, a metrics observer, the limiter (its
	// per-IP rate raised: every request comes from one address), the
	// request log at info (into io.Discard).
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	metrics := web.NewMetrics(nil)
	if err := store.ObserveQueries(metrics.ObserveQuery); err != nil {
		b.Fatal(err)
	}
	usage := app.NewUsageRecorder(store, time.Hour, log)
	audit := app.NewAuditWriter(store, 4096, log)
	tokens, err := oauth.NewServer(oauth.Config{Issuer: issuer, Observer: metrics, Logger: log}, store, hasher, keyring, usage, audit)
	if err != nil {
		b.Fatal(err)
	}
	tokens.EnableIntrospection(keyring, store)
	tokens.SetLimiter(oauth.NewLimiter(oauth.LimiterConfig{Rate: 1e9}))
	prod := web.New(web.Config{Issuer: issuer, Logger: log, Metrics: metrics}, tokens, keyring, store)
	ref, err := benchref.New(keyring, benchref.Token{Claims: jwtkeys.AccessToken{
		Issuer: issuer, ClientID: c.ID, OwnerID: c.OwnerID, Audience: issuer, Scope: readScope, TTL: 10 * time.Minute,
	}})
	if err != nil {
		b.Fatal(err)
	}

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(c.ID+":"+secret))
	serve := func(h http.Handler, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader("grant_type=client_credentials&scope=analysis%3Aread"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		r.RemoteAddr = "127.0.0.1:50000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		name    string
		handler http.Handler
		path    string
	}{
		{"fixed", ref, benchref.FixedPath},
		{"sign", ref, benchref.SignPath},
		{"token", prod, "/oauth2/token"},
	}
	perOp := map[string]float64{}
	for _, tc := range cases {
		if w := serve(tc.handler, tc.path); w.Code != http.StatusOK {
			b.Fatalf("%s: status %d: %s", tc.name, w.Code, w.Body)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(tc.handler, tc.path)
			}
			perOp[tc.name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if tc.name == "token" && perOp["sign"] > 0 {
				b.ReportMetric(perOp["token"]/perOp["sign"], "x-sign")
				b.ReportMetric(perOp["token"]/perOp["fixed"], "x-fixed")
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}

// BenchmarkHTTPMetrics is the cost of Metrics.Middleware: a request to an
// Echo route that answers at once, without and with it. The difference is
// what the RED metrics add to every request, the token endpoint's
// included (compare with BenchmarkTokenHTTP/token):
//
//	go test ./web -run '^$' -bench HTTPMetrics -benchmem
func BenchmarkHTTPMetrics(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		e := echo.New()
		name := "bare"
		if withMetrics {
			e.Use(web.NewMetrics(nil).Middleware)
			name = "metrics"
		}
		e.POST("/oauth2/token", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", nil)
		w := discardWriter{h: http.Header{}}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e.ServeHTTP(w, r)
			}
		})
	}
}
