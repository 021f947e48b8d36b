package pyrt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Runtime is a handle to the process's embedded Python interpreter. All
// methods are safe for concurrent use by multiple goroutines; callers never
// lock OS threads or see the GIL.
//
// Several Runtimes may be open at once; they share one interpreter (and one
// __main__). Closing the last open Runtime finalizes Python, after which New
// fails with ErrFinalized for the rest of the process.
type Runtime struct {
	lib        *ffiLib
	handle     uintptr // pyrt_runtime*, an opaque C token
	mainThread bool
	// gate orders calls into a Python with a GIL (admission.go): the main
	// interpreter's, or this Runtime's own for its workers; nil on a
	// free-threaded build, where calls do not take turns. Calls of a
	// WithMainThread Runtime take turns at Python's main thread, whatever the
	// build (mainThreadGate).
	gate  *admission
	extra *extraHandles // further handles (CaptureOutput), freed with the Runtime
	// timeoutMs is the handle's "timeout_ms" (0: none), given to the
	// capturing handles of CaptureOutput too.
	timeoutMs int64
	// captured receives the output of every call when the handle was
	// opened with "capture_output" (WithCaptureOutput); nil otherwise.
	captured *outputWriters
	closed   atomic.Bool
	cleanup  runtime.Cleanup
	// bindMod is the _pyrt_bind helper module of generated bindings
	// (bind.go), imported on first use.
	bindMu  sync.Mutex
	bindMod *Object
	// observer is WithCallObserver's (nil: none).
	observer CallObserver
}

// Option configures New.
type Option func(*options)

type options struct {
	library          string
	libpython        string
	pythonExecutable string
	useEnvironment   *bool
	argv             []string
	argvSet          bool
	venv             string
	systemSite       *bool
	sitePaths        []string
	requirements     []string
	requirementsFile string
	installProgress  func(line string)
	logger           *slog.Logger
	pythonHome       string
	pythonVersion    string
	stdout, stderr   io.Writer
	outputSet        bool
	mainThread       bool
	workers          int
	workerModules    []string
	workerSetup      string
	stats            *bool
	signals          string
	sigpipe          string
	timeout          time.Duration
	captured         *outputWriters
	observer         CallObserver
}

// WithMainThread runs this Runtime's calls on Python's main thread (the
// thread that initialized the interpreter) instead of the calling
// goroutine's thread, so main-thread-only features work as in a script:
// signal.signal, signal.setitimer, asyncio signal handlers,
// _thread.interrupt_main. Each call then hops to that thread (1–2 µs on an
// idle machine), and calls of all such runtimes run one at a time, so calls
// whose Python waits (I/O, time.sleep) do not overlap. A host function such a
// call calls runs on the main thread too: it must not wait for another
// WithMainThread call made on another goroutine, which cannot start before
// the host function returns.
//
// Python then stays on one OS thread, which can pay for short calls from many
// goroutines on a machine with CPUs to spare: measured on 2 cores, jinja2
// renders of about 20 µs from 2–64 goroutines got 0.89–1.06× the throughput
// of one goroutine on the default runtime, against 0.68–0.76× there (pure
// Python of 8 µs: 0.89–0.94× against 0.85–0.90×). With other processes
// keeping every CPU busy, each hop waits for the OS to run two threads: mostly
// 0.2–0.6×.
//
// It is a per-Runtime setting: New may be called twice (the interpreter is
// shared) to have one Runtime of each kind.
func WithMainThread() Option { return func(o *options) { o.mainThread = true } }

// WithWorkers runs this Runtime's calls in n worker sub-interpreters, each
// with its own GIL (Python 3.12+), so CPU-bound Python code called from
// several goroutines runs in parallel. A call goes to an idle worker; Run
// and RunFile run in every worker, so what they define is there for later
// calls. An Object made through such a Runtime (CallObject, Import, Stream,
// ...) lives in the worker that made it and every operation on it runs in
// that worker, so generators stream from workers too; a call by name with
// such Objects among its arguments runs in the worker of the first one.
// Objects cannot move between interpreters: one used where another worker's
// code runs fails with ErrInvalidArgument or ErrConversion, and CallAsync and Await need
// a Runtime without workers (the event loop is the main interpreter's).
// Modules that refuse sub-interpreters (numpy, PyO3-based packages, _datetime
// on 3.12) fail to import with an ImportError naming them: use a Runtime
// without workers for them. Below Python 3.12 the
// same calls run in the main interpreter; Info reports the mode. New may be
// called again for a Runtime without workers on the same interpreter. On a
// free-threaded build (Info.FreeThreaded) workers are not needed for
// parallelism: calls from several goroutines already run in parallel.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithWorkerModules names modules each worker imports when it starts.
func WithWorkerModules(modules ...string) Option {
	return func(o *options) { o.workerModules = append(o.workerModules, modules...) }
}

