//! Worker sub-interpreters ("workers"): on Python 3.12+ each worker is a sub-interpreter with its
//! own GIL; below, the same calls run in the main interpreter and the mode says so. Results are
//! the same as in the main interpreter. This test binary uses the real venv (PYRT_TEST_VENV) so
//! that numpy, which refuses sub-interpreters, is there to be refused.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::object::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle is a token pyrt looks up in a table and never dereferences, and every
// runtime function may be called from any thread (include/pyrt.h), so the handle may move.
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn venv() -> Option<String> {
    std::env::var("PYRT_TEST_VENV").ok().filter(|v| !v.is_empty())
}

fn open(config: &str) -> Result<Rt, (i32, String)> {
    let c = CString::new(config).unwrap();
    let mut rt = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call; `rt` and `err` are valid out-pointers.
    match unsafe { pyrt_new(c.as_ptr(), &mut rt, &mut err) } {
        PYRT_OK => Ok(Rt(rt)),
        // SAFETY: the call failed, so it wrote a new error to `err`, freed by take_err only.
        st => Err((st, unsafe { take_err(err) })),
    }
}

/// The message of a failed call's error, which is freed.
///
/// # Safety
/// `e` is an error pyrt wrote to an `err_out` that nothing has freed (it is freed here).
unsafe fn take_err(e: *mut pyrt_error) -> String {
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
/// `s` is such a string (NUL-terminated UTF-8, allocated by pyrt) that nothing has freed.
unsafe fn take_string(s: *mut c_char) -> String {
    // SAFETY: `s` is a live pyrt string (the caller's promise), read and then freed, once.
    unsafe {
        let t = CStr::from_ptr(s).to_str().unwrap().to_owned();
        pyrt_string_free(s);
        t
    }
}

/// Frees a runtime handle: safe for any value (a token: NULL or a freed handle is a no-op).
fn free(rt: Rt) {
    // SAFETY: pyrt_free never dereferences the handle; it looks the token up.
    unsafe { pyrt_free(rt.0) };
}

/// The main-interpreter runtime, started first (with the venv when there is one).
fn main_rt() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| {
        let cfg = match venv() {
            Some(v) => format!(r#"{{"venv": {}}}"#, serde_json::to_string(&v).unwrap()),
            None => String::new(),
        };
        open(&cfg).unwrap()
    })
}

// `where()` tells interpreters apart (a call runs on its caller's thread or on the worker's, so
// a thread ident would not).
const SETUP: &str = "import threading, math, os\n\
HERE = int.from_bytes(os.urandom(6), 'little')\n\
def work(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n\
def where():\n    return HERE\n\
def rendezvous(d, n):\n    import os, time\n    open(os.path.join(d, str(where())), 'w').close()\n    deadline = time.time() + 10\n    while len(os.listdir(d)) < n and time.time() < deadline:\n        time.sleep(0.005)\n    return where()\n";

fn workers_rt() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| {
        main_rt();
        let cfg = format!(
            r#"{{"workers": 2, "worker_modules": ["json", "textwrap"], "worker_setup": {}}}"#,
            serde_json::to_string(SETUP).unwrap()
        );
        open(&cfg).unwrap()
    })
}

fn minor() -> u32 {
    let info = info(main_rt());
    info["python_version"].as_str().unwrap().split('.').nth(1).unwrap().parse().unwrap()
}

fn info(rt: Rt) -> serde_json::Value {
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: a runtime token and a valid out-pointer; NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_info_json(rt.0, &mut out, ptr::null_mut()) }, PYRT_OK);
    // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
    let s = unsafe { take_string(out) };
    serde_json::from_str(&s).unwrap()
}

fn call(rt: Rt, module: &str, f: &str, args: &str) -> Result<String, (i32, String)> {
    let (m, f, a) = (CString::new(module).unwrap(), CString::new(f).unwrap(), CString::new(args).unwrap());
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; module, function and arguments are NUL-terminated and outlive the
    // call; NULL keyword arguments mean none; valid out-pointers.
    match unsafe { pyrt_call_json(rt.0, m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, &mut err) } {
        // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
        PYRT_OK => Ok(unsafe { take_string(out) }),
        // SAFETY: the call failed, so it wrote a new error to `err`, freed by take_err only.
        st => Err((st, unsafe { take_err(err) })),
    }
}

