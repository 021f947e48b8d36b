//! JSON text <-> Python objects, directly (no Python `json` module, no intermediate tree).
//!
//! Every CPython call goes through the safe facade on the [`Python`] token. Each value being
//! written is either owned while it is written (list items, dict pairs, iterator items: encoding
//! may run Python code that changes the container) or an item of a tuple, borrowed from it
//! (`facade::Borrowed`): a tuple cannot change and holds its items for as long as the caller
//! holds the tuple.

mod args;
mod read;
mod tags;
mod write;

pub use args::{result_double, result_int, ArgList, ArgVec};
pub use read::{args_from_json_mode, from_json_mode, scalars_into, Scalars};
pub use tags::first_object_handle;
pub(crate) use write::Writer;
pub use write::{to_json_cstring, to_json_cstring_mode, to_json_mode, with_json, with_json_mode};

use super::facade::PyResult;
use super::{PyRef, Python};

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
pub(crate) fn without_int_digit_limit(py: Python, f: impl FnOnce() -> PyResult<PyRef>) -> PyResult<PyRef> {
    let (Some(get), Some(set)) = (py.sys_attr(c"get_int_max_str_digits"), py.sys_attr(c"set_int_max_str_digits")) else {
        return f();
    };
    let Ok(old) = py.call0(&get) else {
        py.clear_error();
        return f();
    };
    let set_to = |value: PyRef| py.new_tuple([value]).and_then(|args| py.call_tuple(&set, &args, None)).is_ok();
    if !py.new_int(0).is_ok_and(set_to) {
        py.clear_error();
        return f();
    }
    let result = f();
    let saved = py.save_error();
    if !set_to(old) {
        py.clear_error();
    }
    py.restore_error(saved);
    result
}
