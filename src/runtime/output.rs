//! Output: what capturing handles collected, and the process's output handler.

use super::guard::{enter, enter_interpreter};
use crate::error::{Error, Result};
use crate::python::capture;

/// The stream numbers (`PYRT_STDOUT`, `PYRT_STDERR`).
pub(crate) use crate::python::capture::{STDERR, STDOUT};

/// Takes a capturing handle's accumulated output of one stream.
pub fn output_take(token: u64, stream: u32) -> Result<String> {
    let guard = enter(token)?;
    let handle = guard.handle_state()?;
    let index = match stream {
        capture::STDOUT => 0,
        capture::STDERR => 1,
        _ => return Err(Error::invalid_argument(format!("stream must be PYRT_STDOUT (1) or PYRT_STDERR (2), not {stream}"))),
    };
    let text = std::mem::take(&mut handle.output.lock().unwrap_or_else(|p| p.into_inner())[index]);
    Ok(text)
}

/// Sets the process's output handler (see `pyrt_set_output_handler`).
pub fn set_output_handler(token: u64, handler: Option<(capture::OutputFn, *mut std::ffi::c_void)>) -> Result<()> {
    drop(enter(token)?);
    let handler = handler.map(|(f, u)| (f, u as usize));
    let guard = enter_interpreter()?;
    guard.with_gil(move |py| capture::set_handler(py, handler.map(|(f, u)| (f, u as *mut std::ffi::c_void))))
}
