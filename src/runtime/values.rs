//! The value encodings (docs/values.md): their flags, call arguments, and what a call returns.

use crate::ctext::CText;
use crate::error::{Error, Result};
use crate::python::convert::ValueMode;
use crate::python::{self, convert, handles, PyRef};

/// `PYRT_VALUE_*` flags: the tagged encoding; handles for values without an encoding.
pub const VALUE_TAGGED: u32 = 1;
pub const VALUE_HANDLES: u32 = 2;
pub(super) fn mode(flags: u32, runtime: u64) -> Result<ValueMode> {
    if flags & !(VALUE_TAGGED | VALUE_HANDLES) != 0 {
        return Err(Error::invalid_argument(format!("unknown value flags {flags:#x}")));
    }
    Ok(ValueMode { tagged: flags & VALUE_TAGGED != 0, handles_for: (flags & VALUE_HANDLES != 0).then_some(runtime) })
}

pub(super) fn call_args(
    py: python::Python,
    args: Option<&str>,
    kwargs: Option<&str>,
    mode: ValueMode,
) -> Result<(convert::ArgList, Option<PyRef>)> {
    let args = match args {
        None => convert::ArgList::new(),
        Some(text) => convert::args_from_json_mode(py, text, mode)?,
    };
    let kwargs = match kwargs {
        None => None,
        Some(text) => {
            let dict = convert::from_json_mode(py, text, mode)?;
            // SAFETY: `dict` owns a reference to a live object; the `py` token proves the GIL is held.
            if unsafe { python::ffi::py_type(dict.as_ptr()) } != py.api.PyDict_Type {
                return Err(Error::invalid_argument("kwargs_json must be a JSON object"));
            }
            Some(dict)
        }
    };
    Ok((args, kwargs))
}

/// What a call returns to the host: a JSON text or a new object handle.
pub enum Returned {
    Json(CText),
    Object(u64),
}

pub(super) fn give(py: python::Python, value: PyRef, runtime: u64, as_object: bool, mode: ValueMode) -> Result<Returned> {
    if as_object {
        handles::register(value, runtime).map(Returned::Object)
    } else {
        convert::to_json_cstring_mode(py, &value, mode).map(Returned::Json)
    }
}
