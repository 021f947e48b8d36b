// The foreign-call layer's declaration list: every C function of libpyrt
// that this package calls, written once.
//
// Two flavours implement it: purego (the default; libpyrt is opened at run
// time, no cgo needed) and cgo (build tag pyrt_cgo; libpyrt is linked). Both
// are generated from the cAPI interface below by `go generate`
// (internal/cmd/ffigen), which reads each method's C prototype from
// include/pyrt.h and refuses a declaration whose Go types cannot stand for
// it (a wrong arity, an integer for a pointer, int32 for uint32, ...):
//
//	ffi_gen_purego.go  the symbol table (sym_* indices, symNames) that
//	                   openLibrary resolves in one place when libpyrt is
//	                   opened, failing the open with an error that names a
//	                   missing symbol; and one method per function, each
//	                   calling ccall, the single chokepoint of every purego
//	                   foreign call (ffi_ccall_*.go)
//	ffi_gen_cgo.go     one C shim and one method per function
//
// Why generate instead of writing both flavours by hand, or having them
// implement an interface and calling through it: the hand-written copies
// could drift apart (and did: each had its own lazy resolution, fallbacks
// and argument conventions), while generated code cannot, and the compiler
// still checks both against this list (var _ cAPI = (*ffiLib)(nil) below).
// Calls go to the concrete *ffiLib, never through the interface, so the hot
// path has no dynamic dispatch and the small methods inline. TestGeneratedFFI
// regenerates both files and fails when the committed ones differ.
//
// The methods carry the C names, so that a grep for a C function finds its
// Go declaration and its callers. What the Go types say about each argument
// (internal/ffigen explains it in full): uintptr is a C pointer Go treats as
// a number (a handle, C memory, a function pointer: never Go memory);
// *byte, *uintptr, *float64, *int64 and *uint32 are pointer-free Go memory
// (strings in a frame's buffer, out-slots C writes into); unsafe.Pointer is
// other Go memory (a caller's numeric slice); int is size_t. Go memory given
// to C never holds Go pointers, so cgo's run-time pointer check has nothing
// to find, and the cgo shims take such memory as pointers to scalars, which
// cgo does not walk. The frame-level helpers written once over these methods
// are in ffi_calls.go.
//
// Functions the package does not call are not declared, and a library is
// not refused for lacking them: pyrt_call_json (Call uses
// pyrt_call_value_buf, or pyrt_call_json_buf for plain JSON), pyrt_eval_json
// (Eval uses pyrt_eval_value_buf), pyrt_interrupt, pyrt_error_output, pyrt_object_id,
// pyrt_object_buffer_copy, and pyrt_args_push_double, which purego cannot
// call (a double beside an integer argument): both flavours push doubles
// through pyrt_args_push_doubles.

//go:generate go run ./internal/cmd/ffigen

package pyrt

import "unsafe"

