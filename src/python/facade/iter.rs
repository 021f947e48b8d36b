//! The iterator protocol.

use super::{owned, PyErrPending, PyResult};
use crate::python::{PyRef, Python};

/// An iterator (checked by `PyObject_GetIter`, which refuses an `__iter__` that returns a
/// non-iterator): what `PyIter_Next` requires and does not check.
pub(crate) struct PyIter(PyRef);

impl PyIter {
    /// The iterator as a plain reference.
    #[inline]
    pub(crate) fn into_ref(self) -> PyRef {
        self.0
    }
}

impl<'py> Python<'py> {
    /// `iter(o)`.
    #[inline]
    pub(crate) fn iter(self, o: &PyRef) -> PyResult<PyIter> {
        // SAFETY: the module note; the result is a new reference.
        unsafe { owned((self.api.PyObject_GetIter)(o.as_ptr())) }.map(PyIter)
    }

    /// `o` as an iterator, if it is one (its type has `__next__`): a new reference.
    #[inline]
    pub(crate) fn as_iterator(self, o: &PyRef) -> Option<PyIter> {
        // SAFETY: the module note; PyIter_Check only reads the type's `tp_iternext` slot.
        (unsafe { (self.api.PyIter_Check)(o.as_ptr()) } != 0).then(|| PyIter(o.clone_ref(self)))
    }

    /// `next(it)`, owned; `Ok(None)` when the iterator is exhausted.
    #[inline]
    pub(crate) fn iter_next(self, it: &PyIter) -> PyResult<Option<PyRef>> {
        // SAFETY: the module note; `it` is an iterator (the `PyIter` invariant), so its
        // `tp_iternext` exists; the item is a new reference.
        match unsafe { PyRef::from_owned((self.api.PyIter_Next)(it.0.as_ptr())) } {
            Some(item) => Ok(Some(item)),
            None if self.error_pending() => Err(PyErrPending),
            None => Ok(None),
        }
    }
}
