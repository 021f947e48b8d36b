//! Runtime handles: create, run code, evaluate, call, free.

use std::ffi::{c_char, c_void};

use super::error::pyrt_error;
use super::{boundary, c_text, optional_json, optional_text, require_out, text, ErrOut};
use crate::runtime;

/// A handle to the process's Python interpreter. Opaque: pyrt never dereferences it (it is a
/// token checked against a table), so a freed or invalid handle gives PYRT_ERR_CLOSED, not a
/// crash.
pub struct pyrt_runtime {
    _private: [u8; 0],
}

/// The runtime's token; NULL is PYRT_ERR_INVALID_ARGUMENT (any other value is looked up, never
/// dereferenced).
pub(crate) fn token(rt: *mut pyrt_runtime) -> crate::Result<u64> {
    if rt.is_null() {
        return Err(crate::Error::invalid_argument("rt is NULL"));
    }
    Ok(rt as usize as u64)
}

/// Opens a runtime.
///
/// `config_json`: NULL or "" for all defaults, else a JSON object; unknown keys are an error
/// (PYRT_ERR_CONFIG). Keys:
/// - "libpython": path to libpython3.X.so; absent: the venv's Python, else $PYRT_LIBPYTHON, then
///   the `python3` on PATH (asked through sysconfig), then common locations;
/// - "python_version": a constraint for that search, e.g. "3.12" (either build of 3.12) or
///   "3.13t" (a free-threaded 3.13 only);
/// - "venv": a virtualenv directory; sys.prefix, sys.executable and site-packages become the
///   venv's; a venv made for another Python version than the library is PYRT_ERR_CONFIG;
/// - "requirements": a list of requirements (pip's syntax, "jinja2>=3") and/or
///   "requirements_file": a requirements file; with them "venv" is a managed venv, created with
///   the Python pyrt loads and the requirements installed before Python starts, again only when
///   they change (see pyrt_venv_ensure(); progress goes to stderr, a failure is PYRT_ERR_VENV);
/// - "system_site_packages": bool, overrides the venv's include-system-site-packages;
/// - "site_paths": directories added with site.addsitedir() at start-up;
/// - "python_home": PYTHONHOME (the base installation, never a venv);
/// - "python_executable": the interpreter reported as sys.executable (absent: the venv's
///   bin/python, or the real interpreter of the same version next to the library);
/// - "use_environment": bool, default false (PYTHON* environment variables are ignored);
/// - "argv": array of strings for sys.argv, default [""];
/// - "main_thread": bool, default false. This handle's calls run on the interpreter's main
///   thread (the pyrt thread that initialized Python) instead of the caller's, so
///   main-thread-only features work as in a script: signal.signal, signal.setitimer, asyncio
///   signal handlers, _thread.interrupt_main. Each call then hops to that thread (1-2 us on an
///   idle machine, two thread wake-ups when other processes keep every CPU busy); calls of all
///   main_thread handles run one at a time, so calls whose Python waits (I/O, time.sleep) do
///   not overlap. A host function that such a call calls runs on the main thread too: it must
///   not wait for a main_thread call made on another thread, which cannot start before the
///   host function returns. As Python then stays on one thread, short calls from
///   many host threads at once keep about one thread's throughput on an idle machine
///   (measured, 2-64 C threads, calls of 8-20 us: 0.82-0.95x, against 0.50-0.84x on the
///   callers' own threads). A per-handle setting: open one handle of each kind to choose per
///   call.
/// - "signals": "host" (default) or "python". In "host" mode Python never changes the process's
///   signal dispositions by itself: SIGINT stays the host's (Python's own table says
///   default_int_handler, so _thread.interrupt_main works), and SIGPIPE is blocked in threads
///   while they run Python, so writing to a closed pipe raises BrokenPipeError instead of
///   killing the host. Handlers that Python code installs with signal.signal are routed to the
///   main thread. "python" behaves as a standalone interpreter: SIGINT raises KeyboardInterrupt,
///   SIGPIPE and SIGXFSZ are ignored process-wide.
/// - "timeout_ms": per handle; each call through it is interrupted after that many
///   milliseconds and fails with PYRT_ERR_TIMEOUT (absent or 0: no limit). See pyrt_interrupt()
///   for what can be interrupted.
/// - "capture_output": bool, per handle. Calls through it capture what they write to
///   sys.stdout and sys.stderr instead of printing it: read it with pyrt_output_take(), and
///   from a failed call's error with pyrt_error_output(). Only the calling thread's writes during
///   the call are captured (output of threads Python code started goes to the output handler,
///   see pyrt_set_output_handler(), or to the process's streams), so concurrent calls through
///   different handles never mix. Open one capturing handle per concurrent caller.
/// - "workers": 1 to 64, per handle: this handle's calls run in that many worker
///   sub-interpreters, each with its own GIL, so CPU-bound Python code runs in parallel (Python
///   3.12+). A call goes to an idle worker; pyrt_run_string()/pyrt_run_file() run in every
///   worker, so what they define is there for later calls. An object handle made through
///   such a handle (pyrt_call_object(), pyrt_import(), an iterator...) lives in the worker that
///   made it, and every operation on it runs in that worker, queued behind its other calls; a
///   call by name with such objects among its arguments runs in the worker of the first one.
///   Objects cannot move between interpreters: one used where another worker's code runs (an
///   argument of a method of another worker's object) is PYRT_ERR_INVALID_ARGUMENT (or
///   PYRT_ERR_CONVERSION as an argument), and so is a held buffer view or an await of a
///   worker's object, or code running in one worker (a host function it called) using another
///   worker's object. Freeing the handle ends the workers and frees their objects.
///   Modules with global state refuse sub-interpreters (numpy, PyO3-based packages, _datetime on
///   3.12): importing one fails with an ImportError naming it; use a handle without workers for
///   them. Below 3.12 the same calls run in the main interpreter, and pyrt_info_json() says so.
/// - "worker_modules": array of module names every worker imports when it starts; "worker_setup":
///   code every worker runs when it starts. A failure is the error of pyrt_new().
/// - "sigpipe": in "host" mode, "thread" (default: SIGPIPE stays blocked in a host thread from
///   its first call on; free) or "call" (blocked for the duration of each call only and the
///   thread's mask restored; costs two system calls per call).
/// - "stats": bool, default true: count calls for pyrt_stats_json() (a few ns per call; false
///   turns the counting off). Process-wide: fixed by the first pyrt_new(); a later handle that
///   names the other value is PYRT_ERR_LIBPYTHON_CONFLICT.
///
/// The first call in a process loads libpython and initializes CPython (without installing
/// signal handlers) on a thread pyrt owns. Later calls return new handles to the same
/// interpreter; naming a different libpython is PYRT_ERR_LIBPYTHON_CONFLICT. After the last
/// handle was freed the interpreter is finalized and this returns PYRT_ERR_FINALIZED.
///
/// `rt_out` must not be NULL; on success `*rt_out` receives a handle the caller frees with
/// pyrt_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_new(config_json: *const c_char, rt_out: *mut *mut pyrt_runtime, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(rt_out, "rt_out")?;
        // SAFETY: NULL (defaults) or a NUL-terminated string valid for the call (the header's contract).
        let config = unsafe { optional_text(config_json, "config_json") }?;
        let t = runtime::new(config)?;
        // SAFETY: `rt_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *rt_out = t as usize as *mut pyrt_runtime };
        Ok(())
    })
}

