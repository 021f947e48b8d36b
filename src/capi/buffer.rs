//! Numeric arrays without copies: host arrays lent to a call, and object buffers read in place.

use std::ffi::{c_char, c_void};

use super::args::pyrt_args;
use super::error::pyrt_error;
use super::object::object_handle;
use super::object::pyrt_object;
use super::{boundary, require_out, ErrOut};
use crate::args::{Arg, Vouched};
use crate::error::Error;
use crate::runtime;

/// Element type: IEEE 754 double (Python format "d").
pub const PYRT_BUFFER_FLOAT64: u32 = 1;
/// Element type: IEEE 754 float (format "f").
pub const PYRT_BUFFER_FLOAT32: u32 = 2;
/// Element type: int64_t (format "q").
pub const PYRT_BUFFER_INT64: u32 = 3;
/// Element type: int32_t (format "i").
pub const PYRT_BUFFER_INT32: u32 = 4;
/// Element type: uint8_t (format "B").
pub const PYRT_BUFFER_UINT8: u32 = 5;
/// Element type: int8_t (format "b").
pub const PYRT_BUFFER_INT8: u32 = 6;
/// Element type: int16_t (format "h").
pub const PYRT_BUFFER_INT16: u32 = 7;
/// Element type: uint16_t (format "H").
pub const PYRT_BUFFER_UINT16: u32 = 8;
/// Element type: uint32_t (format "I").
pub const PYRT_BUFFER_UINT32: u32 = 9;
/// Element type: uint64_t (format "Q").
pub const PYRT_BUFFER_UINT64: u32 = 10;

/// Buffer flag: Python may write to the memory (pyrt_args_push_buffer: the memoryview is
/// writable; pyrt_object_buffer: ask the object for a writable buffer).
pub const PYRT_BUFFER_WRITABLE: u32 = 1;
/// Buffer flag (pyrt_object_buffer): the buffer must be C-contiguous (row-major, no gaps);
/// otherwise the call fails with PYRT_ERR_INVALID_ARGUMENT (or the object's own BufferError).
pub const PYRT_BUFFER_CONTIGUOUS: u32 = 2;

/// Lends `count` elements of type `elem_type` (PYRT_BUFFER_FLOAT64, ...) at `data` to the next
/// typed call made with `args` (pyrt_object_call_double/int/args/args_json): Python receives a
/// one-dimensional `memoryview` of that memory — no copy — with the element type's format, so
/// `numpy.frombuffer(mv, numpy.float64)` and `numpy.asarray(mv)` work on the host's bytes.
/// `flags`: 0 (read-only: Python writing to it raises TypeError) or PYRT_BUFFER_WRITABLE
/// (Python's writes land in the host memory, e.g. `numpy.multiply(a, 2, out=numpy.asarray(mv))`).
///
/// Lifetime: pyrt stores the pointer, not the data. The memory must stay valid, and must not be
/// written by the host, from this push until the call that uses `args` returns (or the list is
/// cleared or freed without a call). The view lives for that call only: when the call returns
/// pyrt releases the memoryview it passed (a Python that kept it gets ValueError on use) and
/// refuses new views (BufferError). If Python still holds a view of the memory then (an array
/// made from it stored in a global, a memoryview slice kept, ...), the call fails with
/// PYRT_ERR_BUFFER_ESCAPED and the memory must stay valid for as long as Python may run: an
/// extension's raw pointer cannot be withdrawn. A result that refers to the memory (returning
/// `numpy.frombuffer(mv)` itself) is PYRT_ERR_CONVERSION and is dropped: return a copy, or write
/// into a writable buffer instead. Each call costs a few small objects, whatever the size.
///
/// `data` may be NULL only when `count` is 0. PYRT_ERR_INVALID_ARGUMENT for a NULL `args`, an
/// unknown `elem_type` or flag, or a size overflow. The list is not thread-safe (as for every
/// pyrt_args_* function); the call it is used with runs on any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_buffer(args: *mut pyrt_args, data: *mut c_void, count: usize, elem_type: u32, flags: u32) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        let a = unsafe { super::args::args_mut(args) }?;
        let (_, itemsize) = runtime::buffer_elem_info(elem_type)
            .ok_or_else(|| Error::invalid_argument(format!("unknown buffer element type {elem_type}")))?;
        if flags & !PYRT_BUFFER_WRITABLE != 0 {
            return Err(Error::invalid_argument(format!("unknown buffer flags {flags:#x}")));
        }
        if data.is_null() && count != 0 {
            return Err(Error::invalid_argument("data is NULL with a non-zero count"));
        }
        if count.checked_mul(itemsize).is_none_or(|n| n > isize::MAX as usize) {
            return Err(Error::invalid_argument("buffer too large"));
        }
        // SAFETY: the memory stays valid, readable and (if lent writable) writable for `count`
        // elements whenever the list is passed to a call (the header's contract); NULL only with 0.
        let vouched = unsafe { Vouched::new() };
        a.push(Arg::Buffer { data: data as usize, count, elem: elem_type, writable: flags & PYRT_BUFFER_WRITABLE != 0, vouched });
        Ok(())
    })
}

