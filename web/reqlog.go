package web

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// requestIDHeader carries a request's id: the caller's when it is a sane
// token, otherwise a new one; echoed in the response and in the log line.
const requestIDHeader = "X-Request-Id"

func requestID(r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); len(id) >= 8 && len(id) <= 64 && strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") == "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// The fields a handler adds to its request's log line, kept in the echo
// context under these keys.
const (
	logOutcomeKey = "log.outcome"
	logClientKey  = "log.client_id"
	logLimitKey   = "log.limit"
)

// logOutcome sets the outcome field of the request's log line.
func logOutcome(c echo.Context, outcome string) { c.Set(logOutcomeKey, outcome) }

// logClient sets the client_id field of the request's log line.
func logClient(c echo.Context, clientID string) { c.Set(logClientKey, clientID) }

// logLimit sets the limit field of the request's log line: the request was
// refused by that rate limit or failure budget, and its line is sampled.
func logLimit(c echo.Context, limit string) { c.Set(logLimitKey, limit) }

// logField is the field a handler set under key, or "".
func logField(c echo.Context, key string) string {
	v, _ := c.Get(key).(string)
	return v
}

// requestLog gives each request an id and writes one line per request:
// never a body, a query string or an Authorization header, so never a
// secret. OAuth endpoints log at cfg.OAuthLogLevel, probes and scrapes at
// debug, everything else at info. Lines of requests refused by a rate
// limit or failure budget (429) are sampled: at most one per second per
// limit, carrying suppressed_since_last, the number held back before it,
// since a flood of them would otherwise write the log as fast as the
// limiter refuses (authz_rate_limited_total counts every one).
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := requestID(req)
		c.Response().Header().Set(requestIDHeader, id)
		if err := next(c); err != nil {
			c.Error(err)
		}
		path := req.URL.Path
		level := slog.LevelInfo
		switch {
		case strings.HasPrefix(path, "/oauth2/"):
			level = s.cfg.OAuthLogLevel
		case path == "/healthz" || path == "/readyz" || path == "/metrics":
			level = slog.LevelDebug
		}
		ctx := req.Context()
		if !s.cfg.Logger.Enabled(ctx, level) {
			return nil
		}
		limit := logField(c, logLimitKey)
		suppressed := 0
		if sample := s.limitedLog[limit]; sample != nil {
			var ok bool
			if ok, suppressed = sample.Take(s.cfg.Now()); !ok {
				return nil
			}
		}
		attrs := append(make([]slog.Attr, 0, 10),
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("path", path),
			slog.Int("status", c.Response().Status),
			slog.Float64("duration_ms", float64(time.Since(start))/float64(time.Millisecond)),
			slog.String("remote", req.RemoteAddr),
		)
		if outcome := logField(c, logOutcomeKey); outcome != "" {
			attrs = append(attrs, slog.String("outcome", outcome))
		}
		if clientID := logField(c, logClientKey); clientID != "" {
			attrs = append(attrs, slog.String("client_id", clientID))
		}
		if limit != "" {
			attrs = append(attrs, slog.String("limit", limit), slog.Int("suppressed_since_last", suppressed))
		}
		s.cfg.Logger.LogAttrs(ctx, level, "request", attrs...)
		return nil
	}
}
