#![allow(non_camel_case_types)]
// The functions here are called from C: their safety contract (pointers valid for the call, NULL
// where documented) is stated once in the header's Memory section, not in each `# Safety`.
#![allow(clippy::missing_safety_doc)]
//! The C ABI. The only module with `extern "C"`; each export has one shape: panic boundary →
//! pointer checks → the safe core → status code (the rustls-ffi pattern).

// In the order the header presents them (cbindgen follows these declarations), as a manual
// reads: status codes, the runtime's lifecycle and calls, objects, typed calls and values,
// buffers, host callbacks, errors, memory and version.
// (One declaration per group, so that rustfmt keeps this order.)
pub mod status;
// The runtime: lifecycle, running code, calls, control.
pub mod runtime;
// Object handles and values.
pub mod object;
// Iterators and generators.
pub mod iter;
// Coroutines.
pub mod task;
// Typed calls.
pub mod args;
// Zero-copy buffers.
pub mod buffer;
// Host functions Python calls.
pub mod host;
// Errors.
pub mod error;
// Memory and version.
pub mod memory;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};
use error::pyrt_error;

/// An export's `err_out`: NULL, or where its error object goes. Made only by `ErrOut::new`,
/// whose caller vouches for the pointer, so that `boundary` can stay a safe function.
#[derive(Clone, Copy)]
pub(crate) struct ErrOut(*mut *mut pyrt_error);

impl ErrOut {
    /// No error object wanted (exports without an `err_out`).
    pub(crate) const NONE: ErrOut = ErrOut(std::ptr::null_mut());

    /// # Safety
    /// `p` is NULL or a writable `pyrt_error **`, valid until the export that received it
    /// returns (the header's contract); the `ErrOut` is used only within that export.
    #[inline]
    pub(crate) unsafe fn new(p: *mut *mut pyrt_error) -> ErrOut {
        ErrOut(p)
    }
}

/// Runs `f`, turning its error — or a panic — into a status code and an optional error object.
#[inline]
pub(crate) fn boundary(err_out: ErrOut, f: impl FnOnce() -> Result<()>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => status::PYRT_OK,
        Ok(Err(e)) => fail(err_out, e),
        Err(panic) => fail(err_out, panicked(panic)),
    }
}

#[cold]
#[inline(never)]
fn panicked(panic: Box<dyn std::any::Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::new(ErrorKind::Internal, format!("internal error in pyrt (please report): {what}"))
}

#[cold]
#[inline(never)]
fn fail(err_out: ErrOut, e: Error) -> i32 {
    let code = e.kind.code();
    if !err_out.0.is_null() {
        // SAFETY: not NULL (checked), so a writable `pyrt_error **` valid for the call (`ErrOut::new`'s
        // contract; `boundary` runs inside the export that received it).
        unsafe { *err_out.0 = error::into_raw(e) };
    }
    code
}

/// A required NUL-terminated UTF-8 input.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    // Names (modules, functions) are short and ASCII: one pass finds the end and checks that,
    // cheaper than strlen and a separate ASCII scan. Longer text goes the general way.
    let mut high = 0u8;
    for i in 0..32 {
        // SAFETY: the bytes before index i were all non-NUL (else the loop returned), so index i
        // is still inside the caller's NUL-terminated string.
        let b = unsafe { *p.add(i) } as u8;
        if b == 0 {
            // SAFETY: the i bytes before the NUL, read above: inside the string, which the caller
            // keeps valid (and unchanged) for the call.
            let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), i) };
            if high < 0x80 {
                // SAFETY: every byte is below 0x80 (their OR is): ASCII, hence UTF-8.
                return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
            }
            return std::str::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8: {e}")));
        }
        high |= b;
    }
    // SAFETY: `p` is not NULL (checked above) and, per the contract, NUL-terminated and valid
    // for the call.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_ascii() {
        // The common case (module and function names), checked far faster than full UTF-8.
        // SAFETY: ASCII (just checked) is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::InvalidUtf8, format!("{what} is not valid UTF-8: {e}")))
}

/// A required input kept as a C string (for CPython), checked to be UTF-8.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn c_text<'a>(p: *const c_char, what: &str) -> Result<&'a CStr> {
    // SAFETY: our contract is `text`'s.
    unsafe { text(p, what) }?;
    // SAFETY: `text` returned Ok, so `p` is not NULL; it is NUL-terminated and valid for the call
    // (the contract).
    Ok(unsafe { CStr::from_ptr(p) })
}

/// An optional input: NULL → `None`.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: our contract is `text`'s.
        unsafe { text(p, what) }.map(Some)
    }
}

/// An optional JSON input, as bytes: the JSON parser checks that its strings are UTF-8 (the
/// rest must be ASCII), which spares a separate validation pass on the hot call path.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_json<'a>(p: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: only called when `p` is not NULL; then it is NUL-terminated and valid for the call
    // (the contract).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Checks an output pointer up front, so no work is done for a call that cannot report it.
pub(crate) fn require_out<T>(p: *mut T, what: &str) -> Result<()> {
    if p.is_null() {
        return Err(Error::invalid_argument(format!("{what} is NULL")));
    }
    Ok(())
}
