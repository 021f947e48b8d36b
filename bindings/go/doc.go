// Package pyrt embeds CPython (3.8 and later, free-threaded builds included)
// in a Go program through libpyrt, without cgo and without a sidecar
// process.
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
//     from the working directory (for the repository's tests and examples);
//  5. the libpyrt embedded in this module (linux/amd64 and linux/arm64; see
//     Embedded): decompressed and checked against its SHA-256, then loaded
//     from memory (memfd_create), or, where that fails, from a file in the
//     per-user cache directory (os.UserCacheDir()/pyrt);
//  6. libpyrt.so through the system library path (LD_LIBRARY_PATH,
//     ld.so.cache, /usr/lib, ...).
//
// So after `go get`, a program needs nothing else: no cargo, no environment
// variable, only a CPython with a shared libpython (the embedded libpyrt
// needs glibc 2.17 or later). The pyrt_noembed build tag leaves the
// embedded copy (about 0.9 MB) out of the binary. Info.Library says which
// library was loaded. A path given by 1 or 2 is the only one tried. A library that is missing,
// whose pyrt_version() does not have this binding's major.minor, or that
// lacks a symbol is reported by New as an error (ErrLibraryNotFound,
// ErrLibraryVersion); nothing is loaded at import time and nothing panics.
//
// Built with the pyrt_cgo build tag, the package links libpyrt with cgo
// instead (from this repository's target/release, with an rpath); the
// public API is identical and the library options are ignored.
//
// # Finding libpython
//
// libpython itself is found by libpyrt: WithLibpython; else, with WithVenv,
// the venv's own Python; else $PYRT_LIBPYTHON; else the python3 on PATH
// (asked through sysconfig, as python3.X first when WithPythonVersion("3.X")
// constrains the search); else common locations (/usr/lib*, /usr/local/lib,
// pyenv's versions). Discover reports that choice without loading anything:
//
//	d, err := pyrt.Discover(pyrt.WithPythonVersion("3.12"))
//	fmt.Print(d) // the library, its version, and every candidate with the reason it was taken or rejected
//
// When nothing is found, New and Discover fail with ErrLibpythonNotFound and
// the same candidate list in the message. A WithPythonVersion that is not
// "3.X" with X ≥ 8, or a loaded library of another version than
// WithPythonVersion or the venv asks for (or of another build kind than the
// venv's: a free-threaded venv needs the free-threaded libpython), is
// ErrConfig.
//
// # Python versions
//
// Any CPython from 3.8 on is supported, free-threaded builds included.
// pyrt is tested with 3.8–3.14 and the free-threaded 3.13t; a newer version
// is accepted when its libpython exports everything pyrt needs (New names
// the first missing symbol otherwise), and Info reports it as untested
// (Info.Tested false, Info.TestedNote saying why). A version before 3.8 is
// refused (ErrLibpythonInvalid).
//
// # Virtual environments
//
// WithVenv(dir) runs the interpreter in a virtualenv the way dir/bin/python
// would: sys.prefix is the venv, sys.executable is dir/bin/python, the
// venv's site-packages is on sys.path and its include-system-site-packages
// setting is honoured (WithSystemSitePackages overrides it). Given only the
// venv, libpyrt asks the venv's interpreter for its libpython; a libpython of
// another Python version than the venv's is ErrConfig. WithSitePaths adds
// directories with site.addsitedir; WithPythonHome sets PYTHONHOME (the base
// installation, never a venv).
//
//	rt, err := pyrt.New(pyrt.WithVenv("/srv/app/.venv"), pyrt.WithSitePaths("/srv/app/src"))
//
// # Subprocesses and multiprocessing
//
// sys.executable is always a real Python interpreter of the loaded version
// (the venv's bin/python with WithVenv, else the interpreter installed with
// the libpython), never the Go program, and sys.argv is [""] (WithArgv sets
// it). So subprocess.run([sys.executable, ...]) works, and so does
// multiprocessing with the "spawn" and "forkserver" start methods: workers
// are fresh interpreters that import the target function's module by name
// (a module on sys.path, not code defined in __main__ by Run). Do not use
// the "fork" start method, the default on Linux before Python 3.14: forking
// a multi-threaded Go process leaves a child whose Go runtime is dead. Ask
// for another method explicitly:
//
//	ctx = multiprocessing.get_context("spawn")  # or "forkserver"
//	with ctx.Pool(4) as pool:
//	    results = pool.map(mymodule.work, items)
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
// runtime.LockOSThread and never see the GIL. Go memory is handed to C only
// for the duration of a call.
//
// With the GIL, one goroutine runs Python at a time, so many goroutines get
// about the throughput of one, shared out in arrival order: calls queue in
// front of libpyrt as parked goroutines (not OS threads blocked in C), and a
// call waits for the calls ahead of it, not for CPython's 5 ms switch
// interval. Measured on 2 cores, 64 goroutines calling an 8 µs function got
// 0.85–0.90× one goroutine's throughput with a p99 latency of 0.7–0.9 ms
// (0.44–0.46× and 17–18 ms without the queue), and with jinja2 renders of
// about 20 µs 0.68–0.76× (0.51–0.55×). Calls whose Python code releases the
// GIL (I/O, time.sleep, large numpy operations, host callbacks) still
// overlap. To use more than one core for CPU-bound Python, use WithWorkers
// (3.12+; its calls queue as many at a time as there are workers, and a call
// runs in an idle worker's interpreter on the calling goroutine's thread: on 2
// cores, 2 goroutines on 2 workers did 1.8–2.0× the work of one with 1 ms
// calls and, built with Go 1.26, 1.8–1.9× with 8 µs pure-Python calls and
// 1.55–1.75× with jinja2 renders of about 20 µs)
// or a free-threaded build (Info.FreeThreaded; its calls are not queued). An
// Object made on a Runtime with workers lives in one worker: to spread work,
// call functions by name and let each worker keep its own state. A Runtime
// made WithMainThread runs every call on one thread, which keeps Python's
// data in one CPU's caches: for short calls that never wait, on a machine
// with CPUs to spare, it can get more done than the default runtime (see
// WithMainThread).
//
// # Free-threaded builds
//
// With a free-threaded CPython (3.13t and later, Info.FreeThreaded) there
// is no GIL: calls from several goroutines run Python code in parallel, on
// as many cores, without WithWorkers, and the Object API keeps working
// across them. Python code shared by such calls needs the locks it would
// need in a threaded Python program: operations on one built-in list or
// dict are safe, but a read-modify-write such as `counter += 1` on shared
// state can lose updates without a threading.Lock. A value converted to Go
// while another call changes it is converted from a consistent snapshot
// (dicts) or item by item (lists). C extensions must support free
// threading; importing one that does not re-enables the GIL for the
// process (CPython's behaviour, with a RuntimeWarning).
//
// # Cancellation and deadlines
//
// A call whose context is already done returns ctx.Err() without entering
// Python. Cancelling the context of a running call, or reaching its
// deadline, interrupts the Python code (pyrt raises KeyboardInterrupt in it):
// the method returns an error that matches both ctx.Err() and
// ErrInterrupted, within milliseconds for pure-Python code, and the Runtime
// stays usable. Code blocked inside C (time.sleep, a socket read, a long
// numpy operation) is interrupted only when it returns to Python. Contexts
// that are never cancelled (context.Background()) add no cost.
//
//	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
//	defer cancel()
//	v, err := rt.Call(ctx, "model", "predict", x) // errors.Is(err, context.DeadlineExceeded)
//
// WithCallTimeout gives every call of a Runtime (and of its Objects) a limit
// of its own, enforced by libpyrt: such a call fails with ErrTimeout.
//
// # Output
//
// Python's print() goes to the process's stdout by default. CaptureOutput
// collects what one call writes instead (concurrent calls never mix):
//
//	var out bytes.Buffer
//	err := rt.Run(pyrt.CaptureOutput(ctx, &out, nil), "print('hello')")
//
// A Runtime made with WithCaptureOutput does this for every call, Object
// methods included.
//
// # Main-thread semantics
//
// Calls run on the calling goroutine's OS thread. A Runtime made with
// WithMainThread runs its calls on Python's main thread instead, where
// signal.signal, signal.setitimer, asyncio signal handlers and
// _thread.interrupt_main work as in a script (each call then hops to that
// thread). The Go runtime keeps SIGINT, and Python code that writes to a
// closed pipe gets BrokenPipeError (see WithSignals).
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
//	float                                    float64 (4.0 comes back as float64(4); NaN, ±Inf too)
//	str                                      string
//	list                                     []any
//	tuple                                    Tuple
//	dict with str keys                       map[string]any
//	dict with other keys (or "__pyrt__")     Dict (its items in order)
//	bytes, bytearray                         []byte, ByteArray
//	set, frozenset                           Set, FrozenSet
//	complex                                  complex128
//	datetime, date, time, timedelta          time.Time, Date, TimeOfDay, time.Duration
//	decimal.Decimal                          Decimal
//
// These are exactly the values the object API (Object.Call, Object.Value,
// Runtime.CallValue, ...) returns: results travel in pyrt's lossless tagged
// encoding (docs/values.md), and a result with no plain JSON tag costs
// nothing extra to decode. A Python value with no encoding (an arbitrary
// object) is an error matching ErrConversion, or an *Object when
// WithHandles() is among the arguments (an option of Eval). With
// WithPlainJSON() among the arguments (an option of Eval and EvalInto) the
// result is decoded as plain JSON instead, as Call and Eval once did (and
// gopython's CallFunction still does): a tuple is a []any, and sets, bytes, dicts with
// non-str keys, NaN and the other values above are errors matching
// ErrConversion. Arguments are encoded as above either way (Runtime.CallValue
// encodes them in the tagged encoding too). CallInto, CallT and EvalInto
// decode the result from plain JSON with encoding/json into any Go type
// instead (structs, []int, map[string]float64, ...; a tuple fills a slice);
// a result that does not fit is an error matching ErrConversion. Into a
// *any they convert as Call and Eval do.
//
// # Numeric arrays without copies
//
// A Go slice lent to a typed call (CallFloat, CallInt, CallTyped,
// CallTypedObject) with BufferOf reaches Python as a memoryview of the
// slice's own memory: numpy.frombuffer(mv) and numpy.asarray(mv) read (and,
// with WritableBufferOf, write) it in place. The view is valid for that call
// only: when the call returns, pyrt releases it (a Python that kept the
// memoryview gets ValueError). If Python kept something that points into
// the slice (an array made from it, stored in a global), the call fails with
// ErrBufferEscaped and pyrt keeps the slice pinned and reachable for the rest
// of the process, so Python never reads freed memory. The slice is pinned
// (runtime.Pinner) for the duration of the call, as cgo's rules require.
//
// In the other direction, Object.Buffer gives a view of a Python object's
// buffer (a NumPy array, array.array, bytes, ...) with its shape, strides and
// format; View reads it in place as a []T and CopyTo copies it out in C order
// (one copy).
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
