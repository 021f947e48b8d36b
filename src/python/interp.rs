//! Which interpreter the current thread works in: the main one (slot 0), or the sub-interpreter
//! of a worker thread (its own slot). State that CPython objects live in — pyrt's callable cache,
//! the output proxies, `_pyrt.HostError`, references queued for release — is kept per slot,
//! because objects must never cross interpreters.

use std::sync::atomic::{AtomicUsize, Ordering};

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
