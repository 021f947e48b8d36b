//! The safe face of CPython: methods on the [`Python`](super::Python) token that take Rust values and
//! references ([`PyRef`], or a [`Borrowed`] one) and return owned references and `Result`s, so
//! that their callers need no `unsafe` and cannot hand CPython a dangling pointer. The raw entry
//! points stay in [`super::ffi`]; lifecycle and thread-state plumbing (`gil`, `init`, `workers`,
//! `running`) and the buffer protocol (`buffer`) call them directly.
//!
//! Every method relies on the same two facts, stated once here and referred to as "the module
//! note" by each `SAFETY` comment: a `Python` token exists only on a thread that holds the GIL
//! (or, on a free-threaded build, has an attached thread state), and Python is initialized, which
//! is what CPython requires of any caller; and a `PyRef` (or a `Borrowed`, or a `&PyRef` made from
//! one) is a live object for as long as the method runs, even when the method runs Python code.
//!
//! A method that can fail returns [`PyResult`]: `Err(PyErrPending)` means CPython set an
//! exception on this thread, which the caller turns into a pyrt error (`exception::fetch`) or
//! clears. Items taken out of containers come back owned (a new reference) unless the container
//! provably keeps them alive for as long as the result is usable (tuple items: a tuple never
//! changes), which the [`Borrowed`] lifetime then expresses.

mod containers;
mod errors;
mod iter;
mod numbers;
mod objects;
mod text;

pub(crate) use containers::{DictChanged, DictItems};
pub(crate) use errors::Exc;
pub(crate) use objects::{BuiltinType, Code};

use super::ffi::PyPtr;
pub(crate) use super::pyref::Borrowed;
use super::PyRef;

/// A Python exception is set on this thread (the value carries nothing: the exception itself is
/// in the interpreter until it is fetched or cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PyErrPending;

/// The result of a CPython call that may set an exception.
pub(crate) type PyResult<T> = std::result::Result<T, PyErrPending>;

/// A new reference from a CPython call, or the pending error its NULL means.
///
/// # Safety
/// `p` is what a CPython function that returns a new reference (or NULL with an exception set)
/// returned, on this thread, with the GIL held.
#[inline]
unsafe fn owned(p: PyPtr) -> PyResult<PyRef> {
    // SAFETY: a non-null `p` is a new reference the caller gives up (contract).
    unsafe { PyRef::from_owned(p) }.ok_or(PyErrPending)
}

/// A CPython status (0: success, -1: an exception is set).
#[inline]
fn status(rc: std::ffi::c_int) -> PyResult<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(PyErrPending)
    }
}