/// Frees a runtime handle. NULL, or a handle already freed, is a harmless no-op.
///
/// Freeing the last open handle finalizes the interpreter: it waits for calls still running on
/// other threads, flushes Python's stdout/stderr, runs `atexit` handlers and joins non-daemon
/// Python threads (as at interpreter exit), on pyrt's interpreter thread. CPython cannot be
/// started again in the same process afterwards. Any thread, including from inside a host
/// callback (finalization then happens when that call returns).
#[no_mangle]
pub unsafe extern "C" fn pyrt_free(rt: *mut pyrt_runtime) {
    if !rt.is_null() {
        let _ = std::panic::catch_unwind(|| runtime::free(rt as usize as u64));
    }
}

/// Runs Python statements in `__main__`; definitions persist between calls (as in a REPL) and
/// are shared by every handle. `code` must be NUL-terminated UTF-8. An uncaught exception —
/// including SystemExit and KeyboardInterrupt — is returned as an error; nothing is printed and
/// the process never exits. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_run_string(rt: *mut pyrt_runtime, code: *const c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let code = unsafe { c_text(code, "code") }?;
        runtime::run_string(token(rt)?, code)
    })
}

/// Runs a Python file in `__main__` (with `__file__` set while it runs). Errors:
/// PYRT_ERR_FILE_NOT_FOUND, PYRT_ERR_PERMISSION_DENIED, PYRT_ERR_NOT_A_FILE, PYRT_ERR_IO, or the
/// Python exception it raised. `path` must be NUL-terminated UTF-8. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_run_file(rt: *mut pyrt_runtime, path: *const c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let path = unsafe { text(path, "path") }?;
        runtime::run_file(token(rt)?, path)
    })
}

