package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

// Issue 3's governance rules, tested at the HTTP endpoints on every backend
// with one fake clock shared by every component.

// ---- environment ----

// govEpoch is where every govEnv's clock starts: a whole second, so that
// times survive every backend's round trip unchanged.
var govEpoch = time.Date(2031, time.March, 3, 9, 0, 0, 0, time.UTC)

// govEnv is a running authz on a real database, wired like production (a
// UsageRecorder and an AuditWriter behind the token endpoint, introspection
// enabled), in which the store, the registry, the keyring and the token
// endpoint all read one fake clock.
type govEnv struct {
	ctx      context.Context
	clock    *testutil.Clock
	store    *models.Store
	hasher   *oauth.Hasher
	keyring  *jwtkeys.Keyring
	registry *app.Registry
	usage    *app.UsageRecorder
	audit    *app.AuditWriter
	// stopAudit stops the running AuditWriter, which writes what it holds.
	stopAudit func()
	url       string // the main server: no trusted proxies
	admin     *models.User
	owner     *models.User // a member holding readScope, createScope, configScope
}

func newGovEnv(t *testing.T, backend string) *govEnv {
	t.Helper()
	ctx := context.Background()
	clock := testutil.NewClock(govEpoch)
	store := storetest.Open(t, backend)
	store.Now = clock.Now
	hasher, err := oauth.NewHasher([]byte(strings.Repeat("g", 32)))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := jwtkeys.ParseKEK(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("q", 32))))
	if err != nil {
		t.Fatal(err)
	}
	e := &govEnv{ctx: ctx, clock: clock, store: store, hasher: hasher}

	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	if e.keyring, err = jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{KEK: kek, Issuer: srv.URL, Now: clock.Now}); err != nil {
		t.Fatal(err)
	}
	if err := e.keyring.Load(ctx); err != nil {
		t.Fatal(err)
	}
	e.usage = app.NewUsageRecorder(store, time.Hour, nil)
	e.audit = app.NewAuditWriter(store, 1024, nil)
	e.runAudit()
	t.Cleanup(func() { e.stopAudit() }) // before the store closes
	e.registry = app.NewRegistry(store, app.RegistryConfig{Hasher: hasher, Issuer: srv.URL, Now: clock.Now})
	handler = e.handler(t, oauth.Config{})

	e.admin = e.user(t, "admin@example.com", models.RoleAdmin, readScope, createScope, configScope)
	e.owner = e.user(t, "alice@example.com", models.RoleMember, readScope, createScope, configScope)
	return e
}

// handler returns the HTTP surface over the env's store, keyring, clock,
// usage recorder and audit writer, configured by cfg (Issuer defaults to
// the main server's URL; Now is always the env's clock).
func (e *govEnv) handler(t *testing.T, cfg oauth.Config) http.Handler {
	t.Helper()
	if cfg.Issuer == "" {
		cfg.Issuer = e.url
	}
	cfg.Now = e.clock.Now
	tokens, err := oauth.NewServer(cfg, e.store, e.hasher, e.keyring, e.usage, e.audit)
	if err != nil {
		t.Fatal(err)
	}
	tokens.EnableIntrospection(e.keyring, e.store)
	return web.New(web.Config{Issuer: cfg.Issuer}, tokens, e.keyring, e.store)
}

// serve starts another server over the same env configured by cfg, on ln
// when not nil, and returns its URL.
func (e *govEnv) serve(t *testing.T, cfg oauth.Config, ln net.Listener) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(e.handler(t, cfg))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func (e *govEnv) runAudit() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.audit.Run(ctx, time.Hour) // writes only when stopped
	}()
	e.stopAudit = func() { cancel(); <-done }
}

// flushAudit makes the AuditWriter write every event recorded so far: the
// token endpoint records synchronously, before it answers.
func (e *govEnv) flushAudit() {
	e.stopAudit()
	e.runAudit()
}

// user creates a user directly in the store (no audit event).
func (e *govEnv) user(t *testing.T, email, role string, perms ...string) *models.User {
	t.Helper()
	u := &models.User{OrgID: models.DefaultOrgID, Email: email, Name: strings.Split(email, "@")[0], Role: role, Permissions: models.NewSet(perms...)}
	if err := e.store.CreateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// updateUser saves u through the Registry as the admin.
func (e *govEnv) updateUser(t *testing.T, u *models.User, change string) {
	t.Helper()
	if err := e.registry.UpdateUser(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, u, change); err != nil {
		t.Fatalf("update user %s (%s): %v", u.Email, change, err)
	}
}

// client registers a client as the CLI; by default owned by e.owner with
// readScope.
func (e *govEnv) client(t *testing.T, in app.NewClient) (*models.Client, string) {
	t.Helper()
	if in.OwnerEmail == "" {
		in.OwnerEmail = e.owner.Email
	}
	if in.Name == "" {
		in.Name = "governed client"
	}
	if in.Scopes == nil {
		in.Scopes = []string{readScope}
	}
	c, secret, err := e.registry.Create(e.ctx, app.Operator(models.DefaultOrgID), in)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return c, secret
}

// setPolicy changes the saved policy through the Registry as the admin.
func (e *govEnv) setPolicy(t *testing.T, change func(p *models.Policy)) {
	t.Helper()
	p, err := e.store.Policy(e.ctx, models.DefaultOrgID)
	if err != nil {
		t.Fatal(err)
	}
	change(p)
	if err := e.registry.SavePolicy(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: e.admin}, p); err != nil {
		t.Fatalf("save policy: %v", err)
	}
}

