//! Which call each thread is executing, and interrupting it from another thread.
//!
//! `PyThreadState_SetAsyncExc` is the mechanism measured to interrupt Python code on any thread
//! in every version: it raises an exception in the target thread at its next
//! bytecode boundary. pyrt raises `KeyboardInterrupt` and reports the call as interrupted (or
//! timed out). Code blocked inside C (`time.sleep`, a socket read, a long numpy kernel) is
//! interrupted only when it returns to Python.
//!
//! Every thread that executes a pyrt call has an [`Executing`] record, registered once. A call
//! marks it (which runtime handle, which host thread asked, a sequence number) with the GIL held
//! at its start and clears it with the GIL held at its end; an interrupter holds the GIL while it
//! reads the records and sets the exception, so it can never hit a call that already ended. An
//! exception that was set but not raised before the call ended is withdrawn at the end, so it
//! never leaks into a later call.
//!
//! On a free-threaded build no GIL orders the interrupter and the call: there each record has
//! a small lock ([`Executing::lock`]) that the call takes to begin and end and the interrupter
//! takes to check and raise, which gives the same guarantee.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::c_ulong;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Acquire, Ordering::Relaxed, Ordering::Release, Ordering::SeqCst,
};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use super::Python;

/// Why a call was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reason {
    /// `pyrt_interrupt` / `pyrt_interrupt_thread` (Go: the context was cancelled).
    Interrupted = 1,
    /// The handle's `timeout_ms` passed.
    Timeout = 2,
}

/// One thread's current call.
pub struct Executing {
    /// The thread's identity for `PyThreadState_SetAsyncExc` (`pthread_self`, which is what
    /// CPython stores as the thread state's id).
    ident: c_ulong,
    /// The runtime handle whose call runs here; 0 when idle.
    token: AtomicU64,
    /// The host thread that asked for the call (`pyrt_thread_id`); differs from `ident` for
    /// calls that hop to the main thread.
    origin: AtomicU64,
    /// A number unique to the current call among this record's calls, so a timer set for one
    /// call never fires into another.
    seq: AtomicU64,
    next_seq: AtomicU64,
    /// A [`Reason`] once an exception was set for the current call, else 0.
    interrupted: AtomicU8,
    /// The sub-interpreter (`PyInterpreterState *`) of a worker's call; 0 for the main one.
    interp: AtomicUsize,
    /// Free-threaded builds only: held while a call begins or ends and while an interrupter
    /// checks and raises, in place of the GIL.
    locked: AtomicBool,
}

/// Holds an [`Executing`] record's lock (free-threaded builds), released on drop.
struct RecordLock<'a>(Option<&'a AtomicBool>);

impl Executing {
    /// Takes the record's lock on a free-threaded build; nothing on a GIL build, where holding
    /// the GIL already orders every access. Held for a few instructions only (no Python code
    /// runs under it), so waiting spins.
    #[inline]
    fn lock(&self) -> RecordLock<'_> {
        if !super::ffi::free_threaded() {
            return RecordLock(None);
        }
        while self.locked.compare_exchange_weak(false, true, Acquire, Relaxed).is_err() {
            std::thread::yield_now();
        }
        RecordLock(Some(&self.locked))
    }
}

impl Drop for RecordLock<'_> {
    fn drop(&mut self) {
        if let Some(l) = self.0 {
            l.store(false, Release);
        }
    }
}

static ALL: Mutex<Vec<Arc<Executing>>> = Mutex::new(Vec::new());

/// A thread's record, registered in [`ALL`] on first use; removed when the thread exits (it
/// lives in the thread's `gil::ThreadCtx`).
pub struct Registration(Arc<Executing>);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut all = ALL.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|e| !Arc::ptr_eq(e, &self.0));
    }
}

/// The calling thread's record (registering it on first use).
#[inline]
fn record(ctx: &super::gil::ThreadCtx) -> &Arc<Executing> {
    let slot = ctx.executing.get_or_init(|| {
        let e = Arc::new(Executing {
            ident: ctx.ident() as c_ulong,
            token: AtomicU64::new(0),
            origin: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            next_seq: AtomicU64::new(0),
            interrupted: AtomicU8::new(0),
            interp: AtomicUsize::new(0),
            locked: AtomicBool::new(false),
        });
        ALL.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone());
        Box::new(Registration(e))
    });
    &slot.downcast_ref::<Registration>().expect("the slot holds running's Registration").0
}

