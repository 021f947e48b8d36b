//! Admission: every call enters the interpreter through a [`CallGuard`], which keeps it from
//! being finalized meanwhile and runs the call where its handle says (this thread, the main
//! thread, a worker), interruptible and with its output captured if asked.

use std::sync::atomic::Ordering::Acquire;
use std::sync::Arc;
use std::time::Duration;

use super::handles::{handle_of, Handle, HANDLES_GEN};
use crate::error::{Error, ErrorKind, Result};
use crate::hop::Hop;
use crate::python::liveness::{self, InFlight};
use crate::python::{self, capture, ffi::Api, gil, handles, running, with_gil};
use crate::signals;
use crate::stats;

/// Jobs for the interpreter's main thread (handles opened with `main_thread`), which
/// `lifecycle`'s interpreter thread serves.
pub(super) static MAIN: Hop = Hop::front_spinning();

/// Keeps the interpreter from being finalized while a call is inside it.
pub struct CallGuard {
    pub(super) api: &'static Api,
    /// The runtime handle the call goes through (0: none, e.g. a thread's teardown).
    pub(super) token: u64,
    /// The handle's state when it has per-call settings (main thread, timeout, capture,
    /// workers); `None` for a plain handle, whose calls need nothing but its token.
    pub(super) handle: Option<Arc<Handle>>,
    /// The calling thread's context (`None` while its thread-locals are destroyed).
    pub(super) thread: Option<gil::ThreadRef>,
    /// The clock at admission when the call is timed (`stats::admitted`), else 0.
    pub(super) admitted: u64,
    /// The interpreter the call must run in (a call on an object of a worker: that worker's
    /// slot), or 0 for any (the least busy worker of a `workers` handle).
    pub(super) pin: usize,
    /// Counts the call inside the interpreter until the guard drops (last, after the rest).
    pub(super) _in_flight: InFlight,
}

impl CallGuard {
    /// Runs `f` with the GIL held (first dropping references released without it), on the
    /// calling thread, on the interpreter's main thread (`main_thread` handles) or in the least
    /// busy worker (`workers` handles). The call can be interrupted (`pyrt_interrupt*`, the
    /// handle's timeout) and its output captured.
    pub fn with_gil<R: Send>(&self, f: impl FnOnce(python::Python<'_>) -> Result<R> + Send) -> Result<R> {
        let token = self.token;
        let handle = self.handle.as_deref();
        let api = self.api;
        let admitted = self.admitted;
        if let (None, Some(t)) = (handle, self.thread) {
            // A plain handle (the common case): on this thread, nothing else to decide.
            let origin = t.ident();
            return gil::with_gil_on(t, api, move |py| {
                handles::drain(py);
                call_in(py, token, None, origin, 0, admitted, f)
            });
        }
        let origin = self.thread.map_or_else(running::current_thread_id, |t| t.ident());
        if let Some(pool) = handle.and_then(|h| h.pool.as_ref()) {
            let job = move |py: python::Python<'_>, interp| {
                handles::drain(py);
                call_in(py, token, handle, origin, interp, admitted, f)
            };
            return match self.pin {
                0 => pool.run_any(job),
                slot => pool.run_in(slot, job),
            };
        }
        let run = move || {
            with_gil(api, |py| {
                handles::drain(py);
                call_in(py, token, handle, origin, 0, admitted, f)
            })
        };
        if handle.is_some_and(|h| h.main_thread) {
            // Signals with Python handlers wait in this (blocked) caller thread, so the kernel
            // delivers a self-sent one to a thread that can run it now (signals::DeferRouted).
            let _deferred = signals::DeferRouted::new();
            MAIN.run(run).map_err(|_| Error::finalized())?
        } else {
            run()
        }
    }