// WithWorkerSetup is Python code each worker runs when it starts (for
// example the definitions of the functions the calls use).
func WithWorkerSetup(code string) Option { return func(o *options) { o.workerSetup = code } }

// WithStats turns the counting of calls for [Runtime.Stats] on (the default)
// or off. Counting is process-wide: the first runtime decides, and a later one
// asking for the other value fails with ErrLibpythonConflict.
func WithStats(on bool) Option { return func(o *options) { o.stats = &on } }

// WithSignals sets how Python relates to the process's signals: "host" (the
// default: Python never changes a signal disposition by itself; the Go
// runtime keeps SIGINT, and writes to a closed pipe raise BrokenPipeError) or
// "python" (as a standalone interpreter: Python's SIGINT handler raises
// KeyboardInterrupt, SIGPIPE is ignored). Do not use "python" from Go with
// Python 3.8 or 3.9, whose handlers lack the SA_ONSTACK flag Go requires.
func WithSignals(mode string) Option { return func(o *options) { o.signals = mode } }

// WithSigpipe chooses when SIGPIPE is blocked in threads running Python in
// the "host" signals mode: "thread" (default, from a thread's first call on)
// or "call" (for the duration of each call only).
func WithSigpipe(policy string) Option { return func(o *options) { o.sigpipe = policy } }

// WithCallTimeout interrupts each call of this Runtime, and of the Objects
// it makes, that runs longer than d: the call fails with an error matching
// ErrTimeout and the Runtime stays usable. Time spent waiting for a turn
// (the GIL, a worker) does not count; d is rounded up to whole milliseconds,
// and d <= 0 means no limit (the default). Like a context deadline it stops
// pure-Python code within milliseconds, but code blocked inside C only when
// it returns to Python. It is a per-Runtime setting, as WithMainThread is.
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithCaptureOutput makes every call of this Runtime, and of the Objects it
// makes, capture what its Python code writes to sys.stdout and sys.stderr on
// the calling thread, and write that to stdout and stderr (either may be nil
// to discard the stream) when the call returns, also when it fails. It is
// CaptureOutput for all calls, Object methods included; a call under
// CaptureOutput still writes to the writers of its context. Each call's
// output reaches a writer in one piece: concurrent calls never interleave
// inside a call's text, but whole pieces may arrive in the order the calls
// finished; the writers may be called from several goroutines at once, so
// make them safe for that. Their errors are ignored, as WithStdout's are.
// Output of threads the Python code starts goes to the process's streams
// (or WithStdout/WithStderr). It is a per-Runtime setting.
func WithCaptureOutput(stdout, stderr io.Writer) Option {
	return func(o *options) { o.captured = &outputWriters{stdout, stderr} }
}

// WithLibrary sets the path of the libpyrt shared library (purego mode).
// Without it, $PYRT_LIBRARY and then the documented search are used.
// Ignored when built with the pyrt_cgo tag (libpyrt is linked).
func WithLibrary(path string) Option { return func(o *options) { o.library = path } }

// WithLibpython sets the libpython shared library to load, e.g.
// "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0". Empty means discover:
// $PYRT_LIBPYTHON, then python3 on PATH, then common locations.
func WithLibpython(path string) Option { return func(o *options) { o.libpython = path } }

// WithPythonExecutable sets sys.executable (an interpreter of the same
// version as the libpython). Without it, sys.executable is the venv's
// bin/python (WithVenv) or the real interpreter that goes with the libpython,
// never the Go program. To run in a virtualenv use WithVenv.
func WithPythonExecutable(path string) Option {
	return func(o *options) { o.pythonExecutable = path }
}

// WithVenv runs the interpreter in the virtualenv at dir (the directory
// holding pyvenv.cfg): sys.prefix, sys.executable (dir/bin/python) and
// site-packages become the venv's, and its include-system-site-packages
// setting is honoured. Without WithLibpython, the venv's own Python is
// loaded (its interpreter is asked for its libpython, and $PYRT_LIBPYTHON is
// not consulted); a libpython of another version than the venv's is an
// error matching ErrConfig. A relative dir is made absolute.
func WithVenv(dir string) Option { return func(o *options) { o.venv = dir } }

// WithRequirements makes the WithVenv directory a managed venv: New creates
// it with the Python it loads and installs the requirements (pip's syntax,
// "jinja2>=3") before Python starts — with uv when it is on PATH, else with
// the venv's pip — and again only when they change (a hash recorded in the
// venv; a start with nothing changed costs a file read). The venv is built
// beside its directory and moved into place when complete, so a failed
// install (an error matching ErrVenv, naming what failed with pip's message)
// leaves the previous venv as it was. Processes starting together take turns.
// Repeated options accumulate. Progress goes to stderr, or to
// WithInstallProgress.
func WithRequirements(specs ...string) Option {
	return func(o *options) { o.requirements = append(o.requirements, specs...) }
}

