//! `_pyrt`: a small built-in module pyrt adds to the interpreter for its own Python-side glue
//! (signal routing; later host callbacks and output capture). Its functions are C functions
//! CPython calls — `extern "C"` by necessity, but not part of pyrt's exported C ABI.

use std::ffi::c_int;
use std::ptr;

use super::ffi::{PyMethodDef, PyPtr, METH_O};
use super::{exception, Python};
use crate::error::Result;

/// `_pyrt.route_signal(signum)`: called by pyrt's wrapper of `_signal.signal` after Python
/// installed a handler, so the signal reaches Python's main thread (crate::signals).
unsafe extern "C" fn route_signal(_module: PyPtr, arg: PyPtr) -> PyPtr {
    let api = super::api();
    let sig = (api.PyLong_AsLong)(arg);
    if sig == -1 && !(api.PyErr_Occurred)().is_null() {
        return ptr::null_mut();
    }
    crate::signals::route_to_main_thread(sig as c_int);
    (api.Py_IncRef)(api.none());
    api.none()
}

static ROUTE_SIGNAL: PyMethodDef = PyMethodDef {
    ml_name: c"route_signal".as_ptr(),
    ml_meth: route_signal as *const std::ffi::c_void,
    ml_flags: METH_O,
    ml_doc: c"Route a signal whose handler Python just installed to Python's main thread.".as_ptr(),
};

/// Creates `_pyrt` in `sys.modules`. Called once, on the main thread, after initialization.
pub fn install(py: Python) -> Result<()> {
    let api = py.api;
    unsafe {
        let module = super::PyRef::from_owned((api.PyModule_New)(c"_pyrt".as_ptr())).ok_or_else(|| exception::fetch(py))?;
        for def in [&ROUTE_SIGNAL] {
            let f = super::PyRef::from_owned((api.PyCFunction_NewEx)(def as *const PyMethodDef as *mut PyMethodDef, ptr::null_mut(), ptr::null_mut()))
                .ok_or_else(|| exception::fetch(py))?;
            if (api.PyObject_SetAttrString)(module.as_ptr(), def.ml_name, f.as_ptr()) != 0 {
                return Err(exception::fetch(py));
            }
        }
        super::host::install_error_type(py, module.as_ptr())?;
        if (api.PyDict_SetItemString)((api.PyImport_GetModuleDict)(), c"_pyrt".as_ptr(), module.as_ptr()) != 0 {
            return Err(exception::fetch(py));
        }
    }
    Ok(())
}
