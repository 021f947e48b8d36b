//! Calls through a runtime handle: running code, evaluating, calling `module:function` (JSON or
//! the value encodings), and the typed fast path on an object.

use std::ffi::CStr;
use std::sync::atomic::Ordering::SeqCst;

use super::guard::{enter, enter_interpreter};
use super::handles::{handle_of, SPECIAL_HANDLES};
use super::values::{call_args, give, mode, Returned};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::python::{self, convert, exec, handles, running, PyRef};

pub fn run_string(token: u64, code: &CStr) -> Result<()> {
    let guard = enter(token)?;
    // With workers: run in each, so what it defines is there for every later call.
    guard.with_gil_everywhere(|py| exec::run_code(py, code, c"<string>"))
}

pub fn run_file(token: u64, path: &str) -> Result<()> {
    // A closed handle is reported as such, whatever the path names.
    drop(enter(token)?);
    let io_error = |e: std::io::Error| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::FileNotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{path}: {e}"))
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "is a directory" } else { "is not a regular file" };
        return Err(Error::new(ErrorKind::NotAFile, format!("{path}: {what}")));
    }
    let code = std::fs::read(path).map_err(io_error)?;
    let guard = enter(token)?;
    guard.with_gil_everywhere(|py| exec::run_file(py, &code, path))
}

pub fn eval_json(token: u64, expr: &CStr) -> Result<CText> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::eval(py, expr)?;
        convert::to_json_cstring(py, &v)
    })
}

/// `args`/`kwargs` are JSON bytes (checked for UTF-8 while parsed).
pub fn call_json(token: u64, module: &str, function: &str, args: Option<&[u8]>, kwargs: Option<&[u8]>) -> Result<CText> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::call_json(py, module, function, args, kwargs)?;
        convert::to_json_cstring(py, &v)
    })
}

/// [`call_json`] handing the result's JSON text to `give` (while still holding the GIL: no
/// allocation of its own for the result).
pub fn call_json_with<R: Send>(
    token: u64,
    module: &str,
    function: &str,
    args: Option<&[u8]>,
    kwargs: Option<&[u8]>,
    give: impl FnOnce(&[u8]) -> R + Send,
) -> Result<R> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::call_json(py, module, function, args, kwargs)?;
        convert::with_json(py, &v, give)
    })
}

/// `"module:function"` (function may be dotted) → (module, function).
pub(super) fn split_target(target: &str) -> Result<(&str, &str)> {
    // A byte search: str::split_once(char) goes through the general pattern searcher, which costs
    // about 100 instructions on a hot call's short target.
    let bytes = target.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' {
            // `i` is the index of an ASCII byte, so both sides are on char boundaries.
            return Ok((&target[..i], &target[i + 1..]));
        }
        i += 1;
    }
    Err(Error::invalid_argument(format!("target {target:?} must be \"module:function\"")))
}

/// Calls `module:function` with encoded values.
pub fn call_value(token: u64, target: &str, args: Option<&str>, kwargs: Option<&str>, flags: u32, as_object: bool) -> Result<Returned> {
    let (module, function) = split_target(target)?;
    let mode = mode(flags, token)?;
    let mut guard = enter(token)?;
    guard.pin_to_arguments([args.map(str::as_bytes), kwargs.map(str::as_bytes)]);
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let callable = exec::lookup(py, module, function)?;
        let v = exec::call(py, &callable, &args, kwargs.as_ref())?;
        give(py, v, token, as_object, mode)
    })
}

/// Calls `module:function` with encoded values (`args`/`kwargs` JSON bytes, checked for UTF-8
/// while parsed), handing the result's encoding to `give` while the GIL is held (no allocation
/// of its own for the result).
pub fn call_value_with<R: Send>(
    token: u64,
    target: &str,
    args: Option<&[u8]>,
    kwargs: Option<&[u8]>,
    flags: u32,
    give: impl FnOnce(&[u8]) -> R + Send,
) -> Result<R> {
    let (module, function) = split_target(target)?;
    let mode = mode(flags, token)?;
    let mut guard = enter(token)?;
    guard.pin_to_arguments([args, kwargs]);
    guard.with_gil(|py| {
        let v = exec::call_json_mode(py, module, function, args, kwargs, mode)?;
        convert::with_json_mode(py, &v, mode, give)
    })
}

/// Evaluates `expr` in `__main__`, handing the value's encoding (`flags`) to `give` while the
/// GIL is held.
pub fn eval_value_with<R: Send>(token: u64, expr: &CStr, flags: u32, give: impl FnOnce(&[u8]) -> R + Send) -> Result<R> {
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::eval(py, expr)?;
        convert::with_json_mode(py, &v, mode, give)
    })
}

/// Calls the object `callable` with typed arguments; `read` turns the result into the host value.
pub fn object_call_typed<R: Send>(
    callable: u64,
    args: &crate::args::Args,
    read: impl FnOnce(python::Python, PyRef, u64) -> Result<R> + Send,
) -> Result<R> {
    let mut guard = enter_interpreter()?;
    if SPECIAL_HANDLES.load(SeqCst) > 0 {
        // Some handle has per-call settings: is this object's one of them?
        let (runtime, interp) = handles::owner_of(callable)?;
        guard.handle = handle_of(runtime);
        guard.token = runtime;
        guard.pin = interp;
    }
    guard.with_gil(|py| {
        // Freeing a runtime removes its objects from the table, so finding the object here
        // means its runtime is open (a call racing that free completes, as any concurrent call).
        let (f, runtime) = handles::get_with_runtime(py, callable)?;
        running::set_token(py, runtime);
        let argv = convert::ArgVec::typed(py, &args.items)?;
        let v = exec::call_positional(py, &f, argv.as_refs());
        if argv.loans.is_empty() {
            drop(argv);
            return read(py, v?, runtime);
        }
        // Host buffers were lent: end the loans before anything reaches the host.
        let (loans, escaped) = argv.finish();
        if !escaped {
            return read(py, v?, runtime);
        }
        let error = v.as_ref().err();
        if !loans.settle(py, error) {
            return v.and_then(|v| read(py, v, runtime));
        }
        match v {
            Ok(result) => {
                // The result itself may be what refers to the buffer.
                drop(result);
                if !loans.settle(py, None) {
                    return Err(python::buffer::result_refers_error());
                }
                Err(python::buffer::escaped_error(None))
            }
            Err(e) => Err(python::buffer::escaped_error(Some(&e))),
        }
    })
}

/// The typed readers of [`object_call_typed`].
#[inline]
pub fn read_double(py: python::Python, v: PyRef, _: u64) -> Result<f64> {
    convert::result_double(py, &v)
}
#[inline]
pub fn read_int(py: python::Python, v: PyRef, _: u64) -> Result<i64> {
    convert::result_int(py, &v)
}
pub fn read_object(_: python::Python, v: PyRef, runtime: u64) -> Result<u64> {
    handles::register(v, runtime)
}
pub fn read_json(flags: u32) -> impl FnOnce(python::Python, PyRef, u64) -> Result<CText> {
    move |py, v, runtime| convert::to_json_cstring_mode(py, &v, mode(flags, runtime)?)
}
