//go:build !pyrt_cgo

package pyrt

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestOpenLibraryMissingSymbol: a libpyrt of the right version that lacks a
// declared function is refused when it is opened, with an error naming the
// symbol (never loaded with the function missing or replaced).
func TestOpenLibraryMissingSymbol(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	// Everything of the declaration list except the last function.
	var src strings.Builder
	src.WriteString("const char *pyrt_version(void) { return \"" + BindingVersion + "\"; }\n")
	for _, name := range symNames[1 : len(symNames)-1] {
		src.WriteString("void " + name + "(void) {}\n")
	}
	c := filepath.Join(dir, "stub.c")
	so := filepath.Join(dir, "libstub.so")
	if err := os.WriteFile(c, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, c).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	libMu.Lock()
	l, err := openLibrary(so)
	libMu.Unlock()
	missing := symNames[len(symNames)-1]
	if err == nil || !errors.Is(err, ErrLibraryVersion) || !strings.Contains(err.Error(), "missing symbol "+missing) {
		t.Fatalf("openLibrary(stub without %s) = %v, %v", missing, l, err)
	}
	// The loader reports it with the path it tried.
	_, err = loadLibraryFresh(t, so)
	if err == nil || !errors.Is(err, ErrLibraryVersion) || !strings.Contains(err.Error(), so) ||
		!strings.Contains(err.Error(), "missing symbol "+missing) {
		t.Fatalf("loadLibrary(stub) = %v", err)
	}
}

// loadLibraryFresh runs loadLibrary(path) as if nothing were loaded yet,
// then restores the process's library.
func loadLibraryFresh(t *testing.T, path string) (*ffiLib, error) {
	t.Helper()
	libMu.Lock()
	saved := libPtr
	libPtr = nil
	libMu.Unlock()
	defer func() {
		libMu.Lock()
		libPtr = saved
		libMu.Unlock()
	}()
	return loadLibrary(path)
}

// TestCcallSyscallN: the purego.SyscallN chokepoint (ccall on other
// platforms) and ccall agree, for results of every width, 0 to 9 arguments,
// and an error path that writes through out pointers.
func TestCcallSyscallN(t *testing.T) {
	l := testRT.lib
	for code := int32(-1); code <= int32(CodeInternal)+1; code++ {
		want := ccall(true, l.fn[sym_pyrt_status_name], uintptr(code), 0, 0, 0, 0, 0, 0, 0, 0, 0)
		if got := ccallSyscallN(l.fn[sym_pyrt_status_name], uintptr(code), 0, 0, 0, 0, 0, 0, 0, 0, 0); got != want || want == 0 {
			t.Fatalf("pyrt_status_name(%d): SyscallN %#x, ccall %#x", code, got, want)
		}
	}
	if v := goString(ptrOf(ccallSyscallN(l.fn[sym_pyrt_version], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))); v != l.version() {
		t.Errorf("pyrt_version through SyscallN = %q, want %q", v, l.version())
	}
	// pyrt_call_json_buf with a NULL runtime: 7 arguments, a failing status
	// and an error written through the last one.
	f := getFrame()
	defer putFrame(f)
	f.buf = append(f.buf[:0], "math\x00sqrt\x00[16.0]\x00"...)
	rb := new(resultBuf)
	st := ccallSyscallN(l.fn[sym_pyrt_call_json_buf], 0, uintptr(unsafe.Pointer(f.cstr(0))), uintptr(unsafe.Pointer(f.cstr(5))),
		uintptr(unsafe.Pointer(f.cstr(10))), 0, uintptr(unsafe.Pointer(&rb[0])), uintptr(unsafe.Pointer(f.errArg())), 0, 0, 0)
	if int32(st) == 0 || f.errp() == 0 {
		t.Fatalf("pyrt_call_json_buf(NULL, ...) through SyscallN = %d, err %#x", int32(st), f.errp())
	}
	err := l.takeError(int32(st), f.errp())
	want := l.pyrt_call_json_buf(0, f.cstr(0), f.cstr(5), f.cstr(10), nil, &rb[0], f.errArg())
	if Code(int32(st)) != Code(want) || !errors.Is(err, Code(want).Sentinel()) {
		t.Errorf("SyscallN status %d (%v), ccall status %d", int32(st), err, want)
	}
	l.takeError(want, f.errp())

	// Nine arguments (four on the stack in the C calling convention): pyrt_call_async with a
	// NULL runtime fails and writes its error through the ninth.
	var task uint64
	*f.errArg() = 0
	st = ccall(false, l.fn[sym_pyrt_call_async], 0, uintptr(unsafe.Pointer(f.cstr(0))), 0, 0, 0, l.tramp.taskDone, 7,
		uintptr(unsafe.Pointer(&task)), uintptr(unsafe.Pointer(f.errArg())), 0)
	if Code(int32(st)) != CodeInvalidArgument || f.errp() == 0 {
		t.Fatalf("pyrt_call_async(NULL, ...) through ccall = %d, err %#x", int32(st), f.errp())
	}
	l.takeError(int32(st), f.errp())
	*f.errArg() = 0
	st = ccallSyscallN(l.fn[sym_pyrt_call_async], 0, uintptr(unsafe.Pointer(f.cstr(0))), 0, 0, 0, l.tramp.taskDone, 7,
		uintptr(unsafe.Pointer(&task)), uintptr(unsafe.Pointer(f.errArg())), 0)
	if Code(int32(st)) != CodeInvalidArgument || f.errp() == 0 {
		t.Fatalf("pyrt_call_async(NULL, ...) through SyscallN = %d, err %#x", int32(st), f.errp())
	}
	l.takeError(int32(st), f.errp())
}
