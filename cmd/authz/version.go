package main

import (
	"errors"
	"fmt"

	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/models"
)

// version is `authz version` and `authz --version`.
func (m *Main) version(args []string) error {
	var c common
	fs := m.flags("version", &c)
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errors.New("version takes no arguments")
	}
	b := buildinfo.Get()
	if c.json {
		return m.printJSON(struct {
			buildinfo.Info
			SQLite bool `json:"sqlite"`
		}{b, models.SQLiteAvailable})
	}
	commit := b.Commit
	if b.Modified {
		commit += " (modified)"
	}
	sqlite := "included"
	if !models.SQLiteAvailable {
		sqlite = "not in this build (built with CGO_ENABLED=0: PostgreSQL only)"
	}
	fmt.Fprintf(m.Stdout, "authz %s\ncommit: %s\nbuilt: %s\ngo: %s\nsqlite: %s\n", b.Version, commit, b.Date, b.GoVersion, sqlite)
	return nil
}
