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
	return logHandler{Handler: slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level}), out: out}
}

type logHandler struct {
	slog.Handler
	out *LogOutput
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.out.Flush()
	}
	return err
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{Handler: h.Handler.WithAttrs(attrs), out: h.out}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{Handler: h.Handler.WithGroup(name), out: h.out}
}
