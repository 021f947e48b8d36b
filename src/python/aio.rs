//! Coroutines without a blocked thread per await (docs/streams.md): an asyncio event loop on a
//! thread pyrt starts on first use ("pyrt-asyncio"; uvloop's loop when it is installed), and a
//! table of tasks whose completion is handed to the host.
//!
//! A host submits an awaitable with [`submit`]; the loop runs it as an asyncio Task, and when the
//! Task is done — finished, raised, or cancelled and through its cleanup — the loop thread calls
//! `_pyrt_task_done`, which converts the outcome and runs the task's completion (the host's
//! callback) with the GIL released. Each completion runs exactly once: it is taken out of the
//! table before it runs, whoever gets it first — the Task finishing, the runtime handle being
//! freed ([`close_runtime`]: `PYRT_ERR_CLOSED` at once, the Task cancelled soon after) or the
//! interpreter shutting down ([`shutdown`]).

use std::collections::HashMap;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::convert::{self, ValueMode};
use super::exception::OrFetch;
use super::ffi::{PyMethodDef, PyPtr, METH_VARARGS};
use super::pyref::Borrowed;
use super::{exec, gil, handles, PyRef, Python};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};

/// What a task's completion receives: the result's encoding, or the error.
pub type Outcome = Result<CText>;
/// A task's completion (the host's callback, wrapped by the layer that knows it), given the
/// task's number and its outcome.
pub type Completion = Box<dyn FnOnce(u64, Outcome) + Send>;

struct Task {
    runtime: u64,
    mode: ValueMode,
    done: Completion,
}

static TASKS: Mutex<Option<HashMap<u64, Task>>> = Mutex::new(None);
static NEXT_TASK: AtomicU64 = AtomicU64::new(1);

fn take_task(id: u64) -> Option<Task> {
    TASKS.lock().unwrap_or_else(|p| p.into_inner()).as_mut().and_then(|t| t.remove(&id))
}

/// The Python side: the loop, its thread and the functions the host reaches it through.
const GLUE: &std::ffi::CStr = cr#"
import asyncio, concurrent.futures, inspect, threading

_loop = None
_thread = None
_tasks = {}
_start_lock = threading.Lock()

def _run(box, ready):
    try:
        import uvloop
        loop = uvloop.new_event_loop()
    except Exception:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    box.append(loop)
    ready.set()
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:
            pass
        loop.close()

def _ensure_loop():
    global _loop, _thread
    with _start_lock:
        if _loop is None:
            box, ready = [], threading.Event()
            t = threading.Thread(target=_run, args=(box, ready), name='pyrt-asyncio', daemon=True)
            t.start()
            ready.wait()
            _thread, _loop = t, box[0]
    return _loop

async def _await(awaitable):
    return await awaitable

def _start(task_id, awaitable):
    coro = awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable)
    task = _loop.create_task(coro)
    _tasks[task_id] = task
    def finished(t, task_id=task_id):
        _tasks.pop(task_id, None)
        _done(task_id, t)
    task.add_done_callback(finished)

def submit(task_id, awaitable):
    if not inspect.isawaitable(awaitable):
        raise TypeError(f"'{type(awaitable).__name__}' object is not awaitable (call an async def, or await a coroutine, Task or Future)")
    _ensure_loop().call_soon_threadsafe(_start, task_id, awaitable)

def _cancel(task_id):
    t = _tasks.get(task_id)
    if t is not None:
        t.cancel()

def cancel(task_id):
    if _loop is not None and not _loop.is_closed():
        _loop.call_soon_threadsafe(_cancel, task_id)

async def _drain():
    tasks = list(_tasks.values())
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)

async def _anext(ait):
    return await ait.__anext__()

def _wait(fut):
    # In short waits, so that an interrupt (an exception pyrt raises in this thread) gets in.
    try:
        while not concurrent.futures.wait([fut], timeout=0.05).done:
            pass
        return fut.result()
    except BaseException:
        fut.cancel()
        raise

def sync_iter(aiterable):
    ait = aiterable.__aiter__()
    loop = _ensure_loop()
    def steps():
        try:
            while True:
                try:
                    item = _wait(asyncio.run_coroutine_threadsafe(_anext(ait), loop))
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(ait, 'aclose', None)
            if aclose is not None and not loop.is_closed():
                try:
                    _wait(asyncio.run_coroutine_threadsafe(aclose(), loop))
                except BaseException:
                    pass
    return steps()