// token asks the main server for a token with Basic credentials.
func (e *govEnv) token(t *testing.T, id, secret string) *endpointResponse {
	t.Helper()
	return tokenAt(t, e.url, id, secret, nil, nil)
}

// mustToken returns a fresh access token for the client, or stops the test.
func (e *govEnv) mustToken(t *testing.T, id, secret string) string {
	t.Helper()
	r := e.token(t, id, secret)
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("token for %s: got %s", id, r)
	}
	return r.str("access_token")
}

// ---- HTTP helpers, usable against any authz server ----

// endpointResponse is a response of an OAuth endpoint.
type endpointResponse struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // nil for an empty body
}

func (r *endpointResponse) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r *endpointResponse) num(key string) float64 {
	n, _ := r.body[key].(float64)
	return n
}

func (r *endpointResponse) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.raw))
}

// callEndpoint sends a request and reads the whole response; a non-empty
// body must be a JSON object.
func callEndpoint(t *testing.T, method, endpoint, contentType, body string, header http.Header) *endpointResponse {
	t.Helper()
	req, err := http.NewRequest(method, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &endpointResponse{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", method, endpoint, raw)
		}
	}
	return out
}

// postOAuthForm POSTs params as a form.
func postOAuthForm(t *testing.T, endpoint string, params url.Values, header http.Header) *endpointResponse {
	t.Helper()
	return callEndpoint(t, http.MethodPost, endpoint, form, params.Encode(), header)
}

// tokenAt sends a client-credentials token request to the server at base
// with Basic credentials, extra parameters and headers.
func tokenAt(t *testing.T, base, id, secret string, params url.Values, header http.Header) *endpointResponse {
	t.Helper()
	p := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range params {
		p[k] = v
	}
	h := basic(id, secret)
	for k, v := range header {
		h[k] = v
	}
	return postOAuthForm(t, base+"/oauth2/token", p, h)
}

// wantIssued reports an error unless r issued a Bearer token.
func wantIssued(t *testing.T, what string, r *endpointResponse) {
	t.Helper()
	if r.status != http.StatusOK || r.str("access_token") == "" || r.str("token_type") != "Bearer" {
		t.Errorf("%s: got %s, want a token", what, r)
	}
}

// wantOAuthError reports an error unless r is an RFC 6749 error with the
// status and code, whose error_description contains describes, with the
// headers every OAuth error carries.
func wantOAuthError(t *testing.T, what string, r *endpointResponse, status int, code, describes string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Errorf("%s: got %s, want %d %s", what, r, status, code)
		return
	}
	if !strings.Contains(r.str("error_description"), describes) {
		t.Errorf("%s: error_description %q does not say %q", what, r.str("error_description"), describes)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, got)
	}
	if got := r.header.Get("WWW-Authenticate"); (status == http.StatusUnauthorized) != strings.HasPrefix(got, "Basic ") {
		t.Errorf("%s: WWW-Authenticate %q: want a Basic challenge exactly on 401", what, got)
	}
	if _, ok := r.body["access_token"]; ok {
		t.Errorf("%s: an error carries an access_token", what)
	}
}

// wantDomainError reports an error unless err is a *models.Error with the
// code and kind.
func wantDomainError(t *testing.T, what string, err error, code string, kind error) {
	t.Helper()
	var me *models.Error
	if !errors.As(err, &me) || me.Code != code || !errors.Is(err, kind) {
		t.Errorf("%s: got %v (%#v), want a *models.Error %s wrapping %v", what, err, me, code, kind)
	}
}

const govDay = 24 * time.Hour

// ---- expiry ----

func TestGovernanceExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		created := e.clock.Now()
		c, secret := e.client(t, app.NewClient{})
		in10 := created.Add(10 * govDay)
		short, shortSecret := e.client(t, app.NewClient{ExpiresAt: &in10})

		for _, tc := range []struct {
			id   string
			want time.Time
		}{{c.ID, created.Add(365 * govDay)}, {short.ID, in10}} {
			stored, err := e.store.ClientByID(e.ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if stored.ExpiresAt == nil || !stored.ExpiresAt.Equal(tc.want) || !stored.CreatedAt.Equal(created) {
				t.Errorf("client %s: created %v, expires %v; want created %v, expires %v", tc.id, stored.CreatedAt, stored.ExpiresAt, created, tc.want)
			}
		}

		wantIssued(t, "default expiry, at creation", e.token(t, c.ID, secret))
		wantIssued(t, "10-day expiry, at creation", e.token(t, short.ID, shortSecret))
		e.clock.Set(in10.Add(-time.Second))
		wantIssued(t, "10-day expiry, a second before", e.token(t, short.ID, shortSecret))
		e.clock.Set(in10)
		r := e.token(t, short.ID, shortSecret)
		wantOAuthError(t, "10-day expiry, at expiry", r, 401, "invalid_client", "expired")
		if !strings.Contains(r.str("error_description"), in10.Format(time.RFC3339)) {
			t.Errorf("error_description %q does not name the expiry %s", r.str("error_description"), in10.Format(time.RFC3339))
		}
		wantIssued(t, "default expiry, after 10 days", e.token(t, c.ID, secret))

		e.clock.Set(created.Add(365*govDay - time.Second))
		wantIssued(t, "default expiry, a second before a year", e.token(t, c.ID, secret))
		e.clock.Set(created.Add(365 * govDay))
		wantOAuthError(t, "default expiry, a year after creation", e.token(t, c.ID, secret), 401, "invalid_client", "expired")
	})
}

