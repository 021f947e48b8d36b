//! Interrupting running calls (`pyrt_interrupt*`).

use super::guard::{enter, enter_interpreter};
use crate::error::{Error, Result};
use crate::python::running;

/// Interrupts every call running through `token` now.
pub fn interrupt_runtime(token: u64) -> Result<usize> {
    drop(enter(token)?);
    interrupt(running::Target::Runtime(token))
}

/// Interrupts the call host thread `origin` is making now.
pub fn interrupt_thread(origin: u64) -> Result<usize> {
    interrupt(running::Target::Thread(origin))
}

fn interrupt(target: running::Target) -> Result<usize> {
    let guard = enter_interpreter().map_err(|_| Error::finalized())?;
    let n = guard.with_gil(|py| Ok(running::interrupt_main(py, target)))?;
    // With no GIL held: each worker's interpreter is entered separately.
    Ok(n + running::interrupt_workers(target))
}

/// The calling thread's identity, as [`interrupt_thread`] takes it (`pthread_self()`).
pub fn current_thread_id() -> u64 {
    running::current_thread_id()
}
