//! Everything that touches CPython. `unsafe` code that calls into libpython lives here (and the
//! pointer handling of `src/capi/`); the rest of pyrt sees safe functions taking a [`Python`]
//! token, which proves the GIL is held.

pub(crate) mod admission;
pub mod aio;
pub mod boundary;
pub mod buffer;
pub mod capture;
pub mod convert;
pub mod exception;
pub mod exec;
pub(crate) mod facade;
pub mod ffi;
pub mod gil;
pub mod handles;
pub mod host;
pub mod init;
pub mod interp;
pub mod iterate;
pub mod library;
pub(crate) mod liveness;
pub mod loader;
pub mod module;
pub mod pyref;
pub mod running;
pub mod workers;

use std::sync::OnceLock;

pub use gil::{with_gil, Python};
pub use pyref::PyRef;

/// The one libpython of this process (never two, never unloaded: docs/cpython-abi.md).
static LOADED: OnceLock<loader::Loaded> = OnceLock::new();

/// Installs the loaded library; fails if another one was installed first. (Runs once per process:
/// the large `Err` hands the rejected library back rather than boxing it.)
#[allow(clippy::result_large_err)]
pub fn install(loaded: loader::Loaded) -> Result<&'static loader::Loaded, loader::Loaded> {
    let mut rejected = Some(loaded);
    let got = LOADED.get_or_init(|| rejected.take().expect("taken once"));
    match rejected {
        None => Ok(got),
        Some(l) => Err(l),
    }
}

pub fn loaded() -> Option<&'static loader::Loaded> {
    LOADED.get()
}

/// The resolved API. Only called where a [`Python`] token or the lifecycle guarantees loading.
#[inline]
pub(crate) fn api() -> &'static ffi::Api {
    &LOADED.get().expect("libpython is loaded before any Python object exists").api
}
