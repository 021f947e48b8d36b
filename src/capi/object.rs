//! Object handles and the tagged value encoding (docs/values.md).

use std::ffi::c_char;

use super::error::pyrt_error;
use super::runtime::{fill_buf, pyrt_buf, pyrt_runtime};
use super::{boundary, c_text, optional_json, optional_text, require_out, text, ErrOut};
use crate::error::{Error, Result};
use crate::runtime::{self, Returned};

/// A handle owning one reference to a Python object. Opaque: a token pyrt checks against a
/// table, so a freed handle — or one whose runtime was freed — gives PYRT_ERR_CLOSED, never a
/// crash. Free it with pyrt_object_free(). Inside tagged JSON it is written
/// `{"__pyrt__": "object", "v": <pyrt_object_id(obj)>}`.
pub struct pyrt_object {
    _private: [u8; 0],
}

/// Value flag: inputs and outputs use the tagged encoding (docs/values.md): bytes, tuples,
/// sets, dicts with non-str keys, NaN/inf, complex, datetime/date/time/timedelta, Decimal and
/// object handles as `{"__pyrt__": kind, "v": value}`; plain JSON stays plain.
pub const PYRT_VALUE_TAGGED: u32 = 1;
/// Value flag: an output value with no encoding becomes a new object handle (tag "object")
/// instead of a PYRT_ERR_CONVERSION error; free those handles with pyrt_object_free().
pub const PYRT_VALUE_HANDLES: u32 = 2;

/// An object handle's token. A NULL handle is PYRT_ERR_INVALID_ARGUMENT, as a NULL runtime is
/// (the header's Errors section: every handle type alike); a freed one is PYRT_ERR_CLOSED, found
/// when the token is looked up.
pub(crate) fn object_handle(o: *const pyrt_object, what: &str) -> Result<u64> {
    if o.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    Ok(o as usize as u64)
}

/// The token of a handle that may be NULL where NULL means "none" (pyrt_object_id, free).
fn object_token(o: *const pyrt_object) -> u64 {
    o as usize as u64
}

/// Stores a JSON result in `*out` (other results are dropped).
///
/// # Safety
/// `out` is a valid, writable `char **` (not NULL).
unsafe fn put_json(out: *mut *mut c_char, r: Returned) {
    if let Returned::Json(j) = r {
        // SAFETY: writable and not NULL (the contract).
        unsafe { *out = j.into_raw() };
    }
}

/// Stores an object-handle result in `*out` (other results are dropped).
///
/// # Safety
/// `out` is a valid, writable `pyrt_object **` (not NULL).
unsafe fn put_object(out: *mut *mut pyrt_object, r: Returned) {
    if let Returned::Object(id) = r {
        // SAFETY: writable and not NULL (the contract).
        unsafe { *out = id as usize as *mut pyrt_object };
    }
}

/// Checks `out`, runs `f` and stores the handle it returns in `*out`.
///
/// # Safety
/// `out` is NULL (an error) or a writable `pyrt_object **` valid for the call.
unsafe fn handle_out(out: *mut *mut pyrt_object, f: impl FnOnce() -> Result<u64>) -> Result<()> {
    require_out(out, "obj_out")?;
    let id = f()?;
    // SAFETY: not NULL (require_out) and writable (the contract).
    unsafe { *out = id as usize as *mut pyrt_object };
    Ok(())
}

/// Calls `target` — "module:function", the function possibly dotted ("os:path.join") — with
/// encoded arguments (`args_json` a JSON array or NULL, `kwargs_json` an object or NULL) and
/// returns the result's encoding. `flags`: PYRT_VALUE_TAGGED and/or PYRT_VALUE_HANDLES; other
/// bits are PYRT_ERR_INVALID_ARGUMENT. With flags 0 this is pyrt_call_json(). `result_out`
/// must not be NULL; free it with pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_value(
    rt: *mut pyrt_runtime,
    target: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe {
            runtime::call_value(
                super::runtime::token(rt)?,
                text(target, "target")?,
                optional_text(args_json, "args_json")?,
                optional_text(kwargs_json, "kwargs_json")?,
                flags,
                false,
            )
        }?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_json(result_out, r) };
        Ok(())
    })
}

