//! What a runtime reports: [`Info`], [`Discovery`], [`Stats`].

use serde::Deserialize;

use super::encoding::{from_json, into_string};
use crate::error::Result;
use crate::runtime;

/// Call statistics: [`Runtime::stats`](crate::Runtime::stats) (one handle) and [`process_stats`] (the whole process).
/// The fields are `pyrt_stats_json`'s (the header documents them): counts are exact, the
/// latency figures estimates (fast calls are timed one in 64).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Stats {
    /// `"runtime"` or `"process"`.
    pub scope: String,
    /// Whether calls are counted (config key `"stats"`, [`Builder::stats`](crate::Builder::stats)).
    pub enabled: bool,
    /// Calls that reached Python.
    pub calls_started: u64,
    pub calls_finished: u64,
    /// Calls that finished with an error.
    pub calls_failed: u64,
    pub calls_in_flight: u64,
    /// Python exceptions by type name (at most 64 types; the rest in `exceptions_other`).
    pub exceptions: std::collections::BTreeMap<String, u64>,
    pub exceptions_other: u64,
    /// The latency histogram's upper bounds (seconds, 1e-6 to 10); `latency_buckets` has one
    /// more entry (+Inf) and is not cumulative.
    pub latency_bounds_seconds: Vec<f64>,
    pub latency_buckets: Vec<u64>,
    pub latency_count: u64,
    pub latency_sum_seconds: f64,
    /// Time waiting to enter Python (the GIL, a hop to the main thread or a worker).
    pub wait_seconds: f64,
    /// Time running Python.
    pub run_seconds: f64,
    /// Live object handles.
    pub objects: u64,
    /// Host functions called from Python.
    pub host_callbacks: u64,
    pub interrupts: u64,
    pub timeouts: u64,
    /// Calls run in worker sub-interpreters.
    pub worker_calls: u64,
    /// This handle's workers (0 for the process).
    pub workers: u64,
}

/// The whole process's call statistics (every handle, freed ones included).
pub fn process_stats() -> Result<Stats> {
    from_json(&runtime::stats_json(None).map(into_string)?)
}

/// What [`Runtime::info`](crate::Runtime::info) reports about the running interpreter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Info {
    /// pyrt's version, e.g. `"0.1.0"`.
    pub pyrt_version: String,
    /// The full Python version, e.g. `"3.12.1"`.
    pub python_version: String,
    /// The libpython file that was loaded.
    pub libpython: String,
    /// `sys.executable`.
    pub executable: String,
    /// `sys.prefix`.
    pub prefix: String,
    /// Where this handle's calls run: `"caller_thread"`, `"main_thread"` or `"subinterpreters"`.
    #[serde(default)]
    pub mode: String,
    /// Worker sub-interpreters running (0 without `workers`).
    #[serde(default)]
    pub workers: usize,
    /// Workers asked for in the config.
    #[serde(default)]
    pub workers_requested: usize,
    /// Why fewer workers run than were asked for, if so.
    #[serde(default)]
    pub workers_note: Option<String>,
    /// A free-threaded build (`Py_GIL_DISABLED`): calls from several threads run Python in
    /// parallel.
    #[serde(default)]
    pub free_threaded: bool,
    /// False for a Python newer than any version pyrt was tested with (accepted because it
    /// exports every symbol pyrt needs).
    #[serde(default)]
    pub tested: bool,
    /// Says why `tested` is false.
    #[serde(default)]
    pub tested_note: Option<String>,
}

/// Which libpython [`Builder::build`](crate::Builder::build) would load, and every candidate considered
/// ([`Builder::discover`](crate::Builder::discover)).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    pub libpython: String,
    /// `"3.12"` (`"3.13t"` for a free-threaded build), from the file name; `None` when the
    /// name does not tell.
    pub version: Option<String>,
    /// Whether the library is a free-threaded build (from its name), when known.
    #[serde(default)]
    pub free_threaded: Option<bool>,
    /// Newer than any version pyrt was tested with, when known.
    #[serde(default)]
    pub untested: Option<bool>,
    /// Set when the `python3` on PATH could not be used and another library was chosen: why.
    #[serde(default)]
    pub warning: Option<String>,
    /// The interpreter that will be `sys.executable`, when known before loading.
    pub executable: Option<String>,
    pub venv: Option<String>,
    /// In order; the accepted one last.
    pub candidates: Vec<Candidate>,
}

/// One place discovery looked at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Candidate {
    /// Where it came from: `PYRT_LIBPYTHON`, `` `python3` on PATH (sysconfig) ``, ...
    pub source: String,
    pub path: Option<String>,
    pub accepted: bool,
    /// Why it was taken or rejected.
    pub reason: String,
}
