package web_test

import (
	"io"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/authz/authz/internal/buildinfo"
	"github.com/authz/authz/web"
)

// authz_build_info names the running build, whatever else is scraped.
func TestBuildInfoMetric(t *testing.T) {
	rec := httptest.NewRecorder()
	web.NewMetrics(nil).Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	b := buildinfo.Get()
	want := `authz_build_info{commit="` + b.Commit + `",go_version="` + runtime.Version() + `",version="` + b.Version + `"} 1`
	if !strings.Contains(string(body), want) {
		t.Fatalf("/metrics lacks %s:\n%s", want, body)
	}
}
