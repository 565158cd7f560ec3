package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/authz/authz/models"
)

// The flags several commands share, besides --db (which every command
// takes): a command lists only those it uses.
const (
	// keyFileFlag is --key-file: commands that read the key material (to
	// hash a secret, seal a signing key, or check a key file is the
	// database's).
	keyFileFlag = 1 << iota
	// jsonFlag is --json: commands that print a result.
	jsonFlag
	// noDBFlag: the command opens no database, so takes no --db.
	noDBFlag
)

// command is one command as `authz help` and its -h show it.
type command struct {
	name   string // "clients show"
	args   string // its positional arguments, "CLIENT_ID"
	about  string
	shared int // keyFileFlag, jsonFlag
}

// commands are every command, in the order `authz help` lists them.
var commands = []command{
	{"serve", "", "run the server (migrates first)", keyFileFlag},
	{"migrate", "", "apply database migrations", keyFileFlag | jsonFlag},
	{"users create", "", "add a member to an organization (a person already in another one joins as they are)", jsonFlag},
	{"users list", "", "an organization's members", jsonFlag},
	{"users disable", "EMAIL", "disable a member: their clients get no more tokens", jsonFlag},
	{"users enable", "EMAIL", "enable a member again", jsonFlag},
	{"users set-permissions", "EMAIL PERMISSIONS", `replace a member's permissions (comma-separated; "" for none)`, jsonFlag},
	{"users set-role", "EMAIL owner|admin|member", "change a member's role", jsonFlag},
	{"users allow-create", "EMAIL", "let a member create clients", jsonFlag},
	{"users deny-create", "EMAIL", "stop a member from creating clients", jsonFlag},
	{"users set-password", "EMAIL", "set a person's admin password, read from standard input", 0},
	{"clients create", "", "register a client; prints its secret once", keyFileFlag | jsonFlag},
	{"clients import", "", "register an existing credential, its secret read from standard input", keyFileFlag | jsonFlag},
	{"clients list", "", "the table of an organization's credentials, newest first", jsonFlag},
	{"clients show", "CLIENT_ID", "one client: its status, scopes, secrets and last use", jsonFlag},
	{"clients update", "CLIENT_ID", "change a client: only the flags given", jsonFlag},
	{"clients renew", "CLIENT_ID", "give a client a new expiry, keeping its client_id and secrets", jsonFlag},
	{"clients rotate", "CLIENT_ID", "a new secret, printed once; the old ones work for the grace period", keyFileFlag | jsonFlag},
	{"clients set-keys", "CLIENT_ID", "replace a private_key_jwt client's public keys (--jwks-file or --jwks-uri)", jsonFlag},
	{"clients set-federation", "CLIENT_ID", "replace a federated client's binding (--trusted-issuer, --subject, --condition)", jsonFlag},
	{"clients revoke", "CLIENT_ID", "revoke a client: its very next token request is refused", jsonFlag},
	{"clients revoke-secret", "CLIENT_ID SECRET_ID", "revoke one secret of a client (clients show lists their ids)", jsonFlag},
	{"clients expiring", "", "the clients whose credential expires soon", jsonFlag},
	{"issuers add", "", "trust an issuer of workload tokens (GitHub Actions, Kubernetes, SPIFFE) in an organization", jsonFlag},
	{"issuers list", "", "an organization's trusted issuers", jsonFlag},
	{"issuers update", "ISSUER_ID", "change a trusted issuer: only the flags given", jsonFlag},
	{"issuers remove", "ISSUER_ID", "stop trusting an issuer (refused while clients are bound to it)", 0},
	{"orgs create", "", "add an organization with its project default and its first owner", jsonFlag},
	{"orgs list", "", "every organization", jsonFlag},
	{"projects create", "", "add a project to an organization", jsonFlag},
	{"projects list", "", "an organization's projects", jsonFlag},
	{"projects set-default", "", "the project an organization client's token is for when its request names none", 0},
	{"policy show", "", "an organization's credential policy", jsonFlag},
	{"policy set", "", "change an organization's credential policy: only the flags given", jsonFlag},
	{"policy webhook-secret", "", "the key expiry reminder webhooks are signed with, for their receiver", keyFileFlag | jsonFlag},
	{"audit", "", "the audit log, newest first", jsonFlag},
	{"keys list", "", "the signing keys: states and dates", jsonFlag},
	{"keys rotate", "", "start a rotation: a next signing key, published before it signs", keyFileFlag | jsonFlag},
	{"keys rewrap", "", "re-encrypt the signing keys under the newest key-encryption key", keyFileFlag | jsonFlag},
	{"healthcheck", "", "ask a running server's /readyz and succeed when it is ready (the container's health check)", noDBFlag},
	{"version", "", "the version, commit, build date and Go version, and whether SQLite is in this build (also --version)", jsonFlag | noDBFlag},
}

