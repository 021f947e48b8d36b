package gopython

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

// One interpreter per process: the tests share py; Finalize and venv tests
// run in child processes.
var py *PureGoPython

const childEnv = "GOPYTHON_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	testdata, _ := filepath.Abs("testdata")
	os.Setenv("PYTHONPATH", testdata) // honoured, as by Py_Initialize
	var err error
	py, err = NewPureGoPython("")
	if err == nil {
		err = py.Initialize()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gopython tests need libpyrt (cargo build --release) and a libpython:", err)
		os.Exit(1)
	}
	code := m.Run()
	py.Finalize()
	os.Exit(code)
}

// TestTypeConversionExamples runs the seed README's "Type Conversion
// Examples" block, each statement unchanged in its own scope (the block
// redeclares result with := and so does not compile as one scope).
func TestTypeConversionExamples(t *testing.T) {
	check := func(result, want any) {
		t.Helper()
		if !reflect.DeepEqual(result, want) {
			t.Errorf("got %#v (%T), want %#v (%T)", result, result, want, want)
		}
	}
	{
		// Basic types
		result, _ := py.CallFunction("builtins", "len", "hello") // string → str
		check(result, int64(5))
	}
	{
		result, _ := py.CallFunction("builtins", "abs", -42) // int → int
		check(result, int64(42))
	}
	{
		result, _ := py.CallFunction("math", "sqrt", 16.0) // float64 → float
		check(result, 4.0)
	}
	{
		result, _ := py.CallFunction("builtins", "bool", true) // bool → bool
		check(result, true)
	}
	{
		// Complex types
		list := []interface{}{1, 2, 3}
		result, _ := py.CallFunction("builtins", "sum", list) // slice → list
		check(result, int64(6))
	}
	{
		data := map[string]interface{}{"key": "value"}
		result, _ := py.CallFunction("json", "dumps", data) // map → dict
		check(result, `{"key": "value"}`)
	}
}

// TestConcurrentUsageExample runs the seed README's concurrent example.
func TestConcurrentUsageExample(t *testing.T) {
	var out bytes.Buffer
	var outMu sync.Mutex
	printf := func(format string, a ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(&out, format, a...)
	}
	// The library is thread-safe - multiple goroutines can safely call Python
	var wg sync.WaitGroup

	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(workerID int) {
			defer wg.Done()

			// Safe concurrent access from multiple goroutines
			result, err := py.CallFunction("math", "sqrt", float64(workerID*workerID))
			if err != nil {
				printf("Worker %d error: %v\n", workerID, err)
				return
			}
			printf("Worker %d: sqrt(%d) = %v\n", workerID, workerID*workerID, result)
		}(i)
	}

	wg.Wait()
	for i := 0; i < 10; i++ {
		line := fmt.Sprintf("Worker %d: sqrt(%d) = %v\n", i, i*i, i)
		if !strings.Contains(out.String(), line) {
			t.Errorf("missing %q in\n%s", line, out.String())
		}
	}
}

