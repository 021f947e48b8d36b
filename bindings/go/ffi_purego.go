//go:build !pyrt_cgo

// Foreign-call layer, purego flavour: libpyrt is opened with dlopen at run
// time (no cgo needed; CGO_ENABLED=0 works) and every C function is called
// through purego.SyscallN with its address resolved once. ffi_cgo.go is the
// cgo flavour of the same unexported surface; nothing else in the package
// calls C.

package pyrt

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ffiMode names the foreign-call layer compiled in: "purego" or "cgo".
const ffiMode = "purego"

type ffiLib struct {
	path   string // what was opened (a path, or the bare soname for the system search)
	where  string // how location() describes it, when not just path (the embedded copy)
	handle uintptr
	ver    string

	fnNew, fnFree, fnRunString, fnRunFile, fnEvalJSON, fnCallJSON, fnInfoJSON uintptr
	fnStringFree, fnErrorCode, fnErrorMessage, fnErrorPythonType              uintptr
	fnErrorTraceback, fnErrorFree, fnVersion, fnStatusName                    uintptr
	fnDiscoverJSON, fnSourceHash                                              uintptr
}

var (
	libMu  sync.Mutex
	libPtr *ffiLib
)

// loadLibrary returns the process's libpyrt, opening it on first use.
// explicit is the path from WithLibrary ("" = search). Errors are returned,
// never panics; a failed attempt can be retried.
func loadLibrary(explicit string) (*ffiLib, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if l := libPtr; l != nil {
		if explicit != "" && !sameLibrary(explicit, l.path) {
			if _, err := os.Stat(explicit); err != nil {
				return nil, &loadError{ErrLibraryNotFound, fmt.Sprintf("pyrt: libpyrt %q: %v", explicit, err)}
			}
			return nil, &loadError{ErrLibraryConflict, fmt.Sprintf(
				"pyrt: libpyrt %q requested but %s is already loaded in this process", explicit, l.location())}
		}
		return l, nil
	}
	var tried []string
	var versionErr error
	for _, c := range libraryCandidates(explicit) {
		var l *ffiLib
		var err error
		if c.embedded != nil {
			c.path = c.embedded.describe()
			l, err = openEmbedded(c.embedded)
		} else {
			l, err = openLibrary(c.path)
		}
		if err == nil {
			libPtr = l
			return l, nil
		}
		tried = append(tried, fmt.Sprintf("  %s (%s): %v", c.path, c.source, err))
		if le, ok := err.(*loadError); ok && le.sentinel == ErrLibraryVersion {
			versionErr = err
		}
		if c.final {
			break
		}
	}
	sentinel := ErrLibraryNotFound
	if versionErr != nil {
		sentinel = ErrLibraryVersion
	}
	return nil, &loadError{sentinel, "pyrt: cannot load libpyrt; tried:\n" + strings.Join(tried, "\n") +
		"\n(set PYRT_LIBRARY or use pyrt.WithLibrary; build it with `cargo build --release`)"}
}

func openLibrary(path string) (*ffiLib, error) {
	if strings.ContainsRune(path, '/') {
		if _, err := os.Stat(path); err != nil {
			return nil, &loadError{ErrLibraryNotFound, "not found"}
		}
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, &loadError{ErrLibraryNotFound, err.Error()}
	}
	l := &ffiLib{path: path, handle: h}
	sym := func(name string, dst *uintptr) error {
		p, err := purego.Dlsym(h, name)
		if err != nil || p == 0 {
			return &loadError{ErrLibraryVersion, "missing symbol " + name}
		}
		*dst = p
		return nil
	}
	if err := sym("pyrt_version", &l.fnVersion); err != nil {
		return nil, err
	}
	r1, _, _ := purego.SyscallN(l.fnVersion)
	l.ver = goString(ptrOf(r1))
	if err := checkVersion(l.ver); err != nil {
		_ = purego.Dlclose(h)
		return nil, err
	}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"pyrt_new", &l.fnNew},
		{"pyrt_free", &l.fnFree},
		{"pyrt_run_string", &l.fnRunString},
		{"pyrt_run_file", &l.fnRunFile},
		{"pyrt_eval_json", &l.fnEvalJSON},
		{"pyrt_call_json", &l.fnCallJSON},
		{"pyrt_info_json", &l.fnInfoJSON},
		{"pyrt_string_free", &l.fnStringFree},
		{"pyrt_error_code", &l.fnErrorCode},
		{"pyrt_error_message", &l.fnErrorMessage},
		{"pyrt_error_python_type", &l.fnErrorPythonType},
		{"pyrt_error_traceback", &l.fnErrorTraceback},
		{"pyrt_error_free", &l.fnErrorFree},
		{"pyrt_status_name", &l.fnStatusName},
		{"pyrt_discover_json", &l.fnDiscoverJSON},
		{"pyrt_source_hash", &l.fnSourceHash},
	} {
		if err := sym(s.name, s.dst); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// openEmbedded writes out the embedded copy (after checking its SHA-256)
// and opens it; it must report exactly the version it was embedded as.
func openEmbedded(e *embeddedLib) (*ffiLib, error) {
	var l *ffiLib
	how, err := e.load(func(path string) error {
		lib, err := openLibrary(path)
		if err != nil {
			return err
		}
		if lib.ver != e.version {
			_ = purego.Dlclose(lib.handle)
			return &loadError{ErrLibraryVersion, fmt.Sprintf("embedded libpyrt reports version %q, embedded as %q", lib.ver, e.version)}
		}
		l = lib
		return nil
	})
	if err != nil {
		var le *loadError
		if errors.As(err, &le) && le.sentinel == ErrLibraryVersion {
			return nil, &loadError{ErrLibraryVersion, err.Error()}
		}
		return nil, &loadError{ErrLibraryNotFound, err.Error()}
	}
	if strings.HasPrefix(l.path, "/proc/") {
		l.path = "" // the memfd path is closed by now; nothing else can name this copy
	}
	l.where = e.describe() + ", loaded " + how
	return l, nil
}

func (l *ffiLib) version() string { return l.ver }
func (l *ffiLib) location() string {
	if l.where != "" {
		return l.where
	}
	return l.path
}

func ptrArg(b []byte, off int) uintptr {
	if off < 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[off]))
}

