//! The thread's error indicator: test, clear, set, take out, save and restore.

use std::ffi::CStr;

use super::PyResult;
use crate::python::ffi::{self, PyPtr};
use crate::python::{PyRef, Python};

/// The exception classes pyrt raises or tests for (the `PyExc_*` variables it resolves).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exc {
    SystemExit,
    KeyboardInterrupt,
    TypeError,
    ValueError,
    RuntimeError,
    StopIteration,
    AttributeError,
}

/// A pending exception taken out of the interpreter by [`Python::save_error`], to be put back by
/// [`Python::restore_error`] (dropping it instead discards the exception).
pub(crate) struct SavedError {
    kind: Option<PyRef>,
    value: Option<PyRef>,
    traceback: Option<PyRef>,
}

impl<'py> Python<'py> {
    /// Whether a Python exception is pending on this thread.
    #[inline]
    pub(crate) fn error_pending(self) -> bool {
        // SAFETY: the module note; PyErr_Occurred only reads the thread state.
        unsafe { !(self.api.PyErr_Occurred)().is_null() }
    }

    /// Drops the pending Python exception, if any.
    #[inline]
    pub(crate) fn clear_error(self) {
        // SAFETY: the module note; clearing with nothing pending is a no-op.
        unsafe { (self.api.PyErr_Clear)() }
    }

    /// The class object of `exc`.
    #[inline]
    fn exc_class(self, exc: Exc) -> PyPtr {
        let api = self.api;
        let var = match exc {
            Exc::SystemExit => api.PyExc_SystemExit,
            Exc::KeyboardInterrupt => api.PyExc_KeyboardInterrupt,
            Exc::TypeError => api.PyExc_TypeError,
            Exc::ValueError => api.PyExc_ValueError,
            Exc::RuntimeError => api.PyExc_RuntimeError,
            Exc::StopIteration => api.PyExc_StopIteration,
            Exc::AttributeError => api.PyExc_AttributeError,
        };
        // SAFETY: `var` is one of the `object_pointers` fields and Python is initialized (the
        // module note), as `Api::exception` requires. The class is a static type.
        unsafe { api.exception(var) }
    }

    /// Sets `exc(message)` as the pending exception (replacing any).
    #[inline]
    pub(crate) fn set_error(self, exc: Exc, message: &CStr) {
        // SAFETY: the module note; the class is a live static type and `message` NUL-terminated
        // UTF-8 (copied).
        unsafe { (self.api.PyErr_SetString)(self.exc_class(exc), message.as_ptr()) }
    }

    /// Sets `class(message)` as the pending exception, for an exception class pyrt made
    /// (SystemError if `class` is not an exception class).
    #[inline]
    pub(crate) fn set_error_of_class(self, class: &PyRef, message: &CStr) {
        // SAFETY: the module note; CPython checks that `class` is an exception class; `message`
        // is NUL-terminated UTF-8 (copied).
        unsafe { (self.api.PyErr_SetString)(class.as_ptr(), message.as_ptr()) }
    }

    /// Raises the exception object `e` as it is (its type, its traceback), as the pending
    /// exception; TypeError instead if `e` is not an exception.
    pub(crate) fn raise_exception(self, e: PyRef) {
        if self.type_flags(&e) & ffi::TPFLAGS_BASE_EXC_SUBCLASS == 0 {
            self.set_error(Exc::TypeError, c"exceptions must derive from BaseException");
            return;
        }
        let t = self.type_of(&e);
        // SAFETY: the module note; PyException_GetTraceback reads the exception's own traceback
        // field (a traceback or NULL, whatever `__traceback__` may be overridden to return) as a
        // new reference.
        let tb = unsafe { PyRef::from_owned((self.api.PyException_GetTraceback)(e.as_ptr())) };
        let tb = tb.map_or(std::ptr::null_mut(), PyRef::into_ptr);
        // SAFETY: the module note; `e` is an exception (checked above) and `t` its type, `tb`
        // its traceback or NULL: the normalized triple PyErr_Restore expects, whose three
        // references it steals.
        unsafe { (self.api.PyErr_Restore)(t.into_ptr(), e.into_ptr(), tb) }
    }

