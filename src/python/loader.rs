//! Opening libpython: probe privately first, then promote to global.
//!
//! A candidate that passed the file checks (`library::check`) is opened `RTLD_NOW | RTLD_LOCAL`,
//! its version read with `Py_GetVersion()` (safe before initialization) and every mandatory
//! symbol resolved; an accepted library is then promoted in place to `RTLD_GLOBAL`
//! (`RTLD_NOLOAD`: the same mapping, never unloaded in between; C extension modules such as
//! `math` or numpy resolve `Py*` symbols from the global scope) and kept for the life of the
//! process. Closing and re-opening it instead could leave a thread-exit destructor of the first
//! mapping pointing into unmapped memory: seen with 3.14, whose probing thread then crashed when
//! it exited. A rejected candidate was never global, so it cannot interpose its symbols on the
//! Python that is eventually loaded.

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LOCAL, RTLD_NOW};

use super::ffi::{Api, ObjectLayout};
use super::library;
use crate::error::{Error, ErrorKind, Result};

/// A libpython loaded for good.
pub struct Loaded {
    pub api: Api,
    /// Canonical path of the file that was opened.
    pub path: PathBuf,
    pub minor: u32,
    /// `Py_GetVersion()`'s first word, e.g. `3.12.1`.
    pub version: String,
    /// A free-threaded build (`Py_GIL_DISABLED`): no GIL, the 32-byte object header.
    pub free_threaded: bool,
    /// Newer than any version the test suite runs against (accepted because it exports what
    /// pyrt needs).
    pub untested: bool,
}

fn invalid(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::LibpythonInvalid, format!("{}: {why}", path.display()))
}

/// Parses `3.12.1 (main, ...)` → (3, 12).
fn parse_version(full: &str) -> Option<(u32, u32)> {
    let word = full.split_whitespace().next()?;
    let mut parts = word.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts.next()?.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major, minor.parse().ok()?))
}

/// Checks the file, probes it privately, and loads it globally.
///
/// `accept(minor, free_threaded, version)` may refuse a library that is otherwise fine (a venv or a version
/// constraint asks for another version); it runs before the library becomes global.
pub fn load(path: &Path, accept: &dyn Fn(u32, bool, &str) -> Result<()>) -> Result<Loaded> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound { ErrorKind::LibpythonNotFound } else { ErrorKind::LibpythonInvalid };
        Error::new(kind, format!("{}: {e}", path.display()))
    })?;
    if meta.is_dir() {
        return Err(invalid(path, "is a directory, not a shared library"));
    }
    if !meta.is_file() {
        return Err(invalid(path, "is not a regular file"));
    }
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());

    // The checks discovery runs too (version from the name, exported symbols): a library that
    // is refused here is never opened at all.
    let facts = library::check(path)?;
    if let Some((_, minor)) = facts.version {
        let shown = format!("3.{minor}{}", if facts.free_threaded { "t" } else { "" });
        accept(minor, facts.free_threaded, &shown)?;
    }

    // SAFETY: opening a shared library runs its initializers; that is inherent to loading any
    // libpython. RTLD_LOCAL keeps its symbols out of the global scope while we check it.
    let probe = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }
        .map_err(|e| invalid(path, format!("cannot be loaded as a shared library: {e}")))?;
    // SAFETY: a symbol named Py_GetVersion is assumed to have CPython's prototype.
    let get_version = unsafe { probe.get::<unsafe extern "C" fn() -> *const std::ffi::c_char>(b"Py_GetVersion\0") }
        .map_err(|_| invalid(path, "not a libpython (no Py_GetVersion symbol)"))?;
    // SAFETY: Py_GetVersion is callable before initialization in every version.
    let full = unsafe { CStr::from_ptr(get_version()) }.to_string_lossy().into_owned();
    let version = full.split_whitespace().next().unwrap_or("").to_string();
    let Some((major, minor)) = parse_version(&full) else {
        return Err(invalid(path, format!("not a CPython library (Py_GetVersion returned {full:?})")));
    };
    library::check_version(major, minor, &version).map_err(|why| invalid(path, why))?;
    // 3.13+ say "free-threading build" in the version string; the name and the exported symbols
    // tell for the others.
    let free_threaded = facts.free_threaded || full.contains("free-threading");
    if facts.version.is_none() {
        accept(minor, free_threaded, &version)?;
    }
    // SAFETY: the library is a CPython 3.8+ whose prototypes ffi.rs declares (they are stable
    // API, unchanged since 3.8).
    let api = unsafe { Api::resolve(&probe) }.map_err(|sym| invalid(path, format!("Python {version} lacks the required symbol {sym}")))?;
    check_init_symbols(&api, minor).map_err(|sym| invalid(path, format!("Python {version} lacks the required symbol {sym}")))?;
    // SAFETY: as above; RTLD_NOLOAD promotes the mapping the probe opened to the global scope.
    let global = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL | libc::RTLD_NOLOAD) }
        .map_err(|e| invalid(path, format!("cannot be made RTLD_GLOBAL: {e}")))?;
    // Never unload libpython (both handles stay open): extension modules keep pointers into it.
    std::mem::forget(global);
    std::mem::forget(probe);
    super::ffi::set_layout(ObjectLayout::of(free_threaded));
    Ok(Loaded { api, path: canonical, minor, version, free_threaded, untested: minor > library::NEWEST_TESTED_MINOR })
}

