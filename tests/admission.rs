//! Fair admission to the GIL (`src/python/admission.rs`), through the C functions from many
//! host threads: a thread calling in a loop does not keep a newcomer out, calls whose Python code releases the GIL
//! still overlap, and nested calls (a host callback calling back in, on its own thread or by
//! handing work to another) never wait for themselves. No timing is asserted except where the
//! alternative is a difference of several times (serialized sleeps).

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle is a token pyrt looks up in a table and never dereferences, and every
// runtime function may be called from any thread (include/pyrt.h), so the handle may move.
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn rt() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| {
        let mut rt = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: the config "" (all defaults) is a NUL-terminated temporary that lives to the end
        // of the statement, past the call; `rt` and `err` are valid out-pointers.
        assert_eq!(unsafe { pyrt_new(c("").as_ptr(), &mut rt, &mut err) }, PYRT_OK);
        Rt(rt)
    })
}

/// The message of a failed call's error, which is freed.
///
/// # Safety
/// `e` is an error pyrt wrote to an `err_out` that nothing has freed (it is freed here).
unsafe fn message(e: *mut pyrt_error) -> String {
    // SAFETY: `e` is a live error (the caller's promise): its message is a NUL-terminated string
    // it owns, copied before `e` is freed, once.
    unsafe {
        let m = CStr::from_ptr(pyrt_error_message(e)).to_string_lossy().into_owned();
        pyrt_error_free(e);
        m
    }
}

/// A string pyrt returned through a `result_out`, copied and freed.
///
/// # Safety
/// `s` is such a string (NUL-terminated, allocated by pyrt) that nothing has freed.
unsafe fn take(s: *mut c_char) -> String {
    // SAFETY: `s` is a live pyrt string (the caller's promise), read and then freed, once.
    unsafe {
        let t = CStr::from_ptr(s).to_string_lossy().into_owned();
        pyrt_string_free(s);
        t
    }
}