// WithRequirementsFile adds a requirements file (pip's -r syntax) to the
// managed venv's requirements (see WithRequirements).
func WithRequirementsFile(path string) Option {
	return func(o *options) { o.requirementsFile = path }
}

// WithInstallProgress receives the managed venv's progress lines (what pyrt
// does and the installer's output) instead of stderr, on the goroutine that
// called New. For example, to log them:
//
//	pyrt.WithInstallProgress(func(line string) { slog.Info("python venv", "line", line) })
func WithInstallProgress(f func(line string)) Option {
	return func(o *options) { o.installProgress = f }
}

// WithSystemSitePackages makes the base installation's site-packages visible
// (true) or not (false), overriding the venv's include-system-site-packages.
// Without a venv, false removes them from sys.path.
func WithSystemSitePackages(on bool) Option { return func(o *options) { o.systemSite = &on } }

// WithSitePaths adds directories to sys.path with site.addsitedir at
// start-up (their .pth files are processed), after the venv's
// site-packages. Repeated options accumulate; relative paths are made
// absolute.
func WithSitePaths(dirs ...string) Option {
	return func(o *options) { o.sitePaths = append(o.sitePaths, dirs...) }
}

// WithPythonHome sets PYTHONHOME: the prefix of the base Python installation
// (where lib/python3.X lives). It is rarely needed and must never be a
// virtualenv (use WithVenv for that).
func WithPythonHome(dir string) Option { return func(o *options) { o.pythonHome = dir } }

// WithPythonVersion constrains libpython discovery to one Python version,
// e.g. "3.12": python3.12 on PATH, then python3, then common locations are
// searched for that version. Any version from 3.8 on is accepted. "3.13"
// matches either build of 3.13 (a free-threaded 3.13t library too); "3.13t"
// only a free-threaded one (python3.13t on PATH first), so the Version a
// Discovery reports can be passed back as it is. A loaded library or venv of
// another version or build is an error matching ErrConfig, and so is a
// version that is not "3.X" or "3.Xt" with X ≥ 8.
func WithPythonVersion(version string) Option { return func(o *options) { o.pythonVersion = version } }

// WithUseEnvironment makes Python honour PYTHON* environment variables
// (PYTHONPATH, PYTHONHOME, ...). Off by default.
func WithUseEnvironment(on bool) Option { return func(o *options) { o.useEnvironment = &on } }

// WithArgv sets sys.argv (default [""]).
func WithArgv(argv ...string) Option {
	return func(o *options) { o.argv = append([]string(nil), argv...); o.argvSet = true }
}

func buildOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// configJSON is the pyrt_new config object; empty when nothing is set.
func (o *options) configJSON() ([]byte, error) {
	m := map[string]any{}
	if o.mainThread {
		m["main_thread"] = true
	}
	if o.workers != 0 {
		m["workers"] = o.workers
	}
	if len(o.workerModules) > 0 {
		m["worker_modules"] = o.workerModules
	}
	if o.stats != nil {
		m["stats"] = *o.stats
	}
	if o.workerSetup != "" {
		m["worker_setup"] = o.workerSetup
	}
	if o.signals != "" {
		m["signals"] = o.signals
	}
	if o.sigpipe != "" {
		m["sigpipe"] = o.sigpipe
	}
	if o.libpython != "" {
		m["libpython"] = o.libpython
	}
	if o.pythonExecutable != "" {
		m["python_executable"] = o.pythonExecutable
	}
	if o.useEnvironment != nil {
		m["use_environment"] = *o.useEnvironment
	}
	if o.argvSet {
		m["argv"] = o.argv
	}
	if o.venv != "" {
		dir, err := filepath.Abs(o.venv)
		if err != nil {
			return nil, newError(CodeConfig, "venv %q: %v", o.venv, err)
		}
		m["venv"] = dir
	}
	if len(o.requirements) > 0 {
		m["requirements"] = o.requirements
	}
	if o.requirementsFile != "" {
		abs, err := filepath.Abs(o.requirementsFile)
		if err != nil {
			return nil, newError(CodeConfig, "requirements file %q: %v", o.requirementsFile, err)
		}
		m["requirements_file"] = abs
	}
	if o.systemSite != nil {
		m["system_site_packages"] = *o.systemSite
	}
	if len(o.sitePaths) > 0 {
		paths := make([]string, len(o.sitePaths))
		for i, p := range o.sitePaths {
			abs, err := filepath.Abs(p)
			if err != nil {
				return nil, newError(CodeConfig, "site path %q: %v", p, err)
			}
			paths[i] = abs
		}
		m["site_paths"] = paths
	}
	if o.pythonHome != "" {
		m["python_home"] = o.pythonHome
	}
	if o.pythonVersion != "" {
		m["python_version"] = o.pythonVersion
	}
	if ms := o.timeoutMs(); ms > 0 {
		m["timeout_ms"] = ms
	}
	if o.captured != nil {
		m["capture_output"] = true
	}
	if len(m) == 0 {
		return nil, nil
	}
	b, err := Marshal(m)
	if err != nil {
		return nil, newError(CodeConfig, "%v", err)
	}
	return b, nil
}

