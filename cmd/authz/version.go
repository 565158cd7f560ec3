package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/models"
)

// version is `authz version` and `authz --version`.
func (m *Main) version(args []string) error {
	var asJSON bool
	fs := flag.NewFlagSet("authz version", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.BoolVar(&asJSON, "json", false, "machine-readable JSON output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errors.New("version takes no arguments")
	}
	b := buildinfo.Get()
	if asJSON {
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
