package pyrt

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Code is a pyrt status code, as returned by every fallible function of the
// C ABI. The numbers are stable and never reused.
type Code int32

// Status codes of the C ABI (docs/c-api-contract.md).
const (
	CodeOK                Code = 0
	CodeInvalidArgument   Code = 1
	CodeInvalidUTF8       Code = 2
	CodeInvalidJSON       Code = 3
	CodeConfig            Code = 4
	CodeLibpythonNotFound Code = 5
	CodeLibpythonInvalid  Code = 6
	CodeLibpythonConflict Code = 7
	CodeInit              Code = 8
	CodeFinalized         Code = 9
	CodeClosed            Code = 10
	CodePython            Code = 11
	CodeSystemExit        Code = 12
	CodeKeyboardInterrupt Code = 13
	CodeConversion        Code = 14
	CodeFileNotFound      Code = 15
	CodePermissionDenied  Code = 16
	CodeNotAFile          Code = 17
	CodeIO                Code = 18
	CodeInternal          Code = 19
	CodeInterrupted       Code = 20
	CodeTimeout           Code = 21
	CodeBufferEscaped     Code = 22
	CodeVenv              Code = 23

	// CodeDone is not an error: it ends an iteration (PYRT_DONE). Iterator
	// reports it as the end, never as an error.
	CodeDone Code = 100
)

var codeNames = [...]string{
	"PYRT_OK",
	"PYRT_ERR_INVALID_ARGUMENT",
	"PYRT_ERR_INVALID_UTF8",
	"PYRT_ERR_INVALID_JSON",
	"PYRT_ERR_CONFIG",
	"PYRT_ERR_LIBPYTHON_NOT_FOUND",
	"PYRT_ERR_LIBPYTHON_INVALID",
	"PYRT_ERR_LIBPYTHON_CONFLICT",
	"PYRT_ERR_INIT",
	"PYRT_ERR_FINALIZED",
	"PYRT_ERR_CLOSED",
	"PYRT_ERR_PYTHON",
	"PYRT_ERR_SYSTEM_EXIT",
	"PYRT_ERR_KEYBOARD_INTERRUPT",
	"PYRT_ERR_CONVERSION",
	"PYRT_ERR_FILE_NOT_FOUND",
	"PYRT_ERR_PERMISSION_DENIED",
	"PYRT_ERR_NOT_A_FILE",
	"PYRT_ERR_IO",
	"PYRT_ERR_INTERNAL",
	"PYRT_ERR_INTERRUPTED",
	"PYRT_ERR_TIMEOUT",
	"PYRT_ERR_BUFFER_ESCAPED",
	"PYRT_ERR_VENV",
}

// String returns the C name of the code, e.g. "PYRT_ERR_PYTHON".
func (c Code) String() string {
	if c == CodeDone {
		return "PYRT_DONE"
	}
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "PYRT_ERR_UNKNOWN(" + strconv.Itoa(int(c)) + ")"
}

// Sentinel errors. Every error returned by this package that has a status
// code matches the corresponding sentinel with [errors.Is]:
//
//	if errors.Is(err, pyrt.ErrClosed) { ... }
var (
	// ErrLibraryNotFound: libpyrt itself could not be found or loaded.
	ErrLibraryNotFound = errors.New("pyrt: libpyrt not found")
	// ErrLibraryVersion: the libpyrt found has a version this binding does
	// not support (major.minor differ) or lacks a symbol.
	ErrLibraryVersion = errors.New("pyrt: incompatible libpyrt")
	// ErrLibraryConflict: a different libpyrt is already loaded in this process.
	ErrLibraryConflict = errors.New("pyrt: a different libpyrt is already loaded")

	ErrInvalidArgument   = errors.New("pyrt: invalid argument")
	ErrInvalidUTF8       = errors.New("pyrt: invalid UTF-8")
	ErrInvalidJSON       = errors.New("pyrt: invalid JSON")
	ErrConfig            = errors.New("pyrt: invalid configuration")
	ErrLibpythonNotFound = errors.New("pyrt: libpython not found")
	ErrLibpythonInvalid  = errors.New("pyrt: libpython invalid or unsupported")
	ErrLibpythonConflict = errors.New("pyrt: a different libpython is already running")
	ErrInit              = errors.New("pyrt: Python failed to initialize")
	ErrFinalized         = errors.New("pyrt: Python was finalized in this process")
	ErrClosed            = errors.New("pyrt: runtime closed")
	// ErrPython matches every *PythonError (including SystemExit and
	// KeyboardInterrupt).
	ErrPython            = errors.New("pyrt: Python exception")
	ErrSystemExit        = errors.New("pyrt: SystemExit")
	ErrKeyboardInterrupt = errors.New("pyrt: KeyboardInterrupt")
	// ErrConversion: a value could not be converted, either a Go argument
	// with no JSON form (NaN, a channel, ...) or a Python result with no
	// JSON form, or a result that does not fit the CallInto target.
	ErrConversion       = errors.New("pyrt: conversion failed")
	ErrFileNotFound     = errors.New("pyrt: file not found")
	ErrPermissionDenied = errors.New("pyrt: permission denied")
	ErrNotAFile         = errors.New("pyrt: not a regular file")
	ErrIO               = errors.New("pyrt: I/O error")
	ErrInternal         = errors.New("pyrt: internal error")
	// ErrInterrupted: the call was interrupted — by its context (the error
	// then also matches ctx.Err()) or by pyrt_interrupt from another host.
	ErrInterrupted = errors.New("pyrt: call interrupted")
	// ErrTimeout: the call exceeded the handle's timeout_ms.
	ErrTimeout = errors.New("pyrt: call timed out")
	// ErrBufferEscaped: Python code kept a view of a slice lent with
	// BufferOf (an array made from it, stored beyond the call). pyrt then
	// keeps the slice pinned and reachable for the rest of the process, so
	// Python never reads freed memory; the slice should not be reused.
	ErrBufferEscaped = errors.New("pyrt: a lent buffer escaped the call")
	// ErrVenv: preparing a managed venv (WithRequirements) failed: creating
	// it, or installing a requirement (the message names it and carries the
	// installer's error). An existing venv is left as it was.
	ErrVenv = errors.New("pyrt: preparing the venv failed")
)

