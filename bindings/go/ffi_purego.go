//go:build !pyrt_cgo

// Foreign-call layer, purego flavour: libpyrt is opened with dlopen at run
// time (no cgo needed; CGO_ENABLED=0 works). openLibrary resolves the whole
// symbol table of ffi.go's declaration list at once (the library is refused,
// naming the symbol, if one is missing), and every foreign call goes through
// ccall (ffi_ccall_*.go). ffi_cgo.go is the cgo flavour.

package pyrt

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// ffiMode names the foreign-call layer compiled in: "purego" or "cgo".
const ffiMode = "purego"

// ffiLib is the loaded libpyrt: its symbol table, resolved once by
// openLibrary, and the C function pointers into Go it is given. The methods
// that call it are generated (ffi_gen_purego.go).
type ffiLib struct {
	fn     [symCount]uintptr // indexed by the sym_ constants
	path   string            // what was opened (a path, or the bare soname for the system search)
	where  string            // how location() describes it, when not just path (the embedded copy)
	handle uintptr
	ver    string
	tramp  trampolines
}

var (
	libMu  sync.Mutex
	libPtr *ffiLib
	// goTramps are made once per process (purego allows about 2,000
	// callbacks and never frees them), by the first successful open.
	goTramps trampolines
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

// loadedLibrary is the library loaded in this process, or nil.
func loadedLibrary() *ffiLib {
	libMu.Lock()
	defer libMu.Unlock()
	return libPtr
}

// openLibrary opens path and resolves the symbol table: the one place where
// symbols are looked up. pyrt_version comes first, so that an incompatible
// library is reported as such; then every other declared function, and a
// library lacking any of them is refused with an error naming it (never a
// fallback to something else). Called with libMu held.
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
	fail := func(err error) (*ffiLib, error) {
		_ = purego.Dlclose(h)
		return nil, err
	}
	resolve := func(i int) error {
		p, err := purego.Dlsym(h, symNames[i])
		if err != nil || p == 0 {
			return &loadError{ErrLibraryVersion, "missing symbol " + symNames[i] +
				" (a libpyrt older than this binding; rebuild it with `cargo build --release`)"}
		}
		l.fn[i] = p
		return nil
	}
	if err := resolve(sym_pyrt_version); err != nil {
		return fail(err)
	}
	l.ver = goString(ptrOf(l.pyrt_version()))
	if err := checkVersion(l.ver); err != nil {
		return fail(err)
	}
	for i := range l.fn {
		if l.fn[i] == 0 {
			if err := resolve(i); err != nil {
				return fail(err)
			}
		}
	}
	if goTramps.call == 0 {
		goTramps = trampolines{
			call: purego.NewCallback(func(user, args, kwargs, reply uintptr) uintptr {
				return uintptr(uint32(hostCall(user, cBytes(ptrOf(args)), cBytes(ptrOf(kwargs)), reply)))
			}),
			destroy: purego.NewCallback(func(user uintptr) { forgetHost(user) }),
			output: purego.NewCallback(func(user, stream, text, n uintptr) {
				outputWrite(stream&0xffffffff, cSlice(text, int(n)))
			}),
			taskDone: purego.NewCallback(func(user, task, status, result, err uintptr) {
				taskDone(user, int32(uint32(status)), result, err)
			}),
			progress: purego.NewCallback(func(user, line uintptr) {
				installProgress(user, goString(ptrOf(line)))
			}),
		}
	}
	l.tramp = goTramps
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

func (l *ffiLib) location() string {
	if l.where != "" {
		return l.where
	}
	return l.path
}

// boolArg passes a C bool.
func boolArg(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}