/// A view of an object's buffer (the buffer protocol: NumPy arrays, array.array, bytes,
/// bytearray, memoryview, ...), held by the host. Opaque; made by pyrt_object_buffer(), freed
/// with pyrt_buffer_free(). While it lives, the memory stays valid and in place (the object
/// cannot be resized or freed: the view keeps a reference to it) — also after the object's
/// handle is freed. The accessors below read plain fields: they never take the GIL and may be
/// called from any thread, concurrently. Python code running meanwhile may still write to a
/// writable buffer (as it could to any shared memory).
pub struct pyrt_buffer {
    inner: runtime::BufferExport,
}

/// Gets a view of `obj`'s buffer into `*buf_out` (must not be NULL; free it with
/// pyrt_buffer_free()). `flags`: PYRT_BUFFER_WRITABLE (ask for write access; a read-only object
/// then fails), PYRT_BUFFER_CONTIGUOUS (fail unless the memory is C-contiguous), or 0. An object
/// without a buffer is PYRT_ERR_PYTHON (TypeError). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_buffer(
    obj: *mut pyrt_object,
    flags: u32,
    buf_out: *mut *mut pyrt_buffer,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(buf_out, "buf_out")?;
        if flags & !(PYRT_BUFFER_WRITABLE | PYRT_BUFFER_CONTIGUOUS) != 0 {
            return Err(Error::invalid_argument(format!("unknown buffer flags {flags:#x}")));
        }
        let export =
            runtime::object_buffer(object_handle(obj, "obj")?, flags & PYRT_BUFFER_WRITABLE != 0, flags & PYRT_BUFFER_CONTIGUOUS != 0)?;
        // SAFETY: `buf_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *buf_out = Box::into_raw(Box::new(pyrt_buffer { inner: export })) };
        Ok(())
    })
}

/// Copies all of `obj`'s buffer, in C (row-major) order whatever its strides, into `dst`
/// (`dst_len` bytes) — one copy — and writes the number of bytes copied to `*len_out` (may be
/// NULL). `dst` too small is PYRT_ERR_INVALID_ARGUMENT, with `*len_out` still set to the size
/// needed (call with `dst_len` 0 to ask). For shape and element type use pyrt_object_buffer().
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_buffer_copy(
    obj: *mut pyrt_object,
    dst: *mut c_void,
    dst_len: usize,
    len_out: *mut usize,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: `dst` is NULL or writable for `dst_len` bytes during the call (the header's contract).
        let (needed, r) = unsafe { runtime::object_buffer_copy(object_handle(obj, "obj")?, dst, dst_len) }?;
        if !len_out.is_null() {
            // SAFETY: not NULL (checked); the header allows NULL or a writable `size_t *`, valid for the call.
            unsafe { *len_out = needed };
        }
        r
    })
}

