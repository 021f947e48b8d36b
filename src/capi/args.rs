//! The typed fast path: argument lists built without JSON, and typed results.

use std::ffi::c_char;

use super::error::pyrt_error;
use super::object::object_handle;
use super::object::pyrt_object;
use super::{boundary, require_out, ErrOut};
use crate::args::{Arg, Args};
use crate::error::{Error, Result};
use crate::runtime;

/// A reusable list of typed arguments (int64, double, bool, string, bytes, object handles,
/// None) for the pyrt_object_call_* fast path. Built by the host without touching Python; owned
/// by the caller (pyrt_args_free). Not thread-safe: use one list per thread (it may move between
/// threads between uses). pyrt_args_clear() keeps its memory, so a hot loop allocates nothing.
pub struct pyrt_args {
    inner: Args,
}

/// The list behind `a`; NULL is PYRT_ERR_INVALID_ARGUMENT.
///
/// # Safety
/// `a` is NULL or a live list from pyrt_args_new(), not used elsewhere while the result lives.
pub(crate) unsafe fn args_mut<'a>(a: *mut pyrt_args) -> Result<&'a mut Args> {
    // SAFETY: NULL is handled by `as_mut`; otherwise a live, unaliased `pyrt_args` (the contract),
    // which a Box made, so it is aligned and initialized.
    unsafe { a.as_mut() }.map(|a| &mut a.inner).ok_or_else(|| Error::invalid_argument("args is NULL"))
}

/// A new, empty argument list. Never NULL. Free with pyrt_args_free().
#[no_mangle]
pub extern "C" fn pyrt_args_new() -> *mut pyrt_args {
    Box::into_raw(Box::new(pyrt_args { inner: Args::default() }))
}

/// Frees an argument list. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_free(args: *mut pyrt_args) {
    if !args.is_null() {
        // SAFETY: not NULL; the header's contract: `args` came from pyrt_args_new() (Box::into_raw)
        // and is freed once, and nothing uses it afterwards.
        drop(unsafe { Box::from_raw(args) });
    }
}

/// Empties the list, keeping its memory. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_clear(args: *mut pyrt_args) {
    // SAFETY: NULL or a live list from pyrt_args_new() that no other thread uses meanwhile (the
    // header's contract: one list per thread).
    if let Some(a) = unsafe { args.as_mut() } {
        a.inner.clear();
    }
}

/// Appends a Python int. PYRT_ERR_INVALID_ARGUMENT if `args` is NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_int(args: *mut pyrt_args, value: i64) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        unsafe { args_mut(args) }?.push(Arg::Int(value));
        Ok(())
    })
}

/// Appends a Python float. PYRT_ERR_INVALID_ARGUMENT if `args` is NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_double(args: *mut pyrt_args, value: f64) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        unsafe { args_mut(args) }?.push(Arg::Double(value));
        Ok(())
    })
}

/// Appends `count` Python floats read from `values` (copied). `values` may be NULL only when
/// `count` is 0. The same as `count` calls of pyrt_args_push_double(), in one call: for several
/// at once, and for hosts that cannot pass a double in a register (Go's purego.SyscallN).
/// PYRT_ERR_INVALID_ARGUMENT if `args` is NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_doubles(args: *mut pyrt_args, values: *const f64, count: usize) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        let a = unsafe { args_mut(args) }?;
        if count == 0 {
            return Ok(());
        }
        if values.is_null() {
            return Err(Error::invalid_argument("values is NULL with a non-zero count"));
        }
        // SAFETY: `values` is not NULL (checked) and, per the header, points to `count` doubles
        // valid for the call; a C `double *` is aligned for f64 (the same type).
        for &v in unsafe { std::slice::from_raw_parts(values, count) } {
            a.push(Arg::Double(v));
        }
        Ok(())
    })
}

/// Appends True or False. PYRT_ERR_INVALID_ARGUMENT if `args` is NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_bool(args: *mut pyrt_args, value: bool) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        unsafe { args_mut(args) }?.push(Arg::Bool(value));
        Ok(())
    })
}

/// Appends None. PYRT_ERR_INVALID_ARGUMENT if `args` is NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_none(args: *mut pyrt_args) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        unsafe { args_mut(args) }?.push(Arg::None);
        Ok(())
    })
}

/// Appends a str from `len` bytes of UTF-8 at `utf8` (copied; need not be NUL-terminated; may
/// be NULL when `len` is 0). PYRT_ERR_INVALID_UTF8 for invalid text.
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_str(args: *mut pyrt_args, utf8: *const c_char, len: usize) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        let a = unsafe { args_mut(args) }?;
        // SAFETY: per the header `utf8` points to `len` readable bytes valid for the call (NULL
        // allowed when `len` is 0, which `bytes_in` handles).
        let bytes = unsafe { bytes_in(utf8.cast(), len) }?;
        let s = std::str::from_utf8(bytes)
            .map_err(|e| Error::new(crate::ErrorKind::InvalidUtf8, format!("string argument is not valid UTF-8: {e}")))?;
        a.push(Arg::Str(s.to_owned()));
        Ok(())
    })
}