// Shortening the maximum credential lifetime expires old clients at once,
// counted from their creation; lengthening or removing it brings them back.
func TestGovernanceRetroactiveMaxLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		created := e.clock.Now()
		c, secret := e.client(t, app.NewClient{})
		e.clock.Advance(60 * govDay)
		wantIssued(t, "60 days old, no cap", e.token(t, c.ID, secret))

		e.setPolicy(t, func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 30*govDay, 30*govDay })
		r := e.token(t, c.ID, secret)
		wantOAuthError(t, "60 days old, 30-day cap", r, 401, "invalid_client", "expired")
		if want := created.Add(30 * govDay).Format(time.RFC3339); !strings.Contains(r.str("error_description"), want) {
			t.Errorf("error_description %q does not name the capped expiry %s", r.str("error_description"), want)
		}
		in60 := e.clock.Now().Add(60 * govDay)
		_, _, err := e.registry.Create(e.ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: e.owner.Email, Name: "too long", ExpiresAt: &in60})
		wantDomainError(t, "expiry beyond the 30-day cap", err, "invalid_expiry", models.ErrInvalid)

		e.setPolicy(t, func(p *models.Policy) { p.MaxCredentialLifetime = 90 * govDay })
		wantIssued(t, "60 days old, 90-day cap", e.token(t, c.ID, secret))

		e.setPolicy(t, func(p *models.Policy) { p.MaxCredentialLifetime, p.DefaultCredentialLifetime = 0, 365*govDay })
		wantIssued(t, "60 days old, no cap again", e.token(t, c.ID, secret))
	})
}

// ---- rotation ----

func TestGovernanceRotationOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, first := e.client(t, app.NewClient{})
		hour, zero := time.Hour, time.Duration(0)

		second, secondRow, err := e.registry.Rotate(e.ctx, app.Operator(models.DefaultOrgID), c.ID, &hour)
		if err != nil {
			t.Fatal(err)
		}
		if !oauth.ValidSecret(second) || secondRow.Format != models.FormatCurrent || second == first {
			t.Errorf("rotated secret %q (format %s): want a new current-format secret", second, secondRow.Format)
		}
		stored, err := e.store.ClientByID(e.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored.Secrets) != 2 || stored.Secrets[0].ExpiresAt == nil || !stored.Secrets[0].ExpiresAt.Equal(e.clock.Now().Add(hour)) {
			t.Errorf("after rotation with 1h grace: secrets %+v, want the old one expiring at %v", stored.Secrets, e.clock.Now().Add(hour))
		}
		wantIssued(t, "old secret during the grace period", e.token(t, c.ID, first))
		wantIssued(t, "new secret during the grace period", e.token(t, c.ID, second))

		e.clock.Advance(hour)
		wantOAuthError(t, "old secret at the end of the grace period", e.token(t, c.ID, first), 401, "invalid_client", "client authentication failed")
		e.clock.Advance(time.Second)
		wantOAuthError(t, "old secret after the grace period", e.token(t, c.ID, first), 401, "invalid_client", "client authentication failed")
		wantIssued(t, "new secret after the grace period", e.token(t, c.ID, second))

		third, thirdRow, err := e.registry.Rotate(e.ctx, app.Operator(models.DefaultOrgID), c.ID, &zero)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, "previous secret after a rotation without grace", e.token(t, c.ID, second), 401, "invalid_client", "client authentication failed")
		wantIssued(t, "new secret after a rotation without grace", e.token(t, c.ID, third))

		fourth, _, err := e.registry.Rotate(e.ctx, app.Operator(models.DefaultOrgID), c.ID, &hour)
		if err != nil {
			t.Fatal(err)
		}
		wantIssued(t, "third secret, two live", e.token(t, c.ID, third))
		wantIssued(t, "fourth secret, two live", e.token(t, c.ID, fourth))
		if err := e.registry.RevokeSecret(e.ctx, app.Operator(models.DefaultOrgID), c.ID, thirdRow.ID); err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, "revoked secret", e.token(t, c.ID, third), 401, "invalid_client", "client authentication failed")
		wantIssued(t, "the other live secret", e.token(t, c.ID, fourth))
		err = e.registry.RevokeSecret(e.ctx, app.Operator(models.DefaultOrgID), c.ID, thirdRow.ID)
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("revoking a revoked secret: got %v, want ErrNotFound", err)
		}
	})
}

// ---- who may create, and how many ----

func TestGovernanceOwnerClientLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		bob := e.user(t, "bob@example.com", models.RoleMember, readScope)
		create := func() (*models.Client, error) {
			c, _, err := e.registry.Create(e.ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: bob.Email, Name: "bob's", Scopes: []string{readScope}})
			return c, err
		}
		var ids []string
		for i := 0; i < models.DefaultPolicy().MaxClientsPerOwner; i++ {
			c, err := create()
			if err != nil {
				t.Fatalf("client %d of 5: %v", i+1, err)
			}
			ids = append(ids, c.ID)
		}
		_, err := create()
		wantDomainError(t, "6th client", err, "client_limit_reached", models.ErrConflict)
		// Another owner's clients do not count.
		e.client(t, app.NewClient{})

		if _, err := e.registry.Revoke(e.ctx, app.Operator(models.DefaultOrgID), ids[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := create(); err != nil {
			t.Errorf("after revoking one of 5: %v", err)
		}
		_, err = create()
		wantDomainError(t, "6th active client", err, "client_limit_reached", models.ErrConflict)
		listed, err := e.store.ListClients(e.ctx, models.ClientFilter{OwnerID: bob.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) != 6 {
			t.Errorf("bob's clients: got %d, want 6 (5 active, 1 revoked)", len(listed))
		}

		// Concurrent creates cannot exceed the limit: the count and the
		// insert are one serialised transaction.
		carol := e.user(t, "carol@example.com", models.RoleMember, readScope)
		var wg sync.WaitGroup
		var created atomic.Int32
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := e.registry.Create(e.ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: carol.Email, Name: "carol's", Scopes: []string{readScope}})
				switch {
				case err == nil:
					created.Add(1)
				case !errors.Is(err, models.ErrConflict):
					t.Errorf("concurrent create: %v", err)
				}
			}()
		}
		wg.Wait()
		if got, want := int(created.Load()), models.DefaultPolicy().MaxClientsPerOwner; got != want {
			t.Errorf("20 concurrent creates: got %d clients, want exactly %d", got, want)
		}
	})
}

func TestGovernanceWhoMayCreate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		mia := e.user(t, "mia@example.com", models.RoleMember, readScope)
		newClient := func(owner string) app.NewClient {
			return app.NewClient{OwnerEmail: owner, Name: "self-service", Scopes: []string{readScope}}
		}

		_, _, err := e.registry.Create(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: mia}, newClient(mia.Email))
		wantDomainError(t, "member without the creation right", err, "not_allowed_to_create", models.ErrForbidden)
		mia.MayCreateClients = true
		err = e.registry.UpdateUser(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: mia}, mia, "may_create_clients")
		wantDomainError(t, "member granting themselves the right", err, "admin_required", models.ErrForbidden)

		e.updateUser(t, mia, "may_create_clients")
		mia, err = e.store.UserByEmail(e.ctx, models.DefaultOrgID, mia.Email)
		if err != nil {
			t.Fatal(err)
		}
		if !mia.MayCreateClients {
			t.Fatal("MayCreateClients was not saved")
		}
		c, secret, err := e.registry.Create(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: mia}, newClient(mia.Email))
		if err != nil {
			t.Fatalf("member allowed by an admin, for themselves: %v", err)
		}
		if c.CreatedBy != mia.Email || c.OwnerID != mia.ID {
			t.Errorf("created by %q for %q, want %q for %q", c.CreatedBy, c.OwnerID, mia.Email, mia.ID)
		}
		wantIssued(t, "client a member created", e.token(t, c.ID, secret))
		_, _, err = e.registry.Create(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: mia}, newClient(e.owner.Email))
		wantDomainError(t, "member allowed by an admin, for another owner", err, "owner_must_be_self", models.ErrForbidden)

		noah := e.user(t, "noah@example.com", models.RoleMember, readScope)
		e.setPolicy(t, func(p *models.Policy) { p.CreationRestricted = false })
		c, secret, err = e.registry.Create(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: noah}, newClient(noah.Email))
		if err != nil {
			t.Fatalf("unrestricted creation, member for themselves: %v", err)
		}
		wantIssued(t, "client created under unrestricted creation", e.token(t, c.ID, secret))
		_, _, err = e.registry.Create(e.ctx, app.Actor{OrgID: models.DefaultOrgID, User: noah}, newClient(mia.Email))
		wantDomainError(t, "unrestricted creation, member for another owner", err, "owner_must_be_self", models.ErrForbidden)
	})
}

// ---- owner lifecycle ----

// Disabling the owner, or taking every permission of the client away from
// them, stops the client at once; undoing it restores the client, which
// was never deleted.
func TestGovernanceOwnerLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, secret := e.client(t, app.NewClient{Scopes: []string{readScope, configScope}})
		wantIssued(t, "active owner", e.token(t, c.ID, secret))
		listed := func(what string) {
			t.Helper()
			cs, err := e.store.ListClients(e.ctx, models.ClientFilter{OwnerID: e.owner.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 || cs[0].ID != c.ID || cs[0].Status != models.StatusActive || len(cs[0].Secrets) != 1 || cs[0].Secrets[0].RevokedAt != nil {
				t.Errorf("%s: owner's clients %+v, want %s, active, with its secret", what, cs, c.ID)
			}
		}

		e.owner.Status = models.StatusDisabled
		e.updateUser(t, e.owner, "disable")
		wantOAuthError(t, "disabled owner", e.token(t, c.ID, secret), 400, "unauthorized_client", "owner is disabled")
		listed("owner disabled")
		e.owner.Status = models.StatusActive
		e.updateUser(t, e.owner, "enable")
		wantIssued(t, "re-enabled owner", e.token(t, c.ID, secret))

		e.owner.Permissions = models.NewSet(createScope)
		e.updateUser(t, e.owner, "permissions")
		wantOAuthError(t, "owner holds none of the client's scopes", e.token(t, c.ID, secret), 400, "unauthorized_client", "no longer holds any")
		listed("owner without the client's permissions")
		e.owner.Permissions = models.NewSet(readScope, configScope)
		e.updateUser(t, e.owner, "permissions")
		r := e.token(t, c.ID, secret)
		wantIssued(t, "permissions restored", r)
		if got := r.str("scope"); got != readScope+" "+configScope {
			t.Errorf("scope after restoring: got %q", got)
		}
		listed("restored")
	})
}

