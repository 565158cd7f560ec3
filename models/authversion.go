package models

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// authTables are the tables and columns AuthClient reads. A change to any of
// them (an insert, a delete, or an update of one of the columns) bumps
// auth_version.v, by trigger, whoever makes it: this process, another
// instance, the CLI or a hand-written UPDATE. Usage columns (last_used_*,
// token_count) and updated_at are left out: they change at every usage
// flush and no authentication decision reads them.
var authTables = []struct{ table, columns string }{
	{"clients", "id, owner_id, scopes, audiences, token_ttl, ip_allowlist, expires_at, status, created_at, resource_server"},
	{"client_secrets", "id, client_id, hash, format, created_at, expires_at, revoked_at"},
	{"users", "id, email, status, permissions"},
	{"policies", "id, max_credential_lifetime, default_token_ttl, max_token_ttl, ip_allowlist, legacy_sunset"},
}

// authVersionTriggers returns migration 3's triggers in the dialect.
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
		for _, t := range authTables {
			out = append(out, fmt.Sprintf(`CREATE CONSTRAINT TRIGGER %s_auth_changed AFTER INSERT OR DELETE OR UPDATE OF %s ON %s
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION authz_auth_changed()`, t.table, t.columns, t.table))
		}
		return out
	}
	for _, t := range authTables {
		for _, event := range []string{"INSERT", "DELETE", "UPDATE OF " + t.columns} {
			name := t.table + "_auth_" + strings.ToLower(strings.Fields(event)[0])
			out = append(out, fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s BEGIN UPDATE auth_version SET v = v + 1 WHERE id = 1; END", name, event, t.table))
		}
	}
	return out
}

const authVersionSQL = "SELECT v FROM auth_version WHERE id = 1"

// AuthVersion returns a number that changes whenever anything AuthClient
// reads changes (see authTables). A caller that reads AuthVersion, then
// AuthClient, may reuse what AuthClient returned for as long as AuthVersion
// returns the same number. It is one primary-key read of the auth_version
// row, on either database.
func (s *Store) AuthVersion(ctx context.Context) (int64, error) {
	start := time.Now()
	var v int64
	err := s.sqlDB.QueryRowContext(ctx, authVersionSQL).Scan(&v)
	s.observed("auth_version", start, err)
	return v, translate(err, "auth version")
}
