package pyrt

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// Numeric is the element types a slice may have to be lent with BufferOf.
type Numeric interface {
	~float64 | ~float32 | ~int64 | ~int32 | ~int16 | ~int8 | ~uint64 | ~uint32 | ~uint16 | ~uint8
}

// ElemType is the element type of a buffer (PYRT_BUFFER_* in the C API).
type ElemType uint32

// Element types; ElemOther is a format none of them matches (bool, complex,
// a big-endian or structured dtype, ...).
const (
	ElemOther   ElemType = 0
	ElemFloat64 ElemType = 1
	ElemFloat32 ElemType = 2
	ElemInt64   ElemType = 3
	ElemInt32   ElemType = 4
	ElemUint8   ElemType = 5
	ElemInt8    ElemType = 6
	ElemInt16   ElemType = 7
	ElemUint16  ElemType = 8
	ElemUint32  ElemType = 9
	ElemUint64  ElemType = 10
)

const (
	bufWritable   = 1
	bufContiguous = 2
)

func elemOf[T Numeric]() ElemType {
	var z T
	switch any(z).(type) {
	case float64:
		return ElemFloat64
	case float32:
		return ElemFloat32
	case int64:
		return ElemInt64
	case int32:
		return ElemInt32
	case int16:
		return ElemInt16
	case int8:
		return ElemInt8
	case uint64:
		return ElemUint64
	case uint32:
		return ElemUint32
	case uint16:
		return ElemUint16
	case uint8:
		return ElemUint8
	}
	// A named type (~T): decide by size and kind.
	half, one := 0.5, 1.0
	isFloat := T(half) != 0
	isUnsigned := T(0)-T(one) > 0
	switch unsafe.Sizeof(z) {
	case 8:
		if isFloat {
			return ElemFloat64
		}
		if isUnsigned {
			return ElemUint64
		}
		return ElemInt64
	case 4:
		if isFloat {
			return ElemFloat32
		}
		if isUnsigned {
			return ElemUint32
		}
		return ElemInt32
	case 2:
		if isUnsigned {
			return ElemUint16
		}
		return ElemInt16
	default:
		if isUnsigned {
			return ElemUint8
		}
		return ElemInt8
	}
}

// Buffer is a Go slice lent to one typed call without copying (BufferOf,
// WritableBufferOf). Python receives a memoryview of the slice's memory.
type Buffer struct {
	ptr      unsafe.Pointer
	n        int
	elem     ElemType
	writable bool
}

// BufferOf lends s to a typed call, read-only: Python writing through the
// memoryview raises TypeError ("cannot modify read-only memory"), through a
// NumPy array made from it ValueError ("assignment destination is
// read-only"). The caller must not modify s until the call returns.
//
//	mean, err := fn.CallFloat(ctx, pyrt.BufferOf(xs)) // def mean(mv): return numpy.frombuffer(mv).mean()
func BufferOf[T Numeric](s []T) Buffer {
	return Buffer{ptr: unsafe.Pointer(unsafe.SliceData(s)), n: len(s), elem: elemOf[T]()}
}

// WritableBufferOf lends s to a typed call for reading and writing: Python's
// writes (numpy.multiply(a, 2, out=numpy.frombuffer(out_mv, ...))) land in s.
func WritableBufferOf[T Numeric](s []T) Buffer {
	b := BufferOf(s)
	b.writable = true
	return b
}

// escapedSlices keeps, for the rest of the process, the pins (and so the
// memory) of slices whose call ended with ErrBufferEscaped.
var escapedSlices struct {
	sync.Mutex
	calls []*typedCall
}

func keepForever(t *typedCall) {
	escapedSlices.Lock()
	escapedSlices.calls = append(escapedSlices.calls, t)
	escapedSlices.Unlock()
}

// pushBufferArg pins b's memory and appends it to t's argument list.
func (t *typedCall) pushBufferArg(b Buffer) int32 {
	if b.n > 0 {
		if t.pins == nil {
			t.pins = new(runtime.Pinner)
		}
		t.pins.Pin(b.ptr)
	}
	t.lent = true
	var flags uint32
	if b.writable {
		flags = bufWritable
	}
	return t.pushBuffer(b.ptr, b.n, uint32(b.elem), flags)
}

// BufferView is a view of a Python object's buffer, held by Go: the memory
// stays valid and in place until Close (the object cannot be resized or freed
// meanwhile; the view keeps it alive even after the Object is closed). Its
// methods are safe for concurrent use. Python code running meanwhile may
// still write to a writable buffer.
type BufferView struct {
	lib     *ffiLib
	p       uintptr
	data    unsafe.Pointer
	length  int
	item    int
	elem    ElemType
	format  string
	shape   []int
	strides []int
	ro      bool
	contig  bool
	closed  sync.Once
	cleanup runtime.Cleanup
}

