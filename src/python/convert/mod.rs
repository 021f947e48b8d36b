//! JSON text <-> Python objects, directly (no Python `json` module, no intermediate tree).
//!
//! Safety: everything here runs under a [`Python`] token (the GIL is held, or the thread is
//! attached on a free-threaded build). The `PyPtr` a [`Writer`] method takes is a live object
//! for the whole call: the top-level value is held by the caller, and each nested value is
//! either owned while it is written (list items, dict pairs, iterator items: encoding may run
//! Python code that changes the container) or an item of a tuple, which cannot change and
//! holds its items for as long as the caller holds the tuple.

mod args;
mod items;
mod read;
mod tags;
mod write;

pub use args::{result_double, result_int, ArgList, ArgVec};
pub(crate) use items::{list_item, DictItems};
pub use read::{args_from_json_mode, from_json_mode, scalars_into, Scalars};
pub(crate) use write::Writer;
pub use write::{to_json_cstring, to_json_cstring_mode, to_json_mode, with_json, with_json_mode};

use super::ffi::PyPtr;
use super::Python;

/// How values cross the boundary (docs/values.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueMode {
    /// The tagged encoding, in both directions: `{"__pyrt__": kind, "v": ...}` carries bytes,
    /// tuples, sets, non-str-keyed dicts, non-finite floats, complex, datetimes, Decimal and
    /// object handles.
    pub tagged: bool,
    /// Outputs: a value with no encoding becomes an object handle of this runtime (instead of a
    /// conversion error).
    pub handles_for: Option<u64>,
}

/// Plain JSON only (the `pyrt_call_json` contract).
pub const PLAIN: ValueMode = ValueMode { tagged: false, handles_for: None };

/// The tag key. A dict that has this key among its keys is always written in the general
/// `{"__pyrt__": "dict", "v": [[k, v], ...]}` form, so ordinary data can never read as a tag.
pub const TAG: &str = "__pyrt__";

/// Decimal digits every CPython converts without hitting its int/str limit (4300 by default).
const SAFE_INT_DIGITS: usize = 4000;

/// Runs `f` with CPython's int <-> decimal string digit limit lifted (`sys.set_int_max_str_digits`,
/// CVE-2020-10735; 3.11+ and the 3.8-3.10 security releases), then restores it. JSON integers are
/// exact at any size, and the limit guards `int(str)` in user code, which keeps it: no Python code
/// runs while the limit is lifted (the GIL is held throughout). Without the function (older
/// patch releases have no limit) `f` just runs. A pending error from `f` survives the restore.
pub(crate) fn without_int_digit_limit(py: Python, f: impl FnOnce() -> PyPtr) -> PyPtr {
    let api = py.api;
    // SAFETY: the `Python` token proves the GIL is held. `get`/`set` are borrowed from the sys
    // module's dict and used before any Python code other than their own calls runs (neither
    // replaces itself in `sys`); every new reference made here is released on each path; the
    // error saved around the restore is restored unchanged (PyErr_Fetch/Restore pair).
    unsafe {
        // Borrowed references into the sys module's dict.
        let get = (api.PySys_GetObject)(c"get_int_max_str_digits".as_ptr());
        let set = (api.PySys_GetObject)(c"set_int_max_str_digits".as_ptr());
        if get.is_null() || set.is_null() {
            return f();
        }
        let old = (api.PyObject_CallObject)(get, std::ptr::null_mut());
        if old.is_null() {
            (api.PyErr_Clear)();
            return f();
        }
        let set_to = |value: PyPtr| {
            let args = (api.PyTuple_New)(1);
            if args.is_null() {
                return false;
            }
            (api.Py_IncRef)(value);
            (api.PyTuple_SetItem)(args, 0, value);
            let r = (api.PyObject_CallObject)(set, args);
            (api.Py_DecRef)(args);
            (api.Py_DecRef)(r);
            !r.is_null()
        };
        let zero = (api.PyLong_FromLongLong)(0);
        let lifted = !zero.is_null() && set_to(zero);
        (api.Py_DecRef)(zero);
        if !lifted {
            (api.PyErr_Clear)();
            (api.Py_DecRef)(old);
            return f();
        }
        let result = f();
        let (mut t, mut v, mut tb) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        (api.PyErr_Fetch)(&mut t, &mut v, &mut tb);
        if !set_to(old) {
            (api.PyErr_Clear)();
        }
        (api.PyErr_Restore)(t, v, tb);
        (api.Py_DecRef)(old);
        result
    }
}
