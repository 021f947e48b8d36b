// Package gopython keeps the API of the gopython library (the purego
// CPython binding pyrt grew out of) on top of package pyrt, so programs
// written for it only change their import line:
//
//	import "github.com/pyrt-dev/pyrt/bindings/go/gopython"
//
//	py, err := gopython.NewPureGoPython("/usr/lib/x86_64-linux-gnu/libpython3.10.so")
//	if err != nil { log.Fatal(err) }
//	if err := py.Initialize(); err != nil { log.Fatal(err) }
//	defer py.Finalize()
//	result, err := py.CallFunction("math", "sqrt", 16.0) // float64(4)
//
// Differences from the original, all in the direction of safety:
//
//   - Any Python version 3.8 and later works, free-threaded builds included
//     (tested: 3.8–3.14 and 3.13t), not only 3.10. libpythonPath may be
//     "" to discover one. When $PYRT_LIBPYTHON is set it takes precedence
//     over libpythonPath, so a program that hard-codes a path can be pointed
//     at another Python without a code change.
//   - SystemExit (sys.exit) is returned as an error; it never exits the
//     process. Python exceptions come back as *pyrt.PythonError (type,
//     message, traceback), and the traceback is also written to
//     ErrorOutput (os.Stderr by default), as PyErr_Print did.
//   - Tuples convert to []interface{}; integers beyond 64 bits to *big.Int;
//     every Go type pyrt converts is accepted as an argument (see package
//     pyrt).
//   - As before, the interpreter honours PYTHON* environment variables
//     (PYTHONPATH, ...), like Py_Initialize.
//   - CPython cannot be restarted in a process: after Finalize, Initialize
//     fails with pyrt.ErrFinalized (the original crashed or misbehaved).
//   - InitializeWithVenv runs in the venv as venv/bin/python would
//     (sys.prefix, sys.executable, site-packages), and finds the venv's
//     libpython itself when none was given.
//   - multiprocessing works (with the "spawn" or "forkserver" start method;
//     never "fork" in a Go process) and so does subprocess.run with
//     sys.executable: sys.executable is a real Python interpreter of the
//     loaded version, never the Go program.
//
// All methods are safe for concurrent use by multiple goroutines.
package gopython

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

// ErrNotInitialized is returned by calls made before Initialize or after
// Finalize.
var ErrNotInitialized = errors.New("Python interpreter is not initialized")

// ErrAlreadyInitialized is returned by Initialize on an initialized instance.
var ErrAlreadyInitialized = errors.New("Python interpreter is already initialized")

// VirtualEnvConfig selects a virtual environment for InitializeWithVenv.
type VirtualEnvConfig struct {
	// VenvPath is the virtual environment directory (it holds pyvenv.cfg).
	// sys.prefix, sys.executable (VenvPath/bin/python) and site-packages
	// become the venv's. When NewPureGoPython was given no libpython (and
	// $PYRT_LIBPYTHON is unset), the venv's own Python is loaded.
	VenvPath string
	// SystemSite makes the base installation's site-packages visible too.
	// false keeps what the venv's pyvenv.cfg says
	// (include-system-site-packages, false for a default venv); use
	// pyrt.WithSystemSitePackages(false) to force them off.
	SystemSite bool
	// SitePaths are extra package directories, added with site.addsitedir
	// (their .pth files are processed) after the venv's site-packages.
	SitePaths []string
	// PythonHome is the base Python installation's prefix, used as
	// PYTHONHOME (rarely needed). It must not be a virtual environment: that
	// is an error (use VenvPath).
	PythonHome string
}

// PyRuntime is the interface the original library defined.
type PyRuntime interface {
	Initialize() error
	Finalize() error
	IsInitialized() bool
	RunString(code string) error
	RunFile(filename string) error
	CallFunction(module, function string, args ...interface{}) (interface{}, error)
}

var _ PyRuntime = (*PureGoPython)(nil)

// PureGoPython is a Python runtime instance.
type PureGoPython struct {
	libpython string

	mu sync.Mutex // serialises Initialize/Finalize
	rt atomic.Pointer[pyrt.Runtime]

	// ErrorOutput receives the traceback of a Python exception raised by
	// RunString, RunFile or CallFunction (nil: os.Stderr). Set it before use;
	// io.Discard silences it.
	ErrorOutput io.Writer
	outMu       sync.Mutex
}

// NewPureGoPython prepares a runtime for the libpython at libpythonPath
// ("" = discover; $PYRT_LIBPYTHON, when set, wins). It loads libpyrt and
// checks that the library exists, but does not start Python.
func NewPureGoPython(libpythonPath string) (*PureGoPython, error) {
	if env := os.Getenv("PYRT_LIBPYTHON"); env != "" {
		libpythonPath = env
	}
	if libpythonPath != "" {
		if _, err := os.Stat(libpythonPath); err != nil {
			return nil, fmt.Errorf("failed to load libpython from %s: %w (%w)", libpythonPath, pyrt.ErrLibpythonNotFound, err)
		}
	}
	if _, err := pyrt.LoadLibrary(); err != nil {
		return nil, err
	}
	return &PureGoPython{libpython: libpythonPath}, nil
}

// Initialize starts the Python interpreter.
func (py *PureGoPython) Initialize() error {
	return py.startWith(py.libpython, nil)
}

