//! Which interpreter the current thread works in: the main one (slot 0), or the sub-interpreter
//! of a worker thread (its own slot). State that CPython objects live in — pyrt's callable cache,
//! the output proxies, `_pyrt.HostError`, references queued for release — is kept per slot,
//! because objects must never cross interpreters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::ffi::PyThreadState;

static NEXT_SLOT: AtomicUsize = AtomicUsize::new(1);

/// The current thread's interpreter slot (0: the main interpreter). With a [`super::Python`]
/// token at hand, `py.interp()` is cheaper (no thread-local lookup).
#[inline]
pub fn current() -> usize {
    super::gil::try_thread().map_or(0, |t| t.interp.get())
}

/// A fresh slot for a new sub-interpreter (slots are never reused).
pub fn new_slot() -> usize {
    NEXT_SLOT.fetch_add(1, Ordering::Relaxed)
}

/// Makes the calling thread (a worker) work in `slot` from now on.
pub fn enter(slot: usize) {
    super::gil::thread().interp.set(slot);
}

/// Running worker interpreters: (`PyInterpreterState` address, slot).
static LIVE: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
static LIVE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A worker's interpreter at `address` runs, in `slot` (until [`forget_live`]).
pub fn register_live(address: usize, slot: usize) {
    if address != 0 {
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push((address, slot));
        LIVE_COUNT.fetch_add(1, Ordering::SeqCst);
    }
}

/// What wakes a worker so that it drops the references queued for its interpreter.
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;
static WAKERS: Mutex<Vec<(usize, Waker)>> = Mutex::new(Vec::new());

/// `wake` makes the worker serving `slot` drop what is queued for it (until [`clear_waker`]).
pub fn set_waker(slot: usize, wake: Waker) {
    WAKERS.lock().unwrap_or_else(|p| p.into_inner()).push((slot, wake));
}

pub fn clear_waker(slot: usize) {
    WAKERS.lock().unwrap_or_else(|p| p.into_inner()).retain(|(s, _)| *s != slot);
}

/// Has the worker serving `slot` drop the references queued for it soon (a released handle of
/// one of its objects), instead of at its next call. Any thread; never blocks on the worker.
pub fn wake(slot: usize) {
    let wake = WAKERS.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(s, _)| *s == slot).map(|(_, w)| w.clone());
    if let Some(wake) = wake {
        wake();
    }
}

/// The worker's interpreter in `slot` is ending.
pub fn forget_live(slot: usize) {
    let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
    let before = live.len();
    live.retain(|(_, s)| *s != slot);
    LIVE_COUNT.fetch_sub(before - live.len(), Ordering::SeqCst);
}

/// A thread that Python code started inside a worker's interpreter comes to pyrt (calling a host
/// function) as a thread pyrt has not seen, which it takes for a main-interpreter one: look up the
/// interpreter its thread state belongs to, and work in that slot from now on (a thread's state
/// belongs to one interpreter for the thread's life). GIL held. Costs one atomic load while no
/// worker runs.
pub fn adopt(py: super::Python) {
    if LIVE_COUNT.load(Ordering::SeqCst) == 0 || py.interp() != 0 {
        return;
    }
    let Some(get_interp) = py.api.PyThreadState_GetInterpreter else { return };
    // SAFETY: the GIL is held (the caller's contract), so this thread has a current thread state
    // (`PyThreadState_Get` never returns NULL then), which `PyThreadState_GetInterpreter` reads.
    let address = unsafe { get_interp((py.api.PyThreadState_Get)()) } as usize;
    let slot = LIVE.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(a, _)| *a == address).map(|(_, s)| *s);
    if let (Some(slot), Some(t)) = (slot, py.thread()) {
        t.interp.set(slot);
    }
}

/// State pyrt keeps beside a worker's interpreter (its callable cache, `_pyrt.HostError`, ...):
/// one value per slot, shared by every thread that works in that interpreter — the worker's own
/// thread, callers that run their calls there directly (`workers`), threads Python started in
/// it. Created on first use; [`PerSlot::take`] removes it as the interpreter ends. The main
/// interpreter's counterparts are plain statics beside each use.
pub struct PerSlot<T> {
    entries: Mutex<Vec<(usize, Arc<T>)>>,
}

impl<T: Default> PerSlot<T> {
    pub const fn new() -> Self {
        PerSlot { entries: Mutex::new(Vec::new()) }
    }

