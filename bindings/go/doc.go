// Package pyrt embeds CPython (3.8–3.13) in a Go program through libpyrt,
// without cgo and without a sidecar process.
//
//	rt, err := pyrt.New() // or pyrt.New(pyrt.WithLibpython("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0"))
//	if err != nil {
//		return err
//	}
//	defer rt.Close()
//	v, err := rt.Call(ctx, "math", "sqrt", 16.0) // float64(4)
//
// # Loading libpyrt
//
// By default libpyrt.so is opened at run time with purego, so the package
// builds with CGO_ENABLED=0 (and equally with cgo enabled). Where it is
// looked for, in order:
//
//  1. the WithLibrary option;
//  2. the PYRT_LIBRARY environment variable;
//  3. libpyrt.so next to the running executable;
//  4. target/release/libpyrt.so of the pyrt repository, found by walking up
//     from this package's source directory and from the working directory
//     (for the repository's tests and examples);
//  5. libpyrt.so through the system library path (LD_LIBRARY_PATH,
//     ld.so.cache, /usr/lib, ...).
//
// A path given by 1 or 2 is the only one tried. A library that is missing,
// whose pyrt_version() does not have this binding's major.minor, or that
// lacks a symbol is reported by New as an error (ErrLibraryNotFound,
// ErrLibraryVersion); nothing is loaded at import time and nothing panics.
//
// Built with the pyrt_cgo build tag, the package links libpyrt with cgo
// instead (from this repository's target/release, with an rpath); the
// public API is identical and the library options are ignored.
//
// libpython itself is found by libpyrt: WithLibpython, else
// $PYRT_LIBPYTHON, else python3 on PATH, else common locations.
//
// # One interpreter per process
//
// CPython can be started only once in a process. The first New starts it;
// later calls to New return further handles to the same interpreter (asking
// for a different libpython is ErrLibpythonConflict). Closing the last open
// Runtime finalizes Python; after that New returns ErrFinalized. Programs
// typically create one Runtime at start-up and close it at exit. Run, RunFile
// and Eval work in the shared __main__ module.
//
// # Goroutines
//
// Every method may be called from any goroutine, concurrently. libpyrt takes
// and releases the GIL inside each C call (CPython itself is initialized and
// finalized on a thread libpyrt owns), so callers never use
// runtime.LockOSThread and never see the GIL. Go memory is handed to C only for the duration of a call. A call whose
// context is already done returns ctx.Err() without entering Python; a call
// that has started runs to completion.
//
// libpyrt keeps one Python thread state per OS thread, and a goroutine's
// consecutive calls may run on different OS threads: do not rely on
// thread-affine Python state (threading.local, decimal.getcontext()) across
// calls. Module globals and __main__ are shared and always visible.
//
// # Conversions
//
// Arguments travel to Python as JSON, and results come back as JSON.
//
//	Go argument                              Python value
//	nil, nil pointer/slice/map               None
//	bool                                     bool
//	int, int8…int64, uint, uint8…uint64      int
//	*big.Int, big.Int (any size)             int
//	json.Number                              int or float, as written
//	float32, float64                         float (4.0 stays a float)
//	string                                   str (must be valid UTF-8)
//	[]byte                                   str, base64 (as encoding/json)
//	slices, arrays                           list
//	maps with string (or integer) keys       dict (keys sorted)
//	structs                                  dict, json tags honoured
//	json.Marshaler, encoding.TextMarshaler   their JSON / text
//
// NaN and ±Inf, channels, functions, complex numbers and maps with other key
// types cannot be converted: the call returns a *ConversionError (matching
// ErrConversion) naming the path of the value, e.g. `$[1]["k"]`, and Python
// is not entered. Struct fields follow encoding/json's rules (exported
// fields, `json:"name,omitempty"`, "-", omitzero); structs with embedded
// fields or ",string" options are encoded by encoding/json itself.
//
//	Python result                            Go value (Call, Eval, CallT[any])
//	None                                     nil
//	bool                                     bool
//	int fitting in 64 bits                   int64
//	larger int                               *big.Int
//	float                                    float64 (4.0 comes back as float64(4))
//	str                                      string
//	list, tuple                              []any
//	dict with str keys                       map[string]any
//
// A Python value with no JSON form (a set, bytes, an arbitrary object) is an
// error matching ErrConversion. CallInto, CallT and EvalInto decode the
// result with encoding/json into any Go type instead (structs, []int,
// map[string]float64, ...); a result that does not fit is an error matching
// ErrConversion.
//
// # Errors
//
// A Python exception is a *PythonError carrying the exception type, message
// and traceback; use errors.As. SystemExit and KeyboardInterrupt are
// *PythonErrors too (matching ErrSystemExit / ErrKeyboardInterrupt): they
// never exit or interrupt the Go process. Every other failure is an *Error
// with the C status Code; every error matches its sentinel with errors.Is
// (ErrClosed, ErrConversion, ErrLibpythonNotFound, ErrFileNotFound, ...).
package pyrt
