package models

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UnsafeRune reports whether r must not reach a terminal or a page as it
// is: a C0 or C1 control character (ESC, CR, LF, NUL, the 8-bit CSI), DEL,
// a line or paragraph separator, or a Unicode format character, among them
// the bidirectional overrides and isolates (U+202E) that reorder what is
// shown. The zero-width joiner and non-joiner are format characters too,
// but they are part of ordinary text in several scripts and in emoji, and
// move nothing. Input validation (CheckText) and the CLI's escaping share
// this one definition.
func UnsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r < 0x7f, r == 0x200c, r == 0x200d:
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// CheckText reports why s cannot be stored as a line of text shown to
// people (a name, a description, an audience): it is not valid UTF-8, or
// it holds an unsafe rune. PostgreSQL refuses both invalid UTF-8 and NUL
// in text columns, so this also keeps such input from the database.
func CheckText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return fmt.Errorf("is not valid UTF-8 (byte %d)", i)
			}
		}
		if UnsafeRune(r) {
			return fmt.Errorf("holds the control or formatting character %U (byte %d); only one line of plain text is allowed", r, i)
		}
	}
	return nil
}

// storable reports whether s can be sent to the database as text: valid
// UTF-8 without NUL. A lookup by anything else finds nothing, without a
// query (PostgreSQL would answer it with an error).
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