// InitializeWithVenv starts the Python interpreter inside a virtual
// environment: sys.executable and sys.prefix are the venv's, its
// site-packages is on sys.path (and the base installation's only with
// SystemSite or the venv's include-system-site-packages), and SitePaths are
// added. A venv made for another Python version than the libpython is an
// error matching pyrt.ErrConfig.
func (py *PureGoPython) InitializeWithVenv(config VirtualEnvConfig) error {
	var opts []pyrt.Option
	if config.VenvPath != "" {
		if _, err := os.Stat(filepath.Join(config.VenvPath, "pyvenv.cfg")); err != nil {
			return fmt.Errorf("not a virtual environment: %s: %w (%w)", config.VenvPath, pyrt.ErrConfig, err)
		}
		opts = append(opts, pyrt.WithVenv(config.VenvPath))
	}
	if config.SystemSite {
		opts = append(opts, pyrt.WithSystemSitePackages(true))
	}
	if len(config.SitePaths) > 0 {
		opts = append(opts, pyrt.WithSitePaths(config.SitePaths...))
	}
	if config.PythonHome != "" {
		if _, err := os.Stat(filepath.Join(config.PythonHome, "pyvenv.cfg")); err == nil {
			return fmt.Errorf("PythonHome %s is a virtual environment; set VenvPath instead: %w",
				config.PythonHome, pyrt.ErrConfig)
		}
		opts = append(opts, pyrt.WithPythonHome(config.PythonHome))
	}
	return py.startWith(py.libpython, opts)
}

func (py *PureGoPython) startWith(libpython string, opts []pyrt.Option) error {
	py.mu.Lock()
	defer py.mu.Unlock()
	if py.rt.Load() != nil {
		return ErrAlreadyInitialized
	}
	opts = append(opts, pyrt.WithUseEnvironment(true))
	if libpython != "" {
		opts = append(opts, pyrt.WithLibpython(libpython))
	}
	rt, err := pyrt.New(opts...)
	if err != nil {
		return fmt.Errorf("Python interpreter initialization failed: %w", err)
	}
	py.rt.Store(rt)
	return nil
}

// Finalize shuts the runtime down. When it holds the process's last pyrt
// handle, Python is finalized (atexit handlers run) and cannot be started
// again in this process.
func (py *PureGoPython) Finalize() error {
	py.mu.Lock()
	defer py.mu.Unlock()
	rt := py.rt.Swap(nil)
	if rt == nil {
		return ErrNotInitialized
	}
	return rt.Close()
}

// IsInitialized reports whether Initialize succeeded and Finalize was not
// called since.
func (py *PureGoPython) IsInitialized() bool {
	return py.rt.Load() != nil
}

// Runtime returns the underlying *pyrt.Runtime (nil when not initialized),
// for using pyrt's richer API (contexts, kwargs, CallInto) alongside.
func (py *PureGoPython) Runtime() *pyrt.Runtime {
	return py.rt.Load()
}

// RunString executes Python code in __main__.
func (py *PureGoPython) RunString(code string) error {
	rt := py.rt.Load()
	if rt == nil {
		return ErrNotInitialized
	}
	if code == "" {
		return errors.New("code string cannot be empty")
	}
	return py.report(rt.Run(context.Background(), code))
}

// RunFile executes a Python file in __main__.
func (py *PureGoPython) RunFile(filename string) error {
	rt := py.rt.Load()
	if rt == nil {
		return ErrNotInitialized
	}
	if filename == "" {
		return errors.New("filename cannot be empty")
	}
	if _, err := os.Stat(filename); os.IsNotExist(err) {
		return fmt.Errorf("file does not exist: %s: %w", filename, pyrt.ErrFileNotFound)
	}
	abs, err := filepath.Abs(filename)
	if err != nil {
		return err
	}
	if err := rt.RunFile(context.Background(), abs); err != nil {
		return fmt.Errorf("error executing file %s: %w", filename, py.report(err))
	}
	return nil
}

// CallFunction imports module and calls module.function(args...), with
// conversion of arguments and result (see package pyrt for the table).
func (py *PureGoPython) CallFunction(module, function string, args ...interface{}) (interface{}, error) {
	rt := py.rt.Load()
	if rt == nil {
		return nil, ErrNotInitialized
	}
	// Plain JSON results, as the seed API always had (pyrt.Runtime.Call
	// itself now decodes tuples, bytes, sets, ... losslessly).
	callArgs := make([]any, len(args), len(args)+1)
	copy(callArgs, args)
	v, err := rt.Call(context.Background(), module, function, append(callArgs, pyrt.WithPlainJSON())...)
	if err != nil {
		return nil, fmt.Errorf("error calling function '%s.%s': %w", module, function, py.report(err))
	}
	return v, nil
}

// report writes a Python traceback to ErrorOutput, as PyErr_Print did.
func (py *PureGoPython) report(err error) error {
	var pe *pyrt.PythonError
	if err == nil || !errors.As(err, &pe) || errors.Is(err, pyrt.ErrSystemExit) {
		return err
	}
	w := py.ErrorOutput
	if w == nil {
		w = os.Stderr
	}
	text := pe.Traceback
	if text == "" {
		text = pe.Error() + "\n"
	}
	py.outMu.Lock()
	io.WriteString(w, text)
	py.outMu.Unlock()
	return err
}
