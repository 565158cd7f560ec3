package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// migration is one versioned schema change. The SQL is portable between
// SQLite and PostgreSQL except for the type placeholders {{ts}} and {{bytes}};
// dialect, when set, returns statements of the dialect's own, run after sql.
type migration struct {
	version int
	name    string
	sql     string
	dialect func(dialect string) []string
	// run, when set, is a step in Go, run last in the migration's
	// transaction: for a change that depends on the data.
	run func(s *Store, tx *gorm.DB) error
}

// migrations are applied in order and never edited once released: add a new
// one instead.
var migrations = []migration{
	{version: 1, name: "core", sql: `
CREATE TABLE users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	permissions TEXT NOT NULL DEFAULT '[]',
	status TEXT NOT NULL,
	may_create_clients BOOLEAN NOT NULL DEFAULT FALSE,
	password_hash TEXT NOT NULL DEFAULT '',
	created_at {{ts}} NOT NULL,
	updated_at {{ts}} NOT NULL
);
CREATE TABLE clients (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	owner_id TEXT NOT NULL REFERENCES users(id),
	created_by TEXT NOT NULL DEFAULT '',
	scopes TEXT NOT NULL DEFAULT '[]',
	audiences TEXT NOT NULL DEFAULT '[]',
	token_ttl BIGINT NOT NULL DEFAULT 0,
	ip_allowlist TEXT NOT NULL DEFAULT '[]',
	expires_at {{ts}},
	status TEXT NOT NULL,
	revoked_at {{ts}},
	last_used_at {{ts}},
	last_used_ip TEXT NOT NULL DEFAULT '',
	last_user_agent TEXT NOT NULL DEFAULT '',
	created_at {{ts}} NOT NULL,
	updated_at {{ts}} NOT NULL
);
CREATE INDEX clients_owner_status ON clients (owner_id, status);
CREATE TABLE client_secrets (
	id TEXT PRIMARY KEY,
	client_id TEXT NOT NULL REFERENCES clients(id),
	hash {{bytes}} NOT NULL,
	prefix TEXT NOT NULL,
	last4 TEXT NOT NULL,
	created_at {{ts}} NOT NULL,
	expires_at {{ts}},
	revoked_at {{ts}},
	last_used_at {{ts}}
);
CREATE INDEX client_secrets_client ON client_secrets (client_id);
CREATE TABLE signing_keys (
	kid TEXT PRIMARY KEY,
	generation BIGINT NOT NULL UNIQUE,
	alg TEXT NOT NULL,
	public_key {{bytes}} NOT NULL,
	private_key_enc {{bytes}} NOT NULL,
	state TEXT NOT NULL,
	created_at {{ts}} NOT NULL,
	activated_at {{ts}},
	retired_at {{ts}}
);
CREATE TABLE settings (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`},
	{version: 2, name: "governance", sql: `
ALTER TABLE client_secrets ADD COLUMN format TEXT NOT NULL DEFAULT 'current';
ALTER TABLE client_secrets ADD COLUMN last_used_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE client_secrets ADD COLUMN last_user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE client_secrets ADD COLUMN token_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN token_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN resource_server BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX clients_expires_at ON clients (expires_at);
CREATE TABLE policies (
	id INTEGER PRIMARY KEY,
	max_credential_lifetime BIGINT NOT NULL,
	default_credential_lifetime BIGINT NOT NULL,
	default_token_ttl BIGINT NOT NULL,
	max_token_ttl BIGINT NOT NULL,
	max_clients_per_owner INTEGER NOT NULL,
	creation_restricted BOOLEAN NOT NULL,
	ip_allowlist TEXT NOT NULL DEFAULT '[]',
	rotation_grace BIGINT NOT NULL,
	reminder_webhook_url TEXT NOT NULL DEFAULT '',
	legacy_sunset {{ts}},
	updated_at {{ts}} NOT NULL,
	updated_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE audit_events (
	id TEXT PRIMARY KEY,
	at {{ts}} NOT NULL,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	client_id TEXT NOT NULL DEFAULT '',
	user_id TEXT NOT NULL DEFAULT '',
	ip TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_client_at ON audit_events (client_id, at);
CREATE TABLE revoked_tokens (
	jti TEXT PRIMARY KEY,
	client_id TEXT NOT NULL,
	expires_at {{ts}} NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id),
	created_at {{ts}} NOT NULL,
	expires_at {{ts}} NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE TABLE reminders (
	client_id TEXT NOT NULL REFERENCES clients(id),
	days INTEGER NOT NULL,
	expires_at {{ts}} NOT NULL,
	claimed_by TEXT NOT NULL DEFAULT '',
	claimed_until {{ts}},
	attempts INTEGER NOT NULL DEFAULT 0,
	sent_at {{ts}},
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (client_id, days, expires_at)
);
CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	until {{ts}} NOT NULL
);
`},
	{version: 3, name: "auth_version", dialect: authVersionTriggers, sql: `
CREATE TABLE auth_version (
	id INTEGER PRIMARY KEY,
	v BIGINT NOT NULL
);
INSERT INTO auth_version (id, v) VALUES (1, 0);
`},
	// Sessions get a public id (ref) for listing and ending them, a last-seen
	// time and the epoch of their user (see Store.EndSessions). Sessions of
	// the old table had neither, so they end: their users sign in again.
	{version: 4, name: "session_management", sql: `
DROP TABLE sessions;
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	ref TEXT NOT NULL UNIQUE,
	user_id TEXT NOT NULL REFERENCES users(id),
	epoch BIGINT NOT NULL,
	created_at {{ts}} NOT NULL,
	expires_at {{ts}} NOT NULL,
	last_seen_at {{ts}} NOT NULL,
	ip TEXT NOT NULL DEFAULT '',
	user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
`},
	// Organizations and their projects (docs/design.md, Domain). Every
	// database gets the organization "default" with one project "default":
	// on an upgraded one they hold what existed before, so nothing else
	// changes and every credential keeps working. Their ids are fixed so
	// that later migrations can refer to them in plain SQL.
	{version: 5, name: "organizations", sql: `
CREATE TABLE organizations (
	id TEXT PRIMARY KEY,
	slug TEXT NOT NULL UNIQUE,
	name TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at {{ts}} NOT NULL,
	updated_at {{ts}} NOT NULL
);
CREATE TABLE projects (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id),
	slug TEXT NOT NULL,
	name TEXT NOT NULL,
	resource TEXT NOT NULL DEFAULT '',
	created_at {{ts}} NOT NULL,
	updated_at {{ts}} NOT NULL,
	UNIQUE (org_id, slug)
);
INSERT INTO organizations (id, slug, name, status, created_at, updated_at)
	VALUES ('00000000-0000-0000-0000-000000000001', 'default', 'Default', 'active', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
INSERT INTO projects (id, org_id, slug, name, created_at, updated_at)
	VALUES ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000001', 'default', 'Default', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
`},
	// Tenancy (docs/design.md, Domain): a person's role, permissions, right
	// to create clients and status move to a membership per organization;
	// the policy becomes one row per organization, with the publishable
	// scope set; clients get their organization, project and kind; audit
	// events their organization; an organization may name its default
	// project; a project's resource is unique across the server. What
	// existed before lands in the default organization and its default
	// project, so every credential keeps working with the same secret (see
	// upgradeToTenancy for the clients that named audiences). The auth
	// triggers are made again for the tables and columns AuthClient reads
	// now.
	{version: 6, name: "tenancy", run: upgradeToTenancy, sql: `
CREATE TABLE memberships (
	org_id TEXT NOT NULL REFERENCES organizations(id),
	user_id TEXT NOT NULL REFERENCES users(id),
	role TEXT NOT NULL,
	permissions TEXT NOT NULL DEFAULT '[]',
	may_create_clients BOOLEAN NOT NULL DEFAULT FALSE,
	status TEXT NOT NULL,
	created_at {{ts}} NOT NULL,
	updated_at {{ts}} NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
INSERT INTO memberships (org_id, user_id, role, permissions, may_create_clients, status, created_at, updated_at)
	SELECT '00000000-0000-0000-0000-000000000001', id, CASE role WHEN 'admin' THEN 'owner' ELSE role END,
		permissions, may_create_clients, status, created_at, updated_at FROM users;
ALTER TABLE policies RENAME TO policies_v2;
CREATE TABLE policies (
	org_id TEXT PRIMARY KEY REFERENCES organizations(id),
	max_credential_lifetime BIGINT NOT NULL,
	default_credential_lifetime BIGINT NOT NULL,
	default_token_ttl BIGINT NOT NULL,
	max_token_ttl BIGINT NOT NULL,
	max_clients_per_owner INTEGER NOT NULL,
	creation_restricted BOOLEAN NOT NULL,
	ip_allowlist TEXT NOT NULL DEFAULT '[]',
	rotation_grace BIGINT NOT NULL,
	reminder_webhook_url TEXT NOT NULL DEFAULT '',
	legacy_sunset {{ts}},
	publishable_scopes TEXT NOT NULL DEFAULT '[]',
	updated_at {{ts}} NOT NULL,
	updated_by TEXT NOT NULL DEFAULT ''
);
INSERT INTO policies (org_id, max_credential_lifetime, default_credential_lifetime, default_token_ttl, max_token_ttl,
		max_clients_per_owner, creation_restricted, ip_allowlist, rotation_grace, reminder_webhook_url, legacy_sunset, updated_at, updated_by)
	SELECT '00000000-0000-0000-0000-000000000001', max_credential_lifetime, default_credential_lifetime, default_token_ttl, max_token_ttl,
		max_clients_per_owner, creation_restricted, ip_allowlist, rotation_grace, reminder_webhook_url, legacy_sunset, updated_at, updated_by
	FROM policies_v2 WHERE id = 1;
DROP TABLE policies_v2;
ALTER TABLE clients ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN project_id TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN kind TEXT NOT NULL DEFAULT 'project';
UPDATE clients SET org_id = '00000000-0000-0000-0000-000000000001', project_id = '00000000-0000-0000-0000-000000000001';
CREATE INDEX clients_org_owner ON clients (org_id, owner_id, status);
CREATE INDEX clients_org_id ON clients (org_id, id);
ALTER TABLE audit_events ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
UPDATE audit_events SET org_id = '00000000-0000-0000-0000-000000000001';
CREATE INDEX audit_events_org_at ON audit_events (org_id, at);
ALTER TABLE organizations ADD COLUMN default_project_id TEXT NOT NULL DEFAULT '';
UPDATE organizations SET default_project_id = '00000000-0000-0000-0000-000000000001' WHERE id = '00000000-0000-0000-0000-000000000001';
CREATE UNIQUE INDEX projects_resource ON projects (resource) WHERE resource <> '';
`},
	// Renewal (docs/design.md, Domain): a client renewed keeps its
	// client_id and secrets and starts a new lifetime at renewed_at, from
	// which the policy's maximum lifetime is counted. AuthClient reads it,
	// so the clients' auth triggers are made again with it.
	{version: 7, name: "client_renewal", dialect: renewalTriggers, sql: `
ALTER TABLE clients ADD COLUMN renewed_at {{ts}};
`},
	// Finding credentials: the addresses each client was used from (at most
	// MaxClientIPs per client, written by the usage flush), and indexes for
	// the organization's list sorted newest first, by name and by expiry
	// (each with client_id, the keyset's tie-breaker). Last use has none on
	// purpose: every usage flush writes last_used_at, and an index on it
	// would make each of those updates write the index too (on PostgreSQL,
	// no more heap-only updates); sorting by it sorts the organization's
	// clients, keeping only a page in memory.
	{version: 8, name: "find_credentials", sql: `
CREATE TABLE client_ips (
	client_id TEXT NOT NULL REFERENCES clients(id),
	ip TEXT NOT NULL,
	first_used_at {{ts}} NOT NULL,
	last_used_at {{ts}} NOT NULL,
	token_count BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (client_id, ip)
);
CREATE INDEX clients_org_created ON clients (org_id, created_at, id);
CREATE INDEX clients_org_name ON clients (org_id, name, id);
CREATE INDEX clients_org_expires ON clients (org_id, expires_at, id);
`},
	// Reminder deliveries per channel: each reminder is claimed, retried
	// and marked sent per channel ("webhook": the log line and the policy's
	// webhook; "email:<address>": one email to one recipient), so that one
	// channel failing never repeats another. Rows of before were the
	// webhook's.
	{version: 9, name: "reminder_channels", sql: `
CREATE TABLE reminders_by_channel (
	client_id TEXT NOT NULL REFERENCES clients(id),
	days INTEGER NOT NULL,
	expires_at {{ts}} NOT NULL,
	channel TEXT NOT NULL,
	claimed_by TEXT NOT NULL DEFAULT '',
	claimed_until {{ts}},
	attempts INTEGER NOT NULL DEFAULT 0,
	sent_at {{ts}},
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (client_id, days, expires_at, channel)
);
INSERT INTO reminders_by_channel (client_id, days, expires_at, channel, claimed_by, claimed_until, attempts, sent_at, last_error)
	SELECT client_id, days, expires_at, 'webhook', claimed_by, claimed_until, attempts, sent_at, last_error FROM reminders;
DROP TABLE reminders;
ALTER TABLE reminders_by_channel RENAME TO reminders;
`},
	// Sender-constrained tokens: the one-time values every instance must
	// refuse a second time (DPoP proofs' jti; any other kind of one-time
	// assertion may share the table under a kind of its own), and a
	// client's requirement of DPoP, which the token endpoint reads (so the
	// clients' auth triggers are made again with it).
	{version: 10, name: "replays_and_dpop", dialect: dpopTriggers, sql: `
CREATE TABLE replays (
	kind TEXT NOT NULL,
	key TEXT NOT NULL,
	expires_at {{ts}} NOT NULL,
	PRIMARY KEY (kind, key)
);
CREATE INDEX replays_expires ON replays (expires_at);
ALTER TABLE clients ADD COLUMN require_dpop BOOLEAN NOT NULL DEFAULT FALSE;
`},
	// Clients authenticating with public keys (RFC 7523 private_key_jwt):
	// the client's method, and its keys as a JWKS document or a URL to
	// fetch them from. AuthClient reads them, so the clients' auth
	// triggers are made again with them. Assertion ids (jti) are kept in
	// the replays table of migration 10, under a kind of their own.
	{version: 11, name: "private_key_jwt", dialect: publicKeyTriggers, sql: `
ALTER TABLE clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
`},
	// Federated workload identity: the issuers an organization trusts
	// (their keys' location, the audience and lifetime their tokens must
	// have, whether each token is single use), unique per organization and
	// issuer URL, and a federated client's binding to one of them. The
	// token endpoint reads both (AuthClient, the issuer by a second
	// statement for a federated client), so the
	// clients' auth triggers are made again with the binding's columns and
	// trusted_issuers gets triggers of its own: an issuer's change holds at
	// the next request on every instance. Accepted tokens' jti are kept in
	// replays under a kind of their own.
	{version: 12, name: "federation", dialect: federationTriggers, sql: `
CREATE TABLE trusted_issuers (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL REFERENCES organizations(id),
	name TEXT NOT NULL,
	issuer TEXT NOT NULL,
	jwks_uri TEXT NOT NULL DEFAULT '',
	jwks TEXT NOT NULL DEFAULT '',
	discovered BOOLEAN NOT NULL DEFAULT FALSE,
	audience TEXT NOT NULL,
	max_token_lifetime BIGINT NOT NULL,
	single_use BOOLEAN NOT NULL,
	created_at {{ts}} NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	updated_at {{ts}} NOT NULL,
	UNIQUE (org_id, issuer)
);
ALTER TABLE clients ADD COLUMN federation_issuer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN federation_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN federation_conditions TEXT NOT NULL DEFAULT '{}';
CREATE INDEX clients_federation_issuer ON clients (org_id, federation_issuer_id) WHERE federation_issuer_id <> '';
`},
}