// timeoutMs is WithCallTimeout's duration in whole milliseconds, rounded up
// (so that a short timeout never becomes "no limit"); 0 for none.
func (o *options) timeoutMs() int64 {
	if o.timeout <= 0 {
		return 0
	}
	return int64((o.timeout + time.Millisecond - 1) / time.Millisecond)
}

// Mode reports the foreign-call layer compiled in: "purego" (default) or
// "cgo" (build tag pyrt_cgo).
func Mode() string { return ffiMode }

// LoadLibrary loads libpyrt (if not yet loaded) and returns its version,
// without starting Python. Only WithLibrary matters among opts.
func LoadLibrary(opts ...Option) (string, error) {
	l, err := loadLibrary(buildOptions(opts).library)
	if err != nil {
		return "", err
	}
	return l.version(), nil
}

// New loads libpyrt and returns a handle to the embedded interpreter,
// starting it on first use. The options of the first New decide how Python
// starts; a later New whose options contradict them (another libpython,
// other argv, ...) fails with ErrLibpythonConflict, and one without options
// simply returns another handle. Errors (never panics): ErrLibraryNotFound,
// ErrLibraryVersion, ErrLibpythonNotFound, ErrLibpythonInvalid,
// ErrLibpythonConflict, ErrConfig, ErrInit, ErrFinalized.
func New(opts ...Option) (*Runtime, error) {
	o := buildOptions(opts)
	l, err := loadLibrary(o.library)
	if err != nil {
		return nil, err
	}
	cfg, err := o.configJSON()
	if err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	cfgOff := -1
	if cfg != nil {
		f.buf = append(append(f.buf[:0], cfg...), 0)
		cfgOff = 0
	}
	if o.installProgress != nil && (len(o.requirements) > 0 || o.requirementsFile != "") {
		if err := ensureVenv(l, f.cstr(cfgOff), o.installProgress); err != nil {
			return nil, err
		}
	}
	if st := l.pyrt_new(f.cstr(cfgOff), f.outArg(), f.errArg()); st != 0 {
		return nil, l.takeError(st, f.errp())
	}
	r := &Runtime{lib: l, handle: f.out(), mainThread: o.mainThread, extra: &extraHandles{},
		timeoutMs: o.timeoutMs(), captured: o.captured}
	r.cleanup = runtime.AddCleanup(r, runtimeCleanup, cleanupArg{l, r.handle, r.extra})
	if info, err := r.Info(context.Background()); err == nil {
		switch {
		case info.Mode == "subinterpreters" && info.Workers > 0:
			r.gate = &admission{width: int32(info.Workers)}
		case info.Mode == "main_thread":
			r.gate = &mainThreadGate
		case !info.FreeThreaded:
			r.gate = &gilGate
		}
	}
	if o.outputSet {
		if err := r.installOutput(o.stdout, o.stderr); err != nil {
			r.Close()
			return nil, err
		}
	}
	if o.logger != nil {
		if err := r.installLogger(o.logger); err != nil {
			r.Close()
			return nil, err
		}
	}
	// Set last: the set-up calls above are pyrt's, not the caller's.
	r.observer = o.observer
	return r, nil
}

type cleanupArg struct {
	lib    *ffiLib
	handle uintptr
	extra  *extraHandles
}

// runtimeCleanup is the safety net for a Runtime dropped without Close.
func runtimeCleanup(a cleanupArg) {
	a.extra.closeAll(a.lib)
	a.lib.pyrt_free(a.handle)
}

// Close releases the handle. It is idempotent and safe to call from any
// goroutine, also while other goroutines use the Runtime (their calls then
// fail with ErrClosed). Closing the last open Runtime finalizes Python
// (running atexit handlers and joining non-daemon threads). It always
// returns nil; the error result is for io.Closer.
func (r *Runtime) Close() error {
	if r == nil || !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	r.cleanup.Stop()
	r.extra.closeAll(r.lib)
	r.lib.pyrt_free(r.handle)
	runtime.KeepAlive(r)
	return nil
}