    /// The value of `slot` (a new default one on first use).
    pub fn get(&self, slot: usize) -> Arc<T> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, v)) = entries.iter().find(|(s, _)| *s == slot) {
            return v.clone();
        }
        let v = Arc::new(T::default());
        entries.push((slot, v.clone()));
        v
    }

    /// Removes `slot`'s value (its interpreter is ending).
    pub fn take(&self, slot: usize) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let i = entries.iter().position(|(s, _)| *s == slot)?;
        Some(entries.swap_remove(i).1)
    }
}

// ---- host threads running calls in a worker's interpreter ---------------------------------------

/// A thread state a host thread made to run calls directly in a worker's interpreter
/// (`workers`): one per (thread, interpreter), kept for the thread's life like its
/// main-interpreter state (`gil`). Registered here because `Py_EndInterpreter` aborts while the
/// interpreter has any state but the ending thread's: the worker deletes them all first
/// ([`end_caller_states`]). A state whose thread exited is deleted by the next thread that holds
/// that interpreter's GIL ([`reap_orphans`]).
struct CallerState {
    slot: usize,
    ts: usize,
    /// Its thread exited.
    orphaned: bool,
}

static CALLER_STATES: Mutex<Vec<CallerState>> = Mutex::new(Vec::new());
/// How many registered states are orphaned (read without the lock on every direct call).
static ORPHANS: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's state for the worker interpreter `interp` (a `PyInterpreterState *`) in
/// `slot`, made on first use; `None` when CPython cannot make one.
///
/// # Safety
/// The interpreter is live and cannot end before the state is registered (the worker's count
/// of direct calls is held), and the thread already has its main-interpreter state: otherwise
/// CPython would bind the new state as the thread's `PyGILState` state, and a later
/// main-interpreter call on the thread would run in the worker's interpreter.
pub unsafe fn caller_state(api: &super::ffi::Api, t: &super::gil::ThreadCtx, slot: usize, interp: usize) -> Option<*mut PyThreadState> {
    if let Some(&(_, ts)) = t.worker_states.borrow().iter().find(|(s, _)| *s == slot) {
        return Some(ts as *mut PyThreadState);
    }
    // SAFETY: `interp` is live (the contract); `PyThreadState_New` needs no GIL and binds the new
    // state to this thread without attaching it.
    let ts = unsafe { (api.PyThreadState_New)(interp as *mut std::ffi::c_void) };
    if ts.is_null() {
        return None;
    }
    let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
    all.push(CallerState { slot, ts: ts as usize, orphaned: false });
    let mut mine = t.worker_states.borrow_mut();
    // States deleted since (their worker ended) are forgotten here, so the list stays short.
    mine.retain(|&(_, old)| all.iter().any(|c| c.ts == old));
    mine.push((slot, ts as usize));
    Some(ts)
}

/// The calling thread is exiting: its states in workers' interpreters are to be deleted by those
/// interpreters' next GIL holders (a state is deleted with its interpreter's GIL held, which
/// this thread cannot take now without waiting behind their calls).
pub fn orphan_caller_states(states: &[(usize, usize)]) {
    let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
    for c in all.iter_mut().filter(|c| !c.orphaned && states.iter().any(|&(_, ts)| ts == c.ts)) {
        c.orphaned = true;
        ORPHANS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Deletes the states of exited threads in the current (worker) interpreter. GIL held; one
/// atomic load when there are none.
#[inline]
pub fn reap_orphans(py: super::Python) {
    if ORPHANS.load(Ordering::Relaxed) != 0 && py.interp() != 0 {
        delete_states(py, |c| c.orphaned);
    }
}

/// Deletes every host thread's state in the current worker interpreter, which is about to end:
/// no call runs in it any more. GIL held, on the worker's thread.
pub fn end_caller_states(py: super::Python) {
    delete_states(py, |_| true);
}

fn delete_states(py: super::Python, which: impl Fn(&CallerState) -> bool) {
    let slot = py.interp();
    let gone: Vec<CallerState> = {
        let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
        let (gone, kept) = std::mem::take(&mut *all).into_iter().partition(|c| c.slot == slot && which(c));
        *all = kept;
        gone
    };
    for c in gone {
        if c.orphaned {
            ORPHANS.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: `c.ts` is a state of this interpreter (its slot), made by `caller_state` and
        // removed from the registry above, so deleted exactly once. It is detached: its thread
        // exited (orphaned), or no call runs in the interpreter any more (`end_caller_states`'
        // contract); a state is attached only inside a direct call's GIL section. This thread
        // holds the interpreter's GIL (the `py` token), as `PyThreadState_Clear` requires;
        // `PyThreadState_Delete` frees a state that is not the current one.
        unsafe {
            (py.api.PyThreadState_Clear)(c.ts as *mut PyThreadState);
            (py.api.PyThreadState_Delete)(c.ts as *mut PyThreadState);
        }
    }
}