pub use super::gil::current_thread_id;

/// What [`begin`] saved, to restore in [`end`] (calls nest: a host callback calling back in).
pub struct Mark {
    /// False when the thread had no context to record the call in (thread exit).
    recorded: bool,
    token: u64,
    origin: u64,
    interrupted: u8,
    /// The enclosing call's sequence number (restored at the end).
    seq: u64,
    /// The enclosing call's interpreter (restored at the end: a nested call may run in another).
    interp: usize,
    timer: Option<u64>,
}

/// Marks the calling thread as executing a call of `token` for host thread `origin`, in the
/// main interpreter (`interp` 0) or a worker's. GIL held.
///
/// Every field is written by its own thread and read by interrupters only while they hold the
/// same GIL, which orders the accesses: plain (relaxed) loads and stores suffice — this runs on
/// every call, and locked instructions would cost more than the rest of it.
#[inline]
pub fn begin(py: Python, token: u64, origin: u64, timeout: Option<Duration>, interp: usize) -> Mark {
    let Some(ctx) = py.thread() else {
        return Mark { recorded: false, token: 0, origin: 0, interrupted: 0, seq: 0, interp: 0, timer: None };
    };
    {
        let e = record(ctx);
        let _lock = e.lock();
        let prev_interp = e.interp.load(Relaxed);
        e.interp.store(interp, Relaxed);
        let prev_seq = e.seq.load(Relaxed);
        // Unique per record: a record's calls are numbered by its own thread.
        let seq = e.next_seq.load(Relaxed) + 1;
        e.next_seq.store(seq, Relaxed);
        e.seq.store(seq, Relaxed);
        let mark = Mark {
            recorded: true,
            token: e.token.load(Relaxed),
            origin: e.origin.load(Relaxed),
            interrupted: e.interrupted.load(Relaxed),
            seq: prev_seq,
            interp: prev_interp,
            timer: timeout.map(|t| watchdog().add(Instant::now() + t, e.clone(), seq)),
        };
        e.token.store(token, Relaxed);
        e.origin.store(origin, Relaxed);
        e.interrupted.store(0, Relaxed);
        mark
    }
}

/// Ends the call begun with `mark`; returns why it was interrupted, if it was. GIL held.
#[inline]
pub fn end(py: Python, mark: Mark) -> Option<Reason> {
    if let Some(id) = mark.timer {
        watchdog().cancel(id);
    }
    let ctx = match py.thread() {
        Some(ctx) if mark.recorded => ctx,
        _ => return None,
    };
    {
        let e = record(ctx);
        let _lock = e.lock();
        let reason = match e.interrupted.load(Relaxed) {
            1 => Some(Reason::Interrupted),
            2 => Some(Reason::Timeout),
            _ => None,
        };
        e.interrupted.store(mark.interrupted, Relaxed);
        if reason.is_some() {
            // Withdraw the exception if the call ended before raising it.
            // SAFETY: the `py` token proves the GIL of this interpreter is held (the one whose
            // thread states CPython searches); `e.ident` is just a thread id, and a NULL
            // exception only clears a pending async exception, if any.
            unsafe { (py.api.PyThreadState_SetAsyncExc)(e.ident, std::ptr::null_mut()) };
        }
        e.token.store(mark.token, Relaxed);
        e.origin.store(mark.origin, Relaxed);
        e.interp.store(mark.interp, Relaxed);
        e.seq.store(mark.seq, Relaxed);
        reason
    }
}

fn raise_in(py: Python, e: &Executing, reason: Reason) -> bool {
    if e.interrupted.load(SeqCst) != 0 {
        return true; // already on its way
    }
    let api = py.api;
    // SAFETY: the `py` token proves the GIL of the interpreter the target runs in is held (the
    // callers check `e.interp` under it), and with it Python is initialized, so reading the
    // `PyExc_KeyboardInterrupt` variable is valid; CPython increfs the exception it stores and
    // merely matches `e.ident` against its thread states.
    let n = unsafe { (api.PyThreadState_SetAsyncExc)(e.ident, api.exception(api.PyExc_KeyboardInterrupt)) };
    if n == 1 {
        e.interrupted.store(reason as u8, SeqCst);
        true
    } else {
        if n > 1 {
            // "If it returns a number greater than one, you're in trouble": revert (docs).
            // SAFETY: still holding the GIL (`py`); a NULL exception withdraws what was just set.
            unsafe { (api.PyThreadState_SetAsyncExc)(e.ident, std::ptr::null_mut()) };
        }
        false
    }
}