// lookupCommand is the command named name ("clients show"), or nil.
func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// subcommands are the names of group's subcommands ("create", "list" for
// "orgs"); none when group is not a group of commands.
func subcommands(group string) []string {
	var subs []string
	for _, c := range commands {
		if g, sub, ok := strings.Cut(c.name, " "); ok && g == group {
			subs = append(subs, sub)
		}
	}
	return subs
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// usage is what `authz help` prints.
func usage() string {
	var b strings.Builder
	b.WriteString("authz: an OAuth 2.0 client-credentials authorization server\n\nUsage: authz <command> [flags] [arguments]\n\nCommands:\n")
	listCommands(&b, commands, func(c command) string { return c.name })
	b.WriteString("\nEvery command takes --db URL (env AUTHZ_DATABASE_URL; sqlite:PATH or\n" +
		"postgres://...; default sqlite:authz.db) and --config FILE (env\n" +
		"AUTHZ_CONFIG): a file of AUTHZ_*=value lines, below flags and the\n" +
		"environment. Run `authz <command> -h` for a command's flags.\n")
	return b.String()
}

// groupUsage is what `authz clients -h` prints.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: authz %s <subcommand> [flags] [arguments]\n\nSubcommands:\n", group)
	var list []command
	for _, c := range commands {
		if strings.HasPrefix(c.name, group+" ") {
			list = append(list, c)
		}
	}
	listCommands(&b, list, func(c command) string { return strings.TrimPrefix(c.name, group+" ") })
	fmt.Fprintf(&b, "\nRun `authz %s <subcommand> -h` for its flags.\n", group)
	return b.String()
}

// listCommands writes one line per command: its name and arguments, then
// what it does.
func listCommands(w io.Writer, list []command, name func(command) string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range list {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(name(c)+" "+c.args), c.about)
	}
	tw.Flush()
}

// flags returns the flag set of the command name ("clients show") with the
// shared flags it uses: --db (but where its entry in commands says
// noDBFlag), and --key-file and --json where it says so.
func (m *Main) flags(name string, c *common) *flag.FlagSet {
	cmd := lookupCommand(name)
	if cmd == nil {
		panic("authz: no command " + name + " in commands") // a programming error, caught by TestHelp
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// m.parse prints the usage when asked for it, and the caller the
	// error of a bad flag.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if cmd.shared&noDBFlag == 0 {
		fs.StringVar(&c.db, "db", m.env("AUTHZ_DATABASE_URL", models.DefaultURL), "database URL: sqlite:PATH or postgres://... (env AUTHZ_DATABASE_URL)")
	}
	if cmd.shared&keyFileFlag != 0 {
		fs.StringVar(&c.keyFile, "key-file", m.env("AUTHZ_KEY_FILE", ""), "development key file (key-encryption key and secret pepper) used when AUTHZ_KEK and AUTHZ_PEPPER are unset; default: authz.key beside the SQLite database (env AUTHZ_KEY_FILE)")
	}
	if cmd.shared&jsonFlag != 0 {
		fs.BoolVar(&c.json, "json", false, "machine-readable JSON output")
	}
	return fs
}

// parse parses a command's flags, which may come before or after its
// positional arguments. Asked for help (-h, --help), it prints the
// command's usage to standard output and returns flag.ErrHelp, which Run
// turns into success.
func (m *Main) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			m.printHelp(fs)
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (see authz %s -h)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// printHelp writes the usage of fs's command: its synopsis with its
// positional arguments, what it does, and its flags.
func (m *Main) printHelp(fs *flag.FlagSet) {
	cmd := lookupCommand(fs.Name())
	fmt.Fprintf(m.Stdout, "Usage: authz %s [flags]", cmd.name)
	if cmd.args != "" {
		fmt.Fprintf(m.Stdout, " %s", cmd.args)
	}
	fmt.Fprintf(m.Stdout, "\n\n%s.\n\nFlags:\n", strings.ToUpper(cmd.about[:1])+cmd.about[1:])
	fs.SetOutput(m.Stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprintln(m.Stdout, "  -config file\n    \ta file of AUTHZ_*=value lines, below flags and the environment (env AUTHZ_CONFIG)")
}

// checkSubcommand returns an error unless args name a subcommand of group.
func checkSubcommand(group string, args []string) error {
	subs := subcommands(group)
	if len(args) == 0 {
		return fmt.Errorf("%s: want a subcommand: %s", group, strings.Join(subs, ", "))
	}
	if !slices.Contains(subs, args[0]) {
		return fmt.Errorf("%s: unknown subcommand %q; want %s", group, args[0], strings.Join(subs, ", "))
	}
	return nil
}
