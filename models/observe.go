package models

import (
	"time"

	"gorm.io/gorm"
)

// The operations written in plain SQL, as ObserveQueries reports them.
const (
	opAuthVersion = "auth_version"
	opUsageFlush  = "usage_flush"
)

// ObservedOps lists the operations ObserveQueries reports.
var ObservedOps = []string{"query", "create", "update", "delete", "row", "raw", opAuthVersion, opUsageFlush}

// ObserveQueries calls fn after every statement with its operation
// (query, create, update, delete, raw, row; auth_version and usage_flush
// for the two paths written in plain SQL), duration and error (nil for
// "not found"). Install it once, before serving.
func (s *Store) ObserveQueries(fn func(op string, d time.Duration, err error)) error {
	s.observe = fn
	const startKey = "authz:start"
	before := func(db *gorm.DB) { db.InstanceSet(startKey, time.Now()) }
	after := func(op string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			v, ok := db.InstanceGet(startKey)
			if !ok {
				return
			}
			err := db.Error
			if err == gorm.ErrRecordNotFound {
				err = nil
			}
			fn(op, time.Since(v.(time.Time)), err)
		}
	}
	cb := s.db.Callback()
	regs := []struct {
		op     string
		before func(string, func(*gorm.DB)) error
		after  func(string, func(*gorm.DB)) error
	}{
		{"query", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"create", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"update", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"delete", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"row", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"raw", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	}
	for _, r := range regs {
		if err := r.before("authz:observe_start", before); err != nil {
			return err
		}
		if err := r.after("authz:observe_"+r.op, after(r.op)); err != nil {
			return err
		}
	}
	return nil
}

// observed reports a plain-SQL operation that started at start to the
// ObserveQueries hook, if any.
func (s *Store) observed(op string, start time.Time, err error) {
	if s.observe != nil {
		s.observe(op, time.Since(start), err)
	}
}
