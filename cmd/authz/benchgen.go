//go:build authzbench

// The load test's signed requests: private_key_jwt clients seeded with
// known keys (`authz bench-seed --key-clients`), and `authz
// bench-requests`, which signs, ahead of a measured run, the client
// assertions and DPoP proofs that wrk cannot make and must not reuse.

package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
	"github.com/authz/authz/oauth"
	"github.com/golang-jwt/jwt/v5"
)

// The algorithms of the seeded key clients: one key pair of each, shared by
// that algorithm's clients.
var benchKeyAlgs = []string{"ES256", "RS256"}

// benchKeyFiles are the files bench-seed --keys-dir writes for alg: the
// private key (PKCS #8, PEM) and the client_ids that registered its public
// key, one a line.
func benchKeyFiles(dir, alg string) (key, clients string) {
	name := strings.ToLower(alg)
	return filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".clients")
}

// seedKeyClients registers cfg.keyClients private_key_jwt clients per
// algorithm of benchKeyAlgs in the default organization's project "bench",
// through app.Registry, owned by members of their own (clientsPerOwner
// each), and writes each algorithm's private key and client_ids to
// cfg.keysDir.
func seedKeyClients(ctx context.Context, store *models.Store, hasher *oauth.Hasher, cfg seedConfig, out io.Writer) error {
	if err := os.MkdirAll(cfg.keysDir, 0o700); err != nil {
		return err
	}
	registry := app.NewRegistry(store, app.RegistryConfig{Hasher: hasher})
	n := 0
	var owner *models.User
	for _, alg := range benchKeyAlgs {
		priv, err := newBenchKey(alg)
		if err != nil {
			return err
		}
		jwk, err := verify.PublicJWK("bench-"+strings.ToLower(alg), alg, priv.Public())
		if err != nil {
			return err
		}
		jwks, err := json.Marshal(verify.JWKS{Keys: []verify.JWK{jwk}})
		if err != nil {
			return err
		}
		ids := make([]string, 0, cfg.keyClients)
		for range cfg.keyClients {
			if n%clientsPerOwner == 0 {
				owner = &models.User{OrgID: models.DefaultOrgID, Email: fmt.Sprintf("keyowner%05d@bench.example", n/clientsPerOwner),
					Name: fmt.Sprintf("Key owner %d", n/clientsPerOwner), Permissions: models.NewSet(ownerPermissions...)}
				if err := store.CreateUser(ctx, owner); err != nil {
					return err
				}
			}
			n++
			c, _, err := registry.Create(ctx, app.Operator(models.DefaultOrgID), app.NewClient{
				Project: "bench", OwnerEmail: owner.Email, Name: "bench " + alg + " key client",
				Scopes: []string{"analysis:read", "analysis:create"}, IPAllowlist: []string{"127.0.0.0/8"}, TokenTTL: benchTTL,
				AuthMethod: models.AuthPrivateKeyJWT, JWKS: string(jwks),
			})
			if err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		keyFile, clientsFile := benchKeyFiles(cfg.keysDir, alg)
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(clientsFile, []byte(strings.Join(ids, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "seeded %d private_key_jwt clients per algorithm (%s), their keys and client_ids in %s\n", cfg.keyClients, strings.Join(benchKeyAlgs, ", "), cfg.keysDir)
	return nil
}

func newBenchKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("no bench key for %s", alg)
}

func readBenchKey(file string) (crypto.Signer, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", file)
	}
	return signer, nil
}

// readLines returns the non-empty lines of file.
func readLines(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var lines []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: empty", file)
	}
	return lines, nil
}

// What bench-requests makes.
const (
	benchKindAssertion = "private_key_jwt"
	benchKindDPoP      = "dpop"
	// benchTokenBody is the form every load-test request sends (as
	// bench/token.lua does), before its client authentication.
	benchTokenBody = "grant_type=client_credentials&scope=analysis%3Aread"
)

type requestsConfig struct {
	kind, alg, issuer, keysDir, credsFile, out string
	count, split                               int
}

// benchRequests is `authz bench-requests`: it writes count token requests,
// each usable once, for bench/token.lua's REQUESTS mode, spread round-robin
// over split files out.0 … out.(split-1) (one per wrk thread). A line is
// "body<TAB>authorization<TAB>dpop" (the last two empty when not sent).
// The last line of its output is "fresh-until UNIX": the requests are
// accepted until then.
func (m *Main) benchRequests(ctx context.Context, args []string) error {
	var c common
	var cfg requestsConfig
	fs := m.flags("bench-requests", &c)
	fs.StringVar(&cfg.kind, "kind", benchKindAssertion, "private_key_jwt: a client assertion per request, rotating over the key clients of --alg; dpop: Basic authentication rotating over --creds-file and a DPoP proof (ES256) per request")
	fs.StringVar(&cfg.alg, "alg", "ES256", "the client assertions' algorithm: ES256 or RS256 (private_key_jwt)")
	fs.StringVar(&cfg.issuer, "issuer", "", "the server's issuer: the assertions' aud, and the DPoP proofs' htu is its /oauth2/token")
	fs.StringVar(&cfg.keysDir, "keys-dir", "", "the directory bench-seed --keys-dir wrote (private_key_jwt)")
	fs.StringVar(&cfg.credsFile, "creds-file", "", "the file bench-seed --creds-file wrote (dpop)")
	fs.StringVar(&cfg.out, "out", "", "write the requests to OUT.0, OUT.1, …")
	fs.IntVar(&cfg.count, "count", 1000, "requests to write")
	fs.IntVar(&cfg.split, "split", 1, "files to spread them over (wrk's threads)")
	if _, err := m.parse(fs, args); err != nil {
		return err
	}
	switch {
	case cfg.count < 1 || cfg.split < 1:
		return errors.New("--count and --split: want at least 1")
	case cfg.out == "":
		return errors.New("--out is required")
	case !strings.HasPrefix(cfg.issuer, "http://") && !strings.HasPrefix(cfg.issuer, "https://"):
		return errors.New("--issuer: want the server's http(s) issuer URL")
	}
	start := time.Now()
	next, freshUntil, err := requestMaker(cfg, start)
	if err != nil {
		return err
	}
	files := make([]*os.File, cfg.split)
	writers := make([]*bufio.Writer, cfg.split)
	for i := range files {
		if files[i], err = os.OpenFile(fmt.Sprintf("%s.%d", cfg.out, i), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer files[i].Close()
		writers[i] = bufio.NewWriterSize(files[i], 1<<20)
	}
	for i := range cfg.count {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := next(i)
		if err != nil {
			return err
		}
		if _, err := writers[i%cfg.split].WriteString(line + "\n"); err != nil {
			return err
		}
	}
	for i, w := range writers {
		if err := w.Flush(); err != nil {
			return err
		}
		if err := files[i].Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.Stdout, "wrote %d %s requests to %s.0…%d in %s\n", cfg.count, cfg.kind, cfg.out, cfg.split-1, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(m.Stdout, "fresh-until %d\n", freshUntil.Unix())
	return nil
}

// requestMaker returns the function making request i of cfg, and until
// when those made at now are accepted.
func requestMaker(cfg requestsConfig, now time.Time) (func(i int) (string, error), time.Time, error) {
	// Every jti is this run's random prefix and the request's number:
	// unique across runs against the same database.
	var run [8]byte
	if _, err := rand.Read(run[:]); err != nil {
		return nil, time.Time{}, err
	}
	prefix := hex.EncodeToString(run[:]) + "-"
	switch cfg.kind {
	case benchKindAssertion:
		if cfg.keysDir == "" {
			return nil, time.Time{}, errors.New("--keys-dir is required for private_key_jwt")
		}
		method := jwt.GetSigningMethod(cfg.alg)
		if method == nil || !slices.Contains(benchKeyAlgs, cfg.alg) {
			return nil, time.Time{}, fmt.Errorf("--alg %q: want one of %s", cfg.alg, strings.Join(benchKeyAlgs, ", "))
		}
		keyFile, clientsFile := benchKeyFiles(cfg.keysDir, cfg.alg)
		key, err := readBenchKey(keyFile)
		if err != nil {
			return nil, time.Time{}, err
		}
		ids, err := readLines(clientsFile)
		if err != nil {
			return nil, time.Time{}, err
		}
		// The longest lifetime the server accepts.
		exp := now.Add(oauth.AssertionMaxLifetime)
		kid := "bench-" + strings.ToLower(cfg.alg)
		return func(i int) (string, error) {
			id := ids[i%len(ids)]
			tok := jwt.NewWithClaims(method, jwt.MapClaims{"iss": id, "sub": id, "aud": cfg.issuer, "iat": now.Unix(), "exp": exp.Unix(), "jti": fmt.Sprint(prefix, i)})
			tok.Header["kid"] = kid
			a, err := tok.SignedString(key)
			if err != nil {
				return "", err
			}
			return benchTokenBody + "&client_id=" + url.QueryEscape(id) + "&client_assertion_type=" + url.QueryEscape(oauth.ClientAssertionType) +
				"&client_assertion=" + a + "\t\t", nil
		}, exp, nil
	case benchKindDPoP:
		if cfg.credsFile == "" {
			return nil, time.Time{}, errors.New("--creds-file is required for dpop")
		}
		creds, err := readLines(cfg.credsFile)
		if err != nil {
			return nil, time.Time{}, err
		}
		auths := make([]string, len(creds))
		for i, line := range creds {
			id, secret, ok := strings.Cut(line, " ")
			if !ok {
				return nil, time.Time{}, fmt.Errorf("%s: line %d is not \"client_id secret\"", cfg.credsFile, i+1)
			}
			auths[i] = "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, time.Time{}, err
		}
		jwk, err := verify.PublicJWK("bench-dpop", "ES256", key.Public())
		if err != nil {
			return nil, time.Time{}, err
		}
		htu := cfg.issuer + "/oauth2/token"
		return func(i int) (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"jti": fmt.Sprint(prefix, i), "htm": "POST", "htu": htu, "iat": now.Unix()})
			tok.Header["typ"] = verify.DPoPProofType
			tok.Header["jwk"] = map[string]string{"kty": jwk.Kty, "crv": jwk.Crv, "x": jwk.X, "y": jwk.Y}
			proof, err := tok.SignedString(key)
			if err != nil {
				return "", err
			}
			return benchTokenBody + "\t" + auths[i%len(auths)] + "\t" + proof, nil
		}, now.Add(verify.DefaultDPoPMaxAge), nil
	}
	return nil, time.Time{}, fmt.Errorf("--kind %q: want %s or %s", cfg.kind, benchKindAssertion, benchKindDPoP)
}