    /// A new exception class `name` (`module.Name`) deriving from Exception.
    #[inline]
    pub(crate) fn new_exception_class(self, name: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated; NULL base and dict are the defaults.
        unsafe { PyRef::from_owned((self.api.PyErr_NewException)(name.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut())) }
            .ok_or(super::PyErrPending)
    }

    /// Whether the pending exception is an instance of `exc` (false when none is pending).
    #[inline]
    pub(crate) fn pending_error_is(self, exc: Exc) -> bool {
        // SAFETY: the module note; PyErr_Occurred returns a borrowed pointer (or NULL, which
        // matches nothing) used only during the comparison, which runs no Python code.
        unsafe { (self.api.PyErr_GivenExceptionMatches)((self.api.PyErr_Occurred)(), self.exc_class(exc)) != 0 }
    }

    /// Whether the exception object (or class) `e` is an instance (subclass) of `exc`.
    #[inline]
    pub(crate) fn exception_is(self, e: &PyRef, exc: Exc) -> bool {
        // SAFETY: the module note; the comparison runs no Python code.
        unsafe { (self.api.PyErr_GivenExceptionMatches)(e.as_ptr(), self.exc_class(exc)) != 0 }
    }

    /// Takes the pending exception out of the interpreter (normalized, its traceback attached),
    /// clearing it; `None` when none is pending.
    pub(crate) fn take_exception(self) -> Option<PyRef> {
        let api = self.api;
        if let Some(get) = api.PyErr_GetRaisedException {
            // SAFETY: the module note; the exception comes back as a new reference (or NULL).
            return unsafe { PyRef::from_owned(get()) };
        }
        let (mut t, mut v, mut tb): (PyPtr, PyPtr, PyPtr) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: the module note. PyErr_Fetch and PyErr_NormalizeException hand over (and
        // replace) new references or NULLs through the three live out-pointers, each owned at once
        // below; PyException_SetTraceback steals nothing.
        unsafe {
            (api.PyErr_Fetch)(&mut t, &mut v, &mut tb);
            if t.is_null() {
                return None;
            }
            (api.PyErr_NormalizeException)(&mut t, &mut v, &mut tb);
            if !tb.is_null() && !v.is_null() {
                (api.PyException_SetTraceback)(v, tb);
            }
        }
        // SAFETY: the three are the new references (or NULLs) PyErr_Fetch/NormalizeException
        // handed over, each owned exactly once here.
        unsafe {
            let (_t, _tb) = (PyRef::from_owned(t), PyRef::from_owned(tb));
            PyRef::from_owned(v)
        }
    }

    /// Takes the pending exception (if any) out of the interpreter, to be restored later: code
    /// that must run in between (and may fail) then cannot lose or replace it.
    #[inline]
    pub(crate) fn save_error(self) -> SavedError {
        let (mut t, mut v, mut tb): (PyPtr, PyPtr, PyPtr) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: the module note; PyErr_Fetch hands over three new references or NULLs through
        // live out-pointers, each owned at once.
        unsafe { (self.api.PyErr_Fetch)(&mut t, &mut v, &mut tb) };
        // SAFETY: the three new references (or NULLs) PyErr_Fetch handed over, each owned once.
        unsafe { SavedError { kind: PyRef::from_owned(t), value: PyRef::from_owned(v), traceback: PyRef::from_owned(tb) } }
    }

    /// Makes a saved exception the pending one again (replacing whatever is pending).
    #[inline]
    pub(crate) fn restore_error(self, saved: SavedError) {
        let give = |r: Option<PyRef>| r.map_or(std::ptr::null_mut(), PyRef::into_ptr);
        let (t, v, tb) = (give(saved.kind), give(saved.value), give(saved.traceback));
        // SAFETY: the module note; the three references (or NULLs) are exactly what PyErr_Fetch
        // gave (the pair's contract), and PyErr_Restore steals them.
        unsafe { (self.api.PyErr_Restore)(t, v, tb) }
    }
}
