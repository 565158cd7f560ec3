package web

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// LogOutput batches log lines: they reach out every interval, when 32 KiB
// are waiting, at every line at warning level or above (through
// NewLogHandler), and at Close. One write(2) per request line was 2% of the
// token endpoint's CPU under load; a crash loses at most interval of info
// lines.
type LogOutput struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// NewLogOutput starts flushing to out every interval.
func NewLogOutput(out io.Writer, interval time.Duration) *LogOutput {
	o := &LogOutput{buf: bufio.NewWriterSize(out, 32<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(o.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				o.Flush()
			case <-o.stop:
				return
			}
		}
	}()
	return o
}

func (o *LogOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	if err == nil && o.closed {
		err = o.buf.Flush()
	}
	return n, err
}

// writeRequest encodes rec's line straight into the buffer, and writes it
// out at once when flush is set or after Close, as Write does.
func (o *LogOutput) writeRequest(rec *requestRecord, flush bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, err := o.buf.Write(rec.appendJSON(o.buf.AvailableBuffer()))
	if err == nil && (flush || o.closed) {
		_ = o.buf.Flush()
	}
}

// Flush writes what is waiting.
func (o *LogOutput) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.buf.Flush()
}

// Close stops the flusher and writes what is waiting; lines logged later
// are written at once.
func (o *LogOutput) Close() {
	select {
	case <-o.stop:
		return
	default:
	}
	close(o.stop)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	_ = o.buf.Flush()
}

// NewLogHandler is slog's JSON handler on out, flushing out after every
// record at warning level or above.
func NewLogHandler(out *LogOutput, level slog.Leveler) slog.Handler {
	return logHandler{Handler: slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}), out: out, direct: true}
}

type logHandler struct {
	slog.Handler
	out *LogOutput
	// direct: no attributes or groups were added, so the request log can
	// write its lines itself (requestRecord.appendJSON), as the JSON
	// handler would.
	direct bool
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.out.Flush()
	}
	return err
}

// writeRequest writes a request log line as Handle would write
// rec.record(), without building it.
func (h logHandler) writeRequest(rec *requestRecord) {
	h.out.writeRequest(rec, rec.level >= slog.LevelWarn)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{Handler: h.Handler.WithAttrs(attrs), out: h.out}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{Handler: h.Handler.WithGroup(name), out: h.out}
}
