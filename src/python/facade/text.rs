//! `str`, `bytes` and `bytearray`.

use std::ffi::CStr;

use super::{owned, PyErrPending, PyResult};
use crate::python::{PyRef, Python};

impl<'py> Python<'py> {
    /// A `str` from UTF-8 text.
    #[inline]
    pub(crate) fn new_str(self, v: &str) -> PyResult<PyRef> {
        // SAFETY: the module note; `v` is valid UTF-8 for `v.len()` bytes (a `&str`, at most
        // isize::MAX bytes long), copied by the call.
        unsafe { owned((self.api.PyUnicode_FromStringAndSize)(v.as_ptr().cast(), v.len() as isize)) }
    }

    /// A `str` from bytes that should be UTF-8 (UnicodeDecodeError if they are not).
    #[inline]
    pub(crate) fn str_from_utf8(self, v: &[u8]) -> PyResult<PyRef> {
        // SAFETY: the module note; `v` is valid for `v.len()` bytes (at most isize::MAX), which
        // CPython decodes (checking them) and copies.
        unsafe { owned((self.api.PyUnicode_FromStringAndSize)(v.as_ptr().cast(), v.len() as isize)) }
    }

    /// An interned `str` from a C string (UTF-8).
    #[inline]
    pub(crate) fn intern(self, v: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `v` is NUL-terminated and copied.
        unsafe { owned((self.api.PyUnicode_InternFromString)(v.as_ptr())) }
    }

    /// The UTF-8 text of a `str` (or subclass), borrowed from it: CPython caches the UTF-8 form
    /// in the (immutable) object and frees it only with the object, which the borrow of `s`
    /// keeps alive. UnicodeEncodeError for lone surrogates, TypeError for a non-str.
    #[inline]
    pub(crate) fn str_as_utf8(self, s: &PyRef) -> PyResult<&str> {
        let mut len = 0isize;
        // SAFETY: the module note; `len` is a valid out-pointer.
        let p = unsafe { (self.api.PyUnicode_AsUTF8AndSize)(s.as_ptr(), &mut len) };
        if p.is_null() {
            return Err(PyErrPending);
        }
        // SAFETY: on success CPython guarantees `len` (>= 0) bytes of valid UTF-8 at `p`, living
        // as long as the object (above).
        Ok(unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast::<u8>(), len as usize)) })
    }

    /// The text of a `str`, copied; `None` (with the error cleared) if it has no UTF-8 form or
    /// is not a str.
    #[inline]
    pub(crate) fn str_to_string(self, s: &PyRef) -> Option<String> {
        match self.str_as_utf8(s) {
            Ok(text) => Some(text.to_owned()),
            Err(PyErrPending) => {
                self.clear_error();
                None
            }
        }
    }

    /// `str(o)` as a Rust string; `None` (with the error cleared) if that fails.
    pub(crate) fn str_of(self, o: &PyRef) -> Option<String> {
        match self.str(o) {
            Ok(s) => self.str_to_string(&s),
            Err(PyErrPending) => {
                self.clear_error();
                None
            }
        }
    }

    /// `s.encode("utf-8", "backslashreplace")`: UTF-8 with lone surrogates as backslash escapes.
    #[inline]
    pub(crate) fn encode_utf8_backslashreplace(self, s: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; the codec and error-handler names are NUL-terminated literals.
        unsafe { owned((self.api.PyUnicode_AsEncodedString)(s.as_ptr(), c"utf-8".as_ptr(), c"backslashreplace".as_ptr())) }
    }

    /// `bytes(data)`.
    #[inline]
    pub(crate) fn new_bytes(self, data: &[u8]) -> PyResult<PyRef> {
        // SAFETY: the module note; `data` is valid for its length (at most isize::MAX), copied.
        unsafe { owned((self.api.PyBytes_FromStringAndSize)(data.as_ptr().cast(), data.len() as isize)) }
    }

    /// `bytearray(data)`.
    #[inline]
    pub(crate) fn new_bytearray(self, data: &[u8]) -> PyResult<PyRef> {
        // SAFETY: as in `new_bytes`.
        unsafe { owned((self.api.PyByteArray_FromStringAndSize)(data.as_ptr().cast(), data.len() as isize)) }
    }

    /// The contents of a `bytes` (or subclass), borrowed from it: a bytes object never changes,
    /// and its buffer lives as long as the object, which the borrow of `o` keeps alive.
    /// TypeError for anything else.
    #[inline]
    pub(crate) fn bytes_data(self, o: &PyRef) -> PyResult<&[u8]> {
        let mut p = std::ptr::null_mut();
        let mut n = 0isize;
        // SAFETY: the module note; `p` and `n` are valid out-pointers.
        if unsafe { (self.api.PyBytes_AsStringAndSize)(o.as_ptr(), &mut p, &mut n) } != 0 {
            return Err(PyErrPending);
        }
        // SAFETY: on success `n` (>= 0) bytes are readable at `p` for as long as the object lives.
        Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>().cast_const(), n as usize) })
    }

    /// A copy of the contents of a `bytearray` (or subclass). Copied, not borrowed: a bytearray
    /// can be resized (its buffer moved) by any Python code that runs.
    #[inline]
    pub(crate) fn bytearray_to_vec(self, o: &PyRef) -> PyResult<Vec<u8>> {
        // SAFETY: the module note. PyByteArray_Size checks the type (-1 with an error otherwise);
        // for a bytearray PyByteArray_AsString returns its buffer, `n` bytes readable (or an
        // empty placeholder when `n` is 0), copied at once with no Python code run in between.
        unsafe {
            let n = (self.api.PyByteArray_Size)(o.as_ptr());
            let n = usize::try_from(n).map_err(|_| PyErrPending)?;
            if n == 0 {
                return Ok(Vec::new());
            }
            let p = (self.api.PyByteArray_AsString)(o.as_ptr());
            if p.is_null() {
                return Err(PyErrPending);
            }
            Ok(std::slice::from_raw_parts(p.cast::<u8>().cast_const(), n).to_vec())
        }
    }
}
