package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/web"
)

func (m *Main) users(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("users "+args[0], &c)
	var orgSlug, email, name, role, perms string
	orgFlag(fs, &orgSlug)
	switch args[0] {
	case "create":
		fs.StringVar(&email, "email", "", "email address (required); a person who belongs to another organization already joins this one as they are")
		fs.StringVar(&name, "name", "", "display name (required)")
		fs.StringVar(&role, "role", models.RoleMember, "owner, admin or member")
		fs.StringVar(&perms, "permissions", "", "comma-separated permissions, e.g. analysis:read,analysis:create")
	}
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()
	org, err := orgOrOnly(ctx, store, orgSlug)
	if err != nil {
		return fmt.Errorf("users %s: %w", args[0], err)
	}
	reg, op := m.registry(store, nil, log), app.Operator(org.ID)

	switch args[0] {
	case "create":
		if email == "" || name == "" {
			return errors.New("users create: --email and --name are required")
		}
		u := &models.User{Email: email, Name: name, Role: role, Permissions: models.ParseSet(perms)}
		if err := reg.CreateUser(ctx, op, u); err != nil {
			return err
		}
		return m.printUser(&c, u)
	case "list":
		users, err := store.ListUsers(ctx, org.ID)
		if err != nil {
			return err
		}
		if c.json {
			views := make([]web.UserView, 0, len(users))
			for i := range users {
				views = append(views, web.ViewUser(&users[i]))
			}
			return m.printJSON(views)
		}
		rows := make([][]string, 0, len(users))
		for _, u := range users {
			rows = append(rows, []string{u.Email, u.Name, u.Role, u.Status, fmt.Sprint(u.MayCreateClients), strings.Join(u.Permissions, ",")})
		}
		m.table("EMAIL\tNAME\tROLE\tSTATUS\tMAY_CREATE\tPERMISSIONS", rows)
		return nil
	}
	if len(pos) < 1 {
		return fmt.Errorf("users %s: want the user's email", args[0])
	}
	u, err := store.UserByEmail(ctx, org.ID, pos[0])
	if err != nil {
		return err
	}
	switch args[0] {
	case "set-password":
		password, err := readSecretLine(m.Stdin)
		if err != nil {
			return fmt.Errorf("users set-password: read the password from standard input: %w", err)
		}
		if err := reg.SetPassword(ctx, op, u.Email, password); err != nil {
			return err
		}
		fmt.Fprintf(m.Stderr, "password set for %s\n", u.Email)
		return nil
	case "disable":
		u.Status = models.StatusDisabled
	case "enable":
		u.Status = models.StatusActive
	case "allow-create":
		u.MayCreateClients = true
	case "deny-create":
		u.MayCreateClients = false
	case "set-role":
		if len(pos) != 2 {
			return errors.New("users set-role: want EMAIL owner|admin|member")
		}
		u.Role = pos[1]
	case "set-permissions":
		if len(pos) != 2 {
			return errors.New("users set-permissions: want EMAIL p1,p2 (an empty list is \"\")")
		}
		u.Permissions = models.ParseSet(pos[1])
	}
	if err := reg.UpdateUser(ctx, op, u, args[0]); err != nil {
		return err
	}
	return m.printUser(&c, u)
}

// readSecretLine reads one line (a password or a secret) from r, so that it
// never appears in a command line, a process list or shell history.
func readSecretLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty input")
	}
	return line, nil
}

func (m *Main) printUser(c *common, u *models.User) error {
	if c.json {
		return m.printJSON(web.ViewUser(u))
	}
	m.printf("%s  %s  role=%s  status=%s  may_create_clients=%t  permissions=%s\n", u.Email, u.Name, u.Role, u.Status, u.MayCreateClients, strings.Join(u.Permissions, ","))
	return nil
}
