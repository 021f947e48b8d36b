//! Coroutines: awaited on pyrt's asyncio loop, completed through a callback (docs/streams.md).

use std::ffi::{c_char, c_void};

use super::error::{into_raw, pyrt_error};
use super::object::{object_handle, pyrt_object};
use super::runtime::{pyrt_runtime, token};
use super::status::PYRT_OK;
use super::{boundary, optional_text, text, ErrOut};
use crate::error::{Error, Result};
use crate::runtime::{self, Completion, Outcome};

/// A task's completion: called exactly once for every task pyrt_call_async() or
/// pyrt_object_await() started, when the coroutine is done.
///
/// `status` is PYRT_OK with the result's encoding in `result_json` (as `flags` asked); or the
/// error in `err`: PYRT_ERR_PYTHON (the exception the coroutine raised, with its traceback),
/// PYRT_ERR_INTERRUPTED (the task was cancelled, by pyrt_task_cancel() or by Python code; its
/// cleanup has run), PYRT_ERR_CONVERSION (a result without encoding), PYRT_ERR_CLOSED (the
/// runtime handle was freed first). `result_json` (NULL on failure) and `err` (NULL on success)
/// belong to the callee: free them with pyrt_string_free() and pyrt_error_free(), from any
/// thread, whenever convenient.
///
/// It runs on pyrt's event-loop thread without the GIL (or, for PYRT_ERR_CLOSED, on the thread
/// that freed the runtime): keep it short — hand the outcome to another thread, complete a
/// future, signal a condition — since the loop runs no other coroutine meanwhile. It may call
/// pyrt functions. It may run before the call that started the task has returned.
pub type pyrt_task_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, task: u64, status: i32, result_json: *mut c_char, err: *mut pyrt_error)>;

/// Wraps the host's callback as the core's completion.
fn completion(done: pyrt_task_fn, user_data: *mut c_void) -> Result<Completion> {
    let f = done.ok_or_else(|| Error::invalid_argument("done is NULL"))?;
    // The host's pointer, carried to the loop thread as a number (pyrt never dereferences it).
    let user_data = user_data as usize;
    Ok(Box::new(move |task: u64, outcome: Outcome| {
        let (status, result, err) = match outcome {
            Ok(json) => (PYRT_OK, json.into_raw(), std::ptr::null_mut()),
            Err(e) => (e.kind.code(), std::ptr::null_mut(), into_raw(e)),
        };
        // SAFETY: the host passed `f` and `user_data` to be called once from any thread (the
        // callback's documented contract); the strings and the error are new allocations it
        // now owns.
        unsafe { f(user_data as *mut c_void, task, status, result, err) };
    }))
}

/// Stores a task number where asked (`task_out` may be NULL).
///
/// # Safety
/// `task_out` is NULL or writable for the call.
unsafe fn put_task(task_out: *mut u64, task: u64) {
    if !task_out.is_null() {
        // SAFETY: not NULL and writable (contract).
        unsafe { *task_out = task };
    }
}

/// Calls `target` ("module:function", as for pyrt_call_value()), an `async def` or any function
/// returning an awaitable, and schedules the coroutine on pyrt's asyncio event loop, returning at
/// once: thousands of awaits may be in flight without a thread each. `done` is called once with
/// `user_data` when the coroutine is done (see pyrt_task_fn); `flags` choose the result's
/// encoding as for pyrt_call_value(). The task's number goes to `*task_out` (may be NULL), for
/// pyrt_task_cancel().
///
/// The loop runs on a thread pyrt starts on first use ("pyrt-asyncio"; uvloop's loop when uvloop
/// is installed) and stops at finalization. Coroutines on it may call host functions. If this
/// returns an error (the target is missing, raised, or returned something that is not
/// awaitable: TypeError) `done` is never called. Not on "workers" handles (the loop belongs to the
/// main interpreter). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_call_async(
    rt: *mut pyrt_runtime,
    target: *const c_char,
    args_json: *const c_char,
    kwargs_json: *const c_char,
    flags: u32,
    done: pyrt_task_fn,
    user_data: *mut c_void,
    task_out: *mut u64,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        let done = completion(done, user_data)?;
        // SAFETY: the strings are NULL (an error, or absent where optional) or NUL-terminated and
        // valid for the call (the header's contract).
        let task = unsafe {
            runtime::call_async(
                token(rt)?,
                text(target, "target")?,
                optional_text(args_json, "args_json")?,
                optional_text(kwargs_json, "kwargs_json")?,
                flags,
                done,
            )
        }?;
        // SAFETY: `task_out` is NULL or writable for the call (the header's contract).
        unsafe { put_task(task_out, task) };
        Ok(())
    })
}

/// Awaits an awaitable object (a coroutine object a call returned, an asyncio Task or Future, any
/// object with `__await__`) on pyrt's event loop, as pyrt_call_async() does with a call's
/// result. The handle is not consumed. A coroutine object can be awaited once, as in Python.
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_await(
    awaitable: *mut pyrt_object,
    flags: u32,
    done: pyrt_task_fn,
    user_data: *mut c_void,
    task_out: *mut u64,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        let done = completion(done, user_data)?;
        let task = runtime::object_await(object_handle(awaitable, "awaitable")?, flags, done)?;
        // SAFETY: `task_out` is NULL or writable for the call (the header's contract).
        unsafe { put_task(task_out, task) };
        Ok(())
    })
}

/// Cancels a task: the coroutine sees asyncio's CancelledError where it awaits and runs its
/// cleanup (`finally`, `async with`); its completion then reports PYRT_ERR_INTERRUPTED — or its
/// result, if it caught the cancellation and returned. A task that is done, or an unknown number,
/// is left alone (PYRT_OK). Returns before the task has ended. Any thread, also inside the
/// completion callback.
#[no_mangle]
pub unsafe extern "C" fn pyrt_task_cancel(task: u64, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || runtime::task_cancel(task))
}
