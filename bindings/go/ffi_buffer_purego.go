//go:build !pyrt_cgo

// Foreign calls of the buffer API (pyrt_args_push_buffer, pyrt_object_buffer*,
// pyrt_buffer_*), purego flavour. Resolved on first use, like the object API;
// ffi_buffer_cgo.go is the cgo flavour.

package pyrt

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

type bufFuncs struct {
	pushBuffer, objectBuffer, objectBufferCopy, data, length, itemsize, ndim uintptr
	shape, strides, format, elemType, readonly, contiguous, copy, free       uintptr
}

var (
	bufOnce sync.Once
	bufFns  *bufFuncs
	bufErr  error
)

// bufferAPI resolves the buffer API's symbols (once per process).
func (l *ffiLib) bufferAPI() error {
	if err := l.objectAPI(); err != nil {
		return err
	}
	bufOnce.Do(func() {
		b := &bufFuncs{}
		for _, s := range []struct {
			name string
			dst  *uintptr
		}{
			{"pyrt_args_push_buffer", &b.pushBuffer},
			{"pyrt_object_buffer", &b.objectBuffer},
			{"pyrt_object_buffer_copy", &b.objectBufferCopy},
			{"pyrt_buffer_data", &b.data},
			{"pyrt_buffer_len", &b.length},
			{"pyrt_buffer_itemsize", &b.itemsize},
			{"pyrt_buffer_ndim", &b.ndim},
			{"pyrt_buffer_shape", &b.shape},
			{"pyrt_buffer_strides", &b.strides},
			{"pyrt_buffer_format", &b.format},
			{"pyrt_buffer_elem_type", &b.elemType},
			{"pyrt_buffer_readonly", &b.readonly},
			{"pyrt_buffer_contiguous", &b.contiguous},
			{"pyrt_buffer_copy", &b.copy},
			{"pyrt_buffer_free", &b.free},
		} {
			p, err := purego.Dlsym(l.handle, s.name)
			if err != nil || p == 0 {
				bufErr = &loadError{ErrLibraryVersion, "pyrt: libpyrt " + l.path + " lacks " + s.name +
					" (built before zero-copy buffers; rebuild it with `cargo build --release`)"}
				return
			}
			*s.dst = p
		}
		bufFns = b
	})
	return bufErr
}

// pushBuffer appends a lent buffer; p points to pinned memory (or is nil for
// n == 0) that stays valid until the call returns.
func (t *typedCall) pushBuffer(p unsafe.Pointer, n int, elem, flags uint32) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2], t.sargs[3], t.sargs[4] = t.args, uintptr(p), uintptr(n), uintptr(elem), uintptr(flags)
	r := t.syscall(bufFns.pushBuffer, 5)
	runtime.KeepAlive(p)
	return r
}

// objectBuffer calls pyrt_object_buffer; the view lands in f.out().
func (l *ffiLib) objectBuffer(obj uintptr, flags uint32, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = obj, uintptr(flags), f.outArg(), f.errArg()
	return f.syscall(bufFns.objectBuffer, 4)
}

// objectBufferCopy calls pyrt_object_buffer_copy; the size lands in f.out().
func (l *ffiLib) objectBufferCopy(obj uintptr, dst unsafe.Pointer, n int, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3], f.args[4] = obj, uintptr(dst), uintptr(n), f.outArg(), f.errArg()
	r := f.syscall(bufFns.objectBufferCopy, 5)
	runtime.KeepAlive(dst)
	return r
}

func bufCall(fn, b uintptr) uintptr {
	r1, _, _ := purego.SyscallN(fn, b)
	return r1
}

func (l *ffiLib) bufData(b uintptr) unsafe.Pointer { return ptrOf(bufCall(bufFns.data, b)) }
func (l *ffiLib) bufLen(b uintptr) int             { return int(bufCall(bufFns.length, b)) }
func (l *ffiLib) bufItemsize(b uintptr) int        { return int(bufCall(bufFns.itemsize, b)) }
func (l *ffiLib) bufNdim(b uintptr) int            { return int(bufCall(bufFns.ndim, b)) }
func (l *ffiLib) bufShape(b uintptr) unsafe.Pointer {
	return ptrOf(bufCall(bufFns.shape, b))
}
func (l *ffiLib) bufStrides(b uintptr) unsafe.Pointer {
	return ptrOf(bufCall(bufFns.strides, b))
}
func (l *ffiLib) bufFormat(b uintptr) string   { return goString(ptrOf(bufCall(bufFns.format, b))) }
func (l *ffiLib) bufElemType(b uintptr) uint32 { return uint32(bufCall(bufFns.elemType, b)) }
func (l *ffiLib) bufReadonly(b uintptr) bool   { return bufCall(bufFns.readonly, b)&0xff != 0 }
func (l *ffiLib) bufContiguous(b uintptr) bool { return bufCall(bufFns.contiguous, b)&0xff != 0 }
func (l *ffiLib) bufFree(b uintptr)            { bufCall(bufFns.free, b) }

// bufCopy calls pyrt_buffer_copy into dst (n bytes).
func (l *ffiLib) bufCopy(b uintptr, dst unsafe.Pointer, n int, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = b, uintptr(dst), uintptr(n), f.errArg()
	r := f.syscall(bufFns.copy, 4)
	runtime.KeepAlive(dst)
	return r
}
