//! The panic boundary holds in both directions: a panic in a function CPython calls into pyrt
//! (a host function, the output proxies' write, the buffer exporter, `_pyrt`'s functions)
//! becomes a Python RuntimeError and the host keeps running; a panic in an exported C function
//! is PYRT_ERR_INTERNAL (checked by the fuzz targets and tests/python.rs). The panics here are
//! injected (`pyrt::__inject_panics`), one site at a time. Its own test binary: the injection is
//! process-wide, so the test runs alone.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

use pyrt::capi::args::*;
use pyrt::capi::buffer::*;
use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::object::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

const HOST_FUNCTION: u32 = 1;
const OUTPUT_WRITE: u32 = 2;
const GET_BUFFER: u32 = 4;
const RELEASE_BUFFER: u32 = 8;
const MODULE_FUNCTION: u32 = 16;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A copy of a C string, "" for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: not NULL, so NUL-terminated and valid (the caller's promise).
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// Runs `code`; returns the status and, on failure, "Type: message". `rt` is a runtime token:
/// any value is safe (pyrt looks it up, never dereferences it).
fn run(rt: *mut pyrt_runtime, code: &str) -> (i32, String) {
    let mut e = ptr::null_mut();
    // SAFETY: the code is a NUL-terminated temporary alive until the call returns; `e` is a valid
    // out-pointer, then NULL or (on failure) a new error whose type name (NULL for a non-Python
    // error) and message it owns; they are copied before it is freed, once.
    unsafe {
        let st = pyrt_run_string(rt, c(code).as_ptr(), &mut e);
        let msg = if e.is_null() { String::new() } else { format!("{}: {}", text(pyrt_error_python_type(e)), text(pyrt_error_message(e))) };
        pyrt_error_free(e);
        (st, msg)
    }
}

/// `answer()` → 42.
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only.
unsafe extern "C" fn answer(_: *mut c_void, _: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    // SAFETY: `r` is this call's reply, open on this thread until we return; the JSON is static.
    unsafe { pyrt_reply_json(r, c"42".as_ptr()) }
}

#[test]
fn a_panic_where_cpython_calls_pyrt_is_a_python_exception() {
    // SAFETY: `rt` is the runtime this test opens (the only one in this binary) and frees last.
    // Names, code and JSON are NUL-terminated and live until each call returns. `answer` ignores
    // its (NULL) user data. The argument list is used on one thread and freed once per call of
    // `call`; it lends `data` read-only (flags 0: Python cannot write to it), and `data` outlives
    // every call and pyrt_free(rt), after which no Python runs that could hold a view of it.
    // `mean` is an object token. `d`, `e`, `mean` and `out` are valid out-pointers; `e` is NULL or
    // the error the call just wrote (`text` takes NULL), freed once; `out` is read and freed once
    // after the successful call (asserted) that wrote it.
    unsafe {
        let mut rt = ptr::null_mut();
        assert_eq!(pyrt_new(c(r#"{"capture_output": true}"#).as_ptr(), &mut rt, ptr::null_mut()), PYRT_OK);
        assert_eq!(
            pyrt_register(rt, c"hostmod".as_ptr(), c"answer".as_ptr(), Some(answer), ptr::null_mut(), None, ptr::null_mut()),
            PYRT_OK
        );
        assert_eq!(run(rt, "import hostmod, _pyrt\nassert hostmod.answer() == 42").0, PYRT_OK);

        // Each site, caught where Python can see it: the call fails with the RuntimeError (or
        // Python code catches it), and the next call works.
        let internal = "RuntimeError: internal error in pyrt (please report): a panic injected by a test";
        for (mask, code) in
            [(HOST_FUNCTION, "hostmod.answer()"), (MODULE_FUNCTION, "_pyrt.host_thread()"), (OUTPUT_WRITE, "print('through the proxies')")]
        {
            pyrt::__inject_panics(mask);
            let (st, msg) = run(rt, code);
            pyrt::__inject_panics(0);
            assert_eq!(st, PYRT_ERR_PYTHON, "{code}: {msg}");
            assert!(msg.starts_with(internal), "{code}: {msg}");
            let (st, msg) = run(rt, &format!("try:\n    {code}\nexcept RuntimeError:\n    pass"));
            assert_eq!(st, PYRT_OK, "{code}: {msg}");
        }
        pyrt::__inject_panics(HOST_FUNCTION);
        let (st, msg) = run(rt, "try:\n    hostmod.answer()\n    raise AssertionError('no exception')\nexcept RuntimeError as e:\n    assert 'internal error in pyrt' in str(e), e");
        pyrt::__inject_panics(0);
        assert_eq!(st, PYRT_OK, "{msg}");

        // The buffer exporter: lending a host array makes a memoryview (getbuffer), and dropping
        // it releases the view (releasebuffer, which cannot fail: it reports to stderr).
        let mut mean = ptr::null_mut();
        assert_eq!(pyrt_eval_object(rt, c"lambda mv: sum(mv) / len(mv)".as_ptr(), &mut mean, ptr::null_mut()), PYRT_OK);
        let data = [1.0f64, 2.0, 3.0, 6.0];
        let call = |mask: u32| -> (i32, f64, String) {
            let args = pyrt_args_new();
            assert_eq!(pyrt_args_push_buffer(args, data.as_ptr().cast_mut().cast::<c_void>(), data.len(), 1, 0), PYRT_OK);
            pyrt::__inject_panics(mask);
            let mut d = 0.0;
            let mut e = ptr::null_mut();
            let st = pyrt_object_call_double(mean, args, &mut d, &mut e);
            pyrt::__inject_panics(0);
            let msg = text(pyrt_error_message(e));
            pyrt_error_free(e);
            pyrt_args_free(args);
            (st, d, msg)
        };
        assert_eq!(call(0).1, 3.0);
        let (st, _, msg) = call(GET_BUFFER);
        assert_ne!(st, PYRT_OK);
        assert!(msg.contains("internal error in pyrt"), "{msg}");
        // A panic in releasebuffer leaves the export counted: pyrt must then report the buffer
        // as possibly escaped rather than hand the memory back silently.
        let (st, _, _) = call(RELEASE_BUFFER);
        assert!(st == PYRT_OK || st == PYRT_ERR_BUFFER_ESCAPED, "status {st}");
        assert_eq!(call(0).1, 3.0, "the next lending works");

        pyrt_object_free(mean);
        let mut out = ptr::null_mut();
        assert_eq!(pyrt_eval_json(rt, c"6 * 7".as_ptr(), &mut out, ptr::null_mut()), PYRT_OK);
        assert_eq!(text(out), "42");
        pyrt_string_free(out);
        pyrt_free(rt);
    }
}