/// Evaluates a Python expression in `__main__` and returns its value as JSON text.
///
/// `result_out` must not be NULL; on success `*result_out` receives a string the caller frees
/// with pyrt_string_free(). A value with no JSON form is PYRT_ERR_CONVERSION. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_eval_json(
    rt: *mut pyrt_runtime,
    expr: *const c_char,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let expr = unsafe { c_text(expr, "expr") }?;
        let json = runtime::eval_json(token(rt)?, expr)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = json.into_raw() };
        Ok(())
    })
}

/// Calls `module.function(*args, **kwargs)` and returns the result as JSON text.
///
/// `module` is imported on first use ("__main__" reaches what pyrt_run_string() defined,
/// "builtins" reaches len, sum, ...); `function` may be a dotted path inside it ("path.join" in
/// "os"). `args_json` is a JSON array or NULL (no arguments); `kwargs_json` a JSON object or
/// NULL. JSON integers of any size become exact Python ints; arrays become lists.
/// The result may be None, bool, int (any size), float (shortest round-trip form), str, list,
/// tuple (as an array) and dict with str keys, nested; anything else — and NaN or infinities —
/// is PYRT_ERR_CONVERSION naming the type and its path in the value.
///
/// `result_out` must not be NULL; on success `*result_out` receives a string the caller frees
/// with pyrt_string_free(). Any thread, concurrently.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_json(
    rt: *mut pyrt_runtime,
    module: *const c_char,
    function: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: each string is NULL (an error for `module` and `function`, absent for the JSON) or
        // NUL-terminated and valid for the call (the header's contract).
        let (module, function, args, kwargs) =
            unsafe { (text(module, "module")?, text(function, "function")?, optional_json(args_json), optional_json(kwargs_json)) };
        let json = runtime::call_json(token(rt)?, module, function, args, kwargs)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = json.into_raw() };
        Ok(())
    })
}

/// A reusable result buffer for hot loops: pyrt writes a result's text to `data` (NUL-terminated,
/// `len` bytes before the NUL), growing the allocation when needed (`cap` bytes) and reusing it
/// otherwise, so a call allocates nothing and the caller frees nothing per call. Zero-initialize
/// it (`pyrt_buf b = {0};`), then free it once with pyrt_buf_free(). The fields belong to pyrt:
/// read them, do not write them. One buffer serves one call at a time (use one per thread).
#[repr(C)]
pub struct pyrt_buf {
    pub data: *mut c_char,
    pub len: usize,
    pub cap: usize,
}

/// pyrt_call_json() writing the result into `out` (see pyrt_buf) instead of a new string: for
/// bindings and hot loops (one foreign call per Python call, no allocation). `out` must not be
/// NULL; on failure it is left as it was. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_json_buf(
    rt: *mut pyrt_runtime,
    module: *const c_char,
    function: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    out: *mut pyrt_buf,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(out, "out")?;
        // SAFETY: each string is NULL (an error for `module` and `function`, absent for the JSON) or
        // NUL-terminated and valid for the call (the header's contract).
        let (module, function, args, kwargs) =
            unsafe { (text(module, "module")?, text(function, "function")?, optional_json(args_json), optional_json(kwargs_json)) };
        // (An address, so the closure may run on the interpreter's main thread for a main_thread
        // handle; the caller waits for it.)
        let out = out as usize;
        runtime::call_json_with(token(rt)?, module, function, args, kwargs, move |json| {
            // SAFETY: `out` is not NULL (require_out) and, per the header, a valid `pyrt_buf` (zeroed
            // or filled by earlier calls, never written by the host) that serves this call only, for
            // its duration; this closure runs (at most once) before call_json_with returns, so the
            // `&mut` is the only reference while it lives.
            unsafe { fill_buf(&mut *(out as *mut pyrt_buf), json) }
        })?
    })
}

