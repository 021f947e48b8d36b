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
//   - Any Python version 3.8–3.13 works, not only 3.10. libpythonPath may be
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
//
// All methods are safe for concurrent use by multiple goroutines.
package gopython

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	VenvPath   string   // virtual environment directory (contains pyvenv.cfg)
	SystemSite bool     // also put the base installation's site-packages on sys.path
	SitePaths  []string // extra package directories, added with site.addsitedir
	// PythonHome is the base Python installation. It is used only when
	// VenvPath is empty, to pick <PythonHome>/bin/python3.X as the
	// interpreter; it is never used as PYTHONHOME for a virtualenv (a venv
	// is found through its bin/python and pyvenv.cfg).
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
	return py.startWith(py.libpython, nil, "")
}

// InitializeWithVenv starts the Python interpreter inside a virtual
// environment: sys.executable and sys.prefix are the venv's, its
// site-packages is on sys.path, and then SystemSite and SitePaths are
// applied.
func (py *PureGoPython) InitializeWithVenv(config VirtualEnvConfig) error {
	var opts []pyrt.Option
	libpython := py.libpython
	switch {
	case config.VenvPath != "":
		venv, err := filepath.Abs(config.VenvPath)
		if err != nil {
			return err
		}
		cfg, err := readPyvenvCfg(venv)
		if err != nil {
			return fmt.Errorf("not a virtual environment: %s: %w", config.VenvPath, err)
		}
		exe := filepath.Join(venv, "bin", "python")
		if _, err := os.Stat(exe); err != nil {
			return fmt.Errorf("virtual environment %s has no bin/python: %w", config.VenvPath, err)
		}
		opts = append(opts, pyrt.WithPythonExecutable(exe))
		if libpython == "" {
			libpython = libpythonForVenv(cfg)
		}
	case config.PythonHome != "":
		if exe := pythonInHome(config.PythonHome); exe != "" {
			opts = append(opts, pyrt.WithPythonExecutable(exe))
		}
	}
	var setup []string
	setup = append(setup, "import site, sys")
	if config.SystemSite {
		setup = append(setup,
			"for _p in site.getsitepackages([sys.base_prefix]):",
			"    site.addsitedir(_p)")
	}
	for _, p := range config.SitePaths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		setup = append(setup, "site.addsitedir("+pyString(abs)+")")
	}
	return py.startWith(libpython, opts, strings.Join(setup, "\n"))
}

func (py *PureGoPython) startWith(libpython string, opts []pyrt.Option, setup string) error {
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
	if setup != "" {
		if err := rt.Run(context.Background(), setup); err != nil {
			rt.Close()
			return fmt.Errorf("configuring the virtual environment: %w", err)
		}
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
	v, err := rt.Call(context.Background(), module, function, args...)
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

// readPyvenvCfg parses <venv>/pyvenv.cfg ("key = value" lines).
func readPyvenvCfg(venv string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			cfg[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return cfg, sc.Err()
}

// libpythonForVenv finds the base installation's libpython from pyvenv.cfg
// ("home" is the base bin directory; "version"/"version_info" the version).
// "" lets pyrt discover one.
func libpythonForVenv(cfg map[string]string) string {
	home := cfg["home"]
	ver := cfg["version_info"]
	if ver == "" {
		ver = cfg["version"]
	}
	parts := strings.SplitN(ver, ".", 3)
	if home == "" || len(parts) < 2 {
		return ""
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return ""
	}
	name := "libpython" + parts[0] + "." + parts[1] + ".so"
	base := filepath.Dir(home)
	for _, dir := range []string{filepath.Join(base, "lib"), filepath.Join(base, "lib", "x86_64-linux-gnu"),
		filepath.Join(base, "lib64"), "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"} {
		for _, suffix := range []string{".1.0", ""} {
			p := filepath.Join(dir, name+suffix)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// pythonInHome returns <home>/bin/python3 (or python) if it exists.
func pythonInHome(home string) string {
	for _, n := range []string{"python3", "python"} {
		p := filepath.Join(home, "bin", n)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// pyString quotes s as a Python string literal.
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