/// The view behind `buf`, or `None` for NULL.
///
/// # Safety
/// `buf` is NULL or a live view from pyrt_object_buffer(), not freed while the result lives.
unsafe fn buffer<'a>(buf: *const pyrt_buffer) -> Option<&'a runtime::BufferExport> {
    // SAFETY: NULL is handled by `as_ref`; otherwise a live `pyrt_buffer` made by a Box (the
    // contract). Every use of it is a read (the accessors may run concurrently, all reading).
    unsafe { buf.as_ref().map(|b| &b.inner) }
}

/// The address of the first element. Valid until pyrt_buffer_free(); writable only if
/// pyrt_buffer_readonly() is false. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_data(buf: *const pyrt_buffer) -> *mut c_void {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(std::ptr::null_mut(), |b| b.data())
}

/// The size in bytes (the product of the shape and the item size). 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_len(buf: *const pyrt_buffer) -> usize {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(0, |b| b.len())
}

/// The size of one element in bytes. 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_itemsize(buf: *const pyrt_buffer) -> usize {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(0, |b| b.itemsize())
}

/// The number of dimensions (0 for a scalar, 1 for a vector, ...). 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_ndim(buf: *const pyrt_buffer) -> usize {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(0, |b| b.ndim())
}

/// The extent of each dimension (pyrt_buffer_ndim() entries), owned by the view. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_shape(buf: *const pyrt_buffer) -> *const i64 {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(std::ptr::null(), |b| b.shape.as_ptr())
}

/// The step in bytes along each dimension (pyrt_buffer_ndim() entries; may be negative or
/// larger than the item size for views such as a[::-2] or a.T), owned by the view. NULL for
/// NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_strides(buf: *const pyrt_buffer) -> *const i64 {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(std::ptr::null(), |b| b.strides.as_ptr())
}

/// The element format in the struct module's notation as the object reports it ("d", "<f",
/// "l", "?", "Zd", ...; "B" when the object gave none), owned by the view. NULL for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_format(buf: *const pyrt_buffer) -> *const c_char {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(std::ptr::null(), |b| b.format.as_ptr())
}

/// The format as a PYRT_BUFFER_* element type when it is one of them on this platform (NumPy's
/// int64 reports "l": PYRT_BUFFER_INT64), else 0 (bool, complex, big-endian, structs, ...).
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_elem_type(buf: *const pyrt_buffer) -> u32 {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.map_or(0, |b| b.elem)
}

/// True when the memory may not be written. True for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_readonly(buf: *const pyrt_buffer) -> bool {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.is_none_or(|b| b.readonly())
}

/// True when the memory is C-contiguous: pyrt_buffer_len() bytes from pyrt_buffer_data() in
/// row-major order. False for NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_contiguous(buf: *const pyrt_buffer) -> bool {
    // SAFETY: `buf` is NULL or a live view from pyrt_object_buffer() not yet freed (the header's contract).
    unsafe { buffer(buf) }.is_some_and(|b| b.c_contiguous)
}

/// Copies the view's elements in C (row-major) order into `dst` (`dst_len` bytes, at least
/// pyrt_buffer_len()): one copy, whatever the strides. Takes the GIL for the copy. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_copy(buf: *const pyrt_buffer, dst: *mut c_void, dst_len: usize, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: `buf` is NULL (an error) or a live view, not freed during the call (the header's contract).
        let b = unsafe { buffer(buf) }.ok_or_else(|| Error::invalid_argument("buf is NULL"))?;
        // SAFETY: `dst` is NULL or writable for `dst_len` bytes during the call (the header's contract).
        unsafe { runtime::buffer_copy(b, dst, dst_len) }
    })
}

/// Releases the view. NULL is a no-op; free each view once. Never takes the GIL and never
/// blocks on Python (the release is done by the next thread that enters the interpreter), so it
/// is safe from any thread, including Go finalizers. Free views before freeing the last runtime:
/// a view that outlives the interpreter is never released and its memory is gone.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buffer_free(buf: *mut pyrt_buffer) {
    if !buf.is_null() {
        // SAFETY: not NULL; per the header `buf` came from pyrt_object_buffer() (Box::into_raw), is
        // freed once and not used afterwards (the accessors' results die with it, as documented).
        let b = unsafe { Box::from_raw(buf) };
        runtime::buffer_free(b.inner);
    }
}
