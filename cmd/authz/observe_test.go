package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/models/storetest"
)

// observedServer is serve with a client of alice's that obtained a token,
// was refused one, and was asked about on the admin API without a
// session.
func observedServer(t *testing.T, backend string) (*server, clientOut) {
	t.Helper()
	m := newMain(t, storetest.URL(t, backend))
	run(t, m, "migrate")
	run(t, m, "users", "create", "--email", alice, "--name", "Alice", "--permissions", readScope)
	c := createClient(t, m, alice, "observed", readScope)
	s := startServe(t, m)
	s.mustToken(t, c.ClientID, c.ClientSecret, readScope)
	if _, err := s.token(t, c.ClientID, c.ClientSecret, confScope); err == nil {
		t.Fatal("a token for a scope the client lacks")
	}
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server", "/admin/api/v1/orgs/default/clients/" + c.ClientID} {
		status, _ := httpDo(t, "GET", s.base+path)
		if want := map[bool]int{true: 401, false: 200}[strings.HasPrefix(path, "/admin/")]; status != want {
			t.Fatalf("GET %s: got %d, want %d", path, status, want)
		}
	}
	return s, c
}

// httpDo sends a request without following redirects.
func httpDo(t *testing.T, method, url string) (int, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp
}

func scrapeMetrics(t *testing.T, s *server) string {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestServeObservability: serve's routes are counted by template (never
// by the ids in a path), its root leads to the console, and its probes
// answer HEAD.
func TestServeObservability(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s, c := observedServer(t, backend)
		if status, resp := httpDo(t, "GET", s.base+"/"); status != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
			t.Errorf("GET /: got %d to %q, want 302 to /admin/", status, resp.Header.Get("Location"))
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if status, _ := httpDo(t, "HEAD", s.base+path); status != 200 {
				t.Errorf("HEAD %s: got %d, want 200", path, status)
			}
		}
		body := scrapeMetrics(t, s)
		for _, want := range []string{
			`authz_http_requests_total{code_class="4xx",method="GET",route="/admin/api/v1/orgs/:org/clients/:id"} 1`,
			`authz_http_requests_total{code_class="2xx",method="POST",route="/oauth2/token"} 1`,
			`authz_http_requests_total{code_class="4xx",method="POST",route="/oauth2/token"} 1`,
			`authz_http_requests_total{code_class="3xx",method="GET",route="/"} 1`,
			`authz_http_requests_total{code_class="2xx",method="HEAD",route="/readyz"} 1`,
			`authz_http_requests_total{code_class="5xx",method="POST",route="/admin/o/:org/clients/:id/rotate"} 0`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		for line := range strings.Lines(body) {
			if strings.HasPrefix(line, "authz_http_") && strings.Contains(line, c.ClientID) {
				t.Errorf("/metrics has a route label with a client_id: %s", line)
			}
		}
	})
}

// TestGrafanaDashboard: every metric deploy/grafana-dashboard.json queries
// is in serve's /metrics after a few requests (a histogram's _bucket, _sum
// and _count as their own lines), and each panel queries something.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Query any `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			exprs = append(exprs, q["query"].(string))
		}
	}
	name := regexp.MustCompile(`authz_[a-z_]+`)
	queried := map[string]bool{}
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			queried[n] = true
		}
	}
	if len(queried) < 10 {
		t.Fatalf("the dashboard queries only %d metrics of authz", len(queried))
	}
	storetest.Each(t, func(t *testing.T, backend string) {
		s, _ := observedServer(t, backend)
		body := scrapeMetrics(t, s)
		for n := range queried {
			if !strings.Contains(body, "\n"+n+"{") && !strings.Contains(body, "\n"+n+" ") {
				t.Errorf("the dashboard queries %s, which is not in /metrics", n)
			}
		}
	})
}
