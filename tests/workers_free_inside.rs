//! A runtime with "workers" freed from inside one of its own calls (a host function that Python
//! code running in a worker called). The worker cannot end while that call runs, so the free
//! must not wait for it: the call finishes, the worker ends after it, and the interpreter's
//! finalization waits for that worker. Its own process: the test ends by finalizing Python.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

/// Frees the runtime registered as user data, then answers 1.
unsafe extern "C" fn free_it(user: *mut c_void, _args: *const c_char, _kwargs: *const c_char, reply: *mut pyrt_reply) -> i32 {
    // SAFETY: `user` is the runtime this function was registered with, freed here only (once);
    // `reply` is this callback's live reply and the JSON text is NUL-terminated.
    unsafe {
        pyrt_free(user.cast());
        pyrt_reply_json(reply, c"1".as_ptr())
    }
}

fn eval(rt: *mut pyrt_runtime, expr: &CStr) -> (i32, String) {
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `rt` is a runtime handle (live, or freed: then pyrt reports it); the expression is
    // NUL-terminated; on success `out` is pyrt's string, on failure `err` its error, each read
    // and freed once.
    unsafe {
        let status = pyrt_eval_json(rt, expr.as_ptr(), &mut out, &mut err);
        let p = if status == PYRT_OK {
            out.cast_const()
        } else if err.is_null() {
            c"".as_ptr()
        } else {
            pyrt_error_message(err)
        };
        let text = CStr::from_ptr(p).to_string_lossy().into_owned();
        pyrt_string_free(out);
        pyrt_error_free(err);
        (status, text)
    }
}

fn open(config: &CStr) -> *mut pyrt_runtime {
    let (mut rt, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a NUL-terminated config and valid out-pointers.
    let status = unsafe { pyrt_new(config.as_ptr(), &mut rt, &mut err) };
    assert_eq!(status, PYRT_OK);
    rt
}

#[test]
fn a_workers_runtime_freed_from_inside_its_own_call() {
    let keep = open(c"{}"); // keeps the interpreter running
    for _ in 0..3 {
        let rt = open(c"{\"workers\": 2}");
        // SAFETY: `rt` is live; the names are NUL-terminated; `free_it` keeps to the host-function
        // contract, and its user data is the runtime it frees.
        let status = unsafe { pyrt_register(rt, c"wfree".as_ptr(), c"close".as_ptr(), Some(free_it), rt.cast(), None, ptr::null_mut()) };
        assert_eq!(status, PYRT_OK);
        // The call that frees its own runtime returns (its result, or the runtime's closing).
        let (status, text) = eval(rt, c"__import__('wfree').close()");
        assert!(status == PYRT_OK || status == PYRT_ERR_CLOSED, "{status}: {text}");
        // The handle is gone: a clear error, never a crash.
        assert_ne!(eval(rt, c"1 + 1").0, PYRT_OK);
    }
    assert_eq!(eval(keep, c"1 + 1"), (PYRT_OK, "2".to_string()));
    // The last handle: finalization waits for the workers that ended after their calls.
    // SAFETY: `keep` is live and freed once.
    unsafe { pyrt_free(keep) };
}