/// pyrt_call_value() writing the result into `out` (see pyrt_buf) instead of a new string: for
/// bindings and hot loops (one foreign call per Python call, no allocation). With flags 0 this
/// is pyrt_call_json_buf(). `out` must not be NULL; on failure it is left as it was. Any
/// thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_value_buf(
    rt: *mut pyrt_runtime,
    target: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    out: *mut pyrt_buf,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(out, "out")?;
        // SAFETY: each string is NULL (an error for `target`, absent for the JSON) or
        // NUL-terminated and valid for the call (the header's contract).
        let (target, args, kwargs) = unsafe { (text(target, "target")?, optional_json(args_json), optional_json(kwargs_json)) };
        // (An address, so the closure may run on the interpreter's main thread for a main_thread
        // handle; the caller waits for it.)
        let out = out as usize;
        runtime::call_value_with(super::runtime::token(rt)?, target, args, kwargs, flags, move |json| {
            // SAFETY: `out` is not NULL (require_out) and, per the header, a valid `pyrt_buf` (zeroed
            // or filled by earlier calls, never written by the host) that serves this call only, for
            // its duration; this closure runs (at most once) before call_value_with returns, so the
            // `&mut` is the only reference while it lives.
            unsafe { fill_buf(&mut *(out as *mut pyrt_buf), json) }
        })?
    })
}

/// Evaluates a Python expression in `__main__` (as pyrt_eval_json()) and writes the value's
/// encoding (`flags` as for pyrt_call_value(); with 0 the plain JSON of pyrt_eval_json()) into
/// `out` (see pyrt_buf). `expr` must be NUL-terminated UTF-8; `out` must not be NULL; on
/// failure it is left as it was. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_eval_value_buf(
    rt: *mut pyrt_runtime,
    expr: *const c_char,
    flags: u32,
    out: *mut pyrt_buf,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(out, "out")?;
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let expr = unsafe { c_text(expr, "expr") }?;
        let out = out as usize;
        runtime::eval_value_with(super::runtime::token(rt)?, expr, flags, move |json| {
            // SAFETY: as in pyrt_call_value_buf: `out` is a valid `pyrt_buf` (not NULL, checked by
            // require_out) serving this call only; the closure runs at most once, before
            // eval_value_with returns, so the `&mut` is the only reference while it lives.
            unsafe { fill_buf(&mut *(out as *mut pyrt_buf), json) }
        })?
    })
}

/// As pyrt_call_value(), but keeps the result as an object handle in `*obj_out` (must not be
/// NULL; free with pyrt_object_free()). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_object(
    rt: *mut pyrt_runtime,
    target: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(obj_out, "obj_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe {
            runtime::call_value(
                super::runtime::token(rt)?,
                text(target, "target")?,
                optional_text(args_json, "args_json")?,
                optional_text(kwargs_json, "kwargs_json")?,
                flags,
                true,
            )
        }?;
        // SAFETY: `obj_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_object(obj_out, r) };
        Ok(())
    })
}

/// Imports `module` and returns it as an object handle in `*obj_out` (must not be NULL).
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_import(
    rt: *mut pyrt_runtime,
    module: *const c_char,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `obj_out` is NULL (an error) or writable, the string NULL (an error) or NUL-terminated,
    // both valid for the call (the header's contract).
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || unsafe {
        handle_out(obj_out, || runtime::object_import(super::runtime::token(rt)?, text(module, "module")?))
    })
}

/// Evaluates a Python expression in `__main__` and returns the value as an object handle in
/// `*obj_out` (must not be NULL). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_eval_object(
    rt: *mut pyrt_runtime,
    expr: *const c_char,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `obj_out` is NULL (an error) or writable, the string NULL (an error) or NUL-terminated,
    // both valid for the call (the header's contract).
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || unsafe {
        handle_out(obj_out, || runtime::object_eval(super::runtime::token(rt)?, c_text(expr, "expr")?))
    })
}

/// Builds a Python object from an encoded value (`flags` as for pyrt_call_value()) and returns
/// it as an object handle in `*obj_out` (must not be NULL). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_from_json(
    rt: *mut pyrt_runtime,
    json: *const c_char,
    flags: u32,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `obj_out` is NULL (an error) or writable, the string NULL (an error) or NUL-terminated,
    // both valid for the call (the header's contract).
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || unsafe {
        handle_out(obj_out, || runtime::object_from_json(super::runtime::token(rt)?, text(json, "json")?, flags))
    })
}

/// The encoding of the object's value (`flags` as for pyrt_call_value()). `result_out` must not
/// be NULL; free it with pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_to_json(
    obj: *mut pyrt_object,
    flags: u32,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        let json = runtime::object_to_json(object_handle(obj, "obj")?, flags)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = json.into_raw() };
        Ok(())
    })
}

