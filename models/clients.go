package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// CreateClient inserts a client and its first secret (none for a
// private_key_jwt or federated client: secret nil) in one transaction. A
// federated client's issuer must be one of its organization (404
// issuer_not_found), checked in the transaction under the lock
// DeleteTrustedIssuer takes.
// When maxPerOwner > 0 the owner's usable clients (neither revoked nor
// expired) are counted in the same transaction, serialised per owner (a
// row lock on PostgreSQL; SQLite's write transactions are serial), so
// concurrent creates cannot exceed it.
func (s *Store) CreateClient(ctx context.Context, c *Client, secret *ClientSecret, maxPerOwner int) error {
	now := s.now()
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Status == "" {
		c.Status = StatusActive
	}
	for _, set := range []*Set{&c.Scopes, &c.Audiences, &c.IPAllowlist} {
		if *set == nil {
			*set = Set{}
		}
	}
	if c.Kind == "" {
		c.Kind = ClientKindProject
	}
	if c.Federation.Conditions == nil {
		c.Federation.Conditions = Conditions{}
	}
	if c.OrgID == "" {
		return fmt.Errorf("create client %s: no organization", c.ID)
	}
	c.ExpiresAt = utcPtr(c.ExpiresAt)
	if secret != nil {
		secret.ExpiresAt = utcPtr(secret.ExpiresAt)
		secret.ClientID = c.ID
		if secret.Format == "" {
			secret.Format = FormatCurrent
		}
		if secret.CreatedAt.IsZero() {
			secret.CreatedAt = now
		}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.checkClientLimit(tx, c.OrgID, c.OwnerID, "", maxPerOwner); err != nil {
			return err
		}
		if c.Federated() {
			if err := s.lockIssuer(tx, c.OrgID, c.Federation.IssuerID, "SHARE"); err != nil {
				return err
			}
		}
		if err := tx.Omit("Owner", "Secrets").Create(c).Error; err != nil {
			return err
		}
		if secret == nil {
			return nil // a client with public keys or a federation binding
		}
		return tx.Create(secret).Error
	})
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	if err != nil {
		return translate(err, "create client")
	}
	if secret != nil {
		c.Secrets = []ClientSecret{*secret}
	}
	return nil
}

// checkClientLimit refuses (409 client_limit_reached) when the owner
// already holds maxPerOwner usable clients in the organization, not
// counting the client exceptID: active and not expired, under the
// organization's maximum lifetime as it is in the transaction. Revoked and
// expired clients do not count: they can no longer be used. On PostgreSQL
// it locks the owner's membership first, so that concurrent creates and
// renewals for one owner are serial (SQLite's write transactions are).
func (s *Store) checkClientLimit(tx *gorm.DB, orgID, ownerID, exceptID string, maxPerOwner int) error {
	if maxPerOwner <= 0 {
		return nil
	}
	if s.dialect == "postgres" {
		if err := tx.Exec("SELECT user_id FROM memberships WHERE org_id = ? AND user_id = ? FOR UPDATE", orgID, ownerID).Error; err != nil {
			return err
		}
	}
	var maxLife int64
	if err := tx.Raw("SELECT max_credential_lifetime FROM policies WHERE org_id = ?", orgID).Scan(&maxLife).Error; err != nil {
		return err
	}
	now := s.now().UTC()
	q := tx.Model(&Client{}).Where("org_id = ? AND owner_id = ? AND id <> ? AND status = ? AND (expires_at IS NULL OR expires_at > ?)", orgID, ownerID, exceptID, StatusActive, now)
	if maxLife > 0 {
		q = q.Where("COALESCE(renewed_at, created_at) > ?", now.Add(-time.Duration(maxLife)))
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		return err
	}
	if int(n) >= maxPerOwner {
		return Errorf(KindConflict, "client_limit_reached", "the owner already holds %d active clients (neither revoked nor expired), the policy's maximum", n)
	}
	return nil
}

