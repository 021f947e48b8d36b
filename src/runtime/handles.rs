//! The runtime handle table: what each open handle was opened with, looked up by token.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Release, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::python::{self, exec::FxMap};

/// What a runtime handle was opened with (its per-handle config keys), and its output.
#[derive(Debug, Default)]
pub(super) struct Handle {
    pub(super) main_thread: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) capture: bool,
    /// Output captured by completed calls, not yet taken (`pyrt_output_take`): [stdout, stderr].
    pub(super) output: Mutex<[String; 2]>,
    /// Worker sub-interpreters ("workers"), on Python 3.12+.
    pub(super) pool: Option<Arc<python::workers::Pool>>,
    /// How many workers were asked for (also below 3.12, where calls run in the main
    /// interpreter instead).
    pub(super) workers_requested: usize,
}

impl Handle {
    /// Anything that needs a per-call look at the handle (the typed fast path skips it otherwise).
    pub(super) fn special(&self) -> bool {
        self.main_thread || self.timeout.is_some() || self.capture || self.pool.is_some()
    }

    pub(super) fn no_workers(&self, what: &str) -> Result<()> {
        match self.pool {
            Some(_) => Err(Error::invalid_argument(format!(
                "{what} is not available for a runtime with \"workers\" (it needs the main interpreter); use a runtime without workers"
            ))),
            None => Ok(()),
        }
    }
}

/// Open runtime handles. Tokens are ours (sequential), so a fast non-keyed hash is fine.
pub(super) static HANDLES: RwLock<Option<FxMap<u64, Arc<Handle>>>> = RwLock::new(None);

/// Open handles with per-call settings (the typed fast path looks up its object's handle only then).
pub(super) static SPECIAL_HANDLES: AtomicUsize = AtomicUsize::new(0);
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0x7079_0000);
/// Changes whenever a handle is opened or freed: a thread's memo of the last handle it found
/// open and plain (`gil::ThreadCtx::plain_handle`) holds only within one generation.
pub(super) static HANDLES_GEN: AtomicU64 = AtomicU64::new(1);

pub(super) fn handle_of(token: u64) -> Option<Arc<Handle>> {
    HANDLES.read().ok().and_then(|h| h.as_ref().and_then(|h| h.get(&token).cloned()))
}

fn new_token() -> u64 {
    NEXT_TOKEN.fetch_add(8, SeqCst)
}

/// Adds a handle opened with `config`, with its worker sub-interpreters (`pool`, started by the
/// caller); returns its token.
pub(super) fn add_handle(config: &Config, pool: Option<Arc<python::workers::Pool>>) -> u64 {
    let token = new_token();
    let workers_requested = config.workers.unwrap_or(0);
    let handle = Handle {
        main_thread: config.main_thread,
        timeout: config.timeout_ms.filter(|t| *t > 0).map(Duration::from_millis),
        capture: config.capture_output,
        output: Mutex::default(),
        pool,
        workers_requested,
    };
    if handle.special() {
        SPECIAL_HANDLES.fetch_add(1, SeqCst);
    }
    crate::stats::open(token);
    let mut table = HANDLES.write().expect("handle table lock");
    table.get_or_insert_with(FxMap::default).insert(token, Arc::new(handle));
    HANDLES_GEN.fetch_add(1, Release);
    token
}
