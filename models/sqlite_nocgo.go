//go:build !cgo

package models

// SQLiteAvailable reports whether this build can open sqlite: databases.
// The SQLite driver (mattn/go-sqlite3) is C code: this build, made with
// CGO_ENABLED=0, serves PostgreSQL only, and Open refuses an sqlite: URL
// (ErrNoSQLite) before touching the file.
const SQLiteAvailable = false

// Without SQLite no error is SQLite's.
func sqliteViolated(error) Kind { return "" }

func sqliteUnavailable(error) (isSQLite, unavailable bool) { return false, false }
