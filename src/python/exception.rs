//! Turning the current Python exception into a pyrt [`Error`], never printing it and never letting
//! `SystemExit` end the process (docs/guarantees.md §2).

use std::ffi::CStr;

use super::facade::{Exc, PyErrPending, PyResult};
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, PythonException};

/// Turns a facade call's pending exception into a pyrt [`Error`].
pub(crate) trait OrFetch<T> {
    fn or_fetch(self, py: Python) -> crate::error::Result<T>;
}

impl<T> OrFetch<T> for PyResult<T> {
    #[inline]
    fn or_fetch(self, py: Python) -> crate::error::Result<T> {
        self.map_err(|PyErrPending| fetch(py))
    }
}

/// The text of attribute `name` of `o` (a str); `None`, errors cleared, if there is none.
fn attr_text(py: Python, o: &PyRef, name: &CStr) -> Option<String> {
    match py.getattr_str(o, name) {
        Ok(a) => py.str_to_string(&a),
        Err(PyErrPending) => {
            py.clear_error();
            None
        }
    }
}

/// `module.QualName` of an exception's type; builtins are unqualified (`ZeroDivisionError`).
fn qualified_type_name(py: Python, exc: &PyRef) -> String {
    let t = py.type_of(exc);
    let qualname = attr_text(py, &t, c"__qualname__").unwrap_or_else(|| py.type_name(exc));
    match attr_text(py, &t, c"__module__") {
        Some(m) if m != "builtins" && !m.is_empty() => format!("{m}.{qualname}"),
        _ => qualname,
    }
}

/// Imports what formatting an error needs, once, while the interpreter is being set up (one
/// thread). On a free-threaded 3.13, the first imports of a package made by several threads at
/// once can fail ("No module named 'collections.abc'"), and errors are formatted on whatever
/// thread raised them; with the GIL the import is just done early.
pub fn preload(py: Python) -> crate::error::Result<()> {
    py.import(c"traceback").map(drop).or_fetch(py)
}

/// `''.join(traceback.format_exception(type(e), e, e.__traceback__))`, or `None` if formatting
/// itself fails (the error is left for `fetch` to clear).
fn format_traceback(py: Python, exc: &PyRef) -> Option<String> {
    let tb = py.getattr_str(exc, c"__traceback__").ok()?;
    if py.is_none(&tb) {
        return None;
    }
    let module = py.import(c"traceback").ok()?;
    let format = py.getattr_str(&module, c"format_exception").ok()?;
    let args = py.new_tuple([py.type_of(exc), exc.clone_ref(py), tb]).ok()?;
    let lines = py.call_tuple(&format, &args, None).ok()?;
    let mut out = String::new();
    let mut i = 0;
    while let Some(line) = py.list_get(&lines, i) {
        out.push_str(&py.str_to_string(&line)?);
        i += 1;
    }
    Some(out)
}

/// Converts the pending Python exception into an [`Error`] and clears it.
pub fn fetch(py: Python) -> Error {
    let Some(exc) = py.take_exception() else {
        return Error::new(ErrorKind::Internal, "a CPython call failed without setting an exception");
    };
    let type_name = qualified_type_name(py, &exc);
    let traceback = format_traceback(py, &exc);
    // Whatever the formatting above left pending.
    py.clear_error();

    let (kind, message) = if py.exception_is(&exc, Exc::SystemExit) {
        (ErrorKind::SystemExit, system_exit_message(py, &exc))
    } else if py.exception_is(&exc, Exc::KeyboardInterrupt) {
        (ErrorKind::KeyboardInterrupt, py.str_of(&exc).unwrap_or_default())
    } else {
        (ErrorKind::Python, py.str_of(&exc).unwrap_or_else(|| "<exception str() failed>".into()))
    };
    let exception = Some(crate::error::ExceptionRef(std::sync::Arc::new(super::handles::Held::new(exc))));
    crate::error::ErrorDetail { kind, message, python: Some(PythonException { type_name, traceback }), output: None, exception }.into()
}

/// SystemExit's exit status as the interpreter would compute it: `None` → 0, an int → itself,
/// anything else → printed, status 1.
fn system_exit_message(py: Python, e: &PyRef) -> String {
    let Ok(code) = py.getattr_str(e, c"code") else {
        py.clear_error();
        return "exit code 1".into();
    };
    if py.is_none(&code) {
        return "exit code 0".into();
    }
    if py.type_flags(&code) & super::ffi::TPFLAGS_LONG_SUBCLASS != 0 && py.type_ptr(&code) != py.api.PyBool_Type {
        match py.as_i64(&code) {
            Ok(Some(v)) => return format!("exit code {v}"),
            Ok(None) => {}
            Err(PyErrPending) => py.clear_error(),
        }
    }
    let text = py.str_of(&code).unwrap_or_default();
    format!("{text} (exit code 1)")
}