func TestManyGoroutines(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				v, err := py.CallFunction("operator", "mul", g, i)
				if err != nil || v != int64(g*i) {
					t.Errorf("mul(%d,%d) = %v, %v", g, i, v, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestCallFunctionConversions(t *testing.T) {
	data := map[string]interface{}{"numbers": []interface{}{1, 2, 3, 4, 5}, "text": "Hello World"}
	result, err := py.CallFunction("mymodule", "process_data", data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{"count": int64(5), "sum": int64(15), "text": "HELLO WORLD"}
	if !reflect.DeepEqual(result, want) {
		t.Errorf("process_data = %#v", result)
	}
	v, err := py.CallFunction("builtins", "pow", 2, 70)
	if b, ok := v.(*big.Int); err != nil || !ok || b.String() != "1180591620717411303424" {
		t.Errorf("2**70 = %#v, %v", v, err)
	}
	v, err = py.CallFunction("builtins", "divmod", 7, 2)
	if err != nil || !reflect.DeepEqual(v, []interface{}{int64(3), int64(1)}) {
		t.Errorf("divmod = %#v, %v", v, err)
	}
}

func TestErrors(t *testing.T) {
	var tb bytes.Buffer
	py.ErrorOutput = &tb
	defer func() { py.ErrorOutput = nil }()

	_, err := py.CallFunction("builtins", "int", "x")
	var pe *pyrt.PythonError
	if !errors.As(err, &pe) || pe.Type != "ValueError" {
		t.Errorf("int('x'): %v", err)
	}
	if !strings.Contains(tb.String(), "ValueError") {
		t.Errorf("traceback not written: %q", tb.String())
	}
	if err := py.RunString("raise KeyError('k')"); !errors.Is(err, pyrt.ErrPython) {
		t.Errorf("RunString: %v", err)
	}
	if err := py.RunString("import sys; sys.exit(2)"); !errors.Is(err, pyrt.ErrSystemExit) {
		t.Errorf("sys.exit: %v", err)
	}
	if err := py.RunString(""); err == nil {
		t.Error("empty code accepted")
	}
	if err := py.RunFile("does-not-exist.py"); !errors.Is(err, pyrt.ErrFileNotFound) {
		t.Errorf("RunFile(missing): %v", err)
	}
	if err := py.Initialize(); !errors.Is(err, ErrAlreadyInitialized) {
		t.Errorf("second Initialize: %v", err)
	}
	if _, err := NewPureGoPython("/nonexistent/libpython3.10.so"); err == nil && os.Getenv("PYRT_LIBPYTHON") == "" {
		t.Error("NewPureGoPython with a missing library succeeded")
	}
	other := &PureGoPython{}
	if _, err := other.CallFunction("math", "sqrt", 1.0); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("CallFunction before Initialize: %v", err)
	}
	if err := other.Finalize(); !errors.Is(err, ErrNotInitialized) {
		t.Errorf("Finalize before Initialize: %v", err)
	}
	if other.IsInitialized() || !py.IsInitialized() {
		t.Error("IsInitialized")
	}
}

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "prog.py")
	os.WriteFile(f, []byte("ran_file = 'yes'\n"), 0o644)
	if err := py.RunFile(f); err != nil {
		t.Fatal(err)
	}
	v, err := py.Runtime().Eval(context.Background(), "ran_file")
	if err != nil || v != "yes" {
		t.Errorf("ran_file = %v, %v", v, err)
	}
}

// buildArgs selects the same foreign-call layer as this test binary.
func buildArgs() []string {
	if pyrt.Mode() == "cgo" {
		return []string{"-tags", "pyrt_cgo"}
	}
	return nil
}

// TestSeedReadmeProgram builds and runs the seed README's usage program
// (testdata/seedprog/main.go.txt: only the import lines changed; stored as
// .txt so gofmt and go vet leave its original formatting alone) as its own
// module that replaces this module with the working tree.
func TestSeedReadmeProgram(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	testdata, _ := filepath.Abs("testdata")
	moduleDir, _ := filepath.Abs("..")
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(testdata, "seedprog", "main.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, err := os.ReadFile(filepath.Join(moduleDir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	gomod := fmt.Sprintf(`module seedprog

go 1.25

require github.com/pyrt-dev/pyrt/bindings/go v0.0.0

require github.com/ebitengine/purego v0.11.3 // indirect

replace github.com/pyrt-dev/pyrt/bindings/go => %s
`, moduleDir)
	for name, data := range map[string][]byte{"main.go": src, "go.mod": []byte(gomod), "go.sum": gosum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := os.ReadFile(filepath.Join(testdata, "script.py"))
	os.WriteFile(filepath.Join(dir, "script.py"), script, 0o644)

	exe := filepath.Join(dir, "seedprog")
	build := exec.Command(goBin, append(append([]string{"build", "-mod=mod"}, buildArgs()...), "-o", exe, ".")...)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := exec.Command(exe)
	run.Dir = dir
	// The program hard-codes a libpython 3.10 path; $PYRT_LIBPYTHON (which
	// gopython lets win) points it at the Python these tests run on.
	info, err := py.Runtime().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	run.Env = append(os.Environ(), "PYTHONPATH="+testdata, "PYRT_LIBPYTHON="+info.Libpython)
	if pyrt.Mode() == "purego" && filepath.IsAbs(info.Library) {
		// The library these tests run on; from its temporary directory the
		// program would otherwise load the copy embedded in the module.
		run.Env = append(run.Env, "PYRT_LIBRARY="+info.Library)
	}
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("seed program: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		"Hello from Python!",
		"2 + 3 = 5",
		"Hello from script.py!",
		"math.sqrt(16.0) = 4\n",
		"Result: map[count:5 sum:15 text:HELLO WORLD]",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
		}
	}
	if stderr.Len() > 0 {
		t.Errorf("unexpected stderr:\n%s", stderr.String())
	}
}

func runChild(t *testing.T, name string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+name), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestChild") {
		t.Fatalf("child %q: %v\n%s", name, err, out)
	}
	return string(out)
}

func TestFinalize(t *testing.T) { runChild(t, "finalize") }

// TestInitializeWithVenv runs InitializeWithVenv in child processes, with
// SystemSite off and on. The venv is $PYRT_TEST_VENV (a real one with numpy
// and jinja2 and no pip, set by scripts/test-go.sh), else a bare temporary
// one made with the running Python.
func TestInitializeWithVenv(t *testing.T) {
	venv, real := os.Getenv("PYRT_TEST_VENV"), "1"
	if venv == "" {
		if os.Getenv("PYRT_TEST_REQUIRE_VENV") == "1" {
			t.Fatal("$PYRT_TEST_VENV is not set")
		}
		info, err := py.Runtime().Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		venv, real = filepath.Join(t.TempDir(), "venv"), "0"
		if out, err := exec.Command(info.Executable, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
			t.Skipf("cannot create a venv with %s: %v\n%s", info.Executable, err, out)
		}
	}
	venv, _ = filepath.Abs(venv)
	runChild(t, "venv", "GOPYTHON_TEST_VENV="+venv, "GOPYTHON_TEST_SYSTEM_SITE=0", "GOPYTHON_TEST_REAL_VENV="+real)
	runChild(t, "venv", "GOPYTHON_TEST_VENV="+venv, "GOPYTHON_TEST_SYSTEM_SITE=1", "GOPYTHON_TEST_REAL_VENV="+real)
}

// TestInitializeWithVenvErrors: mistakes are reported before Python starts.
func TestInitializeWithVenvErrors(t *testing.T) {
	notVenv := t.TempDir()
	p := &PureGoPython{}
	if err := p.InitializeWithVenv(VirtualEnvConfig{VenvPath: notVenv}); !errors.Is(err, pyrt.ErrConfig) {
		t.Errorf("VenvPath without pyvenv.cfg: %v, want pyrt.ErrConfig", err)
	}
	venv := t.TempDir()
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\nversion = 3.12.1\n"), 0o644)
	if err := p.InitializeWithVenv(VirtualEnvConfig{PythonHome: venv}); !errors.Is(err, pyrt.ErrConfig) ||
		!strings.Contains(err.Error(), "VenvPath") {
		t.Errorf("PythonHome pointing at a venv: %v, want pyrt.ErrConfig", err)
	}
	if p.IsInitialized() {
		t.Error("initialized after errors")
	}
}

func resolved(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

func TestChild(t *testing.T) {
	ctx := context.Background()
	switch os.Getenv(childEnv) {
	case "":
		t.Skip("only runs in a child process")
	case "finalize":
		p, err := NewPureGoPython("")
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Initialize(); err != nil {
			t.Fatal(err)
		}
		if err := p.RunString("import atexit; atexit.register(print, 'atexit at Finalize', flush=True)"); err != nil {
			t.Fatal(err)
		}
		if err := p.Finalize(); err != nil {
			t.Fatal(err)
		}
		if p.IsInitialized() {
			t.Fatal("still initialized")
		}
		if err := p.Finalize(); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("second Finalize: %v", err)
		}
		if _, err := p.CallFunction("math", "sqrt", 4.0); !errors.Is(err, ErrNotInitialized) {
			t.Fatalf("call after Finalize: %v", err)
		}
		if err := p.Initialize(); !errors.Is(err, pyrt.ErrFinalized) {
			t.Fatalf("Initialize after Finalize: %v, want pyrt.ErrFinalized", err)
		}
	case "venv":
		venv := os.Getenv("GOPYTHON_TEST_VENV")
		systemSite := os.Getenv("GOPYTHON_TEST_SYSTEM_SITE") == "1"
		realVenv := os.Getenv("GOPYTHON_TEST_REAL_VENV") == "1"
		extra, _ := filepath.Abs("testdata/site_extra")
		p, err := NewPureGoPython("")
		if err != nil {
			t.Fatal(err)
		}
		p.ErrorOutput = io.Discard
		err = p.InitializeWithVenv(VirtualEnvConfig{VenvPath: venv, SystemSite: systemSite, SitePaths: []string{extra}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Finalize()
		rt := p.Runtime()
		got, err := rt.Eval(ctx, "[__import__('sys').prefix, __import__('sys').executable, __import__('sys').argv]")
		if err != nil {
			t.Fatal(err)
		}
		paths := got.([]any)
		if resolved(paths[0].(string)) != resolved(venv) {
			t.Errorf("sys.prefix = %v, want %s", paths[0], venv)
		}
		if want := filepath.Join(venv, "bin", "python"); paths[1] != want {
			t.Errorf("sys.executable = %v, want %s", paths[1], want)
		}
		if !reflect.DeepEqual(paths[2], []any{""}) {
			t.Errorf("sys.argv = %#v, want [\"\"]", paths[2])
		}
		if err := p.RunString("import extra_mod\nassert extra_mod.VALUE == 'from site_extra'"); err != nil {
			t.Errorf("SitePaths not applied: %v", err)
		}
		base, err := rt.Eval(ctx, "any(not p.startswith(__import__('sys').prefix) and p.endswith('-packages') "+
			"for p in __import__('sys').path)")
		if err != nil {
			t.Fatal(err)
		}
		if base != systemSite {
			t.Errorf("base site-packages on sys.path = %v, want %v (SystemSite)", base, systemSite)
		}
		venvSite, _ := rt.Eval(ctx, "any(p.startswith(__import__('sys').prefix) and p.endswith('site-packages') for p in __import__('sys').path)")
		if venvSite != true {
			t.Errorf("venv site-packages not on sys.path")
		}
		// pip lives only in the base installation.
		err = p.RunString("import pip")
		if systemSite && err != nil {
			t.Errorf("import pip with SystemSite: %v", err)
		}
		var pe *pyrt.PythonError
		if !systemSite && (!errors.As(err, &pe) || pe.Type != "ModuleNotFoundError") {
			t.Errorf("import pip without SystemSite: %v, want ModuleNotFoundError", err)
		}
		if !realVenv {
			return
		}
		sums, err := p.CallFunction("pyrt_gopython_venv", "numpy_row_sums")
		if err != nil || !reflect.DeepEqual(sums, []interface{}{int64(10), int64(35)}) {
			t.Errorf("numpy from the venv: %v, %v", sums, err)
		}
		page, err := p.CallFunction("pyrt_gopython_venv", "render", "venv")
		if err != nil || page != "Hello venv!" {
			t.Errorf("jinja2 from the venv: %q, %v", page, err)
		}
		out, err := p.CallFunction("pyrt_gopython_venv", "run_executable")
		if err != nil || resolved(fmt.Sprint(out)) != resolved(venv) {
			t.Errorf("subprocess of sys.executable printed %q (%v), want the venv", out, err)
		}
	default:
		t.Fatalf("unknown child %q", os.Getenv(childEnv))
	}
}
