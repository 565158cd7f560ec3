package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/web"
)

// issuers is `authz issuers add|list|update|remove`: the trusted issuers
// of federated workload tokens of an organization.
func (m *Main) issuers(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("issuers "+args[0], &c)
	var orgSlug, name, issuer, audience, jwksURI, jwksFile, lifeText string
	var reusable, discover bool
	orgFlag(fs, &orgSlug)
	switch args[0] {
	case "add", "update":
		fs.StringVar(&name, "name", "", "display name (required to add)")
		fs.StringVar(&audience, "audience", "", "the aud the platform's tokens must carry (required to add): name this server and organization, e.g. https://auth.example.com/orgs/acme")
		fs.StringVar(&jwksURI, "jwks-uri", "", "an https URL serving the issuer's public keys (JWKS)")
		fs.StringVar(&jwksFile, "jwks-file", "", "a file holding the issuer's public keys as a JWKS document; without it and --jwks-uri the issuer's discovery document names them")
		fs.StringVar(&lifeText, "max-token-lifetime", "", "how far ahead a token's exp may be, at most 24h; default 1h")
		fs.BoolVar(&reusable, "reusable-tokens", false, "let a workload reuse a token until it expires (Kubernetes projected tokens); default each token is accepted once")
	}
	switch args[0] {
	case "add":
		fs.StringVar(&issuer, "issuer", "", "the exact iss of the platform's tokens, an https URL (required)")
	case "update":
		fs.BoolVar(&discover, "discover", false, "read the issuer's discovery document again for its jwks_uri")
	}
	pos, err := m.parse(fs, args[1:])
	if err != nil {
		return err
	}
	var life time.Duration
	if lifeText != "" {
		if life, err = models.ParseDuration(lifeText); err != nil {
			return fmt.Errorf("--max-token-lifetime: %w", err)
		}
	}
	log := m.logger(slog.LevelWarn)
	store, err := m.openStore(ctx, &c, log, false)
	if err != nil {
		return err
	}
	defer store.Close()
	org, err := orgOrOnly(ctx, store, orgSlug)
	if err != nil {
		return fmt.Errorf("issuers %s: %w", args[0], err)
	}
	reg, op := m.registry(store, nil, log), app.Operator(org.ID)
	var jwks string
	if jwksFile != "" {
		if jwks, err = readJWKSFile(jwksFile); err != nil {
			return fmt.Errorf("issuers %s: %w", args[0], err)
		}
	}
	keys := app.IssuerKeys{JWKSURI: jwksURI, JWKS: jwks}

	switch args[0] {
	case "list":
		list, err := reg.Issuers(ctx, op)
		if err != nil {
			return err
		}
		views := make([]web.IssuerView, 0, len(list))
		rows := make([][]string, 0, len(list))
		for i := range list {
			v := web.ViewIssuer(&list[i])
			views = append(views, v)
			rows = append(rows, []string{v.ID, v.Name, v.Issuer, v.KeysSource, v.Audience, v.MaxTokenLifetime, fmt.Sprint(v.SingleUse), fmt.Sprint(v.Clients)})
		}
		if c.json {
			return m.printJSON(views)
		}
		m.table("ID\tNAME\tISSUER\tKEYS\tAUDIENCE\tMAX_LIFETIME\tSINGLE_USE\tCLIENTS", rows)
		return nil
	case "add":
		if name == "" || issuer == "" || audience == "" {
			return errors.New("issuers add: --name, --issuer and --audience are required")
		}
		ti, err := reg.AddIssuer(ctx, op, app.NewIssuer{Name: name, Issuer: issuer, Keys: keys, Audience: audience, MaxTokenLifetime: life, ReusableTokens: reusable})
		if err != nil {
			return err
		}
		return m.printIssuer(&c, ti)
	}
	if len(pos) != 1 {
		return fmt.Errorf("issuers %s: want the issuer's id (issuers list shows it)", args[0])
	}
	if args[0] == "remove" {
		if err := reg.RemoveIssuer(ctx, op, pos[0]); err != nil {
			return err
		}
		m.printf("removed trusted issuer %s\n", pos[0])
		return nil
	}
	var ch app.IssuerChange
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "name":
			ch.Name = &name
		case "audience":
			ch.Audience = &audience
		case "max-token-lifetime":
			ch.MaxTokenLifetime = &life
		case "reusable-tokens":
			single := !reusable
			ch.SingleUse = &single
		case "jwks-uri", "jwks-file", "discover":
			ch.Keys = &keys
		}
	})
	if ch == (app.IssuerChange{}) {
		return errors.New("issuers update: nothing to change: give --name, --audience, --max-token-lifetime, --reusable-tokens, --jwks-uri, --jwks-file or --discover")
	}
	ti, err := reg.UpdateIssuer(ctx, op, pos[0], ch)
	if err != nil {
		return err
	}
	return m.printIssuer(&c, ti)
}

func (m *Main) printIssuer(c *common, ti *models.TrustedIssuer) error {
	v := web.ViewIssuer(ti)
	if c.json {
		return m.printJSON(v)
	}
	m.printf("id:                  %s\nname:                %s\nissuer:              %s\nkeys:                %s %s\naudience:            %s\nmax_token_lifetime:  %s\nsingle_use:          %v\nclients:             %d\n",
		v.ID, v.Name, v.Issuer, v.KeysSource, v.JWKSURI, v.Audience, v.MaxTokenLifetime, v.SingleUse, v.Clients)
	return nil
}

// federationFlags are a federated client's binding: --trusted-issuer,
// --subject and repeated --condition claim=value.
type federationFlags struct {
	issuer, subject string
	conditions      conditionFlag
}

func (f *federationFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.issuer, "trusted-issuer", "", "federated: the id of the trusted issuer whose tokens the client sends (issuers list)")
	fs.StringVar(&f.subject, "subject", "", "federated: the tokens' sub, exact or with * for any run of characters, e.g. repo:acme/api:ref:refs/heads/main or system:serviceaccount:payments:worker")
	fs.Var(&f.conditions, "condition", "federated: claim=value, a claim the tokens must hold with exactly that string value (a path into nested claims with /: kubernetes.io/namespace=payments); repeatable")
}

func (f *federationFlags) federation() models.Federation {
	return models.Federation{IssuerID: f.issuer, Subject: f.subject, Conditions: models.Conditions(f.conditions)}
}

// conditionFlag collects repeated claim=value flags.
type conditionFlag map[string]string

func (c *conditionFlag) String() string {
	var parts []string
	for k, v := range *c {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, ",")
}

func (c *conditionFlag) Set(s string) error {
	claim, value, ok := strings.Cut(s, "=")
	if !ok || claim == "" {
		return fmt.Errorf("want claim=value, got %q", s)
	}
	if *c == nil {
		*c = conditionFlag{}
	}
	(*c)[claim] = value
	return nil
}
