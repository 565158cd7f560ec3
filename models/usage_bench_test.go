package models_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// BenchmarkRecordUsage measures one usage flush of 1,000 active clients
// (what app.UsageRecorder writes every --usage-flush under load), per
// backend. The flush runs on the server's CPU beside the token endpoint.
func BenchmarkRecordUsage(b *testing.B) {
	const clients = 1000
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := storetest.Open(b, backend)
			owner := mustCreateUser(b, s, "owner@example.com", "a")
			usages := make([]models.Usage, clients)
			for i := range usages {
				c, sec := mustCreateClient(b, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID, Name: fmt.Sprintf("bench %d", i)})
				usages[i] = models.Usage{ClientID: c.ID, SecretID: sec.ID, IP: "192.0.2.1", UserAgent: "Go-http-client/1.1", Count: 7}
			}
			at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for b.Loop() {
				at = at.Add(time.Second)
				for i := range usages {
					usages[i].At = at
				}
				if err := s.RecordUsage(b.Context(), usages); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*clients), "µs/client")
		})
	}
}