fn run(rt: Rt, code: &str) {
    let mut err = ptr::null_mut();
    // SAFETY: `rt.0` is a runtime token (any value is looked up, never dereferenced); the code is a
    // NUL-terminated temporary alive until the call returns; `err` is a valid out-pointer.
    let st = unsafe { pyrt_run_string(rt.0, c(code).as_ptr(), &mut err) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `err`.
    assert_eq!(st, PYRT_OK, "{code}: {}", unsafe { message(err) });
}

fn eval(rt: Rt, expr: &str) -> String {
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token, a NUL-terminated temporary alive until the call returns, and valid
    // out-pointers.
    let st = unsafe { pyrt_eval_json(rt.0, c(expr).as_ptr(), &mut out, &mut err) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `err`.
    assert_eq!(st, PYRT_OK, "{expr}: {}", unsafe { message(err) });
    // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
    unsafe { take(out) }
}

/// Runs `f` on `n` threads and waits for all, failing (instead of hanging) after `limit`.
fn on_threads(n: usize, limit: Duration, f: impl Fn(usize) + Send + Sync + Copy + 'static) -> Duration {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    for i in 0..n {
        let tx = tx.clone();
        thread::spawn(move || {
            f(i);
            tx.send(()).unwrap();
        });
    }
    for _ in 0..n {
        rx.recv_timeout(limit.saturating_sub(start.elapsed())).expect("calls from many threads did not finish: a deadlock?");
    }
    start.elapsed()
}

#[test]
fn a_caller_in_a_loop_does_not_keep_the_gil_from_a_newcomer() {
    let rt = rt();
    if eval(rt, "getattr(__import__('sys'), '_is_gil_enabled', lambda: True)()") == "false" {
        return; // free-threaded: both threads run Python at once; there is no turn to take
    }
    run(rt, "loop_calls = 0\ndef loop_call():\n    global loop_calls\n    loop_calls += 1\n");
    // One thread calls a short function back to back. Without admission in order, it takes
    // the GIL straight back after each call, and a thread that arrives meanwhile waits for
    // CPython's 5 ms switch interval: hundreds of the loop's calls. In order, the newcomer
    // waits for the call inside to end and maybe the next one.
    static DONE: AtomicUsize = AtomicUsize::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    STOP.store(false, SeqCst);
    let looper = thread::spawn(move || {
        while !STOP.load(SeqCst) {
            run(rt, "loop_call()");
            DONE.fetch_add(1, SeqCst);
        }
    });
    while DONE.load(SeqCst) < 100 {
        thread::sleep(Duration::from_millis(1));
    }
    let mut overtaken = Vec::new();
    for _ in 0..7 {
        thread::sleep(Duration::from_millis(10));
        // A fresh thread each time: a first call (no Python state yet) queues too.
        overtaken.push(
            thread::spawn(move || {
                let before = DONE.load(SeqCst);
                let at_entry: usize = eval(rt, "loop_calls").parse().unwrap();
                at_entry.saturating_sub(before)
            })
            .join()
            .unwrap(),
        );
    }
    STOP.store(true, SeqCst);
    looper.join().unwrap();
    // The median: a newcomer may also be held up by the OS before it reaches the queue.
    let mut sorted = overtaken.clone();
    sorted.sort_unstable();
    assert!(sorted[sorted.len() / 2] <= 10, "calls of the looping thread that went ahead of a newcomer: {overtaken:?}");
}

#[test]
fn calls_that_release_the_gil_overlap() {
    let rt = rt();
    run(rt, "import time");
    // 16 threads each sleeping 100 ms in Python: about 100 ms in all when they overlap,
    // 1.6 s if admission serialized them.
    let took = on_threads(16, Duration::from_secs(60), move |_| run(rt, "time.sleep(0.1)"));
    assert!(took < Duration::from_millis(800), "16 sleeps of 100 ms took {took:?}: not overlapping");
}

/// The one string argument of a host function call.
///
/// # Safety
/// `args` is the `args_json` pyrt passed to a host function that has not returned yet.
unsafe fn the_arg(args: *const c_char) -> String {
    // SAFETY: pyrt passes `args_json` NUL-terminated and valid until the host function returns.
    let json = unsafe { CStr::from_ptr(args) };
    let mut v: Vec<String> = serde_json::from_str(json.to_str().unwrap()).unwrap();
    v.swap_remove(0)
}

/// `nested(expr)`: evaluates `expr` through pyrt on the calling thread.
///
/// # Safety
/// A `pyrt_host_fn` registered with the runtime handle as `user`, called by pyrt only.
unsafe extern "C" fn nested(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = user.cast::<pyrt_runtime>();
    // SAFETY: `args` is this call's `args_json`, valid until we return.
    let expr = unsafe { the_arg(args) };
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: `rt` is the runtime token registered as user data; the expression is a NUL-terminated
    // temporary alive for the call; `out` and `err` are valid out-pointers. `r` is this call's
    // reply, open on this thread until we return. On PYRT_OK `out` is a string we own (the reply
    // copies it), else `err` is an error we own (the reply does not consume it): each freed once.
    unsafe {
        if pyrt_eval_json(rt, c(&expr).as_ptr(), &mut out, &mut err) == PYRT_OK {
            pyrt_reply_json(r, out);
            pyrt_string_free(out);
        } else {
            pyrt_reply_exception(r, err);
            pyrt_error_free(err);
        }
    }
    PYRT_OK
}

/// `elsewhere(expr)`: evaluates `expr` through pyrt on a new thread, waiting for it.
///
/// # Safety
/// A `pyrt_host_fn` registered with the runtime handle as `user`, called by pyrt only.
unsafe extern "C" fn elsewhere(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = Rt(user.cast());
    // SAFETY: `args` is this call's `args_json`, valid until we return.
    let expr = unsafe { the_arg(args) };
    let v = thread::spawn(move || eval(rt, &expr)).join().unwrap();
    // SAFETY: `r` is this call's reply and this is its thread (the other thread has been joined);
    // the JSON is a NUL-terminated temporary alive for the call, which copies it.
    unsafe { pyrt_reply_json(r, c(&v).as_ptr()) };
    PYRT_OK
}

#[test]
fn nested_calls_from_many_threads_do_not_wait_for_themselves() {
    let rt = rt();
    let mut err = ptr::null_mut();
    let fns: [(&str, pyrt_host_fn); 2] = [("nested", Some(nested)), ("elsewhere", Some(elsewhere))];
    for (name, f) in fns {
        // SAFETY: a runtime token; module and name are NUL-terminated temporaries alive for the call;
        // `f` reads its user data as a runtime token, and that is what it is given; `err` is a valid
        // out-pointer.
        let st = unsafe { pyrt_register(rt.0, c("admit_host").as_ptr(), c(name).as_ptr(), f, rt.0.cast(), None, &mut err) };
        assert_eq!(st, PYRT_OK);
    }
    run(rt, "import admit_host\ndef spin(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n");
    // Eight threads call Python that calls the host that calls Python again (on the same
    // thread, and through another thread), mixed with plain calls keeping the queue full.
    on_threads(8, Duration::from_secs(120), move |i| {
        for k in 0..150 {
            let got = match (i + k) % 3 {
                0 => eval(rt, "admit_host.nested('spin(200)')"),
                1 => eval(rt, "admit_host.elsewhere(\"admit_host.nested('spin(100)')\")"),
                _ => eval(rt, "spin(200)"),
            };
            assert!(got == "19900" || got == "4950", "{got}");
        }
    });
}