var codeSentinels = [...]error{
	nil,
	ErrInvalidArgument,
	ErrInvalidUTF8,
	ErrInvalidJSON,
	ErrConfig,
	ErrLibpythonNotFound,
	ErrLibpythonInvalid,
	ErrLibpythonConflict,
	ErrInit,
	ErrFinalized,
	ErrClosed,
	ErrPython,
	ErrSystemExit,
	ErrKeyboardInterrupt,
	ErrConversion,
	ErrFileNotFound,
	ErrPermissionDenied,
	ErrNotAFile,
	ErrIO,
	ErrInternal,
	ErrInterrupted,
	ErrTimeout,
	ErrBufferEscaped,
	ErrVenv,
}

// Sentinel returns the sentinel error matching c, or nil for CodeOK and
// unknown codes.
func (c Code) Sentinel() error {
	if c > 0 && int(c) < len(codeSentinels) {
		return codeSentinels[c]
	}
	return nil
}

// Error is an error reported by libpyrt (or by this package) that is not a
// Python exception. It matches the sentinel of its Code with [errors.Is].
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "pyrt: " + e.Code.String()
	}
	return "pyrt: " + e.Message + " (" + e.Code.String() + ")"
}

// Is reports whether target is the sentinel of e.Code.
func (e *Error) Is(target error) bool {
	s := e.Code.Sentinel()
	return s != nil && s == target
}

// PythonError is a Python exception raised by the called code. Code is
// CodePython, CodeSystemExit or CodeKeyboardInterrupt. It matches ErrPython
// and the sentinel of its Code with [errors.Is]:
//
//	var pe *pyrt.PythonError
//	if errors.As(err, &pe) && pe.Type == "ValueError" { ... }
type PythonError struct {
	Code Code
	// Type is the exception's qualified type name, e.g. "ValueError" or
	// "json.decoder.JSONDecodeError".
	Type string
	// Message is str(exception).
	Message string
	// Traceback is the formatted traceback, or "" when none is available.
	Traceback string
	// raw keeps libpyrt's error (with the exception object) so a Go host
	// function can re-raise this very exception in Python.
	raw *rawError
}

// rawError owns a pyrt_error; a cleanup frees it. The unused pointer field keeps it out of
// Go's tiny allocator (pointer-free objects under 16 bytes share a block), where its cleanup
// could wait for unrelated values (GODEBUG=checkfinalizers=1 reports that).
type rawError struct {
	p uintptr
	_ *byte
}

func (e *PythonError) Error() string {
	var b strings.Builder
	b.WriteString("python: ")
	if e.Type != "" {
		b.WriteString(e.Type)
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is reports whether target is ErrPython or the sentinel of e.Code.
func (e *PythonError) Is(target error) bool {
	if target == ErrPython {
		return true
	}
	s := e.Code.Sentinel()
	return s != nil && s == target
}

// newError builds an *Error with a formatted message.
func newError(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// loadError is returned when libpyrt cannot be loaded. It matches its
// sentinel (ErrLibraryNotFound, ErrLibraryVersion or ErrLibraryConflict).
type loadError struct {
	sentinel error
	msg      string
}

func (e *loadError) Error() string { return e.msg }
func (e *loadError) Is(target error) bool {
	return target == e.sentinel
}