// ---- IP allowlists ----

func TestGovernanceIPAllowlists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, secret := e.client(t, app.NewClient{})
		orgAllowlist := func(t *testing.T, list ...string) {
			t.Helper()
			e.setPolicy(t, func(p *models.Policy) { p.IPAllowlist = models.NewSet(list...) })
		}

		t.Run("organization", func(t *testing.T) {
			orgAllowlist(t, "10.0.0.0/8", "2001:db8::/32")
			wantOAuthError(t, "outside", e.token(t, c.ID, secret), 400, "unauthorized_client", "127.0.0.1 are outside the organization's IP allowlist")
			orgAllowlist(t, "10.0.0.0/8", "127.0.0.0/8")
			wantIssued(t, "inside", e.token(t, c.ID, secret))
			orgAllowlist(t)
			wantIssued(t, "no allowlist", e.token(t, c.ID, secret))
		})

		t.Run("organization IPv6", func(t *testing.T) {
			ln, err := net.Listen("tcp6", "[::1]:0")
			if err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			url6 := e.serve(t, oauth.Config{}, ln)
			t.Cleanup(func() { orgAllowlist(t) })
			orgAllowlist(t, "127.0.0.0/8")
			wantOAuthError(t, "::1 outside an IPv4 allowlist", tokenAt(t, url6, c.ID, secret, nil, nil), 400, "unauthorized_client", "::1 are outside the organization's IP allowlist")
			orgAllowlist(t, "::1/128")
			wantIssued(t, "::1 inside ::1/128", tokenAt(t, url6, c.ID, secret, nil, nil))
			wantOAuthError(t, "127.0.0.1 outside ::1/128", e.token(t, c.ID, secret), 400, "unauthorized_client", "127.0.0.1 are outside the organization's IP allowlist")
		})

		t.Run("client", func(t *testing.T) {
			fenced, fencedSecret := e.client(t, app.NewClient{IPAllowlist: []string{"10.0.0.0/8"}})
			wantOAuthError(t, "outside", e.token(t, fenced.ID, fencedSecret), 400, "unauthorized_client", "127.0.0.1 are outside this client's IP allowlist")
			near, nearSecret := e.client(t, app.NewClient{IPAllowlist: []string{"127.0.0.1"}})
			wantIssued(t, "inside", e.token(t, near.ID, nearSecret))
			wantIssued(t, "another client without an allowlist", e.token(t, c.ID, secret))

			// Both allowlists apply.
			t.Cleanup(func() { orgAllowlist(t) })
			orgAllowlist(t, "10.0.0.0/8")
			wantOAuthError(t, "inside the client's, outside the organization's", e.token(t, near.ID, nearSecret), 400, "unauthorized_client", "organization's IP allowlist")
			orgAllowlist(t, "127.0.0.0/8")
			wantIssued(t, "inside both", e.token(t, near.ID, nearSecret))
			wantOAuthError(t, "inside the organization's, outside the client's", e.token(t, fenced.ID, fencedSecret), 400, "unauthorized_client", "this client's IP allowlist")
		})

		t.Run("trusted proxy", func(t *testing.T) {
			proxied, proxiedSecret := e.client(t, app.NewClient{IPAllowlist: []string{"203.0.113.0/24"}})
			behindProxy := e.serve(t, oauth.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
			xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }

			wantIssued(t, "forwarded for 203.0.113.7 by a trusted proxy", tokenAt(t, behindProxy, proxied.ID, proxiedSecret, nil, xff("203.0.113.7")))
			wantOAuthError(t, "X-Forwarded-For from an untrusted peer", tokenAt(t, e.url, proxied.ID, proxiedSecret, nil, xff("203.0.113.7")), 400, "unauthorized_client", "127.0.0.1 are outside this client's IP allowlist")
			// The client cannot choose its address: the rightmost hop that is
			// not a trusted proxy is the one believed.
			wantOAuthError(t, "spoofed leftmost hop", tokenAt(t, behindProxy, proxied.ID, proxiedSecret, nil, xff("203.0.113.7, 198.51.100.1")), 400, "unauthorized_client", "198.51.100.1 are outside this client's IP allowlist")
			wantOAuthError(t, "no X-Forwarded-For behind the proxy", tokenAt(t, behindProxy, proxied.ID, proxiedSecret, nil, nil), 400, "unauthorized_client", "127.0.0.1 are outside")

			// The forwarded address is the one recorded.
			if err := e.usage.Flush(e.ctx); err != nil {
				t.Fatal(err)
			}
			stored, err := e.store.ClientByID(e.ctx, proxied.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.LastUsedIP != "203.0.113.7" || stored.TokenCount != 1 {
				t.Errorf("usage: last_used_ip %q, token_count %d; want 203.0.113.7, 1", stored.LastUsedIP, stored.TokenCount)
			}
		})
	})
}

// ---- legacy sunset ----

