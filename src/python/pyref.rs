//! Owned references to Python objects.

use std::ffi::CStr;
use std::ptr::NonNull;

use super::ffi::{PyObject, PyPtr};
use super::{api, Python};

/// One owned (strong) reference. Dropping it calls `Py_DecRef`, so it must be dropped with the
/// GIL held — it is created only under a [`Python`] token and pyrt never lets one escape a GIL
/// section except into GIL-protected caches.
///
/// Soundness, not yet checked by the compiler: [`PyRef::from_owned`], [`PyRef::from_borrowed`]
/// and [`type_name`] are safe functions that trust their pointer (owned, or live), as do the
/// python layer's helpers taking a `PyPtr` next to a `Python` token (`exception::str_of`, the
/// converters, ...). A wrong pointer there is undefined behaviour, so they ought to be `unsafe
/// fn` (or take a borrowed-object type proven live in unsafe code). That change touches some 45
/// call sites in `convert/`, `exec.rs`, `exception.rs` and `facade.rs`, and is left for after
/// the branch reworking those files (issue 16); every caller passes a pointer fresh from a
/// CPython call or held by a `PyRef`.
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
        // SAFETY: the `py` token proves the GIL is held; `p` is non-null and, per this function's
        // contract, a live object the caller holds a (borrowed) reference to, so it can be increfed.
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
        // SAFETY: `self` owns a strong reference, so the object is live; the `py` token proves the
        // GIL is held. The new reference is owned by the returned `PyRef`.
        unsafe { (py.api.Py_IncRef)(self.as_ptr()) };
        PyRef(self.0)
    }
}

impl Drop for PyRef {
    fn drop(&mut self) {
        // SAFETY: `self` owns one strong reference (type invariant), given up here exactly once.
        // The GIL is held: `PyRef` is not `Send`, is made only under a `Python` token, and pyrt
        // drops it inside the GIL section it was made in (or in a GIL-protected cache).
        unsafe { (api().Py_DecRef)(self.0.as_ptr()) }
    }
}

/// `type(o).__name__` as CPython stores it (`tp_name`, right after the type object's
/// `PyVarObject` header: `ffi::ObjectLayout::tp_name`).
///
/// `o` must be a live object and the GIL held (every caller has a `Python` token and a reference).
pub fn type_name(o: PyPtr) -> String {
    // SAFETY: `o` is live and the GIL held (see above), so `Py_TYPE(o)` reads a valid type object.
    let t = unsafe { super::ffi::py_type(o) };
    // Aligned, as the SAFETY note below shows.
    #[allow(clippy::cast_ptr_alignment)]
    let field = t.cast::<u8>().cast_const().wrapping_add(super::ffi::layout().tp_name()).cast::<*const std::ffi::c_char>();
    // SAFETY: `t` is a live type object (the object's type, kept alive by the object), and a
    // `PyTypeObject` has `tp_name` right after its `PyVarObject` header (`ObjectLayout::tp_name`:
    // offset 24 or 40) in every version. Type objects are 8-aligned (allocated by CPython, or C
    // statics whose first field is pointer-sized) and 24/40 are multiples of 8, so the
    // `const char *` read is aligned.
    let name = unsafe { *field };
    if name.is_null() {
        return "?".into();
    }
    // SAFETY: a non-null `tp_name` is a NUL-terminated C string owned by the type, which outlives
    // this call; it is copied out before returning.
    unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
}
