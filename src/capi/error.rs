//! The error object returned through `err_out`.

use std::ffi::{c_char, CString};
use std::ptr;

use crate::error::{Error, ErrorKind};

/// An error returned by a failed call: its status code, a message, and — for Python exceptions —
/// the exception's type name and formatted traceback. Opaque; owned by the caller, who frees it
/// with pyrt_error_free().
pub struct pyrt_error {
    code: i32,
    message: CString,
    python_type: Option<CString>,
    traceback: Option<CString>,
    /// Output the failed call captured ([stdout, stderr]), for handles with "capture_output".
    output: Option<[CString; 2]>,
    /// The error itself (its Python exception can be re-raised by pyrt_reply_exception()).
    source: Error,
}

impl pyrt_error {
    pub(crate) fn inner(&self) -> &Error {
        &self.source
    }
}

fn c(s: String) -> CString {
    // Python text may contain NUL characters; keep the text before the first one.
    CString::new(s).unwrap_or_else(|e| {
        let pos = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(pos);
        CString::new(bytes).expect("no NUL left")
    })
}

pub(crate) fn into_raw(e: Error) -> *mut pyrt_error {
    let (python_type, traceback) = match &e.python {
        Some(py) => (Some(c(py.type_name.clone())), py.traceback.clone().map(c)),
        None => (None, None),
    };
    let output = e.output.as_ref().map(|o| [c(o[0].clone()), c(o[1].clone())]);
    let source: Error = crate::error::ErrorDetail { python: None, output: None, ..e.into_detail() }.into();
    Box::into_raw(Box::new(pyrt_error {
        code: source.kind.code(),
        message: c(source.message.clone()),
        python_type,
        traceback,
        output,
        source,
    }))
}

/// The status code this error was returned with (one of the PYRT_ERR_* values).
/// NULL: returns PYRT_ERR_INVALID_ARGUMENT. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_code(err: *const pyrt_error) -> i32 {
    // SAFETY: `err` is NULL or a live error from a failed pyrt call, not yet freed (the header's
    // contract); it is only read.
    match unsafe { err.as_ref() } {
        Some(e) => e.code,
        None => ErrorKind::InvalidArgument.code(),
    }
}

/// The error's message (for a Python exception: `str(exception)`; for SystemExit: the exit code).
/// The string belongs to the error and is valid until pyrt_error_free(); never NULL for a valid
/// error. NULL: returns NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_message(err: *const pyrt_error) -> *const c_char {
    // SAFETY: `err` is NULL or a live error from a failed pyrt call, not yet freed (the header's
    // contract); it is only read.
    match unsafe { err.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => ptr::null(),
    }
}

/// The Python exception's type name — `ZeroDivisionError`, or qualified for non-builtins:
/// `json.decoder.JSONDecodeError` — or NULL when the error is not a Python exception.
/// Owned by the error, valid until pyrt_error_free(). NULL: returns NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_python_type(err: *const pyrt_error) -> *const c_char {
    // SAFETY: `err` is NULL or a live error from a failed pyrt call, not yet freed (the header's
    // contract); it is only read.
    match unsafe { err.as_ref() }.and_then(|e| e.python_type.as_ref()) {
        Some(t) => t.as_ptr(),
        None => ptr::null(),
    }
}

/// The formatted Python traceback (as `traceback.format_exception` prints it), or NULL when
/// there is none. Owned by the error, valid until pyrt_error_free(). NULL: returns NULL.
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_traceback(err: *const pyrt_error) -> *const c_char {
    // SAFETY: `err` is NULL or a live error from a failed pyrt call, not yet freed (the header's
    // contract); it is only read.
    match unsafe { err.as_ref() }.and_then(|e| e.traceback.as_ref()) {
        Some(t) => t.as_ptr(),
        None => ptr::null(),
    }
}

/// What the failed call wrote to `stream` (PYRT_STDOUT or PYRT_STDERR), when it went through a
/// runtime handle opened with "capture_output"; NULL otherwise (or for another stream value).
/// Owned by the error, valid until pyrt_error_free(). NULL: returns NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_output(err: *const pyrt_error, stream: u32) -> *const c_char {
    // SAFETY: `err` is NULL or a live error from a failed pyrt call, not yet freed (the header's
    // contract); it is only read.
    let Some(out) = unsafe { err.as_ref() }.and_then(|e| e.output.as_ref()) else { return ptr::null() };
    match stream {
        crate::runtime::STDOUT => out[0].as_ptr(),
        crate::runtime::STDERR => out[1].as_ptr(),
        _ => ptr::null(),
    }
}

/// Frees an error. NULL is a harmless no-op. Free each error at most once. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_error_free(err: *mut pyrt_error) {
    if !err.is_null() {
        // SAFETY: not NULL; per the header `err` came from a pyrt call (`into_raw`: Box::into_raw),
        // is freed at most once, and its strings are not used afterwards.
        drop(unsafe { Box::from_raw(err) });
    }
}
