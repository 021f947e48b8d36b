//! Which interpreter the current thread works in: the main one (slot 0), or a worker's
//! sub-interpreter (its own slot) — on the worker's thread, on a host thread running a call there
//! directly, or on a thread Python started there. State that CPython objects live in — pyrt's
//! callable cache, the output proxies, `_pyrt.HostError`, references queued for release — is
//! kept per slot, because objects must never cross interpreters.

use std::cell::RefCell;
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

    /// The value of `slot` (a new default one on first use). Once [`PerSlot::take`] removed it
    /// (the interpreter is ending: its `atexit` code may still call pyrt), a fresh value that
    /// is not kept: nothing made for an ending interpreter outlives the use.
    pub fn get(&self, slot: usize) -> Arc<T> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, v)) = entries.iter().find(|(s, _)| *s == slot) {
            return v.clone();
        }
        let v = Arc::new(T::default());
        if !ENDING.lock().unwrap_or_else(|p| p.into_inner()).contains(&slot) {
            entries.push((slot, v.clone()));
        }
        v
    }

    /// Removes `slot`'s value: its interpreter is ending ([`ending`] was called).
    pub fn take(&self, slot: usize) -> Option<Arc<T>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let i = entries.iter().position(|(s, _)| *s == slot)?;
        Some(entries.swap_remove(i).1)
    }
}

/// Worker slots whose interpreter is ending or has ended (slots are never reused).
static ENDING: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// The interpreter of `slot` is ending: [`PerSlot`] values made for it from now on are not kept.
pub fn ending(slot: usize) {
    ENDING.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
}

// ---- host threads running calls in a worker's interpreter ---------------------------------------

/// A thread state a host thread made to run calls directly in a worker's interpreter
/// (`workers`): one per (thread, interpreter), kept for the thread's life like its
/// main-interpreter state (`gil`). Registered here because `Py_EndInterpreter` aborts while the
/// interpreter has any state but the ending thread's: the worker deletes them all first
/// ([`end_caller_states`]). A state whose thread exited is deleted by the worker soon after
/// ([`orphan_caller_states`], [`reap_orphans`]).
///
/// Deleting another thread's state is sound only because no such state is ever the owner
/// thread's `PyGILState` state while the thread is outside a call: see
/// [`release_caller_state`].
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
/// of direct calls is held), and the state is attached right after (`gil::with_gil_in`), whose
/// end releases it with [`release_caller_state`].
pub unsafe fn caller_state(api: &super::ffi::Api, slot: usize, interp: usize) -> Option<*mut PyThreadState> {
    let known = MINE.try_with(|m| m.0.borrow().iter().find(|(s, _)| *s == slot).map(|&(_, ts)| ts)).ok()?;
    if let Some(ts) = known {
        return Some(ts as *mut PyThreadState);
    }
    // SAFETY: `interp` is live (the contract); `PyThreadState_New` needs no GIL and binds the new
    // state to this thread without attaching it (and makes it the thread's `PyGILState` state
    // when the thread has none, as after a previous direct call: it is attached right after
    // and handed on by `release_caller_state`).
    let ts = unsafe { (api.PyThreadState_New)(interp as *mut std::ffi::c_void) };
    if ts.is_null() {
        return None;
    }
    let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
    all.push(CallerState { slot, ts: ts as usize, orphaned: false });
    let _ = MINE.try_with(|m| {
        let mut mine = m.0.borrow_mut();
        // States deleted since (their worker ended) are forgotten here, so the list stays
        // short. Matched by slot and address: a freed state's address may come back in another
        // interpreter.
        mine.retain(|&(s, old)| all.iter().any(|c| c.slot == s && c.ts == old));
        mine.push((slot, ts as usize));
    });
    Some(ts)
}

/// The calling thread's states in workers' interpreters: (slot, `PyThreadState *`). Handed to
/// the workers when the thread exits.
struct Mine(RefCell<Vec<(usize, usize)>>);

impl Drop for Mine {
    fn drop(&mut self) {
        let states = self.0.take();
        if !states.is_empty() {
            orphan_caller_states(&states);
        }
    }
}

thread_local! {
    static MINE: Mine = const { Mine(RefCell::new(Vec::new())) };
}