/// Appends a bytes object from `len` bytes at `data` (copied; may be NULL when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_bytes(args: *mut pyrt_args, data: *const u8, len: usize) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        let a = unsafe { args_mut(args) }?;
        // SAFETY: per the header `data` points to `len` readable bytes valid for the call (NULL
        // allowed when `len` is 0, which `bytes_in` handles).
        a.push(Arg::Bytes(unsafe { bytes_in(data, len) }?.to_vec()));
        Ok(())
    })
}

/// Appends the object a handle refers to (checked when the call is made; the handle is not
/// consumed).
#[no_mangle]
pub unsafe extern "C" fn pyrt_args_push_object(args: *mut pyrt_args, obj: *const pyrt_object) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `args` is NULL (an error) or a live list from pyrt_args_new() that no other thread
        // uses during the call (the header's contract).
        unsafe { args_mut(args) }?.push(Arg::Object(object_handle(obj, "obj")?));
        Ok(())
    })
}

/// `len` bytes at `p`; `p` may be NULL when `len` is 0.
///
/// # Safety
/// Unless `len` is 0, `p` is NULL or points to `len` readable bytes that stay valid and
/// unchanged for `'a`.
unsafe fn bytes_in<'a>(p: *const u8, len: usize) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::invalid_argument("data is NULL with a non-zero length"));
    }
    // SAFETY: not NULL (checked), `len` readable bytes (the contract); u8 has alignment 1.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// The list behind `args`, or `empty` for NULL ("no arguments").
///
/// # Safety
/// `args` is NULL or a live list from pyrt_args_new() that nothing mutates while the result lives.
unsafe fn list(args: *const pyrt_args, empty: &Args) -> &Args {
    // SAFETY: NULL is handled by `as_ref`; otherwise a live `pyrt_args` made by a Box (the contract).
    unsafe { args.as_ref().map_or(empty, |a| &a.inner) }
}

/// Calls `callable(*args)` and reads a float result (an int result is converted; anything else
/// is PYRT_ERR_CONVERSION). `args` may be NULL (no arguments). `result_out` must not be NULL.
/// The fast path: no JSON. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call_double(
    callable: *mut pyrt_object,
    args: *const pyrt_args,
    result_out: *mut f64,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: `args` is NULL or a live list not used elsewhere during the call (the header's contract).
        let v = runtime::object_call_typed(
            object_handle(callable, "callable")?,
            unsafe { list(args, &Args::default()) },
            runtime::read_double,
        )?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the contract).
        unsafe { *result_out = v };
        Ok(())
    })
}

/// Calls `callable(*args)` and reads an int result that fits in 64 bits (else
/// PYRT_ERR_CONVERSION). `args` may be NULL. `result_out` must not be NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call_int(
    callable: *mut pyrt_object,
    args: *const pyrt_args,
    result_out: *mut i64,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: `args` is NULL or a live list not used elsewhere during the call (the header's contract).
        let v =
            runtime::object_call_typed(object_handle(callable, "callable")?, unsafe { list(args, &Args::default()) }, runtime::read_int)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the contract).
        unsafe { *result_out = v };
        Ok(())
    })
}

/// Calls `callable(*args)` and keeps the result as a new object handle in `*obj_out` (must not
/// be NULL; free with pyrt_object_free()). `args` may be NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call_args(
    callable: *mut pyrt_object,
    args: *const pyrt_args,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(obj_out, "obj_out")?;
        // SAFETY: `args` is NULL or a live list not used elsewhere during the call (the header's contract).
        let id = runtime::object_call_typed(
            object_handle(callable, "callable")?,
            unsafe { list(args, &Args::default()) },
            runtime::read_object,
        )?;
        // SAFETY: `obj_out` is not NULL (require_out) and writable for the call (the contract).
        unsafe { *obj_out = id as usize as *mut pyrt_object };
        Ok(())
    })
}

/// Calls `callable(*args)` and returns the result's encoding (`flags` as for
/// pyrt_call_value()). `args` may be NULL. `result_out` must not be NULL; free it with
/// pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call_args_json(
    callable: *mut pyrt_object,
    args: *const pyrt_args,
    flags: u32,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: `args` is NULL or a live list not used elsewhere during the call (the header's contract).
        let json = runtime::object_call_typed(
            object_handle(callable, "callable")?,
            unsafe { list(args, &Args::default()) },
            runtime::read_json(flags),
        )?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the contract).
        unsafe { *result_out = json.into_raw() };
        Ok(())
    })
}