var errClosed = &Error{Code: CodeClosed, Message: "runtime closed"}

// enter checks the context and the handle before any foreign call.
func (r *Runtime) enter(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if r == nil || r.closed.Load() {
		return errClosed
	}
	return nil
}

// takeError turns a failed status and its pyrt_error into a Go error and
// frees the pyrt_error.
func (l *ffiLib) takeError(status int32, errp uintptr) error {
	code := Code(status)
	if errp == 0 {
		return &Error{Code: code, Message: l.statusName(status)}
	}
	keep := false
	defer func() {
		if !keep {
			l.pyrt_error_free(errp)
		}
	}()
	if c := Code(l.pyrt_error_code(errp)); c != 0 {
		code = c
	}
	msg := goString(ptrOf(l.pyrt_error_message(errp)))
	typ := l.pyrt_error_python_type(errp)
	if code != CodeInterrupted && code != CodeTimeout &&
		(typ != 0 || code == CodePython || code == CodeSystemExit || code == CodeKeyboardInterrupt) {
		pe := &PythonError{Code: code, Type: goString(ptrOf(typ)), Message: msg,
			Traceback: goString(ptrOf(l.pyrt_error_traceback(errp)))}
		raw := &rawError{p: errp}
		runtime.AddCleanup(raw, l.pyrt_error_free, errp)
		pe.raw, keep = raw, true
		if pe.Type == "" {
			switch code {
			case CodeSystemExit:
				pe.Type = "SystemExit"
			case CodeKeyboardInterrupt:
				pe.Type = "KeyboardInterrupt"
			}
		}
		return pe
	}
	return &Error{Code: code, Message: msg}
}

// Run executes Python statements in __main__.
func (r *Runtime) Run(ctx context.Context, code string) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: "__main__", Function: "<run>"})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	if f.buf, err = appendCString(f.buf[:0], code, "code"); err != nil {
		return err
	}
	if err := r.invoke(ctx, f, func(h uintptr) int32 { return r.lib.pyrt_run_string(h, f.cstr(0), f.errArg()) }); err != nil {
		return err
	}
	return nil
}

// RunFile executes a Python source file in __main__. A missing file gives
// ErrFileNotFound; an unreadable one ErrPermissionDenied; a directory
// ErrNotAFile.
func (r *Runtime) RunFile(ctx context.Context, path string) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: "__main__", Function: "<run_file>"})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	if f.buf, err = appendCString(f.buf[:0], path, "path"); err != nil {
		return err
	}
	if err := r.invoke(ctx, f, func(h uintptr) int32 { return r.lib.pyrt_run_file(h, f.cstr(0), f.errArg()) }); err != nil {
		return err
	}
	return nil
}

// Eval evaluates a Python expression in __main__ and converts the result
// losslessly, as Object.Call does (the tagged encoding: a tuple is a Tuple,
// bytes are []byte, a set is a Set, a dict with non-string keys a Dict, ...;
// see the package documentation). Pass WithPlainJSON() for plain JSON
// decoding (a tuple as []any, bytes and sets an error), or WithHandles() to
// get values with no encoding as *Object.
func (r *Runtime) Eval(ctx context.Context, expr string, opts ...CallOption) (any, error) {
	var v any
	err := r.eval(ctx, expr, callFlags(opts), &v, nil)
	return v, err
}

// EvalInto evaluates a Python expression and decodes the result into out
// with encoding/json (so structs and json tags work), from plain JSON. out
// must be a non-nil pointer; a *any gets Eval's conversion (opts as for
// Eval).
func (r *Runtime) EvalInto(ctx context.Context, out any, expr string, opts ...CallOption) error {
	if err := checkOut(out); err != nil {
		return err
	}
	if p, ok := out.(*any); ok {
		return r.eval(ctx, expr, callFlags(opts), p, nil)
	}
	return r.eval(ctx, expr, callPlainJSON, nil, out)
}

// eval evaluates expr through pyrt_eval_value_buf and decodes the result:
// into *value (tagged unless flags has callPlainJSON) or, with value nil,
// into out with encoding/json (plain JSON).
func (r *Runtime) eval(ctx context.Context, expr string, flags uint32, value *any, out any) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: "__main__", Function: "<eval>"})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	if err := checkRuntimeFlags(flags); err != nil {
		return err
	}
	if f.buf, err = appendCString(f.buf[:0], expr, "expression"); err != nil {
		return err
	}
	cflags := wireFlags(flags)
	if f.rbuf == nil {
		f.newResultBuffer(r.lib)
	}
	rb := &f.rbuf[0]
	if err := r.invoke(ctx, f, func(h uintptr) int32 {
		return r.lib.pyrt_eval_value_buf(h, f.cstr(0), cflags, rb, f.errArg())
	}); err != nil {
		return err
	}
	return r.decodeResult(f.result(), flags, value, out)
}

