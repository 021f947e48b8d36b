//! Owned references to Python objects.

use std::marker::PhantomData;
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
    ///
    /// # Safety
    /// A non-null `p` must be a strong reference to a live object that the caller owns and gives
    /// up here (the `PyRef` releases it when dropped), made on a thread holding the GIL.
    #[inline]
    pub unsafe fn from_owned(p: PyPtr) -> Option<PyRef> {
        NonNull::new(p).map(PyRef)
    }

    /// Takes a new reference to a borrowed object.
    ///
    /// # Safety
    /// A non-null `p` must be a live object (one something keeps alive until this returns).
    #[inline]
    pub unsafe fn from_borrowed(py: Python, p: PyPtr) -> Option<PyRef> {
        let r = NonNull::new(p)?;
        // SAFETY: the `py` token proves the GIL is held; `p` is non-null and, per this function's
        // contract, a live object, so it can be increfed.
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

/// A reference that something else keeps alive for `'a` (an item of a tuple the caller holds; a
/// static object), used like a `&PyRef` (it derefs to one) and never released.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Borrowed<'a>(NonNull<PyObject>, PhantomData<&'a PyRef>);

impl<'a> Borrowed<'a> {
    /// Wraps a borrowed pointer; `None` for NULL.
    ///
    /// # Safety
    /// A non-null `p` must be a live object that stays alive for all of `'a` whatever code runs
    /// meanwhile (Python code included), without any reference of the caller's.
    #[inline]
    pub(crate) unsafe fn from_ptr(p: PyPtr) -> Option<Borrowed<'a>> {
        NonNull::new(p).map(|p| Borrowed(p, PhantomData))
    }

    /// A new strong reference to the object.
    #[inline]
    pub(crate) fn to_owned(self, py: Python) -> PyRef {
        (*self).clone_ref(py)
    }
}

impl std::ops::Deref for Borrowed<'_> {
    type Target = PyRef;
    #[inline]
    fn deref(&self) -> &PyRef {
        // SAFETY: `Borrowed` and `PyRef` are both `repr(transparent)` over `NonNull<PyObject>`, so
        // the cast reads the same pointer. The `&PyRef` cannot release the reference it does not
        // own: `PyRef` gives it up only by value (`drop`, `into_ptr`), which a shared borrow
        // cannot move out; the object is live for the borrow (`from_ptr`'s contract).
        unsafe { &*std::ptr::from_ref(self).cast::<PyRef>() }
    }
}