/// Copies `text` and a NUL into `buf`, growing its allocation when it is too small.
///
/// # Safety
/// `buf.data` is NULL or a block this function allocated, of at least `buf.cap` bytes.
pub(super) unsafe fn fill_buf(buf: &mut pyrt_buf, text: &[u8]) -> crate::Result<()> {
    let need = text.len() + 1;
    if buf.data.is_null() || buf.cap < need {
        let cap = need.next_power_of_two().max(64);
        // SAFETY: `data` is NULL (a zero-initialized buffer) or the block an earlier call allocated
        // here with realloc (the contract), so realloc may take it.
        let p = unsafe { libc::realloc(buf.data.cast(), cap) }.cast::<c_char>();
        if p.is_null() {
            return Err(crate::Error::new(crate::ErrorKind::Internal, "out of memory for the result"));
        }
        buf.data = p;
        buf.cap = cap;
    }
    // SAFETY: `data` holds at least `cap` >= len + 1 bytes (the contract, or grown above); `text` is
    // the JSON writer's own buffer, never this block, so they do not overlap; the NUL goes at
    // index len, inside the block.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.data.cast::<u8>(), text.len());
        *buf.data.add(text.len()) = 0;
    }
    buf.len = text.len();
    Ok(())
}

/// Frees a pyrt_buf's allocation and zeroes it (it can be used again). NULL is a no-op. Any
/// thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_buf_free(buf: *mut pyrt_buf) {
    // SAFETY: NULL or a valid `pyrt_buf` not used by another call meanwhile (the header's contract).
    if let Some(b) = unsafe { buf.as_mut() } {
        // SAFETY: `data` is NULL or the block `fill_buf` allocated with realloc; it is zeroed below,
        // so it is never freed twice.
        unsafe { libc::free(b.data.cast()) };
        b.data = std::ptr::null_mut();
        b.len = 0;
        b.cap = 0;
    }
}

/// Describes the running interpreter as a JSON object: "pyrt_version", "python_version"
/// (e.g. "3.12.1"), "libpython" (the loaded file), "executable" (sys.executable), "prefix"
/// (sys.prefix), and where this handle's calls run: "mode" ("caller_thread", "main_thread" or
/// "subinterpreters"), "workers" (running), "workers_requested" and "workers_note" (why the
/// workers run in the main interpreter, or null); and the build: "free_threaded" (true for a
/// free-threaded build, where calls from several threads run in parallel), "tested" (false for
/// a Python newer than any pyrt was tested with) and "tested_note" (why, or null).
/// `result_out` must not be NULL; free the string with pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_info_json(rt: *mut pyrt_runtime, result_out: *mut *mut c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        let json = runtime::info_json(token(rt)?)?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = super::memory::give(json) };
        Ok(())
    })
}

/// Call statistics as a JSON object, for runtime `rt` or, with `rt` NULL, for the whole process
/// (every handle, including freed ones; available before the first pyrt_new() and after the
/// last pyrt_free(), then zeros or the final counts). Fields: "scope" ("runtime" or
/// "process"), "enabled" (the config key "stats"); calls that reached Python: "calls_started",
/// "calls_finished", "calls_failed" (finished with an error), "calls_in_flight" (started, not
/// finished; calls on objects count from their end only); "exceptions" (Python exception type
/// name -> count, at most 64 types, most frequent first) and "exceptions_other" (the rest);
/// the call latency histogram from admission to return: "latency_bounds_seconds" (the buckets'
/// upper bounds, 1e-6 to 10), "latency_buckets" (per bucket, not cumulative, one more than the
/// bounds: the last is +Inf), "latency_count" and "latency_sum_seconds", and its split into
/// "wait_seconds" (waiting to enter Python: the GIL, a hop to the main thread or a worker) and
/// "run_seconds" (running Python); "objects" (live object handles), "host_callbacks" (calls of
/// host functions from Python), "interrupts" and "timeouts" (calls that ended so),
/// "worker_calls" (calls run in worker sub-interpreters) and "workers" (this handle's; 0 for
/// the process). The counts are exact; the latency figures are estimates: a thread whose calls
/// take under 50 µs times one call in 64 (each timed call standing for the ones before it, so
/// "latency_count" still matches the calls), slower calls are all timed. Counting costs no lock
/// and no locked instruction per call. `result_out` must not be NULL; free the string with
/// pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_stats_json(rt: *mut pyrt_runtime, result_out: *mut *mut c_char, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        let json = runtime::stats_json((!rt.is_null()).then_some(rt as usize as u64))?;
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = super::memory::give(json) };
        Ok(())
    })
}

