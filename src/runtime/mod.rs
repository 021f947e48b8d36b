//! The executor: one CPython interpreter per process, shared by every runtime handle.
//!
//! * CPython is initialized on a thread pyrt owns ("pyrt-python"); that thread also finalizes it,
//!   because finalizing from another thread hangs on 3.9-3.12. It is Python's main
//!   thread, and imports `threading` right away so `threading.main_thread()` is right (§3.4).
//! * Calls run on the caller's thread, holding the GIL only inside the call (`python::gil`).
//! * Handles are tokens looked up in a table, never dereferenced: a freed or bogus handle is an
//!   error (`Closed`), not a crash.
//! * Freeing the last handle finalizes the interpreter, after the calls in flight return. CPython
//!   cannot be re-initialized safely (§7), so from then on `new` fails with `Finalized`.
//!
//! The C layer (`capi`) reaches Python only through this module. Its files:
//!
//! * `lifecycle` — opening a handle (starting the interpreter), the interpreter thread, freeing.
//! * `handles` — the runtime handle table and each handle's per-call settings.
//! * `guard` — admission of a call (`CallGuard`, `enter*`) and where and how it runs.
//! * `calls` — running code, evaluating, calling functions; the typed fast path.
//! * `values` — the value encodings' flags, arguments and results (docs/values.md).
//! * `objects` — object handles: import, eval, getattr/setattr, calls, text, free.
//! * `iterate` — iterators and generators consumed a step (or a batch) at a time.
//! * `tasks` — coroutines awaited on pyrt's asyncio loop, and cancelling them.
//! * `buffers` — object buffers read in place.
//! * `host` — host functions registered as Python callables, and their replies.
//! * `output` — captured output and the output handler.
//! * `control` — interrupting calls; the thread identity they target.
//! * `info` — what a runtime reports about itself.

mod buffers;
mod calls;
mod control;
mod guard;
mod handles;
mod host;
mod info;
mod iterate;
mod lifecycle;
mod objects;
mod output;
mod tasks;
mod values;

pub(crate) use buffers::{buffer_copy, buffer_elem_info, buffer_free, object_buffer, object_buffer_copy, BufferExport};
pub(crate) use calls::{
    call_json, call_json_with, call_value, call_value_with, eval_json, eval_value_with, object_call_typed, read_double, read_int,
    read_json, read_object, run_file, run_string,
};
pub(crate) use control::{current_thread_id, interrupt_runtime, interrupt_thread};
pub(crate) use host::{register_host, unregister_host, with_open_reply, HostFn, Reply};
#[cfg(test)]
pub(crate) use info::INFO_FIELDS;
pub(crate) use info::{info_json, stats_json};
pub(crate) use iterate::{iter_close, iter_next, iter_next_batch, iter_send, iter_throw, object_iter};
pub(crate) use lifecycle::{free, new, venv_ensure};
pub(crate) use objects::{
    object_call, object_eval, object_free, object_from_json, object_getattr, object_import, object_setattr, object_text, object_to_json,
};
pub(crate) use output::{output_take, set_output_handler, STDERR, STDOUT};
pub(crate) use tasks::{call_async, object_await, task_cancel, Completion, Outcome};
pub(crate) use values::{Returned, VALUE_TAGGED};
