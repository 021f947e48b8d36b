//! A host function that Python code running in a worker sub-interpreter calls, and that calls
//! back into the same workers runtime, from several threads at once. The nested call must run
//! in that worker with its GIL retaken (it once ran Python after the worker had released its
//! GIL: a crash on 3.12+).

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

/// The host function: evaluates Python through the runtime it was registered with and
/// answers with the result.
unsafe extern "C" fn back_in(user: *mut c_void, _args: *const c_char, _kwargs: *const c_char, reply: *mut pyrt_reply) -> i32 {
    let rt = user.cast::<pyrt_runtime>();
    let expr = c"sum(i * i for i in range(20000))";
    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `rt` is the live runtime registered as user data (freed only after every caller
    // joined); the expression is NUL-terminated; the out-pointers are valid.
    let status = unsafe { pyrt_eval_json(rt, expr.as_ptr(), &mut out, &mut err) };
    if status != PYRT_OK {
        // SAFETY: on failure `err` is an error pyrt allocated (or NULL): read, then freed once;
        // `reply` is the live reply of this callback.
        unsafe {
            let message =
                if err.is_null() { String::new() } else { CStr::from_ptr(pyrt_error_message(err)).to_string_lossy().into_owned() };
            pyrt_error_free(err);
            let m = CString::new(format!("inner call failed ({status}): {message}")).unwrap_or_default();
            return pyrt_reply_error(reply, m.as_ptr());
        }
    }
    // SAFETY: `out` is the result string pyrt allocated (freed once, after the reply copied it);
    // `reply` is this callback's live reply.
    unsafe {
        let r = pyrt_reply_json(reply, out);
        pyrt_string_free(out);
        r
    }
}

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle may be used from any thread (the header's Threads section).
unsafe impl Send for Rt {}

#[test]
fn worker_callback_calls_back_into_its_runtime() {
    let config = c"{\"workers\": 2}";
    let (mut rt, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a NUL-terminated config and valid out-pointers.
    let status = unsafe { pyrt_new(config.as_ptr(), &mut rt, &mut err) };
    assert_eq!(status, PYRT_OK);
    // SAFETY: `rt` is live; the names are NUL-terminated; `back_in` keeps to the host-function
    // contract; the user data (the runtime) outlives the registration (freed last).
    let status = unsafe { pyrt_register(rt, c"wcb".as_ptr(), c"back".as_ptr(), Some(back_in), rt.cast(), None, ptr::null_mut()) };
    assert_eq!(status, PYRT_OK);
    let handle = Rt(rt);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let handle = handle;
                let expr = c"[__import__('wcb').back() for _ in range(3)]";
                for _ in 0..25 {
                    let (mut out, mut err) = (ptr::null_mut(), ptr::null_mut());
                    // SAFETY: the runtime is live until every thread joined; valid out-pointers.
                    let status = unsafe { pyrt_eval_json(handle.0, expr.as_ptr(), &mut out, &mut err) };
                    // SAFETY: on success `out` is pyrt's string, on failure `err` its error; each
                    // is read and freed once.
                    let text = unsafe {
                        let p = if status == PYRT_OK { out.cast_const() } else { pyrt_error_message(err) };
                        let text = CStr::from_ptr(p).to_string_lossy().into_owned();
                        pyrt_string_free(out);
                        pyrt_error_free(err);
                        text
                    };
                    assert_eq!(status, PYRT_OK, "{text}");
                    let want = (0..20000u64).map(|i| i * i).sum::<u64>();
                    assert_eq!(text, format!("[{want},{want},{want}]"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a calling thread panicked");
    }
    // SAFETY: every thread using the handle has joined.
    unsafe { pyrt_free(rt) };
}