// federationTriggers makes the clients' auth triggers again, with the
// federation binding, and makes those of trusted_issuers.
func federationTriggers(dialect string) []string {
	return append(dropTriggers(dialect, authTablesV11), authTriggers(dialect, []authTable{authTables[0], authTables[len(authTables)-1]})...)
}

// dpopTriggers makes the clients' auth triggers again, with require_dpop.
func dpopTriggers(dialect string) []string {
	return append(dropTriggers(dialect, authTablesV7), authTriggers(dialect, authTablesV10)...)
}

// renewalTriggers makes the clients' auth triggers again, with renewed_at.
func renewalTriggers(dialect string) []string {
	return append(dropTriggers(dialect, authTablesV6[:1]), authTriggers(dialect, authTablesV7)...)
}

// publicKeyTriggers makes the clients' auth triggers again, with the
// public-key columns.
func publicKeyTriggers(dialect string) []string {
	return append(dropTriggers(dialect, authTablesV10), authTriggers(dialect, authTablesV11)...)
}

func (s *Store) ddl(sql string) string {
	ts, bytes := "DATETIME", "BLOB"
	if s.dialect == "postgres" {
		ts, bytes = "TIMESTAMPTZ", "BYTEA"
	}
	return strings.NewReplacer("{{ts}}", ts, "{{bytes}}", bytes).Replace(sql)
}