/// Reports which libpython pyrt_new() would use for `config_json` (same keys; NULL or "" for
/// defaults), without loading it: a JSON object with "libpython", "version" ("3.12", or "3.13t"
/// for a free-threaded build, from the file name), "free_threaded", "untested" (newer than any
/// version pyrt was tested with), "executable", "venv", "warning" (set when the `python3` on
/// PATH could not be used and another library was chosen: why) and "candidates" — every
/// candidate considered, each with "source", "path", "accepted" and "reason". A candidate is
/// accepted only if pyrt_new() would accept it: the same checks run (version, exported
/// symbols), without loading the library. When nothing is found the error
/// (PYRT_ERR_LIBPYTHON_NOT_FOUND) carries the same list as text. `result_out` must not be NULL;
/// free the string with pyrt_string_free(). Any thread; it may run `python3` to ask sysconfig.
#[no_mangle]
pub unsafe extern "C" fn pyrt_discover_json(
    config_json: *const c_char,
    result_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(result_out, "result_out")?;
        // SAFETY: NULL (defaults) or a NUL-terminated string valid for the call (the header's contract).
        let config = crate::config::Config::parse(unsafe { optional_text(config_json, "config_json") }?)?;
        let json = crate::discover::report_json(&config, std::env::var("PYRT_LIBPYTHON").ok())?;
        let json = std::ffi::CString::new(json).expect("JSON has no NUL");
        // SAFETY: `result_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *result_out = super::memory::give(json) };
        Ok(())
    })
}

/// A progress line of pyrt_venv_ensure(): what pyrt is doing, and the installer's output, one
/// line at a time (NUL-terminated UTF-8, without the newline; valid only during the call).
pub type pyrt_progress_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, line: *const c_char)>;

/// Makes the managed virtualenv of `config_json` ready without starting Python: the config's
/// "venv" directory, created with the interpreter pyrt_new() would load for that config, with
/// "requirements" (pip's syntax: `"jinja2>=3"`) and/or the "requirements_file" installed — with
/// `uv` when it is on PATH, else with the venv's pip. A hash of the interpreter and the
/// requirements, recorded in the venv, makes a later call with nothing changed return at once
/// (the venv is rebuilt when they change). The venv is built beside its directory and moved
/// into place when complete, so a failure (PYRT_ERR_VENV, naming what failed with the
/// installer's error lines) leaves an existing venv as it was and no half-made one; processes
/// preparing the same venv at once take turns (a lock file beside it).
///
/// pyrt_new() does the same with such a config (before Python starts; progress to stderr);
/// call this first to see the progress — `progress` (may be NULL) receives each line with
/// `user_data`, on this thread — or to prepare a venv at install time. PYRT_ERR_CONFIG when the
/// config has no requirements or no "venv". Any thread; it runs subprocesses and may take
/// minutes (downloads).
#[no_mangle]
pub unsafe extern "C" fn pyrt_venv_ensure(
    config_json: *const c_char,
    progress: pyrt_progress_fn,
    user_data: *mut c_void,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        // SAFETY: NULL (defaults) or a NUL-terminated string valid for the call (the header's contract).
        let config = unsafe { optional_text(config_json, "config_json") }?;
        let mut report = |line: &str| {
            if let Some(f) = progress {
                let c = std::ffi::CString::new(line.replace('\0', " ")).expect("NULs replaced");
                // SAFETY: the host passed `f` to be called with `user_data` on this thread during
                // this call (the contract); `c` outlives the call.
                unsafe { f(user_data, c.as_ptr()) };
            }
        };
        runtime::venv_ensure(config, &mut report)
    })
}

