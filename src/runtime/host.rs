//! Host functions as Python callables (`pyrt_register`).

use super::guard::enter;
use crate::error::Result;
use crate::python;

/// A host function's C signature, and the answer it fills in (`pyrt_host_fn`, `pyrt_reply`).
pub(crate) use crate::python::host::{HostFn, Reply};

/// Runs `f` on `reply` if it is the reply of a host function running on this thread; `None`
/// otherwise (a stale or foreign pointer is never dereferenced).
pub fn with_open_reply<R>(reply: *mut Reply, f: impl FnOnce(&mut Reply) -> R) -> Option<R> {
    python::host::with_open_reply(reply, f)
}

/// Registers a host function as `module.name` (see `pyrt_register`).
pub fn register_host(
    token: u64,
    module: &str,
    name: &str,
    f: python::host::HostFn,
    user_data: usize,
    destroy: Option<python::host::DestroyFn>,
) -> Result<()> {
    let guard = enter(token)?;
    let id = python::host::create(token, module, name, f, user_data as *mut std::ffi::c_void, destroy)?;
    match guard.with_gil_everywhere(|py| python::host::install(py, id)) {
        Ok(()) => {
            python::host::activate(id);
            Ok(())
        }
        Err(e) => {
            python::host::discard(id);
            Err(e)
        }
    }
}

/// Removes a host function registered through `token`.
pub fn unregister_host(token: u64, module: &str, name: &str) -> Result<()> {
    let guard = enter(token)?;
    python::host::remove(token, module, name)?;
    guard.with_gil_everywhere(|py| python::host::uninstall(py, module, name))
}
