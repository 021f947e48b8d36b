//! pyrt: embed CPython 3.8 and later (free-threaded builds included), chosen at run time, behind
//! a plain C ABI.
//!
//! * `capi` — the `extern "C"` surface (the only place with it); `include/pyrt.h` is generated
//!   from it.
//! * `runtime` — the executor: interpreter lifecycle, handles, calls.
//! * `python` — the only code that touches CPython's symbols: loader, initialization, GIL,
//!   conversions.
//! * `json`, `config`, `discover`, `error` — the safe core.
//! * `api` — the safe Rust API ([`Runtime`], [`Object`]) for Rust programs.

// Only the C ABI (`capi`) and the Rust API re-exported below are public; everything else is an
// internal layer the compiler checks for dead code and unsound public signatures.
mod api;
mod args;
pub mod capi;
mod config;
mod contract;
mod ctext;
mod discover;
mod environment;
mod error;
mod hop;
mod json;
mod python;
mod runtime;
mod signals;
mod spin;
mod stats;

pub use api::{process_stats, Builder, Bytes, Candidate, Discovery, Info, Iter, Object, Runtime, Stats, Task};
pub use error::{Error, ErrorDetail, ErrorKind, PythonException, Result};

#[doc(hidden)]
pub use python::boundary::inject_panics as __inject_panics;

/// pyrt's version (from Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub(crate) const VERSION_C: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes())
{
    Ok(s) => s,
    Err(_) => panic!("version has no NUL"),
};
/// SHA-256 of the sources this library was built from (see build.rs and scripts/source-hash.sh).
pub const SOURCE_HASH: &str = env!("PYRT_SOURCE_HASH");
pub(crate) const SOURCE_HASH_C: &std::ffi::CStr =
    match std::ffi::CStr::from_bytes_with_nul(concat!(env!("PYRT_SOURCE_HASH"), "\0").as_bytes()) {
        Ok(s) => s,
        Err(_) => panic!("source hash has no NUL"),
    };