fn eval(rt: Rt, expr: &str) -> Result<String, (i32, String)> {
    let c = CString::new(expr).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; `c` is NUL-terminated and outlives the call; valid out-pointers.
    match unsafe { pyrt_eval_json(rt.0, c.as_ptr(), &mut out, &mut err) } {
        // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
        PYRT_OK => Ok(unsafe { take_string(out) }),
        // SAFETY: the call failed, so it wrote a new error to `err`, freed by take_err only.
        st => Err((st, unsafe { take_err(err) })),
    }
}

fn run(rt: Rt, code: &str) -> Result<(), (i32, String)> {
    let c = CString::new(code).unwrap();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; `c` is NUL-terminated and outlives the call; `err` is a valid
    // out-pointer.
    match unsafe { pyrt_run_string(rt.0, c.as_ptr(), &mut err) } {
        PYRT_OK => Ok(()),
        // SAFETY: the call failed, so it wrote a new error to `err`, freed by take_err only.
        st => Err((st, unsafe { take_err(err) })),
    }
}

#[test]
fn the_mode_in_effect_is_reported() {
    let i = info(workers_rt());
    if minor() >= 12 {
        assert_eq!(i["mode"], "subinterpreters", "{i}");
        assert_eq!(i["workers"], 2);
    } else {
        assert_eq!(i["mode"], "caller_thread", "{i}");
        assert_eq!(i["workers"], 0);
        assert!(i["workers_note"].as_str().unwrap().contains("3.12"), "{i}");
    }
    assert_eq!(i["workers_requested"], 2);
    assert_eq!(info(main_rt())["mode"], "caller_thread");
    // Bad settings are config errors.
    for bad in [r#"{"workers": 0}"#, r#"{"workers": 65}"#, r#"{"worker_setup": "x = 1"}"#, r#"{"workers": 1, "main_thread": true}"#] {
        assert_eq!(open(bad).err().unwrap().0, PYRT_ERR_CONFIG, "{bad}");
    }
}

