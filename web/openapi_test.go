package web

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// The embedded OpenAPI document and the routes Echo serves under
// /admin/api/v1 must describe the same set of operations.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Servers    []struct{ URL string }                `json:"servers"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi: got %q, want 3.1.x", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != AdminPrefix {
		t.Errorf("servers: got %+v, want one server %s", doc.Servers, AdminPrefix)
	}

	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true, "head": true, "patch": true, "trace": true}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var documented []string
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			if !methods[m] {
				t.Errorf("paths[%s]: unknown key %q", path, m)
				continue
			}
			documented = append(documented, strings.ToUpper(m)+" "+AdminPrefix+param.ReplaceAllString(path, ":$1"))
		}
	}

	s := New(Config{Issuer: "http://localhost", Admin: &Admin{}}, nil, nil, nil)
	var served []string
	for _, r := range s.echo.Routes() {
		if strings.HasPrefix(r.Path, AdminPrefix+"/") && r.Method != echo.RouteNotFound {
			served = append(served, r.Method+" "+r.Path)
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	if len(served) == 0 {
		t.Fatal("no admin routes are mounted")
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.json documents %s, which is not served", d)
		}
	}

	// Every $ref points at a component that exists.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/([^/"]+)/([^"]+)"`)
	for _, m := range refs.FindAllStringSubmatch(string(openapiDoc), -1) {
		if _, ok := doc.Components[m[1]][m[2]]; !ok {
			t.Errorf("dangling $ref #/components/%s/%s", m[1], m[2])
		}
	}
}

// Without Config.Admin nothing is mounted under /admin.
func TestAdminAPIIsOptional(t *testing.T) {
	s := New(Config{Issuer: "http://localhost"}, nil, nil, nil)
	for _, r := range s.echo.Routes() {
		if strings.HasPrefix(r.Path, "/admin") {
			t.Errorf("route %s %s mounted without Config.Admin", r.Method, r.Path)
		}
	}
}
