//! Python's iterator protocol for hosts that consume an iterator one step at a time: `iter()`,
//! `next()`, and a generator's `send()`, `throw()` and `close()`. The end of the iteration is
//! `Ok(None)`, never an exception; any other exception is an [`Error`] with its traceback.

use std::ffi::{CStr, CString};

use super::exception::{self, OrFetch};
use super::facade::{Exc, PyErrPending};
use super::{PyRef, Python};
use crate::error::{Error, Result};

/// `iter(object)`: a new iterator (the object itself if it is one). TypeError for an object that
/// is not iterable, as in Python.
///
/// An async iterable (an async generator, say) that is not also iterable gives a generator whose
/// steps await its items on pyrt's event loop (`aio::sync_iter`).
pub fn iter_of(py: Python, object: &PyRef) -> Result<PyRef> {
    match py.iter(object) {
        Ok(it) => Ok(it.into_ref()),
        Err(PyErrPending) => {
            let e = exception::fetch(py);
            if is_python(&e, "TypeError") && method(py, object, c"__aiter__")?.is_some() {
                if py.interp() != 0 {
                    // pyrt's event loop runs in the main interpreter.
                    return Err(Error::invalid_argument(
                        "async iterators cannot be iterated in a worker (\"workers\"): pyrt's event loop runs in the main interpreter",
                    ));
                }
                return super::aio::sync_iter(py, object);
            }
            Err(e)
        }
    }
}

/// `next(iterator)`: the next item, or `None` once the iterator is exhausted. An object that is
/// not an iterator is TypeError, as Python's `next()` says it.
pub fn next(py: Python, iterator: &PyRef) -> Result<Option<PyRef>> {
    let Some(it) = py.as_iterator(iterator) else {
        return Err(type_error(py, iterator, "is not an iterator"));
    };
    py.iter_next(&it).or_fetch(py)
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
    py.call0(&close).map(drop).or_fetch(py)
}

/// Calls `object.<name>(*args)`, turning StopIteration into `None`.
fn step(py: Python, object: &PyRef, name: &CStr, args: &[PyRef]) -> Result<Option<PyRef>> {
    let Some(callable) = method(py, object, name)? else {
        return Err(type_error(py, object, &format!("has no {}() method (not a generator)", name.to_string_lossy())));
    };
    match py.call(&callable, args) {
        Ok(v) => Ok(Some(v)),
        Err(PyErrPending) if py.pending_error_is(Exc::StopIteration) => {
            py.clear_error();
            Ok(None)
        }
        Err(PyErrPending) => Err(exception::fetch(py)),
    }
}

/// `getattr(object, name)`, or `None` when the object has no such attribute.
fn method(py: Python, object: &PyRef, name: &CStr) -> Result<Option<PyRef>> {
    match py.getattr_str(object, name) {
        Ok(m) => Ok(Some(m)),
        Err(PyErrPending) if py.pending_error_is(Exc::AttributeError) => {
            py.clear_error();
            Ok(None)
        }
        Err(PyErrPending) => Err(exception::fetch(py)),
    }
}

fn is_python(e: &Error, type_name: &str) -> bool {
    e.python.as_ref().is_some_and(|p| p.type_name == type_name)
}

/// Raises and fetches a TypeError naming the object's type, as Python words it ("'list' object
/// is not an iterator").
fn type_error(py: Python, object: &PyRef, what: &str) -> Error {
    let text = format!("'{}' object {what}", py.type_name(object)).replace('\0', "");
    let text = CString::new(text).expect("NULs removed");
    py.set_error(Exc::TypeError, &text);
    exception::fetch(py)
}
