package web

import "testing"

// An owner's address may break before its "@" in a narrow table cell, and
// is escaped on both sides of it.
func TestBreakableEmail(t *testing.T) {
	for in, want := range map[string]string{
		"dev@example.com":      "dev<wbr>@example.com",
		"<b>x</b>@example.com": "&lt;b&gt;x&lt;/b&gt;<wbr>@example.com",
		"cli":                  "cli",
		"a@b@c":                "a<wbr>@b@c",
		"\"q\"@example.com":    "&#34;q&#34;<wbr>@example.com",
	} {
		if got := string(breakableEmail(in)); got != want {
			t.Errorf("breakableEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
