//! Worker sub-interpreters: N threads, each owning a sub-interpreter with its own GIL (CPython
//! 3.12+, `Py_NewInterpreterFromConfig` with `PyInterpreterConfig_OWN_GIL`), so pure-Python
//! work in different workers runs in parallel.
//!
//! A worker thread attaches a main-interpreter thread state (`PyGILState_Ensure`), detaches it,
//! creates its sub-interpreter, runs the setup (modules to import, code to run) and then serves
//! jobs from its own queue, taking its interpreter's GIL only around each job. A call that finds
//! a worker idle does not go through that queue: it runs in the worker's interpreter on the
//! calling thread (`run_direct`); one that finds every worker busy queues on the least busy one.
//! Code meant for "all workers" is sent to each. Objects never cross: each worker has its own
//! pyrt state (interpreter slot, `interp.rs`), an object handle records the slot its object
//! lives in, and every operation on that object runs in that worker (`Pool::run_in`).
//!
//! Modules that refuse sub-interpreters (single-phase extension modules: numpy, `_datetime` on
//! 3.12, PyO3 modules) fail to import with an `ImportError` naming the module; the setup error
//! says to use a runtime without workers for them.

use std::ffi::CString;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use super::admission::Gate;
use super::ffi::{Api, PyInterpreterConfig, PyThreadState, OWN_GIL};
use super::{exception, exec, gil, handles, interp, Python};
use crate::error::{Error, ErrorKind, Result};
use crate::hop::Hop;

struct Worker {
    hop: Hop,
    /// The worker's interpreter slot (`interp`), which its objects' handles record.
    slot: usize,
    /// Calls running in or queued for this worker (a caller that finds it 0 and sets it to 1
    /// has the worker to itself and runs its call directly).
    busy: AtomicUsize,
    /// The worker's `PyInterpreterState *` (set once it started), for interrupts.
    interp: AtomicUsize,
    /// The worker takes direct calls (from when it serves until its pool shuts down).
    direct_open: AtomicBool,
    /// Direct calls inside: the worker's interpreter does not end while any is.
    direct_inside: AtomicUsize,
    /// Direct calls take the worker's GIL in arrival order (`admission`).
    gate: Gate,
}

/// A pool of worker sub-interpreters.
pub struct Pool {
    workers: Vec<Arc<Worker>>,
    threads: std::sync::Mutex<Vec<thread::JoinHandle<()>>>,
}

/// What every worker runs when it starts.
#[derive(Clone, Default)]
pub struct Setup {
    pub modules: Vec<String>,
    pub code: Option<String>,
}

fn worker_error(slot: usize, what: &str, e: Error) -> Error {
    let hint = if e.python.as_ref().is_some_and(|p| p.type_name == "ImportError" || p.type_name == "ModuleNotFoundError") {
        " (a module that does not support sub-interpreters — numpy, _datetime on 3.12, PyO3-based packages — can only be used from a runtime without \"workers\")"
    } else {
        ""
    };
    let message = format!("worker {slot}: {what} failed: {}{hint}", e);
    e.with_message(message)
}

impl Pool {
    /// True when this libpython can run workers with their own GIL.
    pub fn supported(api: &Api) -> bool {
        api.Py_NewInterpreterFromConfig.is_some()
    }

