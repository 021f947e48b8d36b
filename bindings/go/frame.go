package pyrt

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// frame is the per-call scratch space handed to the foreign-call layer: a
// byte buffer holding every NUL-terminated input string of one call, and the
// two out-parameter slots that C writes (result_out, err_out). Frames are
// pooled, so a call allocates no C strings and nothing escapes per call.
//
// Go memory in a frame is given to C only for the duration of one call; C
// only writes C pointers into the slots (never retains Go pointers).
type frame struct {
	buf []byte
	// slot[0] receives result_out / rt_out, slot[1] err_out. The slots are a
	// separate pointer-free allocation: C writes words into them, never
	// into memory that holds Go pointers.
	slot *[2]uintptr
	// rbuf is the pyrt_buf results are written into by pyrt_call_json_buf
	// (data, len, cap: C memory, reused by the frame's next calls; freed by a
	// cleanup when the pool drops the frame). Pointer-free, as slot. rlib is
	// the library that fills it.
	rbuf *resultBuf
	rlib *ffiLib
}

// resultBuf has the layout of the C struct pyrt_buf {char *data; size_t len;
// size_t cap;}.
type resultBuf [3]uintptr

// newResultBuffer gives f its result buffer (the pyrt_buf C writes into),
// on first use.
func (f *frame) newResultBuffer(l *ffiLib) {
	f.rbuf, f.rlib = new(resultBuf), l
	runtime.AddCleanup(f, freeResultBuf, resultRef{l, f.rbuf})
}

type resultRef struct {
	lib *ffiLib
	rb  *resultBuf
}

// freeResultBuf frees a frame's result buffer (C memory).
func freeResultBuf(r resultRef) {
	if r.rb[0] != 0 {
		r.lib.pyrt_buf_free(&r.rb[0])
	}
}

// result returns the text pyrt_call_json_buf wrote (valid until the frame's
// next call).
func (f *frame) result() []byte {
	if f.rbuf == nil || f.rbuf[0] == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptrOf(f.rbuf[0])), f.rbuf[1])
}

func (f *frame) out() uintptr  { return f.slot[0] }
func (f *frame) errp() uintptr { return f.slot[1] }

// The arguments of a foreign call made with f: the address of the
// NUL-terminated string at f.buf[off:] (nil for off < 0), and of the two
// out slots.
func (f *frame) cstr(off int) *byte {
	if off < 0 {
		return nil
	}
	return &f.buf[off]
}

func (f *frame) outArg() *uintptr { return &f.slot[0] }
func (f *frame) errArg() *uintptr { return &f.slot[1] }

const maxPooledBuf = 64 << 10

var framePool = sync.Pool{New: func() any { return &frame{buf: make([]byte, 0, 512), slot: new([2]uintptr)} }}

func getFrame() *frame {
	f := framePool.Get().(*frame)
	*f.slot = [2]uintptr{}
	return f
}

func putFrame(f *frame) {
	if cap(f.buf) > maxPooledBuf {
		f.buf = make([]byte, 0, 512)
	}
	if f.rbuf != nil && f.rbuf[2] > maxPooledBuf {
		freeResultBuf(resultRef{f.rlib, f.rbuf}) // a large result: do not keep its memory in the pool
	}
	f.buf = f.buf[:0]
	*f.slot = [2]uintptr{}
	framePool.Put(f)
}

// appendCString appends s and a NUL byte to b. It fails if s holds a NUL
// byte (C would silently truncate the string).
func appendCString(b []byte, s string, what string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return b, newError(CodeInvalidArgument, "%s contains a NUL byte", what)
	}
	b = append(b, s...)
	return append(b, 0), nil
}

// ptrOf converts a uintptr written by C into an unsafe.Pointer without
// tripping vet's unsafeptr check (the value is a C pointer, never Go memory).
func ptrOf(u uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&u))
}

// cBytes returns the bytes of the NUL-terminated C string at p, without
// copying. The slice is valid only as long as the C string is.
func cBytes(p unsafe.Pointer) []byte {
	if p == nil {
		return nil
	}
	n := 0
	for {
		// Never read past the end of the page holding the current byte:
		// that memory is mapped because the string continues into it.
		addr := uintptr(p) + uintptr(n)
		chunk := int(4096 - addr&4095)
		s := unsafe.Slice((*byte)(unsafe.Add(p, n)), chunk)
		if i := bytes.IndexByte(s, 0); i >= 0 {
			return unsafe.Slice((*byte)(p), n+i)
		}
		n += chunk
	}
}

// cSlice is the n bytes of C memory at p, without copying.
func cSlice(p uintptr, n int) []byte { return unsafe.Slice((*byte)(ptrOf(p)), n) }

// goString copies the NUL-terminated C string at p into a Go string.
func goString(p unsafe.Pointer) string {
	if p == nil {
		return ""
	}
	return string(cBytes(p))
}
