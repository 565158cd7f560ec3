package models

import (
	"errors"
	"fmt"
)

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

// ErrForbidden marks an action the actor may not take.
var ErrForbidden = errors.New("forbidden")

// Forbiddenf returns an ErrForbidden domain error with the given code.
func Forbiddenf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrForbidden}
}

// Conflictf returns an ErrConflict domain error with the given code.
func Conflictf(code, format string, args ...any) error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Kind: ErrConflict}
}