// RenewClient gives the client id the expiry expiresAt and starts its
// lifetime anew at renewedAt (see Client.LifetimeStart); its client_id and
// secrets are kept. When maxPerOwner > 0 (the client was expired, so the
// renewal makes it usable again) the owner's other usable clients are
// counted as at creation. A revoked client is not renewed.
func (s *Store) RenewClient(ctx context.Context, c *Client, expiresAt, renewedAt time.Time, maxPerOwner int) error {
	expiresAt, renewedAt = expiresAt.UTC(), renewedAt.UTC()
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.checkClientLimit(tx, c.OrgID, c.OwnerID, c.ID, maxPerOwner); err != nil {
			return err
		}
		res := tx.Model(&Client{}).Where("id = ? AND status = ?", c.ID, StatusActive).
			Updates(map[string]any{"expires_at": expiresAt, "renewed_at": renewedAt, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return Errorf(KindConflict, "client_revoked", "client %s is revoked: it cannot be renewed; create a new one", c.ID)
		}
		return nil
	})
	var domain *Error
	if errors.As(err, &domain) {
		return err
	}
	if err != nil {
		return translate(err, "renew client "+c.ID)
	}
	c.ExpiresAt, c.RenewedAt, c.UpdatedAt = &expiresAt, &renewedAt, now
	return nil
}

// ClientByID loads a client with its owner (and the owner's membership of
// the client's organization), its project and all its secrets.
func (s *Store) ClientByID(ctx context.Context, id string) (*Client, error) {
	if !storable(id) {
		return nil, fmt.Errorf("client %q: %w", id, ErrNotFound)
	}
	var c Client
	err := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets", func(db *gorm.DB) *gorm.DB {
		return db.Order("created_at")
	}).Where("clients.id = ?", id).Take(&c).Error
	if err != nil {
		return nil, translate(err, "client "+id)
	}
	cs := []Client{c}
	if err := s.loadMemberships(ctx, cs); err != nil {
		return nil, err
	}
	if err := s.loadProjects(ctx, cs); err != nil {
		return nil, err
	}
	return &cs[0], nil
}

