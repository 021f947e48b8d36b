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
unsafe impl Send for Rt {}
unsafe impl Sync for Rt {}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn rt() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| {
        let mut rt = ptr::null_mut();
        let mut err = ptr::null_mut();
        assert_eq!(unsafe { pyrt_new(c("").as_ptr(), &mut rt, &mut err) }, PYRT_OK);
        Rt(rt)
    })
}

fn message(e: *mut pyrt_error) -> String {
    unsafe {
        let m = CStr::from_ptr(pyrt_error_message(e)).to_string_lossy().into_owned();
        pyrt_error_free(e);
        m
    }
}

fn run(rt: Rt, code: &str) {
    let mut err = ptr::null_mut();
    let st = unsafe { pyrt_run_string(rt.0, c(code).as_ptr(), &mut err) };
    assert_eq!(st, PYRT_OK, "{code}: {}", message(err));
}

fn eval(rt: Rt, expr: &str) -> String {
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    let st = unsafe { pyrt_eval_json(rt.0, c(expr).as_ptr(), &mut out, &mut err) };
    assert_eq!(st, PYRT_OK, "{expr}: {}", message(err));
    unsafe {
        let s = CStr::from_ptr(out).to_string_lossy().into_owned();
        pyrt_string_free(out);
        s
    }
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

/// `nested(expr)`: evaluates `expr` through pyrt on the calling thread.
unsafe extern "C" fn nested(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = user as *mut pyrt_runtime;
    let expr: Vec<String> = serde_json::from_str(CStr::from_ptr(args).to_str().unwrap()).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    if pyrt_eval_json(rt, c(&expr[0]).as_ptr(), &mut out, &mut err) == PYRT_OK {
        pyrt_reply_json(r, out);
        pyrt_string_free(out);
    } else {
        pyrt_reply_exception(r, err);
        pyrt_error_free(err);
    }
    PYRT_OK
}

/// `elsewhere(expr)`: evaluates `expr` through pyrt on a new thread, waiting for it.
unsafe extern "C" fn elsewhere(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = Rt(user as *mut pyrt_runtime);
    let expr: Vec<String> = serde_json::from_str(CStr::from_ptr(args).to_str().unwrap()).unwrap();
    let v = thread::spawn(move || eval(rt, &expr[0])).join().unwrap();
    pyrt_reply_json(r, c(&v).as_ptr());
    PYRT_OK
}

#[test]
fn nested_calls_from_many_threads_do_not_wait_for_themselves() {
    let rt = rt();
    let mut err = ptr::null_mut();
    let fns: [(&str, pyrt_host_fn); 2] = [("nested", Some(nested)), ("elsewhere", Some(elsewhere))];
    for (name, f) in fns {
        let st = unsafe { pyrt_register(rt.0, c("admit_host").as_ptr(), c(name).as_ptr(), f, rt.0 as *mut c_void, None, &mut err) };
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
