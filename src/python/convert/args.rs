//! Call arguments held as owned references, typed host arguments, and typed results.

use crate::error::{Error, ErrorKind, Result};
use crate::python::exception;
use crate::python::ffi::{self, PyPtr};
use crate::python::pyref::type_name;
use crate::python::{PyRef, Python};

/// Call arguments: up to [`ArgList::INLINE`] held inline (no allocation for a typical call),
/// more in a vector; always one contiguous slice.
pub struct ArgList {
    inline: [Option<PyRef>; ArgList::INLINE],
    n: usize,
    spill: Vec<PyRef>,
}

impl ArgList {
    pub const INLINE: usize = 6;

    pub fn new() -> ArgList {
        ArgList { inline: Default::default(), n: 0, spill: Vec::new() }
    }

    pub fn push(&mut self, v: PyRef) {
        if self.spill.is_empty() && self.n < Self::INLINE {
            self.inline[self.n] = Some(v);
            self.n += 1;
            return;
        }
        if self.spill.is_empty() {
            // Move to the vector, keeping the order (and the slice contiguous).
            self.spill.reserve(Self::INLINE * 2);
            self.spill.extend(self.inline[..self.n].iter_mut().map(|s| s.take().expect("filled slots")));
            self.n = 0;
        }
        self.spill.push(v);
    }
}

impl Default for ArgList {
    fn default() -> Self {
        ArgList::new()
    }
}

impl std::ops::Deref for ArgList {
    type Target = [PyRef];
    fn deref(&self) -> &[PyRef] {
        if !self.spill.is_empty() {
            return &self.spill;
        }
        // SAFETY: Option<PyRef> has PyRef's layout (a non-null pointer; None is null), and the
        // first `n` slots are Some.
        unsafe { std::slice::from_raw_parts(self.inline.as_ptr().cast::<PyRef>(), self.n) }
    }
}

/// Call arguments as owned Python references, on the stack for up to [`ArgVec::INLINE`] (no
/// allocation for a typical call). Dropping it releases them.
pub struct ArgVec<'py> {
    py: Python<'py>,
    inline: [PyPtr; ArgVec::INLINE],
    n: usize,
    spill: Vec<PyRef>,
    /// Host arrays lent to the call (`Arg::Buffer`); closed after it (see [`ArgVec::finish`]).
    pub loans: crate::python::buffer::Loans,
}

impl<'py> ArgVec<'py> {
    pub const INLINE: usize = 8;

    #[inline(always)]
    pub fn new(py: Python<'py>) -> ArgVec<'py> {
        ArgVec { py, inline: [std::ptr::null_mut(); ArgVec::INLINE], n: 0, spill: Vec::new(), loans: Default::default() }
    }

    /// Converts every typed argument (on failure the ones already made are released).
    #[inline(always)]
    pub fn typed(py: Python<'py>, args: &[crate::args::Arg]) -> Result<ArgVec<'py>> {
        let mut t = ArgVec::new(py);
        for a in args {
            let v = match *a {
                crate::args::Arg::Buffer { data, count, elem, writable, .. } => {
                    // SAFETY: an `Arg::Buffer` carries `Vouched`: its memory is valid for the call.
                    unsafe { t.loans.lend(py, data as *mut std::ffi::c_void, count, elem, writable) }?
                }
                _ => arg_to_py(py, a)?,
            };
            t.push(v);
        }
        Ok(t)
    }

    /// Drops the argument references and ends the host buffers' loans; returns the loans
    /// (closed) and whether Python still holds views of them (see `buffer::Loans::close`).
    pub fn finish(mut self) -> (crate::python::buffer::Loans, bool) {
        self.release_args();
        let mut loans = std::mem::take(&mut self.loans);
        let escaped = !loans.is_empty() && loans.close(self.py);
        (loans, escaped)
    }

    fn release_args(&mut self) {
        for &p in &self.inline[..self.n] {
            // SAFETY: each of the first `n` slots holds a strong reference this vector owns
            // (`push` stored `into_ptr`); `n` is reset below so none is released twice.
            unsafe { (self.py.api.Py_DecRef)(p) };
        }
        self.n = 0;
        self.spill.clear();
    }

    #[inline(always)]
    pub fn push(&mut self, v: PyRef) {
        if self.n < Self::INLINE {
            self.inline[self.n] = v.into_ptr();
            self.n += 1;
        } else {
            self.push_spill(v);
        }
    }

    #[inline(never)]
    fn push_spill(&mut self, v: PyRef) {
        if self.spill.is_empty() {
            self.spill.reserve(Self::INLINE * 2);
            for p in &mut self.inline[..self.n] {
                self.spill.push(PyRef::from_owned(std::mem::replace(p, std::ptr::null_mut())).expect("filled slots"));
            }
            self.n = 0;
        }
        self.spill.push(v);
    }

    /// The arguments as a `PyObject *const *` vector.
    #[inline(always)]
    pub fn as_ptrs(&self) -> &[PyPtr] {
        if self.spill.is_empty() {
            &self.inline[..self.n]
        } else {
            // SAFETY: PyRef is a transparent non-null pointer.
            unsafe { std::slice::from_raw_parts(self.spill.as_ptr().cast::<PyPtr>(), self.spill.len()) }
        }
    }
}

impl Drop for ArgVec<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        for &p in &self.inline[..self.n] {
            // SAFETY: as in `release_args`; the vector's `py` token outlives it.
            unsafe { (self.py.api.Py_DecRef)(p) };
        }
        // (Loans close themselves when dropped, after the arguments above.)
    }
}

