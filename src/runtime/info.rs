//! What a runtime reports about itself (`pyrt_info_json`).

use std::ffi::CString;

use super::guard::enter;
use super::lifecycle::running_info;
use crate::error::Result;
use crate::python;

/// The fields of `pyrt_info_json`'s object, in its order (a test checks the object against it).
pub const INFO_FIELDS: [&str; 12] = [
    "pyrt_version",
    "python_version",
    "libpython",
    "executable",
    "prefix",
    "mode",
    "workers",
    "workers_requested",
    "workers_note",
    "free_threaded",
    "tested",
    "tested_note",
];

pub fn info_json(token: u64) -> Result<CString> {
    let guard = enter(token)?;
    let info = running_info()?;
    let loaded = python::loaded().expect("running implies loaded");
    let handle = guard.handle_state()?;
    // Where this handle's calls run.
    let mode = match (&handle.pool, handle.main_thread) {
        (Some(_), _) => "subinterpreters",
        (None, true) => "main_thread",
        (None, false) => "caller_thread",
    };
    let workers_note = (handle.workers_requested > 0 && handle.pool.is_none())
        .then_some("sub-interpreters with their own GIL need Python 3.12+: calls run in the main interpreter");
    let value = serde_json::json!({
        "pyrt_version": crate::VERSION,
        "python_version": loaded.version,
        "libpython": loaded.path.to_string_lossy(),
        "executable": info.executable,
        "prefix": info.prefix,
        "mode": mode,
        "workers": handle.pool.as_ref().map_or(0, |p| p.len()),
        "workers_requested": handle.workers_requested,
        "workers_note": workers_note,
        "free_threaded": loaded.free_threaded,
        "tested": !loaded.untested,
        "tested_note": loaded.untested.then(|| format!(
            "Python {} is newer than any version pyrt was tested with (3.8-3.{}): accepted because it exports every symbol pyrt needs",
            loaded.version,
            crate::python::library::NEWEST_TESTED_MINOR
        )),
    });
    debug_assert!(value.as_object().is_some_and(|o| o.len() == INFO_FIELDS.len() && INFO_FIELDS.iter().all(|k| o.contains_key(*k))));
    Ok(CString::new(value.to_string()).expect("JSON has no NUL"))
}

/// A runtime handle's call statistics, or (`None`) the process's (`pyrt_stats_json`). The
/// process-wide figures need no open handle (they are zero before the first).
pub fn stats_json(token: Option<u64>) -> Result<CString> {
    let value = match token {
        Some(token) => {
            let guard = enter(token)?;
            let handle = guard.handle_state()?;
            drop(guard);
            crate::stats::report(Some(token), python::handles::live(Some(token)), handle.pool.as_ref().map_or(0, |p| p.len()))
        }
        None => crate::stats::report(None, python::handles::live(None), 0),
    };
    Ok(CString::new(value.to_string()).expect("JSON has no NUL"))
}
