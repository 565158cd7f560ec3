// Package models holds the domain types and the Store that persists them in
// SQLite or PostgreSQL; it is the only package that knows about gorm.
package models