func TestGovernanceLegacySunset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		sunset := e.clock.Now().Add(30 * govDay)
		e.setPolicy(t, func(p *models.Policy) { p.LegacySunset = &sunset })
		const id, legacySecret = "acme-billing-0042", "Legacy-Secret-0123456789-abcdef"
		c, err := e.registry.Import(e.ctx, app.Operator(models.DefaultOrgID), app.NewClient{OwnerEmail: e.owner.Email, Name: "imported", Scopes: []string{readScope}}, id, legacySecret)
		if err != nil {
			t.Fatal(err)
		}
		if c.ID != id || len(c.Secrets) != 1 || c.Secrets[0].Format != models.FormatLegacy {
			t.Fatalf("imported client %s with secrets %+v, want %s with one legacy secret", c.ID, c.Secrets, id)
		}
		legacyListed := func() bool {
			t.Helper()
			cs, err := e.store.ListClients(e.ctx, models.ClientFilter{Legacy: true})
			if err != nil {
				t.Fatal(err)
			}
			return slices.ContainsFunc(cs, func(c models.Client) bool { return c.ID == id })
		}

		wantIssued(t, "legacy secret, at import", e.token(t, id, legacySecret))
		e.clock.Set(sunset.Add(-time.Second))
		wantIssued(t, "legacy secret, a second before the sunset", e.token(t, id, legacySecret))
		if !legacyListed() {
			t.Error("before rotation: not listed with Legacy: true")
		}
		e.clock.Set(sunset)
		r := e.token(t, id, legacySecret)
		wantOAuthError(t, "legacy secret at the sunset", r, 401, "invalid_client", "KEY_FORMAT_DEPRECATED")
		if !strings.Contains(r.str("error_description"), "rotate") {
			t.Errorf("error_description %q does not say to rotate", r.str("error_description"))
		}
		if !legacyListed() {
			t.Error("after the sunset, before rotation: not listed with Legacy: true")
		}

		zero := time.Duration(0)
		current, row, err := e.registry.Rotate(e.ctx, app.Operator(models.DefaultOrgID), id, &zero)
		if err != nil {
			t.Fatal(err)
		}
		if row.Format != models.FormatCurrent || !oauth.ValidSecret(current) {
			t.Errorf("rotated secret %q format %s, want a current-format secret", current, row.Format)
		}
		wantIssued(t, "current-format secret after the sunset", e.token(t, id, current))
		wantOAuthError(t, "legacy secret after rotation", e.token(t, id, legacySecret), 401, "invalid_client", "client authentication failed")
		if legacyListed() {
			t.Error("after the legacy secret expired: still listed with Legacy: true")
		}
	})
}

// ---- typed secrets ----

// A generated credential with a broken checksum is refused before any
// database lookup: the audit event names no client, and it is refused
// the same way with the database gone.
func TestGovernanceTypedSecretsRejectedBeforeLookup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, secret := e.client(t, app.NewClient{})
		badSecret := secret[:len(secret)-1] + string(rotate(secret[len(secret)-1]))
		badID := c.ID[:len(c.ID)-1] + string(rotate(c.ID[len(c.ID)-1]))

		wantOAuthError(t, "secret with a broken checksum", e.token(t, c.ID, badSecret), 401, "invalid_client", "client authentication failed")
		wantOAuthError(t, "client_id with a broken checksum", e.token(t, badID, secret), 401, "invalid_client", "client authentication failed")
		wantOAuthError(t, "wrong well-formed secret", e.token(t, c.ID, oauth.NewSecret()), 401, "invalid_client", "client authentication failed")
		e.flushAudit()

		events, err := e.store.Audit(e.ctx, models.AuditFilter{Action: models.AuditAuthFailed})
		if err != nil {
			t.Fatal(err)
		}
		// The failures naming no client share one row per address and
		// minute; the one naming a real client has a row of its own.
		var sawMalformed, sawWrong bool
		for _, ev := range events {
			if ev.IP != "127.0.0.1" || !ev.At.Equal(e.clock.Now()) {
				t.Errorf("auth failure event: ip %q, at %v; want 127.0.0.1, %v", ev.IP, ev.At, e.clock.Now())
			}
			switch ev.ClientID {
			case "":
				sawMalformed = true
				want := `{"client_ids":["` + c.ID + `","` + badID + `"],"failures":2,"last_at":"` + e.clock.Now().Format(time.RFC3339) + `","more_client_ids":false,"reasons":{"malformed_credentials":2}}`
				if ev.Actor != c.ID || ev.Detail != want {
					t.Errorf("malformed credentials: actor %q, detail %s; want %q, %s", ev.Actor, ev.Detail, c.ID, want)
				}
			case c.ID:
				sawWrong = true
				if ev.Actor != c.ID || ev.Detail != `{"reason":"wrong_secret"}` {
					t.Errorf("wrong secret: actor %q, detail %s", ev.Actor, ev.Detail)
				}
			}
		}
		if len(events) != 2 || !sawMalformed || !sawWrong {
			t.Errorf("auth failures: got %+v, want one row for both malformed credentials and one for the wrong secret (looked up)", events)
		}

		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, "broken checksum, database down", e.token(t, c.ID, badSecret), 401, "invalid_client", "client authentication failed")
		wantOAuthError(t, "well-formed secret, database down", e.token(t, c.ID, secret), 503, "temporarily_unavailable", "database")
	})
}

// ---- audit ----

func TestGovernanceAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		admin := app.Actor{OrgID: models.DefaultOrgID, User: e.admin, IP: "198.51.100.20"}
		hour := time.Hour
		at := func(minutes int) time.Time { return govEpoch.Add(time.Duration(minutes) * time.Minute) }

		e.clock.Set(at(1))
		c, secret, err := e.registry.Create(e.ctx, admin, app.NewClient{OwnerEmail: e.owner.Email, Name: "audited", Scopes: []string{readScope}})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(at(2))
		rotated, row, err := e.registry.Rotate(e.ctx, admin, c.ID, &hour)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(at(3))
		e.setPolicy(t, func(p *models.Policy) { p.MaxClientsPerOwner = 7 })
		e.clock.Set(at(4))
		e.owner.Permissions = models.NewSet(readScope, configScope)
		e.updateUser(t, e.owner, "permissions")
		e.clock.Set(at(5))
		unknownID, unknownSecret, wrongSecret := oauth.NewClientID(), oauth.NewSecret(), oauth.NewSecret()
		wantOAuthError(t, "unknown client", e.token(t, unknownID, unknownSecret), 401, "invalid_client", "client authentication failed")
		wantOAuthError(t, "wrong secret", e.token(t, c.ID, wrongSecret), 401, "invalid_client", "client authentication failed")
		wantOAuthError(t, "id and secret swapped", e.token(t, rotated, c.ID), 401, "invalid_client", "client authentication failed")
		access := e.mustToken(t, c.ID, rotated)
		if r := revokeAs(t, e.url, c.ID, rotated, access, nil); r.status != 200 {
			t.Fatalf("revoke token: %s", r)
		}
		e.clock.Set(at(6))
		if _, err := e.registry.Revoke(e.ctx, admin, c.ID); err != nil {
			t.Fatal(err)
		}
		e.flushAudit()

		all, err := e.store.Audit(e.ctx, models.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			action, actor, clientID, userID, ip, detail string
			at                                          time.Time
		}
		wants := []want{
			{models.AuditClientCreated, e.admin.Email, c.ID, e.owner.ID, admin.IP, `"name":"audited"`, at(1)},
			{models.AuditSecretRotated, e.admin.Email, c.ID, e.owner.ID, admin.IP, row.ID, at(2)},
			{models.AuditPolicyUpdated, e.admin.Email, "", "", "", `"max_clients_per_owner":7`, at(3)},
			{models.AuditUserUpdated, e.admin.Email, "", e.owner.ID, "", `"change":"permissions"`, at(4)},
			// Both failures naming no client share one row (per address
			// and minute), its actor the first client_id tried.
			{models.AuditAuthFailed, unknownID, "", "", "127.0.0.1", `"client_ids":["` + unknownID + `","` + oauth.SecretPrefix + "…" + rotated[len(rotated)-4:] + ` (a secret sent as client_id; redacted)"],"failures":2`, at(5)},
			{models.AuditAuthFailed, c.ID, c.ID, e.owner.ID, "127.0.0.1", `"reason":"wrong_secret"`, at(5)},
			{models.AuditTokenRevoked, c.ID, c.ID, e.owner.ID, "127.0.0.1", `"jti"`, at(5)},
			{models.AuditClientRevoked, e.admin.Email, c.ID, e.owner.ID, admin.IP, "", at(6)},
		}
		if len(all) != len(wants) {
			t.Errorf("got %d events, want %d: %+v", len(all), len(wants), all)
		}
		for _, w := range wants {
			found := false
			for _, ev := range all {
				if ev.Action == w.action && ev.Actor == w.actor && ev.ClientID == w.clientID && ev.UserID == w.userID && ev.IP == w.ip && strings.Contains(ev.Detail, w.detail) && ev.At.Equal(w.at) {
					found = true
				}
			}
			if !found {
				t.Errorf("no event %+v in %+v", w, all)
			}
		}

		// Since is inclusive, Until exclusive.
		for _, tc := range []struct {
			filter models.AuditFilter
			want   []string
		}{
			{models.AuditFilter{Since: at(2), Until: at(4)}, []string{models.AuditSecretRotated, models.AuditPolicyUpdated}},
			{models.AuditFilter{Since: at(5)}, []string{models.AuditAuthFailed, models.AuditAuthFailed, models.AuditTokenRevoked, models.AuditClientRevoked}},
			{models.AuditFilter{Since: at(5), Until: at(6)}, []string{models.AuditAuthFailed, models.AuditAuthFailed, models.AuditTokenRevoked}},
			{models.AuditFilter{Until: at(2)}, []string{models.AuditClientCreated}},
			{models.AuditFilter{Since: at(3), Until: at(3).Add(time.Second)}, []string{models.AuditPolicyUpdated}},
			{models.AuditFilter{Since: at(7)}, nil},
			{models.AuditFilter{ClientID: c.ID, Since: at(2), Until: at(6)}, []string{models.AuditSecretRotated, models.AuditAuthFailed, models.AuditTokenRevoked}},
			{models.AuditFilter{Action: models.AuditAuthFailed, Until: at(5)}, nil},
		} {
			got, err := e.store.Audit(e.ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, ev := range got {
				actions = append(actions, ev.Action)
			}
			slices.Sort(actions)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(actions, want) {
				t.Errorf("filter %+v: got %v, want %v", tc.filter, actions, want)
			}
		}

		// No event holds a secret, or a recognisable piece of one, or the
		// access token.
		var pieces []string
		for _, s := range []string{secret, rotated, unknownSecret, wrongSecret} {
			body := strings.TrimPrefix(s, oauth.SecretPrefix)
			for i := 0; i+12 <= len(body); i++ {
				pieces = append(pieces, body[i:i+12])
			}
		}
		pieces = append(pieces, access)
		for _, ev := range all {
			for _, p := range pieces {
				if strings.Contains(ev.Detail, p) || strings.Contains(ev.Actor, p) || strings.Contains(ev.ClientID, p) || strings.Contains(ev.IP, p) {
					t.Errorf("event %s (%s) holds secret material %q", ev.Action, ev.Detail, p)
				}
			}
		}
	})
}

