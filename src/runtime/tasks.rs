//! Coroutines awaited on pyrt's asyncio loop (docs/streams.md): a call of an `async def` (or any
//! awaitable object) returns at once with a task number; the task's completion reports its
//! outcome later, from the loop's thread.

use super::calls::split_target;
use super::guard::{enter, enter_interpreter, enter_object};
use super::values::{call_args, mode};
use crate::error::Result;
use crate::python::aio;
pub(crate) use crate::python::aio::{Completion, Outcome};
use crate::python::{exec, handles};

/// Calls `module:function(*args, **kwargs)`, which must return an awaitable (calling an
/// `async def` does), and schedules it on the loop. `done` runs once with the outcome, unless
/// this returns an error (then it never runs).
pub fn call_async(token: u64, target: &str, args: Option<&str>, kwargs: Option<&str>, flags: u32, done: Completion) -> Result<u64> {
    let (module, function) = split_target(target)?;
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    guard.no_workers("pyrt_call_async")?;
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let callable = exec::lookup(py, module, function)?;
        let awaitable = exec::call(py, &callable, &args, kwargs.as_ref())?;
        aio::submit(py, token, &awaitable, mode, done)
    })
}

/// Schedules an awaitable object (a coroutine, Task, Future...) on the loop, as [`call_async`].
pub fn object_await(object: u64, flags: u32, done: Completion) -> Result<u64> {
    let (guard, runtime) = enter_object(object)?;
    guard.not_in_worker("pyrt_object_await")?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let awaitable = handles::get(py, object)?;
        aio::submit(py, runtime, &awaitable, mode, done)
    })
}

/// Cancels a task: Python sees CancelledError where the coroutine awaits, runs its cleanup, and
/// the completion reports PYRT_ERR_INTERRUPTED. Done or unknown tasks are left alone.
pub fn task_cancel(task: u64) -> Result<()> {
    let guard = enter_interpreter()?;
    guard.with_gil(|py| aio::cancel(py, task))
}
