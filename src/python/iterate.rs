//! Python's iterator protocol for hosts that consume an iterator one step at a time: `iter()`,
//! `next()`, and a generator's `send()`, `throw()` and `close()`. The end of the iteration is
//! `Ok(None)`, never an exception; any other exception is an [`Error`] with its traceback.

use std::ffi::CStr;

use super::{exception, exec, PyRef, Python};
use crate::error::{Error, Result};

/// `iter(object)`: a new iterator (the object itself if it is one). TypeError for an object that
/// is not iterable, as in Python.
///
/// An async iterable (an async generator, say) that is not also iterable gives a generator whose
/// steps await its items on pyrt's event loop (`aio::sync_iter`).
pub fn iter_of(py: Python, object: &PyRef) -> Result<PyRef> {
    // SAFETY: the token proves the GIL is held; `object` is a live strong reference. A new
    // reference, or NULL with an error set. PyObject_GetIter checks that `__iter__` returned an
    // iterator (TypeError otherwise), so the result may be passed to PyIter_Next.
    match PyRef::from_owned(unsafe { (py.api.PyObject_GetIter)(object.as_ptr()) }) {
        Some(it) => Ok(it),
        None => {
            let e = exception::fetch(py);
            if e.python.as_ref().is_some_and(|p| p.type_name == "TypeError") && method(py, object, c"__aiter__")?.is_some() {
                return super::aio::sync_iter(py, object);
            }
            Err(e)
        }
    }
}

/// `next(iterator)`: the next item, or `None` once the iterator is exhausted. An object that is
/// not an iterator is TypeError, as Python's `next()` says it.
pub fn next(py: Python, iterator: &PyRef) -> Result<Option<PyRef>> {
    let api = py.api;
    let it = iterator.as_ptr();
    // SAFETY: the token proves the GIL is held; `it` is a live strong reference. PyIter_Check only
    // reads the type's `tp_iternext` slot.
    if unsafe { (api.PyIter_Check)(it) } == 0 {
        return Err(type_error(py, iterator, "is not an iterator"));
    }
    // SAFETY: as above, and `it` is an iterator (checked), which is what PyIter_Next requires
    // (it calls `tp_iternext` unchecked). A new reference; NULL with no error at the end; NULL
    // with an error set when the iterator raised.
    let item = unsafe { (api.PyIter_Next)(it) };
    match PyRef::from_owned(item) {
        Some(v) => Ok(Some(v)),
        None if py.error_pending() => Err(exception::fetch(py)),
        None => Ok(None),
    }
}

/// `generator.send(value)`: the next value the generator yields, or `None` when it returns
/// (StopIteration). Works on any object with a `send` method (coroutines too).
pub fn send(py: Python, generator: &PyRef, value: &PyRef) -> Result<Option<PyRef>> {
    step(py, generator, c"send", std::slice::from_ref(value))
}

/// `generator.throw(exception)`: raises `exception` (an instance or a class) inside the generator
/// where it is suspended; the value it yields next, or `None` if it returns. An exception that
/// propagates out of the generator is the error.
pub fn throw(py: Python, generator: &PyRef, exception: &PyRef) -> Result<Option<PyRef>> {
    step(py, generator, c"throw", std::slice::from_ref(exception))
}

/// `iterator.close()` where the iterator has one (generators: GeneratorExit is raised inside, so
/// its `finally` blocks run now); a plain iterator without `close` is left as it is.
pub fn close(py: Python, iterator: &PyRef) -> Result<()> {
    let Some(close) = method(py, iterator, c"close")? else { return Ok(()) };
    exec::call(py, &close, &[], None).map(drop)
}

/// Calls `object.<name>(*args)`, turning StopIteration into `None`.
fn step(py: Python, object: &PyRef, name: &CStr, args: &[PyRef]) -> Result<Option<PyRef>> {
    let Some(callable) = method(py, object, name)? else {
        return Err(type_error(py, object, &format!("has no {}() method (not a generator)", name.to_string_lossy())));
    };
    match exec::call(py, &callable, args, None) {
        Ok(v) => Ok(Some(v)),
        Err(e) if is_stop_iteration(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `getattr(object, name)`, or `None` when the object has no such attribute.
fn method(py: Python, object: &PyRef, name: &CStr) -> Result<Option<PyRef>> {
    // SAFETY: the token proves the GIL is held; `object` is a live strong reference and `name` a
    // NUL-terminated string. A new reference, or NULL with an error set.
    match PyRef::from_owned(unsafe { (py.api.PyObject_GetAttrString)(object.as_ptr(), name.as_ptr()) }) {
        Some(m) => Ok(Some(m)),
        None => {
            let e = exception::fetch(py);
            if e.python.as_ref().is_some_and(|p| p.type_name == "AttributeError") {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Whether an error is Python's StopIteration (a generator that returned).
fn is_stop_iteration(e: &Error) -> bool {
    e.python.as_ref().is_some_and(|p| p.type_name == "StopIteration")
}

/// Raises and fetches a TypeError naming the object's type, as Python words it ("'list' object
/// is not an iterator").
fn type_error(py: Python, object: &PyRef, what: &str) -> Error {
    let text = format!("'{}' object {what}\0", super::pyref::type_name(object.as_ptr()).replace('\0', ""));
    // SAFETY: the token proves the GIL is held (and Python is initialized, so the `PyExc_*`
    // variable is set); `text` is NUL-terminated (no NUL inside: removed above) and outlives the
    // call, which copies it.
    unsafe { (py.api.PyErr_SetString)(py.api.exception(py.api.PyExc_TypeError), text.as_ptr().cast()) };
    exception::fetch(py)
}
