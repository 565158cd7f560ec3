package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// authTables are the tables and columns AuthClient reads. A change to any of
// them (an insert, a delete, or an update of one of the columns) bumps
// auth_version.v, by trigger, whoever makes it: this process, another
// instance, the CLI or a hand-written UPDATE. Usage columns (last_used_*,
// token_count) and updated_at are left out: they change at every usage
// flush and no authentication decision reads them. Migrations 6, 7, 10, 11 and 12
// made the triggers of this list; a change to it needs a migration that makes
// them again (dropTriggers, then authTriggers).
var authTables = []authTable{
	{"clients", "id, owner_id, org_id, project_id, kind, scopes, audiences, token_ttl, ip_allowlist, expires_at, renewed_at, status, created_at, created_by, resource_server, require_dpop, auth_method, jwks, jwks_uri, federation_issuer_id, federation_subject, federation_conditions"},
	authTablesV6[1], authTablesV6[2], authTablesV6[3], authTablesV6[4], authTablesV6[5], authTablesV6[6],
	{"trusted_issuers", "id, org_id, issuer, jwks_uri, jwks, audience, max_token_lifetime, single_use"},
}

// authTablesV11 is the clients' entry migration 11 made triggers for, with
// the public-key columns (migration 12 made them again, with the
// federation binding); it stays as it was.
var authTablesV11 = []authTable{
	{"clients", "id, owner_id, org_id, project_id, kind, scopes, audiences, token_ttl, ip_allowlist, expires_at, renewed_at, status, created_at, created_by, resource_server, require_dpop, auth_method, jwks, jwks_uri"},
}

// authTablesV10 is the clients' entry migration 10 made triggers for, with
// require_dpop (migration 11 made them again, with the public-key columns);
// it stays as it was.
var authTablesV10 = []authTable{
	{"clients", "id, owner_id, org_id, project_id, kind, scopes, audiences, token_ttl, ip_allowlist, expires_at, renewed_at, status, created_at, created_by, resource_server, require_dpop"},
}

// authTablesV7 is the clients' list of migration 7 (migration 10 made it
// again with require_dpop); it stays as it was.
var authTablesV7 = []authTable{
	{"clients", "id, owner_id, org_id, project_id, kind, scopes, audiences, token_ttl, ip_allowlist, expires_at, renewed_at, status, created_at, created_by, resource_server"},
}

// authTablesV6 is the list migration 6 made triggers for (migration 7 made
// those of clients again, with renewed_at); it stays as it was.
var authTablesV6 = []authTable{
	{"clients", "id, owner_id, org_id, project_id, kind, scopes, audiences, token_ttl, ip_allowlist, expires_at, status, created_at, created_by, resource_server"},
	{"client_secrets", "id, client_id, hash, format, created_at, expires_at, revoked_at"},
	{"users", "id, email"},
	{"memberships", "org_id, user_id, role, permissions, may_create_clients, status"},
	{"organizations", "id, slug, status, default_project_id"},
	{"projects", "id, org_id, slug, resource"},
	{"policies", "org_id, max_credential_lifetime, default_token_ttl, max_token_ttl, ip_allowlist, legacy_sunset, creation_restricted, publishable_scopes"},
}

// authTablesV3 is the list migration 3 made triggers for; migrations are
// never edited, so it stays as it was.
var authTablesV3 = []authTable{
	{"clients", "id, owner_id, scopes, audiences, token_ttl, ip_allowlist, expires_at, status, created_at, resource_server"},
	{"client_secrets", "id, client_id, hash, format, created_at, expires_at, revoked_at"},
	{"users", "id, email, status, permissions"},
	{"policies", "id, max_credential_lifetime, default_token_ttl, max_token_ttl, ip_allowlist, legacy_sunset"},
}

type authTable struct{ table, columns string }

// authVersionTriggers returns migration 3's function and triggers in the
// dialect.
//
// SQLite has one writer at a time, so plain row triggers do. On PostgreSQL
// the bump is a deferred constraint trigger that runs once per transaction
// at commit: the auth_version row is then the last lock a transaction
// takes, and is held only while it commits, so two transactions that
// change clients or owners in different orders cannot deadlock on it.
func authVersionTriggers(dialect string) []string {
	var out []string
	if dialect == "postgres" {
		out = append(out, `CREATE FUNCTION authz_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('authz.auth_changed', true) IS DISTINCT FROM 'yes' THEN
		UPDATE auth_version SET v = v + 1 WHERE id = 1;
		PERFORM set_config('authz.auth_changed', 'yes', true);
	END IF;
	RETURN NULL;
END
$$`)
	}
	return append(out, authTriggers(dialect, authTablesV3)...)
}