// syscall calls fn with f.args[:n]. The arguments are uintptrs of C
// pointers or of Go heap memory owned by f (its buffer and slots), which
// is kept alive until the call returns and never moves (the Go heap is not
// compacted).
func (f *frame) syscall(fn uintptr, n int) int32 {
	r1, _, _ := purego.SyscallN(fn, f.args[:n]...)
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.buf)
	runtime.KeepAlive(f.slot)
	return int32(r1)
}

func (f *frame) outArg() uintptr { return uintptr(unsafe.Pointer(&f.slot[0])) }
func (f *frame) errArg() uintptr { return uintptr(unsafe.Pointer(&f.slot[1])) }

// newRuntime calls pyrt_new with the config at f.buf[cfgOff:] (cfgOff < 0 =
// NULL); the handle lands in f.out().
func (l *ffiLib) newRuntime(f *frame, cfgOff int) int32 {
	f.args[0], f.args[1], f.args[2] = ptrArg(f.buf, cfgOff), f.outArg(), f.errArg()
	return f.syscall(l.fnNew, 3)
}

// discoverJSON calls pyrt_discover_json with the config at f.buf[cfgOff:]
// (cfgOff < 0 = NULL); the report lands in f.out().
func (l *ffiLib) discoverJSON(f *frame, cfgOff int) int32 {
	f.args[0], f.args[1], f.args[2] = ptrArg(f.buf, cfgOff), f.outArg(), f.errArg()
	return f.syscall(l.fnDiscoverJSON, 3)
}

func (l *ffiLib) free(rt unsafe.Pointer) {
	purego.SyscallN(l.fnFree, uintptr(rt))
}

// runString / runFile / evalJSON take their single string at f.buf[0:].
func (l *ffiLib) runString(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2] = uintptr(rt), ptrArg(f.buf, 0), f.errArg()
	return f.syscall(l.fnRunString, 3)
}

func (l *ffiLib) runFile(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2] = uintptr(rt), ptrArg(f.buf, 0), f.errArg()
	return f.syscall(l.fnRunFile, 3)
}

func (l *ffiLib) evalJSON(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = uintptr(rt), ptrArg(f.buf, 0), f.outArg(), f.errArg()
	return f.syscall(l.fnEvalJSON, 4)
}

// callJSON: module at f.buf[0:], the others at the given offsets (kwOff < 0 = NULL).
func (l *ffiLib) callJSON(rt unsafe.Pointer, f *frame, fnOff, argsOff, kwOff int) int32 {
	b := f.buf
	f.args = [8]uintptr{uintptr(rt), ptrArg(b, 0), ptrArg(b, fnOff), ptrArg(b, argsOff), ptrArg(b, kwOff),
		f.outArg(), f.errArg()}
	return f.syscall(l.fnCallJSON, 7)
}

func (l *ffiLib) infoJSON(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2] = uintptr(rt), f.outArg(), f.errArg()
	return f.syscall(l.fnInfoJSON, 3)
}

// stringFree frees a result string, using f's argument space.
func (l *ffiLib) stringFree(f *frame, p unsafe.Pointer) {
	f.args[0] = uintptr(p)
	f.syscall(l.fnStringFree, 1)
}

func (l *ffiLib) errorCode(e unsafe.Pointer) int32 {
	r1, _, _ := purego.SyscallN(l.fnErrorCode, uintptr(e))
	return int32(r1)
}

func (l *ffiLib) errorMessage(e unsafe.Pointer) unsafe.Pointer {
	r1, _, _ := purego.SyscallN(l.fnErrorMessage, uintptr(e))
	return ptrOf(r1)
}

func (l *ffiLib) errorPythonType(e unsafe.Pointer) unsafe.Pointer {
	r1, _, _ := purego.SyscallN(l.fnErrorPythonType, uintptr(e))
	return ptrOf(r1)
}

func (l *ffiLib) errorTraceback(e unsafe.Pointer) unsafe.Pointer {
	r1, _, _ := purego.SyscallN(l.fnErrorTraceback, uintptr(e))
	return ptrOf(r1)
}

func (l *ffiLib) errorFree(e unsafe.Pointer) {
	purego.SyscallN(l.fnErrorFree, uintptr(e))
}

func (l *ffiLib) statusName(code int32) string {
	r1, _, _ := purego.SyscallN(l.fnStatusName, uintptr(uint32(code)))
	return goString(ptrOf(r1))
}

// sourceHash is the library's pyrt_source_hash().
func (l *ffiLib) sourceHash() string {
	r1, _, _ := purego.SyscallN(l.fnSourceHash)
	return goString(ptrOf(r1))
}