// takeResult decodes the C result string in place and frees it.
func (r *Runtime) takeResult(f *frame, decode func([]byte) error) error {
	return r.lib.takeResult(f, decode)
}

func (l *ffiLib) takeResult(f *frame, decode func([]byte) error) error {
	out := f.out()
	if out == 0 {
		return &Error{Code: CodeInternal, Message: "libpyrt returned success without a result"}
	}
	err := decode(cBytes(ptrOf(out)))
	l.pyrt_string_free(out)
	return err
}

// Call imports module and calls module.function(*args). Arguments are
// converted to Python through JSON, as they always were (see the package
// documentation); the result is converted losslessly, exactly as
// Object.Call converts it: a tuple comes back as a Tuple, bytes as []byte, a
// set as a Set, a dict with non-string keys as a Dict, a datetime as a
// time.Time, an int of any size as int64 or *big.Int (see docs/values.md).
// Example: rt.Call(ctx, "math", "sqrt", 16.0) returns float64(4).
//
// CallOptions among args are not sent to Python: WithPlainJSON() decodes
// the result as plain JSON instead (a tuple as []any; bytes, sets and
// non-string keys are errors matching ErrConversion), WithHandles() returns
// values with no encoding as *Object.
func (r *Runtime) Call(ctx context.Context, module, function string, args ...any) (any, error) {
	var v any
	err := r.call(ctx, module, function, args, nil, false, &v, nil)
	return v, err
}

// CallKw calls module.function(*args, **kwargs), converting as Call does.
func (r *Runtime) CallKw(ctx context.Context, module, function string, args []any, kwargs map[string]any) (any, error) {
	var v any
	err := r.call(ctx, module, function, args, kwargs, kwargs != nil, &v, nil)
	return v, err
}

// CallInto calls module.function(*args) and decodes the result into out
// with encoding/json (structs, json tags, typed slices and maps), from
// plain JSON (a tuple fills a slice). out must be a non-nil pointer; a *any
// gets the same conversion as Call (and CallOptions among args apply). A
// result that does not fit out is an error matching ErrConversion.
func (r *Runtime) CallInto(ctx context.Context, out any, module, function string, args ...any) error {
	if err := checkOut(out); err != nil {
		return err
	}
	if p, ok := out.(*any); ok {
		return r.call(ctx, module, function, args, nil, false, p, nil)
	}
	return r.call(ctx, module, function, args, nil, false, nil, out)
}

// CallKwInto is CallInto with keyword arguments.
func (r *Runtime) CallKwInto(ctx context.Context, out any, module, function string, args []any, kwargs map[string]any) error {
	if err := checkOut(out); err != nil {
		return err
	}
	if p, ok := out.(*any); ok {
		return r.call(ctx, module, function, args, kwargs, kwargs != nil, p, nil)
	}
	return r.call(ctx, module, function, args, kwargs, kwargs != nil, nil, out)
}

// CallJSON is the raw form: argsJSON must be a JSON array, kwargsJSON a JSON
// object or "" for none; the result is the plain JSON text of the return
// value.
func (r *Runtime) CallJSON(ctx context.Context, module, function, argsJSON, kwargsJSON string) (string, error) {
	var res string
	err := r.callRaw(ctx, module, function, argsJSON, kwargsJSON, func(data []byte) error {
		res = string(data)
		return nil
	})
	return res, err
}

// CallT calls module.function(*args) and decodes the result into a T, as
// CallInto does:
//
//	n, err := pyrt.CallT[int](ctx, rt, "builtins", "len", "hello")
func CallT[T any](ctx context.Context, r *Runtime, module, function string, args ...any) (T, error) {
	var out T
	err := r.CallInto(ctx, &out, module, function, args...)
	return out, err
}

func checkOut(out any) error {
	if out == nil {
		return newError(CodeInvalidArgument, "out must be a non-nil pointer, got nil")
	}
	return nil
}

// decodeInto decodes a plain JSON result into out. *any uses pyrt's plain
// conversion (Unmarshal); other targets use encoding/json on a Go copy of
// the data.
func decodeInto(data []byte, out any) error {
	if p, ok := out.(*any); ok {
		v, err := Unmarshal(data)
		if err != nil {
			return err
		}
		*p = v
		return nil
	}
	buf := append([]byte(nil), data...)
	if err := json.Unmarshal(buf, out); err != nil {
		return fmt.Errorf("%w: decoding result %.200s into %T: %w", ErrConversion, buf, out, err)
	}
	return nil
}