/// Ends a direct call: detaches `ts` — this thread's state in the worker interpreter `interp`
/// (slot `slot`), attached, with that interpreter's GIL held — and releases the GIL, leaving
/// this thread with no `PyGILState` state in that interpreter.
///
/// Every attach makes the attached state its thread's `PyGILState` state (CPython 3.12+,
/// `tstate_activate`), and `PyEval_SaveThread` leaves it so. A worker that ends deletes the
/// states of threads that are still alive, from its own thread; CPython then clears the
/// *deleting* thread's pointer, and the owner's next attach would write into the freed state.
/// So the binding is handed to a temporary state of the same interpreter, which this thread
/// deletes as its current state (`PyThreadState_DeleteCurrent` clears this thread's own
/// pointer and releases the GIL): idle, the thread has no `PyGILState` state, and its next
/// attach binds the state it attaches. The temporary state never runs a frame (no data stack
/// is allocated for it).
///
/// # Safety
/// `ts` is the calling thread's state in `interp` (made by [`caller_state`]), attached, and the
/// GIL of `interp` is held through it.
pub unsafe fn release_caller_state(api: &super::ffi::Api, slot: usize, interp: usize, ts: *mut PyThreadState) {
    // SAFETY: (the contract) `interp` is live while one of its states is attached; `PyThreadState_New`
    // binds nothing here (this thread's `PyGILState` state is `ts`).
    let carrier = unsafe { (api.PyThreadState_New)(interp as *mut std::ffi::c_void) };
    if let (false, Some(set)) = (carrier.is_null(), api.PyUnstable_ThreadState_SetStackProtection) {
        // 3.14+: a state's first attach asks the OS where the thread's stack is
        // (`pthread_getattr_np`: a system call, and on the process's main thread a read of
        // /proc/self/maps, tens of µs) unless its stack protection is set. The carrier runs no
        // code: give it the thread's stack, known once per thread.
        let (lo, hi) = super::gil::try_thread().map_or((0, 0), |t| t.os_stack());
        // SAFETY: `carrier` is a live state not yet attached; setting its stack protection
        // only records the range.
        if lo != 0 && unsafe { set(carrier, lo as *mut std::ffi::c_void, hi - lo) } != 0 {
            // SAFETY: the failure (a range too small) set an exception on the current state,
            // `ts`, whose GIL this thread holds (the contract): cleared at once.
            unsafe { (api.PyErr_Clear)() };
        }
    }
    if carrier.is_null() {
        // Out of memory: delete `ts` itself, the same way (a later call makes a new one).
        {
            let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
            all.retain(|c| !(c.slot == slot && c.ts == ts as usize));
        }
        let _ = MINE.try_with(|m| m.0.borrow_mut().retain(|&(s, x)| !(s == slot && x == ts as usize)));
        // SAFETY: `ts` is current with its GIL held (the contract) and now unregistered, so no
        // other thread deletes it: clear it, then delete it as the current state, which releases
        // the GIL.
        unsafe {
            (api.PyThreadState_Clear)(ts);
            (api.PyThreadState_DeleteCurrent)();
        }
        return;
    }
    // SAFETY: `ts` is current with the GIL of `interp` held; `carrier` is a new, detached state
    // of the same interpreter bound to this thread. Swapping releases that GIL and takes it
    // again (3.12 through `_PyEval_ReleaseLock`/`_PyEval_AcquireLock`, 3.13+ through detach
    // and attach) with `carrier` current, which makes `carrier` this thread's `PyGILState`
    // state and unbinds `ts`; `ts` stays registered and detached for the thread's next call.
    // `carrier`, current and never used to run code, is then cleared and deleted as the current
    // state: that unbinds it from this thread and releases the GIL. (In between another thread
    // waiting for this GIL outside the worker's gate — a thread Python started there — may
    // take it first: the call then returns after that thread's turn.)
    unsafe {
        (api.PyThreadState_Swap)(carrier);
        (api.PyThreadState_Clear)(carrier);
        (api.PyThreadState_DeleteCurrent)();
    }
}

/// The calling thread is exiting: its states in workers' interpreters (detached, and no
/// thread's `PyGILState` state: [`release_caller_state`]) are to be deleted by those workers (a state is deleted with its interpreter's GIL held, which
/// this thread cannot take now without waiting behind their calls); each is woken to do it.
pub fn orphan_caller_states(states: &[(usize, usize)]) {
    let mut woken = Vec::new();
    {
        let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
        for c in all.iter_mut().filter(|c| !c.orphaned && states.iter().any(|&(s, ts)| s == c.slot && ts == c.ts)) {
            c.orphaned = true;
            ORPHANS.fetch_add(1, Ordering::SeqCst);
            woken.push(c.slot);
        }
    }
    woken.dedup();
    for slot in woken {
        wake(slot);
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
    let mut gone = Vec::new();
    {
        let mut all = CALLER_STATES.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|c| {
            if c.slot == slot && which(c) {
                gone.push((c.ts, c.orphaned));
                false
            } else {
                true
            }
        });
    }
    for (ts, orphaned) in gone {
        if orphaned {
            ORPHANS.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: `ts` is a state of this interpreter (its slot), made by `caller_state` and
        // removed from the registry above, so deleted exactly once. It is detached: its thread
        // exited (orphaned), or no call runs in the interpreter any more
        // (`end_caller_states`' contract); a state is attached only inside a direct call. It is
        // no thread's `PyGILState` state (`release_caller_state`), so deleting it from this
        // thread leaves no thread pointing at it. This thread holds the interpreter's GIL (the
        // `py` token), as `PyThreadState_Clear` requires; `PyThreadState_Delete` frees a state
        // that is not the current one.
        unsafe {
            (py.api.PyThreadState_Clear)(ts as *mut PyThreadState);
            (py.api.PyThreadState_Delete)(ts as *mut PyThreadState);
        }
    }
}
