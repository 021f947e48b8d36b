//! `_pyrt`: a small built-in module pyrt adds to the interpreter for its own Python-side glue
//! (signal routing; later host callbacks and output capture). Its functions are C functions
//! CPython calls — `extern "C"` by necessity, but not part of pyrt's exported C ABI.

use std::ffi::c_int;
use std::ptr;
use std::sync::Mutex;

use super::ffi::{PyMethodDef, PyPtr, METH_NOARGS, METH_O};
use super::{exception, Python};
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
    let api = super::api();
    // SAFETY: the GIL is held and `arg` is live (this function's contract; `__index__` may run
    // Python code, but the caller's reference keeps `arg` alive).
    let sig = unsafe { (api.PyLong_AsLong)(arg) };
    // SAFETY: the GIL is held.
    if sig == -1 && !unsafe { (api.PyErr_Occurred)() }.is_null() {
        return ptr::null_mut();
    }
    crate::signals::route_to_main_thread(sig as c_int);
    // SAFETY: the GIL is held; `None` is a static object, and the new reference is the one
    // returned to CPython.
    unsafe { (api.Py_IncRef)(api.none()) };
    api.none()
}

/// The host's disposition of each signal that Python took over from a handler it did not
/// install (what `signal.getsignal()` reports as None), saved so `signal.signal(sig, None)` can
/// give the signal back (pyrt's `_signal.signal` wrapper, `exec::route_python_signals`).
static HOST_ACTIONS: Mutex<[Option<crate::signals::Disposition>; 65]> = Mutex::new([None; 65]);

/// `arg` as a signal number (None, with no error set, if it is not one).
///
/// # Safety
/// The GIL is held and `arg` is a live object (the METH_O functions below pass their argument).
unsafe fn signum(api: &super::ffi::Api, arg: PyPtr) -> Option<usize> {
    // SAFETY: the GIL is held and `arg` is live (contract; `__index__` may run Python code, but the
    // caller's reference keeps `arg` alive); the error is then cleared under the same GIL.
    unsafe {
        let sig = (api.PyLong_AsLong)(arg);
        if sig == -1 && !(api.PyErr_Occurred)().is_null() {
            (api.PyErr_Clear)();
            return None;
        }
        (sig > 0 && (sig as usize) < 65).then_some(sig as usize)
    }
}

/// A new reference to True or False.
///
/// # Safety
/// The GIL is held.
unsafe fn py_bool(api: &super::ffi::Api, v: bool) -> PyPtr {
    // SAFETY: the GIL is held (contract); the call only takes a new reference to a static object.
    unsafe { (api.PyBool_FromLong)(v as std::ffi::c_long) }
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
    let api = super::api();
    // SAFETY: the GIL is held and `arg` is live (this function's contract).
    if let Some(sig) = unsafe { signum(api, arg) } {
        let mut saved = HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner());
        if saved[sig].is_none() {
            saved[sig] = Some(crate::signals::action(sig as c_int));
        }
    }
    // SAFETY: the GIL is held (contract); `None` is a static object, and the new reference is the
    // one returned to CPython.
    unsafe { (api.Py_IncRef)(api.none()) };
    api.none()
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
    let api = super::api();
    // SAFETY: the GIL is held and `arg` is live (this function's contract).
    let saved = unsafe { signum(api, arg) }.and_then(|sig| HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner())[sig].map(|a| (sig, a)));
    if let Some((sig, a)) = saved {
        crate::signals::restore_action(sig as c_int, &a);
    }
    // SAFETY: the GIL is held (contract).
    unsafe { py_bool(api, saved.is_some()) }
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
    let api = super::api();
    // SAFETY: the GIL is held and `arg` is live (this function's contract).
    let has = unsafe { signum(api, arg) }.is_some_and(|sig| HOST_ACTIONS.lock().unwrap_or_else(|p| p.into_inner())[sig].is_some());
    // SAFETY: the GIL is held (contract).
    unsafe { py_bool(api, has) }
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
    let api = super::api();
    let r = if super::gil::is_host_thread() { api._Py_TrueStruct } else { api._Py_FalseStruct };
    // SAFETY: the GIL is held (contract); `r` is a static object, and the new reference is the one
    // returned to CPython.
    unsafe { (api.Py_IncRef)(r) };
    r
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
    let api = py.api;
    // SAFETY: `py` proves the GIL is held. `module` and each `f` are strong references held across
    // the calls using them; `sys.modules` is borrowed from the interpreter, which holds it until
    // finalization. The method definitions are statics (they outlive every function object
    // pointing to them) that CPython only reads (the `*mut` is its prototype's); their names are
    // static C strings.
    unsafe {
        let module = super::PyRef::from_owned((api.PyModule_New)(c"_pyrt".as_ptr())).ok_or_else(|| exception::fetch(py))?;
        py.declare_no_gil(&module);
        for def in [&ROUTE_SIGNAL, &SAVE_HOST_HANDLER, &RESTORE_HOST_HANDLER, &HAS_HOST_HANDLER, &HOST_THREAD] {
            let f = super::PyRef::from_owned((api.PyCFunction_NewEx)(ptr::from_ref(def).cast_mut(), ptr::null_mut(), ptr::null_mut()))
                .ok_or_else(|| exception::fetch(py))?;
            if (api.PyObject_SetAttrString)(module.as_ptr(), def.ml_name, f.as_ptr()) != 0 {
                return Err(exception::fetch(py));
            }
        }
        super::host::install_error_type(py, &module)?;
        if (api.PyDict_SetItemString)((api.PyImport_GetModuleDict)(), c"_pyrt".as_ptr(), module.as_ptr()) != 0 {
            return Err(exception::fetch(py));
        }
    }
    if super::interp::current() == 0 {
        super::exec::run_private(py, DUMMY_PATCH, c"<pyrt threads>")?;
    }
    Ok(())
}