// loadProjects sets the Project of each project-bound client.
func (s *Store) loadProjects(ctx context.Context, cs []Client) error {
	var ids []string
	for _, c := range cs {
		if c.ProjectID != "" {
			ids = append(ids, c.ProjectID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	byID := make(map[string]*Project, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		var ps []Project
		if err := s.db.WithContext(ctx).Where("id IN ?", chunk).Find(&ps).Error; err != nil {
			return translate(err, "projects of clients")
		}
		for i := range ps {
			byID[ps[i].ID] = &ps[i]
		}
	}
	for i := range cs {
		cs[i].Project = byID[cs[i].ProjectID]
	}
	return nil
}

// ClientFilter narrows ListClients. Zero fields match everything.
type ClientFilter struct {
	// OrgID, when set, keeps the organization's clients only.
	OrgID     string
	ProjectID string
	OwnerID   string
	Status    string // stored status: active or revoked
	// HideRevoked leaves revoked clients out (when Status is empty).
	HideRevoked bool
	// Legacy selects clients with a live secret in the legacy format.
	Legacy bool
	// Search keeps the clients whose name, description, client_id, or
	// owner's email or name contains it, case-insensitively (ASCII letters
	// only on SQLite, whose LOWER folds no other). It scans the
	// organization's clients in the sort's order and stops at Limit.
	Search string
	// Sort is one of ClientSorts; empty sorts by client_id. Desc reverses it.
	// Clients without the sort's time (never used, no expiry) come last
	// either way; client_id breaks ties.
	Sort string
	Desc bool
	// After is a cursor: the key of the last client of the previous page
	// under the same Sort and Desc (CursorOf).
	After *ClientCursor
	// Limit caps the page; 0 means no limit.
	Limit int
}

// Sort keys of ListClients.
const (
	SortCreated  = "created"
	SortName     = "name"
	SortOwner    = "owner"
	SortLastUsed = "last_used"
	SortExpires  = "expires"
)

// DefaultDesc is a sort's natural order: the newest created and the most
// recently used first; names, owners and expiries (soonest first) ascending.
func DefaultDesc(sort string) bool {
	return sort == SortCreated || sort == SortLastUsed
}

// ClientSorts are the sort keys ListClients knows.
var ClientSorts = []string{SortCreated, SortName, SortOwner, SortLastUsed, SortExpires}

// ClientOrder checks a sort key of ClientSorts and an order ("asc", "desc",
// or empty for the sort's natural order, DefaultDesc) and says whether the
// list is descending. An unknown sort or order is a KindInvalid error with
// code invalid_sort.
func ClientOrder(sort, order string) (desc bool, err error) {
	if !slices.Contains(ClientSorts, sort) {
		return false, Errorf(KindInvalid, "invalid_sort", "sort must be one of %s", strings.Join(ClientSorts, ", "))
	}
	switch order {
	case "":
		return DefaultDesc(sort), nil
	case "asc":
		return false, nil
	case "desc":
		return true, nil
	}
	return false, Errorf(KindInvalid, "invalid_sort", "order must be asc or desc")
}

// sortColumns are the columns of the sort keys. The owner's is the email
// of the joined owner; expires is the client's own expiry (a policy's
// maximum lifetime may end it earlier: Client.EffectiveExpiry).
var sortColumns = map[string]string{
	SortCreated: "clients.created_at", SortName: "clients.name", SortOwner: `"Owner".email`,
	SortLastUsed: "clients.last_used_at", SortExpires: "clients.expires_at",
}

// ClientCursor is a position in a sorted list of clients: the sort key of
// a client (Text for name and owner, Time for the times, Null when it has
// none) and its ID.
type ClientCursor struct {
	ID   string
	Text string
	Time time.Time
	Null bool
}

// CursorOf returns the cursor that continues after c under sort.
func CursorOf(c *Client, sort string) *ClientCursor {
	k := &ClientCursor{ID: c.ID}
	var t *time.Time
	switch sort {
	case SortName:
		k.Text = c.Name
	case SortOwner:
		if c.Owner != nil {
			k.Text = c.Owner.Email
		}
	case SortLastUsed:
		t = c.LastUsedAt
	case SortExpires:
		t = c.ExpiresAt
	case SortCreated:
		t = &c.CreatedAt
	}
	if t != nil {
		k.Time = t.UTC()
	} else if sort == SortLastUsed || sort == SortExpires {
		k.Null = true
	}
	return k
}

// likeEscaper escapes LIKE's metacharacters for ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ListClients returns clients with their owners and secrets, in the order
// of f.Sort (stable for keyset pagination: the sort key, then client_id).
func (s *Store) ListClients(ctx context.Context, f ClientFilter) ([]Client, error) {
	if !storable(f.OrgID) || !storable(f.ProjectID) || !storable(f.OwnerID) || !storable(f.Search) ||
		(f.After != nil && (!storable(f.After.ID) || !storable(f.After.Text))) {
		return nil, nil // no client has such an organization, project, owner, id or text
	}
	sort := f.Sort
	col, ok := sortColumns[sort]
	if sort == "" {
		col, ok = "clients.id", true
	}
	if !ok {
		return nil, Errorf(KindInvalid, "invalid_sort", "unknown sort %q: want one of %s", sort, strings.Join(ClientSorts, ", "))
	}
	nullable := sort == SortLastUsed || sort == SortExpires
	dir, cmp := "ASC", ">"
	if f.Desc {
		dir, cmp = "DESC", "<"
	}
	order := col + " " + dir
	if nullable {
		order += " NULLS LAST"
	}
	q := s.db.WithContext(ctx).Joins("Owner").Preload("Secrets", func(db *gorm.DB) *gorm.DB {
		return db.Order("created_at")
	}).Order(order + ", clients.id " + dir)
	if f.OrgID != "" {
		q = q.Where("clients.org_id = ?", f.OrgID)
	}
	if f.ProjectID != "" {
		q = q.Where("clients.project_id = ?", f.ProjectID)
	}
	if f.OwnerID != "" {
		q = q.Where("clients.owner_id = ?", f.OwnerID)
	}
	switch {
	case f.Status != "":
		q = q.Where("clients.status = ?", f.Status)
	case f.HideRevoked:
		q = q.Where("clients.status <> ?", StatusRevoked)
	}
	if f.Legacy {
		q = q.Where("EXISTS (SELECT 1 FROM client_secrets cs WHERE cs.client_id = clients.id AND cs.format = ? AND cs.revoked_at IS NULL AND (cs.expires_at IS NULL OR cs.expires_at > ?))", FormatLegacy, s.now())
	}
	if f.Search != "" {
		p := "%" + likeEscaper.Replace(strings.ToLower(f.Search)) + "%"
		q = q.Where(`(LOWER(clients.name) LIKE ? ESCAPE '\' OR LOWER(clients.description) LIKE ? ESCAPE '\' OR LOWER(clients.id) LIKE ? ESCAPE '\'`+
			` OR LOWER("Owner".email) LIKE ? ESCAPE '\' OR LOWER("Owner".name) LIKE ? ESCAPE '\')`, p, p, p, p, p)
	}
	if k := f.After; k != nil {
		var v any = k.Time
		if sort == SortName || sort == SortOwner {
			v = k.Text
		}
		switch {
		case sort == "":
			q = q.Where("clients.id "+cmp+" ?", k.ID)
		case k.Null:
			q = q.Where(col+" IS NULL AND clients.id "+cmp+" ?", k.ID)
		case nullable:
			q = q.Where("("+col+" "+cmp+" ? OR ("+col+" = ? AND clients.id "+cmp+" ?) OR "+col+" IS NULL)", v, v, k.ID)
		default:
			q = q.Where("("+col+" "+cmp+" ? OR ("+col+" = ? AND clients.id "+cmp+" ?))", v, v, k.ID)
		}
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var cs []Client
	if err := q.Find(&cs).Error; err != nil {
		return nil, translate(err, "list clients")
	}
	if err := s.loadMemberships(ctx, cs); err != nil {
		return nil, err
	}
	return cs, s.loadProjects(ctx, cs)
}

// RevokeClient marks a client revoked; it is refused from then on.
func (s *Store) RevokeClient(ctx context.Context, id string) (*Client, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Client{}).Where("id = ? AND status <> ?", id, StatusRevoked).
		Updates(map[string]any{"status": StatusRevoked, "revoked_at": now, "updated_at": now})
	if res.Error != nil {
		return nil, translate(res.Error, "revoke client "+id)
	}
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if res.RowsAffected == 0 {
		return c, Errorf(KindConflict, "client_revoked", "client %s is already revoked", id)
	}
	return c, nil
}

// RecordUsage stores a batch of usage: it adds each Usage's Count to the
// client's and the secret's token counts, and moves their last-use fields
// forward (never back), and adds each address to the client's IP history
// (at most MaxClientIPs kept). Usages are first merged per row. The batch
// is one transaction: on PostgreSQL one UPDATE per table and one upsert of
// addresses for the whole batch (and a trim when a client gained one), on
// SQLite one prepared statement per row. The four gorm updates per usage this
// replaced cost 200 µs (SQLite) and 1 ms (PostgreSQL) per client: 4% of
// the server's core for 1,000 active clients flushed every 5 s, and a
// flush slower than its interval from about 5,000 active clients on
// PostgreSQL (BenchmarkRecordUsage).
func (s *Store) RecordUsage(ctx context.Context, usages []Usage) (err error) {
	if len(usages) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { s.observed(opUsageFlush, start, err) }()
	// The transaction does not end with ctx. A context that ends during
	// COMMIT leaves the outcome unknown: pgx reports the cancellation while
	// the server may have committed, and the recorder, told the flush
	// failed, would count the batch twice (seen in 3 of 300 flushes
	// cancelled at random points). ctx is checked before each statement and
	// before COMMIT instead; usageFlushTimeout bounds a stuck database.
	txctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), usageFlushTimeout)
	defer cancel()
	tx, err := s.sqlDB.BeginTx(txctx, nil)
	if err != nil {
		return translate(err, "record usage")
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			err = translate(err, "record usage")
		}
	}()
	for _, table := range [2]string{"clients", "client_secrets"} {
		rows := mergeUsage(usages, table == "clients")
		if len(rows) == 0 {
			continue
		}
		if s.dialect == "postgres" {
			err = recordUsagePostgres(ctx, txctx, tx, table, rows)
		} else {
			err = recordUsageRows(ctx, tx, table, rows)
		}
		if err != nil {
			return err
		}
	}
	// The clients' rows are locked above (in id order on PostgreSQL), so
	// flushes of several instances touch a client's addresses one at a time.
	if ips := mergeIPs(usages); len(ips) > 0 {
		if s.dialect == "postgres" {
			err = recordIPsPostgres(ctx, txctx, tx, ips)
		} else {
			err = recordIPRows(ctx, tx, ips)
		}
		if err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // the last point at which the batch can still be given back
	}
	return tx.Commit()
}

