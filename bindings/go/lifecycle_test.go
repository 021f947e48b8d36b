package pyrt

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Closing the last Runtime finalizes Python for the rest of the process, so
// these tests run in a fresh copy of the test binary: runChild re-executes
// it with childEnv=name and -test.run selecting TestChild.

func runChild(t *testing.T, name string, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+name), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %q failed: %v\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestChild") {
		t.Fatalf("child %q did not run:\n%s", name, out)
	}
	return string(out)
}

func TestLifecycle(t *testing.T)        { runChild(t, "lifecycle") }
func TestCloseDuringCalls(t *testing.T) { runChild(t, "close-during-calls") }
func TestLibpythonMissing(t *testing.T) { runChild(t, "libpython-missing") }
func TestFinalizeRunsAtexit(t *testing.T) {
	out := runChild(t, "atexit")
	if !strings.Contains(out, "atexit ran") {
		t.Errorf("atexit handler output missing:\n%s", out)
	}
}

func TestLibraryNotFoundEnv(t *testing.T) {
	if ffiMode != "purego" {
		t.Skip("libpyrt is linked in cgo mode")
	}
	runChild(t, "library-env-missing", LibraryEnv+"=/nonexistent/dir/libpyrt.so")
}

func TestLibraryWrongVersion(t *testing.T) {
	if ffiMode != "purego" {
		t.Skip("libpyrt is linked in cgo mode")
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build a fake libpyrt")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	os.WriteFile(src, []byte(`const char *pyrt_version(void) { return "9.9.0"; }`+"\n"), 0o644)
	lib := filepath.Join(dir, "libpyrt.so")
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", lib, src).CombinedOutput(); err != nil {
		t.Skipf("cannot build fake libpyrt: %v\n%s", err, out)
	}
	runChild(t, "library-wrong-version", LibraryEnv+"="+lib)
}

// TestChild is the body of every child process; it does nothing in a
// normal run.
func TestChild(t *testing.T) {
	name := os.Getenv(childEnv)
	switch name {
	case "":
		t.Skip("only runs in a child process")
	case "managed-venv":
		childManagedVenv(t)
	case "slog":
		childSlog(t)
	case "lifecycle":
		rt, err := New()
		if err != nil {
			t.Fatal(err)
		}
		rt2, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := rt.Call(bg, "math", "sqrt", 16.0); err != nil || v != float64(4) {
			t.Fatalf("sqrt: %v %v", v, err)
		}
		rt2.Close() // not the last handle: Python keeps running
		if v, err := rt.Eval(bg, "6*7"); err != nil || v != int64(42) {
			t.Fatalf("after closing a second handle: %v %v", v, err)
		}
		if err := rt.Close(); err != nil {
			t.Fatal(err)
		}
		if err := rt.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := rt.Call(bg, "math", "sqrt", 16.0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Call after Close: %v", err)
		}
		_, err = New()
		if !errors.Is(err, ErrFinalized) {
			t.Fatalf("New after finalization: %v, want ErrFinalized", err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeFinalized {
			t.Fatalf("want *Error with CodeFinalized, got %#v", err)
		}
	case "close-during-calls":
		rt, err := New()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				<-start
				for i := 0; ; i++ {
					v, err := rt.Call(bg, "operator", "add", g, i)
					if err != nil {
						if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrFinalized) {
							t.Errorf("unexpected error while closing: %v", err)
						}
						return
					}
					if v != int64(g+i) {
						t.Errorf("add = %v", v)
						return
					}
				}
			}(g)
		}
		close(start)
		for i := 0; i < 200; i++ {
			if _, err := rt.Eval(bg, "1"); err != nil {
				t.Fatal(err)
			}
		}
		rt.Close() // the last handle: finalizes while calls are in flight
		wg.Wait()
	case "libpython-missing":
		_, err := New(WithLibpython("/nonexistent/lib/libpython3.12.so.1.0"))
		if !errors.Is(err, ErrLibpythonNotFound) {
			t.Fatalf("missing libpython: %v, want ErrLibpythonNotFound", err)
		}
		_, err = New(WithLibpython(os.Args[0]))
		if !errors.Is(err, ErrLibpythonInvalid) {
			t.Fatalf("not a libpython: %v, want ErrLibpythonInvalid", err)
		}
		// A failed attempt does not poison the process.
		rt, err := New(WithArgv("prog", "arg1"))
		if err != nil {
			t.Fatalf("New after failed attempts: %v", err)
		}
		if v, err := rt.Eval(bg, "__import__('sys').argv"); err != nil || !equalValue(v, []any{"prog", "arg1"}) {
			t.Fatalf("sys.argv = %v, %v", v, err)
		}
		rt.Close()
	case "atexit":
		rt, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.Run(bg, "import atexit, sys\natexit.register(lambda: print('atexit ran', flush=True))"); err != nil {
			t.Fatal(err)
		}
		rt.Close()
	case "library-env-missing":
		_, err := New()
		if !errors.Is(err, ErrLibraryNotFound) {
			t.Fatalf("New with a missing $PYRT_LIBRARY: %v", err)
		}
		if !strings.Contains(err.Error(), "/nonexistent/dir/libpyrt.so") {
			t.Errorf("error does not name the path: %v", err)
		}
		if _, err := LoadLibrary(); !errors.Is(err, ErrLibraryNotFound) {
			t.Fatalf("LoadLibrary: %v", err)
		}
	case "library-wrong-version":
		_, err := New()
		if !errors.Is(err, ErrLibraryVersion) || !strings.Contains(err.Error(), "9.9.0") {
			t.Fatalf("New with a wrong-version libpyrt: %v", err)
		}
	default:
		if f, ok := venvChildren[name]; ok {
			f(t)
			return
		}
		t.Fatalf("unknown child %q", name)
	}
}
