//! Owned references to Python objects.

use std::ffi::CStr;
use std::ptr::NonNull;

use super::ffi::{PyObject, PyPtr};
use super::{api, Python};

/// One owned (strong) reference. Dropping it calls `Py_DecRef`, so it must be dropped with the
/// GIL held — it is created only under a [`Python`] token and pyrt never lets one escape a GIL
/// section except into GIL-protected caches.
#[repr(transparent)]
pub struct PyRef(NonNull<PyObject>);

impl PyRef {
    /// Takes ownership of a new reference; `None` for NULL (a Python error is then set).
    #[inline]
    pub fn from_owned(p: PyPtr) -> Option<PyRef> {
        NonNull::new(p).map(PyRef)
    }

    /// Takes a new reference to a borrowed object.
    #[inline]
    pub fn from_borrowed(py: Python, p: PyPtr) -> Option<PyRef> {
        let r = NonNull::new(p)?;
        unsafe { (py.api.Py_IncRef)(p) };
        Some(PyRef(r))
    }

    #[inline]
    pub fn as_ptr(&self) -> PyPtr {
        self.0.as_ptr()
    }

    /// Gives the reference away (to a function that steals it).
    #[inline]
    pub fn into_ptr(self) -> PyPtr {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    pub fn clone_ref(&self, py: Python) -> PyRef {
        unsafe { (py.api.Py_IncRef)(self.as_ptr()) };
        PyRef(self.0)
    }
}

impl Drop for PyRef {
    fn drop(&mut self) {
        unsafe { (api().Py_DecRef)(self.0.as_ptr()) }
    }
}

/// `type(o).__name__` as CPython stores it (`tp_name`, right after the type object's
/// `PyVarObject` header: `ffi::ObjectLayout::tp_name`).
pub fn type_name(o: PyPtr) -> String {
    unsafe {
        let t = super::ffi::py_type(o);
        let name = *((t as *const u8).add(super::ffi::layout().tp_name()) as *const *const std::ffi::c_char);
        if name.is_null() {
            return "?".into();
        }
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}
