package pyrt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyrt-dev/pyrt/bindings/go/internal/ffigen"
)

// TestGeneratedFFI regenerates both flavours of the foreign-call layer from
// the declaration list (ffi.go) and include/pyrt.h, and fails when the
// committed files differ: run `go generate` in bindings/go.
func TestGeneratedFFI(t *testing.T) {
	root := repoRoot()
	if root == "" {
		t.Skip("not inside a pyrt checkout (include/pyrt.h is needed)")
	}
	decl, err := os.ReadFile("ffi.go")
	if err != nil {
		t.Fatal(err)
	}
	header, err := os.ReadFile(filepath.Join(root, "include", "pyrt.h"))
	if err != nil {
		t.Fatal(err)
	}
	purego, cgo, err := ffigen.Generate(decl, header)
	if err != nil {
		t.Fatalf("ffigen: %v", err)
	}
	for name, want := range map[string][]byte{"ffi_gen_purego.go": purego, "ffi_gen_cgo.go": cgo} {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `go generate` in bindings/go (it is generated from ffi.go and include/pyrt.h)", name)
		}
	}
}

// TestFFIGenRefuses: a declaration that does not fit its C prototype stops
// the generator, naming the function.
func TestFFIGenRefuses(t *testing.T) {
	header := []byte("typedef struct pyrt_runtime pyrt_runtime;\n" +
		"int32_t pyrt_run_string(pyrt_runtime *rt, const char *code, pyrt_error **err_out);\n" +
		"uint32_t pyrt_buffer_elem_type(const pyrt_buffer *buf);\n")
	for decl, want := range map[string]string{
		"pyrt_run_string(rt uintptr, code *byte) int32":                   "declares 2 parameters, pyrt.h 3",
		"pyrt_run_string(rt int32, code *byte, errOut *uintptr) int32":    "Go type int32 cannot stand for C type pyrt_runtime *",
		"pyrt_run_string(rt uintptr, code int64, errOut *uintptr) int32":  "Go type int64 cannot stand for C type const char *",
		"pyrt_run_string(rt uintptr, code *byte, errOut *byte) int32":     "Go type *byte cannot stand for C type pyrt_error **",
		"pyrt_run_string(rt uintptr, code *byte, errOut *uintptr) uint32": "Go result \"uint32\" cannot stand for C result int32_t",
		"pyrt_buffer_elem_type(buf uintptr) int32":                        "Go result \"int32\" cannot stand for C result uint32_t",
		"pyrt_missing(x uintptr)":                                         "pyrt_missing is declared in ffi.go but has no prototype",
	} {
		src := "package pyrt\n\ntype cAPI interface {\n\t" + decl + "\n}\n"
		_, _, err := ffigen.Generate([]byte(src), header)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", decl, err, want)
		}
	}
}

// growStack uses about n KB of goroutine stack.
//
//go:noinline
func growStack(n int) int {
	var pad [1024]byte
	pad[n%len(pad)] = byte(n)
	if n <= 0 {
		return int(pad[0])
	}
	return growStack(n-1) + int(pad[n%len(pad)])
}

// TestCallbackMovesStack: a host function runs on the goroutine whose
// foreign call Python made it from, and may grow (so move) that goroutine's
// stack. The call's result must still arrive: here a failing status, which
// a result written to where the stack used to be would turn into a success.
func TestCallbackMovesStack(t *testing.T) {
	if err := testRT.Register("ffi_stack", "grow", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return growStack(256), nil // 256 KB: far beyond a new goroutine's stack
	}); err != nil {
		t.Fatal(err)
	}
	defer testRT.Unregister("ffi_stack", "grow")
	for range 20 {
		errc := make(chan error, 1)
		go func() { // a new goroutine: a small stack, which the callback must grow
			_, err := testRT.Eval(bg, "[__import__('ffi_stack').grow(), 1/0]")
			errc <- err
		}()
		var pe *PythonError
		if err := <-errc; !errors.As(err, &pe) || pe.Type != "ZeroDivisionError" {
			t.Fatalf("want the ZeroDivisionError raised after the callback, got %v", err)
		}
		obj, err := testRT.EvalObject(bg, "__import__('ffi_stack').grow")
		if err != nil {
			t.Fatal(err)
		}
		res := make(chan any, 1)
		go func() {
			v, err := obj.CallInt(bg) // the typed path, through another C entry point
			if err != nil {
				res <- err
				return
			}
			res <- v
		}()
		if v := <-res; v != int64(growStack(256)) {
			t.Fatalf("CallInt through a stack-moving callback = %v", v)
		}
		obj.Close()
	}
}
