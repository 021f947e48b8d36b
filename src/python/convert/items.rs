//! Items out of containers, owned while they are used.

use crate::error::{Error, ErrorKind, Result};
use crate::python::exception;
use crate::python::ffi::{self, PyPtr};
use crate::python::{PyRef, Python};

// ---- items out of containers, owned --------------------------------------------------------------

/// Item `i` of a list, as a strong reference; `None` past the end. On a free-threaded build
/// `PyList_GetItemRef` (3.13+) takes it atomically; with the GIL, nothing can run between the
/// borrow and the incref.
pub(crate) fn list_item(py: Python, list: PyPtr, i: isize) -> Option<PyRef> {
    let api = py.api;
    if let (true, Some(get_ref)) = (ffi::free_threaded(), api.PyList_GetItemRef) {
        // SAFETY: `list` is a live list (checked by the caller's type dispatch).
        let p = unsafe { get_ref(list, i) };
        if p.is_null() {
            py.clear_error(); // IndexError: the list ended (or shrank)
        }
        return PyRef::from_owned(p);
    }
    // SAFETY: as above; the bound is checked first, so PyList_GetItem sets no error.
    if i >= unsafe { (api.PyList_Size)(list) } {
        return None;
    }
    // SAFETY: `i` is in bounds (checked just above, and with the GIL held nothing ran since); the
    // borrowed item is increfed by `from_borrowed` before any Python code can run.
    PyRef::from_borrowed(py, unsafe { (api.PyList_GetItem)(list, i) })
}

/// A dict's items, each key and value owned while it is used.
///
/// With the GIL: `PyDict_Next` with each pair increfed at once, and the dict's size checked
/// before each step, so Python code run while converting a value (a `__str__`, `isoformat()`)
/// that changes the dict ends the conversion with an error, as iterating it in Python would,
/// instead of reading a changed table. Free-threaded: a snapshot (`PyDict_Items`, which locks
/// the dict), because another thread may change it at any moment.
pub(crate) enum DictItems {
    Live { dict: PyPtr, pos: isize, size: isize },
    Snapshot { items: PyRef, i: isize },
}

impl DictItems {
    pub(crate) fn new(py: Python, dict: PyPtr) -> Result<DictItems> {
        let api = py.api;
        if ffi::free_threaded() {
            // SAFETY: `dict` is a live dict; PyDict_Items returns a new list of new tuples.
            let items = PyRef::from_owned(unsafe { (api.PyDict_Items)(dict) }).ok_or_else(|| exception::fetch(py))?;
            return Ok(DictItems::Snapshot { items, i: 0 });
        }
        // SAFETY: `dict` is a live dict (the caller's type dispatch; it holds a reference).
        let size = unsafe { (api.PyDict_Size)(dict) };
        Ok(DictItems::Live { dict, pos: 0, size })
    }

    pub(crate) fn next(&mut self, py: Python) -> Result<Option<(PyRef, PyRef)>> {
        let api = py.api;
        match self {
            DictItems::Live { dict, pos, size } => {
                // SAFETY: the dict is alive (the caller holds it); the pair is increfed before any
                // Python code can run.
                if unsafe { (api.PyDict_Size)(*dict) } != *size {
                    return Err(Error::new(ErrorKind::Conversion, "dictionary changed size during conversion"));
                }
                let (mut k, mut v): (PyPtr, PyPtr) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: as above; `pos` is this iteration's cursor (only PyDict_Next moves it) and
                // `k`/`v` are valid out-pointers for borrowed references, owned at once below.
                if unsafe { (api.PyDict_Next)(*dict, pos, &mut k, &mut v) } == 0 {
                    return Ok(None);
                }
                Ok(PyRef::from_borrowed(py, k).zip(PyRef::from_borrowed(py, v)))
            }
            DictItems::Snapshot { items, i } => {
                // SAFETY: the snapshot list and its tuples are private to this iterator.
                let Some(pair) = list_item(py, items.as_ptr(), *i) else { return Ok(None) };
                *i += 1;
                // SAFETY: PyDict_Items makes (key, value) tuples, so indexes 0 and 1 exist; `pair`
                // is owned and holds both while `from_borrowed` takes its own references.
                let (k, v) = unsafe { ((api.PyTuple_GetItem)(pair.as_ptr(), 0), (api.PyTuple_GetItem)(pair.as_ptr(), 1)) };
                Ok(PyRef::from_borrowed(py, k).zip(PyRef::from_borrowed(py, v)))
            }
        }
    }
}