// SchemaVersion returns the newest applied migration, 0 for an empty database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if !s.db.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return 0, nil
	}
	var v int
	err := s.db.WithContext(ctx).Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v).Error
	return v, translate(err, "schema version")
}

// LatestSchemaVersion is the version Migrate brings a database to.
func LatestSchemaVersion() int { return migrations[len(migrations)-1].version }

// Migrate applies the pending migrations, each in its own transaction with
// its version row, so several instances starting at once apply each exactly
// once: the loser of a race fails on the version's primary key, rolls back
// and finds the migration done.
func (s *Store) Migrate(ctx context.Context) (applied []int, err error) {
	return s.migrateTo(ctx, LatestSchemaVersion())
}

// migrateTo applies the pending migrations up to version; tests use it to
// build a database of a previous release.
func (s *Store) migrateTo(ctx context.Context, version int) (applied []int, err error) {
	err = s.db.WithContext(ctx).Exec(s.ddl(`CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at {{ts}} NOT NULL)`)).Error
	// Instances starting at once may race on this CREATE; losing is fine.
	if err != nil && !s.db.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return nil, translate(err, "create schema_migrations")
	}
	for _, m := range migrations {
		if m.version > version {
			break
		}
		done, err := s.migrationApplied(ctx, m.version)
		if err != nil {
			return applied, err
		}
		if done {
			continue
		}
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, s.now()).Error; err != nil {
				return err
			}
			stmts := splitStatements(s.ddl(m.sql))
			if m.dialect != nil {
				stmts = append(stmts, m.dialect(s.dialect)...)
			}
			for _, stmt := range stmts {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
			}
			if m.run != nil {
				return m.run(s, tx)
			}
			return nil
		})
		if err != nil {
			if done, err2 := s.migrationApplied(ctx, m.version); err2 == nil && done {
				continue // another instance applied it first
			}
			return applied, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		applied = append(applied, m.version)
	}
	return applied, nil
}

