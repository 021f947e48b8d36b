//! Object handles (docs/values.md): making them, and reading, changing and calling the objects.

use std::ffi::{CStr, CString};

use super::guard::{enter, enter_object};
use super::values::{call_args, give, mode, Returned};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::python::exception::OrFetch;
use crate::python::{self, convert, exec, handles, PyRef};

/// Imports a module as an object handle.
pub fn object_import(token: u64, module: &str) -> Result<u64> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let c = CString::new(module).map_err(|_| Error::invalid_argument("module contains NUL"))?;
        let m = py.import(&c).or_fetch(py)?;
        handles::register(m, token)
    })
}

/// Evaluates an expression in `__main__` and keeps the result as an object handle.
pub fn object_eval(token: u64, expr: &CStr) -> Result<u64> {
    let guard = enter(token)?;
    guard.with_gil(|py| exec::eval(py, expr).and_then(|v| handles::register(v, token)))
}

/// Builds an object from an encoded value.
pub fn object_from_json(token: u64, json: &str, flags: u32) -> Result<u64> {
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
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
    py.new_str(name).or_fetch(py)
}

/// `getattr(object, name)` as a new handle or as its encoding.
pub fn object_getattr(object: u64, name: &str, flags: u32, as_object: bool) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let n = name_obj(py, name)?;
        let v = py.getattr(&o, &n).or_fetch(py)?;
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
        py.setattr(&o, &n, &v).or_fetch(py)
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
            callable = py.getattr(&callable, &n).or_fetch(py)?;
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
        let s = if repr { py.repr(&o) } else { py.str(&o) }.or_fetch(py)?;
        let text = py.str_to_string(&s).ok_or_else(|| Error::new(ErrorKind::Conversion, "text is not valid UTF-8 (lone surrogates)"))?;
        CString::new(text.replace('\0', "\\x00")).map_err(|_| Error::new(ErrorKind::Internal, "NUL in text"))
    })
}

/// Releases an object handle; from any thread, without the GIL, never blocking on Python.
pub fn object_free(object: u64) {
    super::iterate::forget(object);
    handles::release(object);
}