/// A typed host argument as a new Python object.
#[inline]
pub fn arg_to_py(py: Python, arg: &crate::args::Arg) -> Result<PyRef> {
    use crate::args::Arg;
    let made = match arg {
        Arg::None => return Ok(py.none_ref()),
        Arg::Bool(b) => return Ok(py.bool_ref(*b)),
        Arg::Int(v) => py.new_int(*v),
        Arg::Double(v) => py.new_float(*v),
        Arg::Str(s) => py.new_str(s),
        // SAFETY: the GIL is held; `b` is valid for `b.len()` bytes (a Vec never exceeds isize::MAX).
        Arg::Bytes(b) => PyRef::from_owned(unsafe { (py.api.PyBytes_FromStringAndSize)(b.as_ptr().cast(), b.len() as isize) }),
        Arg::Object(id) => return crate::python::handles::get(py, *id),
        Arg::Buffer { .. } => return Err(Error::invalid_argument("host buffers can only be lent to typed calls (pyrt_object_call_*)")),
    };
    made.ok_or_else(|| exception::fetch(py))
}

/// A float result (an int is accepted and converted, as Python's float() would).
#[inline]
pub fn result_double(py: Python, o: PyPtr) -> Result<f64> {
    let api = py.api;
    // SAFETY: `o` is the live result the caller holds; its type lives as long as it does, and
    // PyFloat_Type is static.
    let (t, float_subclass, int_subclass) = unsafe {
        let t = ffi::py_type(o);
        (t, (api.PyType_IsSubtype)(t, api.PyFloat_Type) != 0, (api.PyType_GetFlags)(t) & ffi::TPFLAGS_LONG_SUBCLASS != 0)
    };
    let is_number = t == api.PyFloat_Type || t == api.PyLong_Type || float_subclass || int_subclass;
    if !is_number {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not a float", type_name(o))));
    }
    // SAFETY: `o` is live and a float or an int (checked above).
    let v = unsafe { (api.PyFloat_AsDouble)(o) };
    if v == -1.0 && py.error_pending() {
        return Err(exception::fetch(py));
    }
    Ok(v)
}

/// An int result that fits in 64 bits (bool counts as int, as in Python).
#[inline]
pub fn result_int(py: Python, o: PyPtr) -> Result<i64> {
    let api = py.api;
    // SAFETY: `o` is the live result the caller holds; its type lives as long as it does.
    let is_int = unsafe { (api.PyType_GetFlags)(ffi::py_type(o)) } & ffi::TPFLAGS_LONG_SUBCLASS != 0;
    if !is_int {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not an int", type_name(o))));
    }
    let mut overflow = 0;
    // SAFETY: `o` is a live int (checked above); `overflow` is a valid out-pointer.
    let v = unsafe { (api.PyLong_AsLongLongAndOverflow)(o, &mut overflow) };
    if overflow != 0 {
        return Err(Error::new(ErrorKind::Conversion, "int result does not fit in 64 bits"));
    }
    if v == -1 && py.error_pending() {
        return Err(exception::fetch(py));
    }
    Ok(v)
}