// cAPI is the declaration list; its method set is every C function this
// package calls. ffiLib implements it in both flavours.
type cAPI interface {
	// ---- library
	pyrt_version() uintptr
	pyrt_source_hash() uintptr
	pyrt_status_name(status int32) uintptr
	pyrt_string_free(s uintptr)
	pyrt_discover_json(configJSON *byte, resultOut, errOut *uintptr) int32
	pyrt_venv_ensure(configJSON *byte, progress, userData uintptr, errOut *uintptr) int32

	// ---- runtime handles and JSON calls
	pyrt_new(configJSON *byte, rtOut, errOut *uintptr) int32
	pyrt_free(rt uintptr)
	pyrt_run_string(rt uintptr, code *byte, errOut *uintptr) int32
	pyrt_run_file(rt uintptr, path *byte, errOut *uintptr) int32
	pyrt_eval_value_buf(rt uintptr, expr *byte, flags uint32, out, errOut *uintptr) int32
	pyrt_call_json_buf(rt uintptr, module, function, argsJSON, kwargsJSON *byte, out, errOut *uintptr) int32
	pyrt_buf_free(buf *uintptr)
	pyrt_info_json(rt uintptr, resultOut, errOut *uintptr) int32
	pyrt_stats_json(rt uintptr, resultOut, errOut *uintptr) int32

	// ---- iterators
	pyrt_object_iter(obj uintptr, iterOut, errOut *uintptr) int32
	pyrt_iter_next(iter uintptr, flags uint32, itemOut, errOut *uintptr) int32
	pyrt_iter_next_object(iter uintptr, itemOut, errOut *uintptr) int32
	pyrt_iter_next_batch(iter uintptr, maxItems int, flags uint32, itemsOut, errOut *uintptr) int32
	pyrt_iter_send(gen uintptr, valueJSON *byte, flags uint32, itemOut, errOut *uintptr) int32
	pyrt_iter_throw(gen, exception uintptr, flags uint32, itemOut, errOut *uintptr) int32
	pyrt_iter_close(iter uintptr, errOut *uintptr) int32

	// ---- coroutines
	pyrt_call_async(rt uintptr, target, argsJSON, kwargsJSON *byte, flags uint32, done, userData uintptr, taskOut *uint64, errOut *uintptr) int32
	pyrt_object_await(awaitable uintptr, flags uint32, done, userData uintptr, taskOut *uint64, errOut *uintptr) int32
	pyrt_task_cancel(task uint64, errOut *uintptr) int32

	// ---- errors
	pyrt_error_code(err uintptr) int32
	pyrt_error_message(err uintptr) uintptr
	pyrt_error_python_type(err uintptr) uintptr
	pyrt_error_traceback(err uintptr) uintptr
	pyrt_error_free(err uintptr)

	// ---- call control and output capture
	pyrt_thread_id() uint64
	pyrt_interrupt_thread(threadID uint64, interruptedOut *uint32, errOut *uintptr) int32
	pyrt_output_take(rt uintptr, stream uint32, textOut, errOut *uintptr) int32

	// ---- host functions and output handlers
	pyrt_register(rt uintptr, module, name *byte, function, userData, destroy uintptr, errOut *uintptr) int32
	pyrt_unregister(rt uintptr, module, name *byte, errOut *uintptr) int32
	pyrt_reply_json(reply uintptr, valueJSON *byte) int32
	pyrt_reply_error(reply uintptr, message *byte) int32
	pyrt_reply_exception(reply, err uintptr) int32
	pyrt_set_output_handler(rt, handler, userData uintptr, errOut *uintptr) int32

	// ---- objects
	pyrt_call_value(rt uintptr, target, argsJSON, kwargsJSON *byte, flags uint32, resultOut, errOut *uintptr) int32
	pyrt_call_value_buf(rt uintptr, target, argsJSON, kwargsJSON *byte, flags uint32, out, errOut *uintptr) int32
	pyrt_call_object(rt uintptr, target, argsJSON, kwargsJSON *byte, flags uint32, objOut, errOut *uintptr) int32
	pyrt_import(rt uintptr, module *byte, objOut, errOut *uintptr) int32
	pyrt_eval_object(rt uintptr, expr *byte, objOut, errOut *uintptr) int32
	pyrt_object_from_json(rt uintptr, json *byte, flags uint32, objOut, errOut *uintptr) int32
	pyrt_object_to_json(obj uintptr, flags uint32, resultOut, errOut *uintptr) int32
	pyrt_object_getattr(obj uintptr, name *byte, objOut, errOut *uintptr) int32
	pyrt_object_getattr_json(obj uintptr, name *byte, flags uint32, resultOut, errOut *uintptr) int32
	pyrt_object_setattr(obj uintptr, name *byte, value uintptr, errOut *uintptr) int32
	pyrt_object_setattr_json(obj uintptr, name, valueJSON *byte, flags uint32, errOut *uintptr) int32
	pyrt_object_call_json(obj uintptr, method, argsJSON, kwargsJSON *byte, flags uint32, resultOut, errOut *uintptr) int32
	pyrt_object_call(obj uintptr, method, argsJSON, kwargsJSON *byte, flags uint32, objOut, errOut *uintptr) int32
	pyrt_object_repr(obj uintptr, resultOut, errOut *uintptr) int32
	pyrt_object_str(obj uintptr, resultOut, errOut *uintptr) int32
	// pyrt_object_free never takes the GIL: safe from cleanups on any thread.
	pyrt_object_free(obj uintptr)

	// ---- typed arguments (the fast path)
	pyrt_args_new() uintptr
	pyrt_args_free(args uintptr)
	pyrt_args_clear(args uintptr)
	pyrt_args_push_int(args uintptr, value int64) int32
	pyrt_args_push_doubles(args uintptr, values *float64, count int) int32
	pyrt_args_push_bool(args uintptr, value bool) int32
	pyrt_args_push_none(args uintptr) int32
	pyrt_args_push_str(args uintptr, utf8 *byte, len int) int32
	pyrt_args_push_bytes(args uintptr, data *byte, len int) int32
	pyrt_args_push_object(args, obj uintptr) int32
	pyrt_object_call_double(callable, args uintptr, resultOut *float64, errOut *uintptr) int32
	pyrt_object_call_int(callable, args uintptr, resultOut *int64, errOut *uintptr) int32
	pyrt_object_call_args(callable, args uintptr, objOut, errOut *uintptr) int32
	pyrt_object_call_args_json(callable, args uintptr, flags uint32, resultOut, errOut *uintptr) int32

	// ---- buffers
	// pyrt_args_push_buffer: data is pinned until the typed call returns.
	pyrt_args_push_buffer(args uintptr, data unsafe.Pointer, count int, elemType, flags uint32) int32
	pyrt_object_buffer(obj uintptr, flags uint32, bufOut, errOut *uintptr) int32
	pyrt_buffer_data(buf uintptr) uintptr
	pyrt_buffer_len(buf uintptr) int
	pyrt_buffer_itemsize(buf uintptr) int
	pyrt_buffer_ndim(buf uintptr) int
	pyrt_buffer_shape(buf uintptr) uintptr
	pyrt_buffer_strides(buf uintptr) uintptr
	pyrt_buffer_format(buf uintptr) uintptr
	pyrt_buffer_elem_type(buf uintptr) uint32
	pyrt_buffer_readonly(buf uintptr) bool
	pyrt_buffer_contiguous(buf uintptr) bool
	pyrt_buffer_copy(buf uintptr, dst unsafe.Pointer, dstLen int, errOut *uintptr) int32
	pyrt_buffer_free(buf uintptr)
}

// Both flavours implement the whole list.
var _ cAPI = (*ffiLib)(nil)