func (s *Store) migrationApplied(ctx context.Context, version int) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", version).Scan(&n).Error
	if err != nil {
		return false, translate(err, "read schema_migrations")
	}
	return n > 0, nil
}

// CheckSchema returns an error unless the database is fully migrated.
func (s *Store) CheckSchema(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if want := LatestSchemaVersion(); v != want {
		if v > want {
			return fmt.Errorf("database schema is at version %d, newer than this binary's %d: upgrade authz", v, want)
		}
		return fmt.Errorf("database schema is at version %d, want %d: run `authz migrate`", v, want)
	}
	return nil
}

// Unused reports whether the database holds nothing of a previous run: no
// schema, or a schema without a signing key, a client or a setting (the
// pepper's fingerprint is stored at the first start). authz refuses to
// start afresh on such a database when a key file says one existed.
func (s *Store) Unused(ctx context.Context) (bool, error) {
	v, err := s.SchemaVersion(ctx)
	if err != nil || v == 0 {
		return err == nil, err
	}
	var used bool
	err = s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM signing_keys) OR EXISTS (SELECT 1 FROM clients) OR EXISTS (SELECT 1 FROM settings)`).Scan(&used).Error
	if err != nil {
		return false, translate(err, "check for data")
	}
	return !used, nil
}

func splitStatements(sql string) []string {
	var out []string
	for _, stmt := range strings.Split(sql, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Setting reads a named setting.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var value string
	res := s.db.WithContext(ctx).Raw("SELECT value FROM settings WHERE name = ?", name).Scan(&value)
	if res.Error != nil {
		return "", translate(res.Error, "read setting")
	}
	if res.RowsAffected == 0 {
		return "", fmt.Errorf("setting %s: %w", name, ErrNotFound)
	}
	return value, nil
}

// SetSettingOnce stores a setting unless it exists, and returns the stored
// value (the existing one if another writer came first).
func (s *Store) SetSettingOnce(ctx context.Context, name, value string) (string, error) {
	err := s.db.WithContext(ctx).Exec("INSERT INTO settings (name, value) VALUES (?, ?)", name, value).Error
	if err != nil && !errors.Is(translate(err, ""), ErrConflict) {
		return "", translate(err, "write setting")
	}
	return s.Setting(ctx, name)
}