// authTriggers returns the triggers that bump auth_version on a change to
// tables (authz_auth_changed must exist on PostgreSQL).
func authTriggers(dialect string, tables []authTable) []string {
	var out []string
	for _, t := range tables {
		if dialect == "postgres" {
			out = append(out, fmt.Sprintf(`CREATE CONSTRAINT TRIGGER %s_auth_changed AFTER INSERT OR DELETE OR UPDATE OF %s ON %s
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION authz_auth_changed()`, t.table, t.columns, t.table))
			continue
		}
		for _, event := range []string{"INSERT", "DELETE", "UPDATE OF " + t.columns} {
			name := t.table + "_auth_" + strings.ToLower(strings.Fields(event)[0])
			out = append(out, fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s BEGIN UPDATE auth_version SET v = v + 1 WHERE id = 1; END", name, event, t.table))
		}
	}
	return out
}

// dropTriggers returns the statements that drop authTriggers' triggers
// of tables.
func dropTriggers(dialect string, tables []authTable) []string {
	var out []string
	for _, t := range tables {
		if dialect == "postgres" {
			out = append(out, fmt.Sprintf("DROP TRIGGER IF EXISTS %s_auth_changed ON %s", t.table, t.table))
			continue
		}
		for _, event := range []string{"insert", "delete", "update"} {
			out = append(out, fmt.Sprintf("DROP TRIGGER IF EXISTS %s_auth_%s", t.table, event))
		}
	}
	return out
}

const authVersionSQL = "SELECT v FROM auth_version WHERE id = 1"

// authVersionCheck is how long AuthVersion may answer from the SQLite
// shared-memory header alone before it reads auth_version again anyway (a
// bound on the damage should the header ever stop reflecting commits).
var authVersionCheck = time.Second

// AuthVersion returns a number that changes whenever anything AuthClient
// reads changes (see authTables). A caller that reads AuthVersion, then
// AuthClient, may reuse what AuthClient returned for as long as AuthVersion
// returns the same number.
//
// On PostgreSQL it reads the auth_version row. On SQLite in WAL mode it
// first looks at the WAL-index header in the database's shared memory
// (six words, one of which changes at every commit by any connection of
// any process; see walwatch_linux.go), and reads the row only when a commit
// happened since it last did, or a second has passed: an unchanged
// database costs no query.
//
// The header is cleverness kept on measurement: the plain way, reading the
// row at every call on SQLite too, cost the token endpoint 30 to 46 µs more
// server CPU per request under load (bench/load.sh, three alternations:
// 0.57 to 0.65 × the sign reference by CPU per request, against 0.85 to
// 0.88 with the header; see docs/performance.md), far beyond the 5% that
// would keep it.
func (s *Store) AuthVersion(ctx context.Context) (int64, error) {
	w := s.watcher(ctx)
	if w == nil {
		return s.readAuthVersion(ctx)
	}
	hdr, ok := w.header()
	if !ok {
		return 0, fmt.Errorf("auth version: %w", errClosed)
	}
	if seen := w.seen.Load(); seen != nil && seen.hdr == hdr && time.Since(seen.at) < authVersionCheck {
		return seen.v, nil
	}
	// The header is read before the row: a commit after this point changes
	// the header again, so a later call cannot mistake it for this one.
	v, err := s.readAuthVersion(ctx)
	if err != nil {
		return 0, err
	}
	w.seen.Store(&walSeen{hdr: hdr, v: v, at: time.Now()})
	return v, nil
}

// AuthVersionSource says how AuthVersion knows the database is unchanged:
// "sqlite-wal-index" (the shared-memory header, no query while nothing
// was committed) or "query" (auth_version is read at every call).
func (s *Store) AuthVersionSource(ctx context.Context) string {
	if s.watcher(ctx) != nil {
		return "sqlite-wal-index"
	}
	return "query"
}

func (s *Store) watcher(ctx context.Context) *walWatcher {
	s.authWatch.once.Do(func() { s.authWatch.w = s.watchWAL(context.WithoutCancel(ctx)) })
	return s.authWatch.w
}

func (s *Store) readAuthVersion(ctx context.Context) (int64, error) {
	s.authVersionReads.Add(1)
	start := time.Now()
	var v int64
	err := s.sqlDB.QueryRowContext(ctx, authVersionSQL).Scan(&v)
	s.observed(opAuthVersion, start, err)
	return v, translate(err, "auth version")
}

// errClosed is returned by a Store used after Close.
var errClosed = errors.New("store closed")

// authWatch is the Store's WAL watcher, set up at the first AuthVersion.
type authWatch struct {
	once sync.Once
	w    *walWatcher
}

// walSeen is the header last seen with the auth_version read after it.
type walSeen struct {
	hdr [walHeaderWords]uint32
	v   int64
	at  time.Time
}

// walWatcher reads the WAL-index header of an SQLite database in WAL mode.
// It holds one connection open for as long as the Store is open: while a
// connection of this process is open, no other connection can be the last
// to close the database, which would delete the shared-memory file, nor
// the first to open it, which would truncate it.
type walWatcher struct {
	hold *sql.Conn
	mu   sync.RWMutex // held for reading around every look at the mapping
	mem  []byte       // nil once closed
	seen atomic.Pointer[walSeen]
	// unmap releases mem.
	unmap func([]byte) error
}

// header returns the header's words, or false once the watcher is closed.
func (w *walWatcher) header() ([walHeaderWords]uint32, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.mem == nil {
		return [walHeaderWords]uint32{}, false
	}
	return readWALHeader(w.mem), true
}

func (w *walWatcher) close() {
	w.mu.Lock()
	mem := w.mem
	w.mem = nil
	w.mu.Unlock()
	if mem != nil {
		_ = w.unmap(mem)
	}
	_ = w.hold.Close()
}