#[test]
fn results_are_those_of_the_main_interpreter() {
    let (w, m) = (workers_rt(), main_rt());
    run(m, SETUP).unwrap();
    for (module, f, args) in [
        ("__main__", "work", "[1000]"),
        ("math", "sqrt", "[16.0]"),
        ("json", "dumps", r#"[{"a": [1, 2.5, null, true]}]"#),
        ("builtins", "sorted", r#"[[3, 1, 2]]"#),
        ("builtins", "pow", "[2, 200]"),
        ("textwrap", "wrap", r#"["a b c d e f", 3]"#),
        // decimal works too (on 3.12 through _pydecimal: see workers.rs)
        ("decimal", "Decimal", r#"["1.5"]"#),
    ] {
        let (a, b) = (call(w, module, f, args), call(m, module, f, args));
        match (&a, &b) {
            (Ok(x), Ok(y)) => assert_eq!(x, y, "{module}.{f}"),
            (Err((s1, _)), Err((s2, _))) => assert_eq!(s1, s2, "{module}.{f}"),
            _ => panic!("{module}.{f}: workers {a:?}, main {b:?}"),
        }
    }
    // Errors too.
    assert_eq!(call(w, "math", "sqrt", "[-1]").unwrap_err().0, PYRT_ERR_PYTHON);
    // Code run through the handle reaches every worker.
    run(w, "shared_value = 41 + 1").unwrap();
    for _ in 0..6 {
        assert_eq!(eval(w, "shared_value").unwrap(), "42");
    }
}

#[test]
fn workers_run_in_parallel_on_their_own_interpreters() {
    let w = workers_rt();
    if minor() < 12 {
        return;
    }
    // Two concurrent calls land in two different workers, each in its interpreter.
    let idents: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| call(w, "__main__", "work", "[300000]").and_then(|_| call(w, "__main__", "where", "[]")).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(idents.len(), 2);
    // Each call waits (up to 10 s) until both have started: in two workers both start at once;
    // a worker that took both would run them one after the other, the first timing out alone.
    // (Timing alone is not enough: on a loaded machine one busy call may end before the other
    // is admitted, and both then find the same worker idle.)
    let dir = std::env::temp_dir().join(format!("pyrt-rendezvous-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = format!("[{}, 2]", serde_json::to_string(&dir.to_string_lossy()).unwrap());
    let busy: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| call(w, "__main__", "rendezvous", &args).unwrap())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(busy[0], busy[1], "two concurrent calls ran in the same worker");
    // An object made through a workers handle lives in a worker and is used there
    // (tests/worker_objects.rs); the event loop is the main interpreter's, so awaits are refused.
    let mut o = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token, a static NUL-terminated name and valid out-pointers.
    assert_eq!(unsafe { pyrt_import(w.0, c"math".as_ptr(), &mut o, &mut err) }, PYRT_OK);
    // SAFETY: `o` is the handle just made, freed once.
    unsafe { pyrt_object_free(o) };
}

#[test]
fn modules_that_refuse_subinterpreters_are_named() {
    main_rt();
    if minor() < 12 {
        return;
    }
    if venv().is_some() {
        let (st, msg) = open(r#"{"workers": 1, "worker_modules": ["numpy"]}"#).err().expect("numpy refuses sub-interpreters");
        assert_eq!(st, PYRT_ERR_PYTHON, "{msg}");
        assert!(msg.contains("numpy") && msg.contains("without \"workers\""), "{msg}");
    }
    if minor() == 12 {
        let (_, msg) = open(r#"{"workers": 1, "worker_modules": ["_datetime"]}"#).err().expect("_datetime refuses on 3.12");
        assert!(msg.contains("_datetime"), "{msg}");
    }
    // The main interpreter keeps working.
    assert_eq!(call(main_rt(), "math", "sqrt", "[4.0]").unwrap(), "2.0");
}

/// `twice(n)` → `2 * n`.
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only.
unsafe extern "C" fn twice(_: *mut c_void, args: *const c_char, _: *const c_char, reply: *mut pyrt_reply) -> i32 {
    // SAFETY: pyrt passes `args_json` NUL-terminated, valid until we return.
    let args = unsafe { CStr::from_ptr(args) };
    let v: Vec<i64> = serde_json::from_str(args.to_str().unwrap()).unwrap();
    let out = CString::new((v[0] * 2).to_string()).unwrap();
    // SAFETY: `reply` is this call's reply, open on this thread until we return; `out` is
    // NUL-terminated and outlives the call, which copies it.
    unsafe { pyrt_reply_json(reply, out.as_ptr()) }
}

#[test]
fn host_callbacks_output_capture_and_interrupts_in_workers() {
    let w = workers_rt();
    let (m, n) = (CString::new("wcb").unwrap(), CString::new("twice").unwrap());
    // SAFETY: a runtime token; `m` and `n` are NUL-terminated and outlive the call; `twice` ignores
    // its (NULL) user data; NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_register(w.0, m.as_ptr(), n.as_ptr(), Some(twice), ptr::null_mut(), None, ptr::null_mut()) }, PYRT_OK);
    for _ in 0..4 {
        assert_eq!(eval(w, "__import__('wcb').twice(21)").unwrap(), "42");
    }
    // A capturing workers handle.
    let cap = open(r#"{"workers": 2, "capture_output": true}"#).unwrap();
    run(cap, "print('to every worker')").unwrap(); // runs in each worker
    call(cap, "builtins", "print", r#"["from one call"]"#).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: a runtime token and a valid out-pointer; NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_output_take(cap.0, PYRT_STDOUT, &mut out, ptr::null_mut()) }, PYRT_OK);
    // SAFETY: the call succeeded, so `out` is a string pyrt allocated for this caller.
    let text = unsafe { take_string(out) };
    let expected_runs = if minor() >= 12 { 2 } else { 1 };
    assert_eq!(text, format!("{}from one call\n", "to every worker\n".repeat(expected_runs)));
    free(cap);
    // Interrupting a worker's call from another thread, and a timeout.
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(pyrt_thread_id()).unwrap();
        run(w, "while True:\n    pass\n").unwrap_err()
    });
    // (run_string broadcasts: interrupt until every worker's loop has ended)
    let id = rx.recv().unwrap();
    let start = Instant::now();
    while !h.is_finished() {
        let mut k = 0;
        // SAFETY: `k` is a valid out-pointer; NULL `err_out` is allowed.
        assert_eq!(unsafe { pyrt_interrupt_thread(id, &mut k, ptr::null_mut()) }, PYRT_OK);
        assert!(start.elapsed() < Duration::from_secs(20), "not interrupted");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.join().unwrap().0, PYRT_ERR_INTERRUPTED);
    assert_eq!(call(w, "__main__", "work", "[10]").unwrap(), "285");
    let limited = open(r#"{"workers": 1, "timeout_ms": 150, "worker_setup": "def spin():\n    while True:\n        pass\n"}"#).unwrap();
    assert_eq!(call(limited, "__main__", "spin", "[]").unwrap_err().0, PYRT_ERR_TIMEOUT);
    assert_eq!(call(limited, "builtins", "abs", "[-3]").unwrap(), "3");
    free(limited);
}
