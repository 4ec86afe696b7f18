// Package domain is the benefits ledger's model: money, identity numbers,
// certificates, the program catalog and its rules, the beneficiary aggregate,
// the event catalog and envelope, and the event-store port the model needs.
// It performs no I/O and imports nothing else of this project.
package domain

import (
	"errors"
	"fmt"
)

// Error kinds. Every error the domain returns wraps exactly one of them, so
// adapters can map an error to a status (HTTP, exit code) with errors.Is.
var (
	// ErrInvalid: the input is malformed (bad checksum, unknown program,
	// negative amount, ...). Nothing was changed.
	ErrInvalid = errors.New("invalid input")
	// ErrRuleViolation: the input is well-formed but a business rule forbids
	// it on its effective date. Nothing was changed.
	ErrRuleViolation = errors.New("rule violation")
	// ErrConcurrency: an append found a stream at another revision than the
	// caller expected. The caller may reload and retry.
	ErrConcurrency = errors.New("concurrency conflict")
	// ErrNotFound: the stream, person or record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request collides with existing state in a way a retry
	// will not fix (already registered, duplicate active entitlement, ...).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the ledger cannot decide or answer right now — the
	// database is unreachable, the read models lag behind the log, a
	// transient failure — and nothing was changed. The same request later
	// may succeed (HTTP 503 with Retry-After).
	ErrUnavailable = errors.New("temporarily unavailable")
)

// FieldError reports bad input in one named field. It wraps ErrInvalid.
type FieldError struct {
	Field  string // snake_case name as it appears in JSON and flags
	Reason string // what is wrong, in words a clerk can act on
	// Format and Args are what Invalid wrote Reason from, for an adapter
	// that says it in another language (the web desk, in Chinese): the
	// format is the message's stable key.
	Format string
	Args   []any
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid returns a *FieldError for field with a formatted reason.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// RuleError reports a business rule that forbids a command on its effective
// date, e.g. "care_subsidy requires grade 1 or 2 on 2024-03-01". It wraps
// ErrRuleViolation.
type RuleError struct {
	Rule    string // stable machine code, e.g. "grade_required"
	Message string
	// Format and Args are what Violation wrote Message from, as in
	// FieldError.
	Format string
	Args   []any
}

func (e *RuleError) Error() string { return e.Message }
func (e *RuleError) Unwrap() error { return ErrRuleViolation }

// Violation returns a *RuleError.
func Violation(rule, format string, args ...any) error {
	return &RuleError{Rule: rule, Message: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// ConflictError reports a state conflict that a retry will not resolve.
// It wraps ErrConflict.
type ConflictError struct {
	Reason string
}

func (e *ConflictError) Error() string { return e.Reason }
func (e *ConflictError) Unwrap() error { return ErrConflict }
