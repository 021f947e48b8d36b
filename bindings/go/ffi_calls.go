package pyrt

import (
	"math"
	"unsafe"
)

// What the rest of the package uses of the foreign-call layer beyond the
// generated methods of the declaration list (ffi.go), written once for both
// flavours.

// trampolines are the C function pointers into Go that libpyrt is given:
// the host function call and its destructor (pyrt_register) and the output
// handler (pyrt_set_output_handler). Each registration only adds an entry to
// a Go table, whose key travels as the C user_data.
type trampolines struct{ call, destroy, output, taskDone, progress uintptr }

func (l *ffiLib) version() string { return l.ver }

// sourceHash is the library's pyrt_source_hash().
func (l *ffiLib) sourceHash() string { return goString(ptrOf(l.pyrt_source_hash())) }

func (l *ffiLib) statusName(code int32) string { return goString(ptrOf(l.pyrt_status_name(code))) }

// interruptThread interrupts the call running on the pyrt thread id and
// returns how many calls it interrupted (0 or 1), or -1 on error.
func (l *ffiLib) interruptThread(id uint64) int {
	var n uint32
	if l.pyrt_interrupt_thread(id, &n, nil) != 0 {
		return -1
	}
	return int(n)
}

// ---- the typed fast path ----------------------------------------------------

func (t *typedCall) clear() { t.lib.pyrt_args_clear(t.args) }

func (t *typedCall) pushInt(v int64) int32 { return t.lib.pyrt_args_push_int(t.args, v) }

// pushDouble passes the double by address (pyrt_args_push_doubles): purego
// cannot place a double in a float register beside an integer argument.
func (t *typedCall) pushDouble(v float64) int32 {
	*t.dv = v
	return t.lib.pyrt_args_push_doubles(t.args, t.dv, 1)
}

func (t *typedCall) pushBool(v bool) int32 { return t.lib.pyrt_args_push_bool(t.args, v) }

func (t *typedCall) pushNone() int32 { return t.lib.pyrt_args_push_none(t.args) }

// pushStr / pushBytes: p points to the data of a string or slice that
// reached us through an interface (so it lives on the heap), copied by C
// during the call.
func (t *typedCall) pushStr(p *byte, n int) int32 { return t.lib.pyrt_args_push_str(t.args, p, n) }

func (t *typedCall) pushBytes(p *byte, n int) int32 { return t.lib.pyrt_args_push_bytes(t.args, p, n) }

func (t *typedCall) pushObject(obj uintptr) int32 { return t.lib.pyrt_args_push_object(t.args, obj) }

// pushBuffer appends a lent buffer; p points to memory pinned by the caller
// (runtime.Pinner), as C keeps the pointer past this call, until the typed
// call that uses it returns.
func (t *typedCall) pushBuffer(p unsafe.Pointer, n int, elem, flags uint32) int32 {
	return t.lib.pyrt_args_push_buffer(t.args, p, n, elem, flags)
}

// callDouble / callInt / callArgs / callArgsJSON call obj with t's list;
// the result lands in t.slot[0], the error in t.slot[1].
func (t *typedCall) callDouble(obj uintptr) int32 {
	return t.lib.pyrt_object_call_double(obj, t.args, (*float64)(unsafe.Pointer(&t.slot[0])), &t.slot[1])
}

func (t *typedCall) callInt(obj uintptr) int32 {
	return t.lib.pyrt_object_call_int(obj, t.args, (*int64)(unsafe.Pointer(&t.slot[0])), &t.slot[1])
}

func (t *typedCall) callArgs(obj uintptr) int32 {
	return t.lib.pyrt_object_call_args(obj, t.args, &t.slot[0], &t.slot[1])
}

func (t *typedCall) callArgsJSON(obj uintptr, flags uint32) int32 {
	return t.lib.pyrt_object_call_args_json(obj, t.args, flags, &t.slot[0], &t.slot[1])
}

func (t *typedCall) double() float64 { return math.Float64frombits(uint64(t.slot[0])) }

// ---- host functions ---------------------------------------------------------

// replyJSON answers a host call; b is NUL-terminated Go memory, copied by C
// during the call.
func (l *ffiLib) replyJSON(reply uintptr, b []byte) int32 { return l.pyrt_reply_json(reply, &b[0]) }

// replyError answers a host call with an error message (NUL bytes dropped).
func (l *ffiLib) replyError(reply uintptr, msg string) int32 {
	b := make([]byte, 0, len(msg)+1)
	for i := 0; i < len(msg); i++ {
		if msg[i] != 0 {
			b = append(b, msg[i])
		}
	}
	b = append(b, 0)
	return l.pyrt_reply_error(reply, &b[0])
}
