package pyrt

import (
	"errors"
	"os"
	"sync"
	"testing"
	"unsafe"
)

func evalObject(t *testing.T, rt *Runtime, expr string) *Object {
	t.Helper()
	o, err := rt.EvalObject(bg, expr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// TestBufferMemoryview lends Go slices to typed calls: Python sees a
// memoryview of the slice's own memory with the element type's format.
func TestBufferMemoryview(t *testing.T) {
	if err := testRT.Run(bg, `
def bdescribe(mv):
    return '%s %d %d %s' % (mv.format, mv.itemsize, len(mv), mv.readonly)
def bsum(mv):
    return float(sum(mv))
def bpoke(mv):
    mv[0] = 9
    return 0.0
def bkeep(mv):
    global bkept
    bkept = mv
    return float(mv[1])
def bslice(mv):
    global bsliced
    bsliced = mv[1:]
    return 0.0
`); err != nil {
		t.Fatal(err)
	}
	describe := evalObject(t, testRT, "bdescribe")
	check := func(b Buffer, want string) {
		t.Helper()
		got, err := describe.CallTyped(bg, b)
		if err != nil || got != want {
			t.Errorf("describe = %v, %v; want %q", got, err, want)
		}
	}
	check(BufferOf([]float64{1, 2}), "d 8 2 True")
	check(BufferOf([]float32{1, 2}), "f 4 2 True")
	check(BufferOf([]int64{1, 2}), "q 8 2 True")
	check(BufferOf([]int32{1, 2}), "i 4 2 True")
	check(BufferOf([]uint8{1, 2}), "B 1 2 True")
	check(BufferOf([]int16{1}), "h 2 1 True")
	check(BufferOf([]uint64{1}), "Q 8 1 True")
	check(BufferOf([]float64(nil)), "d 8 0 True")
	check(WritableBufferOf([]float64{1}), "d 8 1 False")
	type celsius float32
	check(BufferOf([]celsius{1}), "f 4 1 True")

	sum := evalObject(t, testRT, "bsum")
	if v, err := sum.CallFloat(bg, BufferOf([]int32{1, 2, 3, 4})); err != nil || v != 10 {
		t.Errorf("sum = %v, %v", v, err)
	}

	// Read-only unless lent writable; writable writes land in the slice.
	poke := evalObject(t, testRT, "bpoke")
	xs := []float64{1, 2}
	_, err := poke.CallFloat(bg, BufferOf(xs))
	var pe *PythonError
	if !errors.As(err, &pe) || pe.Type != "TypeError" || xs[0] != 1 {
		t.Errorf("poke read-only: %v, xs %v", err, xs)
	}
	if _, err := poke.CallFloat(bg, WritableBufferOf(xs)); err != nil || xs[0] != 9 {
		t.Errorf("poke writable: %v, xs %v", err, xs)
	}

	// A kept memoryview is released: ValueError, not a read of Go memory.
	keep := evalObject(t, testRT, "bkeep")
	if v, err := keep.CallFloat(bg, BufferOf([]float64{5, 6})); err != nil || v != 6 {
		t.Fatalf("keep = %v, %v", v, err)
	}
	if _, err := testRT.Eval(bg, "bkept[0]"); !errors.As(err, &pe) || pe.Type != "ValueError" {
		t.Errorf("kept memoryview: %v", err)
	}

	// A view made in the call and kept: ErrBufferEscaped, the slice stays
	// valid (pinned for the rest of the process).
	slice := evalObject(t, testRT, "bslice")
	ys := []float64{7, 8, 9}
	if _, err := slice.CallFloat(bg, BufferOf(ys)); !errors.Is(err, ErrBufferEscaped) {
		t.Fatalf("escaped: %v", err)
	}
	if v, err := testRT.Eval(bg, "bsliced[0]"); err != nil || v != float64(8) {
		t.Errorf("escaped view reads %v, %v", v, err)
	}
	if err := testRT.Run(bg, "del bsliced, bkept"); err != nil {
		t.Fatal(err)
	}

	// A buffer has no JSON form.
	if _, err := testRT.Call(bg, "builtins", "len", BufferOf(xs)); err == nil {
		t.Error("a Buffer went through the JSON path")
	}
}

// TestBufferConcurrent lends different slices from many goroutines at once
// (run with -race).
func TestBufferConcurrent(t *testing.T) {
	sum := evalObject(t, testRT, "lambda mv: float(sum(mv))")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xs := make([]int64, 100)
			for i := range 200 {
				want := 0.0
				for j := range xs {
					xs[j] = int64(g*1000 + i + j)
					want += float64(xs[j])
				}
				v, err := sum.CallFloat(bg, BufferOf(xs))
				if err != nil || v != want {
					errs <- errors.New("wrong sum")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestObjectBuffer reads Python buffers in place and copied out.
func TestObjectBuffer(t *testing.T) {
	if err := testRT.Run(bg, "import array\nbarr = array.array('i', [1, 2, 3])\n"); err != nil {
		t.Fatal(err)
	}
	arr := evalObject(t, testRT, "barr")
	v, err := arr.Buffer(bg, true)
	if err != nil {
		t.Fatal(err)
	}
	if v.Format() != "i" || v.ElemType() != ElemInt32 || v.Len() != 12 || v.ItemSize() != 4 ||
		len(v.Shape()) != 1 || v.Shape()[0] != 3 || v.Strides()[0] != 4 || v.ReadOnly() || !v.Contiguous() {
		t.Errorf("view: %q %v %d %d %v %v %v %v", v.Format(), v.ElemType(), v.Len(), v.ItemSize(), v.Shape(), v.Strides(), v.ReadOnly(), v.Contiguous())
	}
	in, err := View[int32](v)
	if err != nil || len(in) != 3 || in[2] != 3 {
		t.Fatalf("View = %v, %v", in, err)
	}
	in[0] = 42 // in place
	if _, err := View[float64](v); !errors.Is(err, ErrConversion) {
		t.Errorf("View of the wrong type: %v", err)
	}
	v.Close()
	v.Close() // idempotent
	if got, err := testRT.Eval(bg, "barr[0]"); err != nil || got != int64(42) {
		t.Errorf("barr[0] = %v, %v", got, err)
	}

	strided := evalObject(t, testRT, "memoryview(array.array('d', [0, 1, 2, 3, 4, 5]))[::-2]")
	got, shape, err := ReadArray[float64](bg, strided)
	if err != nil || len(got) != 3 || got[0] != 5 || got[2] != 1 || shape[0] != 3 {
		t.Errorf("ReadArray = %v %v %v", got, shape, err)
	}
	bytes := evalObject(t, testRT, "b'hello'")
	bv, err := bytes.Buffer(bg, false)
	if err != nil || !bv.ReadOnly() || string(bv.Bytes()) != "hello" {
		t.Errorf("bytes view: %v", err)
	}
	bv.Close()
	if _, err := bytes.Buffer(bg, true); err == nil {
		t.Error("writable view of bytes")
	}
	num := evalObject(t, testRT, "42")
	var pe *PythonError
	if _, err := num.Buffer(bg, false); !errors.As(err, &pe) || pe.Type != "TypeError" {
		t.Errorf("int has a buffer? %v", err)
	}
}

// TestBufferNumpy runs the NumPy cases in a child with the test venv.
func TestBufferNumpy(t *testing.T) {
	venv := testVenv(t)
	runChildEnv(t, "buffer-numpy", nil, venvEnv+"="+venv)
}

func init() { venvChildren["buffer-numpy"] = childBufferNumpy }

func childBufferNumpy(t *testing.T) {
	rt, err := New(WithVenv(os.Getenv(venvEnv)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Run(bg, `
import numpy as np
def total(mv): return float(np.frombuffer(mv).sum())
def address(mv): return np.asarray(mv).ctypes.data
def scale(src, dst):
    np.multiply(np.frombuffer(src), 2.0, out=np.frombuffer(dst, dtype=np.float64))
    return 0.0
def leak(mv):
    global arr
    arr = np.frombuffer(mv)
    return 0.0
def back(mv): return np.frombuffer(mv)
`); err != nil {
		t.Fatal(err)
	}
	xs := make([]float64, 1000)
	want := 0.0
	for i := range xs {
		xs[i] = float64(i)
		want += float64(i)
	}
	if v, err := evalObject(t, rt, "total").CallFloat(bg, BufferOf(xs)); err != nil || v != want {
		t.Errorf("total = %v, %v", v, err)
	}
	addr, err := evalObject(t, rt, "address").CallInt(bg, BufferOf(xs))
	if err != nil || uintptr(addr) != uintptr(unsafe.Pointer(&xs[0])) {
		t.Errorf("numpy sees %#x, Go memory is at %p (%v)", addr, &xs[0], err)
	}
	out := make([]float64, len(xs))
	if _, err := evalObject(t, rt, "scale").CallFloat(bg, BufferOf(xs), WritableBufferOf(out)); err != nil || out[999] != 1998 {
		t.Errorf("scale: %v, out[999] = %v", err, out[999])
	}
	leaked := []float64{1, 2, 3}
	if _, err := evalObject(t, rt, "leak").CallFloat(bg, BufferOf(leaked)); !errors.Is(err, ErrBufferEscaped) {
		t.Errorf("leak: %v", err)
	}
	if v, err := rt.Eval(bg, "float(arr[2])"); err != nil || v != 3.0 {
		t.Errorf("escaped array reads %v, %v", v, err)
	}
	if _, err := evalObject(t, rt, "back").CallTypedObject(bg, BufferOf([]float64{1})); !errors.Is(err, ErrConversion) {
		t.Errorf("back: %v", err)
	}

	m := evalObject(t, rt, "np.arange(12, dtype=np.float64).reshape(3, 4)")
	v, err := m.Buffer(bg, false)
	if err != nil {
		t.Fatal(err)
	}
	if v.Format() != "d" || len(v.Shape()) != 2 || v.Shape()[1] != 4 || v.Strides()[0] != 32 || !v.Contiguous() {
		t.Errorf("matrix view: %q %v %v", v.Format(), v.Shape(), v.Strides())
	}
	in, err := View[float64](v)
	if err != nil || in[11] != 11 {
		t.Errorf("View = %v, %v", in, err)
	}
	v.Close()
	tr := evalObject(t, rt, "np.arange(6).reshape(2, 3).T")
	got, shape, err := ReadArray[int64](bg, tr)
	if err != nil || shape[0] != 3 || shape[1] != 2 || got[1] != 3 || got[2] != 1 {
		t.Errorf("transposed: %v %v %v", got, shape, err)
	}
}