// Buffer returns a view of the object's buffer (NumPy arrays, array.array,
// bytes, bytearray, memoryview, ...); writable asks for write access (a
// read-only object then fails with a *PythonError BufferError). An object
// without a buffer is a *PythonError TypeError. Close the view when done.
func (o *Object) Buffer(ctx context.Context, writable bool) (*BufferView, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	lib := o.rt.lib
	f := getFrame()
	defer putFrame(f)
	var flags uint32
	if writable {
		flags = bufWritable
	}
	st := o.rt.guard(ctx, func() int32 { return lib.pyrt_object_buffer(o.id, flags, f.outArg(), f.errArg()) })
	runtime.KeepAlive(o)
	if st != 0 {
		return nil, wrapContext(ctx, lib.takeError(st, f.errp()))
	}
	p := f.out()
	v := &BufferView{lib: lib, p: p, data: ptrOf(lib.pyrt_buffer_data(p)), length: lib.pyrt_buffer_len(p),
		item: lib.pyrt_buffer_itemsize(p), elem: ElemType(lib.pyrt_buffer_elem_type(p)),
		format: goString(ptrOf(lib.pyrt_buffer_format(p))), ro: lib.pyrt_buffer_readonly(p), contig: lib.pyrt_buffer_contiguous(p)}
	n := lib.pyrt_buffer_ndim(p)
	if n > 0 {
		sh := unsafe.Slice((*int64)(ptrOf(lib.pyrt_buffer_shape(p))), n)
		st := unsafe.Slice((*int64)(ptrOf(lib.pyrt_buffer_strides(p))), n)
		v.shape, v.strides = make([]int, n), make([]int, n)
		for i := range n {
			v.shape[i], v.strides[i] = int(sh[i]), int(st[i])
		}
	}
	v.cleanup = runtime.AddCleanup(v, func(a bufferRef) { a.lib.pyrt_buffer_free(a.p) }, bufferRef{lib, p})
	return v, nil
}

type bufferRef struct {
	lib *ffiLib
	p   uintptr
}

// Close releases the view; the memory must not be used afterwards. It is
// idempotent and never blocks on Python.
func (v *BufferView) Close() error {
	if v == nil {
		return nil
	}
	v.closed.Do(func() {
		v.cleanup.Stop()
		v.lib.pyrt_buffer_free(v.p)
	})
	return nil
}

// Format is the element format in the struct module's notation ("d", "<f",
// "l", "?", ...; "B" when the object gave none).
func (v *BufferView) Format() string { return v.format }

// ElemType is the format as an element type, or ElemOther.
func (v *BufferView) ElemType() ElemType { return v.elem }

// ItemSize is the size of one element in bytes.
func (v *BufferView) ItemSize() int { return v.item }

// Len is the size in bytes (the product of the shape and the item size).
func (v *BufferView) Len() int { return v.length }

// Shape is the extent of each dimension (empty for a scalar).
func (v *BufferView) Shape() []int { return append([]int(nil), v.shape...) }

// Strides is the step in bytes along each dimension (may be negative).
func (v *BufferView) Strides() []int { return append([]int(nil), v.strides...) }

// ReadOnly reports whether the memory may not be written.
func (v *BufferView) ReadOnly() bool { return v.ro }

// Contiguous reports whether the memory is C-contiguous (Len bytes from the
// start, row-major).
func (v *BufferView) Contiguous() bool { return v.contig }

// Bytes returns the memory in place (no copy), valid until Close, or nil if
// the buffer is not C-contiguous.
func (v *BufferView) Bytes() []byte {
	if !v.contig || v.length == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(v.data), v.length)
}

// CopyTo copies the elements in C (row-major) order into dst, which must
// hold at least Len bytes: one copy, whatever the strides.
func (v *BufferView) CopyTo(dst []byte) error {
	if len(dst) < v.length {
		return newError(CodeInvalidArgument, "destination holds %d bytes; the buffer has %d", len(dst), v.length)
	}
	f := getFrame()
	defer putFrame(f)
	st := v.lib.pyrt_buffer_copy(v.p, unsafe.Pointer(unsafe.SliceData(dst)), len(dst), f.errArg())
	runtime.KeepAlive(v)
	if st != 0 {
		return v.lib.takeError(st, f.errp())
	}
	return nil
}

// View returns the buffer's elements in place as a []T (no copy), valid
// until v is closed. The buffer must be C-contiguous and of T's element type
// (ErrConversion otherwise; use Copy for other layouts).
func View[T Numeric](v *BufferView) ([]T, error) {
	if v.elem != elemOf[T]() {
		return nil, newError(CodeConversion, "buffer format %q is not %T", v.format, *new(T))
	}
	if !v.contig {
		return nil, newError(CodeConversion, "buffer is not C-contiguous (strides %v); use pyrt.Copy", v.strides)
	}
	var z T
	n := v.length / int(unsafe.Sizeof(z))
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(v.data), n), nil
}

// Copy returns the buffer's elements as a new []T in C order (one copy,
// whatever the strides). The element type must be T's (ErrConversion).
func Copy[T Numeric](v *BufferView) ([]T, error) {
	if v.elem != elemOf[T]() {
		return nil, newError(CodeConversion, "buffer format %q is not %T", v.format, *new(T))
	}
	var z T
	out := make([]T, v.length/int(unsafe.Sizeof(z)))
	if len(out) == 0 {
		return out, nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), v.length)
	if err := v.CopyTo(b); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadArray copies an object's buffer (a NumPy array, array.array, ...) into
// a new []T in C order and returns it with the shape: one copy.
func ReadArray[T Numeric](ctx context.Context, o *Object) ([]T, []int, error) {
	v, err := o.Buffer(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer v.Close()
	out, err := Copy[T](v)
	return out, v.Shape(), err
}
