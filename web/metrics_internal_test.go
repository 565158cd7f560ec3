package web

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Issued tokens are counted per organization as per client: a series for
// each of the first LimitOrgSeries organizations, the others' tokens in
// one unlisted counter, so that 10,000 organizations make at most the
// configured number of series.
func TestMetricsOrgSeries(t *testing.T) {
	m := NewMetrics(nil)
	m.LimitOrgSeries(2)
	for _, org := range []string{"org-a", "org-b", "org-a", "org-c", "org-d", "org-c"} {
		m.oauthRequest("token", "issued", "client-of-"+org, org, "", time.Millisecond)
	}
	m.oauthRequest("token", "invalid_client", "", "", "", time.Millisecond) // no organization is known
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`authz_org_tokens_issued_total{org_id="org-a"} 2`,
		`authz_org_tokens_issued_total{org_id="org-b"} 1`,
		"authz_org_tokens_issued_unlisted_total 3",
		`authz_token_requests_total{outcome="issued"} 6`,
		`authz_client_tokens_issued_total{client_id="client-of-org-c"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, unwanted := range []string{`org_id="org-c"`, `org_id="org-d"`, `org_id=""`} {
		if strings.Contains(string(body), unwanted) {
			t.Errorf("/metrics has a series %s beyond the limit of 2", unwanted)
		}
	}
}
