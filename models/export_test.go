package models

// NoIdleConns makes s close every pooled connection as soon as it is
// returned, as a long idle period would.
func NoIdleConns(s *Store) { s.sqlDB.SetMaxIdleConns(0) }