fn snapshot() -> Vec<Arc<Executing>> {
    ALL.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Records which runtime handle the current call belongs to, once known (the typed fast path
/// finds it with the callable). GIL held.
#[inline]
pub fn set_token(py: Python, token: u64) {
    if let Some(ctx) = py.thread() {
        record(ctx).token.store(token, Relaxed);
    }
}

/// The runtime handle of the call running on this thread (0: none). GIL held.
#[inline]
pub fn token(py: Python) -> u64 {
    py.thread().map_or(0, |ctx| record(ctx).token.load(Relaxed))
}

/// Which calls an interrupt is for.
#[derive(Clone, Copy)]
pub enum Target {
    /// Every call through runtime handle `token`.
    Runtime(u64),
    /// The call that host thread `origin` is making (wherever it runs).
    Thread(u64),
}

impl Target {
    fn matches(self, e: &Executing) -> bool {
        let token = e.token.load(SeqCst);
        match self {
            Target::Runtime(t) => token == t,
            Target::Thread(origin) => token != 0 && e.origin.load(SeqCst) == origin,
        }
    }
}

/// Interrupts the matching calls running in the main interpreter; returns how many. Main GIL
/// held.
pub fn interrupt_main(py: Python, target: Target) -> usize {
    snapshot()
        .iter()
        .filter(|e| {
            let _lock = e.lock();
            e.interp.load(SeqCst) == 0 && target.matches(e) && raise_in(py, e, Reason::Interrupted)
        })
        .count()
}

/// Interrupts the matching calls running in worker sub-interpreters, taking each one's GIL
/// through a temporary thread state; returns how many. The calling thread must hold no GIL.
pub fn interrupt_workers(target: Target) -> usize {
    let api = super::api();
    let mut n = 0;
    for e in snapshot() {
        let interp = e.interp.load(SeqCst);
        if interp == 0 || !target.matches(&e) {
            continue;
        }
        with_interp(api, interp, |py| {
            // Check again with that interpreter's GIL held: the call cannot end meanwhile.
            let _lock = e.lock();
            if e.interp.load(SeqCst) == interp && target.matches(&e) && raise_in(py, &e, Reason::Interrupted) {
                n += 1;
            }
        });
    }
    n
}

/// The worker sub-interpreters (`PyInterpreterState *`) that [`with_interp`] may enter. A worker
/// adds its interpreter before it serves calls and removes it before ending it, both without
/// holding any GIL; `with_interp` holds the read lock from its check until its temporary thread
/// state is gone. So an interrupter never creates a thread state in an interpreter that was ended
/// (a use after free) or is being ended (`Py_EndInterpreter` aborts: "not the last thread").
static LIVE_INTERPS: RwLock<Vec<usize>> = RwLock::new(Vec::new());

/// A worker's interpreter can be entered by interrupters from now on (`workers`, no GIL held).
pub(crate) fn interp_serving(interp: usize) {
    if interp != 0 {
        LIVE_INTERPS.write().unwrap_or_else(|p| p.into_inner()).push(interp);
    }
}

/// A worker's interpreter is about to end: waits until no interrupter is inside it and keeps new
/// ones out (`workers`, no GIL held).
pub(crate) fn interp_ending(interp: usize) {
    LIVE_INTERPS.write().unwrap_or_else(|p| p.into_inner()).retain(|&i| i != interp);
}

/// Runs `f` in interpreter `interp` (a `PyInterpreterState *`) on the calling thread, which must
/// hold no GIL, through a temporary thread state; `None` when that interpreter has ended (or is
/// ending): then no call runs in it.
fn with_interp<R>(api: &'static super::ffi::Api, interp: usize, f: impl FnOnce(Python) -> R) -> Option<R> {
    let live = LIVE_INTERPS.read().unwrap_or_else(|p| p.into_inner());
    if !live.contains(&interp) {
        return None;
    }
    // SAFETY: `interp` is a live worker interpreter, kept so until `live` is dropped (its worker
    // calls `interp_ending` before `Py_EndInterpreter`), and `PyThreadState_New` needs no GIL.
    // The calling thread has no attached thread state (contract above), so `PyEval_RestoreThread`
    // attaches the new state and takes that interpreter's GIL, which makes the `Python` token of
    // `assume_gil` true while `f` runs. `PyThreadState_Clear` + `PyThreadState_DeleteCurrent` then
    // free the (current) state and release the GIL: everything taken here is given back.
    let r = unsafe {
        let ts = (api.PyThreadState_New)(interp as *mut std::ffi::c_void);
        (api.PyEval_RestoreThread)(ts);
        let r = f(super::gil::assume_gil(api));
        (api.PyThreadState_Clear)(ts);
        (api.PyThreadState_DeleteCurrent)();
        r
    };
    drop(live);
    Some(r)
}

// ---- timeouts ---------------------------------------------------------------------------------

struct Timer {
    at: Instant,
    id: u64,
    target: Arc<Executing>,
    seq: u64,
}

impl PartialEq for Timer {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.id) == (o.at, o.id)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Timer {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.id).cmp(&(o.at, o.id))
    }
}