    /// Runs `f` in every worker of a `workers` handle (code that defines what later calls use),
    /// else once, as [`CallGuard::with_gil`].
    pub fn with_gil_everywhere(&self, f: impl Fn(python::Python<'_>) -> Result<()> + Send + Sync) -> Result<()> {
        let token = self.token;
        let handle = self.handle.as_deref();
        let origin = self.thread.map_or_else(running::current_thread_id, |t| t.ident());
        let admitted = self.admitted;
        match handle.and_then(|h| h.pool.as_ref()) {
            Some(pool) => pool
                .run_all(|py, interp| {
                    handles::drain(py);
                    call_in(py, token, handle, origin, interp, admitted, &f)
                })
                .map(drop),
            None => self.with_gil(f),
        }
    }

    /// Rejects operations that need the main interpreter on a `workers` handle.
    pub fn no_workers(&self, what: &str) -> Result<()> {
        self.handle.as_deref().map_or(Ok(()), |h| h.no_workers(what))
    }

    /// On a `workers` handle, runs the call in the worker where the first object handle among
    /// its encoded arguments lives (`{"__pyrt__": "object", "v": id}`), so that a worker's
    /// objects can be passed to calls by name as to their own methods. Parsed again only when the
    /// text has such a tag; elsewhere nothing.
    pub fn pin_to_arguments(&mut self, parts: [Option<&[u8]>; 2]) {
        if self.pin != 0 || self.handle.as_deref().is_none_or(|h| h.pool.is_none()) {
            return;
        }
        let first = parts.into_iter().flatten().find_map(python::convert::first_object_handle);
        if let Some((_, interp)) = first.and_then(|id| handles::owner_of(id).ok()) {
            self.pin = interp;
        }
    }

    /// Rejects operations on an object that lives in a worker's sub-interpreter.
    pub fn not_in_worker(&self, what: &str) -> Result<()> {
        match self.pin {
            0 => Ok(()),
            _ => Err(Error::invalid_argument(format!(
                "{what} is not available for an object that lives in a worker (\"workers\"): it needs the main interpreter"
            ))),
        }
    }

    /// The state of the handle the call goes through (looked up again for a plain handle).
    pub(super) fn handle_state(&self) -> Result<Arc<Handle>> {
        match &self.handle {
            Some(h) => Ok(h.clone()),
            None => handle_of(self.token).ok_or_else(Error::closed),
        }
    }
}

/// One call, with the GIL of the interpreter it runs in held: interruptible, its output
/// captured if the handle asks, counted (`stats`; timed when `admitted` is not 0).
#[inline]
fn call_in<R>(
    py: python::Python<'_>,
    token: u64,
    handle: Option<&Handle>,
    origin: u64,
    interp: usize,
    admitted: u64,
    f: impl FnOnce(python::Python<'_>) -> Result<R>,
) -> Result<R> {
    if handle.is_none_or(|h| h.timeout.is_none() && !h.capture) {
        // No timeout and no capture: the common case, kept short.
        let begun = stats::begin(token, admitted);
        let mark = running::begin(py, token, origin, None, interp);
        let result = f(py);
        // The typed fast path learns its handle inside the call.
        let counted = if token == 0 { running::token(py) } else { token };
        let reason = running::end(py, mark);
        let result = match reason {
            None => result,
            Some(reason) => result.map_err(|e| if e.kind == ErrorKind::KeyboardInterrupt { interrupted(e, reason, None) } else { e }),
        };
        count(begun, counted, admitted, interp, &result);
        return result;
    }
    let (timeout, capture) = handle.map_or((None, false), |h| (h.timeout, h.capture));
    if capture {
        capture::begin(py)?;
    }
    let begun = stats::begin(token, admitted);
    let mark = running::begin(py, token, origin, timeout, interp);
    let result = f(py);
    let counted = if token == 0 { running::token(py) } else { token };
    let reason = running::end(py, mark);
    let result = match (result, reason) {
        (Err(e), Some(reason)) if e.kind == ErrorKind::KeyboardInterrupt => Err(interrupted(e, reason, timeout)),
        (r, _) => r,
    };
    count(begun, counted, admitted, interp, &result);
    match (capture, handle) {
        (true, Some(h)) => {
            let out = capture::end();
            let mut acc = h.output.lock().unwrap_or_else(|p| p.into_inner());
            acc[0].push_str(&out[0]);
            acc[1].push_str(&out[1]);
            result.map_err(|mut e| {
                e.output = Some(Box::new(out));
                e
            })
        }
        _ => result,
    }
}

/// Counts a call that ended (`stats`).
#[inline]
fn count<R>(begun: stats::Begun, token: u64, admitted: u64, interp: usize, result: &Result<R>) {
    let (outcome, reason) = match result {
        Ok(_) => (stats::Outcome::Ok, 0),
        Err(e) => (
            stats::Outcome::Failed(e),
            match e.kind {
                ErrorKind::Interrupted => 1,
                ErrorKind::Timeout => 2,
                _ => 0,
            },
        ),
    };
    stats::end(begun, token, admitted, interp != 0, outcome, reason);
}

/// The error of a call that `pyrt_interrupt*` or its timeout interrupted.
fn interrupted(mut e: Error, reason: running::Reason, timeout: Option<Duration>) -> Error {
    match reason {
        running::Reason::Interrupted => {
            e.kind = ErrorKind::Interrupted;
            e.message = "the call was interrupted".into();
        }
        running::Reason::Timeout => {
            e.kind = ErrorKind::Timeout;
            e.message = format!("the call was interrupted after its timeout of {} ms", timeout.map_or(0, |t| t.as_millis()));
        }
    }
    e
}

/// Admits one call on `token`: the handle must be open and the interpreter alive.
///
/// A thread remembers the last handle it found open and plain (no per-call settings) together
/// with the handle table's generation, so its next call through that handle skips the table
/// (a lock, a lookup and a reference count) until any handle is opened or freed.
#[inline]
pub fn enter(token: u64) -> Result<CallGuard> {
    let thread = gil::thread();
    // Counted in first (every early return below counts out again), alive checked last.
    let in_flight = liveness::count_in();
    let Some(loaded) = python::loaded() else { return Err(Error::closed()) };
    let mut guard = CallGuard {
        api: &loaded.api,
        token,
        handle: None,
        thread: Some(thread),
        admitted: stats::admitted(),
        pin: 0,
        _in_flight: in_flight,
    };
    let gen = HANDLES_GEN.load(Acquire);
    if thread.plain_handle.get() != (token, gen) {
        let Some(handle) = handle_of(token) else {
            return Err(Error::closed());
        };
        if handle.special() {
            guard.handle = Some(handle);
        } else {
            thread.plain_handle.set((token, gen));
        }
    }
    if !liveness::is_alive() {
        return Err(Error::finalized());
    }
    Ok(guard)
}

/// Admits a call on an object handle (its runtime must still be open), to run in the
/// interpreter the object lives in.
pub(super) fn enter_object(object: u64) -> Result<(CallGuard, u64)> {
    let (runtime, interp) = handles::owner_of(object)?;
    let mut guard = enter(runtime)?;
    guard.pin = interp;
    Ok((guard, runtime))
}

/// Admits the interpreter as a whole (no particular runtime handle): the typed fast path checks
/// the object's runtime itself, under the GIL, in the same table lookup that takes its reference.
#[inline(always)]
pub(super) fn enter_interpreter() -> Result<CallGuard> {
    let in_flight = liveness::count_in();
    let Some(loaded) = python::loaded() else { return Err(handles::closed_object()) };
    let guard = CallGuard {
        api: &loaded.api,
        token: 0,
        handle: None,
        thread: Some(gil::thread()),
        admitted: stats::admitted(),
        pin: 0,
        _in_flight: in_flight,
    };
    if !liveness::is_alive() {
        return Err(handles::closed_object());
    }
    Ok(guard)
}
