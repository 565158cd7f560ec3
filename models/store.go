package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	sqlite "gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Store persists the domain in SQLite or PostgreSQL.
type Store struct {
	db      *gorm.DB
	sqlDB   *sql.DB
	dialect string // "sqlite" or "postgres"
	// authWatch validates AuthVersion's answers without a query (SQLite).
	authWatch authWatch
	// observe is the ObserveQueries hook for statements outside gorm.
	observe func(op string, d time.Duration, err error)
	// authVersionReads counts auth_version queries (for tests).
	authVersionReads atomic.Int64
	// file is the SQLite file's path, and fileInfo what it named when the
	// Store opened it: Ping notices the file deleted or replaced.
	file     string
	fileInfo os.FileInfo
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// DefaultURL is the database used when none is configured: an SQLite file in
// the working directory.
const DefaultURL = "sqlite:authz.db"

// Open connects to the database named by rawURL: "sqlite:PATH",
// "sqlite:///ABS/PATH" or a "postgres://" URL. It does not migrate.
func Open(ctx context.Context, rawURL string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dialector, dialect, file, err := dialectorFor(rawURL)
	if err != nil {
		return nil, err
	}
	st := &Store{dialect: dialect, file: file, Now: func() time.Time { return time.Now().UTC() }}
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		Logger:                 newGormLogger(log),
		// gorm's own timestamps follow the store's (replaceable) clock.
		NowFunc: func() time.Time { return st.Now().UTC() },
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	if dialect == "postgres" {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
	} else {
		// WAL lets readers run beside the single writer.
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	if file != "" {
		if st.fileInfo, err = os.Stat(file); err != nil {
			_ = sqlDB.Close()
			return nil, fmt.Errorf("database file: %w", err)
		}
		// Files made before authz created them 0600 followed the umask.
		if perm := st.fileInfo.Mode().Perm(); perm&0o077 != 0 {
			log.Warn("the database file is readable by other users; chmod 600 it and its -wal and -shm files", "path", file, "mode", perm.String())
		}
	}
	st.db, st.sqlDB = db, sqlDB
	return st, nil
}

// dialectorFor returns the dialector of rawURL, its dialect, and for
// SQLite the database file's path, creating the file if it is missing.
func dialectorFor(rawURL string) (gorm.Dialector, string, string, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			return nil, "", "", fmt.Errorf("database URL %s: %w", redactURL(rawURL), errors.Unwrap(err))
		}
		// pgx reads timestamptz in the machine's zone; read UTC everywhere.
		db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
			c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
			return nil
		}))
		return postgres.New(postgres.Config{Conn: db}), "postgres", "", nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		if !SQLiteAvailable {
			return nil, "", "", ErrNoSQLite
		}
		path := strings.TrimPrefix(rawURL, "sqlite:")
		if strings.HasPrefix(path, "//") { // sqlite:///abs/path
			path = strings.TrimPrefix(path, "//")
		}
		if path == "" {
			return nil, "", "", errors.New(`database URL: "sqlite:" needs a file path, e.g. sqlite:authz.db`)
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", "", fmt.Errorf("database directory: %w", err)
			}
		}
		// The file is created here with mode 0600, whatever the umask:
		// SQLite gives the -wal and -shm files the main file's mode. It is
		// then opened with mode=rw, so that if it is deleted while the
		// server runs, a new connection fails (ErrUnavailable) instead of
		// creating an empty database in its place.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			err = f.Close()
		} else if errors.Is(err, fs.ErrExist) {
			err = nil
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("database file: %w", err)
		}
		// mattn/go-sqlite3 (cgo) keeps statements prepared; the pure-Go
		// drivers re-parse every statement, which made the token endpoint
		// 2.3 times slower in BenchmarkTokenEndpoint.
		dsn := "file:" + path + "?mode=rw&_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=1&_synchronous=NORMAL&_txlock=immediate"
		return sqlite.Open(dsn), "sqlite", path, nil
	default:
		return nil, "", "", fmt.Errorf("database URL %q: want sqlite:PATH or postgres://...", redactURL(rawURL))
	}
}

// ErrNoSQLite is Open's answer to an sqlite: URL in a build without cgo.
var ErrNoSQLite = errors.New("this authz binary was built without cgo (CGO_ENABLED=0) and has no SQLite: " +
	"use a postgres:// database URL, or a build with cgo (the default where gcc is installed; scripts/build) for sqlite:")

// redactURL hides a password in a database URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Close closes the connection pool.
func (s *Store) Close() error {
	// The Once also keeps a watcher from being set up after Close.
	s.authWatch.once.Do(func() {})
	if w := s.authWatch.w; w != nil {
		w.close()
	}
	return s.sqlDB.Close()
}

// Ping checks that the database answers and, on SQLite, that the path
// still names the file the Store opened: a file deleted while the server
// runs keeps answering from open descriptors, so only the path tells
// (ErrFileGone).
func (s *Store) Ping(ctx context.Context) error {
	if s.fileInfo != nil {
		st, err := os.Stat(s.file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: %s no longer exists", ErrFileGone, s.file)
		case err != nil:
			return fmt.Errorf("%w: database file: %w", ErrUnavailable, err)
		case !os.SameFile(st, s.fileInfo):
			return fmt.Errorf("%w: %s is another file now", ErrFileGone, s.file)
		}
	}
	return s.sqlDB.PingContext(ctx)
}

func (s *Store) now() time.Time { return s.Now().UTC() }

// translate maps database errors onto the package's kinds, by type and
// by the driver's code, never by message text; a database that cannot be
// reached is ErrUnavailable, still wrapping the driver's error for the log.
// gorm translates a constraint violation of its own statements (its
// TranslateError); violated maps the driver's error of the statements run
// on the sql.DB directly.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey), violated(err) == KindConflict:
		return fmt.Errorf("%s: %w", what, ErrConflict)
	case errors.Is(err, gorm.ErrForeignKeyViolated), violated(err) == KindNotFound:
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case unavailable(err):
		return fmt.Errorf("%s: %w: %w", what, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// gormLogger sends gorm's errors to slog; SQL text is never logged because
// it can carry secrets' hashes. During an outage every statement fails, so
// it writes at most one line per second and counts the ones it held back.
type gormLogger struct {
	log        *slog.Logger
	last       *atomic.Int64 // unix nanoseconds of the last line written
	suppressed *atomic.Int64
}

func newGormLogger(log *slog.Logger) gormLogger {
	return gormLogger{log: log, last: new(atomic.Int64), suppressed: new(atomic.Int64)}
}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface      { return l }
func (l gormLogger) Info(context.Context, string, ...interface{})  {}
func (l gormLogger) Warn(context.Context, string, ...interface{})  {}
func (l gormLogger) Error(context.Context, string, ...interface{}) {}
func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err == nil || errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, context.Canceled) {
		return
	}
	now := time.Now().UnixNano()
	last := l.last.Load()
	if now-last < int64(time.Second) || !l.last.CompareAndSwap(last, now) {
		l.suppressed.Add(1)
		return
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "database error", slog.String("error", err.Error()), slog.Float64("duration_ms", float64(time.Since(begin))/float64(time.Millisecond)),
		slog.Int64("suppressed_since_last", l.suppressed.Swap(0)))
}
