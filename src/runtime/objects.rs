//! Object handles (docs/values.md): making them, and reading, changing and calling the objects.

use std::ffi::{CStr, CString};

use super::guard::{enter, enter_object};
use super::values::{call_args, give, mode, Returned};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::python::{self, convert, exception, exec, handles, PyRef};

/// Imports a module as an object handle.
pub fn object_import(token: u64, module: &str) -> Result<u64> {
    let guard = enter(token)?;
    guard.no_workers("pyrt_import")?;
    guard.with_gil(|py| {
        let c = CString::new(module).map_err(|_| Error::invalid_argument("module contains NUL"))?;
        // SAFETY: the `py` token proves the GIL is held; `c` is NUL-terminated. A new reference
        // (owned by the `PyRef`) or NULL with an error set.
        let m = PyRef::from_owned(unsafe { (py.api.PyImport_ImportModule)(c.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        handles::register(m, token)
    })
}

/// Evaluates an expression in `__main__` and keeps the result as an object handle.
pub fn object_eval(token: u64, expr: &CStr) -> Result<u64> {
    let guard = enter(token)?;
    guard.no_workers("pyrt_eval_object")?;
    guard.with_gil(|py| exec::eval(py, expr).and_then(|v| handles::register(v, token)))
}

/// Builds an object from an encoded value.
pub fn object_from_json(token: u64, json: &str, flags: u32) -> Result<u64> {
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    guard.no_workers("pyrt_object_from_json")?;
    guard.with_gil(|py| convert::from_json_mode(py, json, mode).and_then(|v| handles::register(v, token)))
}

/// The encoding of an object's value.
pub fn object_to_json(object: u64, flags: u32) -> Result<CText> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        convert::to_json_cstring_mode(py, &o, mode)
    })
}

fn name_obj(py: python::Python, name: &str) -> Result<PyRef> {
    // SAFETY: the `py` token proves the GIL is held; `name` is `name.len()` readable bytes (a
    // `&str` is at most isize::MAX long). A new reference or NULL with an error set.
    PyRef::from_owned(unsafe { (py.api.PyUnicode_FromStringAndSize)(name.as_ptr().cast(), name.len() as isize) })
        .ok_or_else(|| exception::fetch(py))
}

/// `getattr(object, name)` as a new handle or as its encoding.
pub fn object_getattr(object: u64, name: &str, flags: u32, as_object: bool) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let n = name_obj(py, name)?;
        // SAFETY: `o` and `n` own references to live objects; the `py` token proves the GIL is held.
        let v = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(o.as_ptr(), n.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `setattr(object, name, value)`, the value given encoded or as another handle.
pub fn object_setattr(object: u64, name: &str, value_json: Option<&str>, value_object: Option<u64>, flags: u32) -> Result<()> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let v = match (value_json, value_object) {
            (Some(json), _) => convert::from_json_mode(py, json, mode)?,
            (None, Some(h)) => handles::get(py, h)?,
            (None, None) => return Err(Error::invalid_argument("no value")),
        };
        let n = name_obj(py, name)?;
        // SAFETY: `o`, `n` and `v` own references to live objects (SetAttr takes its own reference
        // to the value); the `py` token proves the GIL is held.
        if unsafe { (py.api.PyObject_SetAttr)(o.as_ptr(), n.as_ptr(), v.as_ptr()) } != 0 {
            return Err(exception::fetch(py));
        }
        Ok(())
    })
}

/// Calls the object itself (`method` None) or its method `method`.
pub fn object_call(
    object: u64,
    method: Option<&str>,
    args: Option<&str>,
    kwargs: Option<&str>,
    flags: u32,
    as_object: bool,
) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let mut callable = handles::get(py, object)?;
        if let Some(m) = method {
            let n = name_obj(py, m)?;
            // SAFETY: `callable` and `n` own references to live objects; the `py` token proves the
            // GIL is held. The old `callable` is dropped only after the call returns.
            callable = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(callable.as_ptr(), n.as_ptr()) })
                .ok_or_else(|| exception::fetch(py))?;
        }
        let v = exec::call(py, &callable, &args, kwargs.as_ref())?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `repr(object)` or `str(object)`.
pub fn object_text(object: u64, repr: bool) -> Result<CString> {
    let (guard, _) = enter_object(object)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let f = if repr { py.api.PyObject_Repr } else { py.api.PyObject_Str };
        // SAFETY: `f` is `PyObject_Repr` or `PyObject_Str`; `o` owns a reference to a live object and
        // the `py` token proves the GIL is held. A new reference or NULL with an error set.
        let s = PyRef::from_owned(unsafe { f(o.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        let text = py.str_to_string(&s).ok_or_else(|| Error::new(ErrorKind::Conversion, "text is not valid UTF-8 (lone surrogates)"))?;
        CString::new(text.replace('\0', "\\x00")).map_err(|_| Error::new(ErrorKind::Internal, "NUL in text"))
    })
}

/// Releases an object handle; from any thread, without the GIL, never blocking on Python.
pub fn object_free(object: u64) {
    handles::release(object);
}
