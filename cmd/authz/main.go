// Command authz is an OAuth 2.0 client-credentials authorization server.
//
// Usage: authz <command> [flags]; run `authz help` for the list.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/authz/authz/models"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "authz:", err)
		}
		os.Exit(2)
	}
}

// Main is the program, with its environment as fields so tests run it
// in-process.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Listening, when set, is told the address serve listens on.
	Listening func(addr string)
}

// NewMain returns a Main wired to the process's environment.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// benchCommands are `authz bench-seed` and `authz bench-requests`, only in
// builds with the authzbench tag (bench.go).
var benchCommands map[string]func(ctx context.Context, m *Main, args []string) error

// Run runs one command. Asked for help (`authz help [command]`, or -h or
// --help anywhere a flag may stand) it prints the usage to standard output
// and succeeds.
func (m *Main) Run(ctx context.Context, args []string) error {
	err := m.run(ctx, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage())
		return errors.New("no command given")
	}
	cmd := args[0]
	switch {
	case isHelp(cmd):
		if len(args) == 1 || isHelp(args[1]) {
			fmt.Fprint(m.Stdout, usage())
			return nil
		}
		return m.run(ctx, append(slices.Clone(args[1:]), "-h"))
	case len(subcommands(cmd)) > 0:
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprint(m.Stdout, groupUsage(cmd))
			return nil
		}
		if err := checkSubcommand(cmd, args[1:]); err != nil {
			fmt.Fprint(m.Stderr, groupUsage(cmd))
			return err
		}
	}
	m, rest, err := m.withConfigFile(args[1:])
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return m.serve(ctx, rest)
	case "migrate":
		return m.migrate(ctx, rest)
	case "users":
		return m.users(ctx, rest)
	case "clients":
		return m.clients(ctx, rest)
	case "keys":
		return m.keys(ctx, rest)
	case "orgs":
		return m.orgs(ctx, rest)
	case "projects":
		return m.projects(ctx, rest)
	case "issuers":
		return m.issuers(ctx, rest)
	case "policy":
		return m.policy(ctx, rest)
	case "audit":
		return m.audit(ctx, rest)
	case "healthcheck":
		return m.healthcheck(ctx, rest)
	case "version", "--version":
		return m.version(rest)
	default:
		if run := benchCommands[cmd]; run != nil {
			return run(ctx, m, rest)
		}
	}
	fmt.Fprint(m.Stderr, usage())
	return fmt.Errorf("unknown command %q", cmd)
}

// common holds the flags several commands take (see Main.flags): --db
// every one, --key-file and --json those that use them.
type common struct {
	db      string
	keyFile string
	json    bool
	// allowEmpty is --allow-empty-database (serve and migrate only).
	allowEmpty bool
}

// allowEmptyFlag adds --allow-empty-database to the commands that create a
// database's schema (serve, migrate); see guardEmptyDatabase. A bad
// environment value is added to problems.
func (m *Main) allowEmptyFlag(fs *flag.FlagSet, c *common, problems *[]string) {
	def := false
	if v := m.Getenv("AUTHZ_ALLOW_EMPTY_DATABASE"); v != "" {
		var err error
		if def, err = strconv.ParseBool(v); err != nil {
			*problems = append(*problems, fmt.Sprintf("AUTHZ_ALLOW_EMPTY_DATABASE=%q: want true or false", v))
		}
	}
	fs.BoolVar(&c.allowEmpty, "allow-empty-database", def, "start on an empty SQLite database although its key file exists, i.e. the database it belonged to is gone (env AUTHZ_ALLOW_EMPTY_DATABASE)")
}

func (m *Main) env(name, def string) string {
	if v := m.Getenv(name); v != "" {
		return v
	}
	return def
}

func (m *Main) logger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}

// openStore opens and migrates (or checks) the database.
func (m *Main) openStore(ctx context.Context, c *common, log *slog.Logger, migrate bool) (*models.Store, error) {
	store, err := models.Open(ctx, c.db, log)
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := m.guardEmptyDatabase(ctx, c, store); err != nil {
			store.Close()
			return nil, err
		}
		if _, err := store.Migrate(ctx); err != nil {
			store.Close()
			return nil, err
		}
	} else if err := store.CheckSchema(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

func (m *Main) migrate(ctx context.Context, args []string) error {
	var c common
	var problems []string
	fs := m.flags("migrate", &c)
	m.allowEmptyFlag(fs, &c, &problems)
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(problems[0])
	}
	store, err := models.Open(ctx, c.db, m.logger(slog.LevelWarn))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := m.guardEmptyDatabase(ctx, &c, store); err != nil {
		return err
	}
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	v, err := store.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if c.json {
		if applied == nil {
			applied = []int{}
		}
		return m.printJSON(map[string]any{"applied": applied, "version": v})
	}
	fmt.Fprintf(m.Stdout, "schema at version %d (%d migrations applied now)\n", v, len(applied))
	return nil
}

func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows under header in aligned columns; every cell is
// escaped (a tab or newline in one would break the table).
func (m *Main) table(header string, rows [][]string) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	cells := []string{}
	for _, r := range rows {
		cells = cells[:0]
		for _, c := range r {
			cells = append(cells, escape(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}