/// A thread that interrupts calls whose handle has a `timeout_ms`, started on first use.
pub struct Watchdog {
    timers: Mutex<(BinaryHeap<Reverse<Timer>>, std::collections::HashSet<u64>)>,
    wake: Condvar,
    next: AtomicU64,
}

static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();

fn watchdog() -> &'static Watchdog {
    WATCHDOG.get_or_init(|| {
        std::thread::Builder::new().name("pyrt-timeouts".into()).spawn(|| watchdog().run()).expect("start the timeout thread");
        Watchdog { timers: Mutex::new((BinaryHeap::new(), Default::default())), wake: Condvar::new(), next: AtomicU64::new(1) }
    })
}

impl Watchdog {
    fn add(&self, at: Instant, target: Arc<Executing>, seq: u64) -> u64 {
        let id = self.next.fetch_add(1, SeqCst);
        let mut t = self.timers.lock().unwrap_or_else(|p| p.into_inner());
        t.1.insert(id);
        t.0.push(Reverse(Timer { at, id, target, seq }));
        self.wake.notify_one();
        id
    }

    fn cancel(&self, id: u64) {
        self.timers.lock().unwrap_or_else(|p| p.into_inner()).1.remove(&id);
    }

    fn run(&self) {
        crate::signals::block_sigpipe_in_thread();
        let mut t = self.timers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            // Drop cancelled timers from the top.
            while let Some(Reverse(top)) = t.0.peek() {
                if t.1.contains(&top.id) {
                    break;
                }
                t.0.pop();
            }
            let now = Instant::now();
            match t.0.peek() {
                None => t = self.wake.wait(t).unwrap_or_else(|p| p.into_inner()),
                Some(Reverse(top)) if top.at > now => {
                    let wait = top.at - now;
                    t = self.wake.wait_timeout(t, wait).unwrap_or_else(|p| p.into_inner()).0;
                }
                Some(_) => {
                    let Reverse(due) = t.0.pop().expect("peeked");
                    t.1.remove(&due.id);
                    drop(t);
                    fire(&due);
                    t = self.timers.lock().unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }
}

fn fire(due: &Timer) {
    // Take the GIL like any caller (the interpreter may be gone: then there is nothing to do).
    let Some(_counted) = super::liveness::enter_teardown() else { return };
    let still = |e: &Executing| e.seq.load(SeqCst) == due.seq && e.token.load(SeqCst) != 0;
    let interp = due.target.interp.load(SeqCst);
    if interp != 0 {
        with_interp(super::api(), interp, |py| {
            let _lock = due.target.lock();
            if still(&due.target) {
                raise_in(py, &due.target, Reason::Timeout);
            }
        });
        return;
    }
    super::gil::with_gil(super::api(), |py| {
        // Still the same call? (The GIL, or the record's lock, is held: it cannot end meanwhile.)
        let _lock = due.target.lock();
        if still(&due.target) {
            raise_in(py, &due.target, Reason::Timeout);
        }
    });
}
