//! The safe face of the CPython calls pyrt makes most: object constructors and error-indicator
//! handling on the [`Python`] token. Each method takes only Rust values and owned references
//! ([`PyRef`]) and returns owned references, so its caller needs no `unsafe` and cannot hand
//! CPython a dangling pointer. The raw entry points stay in [`super::ffi`].
//!
//! Every method relies on the same two facts, stated once here: a `Python` token exists only
//! on a thread that holds the GIL (or, on a free-threaded build, has an attached thread state),
//! which is what CPython requires of any caller; and a `PyRef` is a live strong reference.

use super::{PyRef, Python};

impl<'py> Python<'py> {
    /// `int(v)`; `None` on MemoryError (pending).
    #[inline]
    pub(crate) fn new_int(self, v: i64) -> Option<PyRef> {
        // SAFETY: the token (module note); no pointer arguments.
        PyRef::from_owned(unsafe { (self.api.PyLong_FromLongLong)(v) })
    }

    /// `float(v)`; `None` on MemoryError (pending).
    #[inline]
    pub(crate) fn new_float(self, v: f64) -> Option<PyRef> {
        // SAFETY: the token (module note); no pointer arguments.
        PyRef::from_owned(unsafe { (self.api.PyFloat_FromDouble)(v) })
    }

    /// A `str` from UTF-8 text; `None` on MemoryError (pending).
    #[inline]
    pub(crate) fn new_str(self, v: &str) -> Option<PyRef> {
        // SAFETY: the token (module note); `v` is valid UTF-8 for `v.len()` bytes (a `&str`), and
        // a `&str` is at most isize::MAX bytes long.
        PyRef::from_owned(unsafe { (self.api.PyUnicode_FromStringAndSize)(v.as_ptr().cast(), v.len() as isize) })
    }

    /// A new empty list; `None` on MemoryError (pending).
    #[inline]
    pub(crate) fn new_list(self) -> Option<PyRef> {
        // SAFETY: the token (module note); no pointer arguments.
        PyRef::from_owned(unsafe { (self.api.PyList_New)(0) })
    }

    /// A new empty dict; `None` on MemoryError (pending).
    #[inline]
    pub(crate) fn new_dict(self) -> Option<PyRef> {
        // SAFETY: the token (module note); no pointer arguments.
        PyRef::from_owned(unsafe { (self.api.PyDict_New)() })
    }

    /// A new reference to `None`.
    #[inline]
    pub(crate) fn none_ref(self) -> PyRef {
        PyRef::from_borrowed(self, self.api.none()).expect("None is a static object")
    }

    /// A new reference to `True` or `False`.
    #[inline]
    pub(crate) fn bool_ref(self, v: bool) -> PyRef {
        PyRef::from_borrowed(self, if v { self.api._Py_TrueStruct } else { self.api._Py_FalseStruct }).expect("bools are static objects")
    }

    /// `list.append(item)`; false with the error pending. The list keeps its own reference.
    #[inline]
    pub(crate) fn list_append(self, list: &PyRef, item: &PyRef) -> bool {
        // SAFETY: the token and two live references (module note); PyList_Append checks that
        // `list` is a list (SystemError otherwise) and does not steal `item`.
        unsafe { (self.api.PyList_Append)(list.as_ptr(), item.as_ptr()) == 0 }
    }

    /// `dict[key] = value`; false with the error pending. The dict keeps its own references.
    #[inline]
    pub(crate) fn dict_set(self, dict: &PyRef, key: &PyRef, value: &PyRef) -> bool {
        // SAFETY: the token and three live references (module note); PyDict_SetItem checks that
        // `dict` is a dict and steals nothing.
        unsafe { (self.api.PyDict_SetItem)(dict.as_ptr(), key.as_ptr(), value.as_ptr()) == 0 }
    }

    /// Whether a Python exception is pending on this thread.
    #[inline]
    pub(crate) fn error_pending(self) -> bool {
        // SAFETY: the token (module note); PyErr_Occurred only reads the thread state.
        unsafe { !(self.api.PyErr_Occurred)().is_null() }
    }

    /// On a free-threaded build, declares that a module pyrt made is safe without the GIL (its
    /// functions take their own locks), so that importing it can never turn the GIL back on for
    /// the whole process. `PyUnstable_Module_SetGIL` exists only in free-threaded builds (3.13+).
    pub(crate) fn declare_no_gil(self, module: &PyRef) {
        if let Some(set_gil) = self.api.PyUnstable_Module_SetGIL {
            // Py_MOD_GIL_NOT_USED is `(void *)1` (moduleobject.h).
            // SAFETY: the token and a live module reference (module note); the call only stores
            // the flag (a non-module sets an error, cleared below).
            if unsafe { set_gil(module.as_ptr(), 1 as *mut std::ffi::c_void) } != 0 {
                self.clear_error();
            }
        }
    }

    /// Drops the pending Python exception, if any.
    #[inline]
    pub(crate) fn clear_error(self) {
        // SAFETY: the token (module note); clearing with nothing pending is a no-op.
        unsafe { (self.api.PyErr_Clear)() }
    }
}