// decodeResult decodes the result text of a runtime-level call: into *value
// (tagged, or plain with callPlainJSON in flags) or, with value nil, into
// out with encoding/json.
func (r *Runtime) decodeResult(data []byte, flags uint32, value *any, out any) error {
	if value == nil {
		return decodeInto(data, out)
	}
	var err error
	if flags&callPlainJSON != 0 || !hasTag(data) {
		// (Also every scalar result: hasTag looks at the first byte first.)
		*value, err = Unmarshal(data)
	} else {
		*value, err = r.decodeTagged(data)
	}
	return err
}

// hasTag reports whether JSON text from libpyrt may hold a tag. libpyrt
// writes the key "__pyrt__" only in a tag (a dict with that key takes the
// general form), and never escapes its characters; without it the tagged
// and the plain decoding give the same values, and the plain one is
// cheaper. Most results (scalars, lists, dicts with str keys) have no tag,
// and most have no object at all: that is one IndexByte.
func hasTag(data []byte) bool {
	if len(data) == 0 || data[0] != '{' && data[0] != '[' {
		return false // a scalar
	}
	return bytes.IndexByte(data, '{') >= 0 && bytes.Contains(data, tagKeyJSON)
}

var tagKeyJSON = []byte(`"__pyrt__"`)

// appendTarget appends "module:function" and a NUL to b, refusing an empty
// name, a ':' in the module, and NUL bytes (names are short: one pass each).
func appendTarget(b []byte, module, function string) ([]byte, error) {
	if module == "" || function == "" {
		return b, newError(CodeInvalidArgument, "module %q and function %q: both must be non-empty", module, function)
	}
	for i := 0; i < len(module); i++ {
		if c := module[i]; c == ':' || c == 0 {
			return b, newError(CodeInvalidArgument, "module name %q contains a ':' or a NUL byte", module)
		}
	}
	if strings.IndexByte(function, 0) >= 0 {
		return b, newError(CodeInvalidArgument, "function name contains a NUL byte")
	}
	b = append(b, module...)
	b = append(b, ':')
	b = append(b, function...)
	return append(b, 0), nil
}

// call makes a runtime-level call. The arguments are encoded as plain JSON
// (CallOptions among args are taken out); the result is decoded into *value
// (tagged through pyrt_call_value_buf, or plain with WithPlainJSON through
// pyrt_call_json_buf) or, with value nil, into out from plain JSON.
func (r *Runtime) call(ctx context.Context, module, function string, args []any, kwargs map[string]any,
	hasKw bool, value *any, out any) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: module, Function: function})
		defer func() { end(err) }()
	}
	flags, nopts, scalars := argOptions(args)
	if flags != 0 {
		if err := checkRuntimeFlags(flags); err != nil {
			return err
		}
	}
	if value == nil {
		if flags&valueHandles != 0 {
			return newError(CodeInvalidArgument, "pyrt.WithHandles() needs a result of type any (Call, CallKw, CallInto with a *any)")
		}
		flags |= callPlainJSON
	}
	f := getFrame()
	defer putFrame(f)
	b := f.buf[:0]
	fnOff := -1
	if flags&callPlainJSON != 0 {
		if b, err = appendCString(b, module, "module name"); err != nil {
			return err
		}
		fnOff = len(b)
		if b, err = appendCString(b, function, "function name"); err != nil {
			return err
		}
	} else {
		if b, err = appendTarget(b, module, function); err != nil {
			return err
		}
	}
	argsOff := len(b)
	if b, err = appendCallArgs(b, args, nopts); err != nil {
		f.buf = b
		return err
	}
	kwOff := -1
	if hasKw {
		b = append(b, 0)
		kwOff = len(b)
		if b, err = appendKwargs(b, kwargs); err != nil {
			f.buf = b
			return err
		}
	}
	b = append(b, 0)
	f.buf = b
	if flags&callPlainJSON != 0 {
		return r.callJSONInvoke(ctx, f, fnOff, argsOff, kwOff, func(data []byte) error {
			return r.decodeResult(data, flags, value, out)
		})
	}
	if !scalars || hasKw {
		if kwOff, err = f.retag(argsOff, kwOff); err != nil {
			return err
		}
	}
	cflags := wireFlags(flags)
	if f.rbuf == nil {
		f.newResultBuffer(r.lib)
	}
	rb := &f.rbuf[0]
	if err := r.invoke(ctx, f, func(h uintptr) int32 {
		return r.lib.pyrt_call_value_buf(h, f.cstr(0), f.cstr(argsOff), f.cstr(kwOff), cflags, rb, f.errArg())
	}); err != nil {
		return err
	}
	return r.decodeResult(f.result(), flags, value, out)
}