/// The initialization API the library will be started through must be complete: PEP 741 when
/// it has `PyInitConfig_Create` (3.14+), else PEP 587 with a known `PyConfig` layout (3.8-3.13).
fn check_init_symbols(api: &Api, minor: u32) -> std::result::Result<(), String> {
    let pep741 = [
        api.PyInitConfig_Create.is_some(),
        api.PyInitConfig_Free.is_some(),
        api.PyInitConfig_SetInt.is_some(),
        api.PyInitConfig_SetStr.is_some(),
        api.PyInitConfig_SetStrList.is_some(),
        api.PyInitConfig_GetError.is_some(),
        api.Py_InitializeFromInitConfig.is_some(),
    ];
    let pep587 = [
        api.PyPreConfig_InitIsolatedConfig.is_some(),
        api.Py_PreInitialize.is_some(),
        api.PyConfig_InitIsolatedConfig.is_some(),
        api.PyConfig_SetBytesString.is_some(),
        api.PyConfig_SetBytesArgv.is_some(),
        api.PyConfig_Clear.is_some(),
        api.Py_InitializeFromConfig.is_some(),
    ];
    let first_missing = |have: &[bool; 7], names: &[&str; 7]| have.iter().zip(names).find(|(h, _)| !**h).map(|(_, n)| n.to_string());
    if pep741[0] {
        return first_missing(&pep741, &super::init::PEP741_SYMBOLS).map_or(Ok(()), Err);
    }
    if minor > 13 {
        return Err(library::PEP741_MARKER.to_string());
    }
    first_missing(&pep587, &super::init::PEP587_SYMBOLS).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_any(p: &Path) -> Result<Loaded> {
        load(p, &|_, _, _| Ok(()))
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("3.12.1 (main, May  9 2026) [GCC]"), Some((3, 12)));
        assert_eq!(parse_version("2.7.18 (default)"), Some((2, 7)));
        assert_eq!(parse_version("3.13.0rc1"), Some((3, 13)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn bad_paths() {
        assert_eq!(load_any(Path::new("/nonexistent/libpython3.12.so")).err().unwrap().kind, ErrorKind::LibpythonNotFound);
        assert_eq!(load_any(Path::new("/tmp")).err().unwrap().kind, ErrorKind::LibpythonInvalid);
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"].into_iter().find(|p| Path::new(p).exists());
        if let Some(libc) = libc {
            let e = load_any(Path::new(libc)).err().unwrap();
            assert_eq!(e.kind, ErrorKind::LibpythonInvalid);
            assert!(e.message.contains("Py_GetVersion"), "{}", e.message);
        }
    }
}
