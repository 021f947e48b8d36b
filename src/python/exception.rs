//! Turning the current Python exception into a pyrt [`Error`], never printing it and never letting
//! `SystemExit` end the process (docs/guarantees.md §2).

use std::ffi::CStr;
use std::ptr;

use super::ffi::PyPtr;
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, PythonException};

/// `str(o)` as a Rust string; `None` (with the Python error cleared) if that fails.
pub fn str_of(py: Python, o: PyPtr) -> Option<String> {
    unsafe {
        let s = PyRef::from_owned((py.api.PyObject_Str)(o));
        let s = match s {
            Some(s) => s,
            None => {
                (py.api.PyErr_Clear)();
                return None;
            }
        };
        utf8_of(py, s.as_ptr())
    }
}

/// The UTF-8 text of a `str` object (copied); `None` with the error cleared if it has none.
pub fn utf8_of(py: Python, s: PyPtr) -> Option<String> {
    unsafe {
        let mut len = 0isize;
        let p = (py.api.PyUnicode_AsUTF8AndSize)(s, &mut len);
        if p.is_null() {
            (py.api.PyErr_Clear)();
            return None;
        }
        Some(String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len as usize)).into_owned())
    }
}

fn attr_text(py: Python, o: PyPtr, name: &CStr) -> Option<String> {
    unsafe {
        let a = PyRef::from_owned((py.api.PyObject_GetAttrString)(o, name.as_ptr()));
        match a {
            Some(a) => utf8_of(py, a.as_ptr()),
            None => {
                (py.api.PyErr_Clear)();
                None
            }
        }
    }
}

/// Takes the raised exception out of the interpreter (normalized, traceback attached).
fn take_exception(py: Python) -> Option<PyRef> {
    unsafe {
        if let Some(get) = py.api.PyErr_GetRaisedException {
            return PyRef::from_owned(get());
        }
        let (mut t, mut v, mut tb): (PyPtr, PyPtr, PyPtr) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        (py.api.PyErr_Fetch)(&mut t, &mut v, &mut tb);
        if t.is_null() {
            return None;
        }
        (py.api.PyErr_NormalizeException)(&mut t, &mut v, &mut tb);
        if !tb.is_null() && !v.is_null() {
            (py.api.PyException_SetTraceback)(v, tb);
        }
        (py.api.Py_DecRef)(t);
        (py.api.Py_DecRef)(tb);
        PyRef::from_owned(v)
    }
}

/// `module.QualName` of an exception's type; builtins are unqualified (`ZeroDivisionError`).
fn qualified_type_name(py: Python, exc: PyPtr) -> String {
    let t = unsafe { super::ffi::py_type(exc) };
    let qualname = attr_text(py, t, c"__qualname__").unwrap_or_else(|| super::object::type_name(exc));
    match attr_text(py, t, c"__module__") {
        Some(m) if m != "builtins" && !m.is_empty() => format!("{m}.{qualname}"),
        _ => qualname,
    }
}

/// `''.join(traceback.format_exception(type(e), e, e.__traceback__))`, or `None` if formatting
/// itself fails.
fn format_traceback(py: Python, exc: PyPtr) -> Option<String> {
    unsafe {
        let api = py.api;
        let tb = PyRef::from_owned((api.PyObject_GetAttrString)(exc, c"__traceback__".as_ptr()))?;
        if tb.as_ptr() == api.none() {
            return None;
        }
        let module = PyRef::from_owned((api.PyImport_ImportModule)(c"traceback".as_ptr()))?;
        let format = PyRef::from_owned((api.PyObject_GetAttrString)(module.as_ptr(), c"format_exception".as_ptr()))?;
        let args = PyRef::from_owned((api.PyTuple_New)(3))?;
        for (i, o) in [super::ffi::py_type(exc), exc, tb.as_ptr()].into_iter().enumerate() {
            (api.Py_IncRef)(o);
            (api.PyTuple_SetItem)(args.as_ptr(), i as isize, o);
        }
        let lines = PyRef::from_owned((api.PyObject_CallObject)(format.as_ptr(), args.as_ptr()))?;
        let n = (api.PyList_Size)(lines.as_ptr());
        let mut out = String::new();
        for i in 0..n {
            out.push_str(&utf8_of(py, (api.PyList_GetItem)(lines.as_ptr(), i))?);
        }
        Some(out)
    }
}

/// Converts the pending Python exception into an [`Error`] and clears it.
pub fn fetch(py: Python) -> Error {
    let exc = match take_exception(py) {
        Some(e) => e,
        None => return Error::new(ErrorKind::Internal, "a CPython call failed without setting an exception"),
    };
    let api = py.api;
    let e = exc.as_ptr();
    let is = |var: PyPtr| unsafe { (api.PyErr_GivenExceptionMatches)(e, api.exception(var)) != 0 };
    let type_name = qualified_type_name(py, e);
    let traceback = format_traceback(py, e);
    unsafe { (api.PyErr_Clear)() };

    let (kind, message) = if is(api.PyExc_SystemExit) {
        (ErrorKind::SystemExit, system_exit_message(py, e))
    } else if is(api.PyExc_KeyboardInterrupt) {
        (ErrorKind::KeyboardInterrupt, str_of(py, e).unwrap_or_default())
    } else {
        (ErrorKind::Python, str_of(py, e).unwrap_or_else(|| "<exception str() failed>".into()))
    };
    let exception = Some(crate::error::ExceptionRef(std::sync::Arc::new(super::objects::Held::new(exc))));
    crate::error::ErrorDetail { kind, message, python: Some(PythonException { type_name, traceback }), output: None, exception }.into()
}

/// SystemExit's exit status as the interpreter would compute it: `None` → 0, an int → itself,
/// anything else → printed, status 1.
fn system_exit_message(py: Python, e: PyPtr) -> String {
    unsafe {
        let api = py.api;
        let code = match PyRef::from_owned((api.PyObject_GetAttrString)(e, c"code".as_ptr())) {
            Some(c) => c,
            None => {
                (api.PyErr_Clear)();
                return "exit code 1".into();
            }
        };
        let c = code.as_ptr();
        if c == api.none() {
            return "exit code 0".into();
        }
        let t = super::ffi::py_type(c);
        if (api.PyType_GetFlags)(t) & super::ffi::TPFLAGS_LONG_SUBCLASS != 0 && t != api.PyBool_Type {
            let mut overflow = 0;
            let v = (api.PyLong_AsLongLongAndOverflow)(c, &mut overflow);
            let failed = v == -1 && !(api.PyErr_Occurred)().is_null();
            if overflow == 0 && !failed {
                return format!("exit code {v}");
            }
            (api.PyErr_Clear)();
        }
        let text = str_of(py, c).unwrap_or_default();
        format!("{text} (exit code 1)")
    }
}
