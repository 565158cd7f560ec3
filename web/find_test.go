package web_test

// Finding credentials: search, sort and keyset pagination of the clients
// list, the revoked filter, each client's IP history (recorded by the usage
// flush behind a trusted proxy) and the audit log's filters, through the
// HTTP server on each database.

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
	"github.com/authz/authz/oauth"
	"github.com/authz/authz/web"
)

// proxiedTokens starts a token endpoint over the env's store that trusts
// X-Forwarded-For from 127.0.0.0/8 and feeds a UsageRecorder, which the
// test flushes (its interval never elapses).
func (e *adminEnv) proxiedTokens(t *testing.T) (string, *app.UsageRecorder) {
	t.Helper()
	usage := app.NewUsageRecorder(e.store, time.Hour, nil)
	cfg := oauth.Config{Issuer: e.url, Now: e.clock.Now, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	tokens, err := oauth.NewServer(cfg, e.store, e.hasher, e.keyring, usage, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(web.Config{Issuer: e.url}, tokens, e.keyring, e.store))
	t.Cleanup(srv.Close)
	return srv.URL, usage
}

// useFrom obtains a token for the client from the address ip.
func useFrom(t *testing.T, base, id, secret, ip string) {
	t.Helper()
	wantIssued(t, "token from "+ip, tokenAt(t, base, id, secret, nil, http.Header{"X-Forwarded-For": {ip}}))
}

// listPages follows next_cursor from the first page of the list query
// with limit, and returns the client ids of every page and the pages' sizes.
func (e *adminEnv) listPages(token, query string, limit int) (ids []string, sizes []int) {
	e.t.Helper()
	cursor := ""
	for range 20 {
		q := fmt.Sprintf("%s&limit=%d", query, limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.call(token, "GET", orgAPI+"/clients?"+q, nil, nil)
		if r.status != http.StatusOK {
			e.t.Fatalf("list %s: %s", q, r)
		}
		ids = append(ids, clientIDs(r.items())...)
		sizes = append(sizes, len(r.items()))
		if cursor = r.str("next_cursor"); cursor == "" {
			return ids, sizes
		}
	}
	e.t.Fatalf("list %s: more than 20 pages", query)
	return nil, nil
}

func TestFindClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 20}), 200, "")
		create := func(name, owner string, more map[string]any) (string, string) {
			t.Helper()
			in := map[string]any{"name": name, "owner": owner, "scopes": []string{readScope}}
			for k, v := range more {
				in[k] = v
			}
			id, secret, _ := e.createClient(admin, in)
			e.clock.Advance(time.Second) // each created a second after the previous one
			return id, secret
		}
		c1, s1 := create("alpha 100%", adminEmail, map[string]any{"description": "Nightly upload"})
		c2, _ := create("beta_ci", memberEmail, nil)
		c3, s3 := create("betaxci", memberEmail, nil)
		c4, _ := create("gamma", adminEmail, map[string]any{"expires_at": e.clock.Now().Add(10 * 24 * time.Hour).Format(time.RFC3339)})
		c5, _ := create("gamma", memberEmail, nil)
		c6, _ := create("delta", adminEmail, nil)
		wantAPI(t, "revoke delta", e.call(admin, "POST", orgAPI+"/clients/"+c6+"/revoke", nil, nil), 200, "")
		other := e.newTenant("acme")

		list := func(query string) []string {
			t.Helper()
			r := e.call(admin, "GET", orgAPI+"/clients?"+query, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("list %s: %s", query, r)
			}
			return clientIDs(r.items())
		}
		sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
		rsorted := func(ids ...string) []string {
			s := sorted(ids...)
			slices.Reverse(s)
			return s
		}
		same := func(what string, got []string, want ...string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("%s: got %v, want %v", what, got, want)
			}
		}

		// Newest first, revoked ones hidden.
		same("default", list(""), c5, c4, c3, c2, c1)
		same("include_revoked", list("include_revoked=true"), c6, c5, c4, c3, c2, c1)
		same("status=revoked", list("status=revoked"), c6)

		// Search: name, description, client_id, owner; case-insensitive;
		// LIKE's metacharacters match themselves.
		for _, tc := range []struct {
			search string
			want   []string
		}{
			{"100%", []string{c1}},
			{"%", []string{c1}},
			{"a_c", []string{c2}},
			{`\`, nil},
			{"GAMMA", []string{c5, c4}},
			{"nightly", []string{c1}},
			{"alice@EXAMPLE", []string{c5, c3, c2}},
			{"ALICE", []string{c5, c3, c2}}, // the owner's name
			{strings.ToUpper(c3[4:14]), []string{c3}},
			{"delta", nil},
			{other.clients[models.ClientKindProject], nil}, // another organization's
		} {
			got := list("search=" + url.QueryEscape(tc.search))
			if !slices.Equal(got, tc.want) && (len(got) > 0 || len(tc.want) > 0) {
				t.Errorf("search %q: got %v, want %v", tc.search, got, tc.want)
			}
		}
		same("search with revoked", list("search=delta&include_revoked=true"), c6)

		// Last use: two clients used, one after the other, through the
		// token endpoint and the usage flush.
		tokens, usage := e.proxiedTokens(t)
		useFrom(t, tokens, c3, s3, "203.0.113.3")
		e.clock.Advance(time.Minute)
		useFrom(t, tokens, c1, s1, "203.0.113.1")
		if err := usage.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}

		// Sorts, each followed page by page with pages smaller than the
		// list, across keys many clients share (the name gamma, no last use).
		gammas := sorted(c4, c5)
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"sort=created", []string{c5, c4, c3, c2, c1}},
			{"sort=created&order=asc", []string{c1, c2, c3, c4, c5}},
			{"sort=name", append([]string{c1, c2, c3}, gammas...)},
			{"sort=name&order=desc", append(rsorted(c4, c5), c3, c2, c1)},
			{"sort=owner", append(sorted(c2, c3, c5), sorted(c1, c4)...)},
			{"sort=owner&order=desc", append(rsorted(c1, c4), rsorted(c2, c3, c5)...)},
			{"sort=last_used", append([]string{c1, c3}, rsorted(c2, c4, c5)...)},
			{"sort=last_used&order=asc", append([]string{c3, c1}, sorted(c2, c4, c5)...)},
			{"sort=expires", []string{c4, c1, c2, c3, c5}},
			{"sort=expires&order=desc", []string{c5, c3, c2, c1, c4}},
			{"sort=name&search=gamma", gammas},
			{"sort=name&include_revoked=true", append([]string{c1, c2, c3, c6}, gammas...)},
			{"sort=last_used&status=active", append([]string{c1, c3}, rsorted(c2, c4, c5)...)},
		} {
			for _, limit := range []int{1, 2, 50} {
				got, sizes := e.listPages(admin, tc.query, limit)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s, %d a page: got %v, want %v", tc.query, limit, got, tc.want)
				}
				if limit == 2 && len(sizes) != (len(tc.want)+1)/2 {
					t.Errorf("%s, 2 a page: page sizes %v", tc.query, sizes)
				}
			}
		}

		// A member finds only their own.
		alice := e.login(memberEmail, memberPass)
		if r := e.call(alice, "GET", orgAPI+"/clients?search=gamma&sort=name", nil, nil); !slices.Equal(clientIDs(r.items()), []string{c5}) {
			t.Errorf("member's search: %s", r)
		}

		// Mistakes are 400s with a stable code.
		first := e.call(admin, "GET", orgAPI+"/clients?sort=name&limit=1", nil, nil)
		nameCursor := url.QueryEscape(first.str("next_cursor"))
		for q, code := range map[string]string{
			"sort=bogus":           "invalid_sort",
			"sort=id":              "invalid_sort",
			"order=sideways":       "invalid_sort",
			"sort=name&order=":     "",
			"cursor=" + nameCursor: "invalid_parameter", // a cursor of another sort
			"sort=name&order=desc&cursor=" + nameCursor: "invalid_parameter", // and order
			"sort=name&cursor=" + nameCursor:            "",
			"cursor=eyJ9":                               "invalid_parameter",
			"search=a%00b":                              "invalid_parameter",
			"search=a%0Ab":                              "invalid_parameter",
			"search=" + strings.Repeat("x", 201):        "invalid_parameter",
			"search=" + strings.Repeat("é", 200):        "",
			"include_revoked=yes":                       "invalid_parameter",
			"search=x&search=y":                         "invalid_parameter",
		} {
			r := e.call(admin, "GET", orgAPI+"/clients?"+q, nil, nil)
			if code == "" {
				wantAPI(t, q, r, 200, "")
			} else {
				wantAPI(t, q, r, 400, code)
			}
		}
	})
}

func TestClientIPHistory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		id, secret, _ := e.createClient(admin, map[string]any{"scopes": []string{readScope}})
		tokens, usage := e.proxiedTokens(t)
		flush := func() {
			t.Helper()
			if err := usage.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		ips := func() []map[string]any {
			t.Helper()
			r := e.call(admin, "GET", orgAPI+"/clients/"+id+"/ips", nil, nil)
			if r.status != http.StatusOK || r.body["limit"] != float64(models.MaxClientIPs) {
				t.Fatalf("ips: %s", r)
			}
			return r.items()
		}
		if got := ips(); len(got) != 0 {
			t.Errorf("ips of an unused client: %v", got)
		}

		// More addresses than the bound: 203.0.113.0 twice (first and last),
		// and 54 others once each, a second apart, flushed in two batches.
		start := e.clock.Now()
		addr := func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }
		useFrom(t, tokens, id, secret, "203.0.113.0")
		useFrom(t, tokens, id, secret, "203.0.113.0") // the same instant: merged in the recorder
		const others = models.MaxClientIPs + 4
		for i := 1; i <= others; i++ {
			e.clock.Advance(time.Second)
			useFrom(t, tokens, id, secret, addr(i))
			if i == 30 {
				flush()
			}
		}
		e.clock.Advance(time.Second)
		useFrom(t, tokens, id, secret, "203.0.113.0")
		flush()

		got := ips()
		if len(got) != models.MaxClientIPs {
			t.Fatalf("ips: got %d, want the bound %d", len(got), models.MaxClientIPs)
		}
		wantTime := func(what string, v any, want time.Time) {
			t.Helper()
			if s, _ := v.(string); s != want.UTC().Format(time.RFC3339) {
				t.Errorf("%s: got %v, want %s", what, v, want.UTC().Format(time.RFC3339))
			}
		}
		// Most recently used first: the address used at the start and the
		// end keeps its first use and counts its three tokens.
		if got[0]["ip"] != "203.0.113.0" || got[0]["token_count"] != float64(3) {
			t.Errorf("most recent: %v", got[0])
		}
		wantTime("first use of 203.0.113.0", got[0]["first_used_at"], start)
		wantTime("last use of 203.0.113.0", got[0]["last_used_at"], e.clock.Now())
		// Then the 49 most recent of the others; the 5 oldest are dropped.
		for n, it := range got[1:] {
			i := others - n
			if it["ip"] != addr(i) || it["token_count"] != float64(1) {
				t.Errorf("ips[%d]: got %v, want %s once", n+1, it, addr(i))
			}
			at := start.Add(time.Duration(i) * time.Second)
			wantTime(addr(i)+" first", it["first_used_at"], at)
			wantTime(addr(i)+" last", it["last_used_at"], at)
		}

		// The client's console page shows them; a dropped address is gone.
		session, _ := e.uiLogin(adminEmail, adminPassword)
		page := e.uiDo(session, "GET", "/admin/o/default/clients/"+url.PathEscape(id), nil, nil)
		if page.status != 200 || !strings.Contains(page.body, "203.0.113.0") || !strings.Contains(page.body, addr(others)+"<") || strings.Contains(page.body, addr(1)+"<") {
			t.Errorf("client page: %d, want its addresses without the dropped %s", page.status, addr(1))
		}

		// Another organization's client, and one nobody has, are 404.
		other := e.newTenant("acme")
		for _, missing := range []string{other.clients[models.ClientKindProject], "azc_nobody"} {
			wantAPI(t, "ips of "+missing, e.call(admin, "GET", orgAPI+"/clients/"+missing+"/ips", nil, nil), 404, "client_not_found")
		}
		wantAPI(t, "ips with a query", e.call(admin, "GET", orgAPI+"/clients/"+id+"/ips?limit=5", nil, nil), 400, "invalid_parameter")
	})
}

func TestAuditFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		alice := e.login(memberEmail, memberPass)
		t0 := e.clock.Now()
		byAdmin, _, _ := e.createClient(admin, map[string]any{"name": "by admin"})
		e.clock.Advance(2 * time.Hour)
		byAlice, _, _ := e.createClient(alice, map[string]any{"name": "by alice"})
		wantAPI(t, "revoke", e.call(alice, "POST", orgAPI+"/clients/"+byAlice+"/revoke", nil, nil), 200, "")

		events := func(query string) []string {
			t.Helper()
			r := e.call(admin, "GET", orgAPI+"/audit?"+query, nil, nil)
			if r.status != http.StatusOK {
				t.Fatalf("audit %s: %s", query, r)
			}
			var out []string
			for _, it := range r.items() {
				if it["action"] != models.AuditSessionCreated {
					out = append(out, fmt.Sprint(it["actor"], " ", it["action"], " ", it["client_id"]))
				}
			}
			return out
		}
		mid := url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339))
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"actor=" + url.QueryEscape(memberEmail), []string{memberEmail + " client.revoked " + byAlice, memberEmail + " client.created " + byAlice}},
			{"actor=" + url.QueryEscape(adminEmail) + "&action=client.created", []string{adminEmail + " client.created " + byAdmin}},
			{"actor=nobody@example.com", nil},
			{"client_id=" + byAlice + "&action=client.revoked", []string{memberEmail + " client.revoked " + byAlice}},
			{"action=client.created&until=" + mid, []string{adminEmail + " client.created " + byAdmin}},
			{"action=client.created&since=" + mid, []string{memberEmail + " client.created " + byAlice}},
		} {
			if got := events(tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("audit %s: got %v, want %v", tc.query, got, tc.want)
			}
		}
		wantAPI(t, "audit since not a time", e.call(admin, "GET", orgAPI+"/audit?since=yesterday", nil, nil), 400, "invalid_parameter")

		// The console's audit page filters by actor too; each event's
		// detail collapses into a <details>.
		session, _ := e.uiLogin(adminEmail, adminPassword)
		page := e.uiDo(session, "GET", "/admin/o/default/audit?actor="+url.QueryEscape(memberEmail)+"&action=client.created", nil, nil)
		if page.status != 200 || !strings.Contains(page.body, byAlice) || strings.Contains(page.body, ">"+byAdmin+"<") || !strings.Contains(page.body, "<details><summary>") {
			t.Errorf("audit page by actor: %d %.2000s", page.status, page.body)
		}
	})
}

func TestClientsPageFind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		e := newAdminEnv(t, backend, false)
		admin := e.login(adminEmail, adminPassword)
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 20}), 200, "")
		soon, _, _ := e.createClient(admin, map[string]any{"name": "soon", "expires_at": e.clock.Now().Add(5*24*time.Hour + time.Hour).Format(time.RFC3339)})
		gone, _, _ := e.createClient(admin, map[string]any{"name": "gone"})
		wantAPI(t, "revoke", e.call(admin, "POST", orgAPI+"/clients/"+gone+"/revoke", nil, nil), 200, "")
		session, _ := e.uiLogin(adminEmail, adminPassword)
		get := func(query string) uiResp {
			t.Helper()
			return e.uiDo(session, "GET", "/admin/o/default/?"+query, nil, nil)
		}

		p := get("")
		if p.status != 200 || !strings.Contains(p.body, soon) || strings.Contains(p.body, gone) {
			t.Errorf("table: revoked shown or active missing: %d", p.status)
		}
		for _, want := range []string{
			`expires in 5 days`, // 5 days and an hour: as the Expires column says it
			`<time datetime="` + e.clock.Now().Add(5*24*time.Hour+time.Hour).UTC().Format(time.RFC3339) + `" title="`,
			`data-copy="cid-0"`,
			`aria-sort="none"><a class="sort" href="/admin/o/default/?order=asc&amp;sort=name">Name</a>`,
		} {
			if !strings.Contains(p.body, want) {
				t.Errorf("table lacks %s", want)
			}
		}
		if p := get("revoked=true"); !strings.Contains(p.body, gone) || !strings.Contains(p.body, `<span class="status status-revoked">revoked</span>`) {
			t.Errorf("show revoked: the revoked client or its badge is missing")
		}
		if p := get("search=SOO&sort=name&order=desc"); p.status != 200 || !strings.Contains(p.body, soon) || !strings.Contains(p.body, `aria-sort="descending"`) || !strings.Contains(p.body, `value="SOO"`) {
			t.Errorf("search and sort: %d", p.status)
		}
		if p := get("search=nothing-like-it"); !strings.Contains(p.body, "No credentials match these filters") {
			t.Errorf("search with no match: %d", p.status)
		}
		if p := get("sort=bogus"); p.status != 400 || !strings.Contains(p.body, "sort must be one of") || !strings.Contains(p.body, soon) {
			t.Errorf("unknown sort: %d, want 400 with the message and the default table", p.status)
		}

		// Pages of 100 keep the search and the sort: 101 clients named
		// bulk-000 … bulk-100, the last on the second page.
		wantAPI(t, "policy", e.putPolicy(admin, map[string]any{"max_clients_per_owner": 200}), 200, "")
		for i := range 101 {
			e.createClient(admin, map[string]any{"name": fmt.Sprintf("bulk-%03d", i)})
		}
		rows := regexp.MustCompile(`<tr data-client-id=`)
		first := get("search=bulk&sort=name")
		next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(first.body)
		if n := len(rows.FindAllString(first.body, -1)); n != 100 || next == nil || !strings.Contains(first.body, ">bulk-099<") {
			t.Fatalf("first page: %d rows, next link %v", n, next)
		}
		link := html.UnescapeString(next[1])
		for _, want := range []string{"search=bulk", "sort=name", "order=asc", "after="} {
			if !strings.Contains(link, want) {
				t.Errorf("next link %s lacks %s", link, want)
			}
		}
		second := e.uiDo(session, "GET", link, nil, nil)
		if n := len(rows.FindAllString(second.body, -1)); second.status != 200 || n != 1 || !strings.Contains(second.body, ">bulk-100<") || strings.Contains(second.body, `rel="next"`) {
			t.Errorf("second page: %d, %d rows", second.status, n)
		}
		// A cursor of another sort starts over rather than failing.
		if p := e.uiDo(session, "GET", strings.Replace(link, "sort=name", "sort=expires", 1), nil, nil); p.status != 200 || len(rows.FindAllString(p.body, -1)) != 100 {
			t.Errorf("mismatched cursor: %d", p.status)
		}
	})
}
