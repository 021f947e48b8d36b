//! `_pyrt`: a small built-in module pyrt adds to the interpreter for its own Python-side glue
//! (signal routing; later host callbacks and output capture). Its functions are C functions
//! CPython calls — `extern "C"` by necessity, but not part of pyrt's exported C ABI.

use std::ffi::c_int;
use std::ptr;
use std::sync::Mutex;

use super::exception::OrFetch;
use super::facade::Borrowed;
use super::ffi::{PyMethodDef, PyPtr, METH_NOARGS, METH_O};
use super::{PyRef, Python};
use crate::error::Result;

/// `_pyrt.route_signal(signum)`: called by pyrt's wrapper of `_signal.signal` after Python
/// installed a handler, so the signal reaches Python's main thread (crate::signals).
unsafe extern "C" fn route_signal(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: CPython calls a METH_O function with the GIL held and `arg` a live object it keeps
    // alive for the call: the body's contract, passed through.
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { route_signal_body(_module, arg) })
}

/// # Safety
/// CPython's METH_O contract: the GIL is held and `arg` is a live object for the call.
unsafe fn route_signal_body(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: the GIL is held and `arg` is live for the call (this function's contract).
    let Some((py, arg)) = (unsafe { meth_o_args(arg) }) else { return ptr::null_mut() };
    // `__index__` may run Python code; the caller's reference keeps `arg` alive meanwhile.
    let Ok(sig) = py.as_c_long(&arg) else { return ptr::null_mut() };
    crate::signals::route_to_main_thread(sig as c_int);
    py.none_ref().into_ptr()
}

/// The token and the argument of a METH_O function; `None` if CPython passed NULL (it does not).
///
/// # Safety
/// CPython's METH_O contract: the GIL is held for the call and `arg` is a live object for it.
unsafe fn meth_o_args<'a>(arg: PyPtr) -> Option<(Python<'a>, Borrowed<'a>)> {
    // SAFETY: the GIL is held for the call (contract), which the caller's `'a` does not outlive.
    let py = unsafe { super::gil::assume_gil(super::api()) };
    // SAFETY: CPython keeps `arg` alive for the call (contract).
    Some((py, unsafe { Borrowed::from_ptr(arg) }?))
}

/// The host's disposition of each signal that Python took over from a handler it did not
/// install (what `signal.getsignal()` reports as None), saved so `signal.signal(sig, None)` can
/// give the signal back (pyrt's `_signal.signal` wrapper, `exec::route_python_signals`).
static HOST_ACTIONS: Mutex<[Option<crate::signals::Disposition>; 65]> = Mutex::new([None; 65]);

/// `arg` as a signal number (None, with no error set, if it is not one).
fn signum(py: Python, arg: &PyRef) -> Option<usize> {
    let Ok(sig) = py.as_c_long(arg) else {
        py.clear_error();
        return None;
    };
    (sig > 0 && (sig as usize) < 65).then_some(sig as usize)
}

/// `_pyrt.save_host_handler(signum)`: records the current OS disposition of `signum` (a handler
/// the host installed) unless one is already saved. Returns None.
unsafe extern "C" fn save_host_handler(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: a METH_O function: CPython calls it with the GIL held and `arg` live for the call,
    // the body's contract.
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { save_host_handler_body(_module, arg) })
}

/// # Safety
/// CPython's METH_O contract: the GIL is held and `arg` is a live object for the call.
unsafe fn save_host_handler_body(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: the GIL is held and `arg` is live for the call (this function's contract).
    let Some((py, arg)) = (unsafe { meth_o_args(arg) }) else { return ptr::null_mut() };
    if let Some(sig) = signum(py, &arg) {
        let mut saved = HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner());
        if saved[sig].is_none() {
            saved[sig] = Some(crate::signals::action(sig as c_int));
        }
    }
    py.none_ref().into_ptr()
}

/// `_pyrt.restore_host_handler(signum)`: puts back the disposition saved for `signum`; True if
/// there was one.
unsafe extern "C" fn restore_host_handler(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: a METH_O function: CPython calls it with the GIL held and `arg` live for the call,
    // the body's contract.
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { restore_host_handler_body(_module, arg) })
}

/// # Safety
/// CPython's METH_O contract: the GIL is held and `arg` is a live object for the call.
unsafe fn restore_host_handler_body(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: the GIL is held and `arg` is live for the call (this function's contract).
    let Some((py, arg)) = (unsafe { meth_o_args(arg) }) else { return ptr::null_mut() };
    let saved = signum(py, &arg).and_then(|sig| HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner())[sig].map(|a| (sig, a)));
    if let Some((sig, a)) = saved {
        crate::signals::restore_action(sig as c_int, &a);
    }
    py.bool_ref(saved.is_some()).into_ptr()
}

/// `_pyrt.has_host_handler(signum)`: True if a host disposition was saved for `signum`.
unsafe extern "C" fn has_host_handler(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: a METH_O function: CPython calls it with the GIL held and `arg` live for the call,
    // the body's contract.
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { has_host_handler_body(_module, arg) })
}