/// The calling thread's identity for pyrt_interrupt_thread(): pass it to the thread (or timer)
/// that may interrupt this thread's next call. It is `pthread_self()`. Any thread; never fails.
#[no_mangle]
pub extern "C" fn pyrt_thread_id() -> u64 {
    runtime::current_thread_id()
}

/// Interrupts every call running through `rt` right now: Python raises KeyboardInterrupt in
/// each at its next bytecode and the call fails with PYRT_ERR_INTERRUPTED. Calls that start
/// later are not affected, and the runtime stays usable. Code blocked inside C (time.sleep, a
/// socket read, a long numpy operation) is interrupted only when it returns to Python.
///
/// `interrupted_out` may be NULL; otherwise it receives how many calls were interrupted. Takes
/// the GIL briefly (so it may wait up to Python's switch interval, 5 ms, for the running call).
/// Any thread, including the host callback of another call.
#[no_mangle]
pub unsafe extern "C" fn pyrt_interrupt(rt: *mut pyrt_runtime, interrupted_out: *mut u32, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        let n = runtime::interrupt_runtime(token(rt)?)?;
        if !interrupted_out.is_null() {
            // SAFETY: not NULL (checked); the header allows NULL or a writable `uint32_t *`, valid for the call.
            unsafe { *interrupted_out = n as u32 };
        }
        Ok(())
    })
}

/// Interrupts the call that host thread `thread_id` (from pyrt_thread_id() on that thread) is
/// making right now, wherever it runs (its own thread, or the main thread for a "main_thread"
/// handle); it fails with PYRT_ERR_INTERRUPTED. If that thread is not inside a call, nothing
/// happens and `*interrupted_out` is 0: a canceller racing the start of a call should retry
/// until the call has returned. `interrupted_out` may be NULL. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_interrupt_thread(thread_id: u64, interrupted_out: *mut u32, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        let n = runtime::interrupt_thread(thread_id)?;
        if !interrupted_out.is_null() {
            // SAFETY: not NULL (checked); the header allows NULL or a writable `uint32_t *`, valid for the call.
            unsafe { *interrupted_out = n as u32 };
        }
        Ok(())
    })
}

/// Takes the output that completed calls through `rt` (a handle opened with "capture_output")
/// captured on `stream` (PYRT_STDOUT or PYRT_STDERR) since the last take, in the order the calls
/// ended. `text_out` must not be NULL; it receives a string ("" if nothing was captured) that
/// the caller frees with pyrt_string_free(). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_output_take(
    rt: *mut pyrt_runtime,
    stream: u32,
    text_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(text_out, "text_out")?;
        let text = runtime::output_take(token(rt)?, stream)?;
        let text = std::ffi::CString::new(text.replace('\0', "\\x00")).expect("NULs replaced");
        // SAFETY: `text_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *text_out = super::memory::give(text) };
        Ok(())
    })
}

/// Receives Python output: `stream` is PYRT_STDOUT or PYRT_STDERR, `text` is `len` bytes of
/// UTF-8 (not NUL-terminated), valid only during the call.
pub type pyrt_output_fn = Option<unsafe extern "C" fn(user_data: *mut c_void, stream: u32, text: *const c_char, len: usize)>;

/// Sends what Python code writes to sys.stdout / sys.stderr — when no capturing call claims it
/// (output of threads that Python code started, and of calls through handles without
/// "capture_output") — to `handler` instead of the process's own streams. There is one handler
/// per process (one interpreter): the last one set wins; NULL restores the process's streams.
///
/// The handler runs on the thread that wrote, without the GIL (so it may block, and may call
/// pyrt), possibly concurrently on several threads; `user_data` is passed through untouched.
/// A write already under way when the handler is replaced may still call the old handler after
/// this function returns: keep the old `user_data` valid until writes in flight are done (for
/// example until pyrt_free(), or until the threads that write have stopped). Output written below Python's sys.stdout
/// (os.write(1, ...), C extensions, child processes) is not routed. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_set_output_handler(
    rt: *mut pyrt_runtime,
    handler: pyrt_output_fn,
    user_data: *mut c_void,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || runtime::set_output_handler(token(rt)?, handler.map(|f| (f, user_data))))
}
