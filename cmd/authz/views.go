package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authz/authz/models"
)

// The CLI prints the admin API's JSON shapes (web.ClientView, web.UserView,
// web.PolicyView, web.AuditView, web.KeyView), so scripts can use either.

// Human-readable output goes through escape (m.table escapes every cell,
// m.printf every string argument): client names, client_ids and emails as
// sent to the token endpoint or the sign-in form, user agents. --json
// output does not need it: encoding/json escapes control characters.

// escape makes text safe to print on a terminal: each unsafe rune (see
// models.UnsafeRune: C0 and C1 controls such as ESC, CR and LF, DEL, bidi
// overrides and other format characters) and each byte of invalid UTF-8 is
// written as a Go escape (\x1b, \r, \u202e, \xff), so that text sent by
// anyone cannot move the cursor, overwrite a line, forge a row or reorder
// what surrounds it. Ordinary UTF-8 is left readable.
func escape(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || models.UnsafeRune(r) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case models.UnsafeRune(r):
			q := strconv.QuoteRune(r) // '\x1b', '\n', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// printf writes human-readable output with every string argument escaped.
// The format itself is the program's own.
func (m *Main) printf(format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = escape(s)
		}
	}
	fmt.Fprintf(m.Stdout, format, args...)
}

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
