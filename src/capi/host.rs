//! Host functions as Python callables: registering them, and answering from inside one.

use std::ffi::{c_char, c_void};

use super::error::pyrt_error;
use super::runtime::{pyrt_runtime, token};
use super::{boundary, text, ErrOut};
use crate::error::Error;
use crate::runtime::{self, Reply};

/// The answer of a host function under construction. Opaque; valid only during the callback it
/// was passed to, and only on that callback's thread: elsewhere the pyrt_reply_* functions
/// return PYRT_ERR_INVALID_ARGUMENT and change nothing.
pub struct pyrt_reply {
    _private: [u8; 0],
}

/// A host function: called by Python code as `module.name(*args, **kwargs)`.
///
/// `args_json` is a JSON array and `kwargs_json` a JSON object (`{}` when there are none), in
/// the tagged encoding (PYRT_VALUE_TAGGED, docs/values.md); a value with no encoding arrives as
/// an object handle, valid until the function returns. Both strings are valid until it returns.
/// Answer with pyrt_reply_json() (no answer: None), pyrt_reply_error() or
/// pyrt_reply_exception(), and return PYRT_OK; any other return value without an answer raises
/// `_pyrt.HostError` in Python.
///
/// It runs on the thread that executes the Python code (the caller's, the main thread, or a
/// thread Python code started), without the GIL: it may block, call any pyrt function (on this
/// thread or by handing work to other threads), and run concurrently with itself.
pub type pyrt_host_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, args_json: *const c_char, kwargs_json: *const c_char, reply: *mut pyrt_reply) -> i32,
>;

/// Releases a host function's user data: called once, after the function was unregistered (or
/// its runtime freed, or Python finalized) and no call of it is running. Any thread.
pub type pyrt_destroy_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Makes `module.name` a Python callable that calls `function` with `user_data`.
///
/// `module` is imported, or created empty (and put in sys.modules) when no such module exists;
/// `name` must be a Python identifier. Registering the same `module.name` again replaces the
/// earlier function. On success `destroy` (may be NULL) will be called with `user_data` when the
/// registration ends (pyrt_unregister(), pyrt_free() of `rt`, finalization); on failure it is
/// not called and the caller keeps ownership of `user_data`. A Python reference to the function
/// that outlives the registration raises RuntimeError when called. Host errors are raised as
/// `_pyrt.HostError`, which Python code can catch (`import _pyrt`). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_register(
    rt: *mut pyrt_runtime,
    module: *const c_char,
    name: *const c_char,
    function: pyrt_host_fn,
    user_data: *mut c_void,
    destroy: pyrt_destroy_fn,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        let f = function.ok_or_else(|| Error::invalid_argument("function is NULL"))?;
        // The C type names the reply `pyrt_reply`; the core's is `Reply` (same pointer).
        // SAFETY: both are `unsafe extern "C" fn` pointers with the same arity and return type;
        // they differ only in the pointee of the last parameter (`pyrt_reply` vs `Reply`), and
        // thin data pointers have one size and are passed alike, so the call ABI is identical.
        // The core passes a `*mut Reply` and `with_reply` turns the host's `pyrt_reply *` back.
        let f: runtime::HostFn = unsafe { std::mem::transmute(f) };
        // SAFETY: `module` and `name` are NULL (an error) or NUL-terminated strings valid for the
        // call (the header's contract).
        unsafe { runtime::register_host(token(rt)?, text(module, "module")?, text(name, "name")?, f, user_data as usize, destroy) }
    })
}

/// Removes the host function `module.name` that was registered through `rt`; its destructor
/// runs once no call of it is running. PYRT_ERR_INVALID_ARGUMENT when there is none. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_unregister(
    rt: *mut pyrt_runtime,
    module: *const c_char,
    name: *const c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `module` and `name` are NULL (an error) or NUL-terminated strings valid for the call
    // (the header's contract).
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || unsafe {
        runtime::unregister_host(token(rt)?, text(module, "module")?, text(name, "name")?)
    })
}

/// Runs `f` on the reply if it is one a host function running on this thread was given.
fn with_reply(r: *mut pyrt_reply, f: impl FnOnce(&mut Reply)) -> crate::Result<()> {
    if r.is_null() {
        return Err(Error::invalid_argument("reply is NULL"));
    }
    // Only an address to look up: `with_open_reply` dereferences it only if it is the `Reply` of
    // a host call running on this thread, so a stale or foreign pointer is an error, not UB.
    runtime::with_open_reply(r.cast::<Reply>(), f)
        .ok_or_else(|| Error::invalid_argument("reply is not open: its host function returned, or this is another thread"))
}

/// Answers with a value: `value_json` in the tagged encoding (object handles included), copied.
/// The JSON is checked when the host function returns; invalid JSON raises TypeError in Python.
#[no_mangle]
pub unsafe extern "C" fn pyrt_reply_json(reply: *mut pyrt_reply, value_json: *const c_char) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let v = unsafe { text(value_json, "value_json") }?;
        with_reply(reply, |r| r.set_value(v))
    })
}

/// Answers with an error: Python raises `_pyrt.HostError(message)`. `message` is copied.
#[no_mangle]
pub unsafe extern "C" fn pyrt_reply_error(reply: *mut pyrt_reply, message: *const c_char) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: NULL (an error) or a NUL-terminated string valid for the call (the header's contract).
        let m = unsafe { text(message, "message") }?;
        with_reply(reply, |r| r.set_error(m))
    })
}

/// Answers with the error `err` of a pyrt call made inside the host function: when it is a
/// Python exception, Python sees that very exception again (same type, value and traceback);
/// otherwise `_pyrt.HostError` with its message. `err` is not consumed (free it as usual).
#[no_mangle]
pub unsafe extern "C" fn pyrt_reply_exception(reply: *mut pyrt_reply, err: *const pyrt_error) -> i32 {
    boundary(ErrOut::NONE, || {
        // SAFETY: `err` is NULL (an error) or a live error, not freed during the call (the header's
        // contract); it is only read.
        let e = unsafe { err.as_ref() }.ok_or_else(|| Error::invalid_argument("err is NULL"))?;
        with_reply(reply, |r| r.set_exception(e.inner()))
    })
}
