package main

import "time"

// The CLI prints the admin API's JSON shapes (web.ClientView, web.UserView,
// web.PolicyView, web.AuditView, web.KeyView), so scripts can use either.

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