func (r *Runtime) callRaw(ctx context.Context, module, function, argsJSON, kwargsJSON string, decode func([]byte) error) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: module, Function: function})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	b, err := appendCString(f.buf[:0], module, "module name")
	if err != nil {
		return err
	}
	fnOff := len(b)
	if b, err = appendCString(b, function, "function name"); err != nil {
		return err
	}
	argsOff := len(b)
	if b, err = appendCString(b, argsJSON, "args JSON"); err != nil {
		return err
	}
	kwOff := -1
	if kwargsJSON != "" {
		kwOff = len(b)
		if b, err = appendCString(b, kwargsJSON, "kwargs JSON"); err != nil {
			return err
		}
	}
	f.buf = b
	return r.callJSONInvoke(ctx, f, fnOff, argsOff, kwOff, decode)
}

// callJSONInvoke makes the JSON call whose strings are in f (the module at
// f.buf[0:], the others at the given offsets; kwOff < 0: none) through
// pyrt_call_json_buf, one foreign call with the result in the frame's
// reusable buffer, and decodes its result.
func (r *Runtime) callJSONInvoke(ctx context.Context, f *frame, fnOff, argsOff, kwOff int, decode func([]byte) error) error {
	if f.rbuf == nil {
		f.newResultBuffer(r.lib)
	}
	out := &f.rbuf[0]
	if err := r.invoke(ctx, f, func(h uintptr) int32 {
		return r.lib.pyrt_call_json_buf(h, f.cstr(0), f.cstr(fnOff), f.cstr(argsOff), f.cstr(kwOff), out, f.errArg())
	}); err != nil {
		return err
	}
	return decode(f.result())
}

// Info describes the running interpreter.
type Info struct {
	PyrtVersion   string `json:"pyrt_version"`
	PythonVersion string `json:"python_version"`
	Libpython     string `json:"libpython"`
	Executable    string `json:"executable"`
	Prefix        string `json:"prefix"`
	// Mode is where this Runtime's calls run: "caller_thread",
	// "main_thread" (WithMainThread) or "subinterpreters" (WithWorkers on
	// Python 3.12+).
	Mode string `json:"mode"`
	// Workers is the number of worker sub-interpreters running;
	// WorkersRequested what WithWorkers asked for; WorkersNote why they run
	// in the main interpreter instead ("" when they do not).
	Workers          int    `json:"workers"`
	WorkersRequested int    `json:"workers_requested"`
	WorkersNote      string `json:"workers_note"`
	// FreeThreaded reports a free-threaded build of CPython (3.13t and
	// later, built with --disable-gil): there is no GIL, so calls from
	// several goroutines run Python code in parallel, without WithWorkers.
	FreeThreaded bool `json:"free_threaded"`
	// Tested is false for a Python newer than any version pyrt was tested
	// with (tested: 3.8–3.14 and the free-threaded 3.13t). Such a version is
	// accepted because its libpython exports everything pyrt needs;
	// TestedNote then says so ("" when Tested).
	Tested     bool   `json:"tested"`
	TestedNote string `json:"tested_note"`
	// Binding is "purego" or "cgo": the foreign-call layer compiled in.
	Binding string `json:"-"`
	// Library is where libpyrt was loaded from (purego) or "linked (cgo)";
	// for the copy embedded in this module it says so, e.g. "libpyrt 0.1.0
	// embedded for linux/amd64 (sha256 …), loaded from memory".
	Library string `json:"-"`
	// SourceHash is libpyrt's pyrt_source_hash(): the SHA-256 of the
	// sources it was built from.
	SourceHash string `json:"-"`
}

// Info reports the versions and paths of pyrt and the Python it runs.
func (r *Runtime) Info(ctx context.Context) (Info, error) {
	var info Info
	decoded := false
	err := r.infoJSON(ctx, func(data []byte) error {
		decoded = true
		// A libpyrt older than these fields does not report them: it refuses
		// the versions it was not tested with, so what it runs is tested.
		info.Tested = true
		return decodeInto(data, &info)
	})
	if !decoded {
		return info, err
	}
	info.Binding = ffiMode
	info.Library = r.lib.location()
	info.SourceHash = r.lib.sourceHash()
	return info, err
}

// infoJSON hands the text of pyrt_info_json to decode.
func (r *Runtime) infoJSON(ctx context.Context, decode func([]byte) error) error {
	if err := r.enter(ctx); err != nil {
		return err
	}
	f := getFrame()
	defer putFrame(f)
	st := r.lib.pyrt_info_json(r.handle, f.outArg(), f.errArg())
	runtime.KeepAlive(r)
	if st != 0 {
		return r.lib.takeError(st, f.errp())
	}
	return r.takeResult(f, decode)
}
