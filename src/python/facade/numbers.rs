//! ints, floats and complex numbers.

use std::ffi::CStr;

use super::{owned, PyErrPending, PyResult};
use crate::python::{PyRef, Python};

impl<'py> Python<'py> {
    /// `int(v)`.
    #[inline]
    pub(crate) fn new_int(self, v: i64) -> PyResult<PyRef> {
        // SAFETY: the module note; no pointer arguments.
        unsafe { owned((self.api.PyLong_FromLongLong)(v)) }
    }

    /// `int(digits)` for decimal text of any length (ValueError if it is not an integer, or has
    /// more digits than CPython's int/str limit allows).
    #[inline]
    pub(crate) fn int_from_decimal(self, digits: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `digits` is NUL-terminated and only read; a NULL end pointer
        // is allowed.
        unsafe { owned((self.api.PyLong_FromString)(digits.as_ptr(), std::ptr::null_mut(), 10)) }
    }

    /// `float(v)`.
    #[inline]
    pub(crate) fn new_float(self, v: f64) -> PyResult<PyRef> {
        // SAFETY: the module note; no pointer arguments.
        unsafe { owned((self.api.PyFloat_FromDouble)(v)) }
    }

    /// `complex(re, im)`.
    #[inline]
    pub(crate) fn new_complex(self, re: f64, im: f64) -> PyResult<PyRef> {
        // SAFETY: the module note; no pointer arguments.
        unsafe { owned((self.api.PyComplex_FromDoubles)(re, im)) }
    }

    /// The value of an int (or an object with `__index__`) if it fits in 64 bits; `Ok(None)` if
    /// it does not (no error is set then); `Err` for a non-int (TypeError).
    #[inline]
    pub(crate) fn as_i64(self, o: &PyRef) -> PyResult<Option<i64>> {
        let mut overflow = 0;
        // SAFETY: the module note; `overflow` is a valid out-pointer.
        let v = unsafe { (self.api.PyLong_AsLongLongAndOverflow)(o.as_ptr(), &mut overflow) };
        if overflow != 0 {
            return Ok(None);
        }
        if v == -1 && self.error_pending() {
            return Err(PyErrPending);
        }
        Ok(Some(v))
    }

    /// The value of an int (or an object with `__index__`) as a C `long` (OverflowError if it
    /// does not fit, TypeError for a non-int).
    #[inline]
    pub(crate) fn as_c_long(self, o: &PyRef) -> PyResult<std::ffi::c_long> {
        // SAFETY: the module note.
        let v = unsafe { (self.api.PyLong_AsLong)(o.as_ptr()) };
        if v == -1 && self.error_pending() {
            return Err(PyErrPending);
        }
        Ok(v)
    }

    /// `float(o)` for a float, an int (OverflowError if too large) or an object with `__float__`.
    #[inline]
    pub(crate) fn as_f64(self, o: &PyRef) -> PyResult<f64> {
        // SAFETY: the module note.
        let v = unsafe { (self.api.PyFloat_AsDouble)(o.as_ptr()) };
        if v == -1.0 && self.error_pending() {
            return Err(PyErrPending);
        }
        Ok(v)
    }

    /// The real and imaginary parts of a complex (or of an object with `__complex__`/`__float__`).
    #[inline]
    pub(crate) fn complex_parts(self, o: &PyRef) -> PyResult<(f64, f64)> {
        // SAFETY: the module note; for a complex (or subclass) both calls just read its value.
        let (re, im) = unsafe { ((self.api.PyComplex_RealAsDouble)(o.as_ptr()), (self.api.PyComplex_ImagAsDouble)(o.as_ptr())) };
        if (re == -1.0 || im == -1.0) && self.error_pending() {
            return Err(PyErrPending);
        }
        Ok((re, im))
    }

    /// The exact decimal text of an int as a `str` (CPython's own conversion; also right for an
    /// int subclass whose `str()` is something else). ValueError beyond the int/str digit limit.
    #[inline]
    pub(crate) fn int_to_decimal(self, o: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; PyNumber_ToBase checks that `o` is an int (TypeError).
        unsafe { owned((self.api.PyNumber_ToBase)(o.as_ptr(), 10)) }
    }
}
