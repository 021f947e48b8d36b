//! Control of running calls: interrupting (per runtime, per calling thread), timeouts, and
//! output capture, through the C functions.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyrt::capi::error::*;
use pyrt::capi::memory::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle is a token pyrt looks up in a table and never dereferences (a freed one
// gives PYRT_ERR_CLOSED), and every runtime function may be called from any thread (include/pyrt.h).
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn open(config: &str) -> Rt {
    let c = CString::new(config).unwrap();
    let mut rt = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call; `rt` and `err` are valid out-pointers.
    let st = unsafe { pyrt_new(c.as_ptr(), &mut rt, &mut err) };
    // SAFETY: `err` is NULL or the error the call just wrote, which nothing else frees.
    assert_eq!(st, PYRT_OK, "{}", unsafe { err_text(err) });
    Rt(rt)
}

fn base() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| {
        let rt = open("");
        run(rt, "import threading, time, sys\ndef spin():\n    while True:\n        pass\n").unwrap();
        rt
    })
}

/// The message of a failed call's error, which is freed.
///
/// # Safety
/// `e` is NULL or an error pyrt wrote to an `err_out` that nothing has freed (it is freed here).
unsafe fn err_text(e: *mut pyrt_error) -> String {
    if e.is_null() {
        return "(no error)".into();
    }
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
unsafe fn take_string(s: *mut c_char) -> String {
    // SAFETY: `s` is a live pyrt string (the caller's promise), read and then freed, once.
    unsafe {
        let t = CStr::from_ptr(s).to_string_lossy().into_owned();
        pyrt_string_free(s);
        t
    }
}

/// Frees a runtime handle: safe for any value (a token: NULL or a freed handle is a no-op).
fn free(rt: Rt) {
    // SAFETY: pyrt_free never dereferences the handle; it looks the token up.
    unsafe { pyrt_free(rt.0) };
}

/// (status, message, captured stdout of the error)
type Failure = (i32, String, Option<String>);

fn run(rt: Rt, code: &str) -> Result<(), Failure> {
    let c = CString::new(code).unwrap();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; `c` is NUL-terminated and outlives the call; `err` is a valid
    // out-pointer.
    match unsafe { pyrt_run_string(rt.0, c.as_ptr(), &mut err) } {
        PYRT_OK => Ok(()),
        // SAFETY: the call failed, so `err` is a new error we own; its output (NULL or a string
        // owned by the error) is copied before err_text frees the error.
        st => unsafe {
            let out = pyrt_error_output(err, PYRT_STDOUT);
            let out = (!out.is_null()).then(|| CStr::from_ptr(out).to_string_lossy().into_owned());
            Err((st, err_text(err), out))
        },
    }
}

fn eval(rt: Rt, expr: &str) -> String {
    let c = CString::new(expr).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; `c` is NUL-terminated and outlives the call; valid out-pointers.
    let st = unsafe { pyrt_eval_json(rt.0, c.as_ptr(), &mut out, &mut err) };
    // SAFETY: `err` is NULL or the error the call just wrote, which nothing else frees.
    assert_eq!(st, PYRT_OK, "{}", unsafe { err_text(err) });
    // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
    unsafe { take_string(out) }
}

fn take(rt: Rt, stream: u32) -> String {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: a runtime token and a valid out-pointer (a NULL `err_out` is allowed).
    assert_eq!(unsafe { pyrt_output_take(rt.0, stream, &mut out, ptr::null_mut()) }, PYRT_OK);
    // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
    unsafe { take_string(out) }
}

fn interrupt_thread(id: u64) -> u32 {
    let mut n = 0;
    // SAFETY: `n` is a valid out-pointer; a NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_interrupt_thread(id, &mut n, ptr::null_mut()) }, PYRT_OK);
    n
}

/// Interrupts thread `id`'s call, retrying until it is inside one (the call may not have begun).
fn interrupt_when_running(id: u64) -> Duration {
    let start = Instant::now();
    while interrupt_thread(id) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "the call never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    start.elapsed()
}

#[test]
fn interrupt_a_threads_running_call_and_keep_going() {
    let rt = base();
    for main in [false, true] {
        let target = if main { open(r#"{"main_thread": true}"#) } else { rt };
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            tx.send(pyrt_thread_id()).unwrap();
            let t = Instant::now();
            let r = run(target, "spin()");
            (r, t.elapsed())
        });
        let id = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        interrupt_when_running(id);
        let (r, took) = worker.join().unwrap();
        let (st, msg, _) = r.unwrap_err();
        assert_eq!(st, PYRT_ERR_INTERRUPTED, "{msg}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // Fully usable afterwards, on that handle too.
        assert_eq!(eval(target, "21 * 2"), "42");
        if main {
            free(target);
        }
    }
    // No call running on this thread: nothing to interrupt.
    assert_eq!(interrupt_thread(pyrt_thread_id()), 0);
}

#[test]
fn interrupt_every_call_of_one_runtime_only() {
    let victim = open("");
    let bystander = base();
    let spinners: Vec<_> = (0..2).map(|_| std::thread::spawn(move || run(victim, "spin()"))).collect();
    let other = std::thread::spawn(move || run(bystander, "time.sleep(0.6)\nbystander_done = True"));
    let start = Instant::now();
    // Repeat until both have ended: one may not have begun when the first interrupt ran.
    while !spinners.iter().all(|s| s.is_finished()) {
        let mut n = 0;
        // SAFETY: a runtime token and a valid out-pointer; a NULL `err_out` is allowed.
        assert_eq!(unsafe { pyrt_interrupt(victim.0, &mut n, ptr::null_mut()) }, PYRT_OK);
        assert!(n <= 2);
        assert!(start.elapsed() < Duration::from_secs(10), "the spinners were not interrupted");
        std::thread::sleep(Duration::from_millis(5));
    }
    for s in spinners {
        assert_eq!(s.join().unwrap().unwrap_err().0, PYRT_ERR_INTERRUPTED);
    }
    other.join().unwrap().unwrap();
    assert_eq!(eval(bystander, "bystander_done"), "true");
    let mut n = 7;
    // SAFETY: a runtime token and a valid out-pointer; a NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_interrupt(victim.0, &mut n, ptr::null_mut()) }, PYRT_OK);
    assert_eq!(n, 0);
    free(victim);
    // SAFETY: deliberately a freed handle and a NULL `interrupted_out`: the handle is a token that
    // pyrt looks up (never dereferences) and rejects as closed before anything is written.
    assert_eq!(unsafe { pyrt_interrupt(victim.0, ptr::null_mut(), ptr::null_mut()) }, PYRT_ERR_CLOSED);
}

#[test]
fn timeouts_interrupt_long_calls_only() {
    let rt = open(r#"{"timeout_ms": 200}"#);
    let t = Instant::now();
    let (st, msg, _) = run(rt, "spin()").unwrap_err();
    assert_eq!(st, PYRT_ERR_TIMEOUT, "{msg}");
    assert!(msg.contains("200 ms"), "{msg}");
    assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Short calls are unaffected, many times over (no timer fires into a later call).
    for i in 0..300 {
        assert_eq!(eval(rt, &format!("{i} + 1")), format!("{}", i + 1));
    }
    // Blocking C code is interrupted only when it returns to Python.
    let t = Instant::now();
    let (st, _, _) = run(rt, "time.sleep(0.5)\nspin()").unwrap_err();
    assert_eq!(st, PYRT_ERR_TIMEOUT);
    assert!(t.elapsed() >= Duration::from_millis(500));
    free(rt);
}

#[test]
fn interrupts_racing_short_calls_never_leak_into_later_calls() {
    let rt = base();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let caller = std::thread::spawn(move || {
        tx.send(pyrt_thread_id()).unwrap();
        let (mut ok, mut interrupted) = (0, 0);
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            match run(rt, "x = sum(range(1000))") {
                Ok(()) => ok += 1,
                Err((PYRT_ERR_INTERRUPTED, _, _)) => interrupted += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        (ok, interrupted)
    });
    let id = rx.recv().unwrap();
    let mut fired = 0;
    for _ in 0..300 {
        fired += interrupt_thread(id);
        std::thread::sleep(Duration::from_micros(200));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, interrupted) = caller.join().unwrap();
    assert!(ok > 0 && interrupted <= fired as usize, "ok {ok}, interrupted {interrupted}, fired {fired}");
    // Nothing pending on any thread afterwards.
    for _ in 0..100 {
        run(rt, "x = sum(range(1000))").unwrap();
    }
}

static HANDLED: Mutex<String> = Mutex::new(String::new());

/// The output handler: appends `[stream]text` to HANDLED.
///
/// # Safety
/// Called by pyrt only, as a `pyrt_output_fn`: `text` points to `len` bytes valid for the call.
unsafe extern "C" fn collect(user: *mut c_void, stream: u32, text: *const c_char, len: usize) {
    assert_eq!(user as usize, 0x5eed);
    // SAFETY: pyrt passes a non-NULL `text` with `len` readable bytes, valid until the handler returns.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) };
    let s = std::str::from_utf8(bytes).unwrap();
    HANDLED.lock().unwrap().push_str(&format!("[{stream}]{s}"));
}

#[test]
fn output_capture_per_handle_and_the_runtime_level_handler() {
    // One test: the output handler is process-wide.
    let a = open(r#"{"capture_output": true}"#);
    let b = open(r#"{"capture_output": true}"#);
    run(a, "print('to a'); print('err a', file=sys.stderr)").unwrap();
    assert_eq!(take(a, PYRT_STDOUT), "to a\n");
    assert_eq!(take(a, PYRT_STDERR), "err a\n");
    assert_eq!(take(a, PYRT_STDOUT), "", "taking clears");
    // Concurrent calls through two capturing handles never mix.
    std::thread::scope(|s| {
        for (rt, tag) in [(a, "A"), (b, "B")] {
            s.spawn(move || {
                for i in 0..50 {
                    run(rt, &format!("print('{tag}{i}', end=' ')")).unwrap();
                }
            });
        }
    });
    let want = |tag: &str| (0..50).map(|i| format!("{tag}{i} ")).collect::<String>();
    assert_eq!(take(a, PYRT_STDOUT), want("A"));
    assert_eq!(take(b, PYRT_STDOUT), want("B"));
    // A failed call carries its own output.
    let (st, _, out) = run(a, "print('before the error')\n1/0").unwrap_err();
    assert_eq!(st, PYRT_ERR_PYTHON);
    assert_eq!(out.as_deref(), Some("before the error\n"));
    assert_eq!(take(a, PYRT_STDOUT), "before the error\n");
    // Threads started by the call, and calls through non-capturing handles: the handler.
    let plain = base();
    // SAFETY: a runtime token; `collect` only compares its user data with 0x5eed, never dereferences it.
    assert_eq!(unsafe { pyrt_set_output_handler(plain.0, Some(collect), 0x5eed as *mut c_void, ptr::null_mut()) }, PYRT_OK);
    run(a, "t = threading.Thread(target=lambda: print('from a thread')); t.start(); t.join(); print('mine')").unwrap();
    assert_eq!(take(a, PYRT_STDOUT), "mine\n");
    run(plain, "print('plain'); sys.stderr.write('plain err\\n')").unwrap();
    assert_eq!(*HANDLED.lock().unwrap(), "[1]from a thread[1]\n[1]plain[1]\n[2]plain err\n");
    // print() still flushes and the proxy looks like the original stream.
    assert_eq!(eval(plain, "sys.stdout.encoding == sys.__stdout__.encoding"), "true");
    assert_eq!(eval(plain, "sys.stdout.fileno() == 1"), "true");
    // NULL restores the process's streams.
    // SAFETY: a runtime token; no handler, so the NULL user data is never passed anywhere.
    assert_eq!(unsafe { pyrt_set_output_handler(plain.0, None, ptr::null_mut(), ptr::null_mut()) }, PYRT_OK);
    HANDLED.lock().unwrap().clear();
    run(plain, "print('to the real stdout (expected in the test log)')").unwrap();
    assert_eq!(*HANDLED.lock().unwrap(), "");
    let mut out = ptr::null_mut();
    // SAFETY: a runtime token and a valid out-pointer (the bad stream 3 is what is under test).
    assert_eq!(unsafe { pyrt_output_take(a.0, 3, &mut out, ptr::null_mut()) }, PYRT_ERR_INVALID_ARGUMENT);
    free(a);
    free(b);
}
