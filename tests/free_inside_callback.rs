//! The last runtime handle freed from inside a host callback that its own call's Python code
//! called: the free cannot wait for the interpreter to finalize (finalization waits for that
//! very call), so it returns, the call returns, and the interpreter finalizes after it. Its own
//! process: the test ends by finalizing Python.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;

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

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle may be used from any thread (the header's Threads section).
unsafe impl Send for Rt {}

#[test]
fn the_last_handle_freed_from_inside_a_callback() {
    let (mut rt, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a NUL-terminated config and valid out-pointers.
    assert_eq!(unsafe { pyrt_new(c"{}".as_ptr(), &mut rt, &mut err) }, PYRT_OK);
    // SAFETY: `rt` is live; the names are NUL-terminated; `free_it` keeps to the host-function
    // contract, and its user data is the runtime it frees.
    let status = unsafe { pyrt_register(rt, c"lfree".as_ptr(), c"close".as_ptr(), Some(free_it), rt.cast(), None, ptr::null_mut()) };
    assert_eq!(status, PYRT_OK);
    let handle = Rt(rt);
    let (done, wait) = mpsc::channel();
    std::thread::spawn(move || {
        let handle = handle;
        let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: the runtime is live when the call starts (its callback frees it); the
        // expression is NUL-terminated; `out`/`err` are read and freed once.
        let (status, text) = unsafe {
            let status = pyrt_eval_json(handle.0, c"__import__('lfree').close()".as_ptr(), &mut out, &mut err);
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
        };
        let _ = done.send((status, text));
    });
    // It once waited for ever: the free joined the interpreter's thread, which waited for the
    // call the free was made from.
    let (status, text) = wait.recv_timeout(Duration::from_secs(60)).expect("the call that freed its runtime returns");
    assert!(status == PYRT_OK || status == PYRT_ERR_CLOSED, "{status}: {text}");
}
