//! Turning the current Python exception into a pyrt [`Error`], never printing it and never letting
//! `SystemExit` end the process (docs/guarantees.md §2).

use std::ffi::CStr;
use std::ptr;

use super::ffi::PyPtr;
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, PythonException};

/// `str(o)` as a Rust string; `None` (with the Python error cleared) if that fails.
pub fn str_of(py: Python, o: PyPtr) -> Option<String> {
    // SAFETY: the `py` token proves the GIL is held; `o` is a live object the caller holds a
    // reference to (this function's contract). `PyObject_Str` returns a new reference (owned by
    // the `PyRef`) or NULL with an error set, which `PyErr_Clear` drops.
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
    // SAFETY: the `py` token proves the GIL is held; `s` is a live object the caller holds a
    // reference to (this function's contract). On success `PyUnicode_AsUTF8AndSize` returns the
    // str's cached UTF-8 buffer, `len` (>= 0) bytes long and owned by the object, which the
    // caller's reference keeps alive while it is copied here (no Python code runs meanwhile); on
    // failure (not a str, unencodable) it returns NULL with an error set, cleared here.
    unsafe {
        let mut len = 0isize;
        let p = (py.api.PyUnicode_AsUTF8AndSize)(s, &mut len);
        if p.is_null() {
            (py.api.PyErr_Clear)();
            return None;
        }
        Some(String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len as usize)).into_owned())
    }
}

fn attr_text(py: Python, o: PyPtr, name: &CStr) -> Option<String> {
    // SAFETY: the `py` token proves the GIL is held; `o` is a live object of the caller's and
    // `name` a NUL-terminated string. The attribute comes back as a new reference (owned by the
    // `PyRef`) or NULL with an error set, which is cleared.
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
    // SAFETY: the `py` token proves the GIL is held. `PyErr_GetRaisedException` (3.12+) and
    // `PyErr_Fetch` hand over the pending exception as new references (or NULL), clearing it;
    // the three out-pointers are live locals. `PyException_SetTraceback` does not steal; of the
    // three references `t` and `tb` are released here (`Py_DecRef` accepts NULL) and `v`'s is
    // moved into the returned `PyRef`.
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
    // SAFETY: `exc` is a live exception the caller owns a reference to; the `py` token proves
    // the GIL is held. The type is borrowed, kept alive by `exc`.
    let t = unsafe { super::ffi::py_type(exc) };
    let qualname = attr_text(py, t, c"__qualname__").unwrap_or_else(|| super::pyref::type_name(exc));
    match attr_text(py, t, c"__module__") {
        Some(m) if m != "builtins" && !m.is_empty() => format!("{m}.{qualname}"),
        _ => qualname,
    }
}

/// Imports what formatting an error needs, once, while the interpreter is being set up (one
/// thread). On a free-threaded 3.13, the first imports of a package made by several threads at
/// once can fail ("No module named 'collections.abc'"), and errors are formatted on whatever
/// thread raised them; with the GIL the import is just done early.
pub fn preload(py: Python) -> crate::error::Result<()> {
    // SAFETY: the `py` token proves the GIL is held (or the thread attached); the name is a
    // NUL-terminated C string; the new module reference is owned and released by `PyRef`.
    let module = unsafe { PyRef::from_owned((py.api.PyImport_ImportModule)(c"traceback".as_ptr())) };
    module.map(drop).ok_or_else(|| fetch(py))
}

/// `''.join(traceback.format_exception(type(e), e, e.__traceback__))`, or `None` if formatting
/// itself fails.
fn format_traceback(py: Python, exc: PyPtr) -> Option<String> {
    // SAFETY: the `py` token proves the GIL is held and `exc` is a live exception of the
    // caller's. Every new reference is owned by a `PyRef` (NULL returns end early, leaving the
    // error for `fetch` to clear). `PyTuple_SetItem` steals a reference, so each item is increfed
    // first: the type (borrowed from `exc`), `exc` and `tb` are live. The items of `lines` are
    // borrowed (`PyList_GetItem`, index below its size) and copied by `utf8_of` while `lines`,
    // a list only this thread knows, keeps them alive.
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
    // SAFETY: the `py` token proves the GIL is held (and Python is initialized); `e` is kept alive
    // by `exc`; `var` is always one of the `PyExc_*` fields, as `Api::exception` requires.
    let is = |var: PyPtr| unsafe { (api.PyErr_GivenExceptionMatches)(e, api.exception(var)) != 0 };
    let type_name = qualified_type_name(py, e);
    let traceback = format_traceback(py, e);
    // SAFETY: the GIL is held (`py`); clears whatever the formatting above left pending.
    unsafe { (api.PyErr_Clear)() };

    let (kind, message) = if is(api.PyExc_SystemExit) {
        (ErrorKind::SystemExit, system_exit_message(py, e))
    } else if is(api.PyExc_KeyboardInterrupt) {
        (ErrorKind::KeyboardInterrupt, str_of(py, e).unwrap_or_default())
    } else {
        (ErrorKind::Python, str_of(py, e).unwrap_or_else(|| "<exception str() failed>".into()))
    };
    let exception = Some(crate::error::ExceptionRef(std::sync::Arc::new(super::handles::Held::new(exc))));
    crate::error::ErrorDetail { kind, message, python: Some(PythonException { type_name, traceback }), output: None, exception }.into()
}

/// SystemExit's exit status as the interpreter would compute it: `None` → 0, an int → itself,
/// anything else → printed, status 1.
fn system_exit_message(py: Python, e: PyPtr) -> String {
    // SAFETY: the `py` token proves the GIL is held; `e` is a live exception of the caller's.
    // `code` is a new reference owned by a `PyRef` and stays alive for every use of `c` and of
    // its (borrowed) type `t`; `overflow` is a live local; errors are cleared before returning.
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