// usageFlushTimeout bounds one usage flush once started.
const usageFlushTimeout = time.Minute

// usageRow is the usage of one client or one secret in a batch.
type usageRow struct {
	id, ip, ua string
	at         time.Time
	count      int64
}

// mergeUsage merges usages per client (byClient) or per secret, sorted by
// id: the latest use's time, IP and user agent, and the sum of the counts.
func mergeUsage(usages []Usage, byClient bool) []usageRow {
	index := make(map[string]int, len(usages))
	rows := make([]usageRow, 0, len(usages))
	for _, u := range usages {
		id := u.SecretID
		if byClient {
			id = u.ClientID
		}
		if id == "" {
			continue
		}
		row := usageRow{id: id, ip: u.IP, ua: truncate(u.UserAgent, 256), at: u.At.UTC(), count: u.Count}
		i, seen := index[id]
		switch {
		case !seen:
			index[id] = len(rows)
			rows = append(rows, row)
		case row.at.After(rows[i].at):
			row.count += rows[i].count
			rows[i] = row
		default:
			rows[i].count += row.count
		}
	}
	slices.SortFunc(rows, func(a, b usageRow) int { return strings.Compare(a.id, b.id) })
	return rows
}

// ipRow is the use of one address by one client in a batch.
type ipRow struct {
	client, ip  string
	first, last time.Time
	count       int64
}