def shutdown():
    if _loop is None:
        return
    try:
        asyncio.run_coroutine_threadsafe(_drain(), _loop).result(10)
    except Exception:
        pass
    _loop.call_soon_threadsafe(_loop.stop)
    _thread.join(10)
"#;

/// The glue's functions, kept while the interpreter lives.
struct Glue {
    submit: PyRef,
    sync_iter: PyRef,
    cancel: PyRef,
    shutdown: PyRef,
}

// SAFETY: the references are only used (called, cloned, dropped) with the GIL held: every access
// goes through `GLUE`'s lock inside a function taking a `Python` token.
unsafe impl Send for Glue {}

static GLUE_FNS: Mutex<Option<Glue>> = Mutex::new(None);

/// `_done(task_id, task)`, called by the loop thread when a Task is done.
static TASK_DONE: PyMethodDef =
    PyMethodDef { ml_name: c"_done".as_ptr(), ml_meth: task_done as *const _, ml_flags: METH_VARARGS, ml_doc: ptr::null() };

/// Runs the glue once (the loop itself starts with the first task).
fn glue(py: Python) -> Result<std::sync::MutexGuard<'static, Option<Glue>>> {
    let mut g = GLUE_FNS.lock().unwrap_or_else(|p| p.into_inner());
    if g.is_none() {
        let globals = py.new_dict().or_fetch(py)?;
        // SAFETY: `TASK_DONE` is a METH_VARARGS definition of `task_done`, an `extern "C"` function
        // of the signature CPython calls for it, with a static name.
        let done = unsafe { py.new_function(&TASK_DONE, None, None) }.or_fetch(py)?;
        py.dict_set_str(&globals, c"_done", &done).or_fetch(py)?;
        exec::run_in(py, GLUE, c"<pyrt asyncio>", &globals)?;
        let get = |name: &str| -> Result<PyRef> {
            py.dict_get_str(&globals, name)
                .or_fetch(py)?
                .ok_or_else(|| Error::new(ErrorKind::Internal, format!("pyrt's asyncio glue lacks {name}")))
        };
        *g = Some(Glue { submit: get("submit")?, sync_iter: get("sync_iter")?, cancel: get("cancel")?, shutdown: get("shutdown")? });
    }
    Ok(g)
}

/// One of the glue's functions (a new reference, so the lock is not held while it runs).
fn glue_fn(py: Python, which: impl FnOnce(&Glue) -> &PyRef) -> Result<PyRef> {
    let g = glue(py)?;
    Ok(which(g.as_ref().expect("set by glue()")).clone_ref(py))
}

/// Schedules `awaitable` (a coroutine, Task, Future or any object with `__await__`) on the loop;
/// `done` runs once with its outcome, converted in `mode`. Returns the task's number.
pub fn submit(py: Python, runtime: u64, awaitable: &PyRef, mode: ValueMode, done: Completion) -> Result<u64> {
    let submit = glue_fn(py, |g| &g.submit)?;
    let id = NEXT_TASK.fetch_add(1, Ordering::Relaxed);
    // In the table before the loop can see the task: it may finish before `submit` returns.
    TASKS.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(HashMap::new).insert(id, Task { runtime, mode, done });
    let key = py.new_int(id as i64).or_fetch(py);
    let scheduled = key.and_then(|key| py.call(&submit, &[key, awaitable.clone_ref(py)]).or_fetch(py));
    if let Err(e) = scheduled {
        // Not scheduled: no completion will come, and the caller reports the error instead.
        drop(take_task(id));
        return Err(e);
    }
    Ok(id)
}

/// A generator over an async iterable's items (an async generator, say): each step awaits the
/// next item on the loop, and closing it closes the async iterator there (`aclose()`).
pub fn sync_iter(py: Python, aiterable: &PyRef) -> Result<PyRef> {
    let sync_iter = glue_fn(py, |g| &g.sync_iter)?;
    py.call(&sync_iter, &[aiterable.clone_ref(py)]).or_fetch(py)
}

