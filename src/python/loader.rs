//! Opening libpython: probe privately first, then promote to global.
//!
//! A candidate is opened `RTLD_LAZY | RTLD_LOCAL`, its version read with `Py_GetVersion()` (safe
//! before initialization) and every mandatory symbol resolved; only an accepted library is then
//! re-opened `RTLD_NOW | RTLD_GLOBAL` (C extension modules such as `math` or numpy resolve `Py*`
//! symbols from the global scope) and kept for the life of the process. A rejected candidate was
//! never global, so it cannot interpose its symbols on the Python that is eventually loaded
//! (HAZARDS §1.6).

use std::ffi::CStr;
use std::path::{Path, PathBuf};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL, RTLD_NOW};

use super::ffi::Api;
use crate::discover::{MAX_MINOR, MIN_MINOR};
use crate::error::{Error, ErrorKind, Result};

/// A libpython loaded for good.
pub struct Loaded {
    pub api: Api,
    /// Canonical path of the file that was opened.
    pub path: PathBuf,
    pub minor: u32,
    /// `Py_GetVersion()`'s first word, e.g. `3.12.1`.
    pub version: String,
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
/// `accept(minor, version)` may refuse a library that is otherwise fine (a venv or a version
/// constraint asks for another version); it runs before the library becomes global.
pub fn load(path: &Path, accept: &dyn Fn(u32, &str) -> Result<()>) -> Result<Loaded> {
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

    // Decide from the file name when it tells the version (libpython3.12.so.1.0): a library
    // that is refused is then never opened at all. Opening and closing a libpython that is not
    // used was seen to crash later Python code on the probing thread (its thread-local storage
    // outlives the dlclose), so a probe is only for names that do not reveal the version.
    if let Some((major, minor)) = crate::discover::version_from_file_name(&canonical) {
        let name = canonical.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if major != 3 || !(MIN_MINOR..=MAX_MINOR).contains(&minor) {
            return Err(invalid(path, format!("Python {major}.{minor} is not supported; pyrt supports CPython 3.8 to 3.13")));
        }
        if name.starts_with(&format!("libpython3.{minor}t")) {
            return Err(invalid(path, format!("Python 3.{minor}t is a free-threaded build: a different ABI that pyrt does not support; use the regular build")));
        }
        accept(minor, &format!("3.{minor}"))?;
    }

    // SAFETY: opening a shared library runs its initializers; that is inherent to loading any
    // libpython. RTLD_LOCAL keeps its symbols out of the global scope while we check it.
    let probe = unsafe { Library::open(Some(path), RTLD_LAZY | RTLD_LOCAL) }
        .map_err(|e| invalid(path, format!("cannot be loaded as a shared library: {e}")))?;
    // SAFETY: a symbol named Py_GetVersion is assumed to have CPython's prototype.
    let get_version = unsafe { probe.get::<unsafe extern "C" fn() -> *const std::ffi::c_char>(b"Py_GetVersion\0") }
        .map_err(|_| invalid(path, "not a libpython (no Py_GetVersion symbol)"))?;
    // SAFETY: Py_GetVersion is callable before initialization in every version (HAZARDS §8.3).
    let full = unsafe { CStr::from_ptr(get_version()) }.to_string_lossy().into_owned();
    let version = full.split_whitespace().next().unwrap_or("").to_string();
    match parse_version(&full) {
        Some((3, minor)) if (MIN_MINOR..=MAX_MINOR).contains(&minor) => {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let free_threaded = full.contains("free-threading") || name.starts_with(&format!("libpython3.{minor}t"));
            if free_threaded {
                return Err(invalid(path, format!("Python {version} is a free-threaded build (3.13t): a different ABI that pyrt does not support; use the regular build")));
            }
            accept(minor, &version)?;
            // SAFETY: the library is CPython 3.8-3.13, whose prototypes ffi.rs declares.
            unsafe { Api::resolve(&probe) }
                .map_err(|sym| invalid(path, format!("Python {version} lacks the required symbol {sym}")))?;
            drop(probe);
            // SAFETY: as above; this promotes the same file to the global scope, for good.
            let global = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }
                .map_err(|e| invalid(path, format!("cannot be loaded RTLD_NOW|RTLD_GLOBAL: {e}")))?;
            // SAFETY: same library, now global.
            let api = unsafe { Api::resolve(&global) }
                .map_err(|sym| invalid(path, format!("Python {version} lacks the required symbol {sym}")))?;
            // Never unload libpython: extension modules keep pointers into it (HAZARDS §1.6).
            std::mem::forget(global);
            Ok(Loaded { api, path: canonical, minor, version })
        }
        Some((major, minor)) => Err(invalid(path, format!("Python {major}.{minor} ({version}) is not supported; pyrt supports CPython 3.8 to 3.13"))),
        None => Err(invalid(path, format!("not a CPython library (Py_GetVersion returned {full:?})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_any(p: &Path) -> Result<Loaded> {
        load(p, &|_, _| Ok(()))
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
