package models

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// AcquireLease makes holder the holder of the named lease until now+ttl if
// the lease is free, expired or already held by holder. It uses only
// portable SQL (INSERT ... ON CONFLICT DO NOTHING, then a conditional
// UPDATE), so it works on SQLite, PostgreSQL and PostgreSQL-compatible
// distributed databases alike.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	until := now.Add(ttl)
	type lease struct {
		Name   string `gorm:"primaryKey"`
		Holder string
		Until  time.Time
	}
	db := s.db.WithContext(ctx)
	res := db.Table("leases").Clauses(clause.OnConflict{DoNothing: true}).Create(&lease{Name: name, Holder: holder, Until: until})
	if res.Error != nil {
		return false, translate(res.Error, "acquire lease")
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	res = db.Exec("UPDATE leases SET holder = ?, until = ? WHERE name = ? AND (holder = ? OR until < ?)", holder, until, name, holder, now)
	if res.Error != nil {
		return false, translate(res.Error, "acquire lease")
	}
	return res.RowsAffected == 1, nil
}

// ReleaseLease gives up a lease held by holder.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return translate(s.db.WithContext(ctx).Exec("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder).Error, "release lease")
}
