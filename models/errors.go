package models

import "fmt"

// Error is a domain error with a stable machine-readable code (such as
// "scope_not_held_by_owner") and a message safe to show to the caller. It
// unwraps to one of ErrInvalid, ErrNotFound or ErrConflict.
type Error struct {
	Code string
	Msg  string
	Kind error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the error's kind.
func (e *Error) Unwrap() error { return e.Kind }

// Invalidf returns an ErrInvalid domain error with the given code.
func Invalidf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrInvalid}
}