// mergeIPs merges usages per (client, address), sorted by client and
// address: the earliest and latest use and the sum of the counts.
func mergeIPs(usages []Usage) []ipRow {
	type key struct{ client, ip string }
	index := make(map[key]int, len(usages))
	rows := make([]ipRow, 0, len(usages))
	for _, u := range usages {
		if u.ClientID == "" || u.IP == "" {
			continue
		}
		first := u.First
		if first.IsZero() || first.After(u.At) {
			first = u.At
		}
		k := key{u.ClientID, truncate(u.IP, 64)}
		i, seen := index[k]
		if !seen {
			index[k] = len(rows)
			rows = append(rows, ipRow{client: k.client, ip: k.ip, first: first.UTC(), last: u.At.UTC(), count: u.Count})
			continue
		}
		r := &rows[i]
		if first.Before(r.first) {
			r.first = first.UTC()
		}
		if u.At.After(r.last) {
			r.last = u.At.UTC()
		}
		r.count += u.Count
	}
	slices.SortFunc(rows, func(a, b ipRow) int {
		if c := strings.Compare(a.client, b.client); c != 0 {
			return c
		}
		return strings.Compare(a.ip, b.ip)
	})
	return rows
}

// recordIPsPostgres upserts a batch's addresses in one statement, then, in
// one more, drops the addresses beyond MaxClientIPs of the clients that
// gained one.
func recordIPsPostgres(ctx, txctx context.Context, tx *sql.Tx, rows []ipRow) error {
	clients, ips := make([]string, len(rows)), make([]string, len(rows))
	firsts, lasts, counts := make([]time.Time, len(rows)), make([]time.Time, len(rows)), make([]int64, len(rows))
	sent := make(map[[2]string]int64, len(rows))
	for i, r := range rows {
		clients[i], ips[i], firsts[i], lasts[i], counts[i] = r.client, r.ip, r.first, r.last, r.count
		sent[[2]string{r.client, r.ip}] = r.count
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Each row comes back with its token count: equal to the batch's only
	// for an address the client had not used before (a kept row's count
	// only grows).
	res, err := tx.QueryContext(txctx, `INSERT INTO client_ips (client_id, ip, first_used_at, last_used_at, token_count)
	SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
	ON CONFLICT (client_id, ip) DO UPDATE SET
		first_used_at = LEAST(client_ips.first_used_at, excluded.first_used_at),
		last_used_at = GREATEST(client_ips.last_used_at, excluded.last_used_at),
		token_count = client_ips.token_count + excluded.token_count
	RETURNING client_id, ip, token_count`, clients, ips, firsts, lasts, counts)
	if err != nil {
		return err
	}
	var grew []string
	for res.Next() {
		var client, ip string
		var n int64
		if err := res.Scan(&client, &ip, &n); err != nil {
			res.Close()
			return err
		}
		if n == sent[[2]string{client, ip}] {
			grew = append(grew, client)
		}
	}
	if err := res.Err(); err != nil {
		return err
	}
	res.Close()
	if len(grew) == 0 {
		return nil
	}
	slices.Sort(grew)
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = tx.ExecContext(txctx, `DELETE FROM client_ips USING (
		SELECT client_id, ip, row_number() OVER (PARTITION BY client_id ORDER BY last_used_at DESC, ip) AS n
		FROM client_ips WHERE client_id = ANY($1)) AS ranked
	WHERE client_ips.client_id = ranked.client_id AND client_ips.ip = ranked.ip AND ranked.n > $2`,
		slices.Compact(grew), MaxClientIPs)
	return err
}

// recordIPRows adds a batch's addresses row by row (SQLite): an UPDATE of
// the kept row, or when there is none an INSERT, after which the client's
// addresses beyond MaxClientIPs are dropped. An address already kept
// costs one statement, like the clients' and secrets' rows. Like
// recordUsageRows, it runs without deadlines and checks ctx per row.
func recordIPRows(ctx context.Context, tx *sql.Tx, rows []ipRow) error {
	run := context.WithoutCancel(ctx)
	update, err := tx.PrepareContext(run, `UPDATE client_ips SET first_used_at = MIN(first_used_at, ?3),
		last_used_at = MAX(last_used_at, ?4), token_count = token_count + ?5 WHERE client_id = ?1 AND ip = ?2`)
	if err != nil {
		return err
	}
	defer update.Close()
	var insert, prune *sql.Stmt
	grew := false
	for i, r := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := update.ExecContext(run, r.client, r.ip, r.first, r.last, r.count)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if insert == nil {
				if insert, err = tx.PrepareContext(run, `INSERT INTO client_ips (client_id, ip, first_used_at, last_used_at, token_count) VALUES (?1, ?2, ?3, ?4, ?5)`); err != nil {
					return err
				}
				defer insert.Close()
				if prune, err = tx.PrepareContext(run, `DELETE FROM client_ips WHERE client_id = ?1 AND ip NOT IN
					(SELECT ip FROM client_ips WHERE client_id = ?1 ORDER BY last_used_at DESC, ip LIMIT ?2)`); err != nil {
					return err
				}
				defer prune.Close()
			}
			if _, err := insert.ExecContext(run, r.client, r.ip, r.first, r.last, r.count); err != nil {
				return err
			}
			grew = true
		}
		if grew && (i+1 == len(rows) || rows[i+1].client != r.client) {
			if _, err := prune.ExecContext(run, r.client, MaxClientIPs); err != nil {
				return err
			}
			grew = false
		}
	}
	return nil
}

