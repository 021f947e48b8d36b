//! Call arguments held as owned references, typed host arguments, and typed results.

use crate::error::{Error, ErrorKind, Result};
use crate::python::exception::OrFetch;
use crate::python::facade::BuiltinType;
use crate::python::ffi::{self, PyPtr};
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
                let owned = std::mem::replace(p, std::ptr::null_mut());
                // SAFETY: each of the first `n` slots holds a strong reference this vector owns
                // (`push` stored `into_ptr`), moved out here exactly once (the slot is nulled and
                // `n` reset below).
                self.spill.push(unsafe { PyRef::from_owned(owned) }.expect("filled slots"));
            }
            self.n = 0;
        }
        self.spill.push(v);
    }

    /// The arguments, as owned references.
    #[inline(always)]
    pub fn as_refs(&self) -> &[PyRef] {
        if self.spill.is_empty() {
            // SAFETY: the first `n` inline slots hold non-null strong references this vector owns
            // (`push` stored `into_ptr`), and `PyRef` is `repr(transparent)` over a non-null
            // pointer, so they read as `n` `PyRef`s; the shared borrow cannot release them.
            unsafe { std::slice::from_raw_parts(self.inline.as_ptr().cast::<PyRef>(), self.n) }
        } else {
            &self.spill
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
        Arg::Bytes(b) => py.new_bytes(b),
        Arg::Object(id) => return crate::python::handles::get(py, *id),
        Arg::Buffer { .. } => return Err(Error::invalid_argument("host buffers can only be lent to typed calls (pyrt_object_call_*)")),
    };
    made.or_fetch(py)
}

/// A float result (an int is accepted and converted, as Python's float() would).
#[inline]
pub fn result_double(py: Python, o: &PyRef) -> Result<f64> {
    let api = py.api;
    let t = py.type_ptr(o);
    let is_number = t == api.PyFloat_Type
        || t == api.PyLong_Type
        || py.type_is_subtype(o, &py.builtin_type(BuiltinType::Float))
        || py.type_flags(o) & ffi::TPFLAGS_LONG_SUBCLASS != 0;
    if !is_number {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not a float", py.type_name(o))));
    }
    py.as_f64(o).or_fetch(py)
}

/// An int result that fits in 64 bits (bool counts as int, as in Python).
#[inline]
pub fn result_int(py: Python, o: &PyRef) -> Result<i64> {
    if py.type_flags(o) & ffi::TPFLAGS_LONG_SUBCLASS == 0 {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not an int", py.type_name(o))));
    }
    py.as_i64(o).or_fetch(py)?.ok_or_else(|| Error::new(ErrorKind::Conversion, "int result does not fit in 64 bits"))
}