// ---- usage ----

func TestGovernanceUsageTracking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		c, first := e.client(t, app.NewClient{})
		ua := func(v string) http.Header { return http.Header{"User-Agent": {v}} }
		for i := 0; i < 3; i++ {
			e.clock.Advance(time.Second)
			wantIssued(t, "probe", tokenAt(t, e.url, c.ID, first, nil, ua("probe/1.0")))
		}
		firstUse := e.clock.Now()
		// Failures are not usage.
		wantOAuthError(t, "wrong secret", tokenAt(t, e.url, c.ID, oauth.NewSecret(), nil, ua("probe/1.0")), 401, "invalid_client", "")
		if err := e.usage.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
		stored, err := e.store.ClientByID(e.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.TokenCount != 3 || stored.LastUsedIP != "127.0.0.1" || stored.LastUserAgent != "probe/1.0" || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(firstUse) {
			t.Errorf("client usage: count %d, ip %q, agent %q, at %v; want 3, 127.0.0.1, probe/1.0, %v", stored.TokenCount, stored.LastUsedIP, stored.LastUserAgent, stored.LastUsedAt, firstUse)
		}
		if s := stored.Secrets[0]; s.TokenCount != 3 || s.LastUsedAt == nil || !s.LastUsedAt.Equal(firstUse) || s.LastUsedIP != "127.0.0.1" || s.LastUserAgent != "probe/1.0" {
			t.Errorf("secret usage: count %d, at %v, ip %q, agent %q; want 3, %v, 127.0.0.1, probe/1.0", s.TokenCount, s.LastUsedAt, s.LastUsedIP, s.LastUserAgent, firstUse)
		}

		e.clock.Advance(time.Minute)
		hour := time.Hour
		second, row, err := e.registry.Rotate(e.ctx, app.Operator(models.DefaultOrgID), c.ID, &hour)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			e.clock.Advance(time.Second)
			wantIssued(t, "new secret", tokenAt(t, e.url, c.ID, second, nil, ua("probe/2.0")))
		}
		secondUse := e.clock.Now()
		if err := e.usage.Flush(e.ctx); err != nil {
			t.Fatal(err)
		}
		stored, err = e.store.ClientByID(e.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.TokenCount != 5 || stored.LastUserAgent != "probe/2.0" || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(secondUse) {
			t.Errorf("client usage after rotation: count %d, agent %q, at %v; want 5, probe/2.0, %v", stored.TokenCount, stored.LastUserAgent, stored.LastUsedAt, secondUse)
		}
		for _, s := range stored.Secrets {
			switch s.ID {
			case row.ID:
				if s.TokenCount != 2 || s.LastUsedAt == nil || !s.LastUsedAt.Equal(secondUse) || s.LastUserAgent != "probe/2.0" {
					t.Errorf("new secret usage: count %d, at %v, agent %q; want 2, %v, probe/2.0", s.TokenCount, s.LastUsedAt, s.LastUserAgent, secondUse)
				}
			default:
				if s.TokenCount != 3 || s.LastUsedAt == nil || !s.LastUsedAt.Equal(firstUse) || s.LastUserAgent != "probe/1.0" {
					t.Errorf("old secret usage: count %d, at %v, agent %q; want unchanged 3, %v, probe/1.0", s.TokenCount, s.LastUsedAt, s.LastUserAgent, firstUse)
				}
			}
		}
		if len(stored.Secrets) != 2 {
			t.Errorf("secrets: got %d, want 2", len(stored.Secrets))
		}
	})
}

// ---- token lifetime ----

func TestGovernanceTokenTTLFromPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newGovEnv(t, backend)
		plain, plainSecret := e.client(t, app.NewClient{})
		long, longSecret := e.client(t, app.NewClient{TokenTTL: 30 * time.Minute})
		lifetime := func(what string, id, secret string, want time.Duration) {
			t.Helper()
			r := e.token(t, id, secret)
			if r.status != 200 || r.num("expires_in") != want.Seconds() {
				t.Errorf("%s: got %s, want expires_in %v", what, r, want.Seconds())
				return
			}
			claims, err := e.keyring.VerifyOwn(r.str("access_token"))
			if err != nil {
				t.Fatalf("%s: verify: %v", what, err)
			}
			if got := claims.ExpiresAt.Sub(claims.IssuedAt.Time); got != want || !claims.IssuedAt.Equal(e.clock.Now()) {
				t.Errorf("%s: iat %v, exp - iat %s; want iat %v, %s", what, claims.IssuedAt, got, e.clock.Now(), want)
			}
		}

		lifetime("default policy", plain.ID, plainSecret, 15*time.Minute)
		lifetime("client TTL under the default max", long.ID, longSecret, 30*time.Minute)
		e.setPolicy(t, func(p *models.Policy) { p.DefaultTokenTTL = 5 * time.Minute })
		lifetime("policy default 5m", plain.ID, plainSecret, 5*time.Minute)
		e.setPolicy(t, func(p *models.Policy) { p.MaxTokenTTL = 10 * time.Minute })
		lifetime("client TTL 30m capped by policy max 10m", long.ID, longSecret, 10*time.Minute)
		lifetime("policy default 5m under max 10m", plain.ID, plainSecret, 5*time.Minute)
	})
}