// ClientIPs returns the addresses a client was used from, most recent
// first (at most MaxClientIPs).
func (s *Store) ClientIPs(ctx context.Context, clientID string) ([]ClientIP, error) {
	var out []ClientIP
	if !storable(clientID) {
		return out, nil
	}
	err := s.db.WithContext(ctx).Where("client_id = ?", clientID).Order("last_used_at DESC, ip").Limit(MaxClientIPs).Find(&out).Error
	return out, translate(err, "addresses of client "+clientID)
}

// usageSet is the SET list that moves a row's usage forward from v.
// Every right-hand side reads the row as it was before the update, so the
// three last-use columns change together or not at all.
const usageSet = ` SET token_count = token_count + v.n,
	last_used_ip = CASE WHEN last_used_at IS NULL OR last_used_at < v.at THEN v.ip ELSE last_used_ip END,
	last_user_agent = CASE WHEN last_used_at IS NULL OR last_used_at < v.at THEN v.ua ELSE last_user_agent END,
	last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < v.at THEN v.at ELSE last_used_at END`

// recordUsagePostgres updates all rows of a batch in one statement, from
// arrays: one round trip however many clients were active.
// Statements run with txctx; ctx is checked between them.
func recordUsagePostgres(ctx, txctx context.Context, tx *sql.Tx, table string, rows []usageRow) error {
	ids, ips, uas := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows))
	ats, counts := make([]time.Time, len(rows)), make([]int64, len(rows))
	for i, r := range rows {
		ids[i], ips[i], uas[i], ats[i], counts[i] = r.id, r.ip, r.ua, r.at, r.count
	}
	// Row locks are taken in id order first: an UPDATE ... FROM locks rows
	// in its plan's order, which differs between concurrent flushes (seen
	// as deadlocks between instances flushing the same clients).
	if err := ctx.Err(); err != nil {
		return err
	}
	lock, err := tx.QueryContext(txctx, "SELECT id FROM "+table+" WHERE id = ANY($1) ORDER BY id FOR UPDATE", ids)
	if err != nil {
		return err
	}
	for lock.Next() { // every row read: every row locked
	}
	if err := lock.Err(); err != nil {
		return err
	}
	lock.Close()
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = tx.ExecContext(txctx, "UPDATE "+table+usageSet+
		" FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[]) AS v(id, n, at, ip, ua)"+
		" WHERE "+table+".id = v.id", ids, counts, ats, ips, uas)
	return err
}

