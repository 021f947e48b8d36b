//! The iterator protocol.

use super::{owned, PyErrPending, PyResult};
use crate::python::{PyRef, Python};

/// An iterator (checked by `PyObject_GetIter`, which refuses an `__iter__` that returns a
/// non-iterator): what `PyIter_Next` requires and does not check.
pub(crate) struct PyIter(PyRef);

impl<'py> Python<'py> {
    /// `iter(o)`.
    #[inline]
    pub(crate) fn iter(self, o: &PyRef) -> PyResult<PyIter> {
        // SAFETY: the module note; the result is a new reference.
        unsafe { owned((self.api.PyObject_GetIter)(o.as_ptr())) }.map(PyIter)
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
