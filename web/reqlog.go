package web

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

// loggedContext is the echo.Context handlers see under requestLog: it
// carries the fields a handler adds to the request's log line (a field
// each rather than c.Set, which makes a map for every request).
type loggedContext struct {
	echo.Context
	outcome, clientID, limit string
}

// logOutcome sets the outcome field of the request's log line.
func logOutcome(c echo.Context, outcome string) {
	if lc, ok := c.(*loggedContext); ok {
		lc.outcome = outcome
	}
}

// logClient sets the client_id field of the request's log line.
func logClient(c echo.Context, clientID string) {
	if lc, ok := c.(*loggedContext); ok {
		lc.clientID = clientID
	}
}

// logLimit sets the limit field of the request's log line: the request was
// refused by that rate limit or failure budget, and its line is sampled.
func logLimit(c echo.Context, limit string) {
	if lc, ok := c.(*loggedContext); ok {
		lc.limit = limit
	}
}

// sampler lets one line through per second and counts the ones it holds
// back in between, for the next line to report. The zero value is ready;
// it is safe for concurrent use.
type sampler struct {
	mu         sync.Mutex
	last       time.Time // when the last line was let through
	started    bool
	suppressed int
}

// take reports whether a line may be written at now, and how many were
// held back since the last one that was.
func (s *sampler) take(now time.Time) (ok bool, suppressed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started && now.Sub(s.last) < time.Second {
		s.suppressed++
		return false, 0
	}
	s.started, s.last = true, now
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
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
		lc := &loggedContext{Context: c}
		if err := next(lc); err != nil {
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
		suppressed := 0
		if sample := s.limitedLog[lc.limit]; sample != nil {
			var ok bool
			if ok, suppressed = sample.take(s.cfg.Now()); !ok {
				return nil
			}
		}
		rec := requestRecord{
			time: time.Now(), level: level, id: id, method: req.Method, path: path,
			status: c.Response().Status, duration: time.Since(start), remote: req.RemoteAddr,
			outcome: lc.outcome, clientID: lc.clientID, limit: lc.limit, suppressed: suppressed,
		}
		if h, ok := s.cfg.Logger.Handler().(logHandler); ok && h.direct {
			h.writeRequest(&rec)
		} else {
			_ = s.cfg.Logger.Handler().Handle(ctx, rec.record())
		}
		return nil
	}
}

// requestRecord is one line of the request log.
type requestRecord struct {
	time                     time.Time
	level                    slog.Level
	id, method, path, remote string
	status                   int
	duration                 time.Duration
	outcome, clientID        string // omitted when empty
	limit                    string // omitted when empty, with suppressed
	suppressed               int
}

// record is the line as a slog record, for any slog handler. It has no
// source position: slog.Logger's methods walk the stack for one at every
// call.
func (r *requestRecord) record() slog.Record {
	rec := slog.NewRecord(r.time, r.level, "request", 0)
	attrs := append(make([]slog.Attr, 0, 10),
		slog.String("request_id", r.id),
		slog.String("method", r.method),
		slog.String("path", r.path),
		slog.Int("status", r.status),
		slog.Duration("duration", r.duration),
		slog.String("remote", r.remote),
	)
	if r.outcome != "" {
		attrs = append(attrs, slog.String("outcome", r.outcome))
	}
	if r.clientID != "" {
		attrs = append(attrs, slog.String("client_id", r.clientID))
	}
	if r.limit != "" {
		attrs = append(attrs, slog.String("limit", r.limit), slog.Int("suppressed_since_last", r.suppressed))
	}
	rec.AddAttrs(attrs...)
	return rec
}

// appendJSON appends the line exactly as slog's JSONHandler, without
// options, writes record() (TestRequestRecordJSON and FuzzRequestRecordJSON
// compare the two byte for byte), in a quarter of the instructions (3,500
// against 14,200 per line): slog's handler was the token endpoint's largest
// single cost after the signature.
func (r *requestRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = r.time.Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendJSONString(b, r.level.String())
	b = append(b, `,"msg":"request","request_id":`...)
	b = appendJSONString(b, r.id)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.status), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(r.duration), 10)
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, r.remote)
	if r.outcome != "" {
		b = append(b, `,"outcome":`...)
		b = appendJSONString(b, r.outcome)
	}
	if r.clientID != "" {
		b = append(b, `,"client_id":`...)
		b = appendJSONString(b, r.clientID)
	}
	if r.limit != "" {
		b = append(b, `,"limit":`...)
		b = appendJSONString(b, r.limit)
		b = append(b, `,"suppressed_since_last":`...)
		b = strconv.AppendInt(b, int64(r.suppressed), 10)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string escaped as slog escapes it:
// '"', '\\' and control characters escaped, invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped, everything else (<, >, & included) as is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"