var sqliteUsageParams = strings.NewReplacer("v.n", "?1", "v.at", "?2", "v.ip", "?3", "v.ua", "?4")

// recordUsageRows updates the rows of a batch one by one (SQLite: no
// round trips), with one prepared statement. Statements run without a
// deadline, which would cost the SQLite driver a goroutine per statement to
// watch it; ctx is checked per row.
func recordUsageRows(ctx context.Context, tx *sql.Tx, table string, rows []usageRow) error {
	run := context.WithoutCancel(ctx)
	// Numbered parameters (?1 for v.n): each is bound once however often it
	// appears (named ones cost the driver a lookup per bind).
	stmt, err := tx.PrepareContext(run, "UPDATE "+table+sqliteUsageParams.Replace(usageSet)+" WHERE id = ?5")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := stmt.ExecContext(run, r.count, r.at, r.ip, r.ua, r.id); err != nil {
			return err
		}
	}
	return nil
}

// AddSecret adds a secret to a client and cuts the expiry of its other live
// secrets to graceUntil (a rotation with overlap).
func (s *Store) AddSecret(ctx context.Context, secret *ClientSecret, graceUntil time.Time) error {
	now := s.now()
	secret.CreatedAt = now
	secret.ExpiresAt = utcPtr(secret.ExpiresAt)
	if secret.Format == "" {
		secret.Format = FormatCurrent
	}
	graceUntil = graceUntil.UTC()
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Model(&ClientSecret{}).
			Where("client_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", secret.ClientID, graceUntil).
			Update("expires_at", graceUntil).Error
		if err != nil {
			return err
		}
		if err := tx.Create(secret).Error; err != nil {
			return err
		}
		return tx.Model(&Client{}).Where("id = ?", secret.ClientID).Update("updated_at", now).Error
	}), "add secret")
}

// RevokeSecret revokes one secret of a client.
func (s *Store) RevokeSecret(ctx context.Context, clientID, secretID string) error {
	if !storable(clientID) || !storable(secretID) {
		return fmt.Errorf("live secret %q of client %q: %w", secretID, clientID, ErrNotFound)
	}
	res := s.db.WithContext(ctx).Model(&ClientSecret{}).Where("id = ? AND client_id = ? AND revoked_at IS NULL", secretID, clientID).Update("revoked_at", s.now())
	if res.Error != nil {
		return translate(res.Error, "revoke secret")
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("live secret %s of client %s: %w", secretID, clientID, ErrNotFound)
	}
	return nil
}

// UpdateClient saves a client's mutable fields.
func (s *Store) UpdateClient(ctx context.Context, c *Client) error {
	c.UpdatedAt = s.now()
	c.ExpiresAt = utcPtr(c.ExpiresAt)
	res := s.db.WithContext(ctx).Model(&Client{}).Where("id = ?", c.ID).Updates(map[string]any{
		"name": c.Name, "description": c.Description, "scopes": c.Scopes, "audiences": c.Audiences,
		"ip_allowlist": c.IPAllowlist, "token_ttl": c.TokenTTL, "expires_at": c.ExpiresAt,
		"resource_server": c.ResourceServer, "require_dpop": c.RequireDPoP, "updated_at": c.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error, "update client "+c.ID)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("client %s: %w", c.ID, ErrNotFound)
	}
	return nil
}

// SetClientKeys replaces the public keys of a private_key_jwt client: a
// JWKS document or a jwks_uri (the other is emptied).
func (s *Store) SetClientKeys(ctx context.Context, id, jwks, jwksURI string) error {
	res := s.db.WithContext(ctx).Model(&Client{}).Where("id = ? AND auth_method = ?", id, AuthPrivateKeyJWT).Updates(map[string]any{
		"jwks": jwks, "jwks_uri": jwksURI, "updated_at": s.now(),
	})
	if res.Error != nil {
		return translate(res.Error, "set keys of client "+id)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("client %s: %w", id, ErrNotFound)
	}
	return nil
}

// utcPtr returns t in UTC: SQLite stores times as text and compares them
// as text, so every stored time must be in one zone.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// truncate cuts s to at most n bytes of text PostgreSQL accepts: a user
// agent or an error is whatever a client or a webhook receiver sent, so
// invalid UTF-8 and NUL become U+FFFD (one bad byte would fail a whole
// usage batch), and a rune cut in two at the end is dropped.
func truncate(s string, n int) string {
	if !storable(s) {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
