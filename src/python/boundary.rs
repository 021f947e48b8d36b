//! The panic boundary for the functions CPython calls into pyrt: host functions, the output
//! proxies' `write`, the buffer exporter's slots and `_pyrt`'s module functions.
//!
//! A Rust panic may not unwind into CPython's C frames (since Rust 1.81 it aborts the process
//! there). Each such function runs its body through [`guard`]: a panic becomes a Python
//! `RuntimeError` naming it ("internal error in pyrt"), the function returns its error value,
//! and Python code sees an ordinary exception — the host keeps running. The exported C
//! functions have the same boundary the other way round (`capi::boundary`).

use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where a guarded function is, for messages and for the tests' injected panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Site {
    HostFunction = 1,
    OutputWrite = 2,
    GetBuffer = 4,
    ReleaseBuffer = 8,
    ModuleFunction = 16,
}

/// Sites that panic on entry (tests only; see [`inject_panics`]).
static INJECTED: AtomicU32 = AtomicU32::new(0);

/// Makes the guarded functions of the given sites (a mask of [`Site`] values) panic on entry,
/// so a test can check that each boundary holds. 0 turns it off. Not part of the API.
#[doc(hidden)]
pub fn inject_panics(mask: u32) {
    INJECTED.store(mask, Ordering::SeqCst);
}

/// Runs `f`, the body of a function CPython called; a panic in it becomes a Python exception
/// (where the function can report one) and `on_panic` is returned.
#[inline]
pub fn guard<R>(site: Site, on_panic: R, f: impl FnOnce() -> R) -> R {
    let run = || {
        if INJECTED.load(Ordering::Relaxed) & site as u32 != 0 {
            panic!("a panic injected by a test at {site:?}");
        }
        f()
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(r) => r,
        Err(panic) => {
            report(site, panic);
            on_panic
        }
    }
}

#[cold]
#[inline(never)]
fn report(site: Site, panic: Box<dyn std::any::Any + Send>) {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let message = format!("internal error in pyrt (please report): {what}");
    let Some(api) = super::loaded().map(|l| &l.api) else { return };
    if site == Site::ReleaseBuffer {
        // bf_releasebuffer cannot fail: nothing may be left pending. Say it where CPython says
        // unraisable errors.
        eprintln!("pyrt: {message}");
        return;
    }
    let c = CString::new(message.replace('\0', " ")).expect("NULs replaced");
    // SAFETY: CPython called the guarded function, so this thread holds the GIL (or is attached)
    // for the rest of this call, which the token does not leave.
    let py = unsafe { super::gil::assume_gil(api) };
    py.set_error(super::facade::Exc::RuntimeError, &c);
}
