//! Object buffers read in place (`pyrt_object_buffer*`, `pyrt_buffer_*`).

use super::guard::{enter_interpreter, enter_object};
use crate::error::Result;
use crate::python::{self, handles};

/// A held view of an object's buffer (`pyrt_buffer`): plain fields, readable without the GIL.
pub(crate) use crate::python::buffer::Export as BufferExport;

/// The struct-module format and item size of a `PYRT_BUFFER_*` element type; `None` if unknown.
pub fn buffer_elem_info(elem: u32) -> Option<(&'static std::ffi::CStr, usize)> {
    python::buffer::elem_info(elem)
}

/// A view of an object's buffer (`pyrt_object_buffer`).
pub fn object_buffer(object: u64, writable: bool, contiguous: bool) -> Result<python::buffer::Export> {
    let (guard, _) = enter_object(object)?;
    // A held view is released from any thread through the main interpreter.
    guard.not_in_worker("a held buffer view (pyrt_object_buffer)")?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        python::buffer::Export::new(py, &o, writable, contiguous)
    })
}

/// Copies an object's whole buffer to `dst` in C order (`pyrt_object_buffer_copy`); returns
/// the size needed and whether the copy was made.
///
/// # Safety
/// `dst` is NULL or writable for `dst_len` bytes until this returns.
pub unsafe fn object_buffer_copy(object: u64, dst: *mut std::ffi::c_void, dst_len: usize) -> Result<(usize, Result<()>)> {
    let (guard, _) = enter_object(object)?;
    let dst = dst as usize;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let export = python::buffer::Export::new(py, &o, false, false)?;
        let needed = export.len();
        // SAFETY: `dst` is NULL or writable for `dst_len` bytes until this returns (the contract).
        let copied = unsafe { export.copy_to(py, dst as *mut std::ffi::c_void, dst_len) };
        export.release(py);
        Ok((needed, copied))
    })
}

/// Copies a held buffer view to `dst` in C order (`pyrt_buffer_copy`).
///
/// # Safety
/// `dst` is NULL or writable for `dst_len` bytes until this returns.
pub unsafe fn buffer_copy(b: &python::buffer::Export, dst: *mut std::ffi::c_void, dst_len: usize) -> Result<()> {
    let guard = enter_interpreter()?;
    let dst = dst as usize;
    // SAFETY: `dst` is NULL or writable for `dst_len` bytes until this returns (the contract).
    guard.with_gil(|py| unsafe { b.copy_to(py, dst as *mut std::ffi::c_void, dst_len) })
}

/// Releases a held buffer view; from any thread, without the GIL, never blocking on Python.
pub fn buffer_free(view: BufferExport) {
    view.release_later();
}