/// Asks the loop to cancel task `id` (Python sees CancelledError where the coroutine awaits;
/// its completion then reports the cancellation, after the coroutine's cleanup). A task that is
/// done already, or unknown, is left alone.
pub fn cancel(py: Python, id: u64) -> Result<()> {
    let cancel = glue_fn(py, |g| &g.cancel)?;
    let key = py.new_int(id as i64).or_fetch(py)?;
    py.call(&cancel, &[key]).map(drop).or_fetch(py)
}

/// A runtime handle was freed: its tasks complete now with `PYRT_ERR_CLOSED` (on this thread,
/// without Python), and are cancelled on the loop at the next GIL holder.
pub fn close_runtime(runtime: u64) {
    let closed: Vec<(u64, Task)> = {
        let mut tasks = TASKS.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tasks) = tasks.as_mut() else { return };
        let ids: Vec<u64> = tasks.iter().filter(|(_, t)| t.runtime == runtime).map(|(id, _)| *id).collect();
        ids.into_iter().filter_map(|id| tasks.remove(&id).map(|t| (id, t))).collect()
    };
    if closed.is_empty() {
        return;
    }
    let ids: Vec<u64> = closed.iter().map(|(id, _)| *id).collect();
    for (id, t) in closed {
        (t.done)(id, Err(closed_error()));
    }
    handles::queue_main_release(Box::new(move |py| {
        for id in ids {
            if cancel(py, id).is_err() {
                py.clear_error();
            }
        }
    }));
}

fn closed_error() -> Error {
    Error::new(ErrorKind::Closed, "the pyrt runtime was freed before the task completed")
}

/// Before finalization (GIL held, no calls in flight): cancels every task and waits (up to 10 s)
/// for their cleanup, stops the loop and joins its thread. Tasks still without a completion then
/// complete with `PYRT_ERR_CLOSED`.
pub fn shutdown(py: Python) {
    let glue = GLUE_FNS.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(glue) = glue {
        if py.call0(&glue.shutdown).is_err() {
            py.clear_error();
        }
        drop(glue);
    }
    let rest: Vec<(u64, Task)> =
        TASKS.lock().unwrap_or_else(|p| p.into_inner()).take().map(|t| t.into_iter().collect()).unwrap_or_default();
    if !rest.is_empty() {
        gil::allow_threads(py, || {
            for (id, t) in rest {
                (t.done)(id, Err(closed_error()));
            }
        });
    }
}

/// `_done(task_id, task)`: the loop thread reports a finished Task.
unsafe extern "C" fn task_done(_module: PyPtr, args: PyPtr) -> PyPtr {
    // SAFETY: CPython calls a METH_VARARGS function with the GIL held and `args` a live tuple for
    // the call: the body's contract, passed through.
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { task_done_body(args) })
}

/// # Safety
/// CPython's METH_VARARGS contract: the GIL is held and `args` is a live tuple for the call.
unsafe fn task_done_body(args: PyPtr) -> PyPtr {
    let api = super::api();
    // SAFETY: CPython called us with the GIL held; the token does not leave this call.
    let py = unsafe { gil::assume_gil(api) };
    // SAFETY: `args` is a live tuple the caller keeps alive for the call (contract).
    let Some(args) = (unsafe { Borrowed::from_ptr(args) }) else { return ptr::null_mut() };
    let (id, task) = match (py.tuple_get(&args, 0), py.tuple_get(&args, 1)) {
        (Ok(id), Ok(task)) => (id, task.clone_ref(py)),
        _ => return ptr::null_mut(),
    };
    let id = match py.as_i64(&id) {
        Ok(Some(id)) => id as u64,
        _ => return ptr::null_mut(),
    };
    if let Some(t) = take_task(id) {
        let outcome = outcome(py, &task, t.mode);
        // The host's callback may block or call back into pyrt: not with the GIL.
        gil::allow_threads(py, || (t.done)(id, outcome));
    }
    py.none_ref().into_ptr()
}

/// The Task's outcome: its result's encoding, its exception, or its cancellation.
fn outcome(py: Python, task: &PyRef, mode: ValueMode) -> Outcome {
    let cancelled = py.call_method0(task, c"cancelled").or_fetch(py)?;
    if cancelled.as_ptr() == py.bool_ref(true).as_ptr() {
        return Err(Error::new(ErrorKind::Interrupted, "the task was cancelled"));
    }
    let value = py.call_method0(task, c"result").or_fetch(py)?;
    convert::to_json_cstring_mode(py, &value, mode)
}
