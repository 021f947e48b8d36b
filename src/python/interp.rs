//! Which interpreter the current thread works in: the main one (slot 0), or the sub-interpreter
//! of a worker thread (its own slot). State that CPython objects live in — pyrt's callable cache,
//! the output proxies, `_pyrt.HostError`, references queued for release — is kept per slot,
//! because objects must never cross interpreters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// Per-slot storage for worker slots: a worker thread serves one sub-interpreter, so its
/// slot's state is thread-local; the main interpreter's lives in statics next to this.
#[macro_export]
macro_rules! per_worker {
    ($name:ident: $t:ty = $init:expr) => {
        thread_local! {
            static $name: std::cell::RefCell<$t> = std::cell::RefCell::new($init);
        }
    };
}