/// # Safety
/// CPython's METH_O contract: the GIL is held and `arg` is a live object for the call.
unsafe fn has_host_handler_body(_module: PyPtr, arg: PyPtr) -> PyPtr {
    // SAFETY: the GIL is held and `arg` is live for the call (this function's contract).
    let Some((py, arg)) = (unsafe { meth_o_args(arg) }) else { return ptr::null_mut() };
    let has = signum(py, &arg).is_some_and(|sig| HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner())[sig].is_some());
    py.bool_ref(has).into_ptr()
}

static SAVE_HOST_HANDLER: PyMethodDef = PyMethodDef {
    ml_name: c"save_host_handler".as_ptr(),
    ml_meth: save_host_handler as *const std::ffi::c_void,
    ml_flags: METH_O,
    ml_doc: c"Save the host's disposition of a signal before Python replaces it.".as_ptr(),
};

static RESTORE_HOST_HANDLER: PyMethodDef = PyMethodDef {
    ml_name: c"restore_host_handler".as_ptr(),
    ml_meth: restore_host_handler as *const std::ffi::c_void,
    ml_flags: METH_O,
    ml_doc: c"Give a signal back to the host's saved disposition; True if one was saved.".as_ptr(),
};

static HAS_HOST_HANDLER: PyMethodDef = PyMethodDef {
    ml_name: c"has_host_handler".as_ptr(),
    ml_meth: has_host_handler as *const std::ffi::c_void,
    ml_flags: METH_O,
    ml_doc: c"True if the host's disposition of a signal was saved.".as_ptr(),
};

static ROUTE_SIGNAL: PyMethodDef = PyMethodDef {
    ml_name: c"route_signal".as_ptr(),
    ml_meth: route_signal as *const std::ffi::c_void,
    ml_flags: METH_O,
    ml_doc: c"Route a signal whose handler Python just installed to Python's main thread.".as_ptr(),
};

/// `_pyrt.host_thread()`: True on a host thread inside a pyrt call (one whose Python thread
/// state pyrt created), for the `threading._DummyThread` default below.
unsafe extern "C" fn host_thread(_module: PyPtr, _arg: PyPtr) -> PyPtr {
    // SAFETY: a METH_NOARGS function: CPython calls it with the GIL held, the body's contract (it
    // reads neither argument).
    super::boundary::guard(super::boundary::Site::ModuleFunction, ptr::null_mut(), || unsafe { host_thread_body(_module, _arg) })
}

/// # Safety
/// CPython's METH_NOARGS contract: the GIL is held.
unsafe fn host_thread_body(_module: PyPtr, _arg: PyPtr) -> PyPtr {
    // SAFETY: the GIL is held for the call (this function's contract).
    let py = unsafe { super::gil::assume_gil(super::api()) };
    py.bool_ref(super::gil::is_host_thread()).into_ptr()
}

static HOST_THREAD: PyMethodDef = PyMethodDef {
    ml_name: c"host_thread".as_ptr(),
    ml_meth: host_thread as *const std::ffi::c_void,
    ml_flags: METH_NOARGS,
    ml_doc: c"True on a host thread running a pyrt call.".as_ptr(),
};

/// A host thread is a "dummy" thread to CPython, and a dummy is a daemon, so every
/// threading.Thread started from one would default to daemon (standalone Python: non-daemon)
/// and pyrt_free would not wait for it. `_DummyThread` objects made for pyrt's
/// host threads are therefore marked non-daemon — when Python makes one (current_thread() on
/// that thread), not eagerly on every new host thread, which would cost a Thread object per
/// thread (~2/3 of a fresh thread's first call). Dummies of other foreign threads (made by C
/// extensions) keep CPython's default.
const DUMMY_PATCH: &std::ffi::CStr = cr#"def _install():
    import threading, _pyrt
    cls = threading._DummyThread
    original = cls.__init__
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if _pyrt.host_thread():
            self._daemonic = False
    for attr in ('__name__', '__qualname__', '__doc__'):
        setattr(__init__, attr, getattr(original, attr))
    cls.__init__ = __init__
_install()
"#;

/// Creates `_pyrt` in `sys.modules`. Called once, on the main thread, after initialization.
pub fn install(py: Python) -> Result<()> {
    let module = py.new_module(c"_pyrt").or_fetch(py)?;
    py.declare_no_gil(&module);
    for def in [&ROUTE_SIGNAL, &SAVE_HOST_HANDLER, &RESTORE_HOST_HANDLER, &HAS_HOST_HANDLER, &HOST_THREAD] {
        // SAFETY: each definition is a static above whose `ml_meth` is the `extern "C"` function
        // of the signature its flags name (METH_O and METH_NOARGS: `(self, arg)`), with static
        // C-string name and doc.
        unsafe { py.add_function(&module, def) }.or_fetch(py)?;
    }
    super::host::install_error_type(py, &module)?;
    py.dict_set_str(&py.sys_modules(), c"_pyrt", &module).or_fetch(py)?;
    if super::interp::current() == 0 {
        super::exec::run_private(py, DUMMY_PATCH, c"<pyrt threads>")?;
    }
    Ok(())
}