/// `getattr(obj, name)` as a new object handle in `*obj_out` (must not be NULL). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_getattr(
    obj: *mut pyrt_object,
    name: *const c_char,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(obj_out, "obj_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe { runtime::object_getattr(object_handle(obj, "obj")?, text(name, "name")?, 0, true) }?;
        // SAFETY: `obj_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_object(obj_out, r) };
        Ok(())
    })
}

/// `getattr(obj, name)` encoded (`flags` as for pyrt_call_value()). `result_out` must not be
/// NULL; free it with pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_getattr_json(
    obj: *mut pyrt_object,
    name: *const c_char,
    flags: u32,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe { runtime::object_getattr(object_handle(obj, "obj")?, text(name, "name")?, flags, false) }?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_json(result_out, r) };
        Ok(())
    })
}

/// `setattr(obj, name, value)` where `value` is another object handle (not consumed: the
/// caller still frees it). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_setattr(
    obj: *mut pyrt_object,
    name: *const c_char,
    value: *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        if value.is_null() {
            return Err(crate::Error::invalid_argument("value is NULL"));
        }
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        unsafe { runtime::object_setattr(object_handle(obj, "obj")?, text(name, "name")?, None, Some(object_handle(value, "value")?), 0) }
    })
}

/// `setattr(obj, name, value)` with an encoded value (`flags` as for pyrt_call_value()).
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_setattr_json(
    obj: *mut pyrt_object,
    name: *const c_char,
    value_json: *const c_char,
    flags: u32,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        unsafe {
            runtime::object_setattr(object_handle(obj, "obj")?, text(name, "name")?, Some(text(value_json, "value_json")?), None, flags)
        }
    })
}

/// Calls the object (`method` NULL: a function, class or bound method) or its method `method`,
/// with encoded arguments, and returns the result's encoding (`flags` as for
/// pyrt_call_value()). `result_out` must not be NULL; free it with pyrt_string_free().
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call_json(
    obj: *mut pyrt_object,
    method: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe {
            runtime::object_call(
                object_handle(obj, "obj")?,
                optional_text(method, "method")?,
                optional_text(args_json, "args_json")?,
                optional_text(kwargs_json, "kwargs_json")?,
                flags,
                false,
            )
        }?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_json(result_out, r) };
        Ok(())
    })
}

/// As pyrt_object_call_json(), but keeps the result as an object handle in `*obj_out` (must not
/// be NULL; free with pyrt_object_free()). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_call(
    obj: *mut pyrt_object,
    method: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    obj_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(obj_out, "obj_out")?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let r = unsafe {
            runtime::object_call(
                object_handle(obj, "obj")?,
                optional_text(method, "method")?,
                optional_text(args_json, "args_json")?,
                optional_text(kwargs_json, "kwargs_json")?,
                flags,
                true,
            )
        }?;
        // SAFETY: `obj_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { put_object(obj_out, r) };
        Ok(())
    })
}

/// `repr(obj)` as a new string (free with pyrt_string_free()); `result_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_repr(obj: *mut pyrt_object, result_out: *mut *mut c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        let text = runtime::object_text(object_handle(obj, "obj")?, true)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = super::memory::give(text) };
        Ok(())
    })
}

/// `str(obj)` as a new string (free with pyrt_string_free()); `result_out` must not be NULL.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_str(obj: *mut pyrt_object, result_out: *mut *mut c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        let text = runtime::object_text(object_handle(obj, "obj")?, false)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = super::memory::give(text) };
        Ok(())
    })
}

/// The number that stands for this handle inside tagged JSON:
/// `{"__pyrt__": "object", "v": <id>}`. 0 for NULL. Any thread.
#[no_mangle]
pub extern "C" fn pyrt_object_id(obj: *const pyrt_object) -> u64 {
    object_token(obj)
}

/// Releases the handle's reference. NULL, or a handle already freed, is a harmless no-op.
/// Never takes the GIL and never blocks on Python: the reference is dropped by the next thread
/// that enters the interpreter, and never after the interpreter was finalized. So it is safe
/// from any thread at any time, including Go finalizers and host callbacks.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_free(obj: *mut pyrt_object) {
    if !obj.is_null() {
        let _ = std::panic::catch_unwind(|| runtime::object_free(object_token(obj)));
    }
}