    /// Starts `n` workers and waits until each ran its setup (the first failure is returned).
    pub fn start(api: &'static Api, n: usize, setup: Setup) -> Result<Pool> {
        let mut pool = Pool { workers: Vec::new(), threads: Default::default() };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for _ in 0..n {
            let slot = interp::new_slot();
            let worker = Arc::new(Worker {
                hop: Hop::new(),
                slot,
                busy: AtomicUsize::new(0),
                interp: AtomicUsize::new(0),
                direct_open: AtomicBool::new(false),
                direct_inside: AtomicUsize::new(0),
                gate: Gate::new(),
            });
            let nudged = worker.clone();
            interp::set_waker(slot, Arc::new(move || nudged.hop.nudge()));
            let (w, setup, ready) = (worker.clone(), setup.clone(), ready_tx.clone());
            let t = thread::Builder::new()
                .name(format!("pyrt-worker-{slot}"))
                .stack_size(8 << 20)
                .spawn(move || run_worker(api, slot, &w, &setup, ready))
                .map_err(|e| Error::new(ErrorKind::Init, format!("cannot start a worker thread: {e}")))?;
            pool.workers.push(worker);
            pool.threads.get_mut().unwrap_or_else(|p| p.into_inner()).push(t);
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(Error::new(ErrorKind::Init, "a worker thread ended during start-up"));
                }
            }
        }
        match first_err {
            None => Ok(pool),
            Some(e) => {
                pool.shutdown();
                Err(e)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    /// Runs `f` in the least busy worker (with its GIL held); `f` also gets the worker's
    /// interpreter (for interrupts). Inside a call of one of this pool's workers (a host callback
    /// calling back in) `f` runs right there.
    pub fn run_any<R: Send>(&self, f: impl FnOnce(Python<'_>, usize) -> Result<R> + Send) -> Result<R> {
        if let Some(me) = self.workers.iter().find(|w| w.runs_here()) {
            return run_on(me, f, false);
        }
        // Claim an idle worker atomically; when all are busy, queue on the least busy one.
        let idle = self.workers.iter().find(|w| w.busy.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_ok());
        match idle {
            Some(w) => run_on(w, f, true),
            None => {
                let w = self
                    .workers
                    .iter()
                    .min_by_key(|w| w.busy.load(Ordering::Relaxed))
                    .ok_or_else(|| Error::new(ErrorKind::Closed, "no workers"))?;
                run_on(w, f, false)
            }
        }
    }

    /// Runs `f` in the worker whose interpreter is `slot` (where an object lives: its handle
    /// recorded the slot): directly when that worker is idle, else queued behind its other jobs.
    ///
    /// Refused from inside another worker's interpreter (its host callbacks, threads Python
    /// started there): waiting for one worker while holding another could deadlock (each waiting
    /// for the other) with nothing to interrupt the wait. Likewise from a thread Python started
    /// in the object's own worker, whose job may be waiting for that thread.
    pub fn run_in<R: Send>(&self, slot: usize, f: impl FnOnce(Python<'_>, usize) -> Result<R> + Send) -> Result<R> {
        let w = self
            .workers
            .iter()
            .find(|w| w.slot == slot)
            .ok_or_else(|| Error::invalid_argument("this object lives in the interpreter of another runtime's worker"))?;
        let here = interp::current();
        if here != 0 && here != slot {
            return Err(Error::invalid_argument(
                "an object of one worker cannot be used from inside another worker (each could wait for the other): \
                 use it from the host, or from its own worker's calls",
            ));
        }
        if here == slot && !w.runs_here() {
            return Err(Error::invalid_argument(
                "an object of a worker cannot be used from a thread Python started in that worker (the worker may be \
                 waiting for the thread): use it from the host, or from the worker's own calls",
            ));
        }
        let claimed = w.busy.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        run_on(w, f, claimed)
    }

    /// Runs `f` in every worker, one after the other; stops at the first error.
    pub fn run_all<R: Send>(&self, f: impl Fn(Python<'_>, usize) -> Result<R> + Sync) -> Result<Vec<R>> {
        self.workers.iter().map(|w| run_on(w, &f, false)).collect()
    }

    /// Ends every worker's interpreter and joins the threads (queued jobs and direct calls
    /// inside finish first; called from inside one of the pool's calls, the threads are joined
    /// before finalization instead); later calls fail with PYRT_ERR_CLOSED. Idempotent.
    pub fn shutdown(&self) {
        for w in &self.workers {
            w.direct_open.store(false, Ordering::SeqCst);
            w.hop.close();
        }
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        if self.workers.iter().any(|w| w.runs_here()) {
            // Called from inside one of this pool's calls (a host callback freeing its runtime):
            // that worker ends once the call returns, so waiting here would wait for ever. The
            // interpreter's finalization joins them first ([`join_detached`]).
            DETACHED.lock().unwrap_or_else(|p| p.into_inner()).extend(threads);
        } else {
            for t in threads {
                let _ = t.join();
            }
        }
        for w in &self.workers {
            interp::clear_waker(w.slot);
        }
    }
}

/// Worker threads a pool closed from inside one of its own calls could not wait for.
static DETACHED: std::sync::Mutex<Vec<thread::JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Waits for the worker threads of pools closed from inside their own calls (before the
/// interpreter is finalized, with no call inside it and no GIL held: their ends take it).
pub fn join_detached() {
    let threads = std::mem::take(&mut *DETACHED.lock().unwrap_or_else(|p| p.into_inner()));
    for t in threads {
        let _ = t.join();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} workers)", self.workers.len())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Worker {
    /// True where a call of this worker runs right now: its own thread, or a thread running one
    /// of its calls directly (a host callback of that call calling back in).
    fn runs_here(&self) -> bool {
        // A thread running a direct call works in that worker's interpreter, also while the
        // call's host callbacks run; otherwise only the worker's own thread does.
        match gil::try_thread().map_or(0, |t| t.direct.get()) {
            0 => self.hop.is_server(),
            slot => slot == self.slot,
        }
    }
}

/// Runs `f` on `w`; `claimed`: the caller already counted itself in `w.busy`, from 0.
///
/// A caller that found the worker idle runs its call directly, on its own thread
/// ([`run_direct`]); one that found it busy queues the call for the worker's thread. So with as
/// many callers as workers each runs in its own interpreter, in parallel, without any
/// hand-off; with more, the workers' threads serve the queues and keep their interpreters' data
/// in their CPUs' caches (a call that moves between CPUs on every hand-off runs cache-cold:
/// measured, a jinja2 render from 2 threads taking turns at one interpreter got 0.6× the
/// renders per second of one thread).
fn run_on<R: Send>(w: &Worker, f: impl FnOnce(Python<'_>, usize) -> Result<R> + Send, claimed: bool) -> Result<R> {
    if !claimed {
        w.busy.fetch_add(1, Ordering::Relaxed);
    }
    struct Unbusy<'a>(&'a AtomicUsize);
    impl Drop for Unbusy<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _unbusy = Unbusy(&w.busy);
    let api = super::api();
    let interp = w.interp.load(Ordering::SeqCst);
    if w.runs_here() {
        // A call of this worker runs on this thread: pyrt was called from host code that Python
        // code running here called (a host function, an output handler), which runs with the
        // GIL released and the thread's state for this interpreter parked (`gil::allow_threads`).
        // Take it back as any nested call does (`Hop::run` would run `f` inline, without it).
        return gil::with_gil(api, |py| f(py, interp));
    }
    let f = if claimed && !super::ffi::free_threaded() {
        match run_direct(api, w, interp, f) {
            Ok(r) => return r,
            Err(f) => f,
        }
    } else {
        f
    };
    // SAFETY: `Hop::run` runs the job on the worker's thread (not this one, checked above)
    // inside `run_worker`'s `serve`, between its `PyEval_RestoreThread` and
    // `PyEval_SaveThread`: that thread holds its interpreter's GIL while `f` runs.
    let r = w.hop.run(move || f(unsafe { gil::assume_gil(api) }, interp));
    r.map_err(|_| Error::new(ErrorKind::Closed, "the worker was shut down"))?
}

/// Runs `f` in `w`'s interpreter on the calling thread, through the thread's own state there
/// (`interp::caller_state`): no hand-off to the worker's thread and back, whose two wake-ups
/// cost more than a short call, and the caller's CPU does the work instead of waiting. The
/// worker's GIL is taken at its gate, where the worker's thread also waits for it when calls
/// queued for it meanwhile (a thread waiting in CPython's own GIL wait sleeps, and its wake-up
/// is slow). Gives `f` back when the call must hop instead: the
/// worker is not serving (starting, or shut down: the hop reports which), the thread is inside
/// a GIL section, or its Python state is not pyrt's. Free-threaded builds always hop: without a
/// GIL the worker's thread could run a queued job in the interpreter at the same time.
fn run_direct<R, F>(api: &'static super::ffi::Api, w: &Worker, interp: usize, f: F) -> std::result::Result<Result<R>, F>
where
    F: FnOnce(Python<'_>, usize) -> Result<R>,
{
    let Some(t) = gil::try_thread() else { return Err(f) };
    struct Inside<'a>(&'a AtomicUsize);
    impl Drop for Inside<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    // Counted before checking that the worker is open: its end waits for the count to fall to
    // 0 after closing (`run_worker`), so a call that saw it open finishes before it ends.
    w.direct_inside.fetch_add(1, Ordering::SeqCst);
    let _inside = Inside(&w.direct_inside);
    if interp == 0 || !w.direct_open.load(Ordering::SeqCst) || !gil::ready_for_direct(t, api) {
        return Err(f);
    }
    // SAFETY: the worker's interpreter is live until `direct_inside` falls to 0 (held above,
    // and it was open), and the thread has its main-interpreter state (`ready_for_direct`).
    let Some(ts) = (unsafe { interp::caller_state(api, w.slot, interp) }) else { return Err(f) };
    // SAFETY: `ready_for_direct` held (no section open on this thread) and `ts` is this thread's
    // detached state in the worker's interpreter, live while `direct_inside` is held: `attach`
    // makes it current with that interpreter's GIL (in turn at the worker's gate), and `detach`,
    // with it current again, releases both (`release_caller_state`'s contract).
    Ok(unsafe {
        gil::with_gil_in(
            t,
            api,
            w.slot,
            || w.gate.enter(|| (api.PyEval_RestoreThread)(ts)),
            || {
                interp::release_caller_state(api, w.slot, interp, ts);
                w.gate.leave();
            },
            |py| {
                interp::reap_orphans(py);
                f(py, interp)
            },
        )
    })
}

fn run_worker(api: &'static Api, slot: usize, w: &Worker, setup: &Setup, ready: mpsc::Sender<Result<()>>) {
    if crate::signals::policy() != crate::signals::SigpipePolicy::Off {
        crate::signals::block_sigpipe_in_thread();
    }
    interp::enter(slot);
    let new_interp = api.Py_NewInterpreterFromConfig.expect("checked by Pool::supported");
    // A main-interpreter thread state for this thread, then none current while the
    // sub-interpreter is created (what CPython's own tests do).
    // SAFETY: `Pool::start` runs while the interpreter runs (a handle is being opened) and a new
    // thread has no Python state: `PyGILState_Ensure` creates one and takes the main GIL (so
    // `PyThreadState_Get` returns it, non-null), and `PyThreadState_Swap(NULL)` detaches it and
    // releases that GIL (3.12+, the only versions with workers). Both are undone at the end.
    let (gstate, main_ts) = unsafe {
        let gstate = (api.PyGILState_Ensure)();
        let main_ts = (api.PyThreadState_Get)();
        (api.PyThreadState_Swap)(ptr::null_mut());
        (gstate, main_ts)
    };
    let config = PyInterpreterConfig {
        use_main_obmalloc: 0,
        allow_fork: 0,
        allow_exec: 1,
        allow_threads: 1,
        allow_daemon_threads: 0,
        check_multi_interp_extensions: 1,
        gil: OWN_GIL,
        reserved: [0; 25],
    };
    let mut sub: *mut PyThreadState = ptr::null_mut();
    // SAFETY: no thread state is current (swapped out above); `sub` and `config` are live locals,
    // `config` a complete `PyInterpreterConfig` followed by zeroed room. On success CPython makes
    // `sub` current and this thread holds the new interpreter's own GIL.
    let status = unsafe { new_interp(&mut sub, &config) };
    if status.kind != 0 || sub.is_null() {
        let msg = if status.err_msg.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null `err_msg` of a `PyStatus` is a static NUL-terminated C string.
            unsafe { std::ffi::CStr::from_ptr(status.err_msg) }.to_string_lossy().into_owned()
        };
        // SAFETY: no state is current after the failure; swapping `main_ts` (this thread's, from
        // `PyGILState_Ensure` above) back re-takes the main GIL, and `PyGILState_Release`
        // balances that Ensure (deleting the state, releasing the GIL).
        unsafe {
            (api.PyThreadState_Swap)(main_ts);
            (api.PyGILState_Release)(gstate);
        }
        let _ = ready.send(Err(Error::new(ErrorKind::Init, format!("worker {slot}: Py_NewInterpreterFromConfig failed: {msg}"))));
        return;
    }
    // Now in the sub-interpreter, holding its GIL.
    // SAFETY: this thread holds the sub-interpreter's GIL from here to the end of the function,
    // except between the `PyEval_SaveThread`/`PyEval_RestoreThread` pairs below, where `py` is
    // not used.
    let py = unsafe { gil::assume_gil(api) };
    let mut live_interp = 0;
    if let Some(get) = api.PyThreadState_GetInterpreter {
        // SAFETY: `sub` is the current, live thread state of the new interpreter (GIL held).
        live_interp = unsafe { get(sub) } as usize;
        w.interp.store(live_interp, Ordering::SeqCst);
        interp::register_live(live_interp, slot);
    }
    let setup_result = setup_interpreter(py, slot, setup);
    let ok = setup_result.is_ok();
    if !ok {
        let _ = ready.send(setup_result);
    } else {
        // SAFETY: balanced GIL hand-offs on this thread, all with `sub` (the state the thread
        // works in; `PyEval_SaveThread` returns it): the GIL held since creation is released,
        // each job re-takes and releases it (`Hop::serve` runs the closure on this thread, and a
        // job's panic is caught inside it), and the last restore takes it back for the end.
        let mut ts = unsafe { (api.PyEval_SaveThread)() };
        // Interrupters may enter the interpreter from now on, until `interp_ending` (both
        // without this GIL: `running::LIVE_INTERPS`), and so may direct calls: the pool's first
        // calls (once `ready` is sent) already run on their callers' threads.
        super::running::interp_serving(live_interp);
        w.direct_open.store(true, Ordering::SeqCst);
        let _ = ready.send(setup_result);
        w.hop.serve(|job| {
            // SAFETY: see above: `ts` is this thread's detached state, saved by the previous
            // `PyEval_SaveThread`; re-saved right after the job.
            w.gate.enter(|| unsafe { (api.PyEval_RestoreThread)(ts) });
            handles::drain(py);
            interp::reap_orphans(py);
            job();
            // SAFETY: this thread holds the GIL again (restored above).
            ts = unsafe { (api.PyEval_SaveThread)() };
            w.gate.leave();
        });
        // Direct calls that saw the worker open finish first (`run_direct`), interruptible
        // still; later ones hop, and find the hop closed.
        w.direct_open.store(false, Ordering::SeqCst);
        while w.direct_inside.load(Ordering::SeqCst) != 0 {
            thread::sleep(std::time::Duration::from_micros(100));
        }
        super::running::interp_ending(live_interp);
        // SAFETY: see above: the matching restore of the last `PyEval_SaveThread`.
        unsafe { (api.PyEval_RestoreThread)(ts) };
        // Host threads' states in this interpreter go before anything else: clearing them may
        // drop objects (a `threading.local`'s values) whose `__del__` needs pyrt's state.
        interp::end_caller_states(py);
    }
    // End the sub-interpreter (it must be current, GIL held), then go back to the main one.
    // The objects the host still holds here die with it: their handles are emptied (later uses
    // fail as freed) and the references dropped now, while the interpreter can run `__del__`.
    interp::forget_live(slot);
    interp::ending(slot);
    handles::release_interp(slot);
    handles::drain(py);
    exec::clear_caches(py);
    super::host::forget_worker_error_type(py);
    super::capture::forget_worker(py);
    exec::flush_stdio(py);
    // SAFETY: `sub` is current and its GIL held, no interrupter can enter the interpreter any
    // more (`interp_ending` above; never announced if the setup failed) and pyrt's references
    // into it were dropped (`drain`, `clear_caches`). After `Py_EndInterpreter` no state is
    // current; swapping `main_ts` back re-takes the main GIL and `PyGILState_Release` balances
    // the `PyGILState_Ensure` of the start (deleting the state, releasing the GIL).
    unsafe {
        (api.Py_EndInterpreter)(sub);
        handles::forget_slot(slot);
        (api.PyThreadState_Swap)(main_ts);
        (api.PyGILState_Release)(gstate);
    }
}

/// Without sub-interpreters (below 3.12), the workers' setup runs once in the main interpreter.
pub fn setup_main(py: Python, setup: &Setup) -> Result<()> {
    run_setup(py, setup).map_err(|e| {
        let message = format!("worker setup (in the main interpreter) failed: {e}");
        e.with_message(message)
    })
}

fn setup_interpreter(py: Python, slot: usize, setup: &Setup) -> Result<()> {
    super::module::install(py).map_err(|e| worker_error(slot, "installing _pyrt", e))?;
    exception::preload(py).map_err(|e| worker_error(slot, "importing traceback", e))?;
    if super::loaded().is_some_and(|l| l.minor == 12) {
        // CPython 3.12's _decimal shares libmpdec's global state between interpreters and aborts
        // the process ("double free or corruption", measured on 3.12.1) once a second
        // interpreter imports it. The decimal module then falls back to _pydecimal, its pure
        // Python twin with the same behaviour.
        exec::run_code(
            py,
            c"import sys
sys.modules['_decimal'] = None
",
            c"<pyrt worker setup>",
        )
        .map_err(|e| worker_error(slot, "setup", e))?;
    }
    run_setup(py, setup).map_err(|e| worker_error(slot, "setup", e))
}

fn run_setup(py: Python, setup: &Setup) -> Result<()> {
    for m in &setup.modules {
        let c = CString::new(m.as_str()).map_err(|_| Error::invalid_argument("module name contains NUL"))?;
        if py.import(&c).is_err() {
            let e = exception::fetch(py);
            let message = format!("importing {m}: {e}");
            return Err(e.with_message(message));
        }
    }
    if let Some(code) = &setup.code {
        let c = CString::new(code.as_str()).map_err(|_| Error::invalid_argument("worker setup code contains NUL"))?;
        exec::run_code(py, &c, c"<pyrt worker setup>").map_err(|e| {
            let message = format!("the setup code: {e}");
            e.with_message(message)
        })?;
    }
    Ok(())
}
