package models

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Fixed ids of the organization and the project every database has
// (migration 5): on an upgraded database they hold what existed before.
const (
	DefaultOrgID     = "00000000-0000-0000-0000-000000000001"
	DefaultProjectID = "00000000-0000-0000-0000-000000000001"
)

// upgradeToTenancy is migration 6's step in Go, after its SQL.
//
// The users' role, permissions, right to create and status, copied into
// their memberships of the default organization by the SQL, leave the
// users table (a person's rights are per organization now). The old
// triggers are dropped first: SQLite refuses to drop a column a trigger
// names, and the triggers' column lists change.
//
// A client that named audiences keeps getting tokens for them: each
// audience becomes a project of the default organization with that
// resource (resources are unique across the server, which is what keeps
// one organization from minting tokens for another's resource server);
// a client with one audience is bound to its project, so its tokens carry
// the same aud without a resource parameter, as before; a client with
// several becomes organization-wide, restricted to those projects, and
// names one with resource, as before.
//
// Restricting creation now restricts use (Client.DisabledByPolicy): a
// member not allowed to create, under a restricted policy, would lose at
// once the clients they made while they were allowed, which the previous
// release kept working. Their created_by is marked as from before
// organizations, so that they keep working; from then on the rule holds
// for every client made after the upgrade.
func upgradeToTenancy(s *Store, tx *gorm.DB) error {
	stmts := dropTriggers(s.dialect, authTablesV3)
	for _, col := range []string{"role", "permissions", "may_create_clients", "status"} {
		stmts = append(stmts, "ALTER TABLE users DROP COLUMN "+col)
	}
	for _, stmt := range stmts {
		if err := tx.Exec(stmt).Error; err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if err := projectsForAudiences(tx, s.now()); err != nil {
		return err
	}
	if err := tx.Exec(upgradeCreatedBySQL).Error; err != nil {
		return fmt.Errorf("clients of members not allowed to create: %w", err)
	}
	for _, stmt := range authTriggers(s.dialect, authTablesV6) {
		if err := tx.Exec(stmt).Error; err != nil {
			return fmt.Errorf("%s: %w", firstLine(stmt), err)
		}
	}
	return nil
}

// upgradeCreatedBySQL marks the clients that DisabledByPolicy would stop
// at the upgrade (see upgradeToTenancy). The default organization's
// policy restricts creation when its row says so, or when there is none
// (the default policy does).
const upgradeCreatedBySQL = `UPDATE clients SET created_by = created_by || ' (before organizations)'
WHERE created_by IN (SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id AND m.org_id = '` + DefaultOrgID + `'
		WHERE u.id = clients.owner_id AND m.role = 'member' AND NOT m.may_create_clients)
	AND (EXISTS (SELECT 1 FROM policies WHERE org_id = '` + DefaultOrgID + `' AND creation_restricted)
		OR NOT EXISTS (SELECT 1 FROM policies WHERE org_id = '` + DefaultOrgID + `'))`

func projectsForAudiences(tx *gorm.DB, now time.Time) error {
	var rows []struct {
		ID        string
		Audiences string
	}
	if err := tx.Raw("SELECT id, audiences FROM clients WHERE audiences <> '[]' ORDER BY id").Scan(&rows).Error; err != nil {
		return err
	}
	projects := map[string]string{} // resource -> project id
	slugs := map[string]bool{"default": true}
	for _, r := range rows {
		var auds []string
		if err := json.Unmarshal([]byte(r.Audiences), &auds); err != nil {
			return fmt.Errorf("client %s: audiences: %w", r.ID, err)
		}
		auds = NewSet(auds...)
		if len(auds) == 0 {
			continue
		}
		for _, aud := range auds {
			if _, ok := projects[aud]; ok {
				continue
			}
			id, slug := uuid.NewString(), uniqueSlug(slugFor(aud), slugs)
			projects[aud] = id
			err := tx.Exec(`INSERT INTO projects (id, org_id, slug, name, resource, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				id, DefaultOrgID, slug, truncate(aud, MaxNameLen), aud, now, now).Error
			if err != nil {
				return fmt.Errorf("project for audience %q: %w", aud, err)
			}
		}
		var err error
		if len(auds) == 1 {
			err = tx.Exec("UPDATE clients SET project_id = ?, audiences = '[]' WHERE id = ?", projects[auds[0]], r.ID).Error
		} else {
			err = tx.Exec("UPDATE clients SET kind = ?, project_id = '' WHERE id = ?", ClientKindOrganization, r.ID).Error
		}
		if err != nil {
			return fmt.Errorf("client %s: %w", r.ID, err)
		}
	}
	return nil
}

// slugFor derives a project slug from a resource URI: its host and path
// in lower-case letters, digits and hyphens.
func slugFor(resource string) string {
	s := resource
	if u, err := url.Parse(resource); err == nil && u.Host != "" {
		s = u.Host + u.Path
	}
	var b strings.Builder
	hyphen := true // no leading hyphen
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen {
			b.WriteByte('-')
			hyphen = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > MaxSlugLen-4 {
		out = strings.TrimRight(out[:MaxSlugLen-4], "-")
	}
	if out == "" {
		out = "api"
	}
	return out
}

// uniqueSlug returns slug, or slug-2, slug-3..., whichever is not taken,
// and takes it.
func uniqueSlug(slug string, taken map[string]bool) string {
	out := slug
	for i := 2; taken[out]; i++ {
		out = fmt.Sprintf("%s-%d", slug, i)
	}
	taken[out] = true
	return out
}
