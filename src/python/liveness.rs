//! Whether the interpreter accepts work, and how much work is inside it. Every call (and a
//! thread's exit-time cleanup, and the timeout thread) counts itself in with [`count_in`];
//! finalization first stops admitting ([`set_alive`]`(false)`), then waits until the count
//! drops to zero ([`wait_drained`]). It lives here, below the executor, because the layer that
//! touches CPython needs it too (thread teardown must not touch a finalized interpreter).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// True while the interpreter accepts calls.
static ALIVE: AtomicBool = AtomicBool::new(false);
/// Calls (and thread teardowns) currently inside the interpreter.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
/// Signalled when the last call leaves a finalizing interpreter.
static DRAINED: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Opens (true) or closes (false) the interpreter to new work.
pub(crate) fn set_alive(alive: bool) {
    ALIVE.store(alive, SeqCst);
}

/// True while the interpreter accepts calls.
pub(crate) fn is_alive() -> bool {
    ALIVE.load(SeqCst)
}

/// One unit of work counted inside the interpreter; dropping it counts it out.
pub(crate) struct InFlight(());

impl Drop for InFlight {
    fn drop(&mut self) {
        if IN_FLIGHT.fetch_sub(1, SeqCst) == 1 && !ALIVE.load(SeqCst) {
            let _lock = DRAINED.0.lock();
            DRAINED.1.notify_all();
        }
    }
}

/// Counts the caller in. Count in first and check [`is_alive`] after: finalization closes the
/// interpreter first and counts after, so one of the two sees the other.
#[inline]
pub(crate) fn count_in() -> InFlight {
    IN_FLIGHT.fetch_add(1, SeqCst);
    InFlight(())
}

/// Counts a thread's exit-time cleanup in, if the interpreter still runs.
pub(crate) fn enter_teardown() -> Option<InFlight> {
    let counted = count_in();
    is_alive().then_some(counted)
}

/// Waits until no work is inside the interpreter (it was closed first: none comes in).
pub(crate) fn wait_drained() {
    let mut lock = DRAINED.0.lock().unwrap_or_else(|p| p.into_inner());
    while IN_FLIGHT.load(SeqCst) > 0 {
        lock = DRAINED.1.wait_timeout(lock, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
    }
}
