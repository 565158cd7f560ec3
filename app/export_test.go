package app

// SetAuditDeleteBatch makes j delete old audit events n at a time.
func SetAuditDeleteBatch(j *Janitor, n int) { j.auditBatch = n }

// AuditTracked is how many aggregated rows (sources, clients) w holds.
func AuditTracked(w *AuditWriter) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.minutes {
		n += len(m.sources) + len(m.clients)
		if m.others != nil {
			n++
		}
	}
	return n
}
