//! The executor: one CPython interpreter per process, shared by every runtime handle.
//!
//! * CPython is initialized on a thread pyrt owns ("pyrt-python"); that thread also finalizes it,
//!   because finalizing from another thread hangs on 3.9-3.12. It is Python's main
//!   thread, and imports `threading` right away so `threading.main_thread()` is right (§3.4).
//! * Calls run on the caller's thread, holding the GIL only inside the call (`python::gil`).
//! * Handles are tokens looked up in a table, never dereferenced: a freed or bogus handle is an
//!   error (`Closed`), not a crash.
//! * Freeing the last handle finalizes the interpreter, after the calls in flight return. CPython
//!   cannot be re-initialized safely (§7), so from then on `new` fails with `Finalized`.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Acquire, Ordering::Release, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use crate::config::Config;
use crate::ctext::CText;
use crate::discover;
use crate::error::{Error, ErrorKind, Result};
use crate::hop::Hop;
use crate::python::convert::ValueMode;
use crate::python::exec::FxMap;
use crate::python::{self, capture, convert, exception, exec, ffi::Api, gil, handles, init, loader, running, with_gil, PyRef};
use crate::signals::{self, SignalsMode, SigpipePolicy};

/// What the interpreter thread learned at start-up (for `info_json`).
#[derive(Debug, Clone)]
struct InterpreterInfo {
    executable: String,
    prefix: String,
}

struct Running {
    config: Config,
    handles: usize,
    info: InterpreterInfo,
    owner_thread: thread::JoinHandle<()>,
}

/// What a runtime handle was opened with (its per-handle config keys), and its output.
#[derive(Debug, Default)]
struct Handle {
    main_thread: bool,
    timeout: Option<Duration>,
    capture: bool,
    /// Output captured by completed calls, not yet taken (`pyrt_output_take`): [stdout, stderr].
    output: Mutex<[String; 2]>,
    /// Worker sub-interpreters ("workers"), on Python 3.12+.
    pool: Option<Arc<python::workers::Pool>>,
    /// How many workers were asked for (also below 3.12, where calls run in the main
    /// interpreter instead).
    workers_requested: usize,
}

impl Handle {
    /// Anything that needs a per-call look at the handle (the typed fast path skips it otherwise).
    fn special(&self) -> bool {
        self.main_thread || self.timeout.is_some() || self.capture || self.pool.is_some()
    }

    fn no_workers(&self, what: &str) -> Result<()> {
        match self.pool {
            Some(_) => Err(Error::invalid_argument(format!("{what} is not available for a runtime with \"workers\" (objects cannot move between interpreters); use a runtime without workers"))),
            None => Ok(()),
        }
    }
}

/// The interpreter's one lifecycle per process (a single value: its size does not matter).
#[allow(clippy::large_enum_variant)]
enum Lifecycle {
    Uninit,
    Running(Running),
    /// Initialization was attempted and failed; CPython cannot be retried in this process.
    Failed(Error),
    Finalized,
}

static LIFECYCLE: Mutex<Lifecycle> = Mutex::new(Lifecycle::Uninit);
/// Open runtime handles. Tokens are ours (sequential), so a fast non-keyed hash is fine.
static HANDLES: RwLock<Option<FxMap<u64, Arc<Handle>>>> = RwLock::new(None);
/// Jobs for the interpreter's main thread (handles opened with `main_thread`).
static MAIN: Hop = Hop::new();
/// Open handles with per-call settings (the typed fast path looks up its object's handle only then).
static SPECIAL_HANDLES: AtomicUsize = AtomicUsize::new(0);
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0x7079_0000);
/// Changes whenever a handle is opened or freed: a thread's memo of the last handle it found
/// open and plain (`gil::ThreadCtx::plain_handle`) holds only within one generation.
static HANDLES_GEN: AtomicU64 = AtomicU64::new(1);
/// True while the interpreter accepts calls.
static ALIVE: AtomicBool = AtomicBool::new(false);
/// Calls (and thread teardowns) currently inside the interpreter.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static DRAINED: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Keeps the interpreter from being finalized while a call is inside it.
pub struct CallGuard {
    api: &'static Api,
    /// The runtime handle the call goes through (0: none, e.g. a thread's teardown).
    token: u64,
    /// The handle's state when it has per-call settings (main thread, timeout, capture,
    /// workers); `None` for a plain handle, whose calls need nothing but its token.
    handle: Option<Arc<Handle>>,
    /// The calling thread's context (`None` while its thread-locals are destroyed).
    thread: Option<gil::ThreadRef>,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if IN_FLIGHT.fetch_sub(1, SeqCst) == 1 && !ALIVE.load(SeqCst) {
            let _lock = DRAINED.0.lock();
            DRAINED.1.notify_all();
        }
    }
}

impl CallGuard {
    /// Runs `f` with the GIL held (first dropping references released without it), on the
    /// calling thread, on the interpreter's main thread (`main_thread` handles) or in the least
    /// busy worker (`workers` handles). The call can be interrupted (`pyrt_interrupt*`, the
    /// handle's timeout) and its output captured.
    pub fn with_gil<R: Send>(&self, f: impl FnOnce(python::Python<'_>) -> Result<R> + Send) -> Result<R> {
        let token = self.token;
        let handle = self.handle.as_deref();
        let api = self.api;
        if let (None, Some(t)) = (handle, self.thread) {
            // A plain handle (the common case): on this thread, nothing else to decide.
            let origin = t.ident();
            return gil::with_gil_on(t, api, move |py| {
                handles::drain(py);
                call_in(py, token, None, origin, 0, f)
            });
        }
        let origin = self.thread.map_or_else(running::current_thread_id, |t| t.ident());
        if let Some(pool) = handle.and_then(|h| h.pool.as_ref()) {
            return pool.run_any(move |py, interp| {
                handles::drain(py);
                call_in(py, token, handle, origin, interp, f)
            });
        }
        let run = move || {
            with_gil(api, |py| {
                handles::drain(py);
                call_in(py, token, handle, origin, 0, f)
            })
        };
        if handle.is_some_and(|h| h.main_thread) {
            // Signals with Python handlers wait in this (blocked) caller thread, so the kernel
            // delivers a self-sent one to a thread that can run it now (signals::DeferRouted).
            let _deferred = signals::DeferRouted::new();
            MAIN.run(run).map_err(|_| Error::finalized())?
        } else {
            run()
        }
    }

    /// Runs `f` in every worker of a `workers` handle (code that defines what later calls use),
    /// else once, as [`CallGuard::with_gil`].
    pub fn with_gil_everywhere(&self, f: impl Fn(python::Python<'_>) -> Result<()> + Send + Sync) -> Result<()> {
        let token = self.token;
        let handle = self.handle.as_deref();
        let origin = self.thread.map_or_else(running::current_thread_id, |t| t.ident());
        match handle.and_then(|h| h.pool.as_ref()) {
            Some(pool) => pool
                .run_all(|py, interp| {
                    handles::drain(py);
                    call_in(py, token, handle, origin, interp, &f)
                })
                .map(drop),
            None => self.with_gil(f),
        }
    }

    /// Rejects operations that need object handles on a `workers` handle.
    pub fn no_workers(&self, what: &str) -> Result<()> {
        self.handle.as_deref().map_or(Ok(()), |h| h.no_workers(what))
    }

    /// The state of the handle the call goes through (looked up again for a plain handle).
    fn handle_state(&self) -> Result<Arc<Handle>> {
        match &self.handle {
            Some(h) => Ok(h.clone()),
            None => handle_of(self.token).ok_or_else(Error::closed),
        }
    }
}

/// One call, with the GIL of the interpreter it runs in held: interruptible, its output
/// captured if the handle asks.
#[inline]
fn call_in<R>(
    py: python::Python<'_>,
    token: u64,
    handle: Option<&Handle>,
    origin: u64,
    interp: usize,
    f: impl FnOnce(python::Python<'_>) -> Result<R>,
) -> Result<R> {
    if handle.is_none_or(|h| h.timeout.is_none() && !h.capture) {
        // No timeout and no capture: the common case, kept short.
        let mark = running::begin(py, token, origin, None, interp);
        let result = f(py);
        return match running::end(py, mark) {
            None => result,
            Some(reason) => result.map_err(|e| if e.kind == ErrorKind::KeyboardInterrupt { interrupted(e, reason, None) } else { e }),
        };
    }
    let (timeout, capture) = handle.map_or((None, false), |h| (h.timeout, h.capture));
    if capture {
        capture::begin(py)?;
    }
    let mark = running::begin(py, token, origin, timeout, interp);
    let result = f(py);
    let reason = running::end(py, mark);
    let result = match (result, reason) {
        (Err(e), Some(reason)) if e.kind == ErrorKind::KeyboardInterrupt => Err(interrupted(e, reason, timeout)),
        (r, _) => r,
    };
    match (capture, handle) {
        (true, Some(h)) => {
            let out = capture::end();
            let mut acc = h.output.lock().unwrap_or_else(|p| p.into_inner());
            acc[0].push_str(&out[0]);
            acc[1].push_str(&out[1]);
            result.map_err(|mut e| {
                e.output = Some(Box::new(out));
                e
            })
        }
        _ => result,
    }
}

/// The error of a call that `pyrt_interrupt*` or its timeout interrupted.
fn interrupted(mut e: Error, reason: running::Reason, timeout: Option<Duration>) -> Error {
    match reason {
        running::Reason::Interrupted => {
            e.kind = ErrorKind::Interrupted;
            e.message = "the call was interrupted".into();
        }
        running::Reason::Timeout => {
            e.kind = ErrorKind::Timeout;
            e.message = format!("the call was interrupted after its timeout of {} ms", timeout.map_or(0, |t| t.as_millis()));
        }
    }
    e
}

fn handle_of(token: u64) -> Option<Arc<Handle>> {
    HANDLES.read().ok().and_then(|h| h.as_ref().and_then(|h| h.get(&token).cloned()))
}

/// Admits one call on `token`: the handle must be open and the interpreter alive.
///
/// A thread remembers the last handle it found open and plain (no per-call settings) together
/// with the handle table's generation, so its next call through that handle skips the table
/// (a lock, a lookup and a reference count) until any handle is opened or freed.
#[inline]
pub fn enter(token: u64) -> Result<CallGuard> {
    let thread = gil::thread();
    IN_FLIGHT.fetch_add(1, SeqCst);
    // Build the guard first so every early return below undoes the increment.
    let api = match python::loaded() {
        Some(l) => &l.api,
        None => {
            IN_FLIGHT.fetch_sub(1, SeqCst);
            return Err(Error::closed());
        }
    };
    let mut guard = CallGuard { api, token, handle: None, thread: Some(thread) };
    let gen = HANDLES_GEN.load(Acquire);
    if thread.plain_handle.get() != (token, gen) {
        let Some(handle) = handle_of(token) else {
            return Err(Error::closed());
        };
        if handle.special() {
            guard.handle = Some(handle);
        } else {
            thread.plain_handle.set((token, gen));
        }
    }
    if !ALIVE.load(SeqCst) {
        return Err(Error::finalized());
    }
    Ok(guard)
}

/// True while the interpreter accepts calls.
pub(crate) fn is_alive() -> bool {
    ALIVE.load(SeqCst)
}

/// Admits a thread's exit-time cleanup of its Python thread state, if the interpreter still runs.
pub(crate) fn enter_teardown() -> Option<CallGuard> {
    let api = &python::loaded()?.api;
    IN_FLIGHT.fetch_add(1, SeqCst);
    let guard = CallGuard { api, token: 0, handle: None, thread: gil::try_thread() };
    ALIVE.load(SeqCst).then_some(guard)
}

fn new_token() -> u64 {
    NEXT_TOKEN.fetch_add(8, SeqCst)
}

fn add_handle(config: &Config) -> Result<u64> {
    let token = new_token();
    let api = &python::loaded().expect("running implies loaded").api;
    let workers_requested = config.workers.unwrap_or(0);
    let setup = python::workers::Setup { modules: config.worker_modules.clone(), code: config.worker_setup.clone() };
    let pool = if workers_requested > 0 && python::workers::Pool::supported(api) {
        Some(Arc::new(python::workers::Pool::start(api, workers_requested, setup)?))
    } else {
        if workers_requested > 0 {
            // Below 3.12 the same API runs in the main interpreter: set it up there, once.
            let guard = enter_interpreter()?;
            guard.with_gil(|py| python::workers::setup_main(py, &setup))?;
        }
        None
    };
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
    let mut table = HANDLES.write().expect("handle table lock");
    table.get_or_insert_with(FxMap::default).insert(token, Arc::new(handle));
    HANDLES_GEN.fetch_add(1, Release);
    Ok(token)
}

fn conflict(message: String) -> Error {
    Error::new(ErrorKind::LibpythonConflict, message)
}

/// Opens a handle: starts the interpreter on first use, joins it afterwards.
pub fn new(config_text: Option<&str>) -> Result<u64> {
    let config = Config::parse(config_text)?;
    let mut state = LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner());
    match &mut *state {
        Lifecycle::Finalized => Err(Error::finalized()),
        Lifecycle::Failed(e) => {
            Err(Error::new(e.kind, format!("Python failed to initialize earlier in this process and cannot be retried: {}", e.message)))
        }
        Lifecycle::Running(r) => {
            let loaded = python::loaded().expect("running implies loaded");
            if let Some(lib) = &config.libpython {
                let wanted = Path::new(lib).canonicalize().unwrap_or_else(|_| PathBuf::from(lib));
                if wanted != loaded.path {
                    return Err(conflict(format!(
                        "this process already runs Python {} from {}; a process can load only one libpython (asked for {lib})",
                        loaded.version,
                        loaded.path.display()
                    )));
                }
            }
            if let Some(why) = config.init_settings_conflict(&r.config) {
                return Err(conflict(format!("the running interpreter was started with other settings: {why}")));
            }
            let token = add_handle(&config)?;
            r.handles += 1;
            Ok(token)
        }
        Lifecycle::Uninit => {
            let found = discover::discover(&config, std::env::var("PYRT_LIBPYTHON").ok())?;
            let loaded = loader::load(&found.libpython, &|minor, free_threaded, version| {
                check_versions(&config, &found, minor, free_threaded, version)
            })?;
            let loaded = match python::install(loaded) {
                Ok(l) => l,
                Err(_) => unreachable!("libpython is installed only on the Uninit path, under the lifecycle lock"),
            };
            let executable = match (&config.python_executable, found.executable) {
                (Some(exe), _) => Some(PathBuf::from(exe)),
                (None, Some(exe)) => Some(exe),
                (None, None) => discover::executable_for_library(&loaded.path, loaded.minor),
            };
            let started = start_interpreter(loaded, &config, executable).and_then(|started| {
                adjust_site(&loaded.api, &config, found.venv.as_ref())?;
                Ok(started)
            });
            match started {
                Ok((owner_thread, info)) => {
                    ALIVE.store(true, SeqCst);
                    let handle = add_handle(&config);
                    let handles = usize::from(handle.is_ok());
                    // (If this handle's own setup failed, the interpreter still runs for the next.)
                    *state = Lifecycle::Running(Running { config, handles, info, owner_thread });
                    handle
                }
                Err(e) => {
                    *state = Lifecycle::Failed(e.clone());
                    Err(e)
                }
            }
        }
    }
}

/// The loaded library must match the venv and the version constraint.
fn check_versions(config: &Config, found: &discover::Found, minor: u32, free_threaded: bool, version: &str) -> Result<()> {
    let lib = found.libpython.display();
    if let Some(v) = &found.venv {
        if v.minor != minor {
            return Err(Error::new(
                ErrorKind::Config,
                format!("venv {} was made for Python {}, but the libpython {lib} is Python {version}", v.dir.display(), v.version),
            ));
        }
        // A free-threaded build is another ABI: its packages (lib/python3.Xt/) do not load in
        // the GIL build of the same version, nor the other way round.
        if v.free_threaded != free_threaded {
            let kind = |t: bool| if t { "a free-threaded build" } else { "a GIL build" };
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "venv {} was made by {} of Python {}, but the libpython {lib} is {}",
                    v.dir.display(),
                    kind(v.free_threaded),
                    v.version,
                    kind(free_threaded)
                ),
            ));
        }
    }
    if let Some(want) = config.python_version.as_deref().and_then(discover::parse_constraint) {
        if !want.accepts(minor, free_threaded) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "python_version asks for {}, but {lib} is Python {version}{}",
                    want.shown(),
                    if free_threaded { " (free-threaded)" } else { "" }
                ),
            ));
        }
    }
    Ok(())
}

/// Applies `system_site_packages` (when it overrides the venv's setting) and `site_paths`.
fn adjust_site(api: &'static Api, config: &Config, venv: Option<&discover::Venv>) -> Result<()> {
    let venv_default = venv.map(|v| v.include_system_site_packages);
    let system = match (config.system_site_packages, venv_default) {
        (Some(want), Some(has)) if want != has => Some(want),
        (Some(want), None) => Some(want),
        _ => None,
    };
    if system.is_none() && config.site_paths.is_empty() {
        return Ok(());
    }
    let json = |v: &serde_json::Value| v.to_string(); // a JSON literal is a valid Python literal here
    let code = format!(
        "def __pyrt_site(system, paths):\n    import sys, site\n    if system is not None:\n        base = [p for p in site.getsitepackages([sys.base_prefix]) if p not in site.getsitepackages([sys.prefix]) or sys.prefix == sys.base_prefix]\n        if system:\n            for p in base:\n                site.addsitedir(p)\n        else:\n            sys.path[:] = [p for p in sys.path if p not in base]\n    for p in paths:\n        site.addsitedir(p)\n__pyrt_site({}, {})\ndel __pyrt_site\n",
        match system { Some(true) => "True", Some(false) => "False", None => "None" },
        json(&serde_json::json!(config.site_paths)),
    );
    let code = CString::new(code).map_err(|_| Error::new(ErrorKind::Config, "site_paths must not contain NUL"))?;
    IN_FLIGHT.fetch_add(1, SeqCst);
    let guard =
        CallGuard { api, token: 0, handle: Some(Arc::new(Handle { main_thread: true, ..Handle::default() })), thread: gil::try_thread() };
    guard.with_gil(|py| exec::run_code(py, &code, c"<pyrt site setup>"))
}

type Started = (thread::JoinHandle<()>, InterpreterInfo);

fn start_interpreter(loaded: &'static loader::Loaded, config: &Config, executable: Option<PathBuf>) -> Result<Started> {
    let argv = config.argv.clone().unwrap_or_else(|| vec![String::new()]);
    let home = config.python_home.clone();
    let use_environment = config.use_environment;
    let (signals_mode, sigpipe) = config.signal_settings()?;
    let program_name = executable.map(|p| p.to_string_lossy().into_owned());
    gil::configure_admission();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<InterpreterInfo>>();
    let thread = thread::Builder::new()
        .name("pyrt-python".into())
        .stack_size(8 << 20)
        .spawn(move || {
            let api = &loaded.api;
            signals::set_policy(sigpipe);
            if sigpipe != SigpipePolicy::Off {
                // pyrt's own thread: SIGPIPE stays blocked (Python threads it starts inherit it).
                signals::block_sigpipe_in_thread();
            }
            let sigint_before = signals::action(libc::SIGINT);
            let opts = init::InitOptions {
                minor: loaded.minor,
                program_name: program_name.as_deref(),
                home: home.as_deref(),
                argv: &argv,
                use_environment,
                install_signal_handlers: signals_mode == SignalsMode::Python,
            };
            // SAFETY: first and only initialization, on the thread that will finalize.
            if let Err(e) = unsafe { init::initialize(api, &opts) } {
                let _ = ready_tx.send(Err(e));
                return;
            }
            // SAFETY: `initialize` succeeded on this thread, which holds the GIL now.
            let info = unsafe { interpreter_info(api) };
            // Release the GIL; from here on this thread's state is saved like any caller's.
            // SAFETY: this thread holds the GIL since `initialize`; the main thread state it gets
            // back is parked in the slot, restored by every later section on this thread and,
            // for finalization, by `reclaim_main_thread_state`.
            gil::adopt_main_thread_state(unsafe { (api.PyEval_SaveThread)() });
            signals::set_python_main_thread(true);
            let setup = with_gil(api, |py| {
                if signals_mode == SignalsMode::Host {
                    exec::adopt_host_sigint(py, &sigint_before);
                } else {
                    exec::claim_sigint(py);
                }
                python::module::install(py)?;
                exec::route_python_signals(py)
            });
            if let Err(e) = setup {
                let _ = ready_tx.send(Err(Error::new(ErrorKind::Init, format!("pyrt's interpreter setup failed: {e}"))));
                return;
            }
            if signals_mode == SignalsMode::Python {
                // Python installed its SIGINT handler during initialization.
                signals::route_to_main_thread(libc::SIGINT);
            }
            let _ = ready_tx.send(Ok(info));
            serve(api, signals_mode);
        })
        .map_err(|e| Error::new(ErrorKind::Init, format!("cannot start the interpreter thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(info)) => Ok((thread, info)),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => Err(Error::new(ErrorKind::Init, "the interpreter thread ended during initialization")),
    }
}

/// Reads `sys.executable`/`sys.prefix` and imports `threading` on the interpreter's own thread.
///
/// # Safety
/// The calling thread holds the GIL right after initialization.
unsafe fn interpreter_info(api: &Api) -> InterpreterInfo {
    // SAFETY: the GIL is held (caller). The import returns a new reference, released at once,
    // or NULL with an error set, cleared.
    unsafe {
        let threading = (api.PyImport_ImportModule)(c"threading".as_ptr());
        if threading.is_null() {
            (api.PyErr_Clear)();
        } else {
            (api.Py_DecRef)(threading);
        }
    }
    let text = |name: &CStr| -> String {
        // SAFETY: the GIL is held (caller). `PySys_GetObject` borrows from the `sys` module,
        // which keeps the object alive: no Python code runs before the text is copied out.
        // `PyUnicode_AsUTF8AndSize` returns the str's own UTF-8 buffer, `len` (>= 0) bytes, or
        // NULL with an error set (not a str), which is cleared.
        unsafe {
            let o = (api.PySys_GetObject)(name.as_ptr()); // borrowed
            if o.is_null() {
                return String::new();
            }
            let mut len = 0isize;
            let p = (api.PyUnicode_AsUTF8AndSize)(o, &mut len);
            if p.is_null() {
                (api.PyErr_Clear)();
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len as usize)).into_owned()
        }
    };
    InterpreterInfo { executable: text(c"executable"), prefix: text(c"prefix") }
}

/// The interpreter thread's life after start-up: run main-thread calls until the last handle
/// is freed, then finalize.
fn serve(api: &'static Api, signals_mode: SignalsMode) {
    MAIN.serve(|job| job());
    // Wait for the calls still inside the interpreter (ALIVE is already false: no new ones).
    {
        let mut lock = DRAINED.0.lock().unwrap_or_else(|p| p.into_inner());
        while IN_FLIGHT.load(SeqCst) > 0 {
            lock = DRAINED.1.wait_timeout(lock, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
    handles::release_all();
    with_gil(api, |py| {
        handles::drain(py);
        exec::clear_caches(py);
        exec::flush_stdio(py);
    });
    gil::reclaim_main_thread_state(api);
    // Finalization resets the signals Python handled to SIG_DFL; in host mode the host's own
    // handlers (SIGINT, anything user code touched) come back afterwards.
    let snapshot = (signals_mode == SignalsMode::Host).then(signals::Snapshot::take);
    // SAFETY: on the initializing thread, GIL held, no other call inside (drained above).
    // atexit handlers run and non-daemon threads are joined here, as at interpreter exit.
    unsafe { (api.Py_FinalizeEx)() };
    signals::set_python_main_thread(false);
    // Host functions stay callable until then (atexit handlers may use them).
    python::host::drop_all();
    if let Some(snapshot) = snapshot {
        snapshot.restore_changed();
    }
}

/// Closes a handle; the last one finalizes the interpreter. Unknown or already freed: no-op.
pub fn free(token: u64) {
    let mut state = LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner());
    let removed = HANDLES.write().ok().and_then(|mut h| {
        let removed = h.as_mut().and_then(|h| h.remove(&token));
        HANDLES_GEN.fetch_add(1, Release);
        removed
    });
    let Some(handle) = removed else {
        return;
    };
    if handle.special() {
        SPECIAL_HANDLES.fetch_sub(1, SeqCst);
    }
    // Workers end before anything else (their threads hold main-interpreter thread states).
    if let Some(pool) = &handle.pool {
        pool.shutdown();
    }
    drop(handle);
    let last = match &mut *state {
        Lifecycle::Running(r) => {
            r.handles -= 1;
            r.handles == 0
        }
        _ => false,
    };
    if !last {
        // The interpreter lives on: drop what this handle's objects hold (at the next GIL holder)
        // and its host functions (once their running calls return).
        handles::release_runtime(token);
        python::host::drop_runtime(token);
        return;
    }
    ALIVE.store(false, SeqCst);
    let Lifecycle::Running(running) = std::mem::replace(&mut *state, Lifecycle::Finalized) else { unreachable!() };
    drop(state);
    MAIN.close();
    // Freeing from inside a call (a host callback) cannot wait for itself: the interpreter thread
    // finalizes once that call returns.
    if !gil::in_gil_section() && !MAIN.is_server() {
        let _ = running.owner_thread.join();
    }
}

fn running_info() -> Result<InterpreterInfo> {
    match &*LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner()) {
        Lifecycle::Running(r) => Ok(r.info.clone()),
        Lifecycle::Finalized => Err(Error::finalized()),
        _ => Err(Error::closed()),
    }
}

// ---- operations -------------------------------------------------------------------------------

pub fn run_string(token: u64, code: &CStr) -> Result<()> {
    let guard = enter(token)?;
    // With workers: run in each, so what it defines is there for every later call.
    guard.with_gil_everywhere(|py| exec::run_code(py, code, c"<string>"))
}

pub fn run_file(token: u64, path: &str) -> Result<()> {
    // A closed handle is reported as such, whatever the path names.
    drop(enter(token)?);
    let io_error = |e: std::io::Error| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::FileNotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{path}: {e}"))
    };
    let meta = std::fs::metadata(path).map_err(io_error)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "is a directory" } else { "is not a regular file" };
        return Err(Error::new(ErrorKind::NotAFile, format!("{path}: {what}")));
    }
    let code = std::fs::read(path).map_err(io_error)?;
    let guard = enter(token)?;
    guard.with_gil_everywhere(|py| exec::run_file(py, &code, path))
}

pub fn eval_json(token: u64, expr: &CStr) -> Result<CText> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::eval(py, expr)?;
        convert::to_json_cstring(py, v.as_ptr())
    })
}

/// `args`/`kwargs` are JSON bytes (checked for UTF-8 while parsed).
pub fn call_json(token: u64, module: &str, function: &str, args: Option<&[u8]>, kwargs: Option<&[u8]>) -> Result<CText> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::call_json(py, module, function, args, kwargs)?;
        convert::to_json_cstring(py, v.as_ptr())
    })
}

/// [`call_json`] handing the result's JSON text to `give` (while still holding the GIL: no
/// allocation of its own for the result).
pub fn call_json_with<R: Send>(
    token: u64,
    module: &str,
    function: &str,
    args: Option<&[u8]>,
    kwargs: Option<&[u8]>,
    give: impl FnOnce(&[u8]) -> R + Send,
) -> Result<R> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::call_json(py, module, function, args, kwargs)?;
        convert::with_json(py, v.as_ptr(), give)
    })
}

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

/// Interrupts every call running through `token` now.
pub fn interrupt_runtime(token: u64) -> Result<usize> {
    drop(enter(token)?);
    interrupt(running::Target::Runtime(token))
}

/// Interrupts the call host thread `origin` is making now.
pub fn interrupt_thread(origin: u64) -> Result<usize> {
    interrupt(running::Target::Thread(origin))
}

fn interrupt(target: running::Target) -> Result<usize> {
    let guard = enter_interpreter().map_err(|_| Error::finalized())?;
    let n = guard.with_gil(|py| Ok(running::interrupt_main(py, target)))?;
    // With no GIL held: each worker's interpreter is entered separately.
    Ok(n + running::interrupt_workers(target))
}

/// Takes a capturing handle's accumulated output of one stream.
pub fn output_take(token: u64, stream: u32) -> Result<String> {
    let guard = enter(token)?;
    let handle = guard.handle_state()?;
    let index = match stream {
        capture::STDOUT => 0,
        capture::STDERR => 1,
        _ => return Err(Error::invalid_argument(format!("stream must be PYRT_STDOUT (1) or PYRT_STDERR (2), not {stream}"))),
    };
    let text = std::mem::take(&mut handle.output.lock().unwrap_or_else(|p| p.into_inner())[index]);
    Ok(text)
}

/// Sets the process's output handler (see `pyrt_set_output_handler`).
pub fn set_output_handler(token: u64, handler: Option<(capture::OutputFn, *mut std::ffi::c_void)>) -> Result<()> {
    drop(enter(token)?);
    let handler = handler.map(|(f, u)| (f, u as usize));
    let guard = enter_interpreter()?;
    guard.with_gil(move |py| capture::set_handler(py, handler.map(|(f, u)| (f, u as *mut std::ffi::c_void))))
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

// ---- values and objects (docs/values.md) -------------------------------------------------------

/// `PYRT_VALUE_*` flags: the tagged encoding; handles for values without an encoding.
pub const VALUE_TAGGED: u32 = 1;
pub const VALUE_HANDLES: u32 = 2;

fn mode(flags: u32, runtime: u64) -> Result<ValueMode> {
    if flags & !(VALUE_TAGGED | VALUE_HANDLES) != 0 {
        return Err(Error::invalid_argument(format!("unknown value flags {flags:#x}")));
    }
    Ok(ValueMode { tagged: flags & VALUE_TAGGED != 0, handles_for: (flags & VALUE_HANDLES != 0).then_some(runtime) })
}

/// Admits a call on an object handle (its runtime must still be open).
fn enter_object(object: u64) -> Result<(CallGuard, u64)> {
    let runtime = handles::runtime_of(object)?;
    Ok((enter(runtime)?, runtime))
}

/// Admits the interpreter as a whole (no particular runtime handle): the typed fast path checks
/// the object's runtime itself, under the GIL, in the same table lookup that takes its reference.
#[inline(always)]
fn enter_interpreter() -> Result<CallGuard> {
    IN_FLIGHT.fetch_add(1, SeqCst);
    let api = match python::loaded() {
        Some(l) => &l.api,
        None => {
            IN_FLIGHT.fetch_sub(1, SeqCst);
            return Err(handles::closed_object());
        }
    };
    let guard = CallGuard { api, token: 0, handle: None, thread: Some(gil::thread()) };
    if !ALIVE.load(SeqCst) {
        return Err(handles::closed_object());
    }
    Ok(guard)
}

/// Calls the object `callable` with typed arguments; `read` turns the result into the host value.
pub fn object_call_typed<R: Send>(
    callable: u64,
    args: &crate::args::Args,
    read: impl FnOnce(python::Python, PyRef, u64) -> Result<R> + Send,
) -> Result<R> {
    let mut guard = enter_interpreter()?;
    if SPECIAL_HANDLES.load(SeqCst) > 0 {
        // Some handle has per-call settings: is this object's one of them?
        let runtime = handles::runtime_of(callable)?;
        guard.handle = handle_of(runtime);
        guard.token = runtime;
    }
    guard.with_gil(|py| {
        // Freeing a runtime removes its objects from the table, so finding the object here
        // means its runtime is open (a call racing that free completes, as any concurrent call).
        let (f, runtime) = handles::get_with_runtime(py, callable)?;
        running::set_token(py, runtime);
        let argv = convert::ArgVec::typed(py, &args.items)?;
        let v = exec::call_ptrs(py, f.as_ptr(), argv.as_ptrs());
        if argv.loans.is_empty() {
            drop(argv);
            return read(py, v?, runtime);
        }
        // Host buffers were lent: end the loans before anything reaches the host.
        let (loans, escaped) = argv.finish();
        if !escaped {
            return read(py, v?, runtime);
        }
        let error = v.as_ref().err();
        if !loans.settle(py, error) {
            return v.and_then(|v| read(py, v, runtime));
        }
        match v {
            Ok(result) => {
                // The result itself may be what refers to the buffer.
                drop(result);
                if !loans.settle(py, None) {
                    return Err(python::buffer::result_refers_error());
                }
                Err(python::buffer::escaped_error(None))
            }
            Err(e) => Err(python::buffer::escaped_error(Some(&e))),
        }
    })
}

/// The typed readers of [`object_call_typed`].
#[inline]
pub fn read_double(py: python::Python, v: PyRef, _: u64) -> Result<f64> {
    convert::result_double(py, v.as_ptr())
}
#[inline]
pub fn read_int(py: python::Python, v: PyRef, _: u64) -> Result<i64> {
    convert::result_int(py, v.as_ptr())
}
pub fn read_object(_: python::Python, v: PyRef, runtime: u64) -> Result<u64> {
    handles::register(v, runtime)
}
pub fn read_json(flags: u32) -> impl FnOnce(python::Python, PyRef, u64) -> Result<CText> {
    move |py, v, runtime| convert::to_json_cstring_mode(py, v.as_ptr(), mode(flags, runtime)?)
}

/// `"module:function"` (function may be dotted) → (module, function).
fn split_target(target: &str) -> Result<(&str, &str)> {
    target.split_once(':').ok_or_else(|| Error::invalid_argument(format!("target {target:?} must be \"module:function\"")))
}

fn call_args(py: python::Python, args: Option<&str>, kwargs: Option<&str>, mode: ValueMode) -> Result<(convert::ArgList, Option<PyRef>)> {
    let args = match args {
        None => convert::ArgList::new(),
        Some(text) => convert::args_from_json_mode(py, text, mode)?,
    };
    let kwargs = match kwargs {
        None => None,
        Some(text) => {
            let dict = convert::from_json_mode(py, text, mode)?;
            // SAFETY: `dict` owns a reference to a live object; the `py` token proves the GIL is held.
            if unsafe { python::ffi::py_type(dict.as_ptr()) } != py.api.PyDict_Type {
                return Err(Error::invalid_argument("kwargs_json must be a JSON object"));
            }
            Some(dict)
        }
    };
    Ok((args, kwargs))
}

/// What a call returns to the host: a JSON text or a new object handle.
pub enum Returned {
    Json(CText),
    Object(u64),
}

fn give(py: python::Python, value: PyRef, runtime: u64, as_object: bool, mode: ValueMode) -> Result<Returned> {
    if as_object {
        handles::register(value, runtime).map(Returned::Object)
    } else {
        convert::to_json_cstring_mode(py, value.as_ptr(), mode).map(Returned::Json)
    }
}

/// Calls `module:function` with encoded values.
pub fn call_value(token: u64, target: &str, args: Option<&str>, kwargs: Option<&str>, flags: u32, as_object: bool) -> Result<Returned> {
    let (module, function) = split_target(target)?;
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    if as_object || flags & VALUE_HANDLES != 0 {
        guard.no_workers("an object result")?;
    }
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let callable = exec::lookup(py, module, function)?;
        let v = exec::call(py, &callable, &args, kwargs.as_ref())?;
        give(py, v, token, as_object, mode)
    })
}

/// Imports a module as an object handle.
pub fn object_import(token: u64, module: &str) -> Result<u64> {
    let guard = enter(token)?;
    guard.no_workers("pyrt_import")?;
    guard.with_gil(|py| {
        let c = CString::new(module).map_err(|_| Error::invalid_argument("module contains NUL"))?;
        // SAFETY: the `py` token proves the GIL is held; `c` is NUL-terminated. A new reference
        // (owned by the `PyRef`) or NULL with an error set.
        let m = PyRef::from_owned(unsafe { (py.api.PyImport_ImportModule)(c.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        handles::register(m, token)
    })
}

/// Evaluates an expression in `__main__` and keeps the result as an object handle.
pub fn object_eval(token: u64, expr: &CStr) -> Result<u64> {
    let guard = enter(token)?;
    guard.no_workers("pyrt_eval_object")?;
    guard.with_gil(|py| exec::eval(py, expr).and_then(|v| handles::register(v, token)))
}

/// Builds an object from an encoded value.
pub fn object_from_json(token: u64, json: &str, flags: u32) -> Result<u64> {
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    guard.no_workers("pyrt_object_from_json")?;
    guard.with_gil(|py| convert::from_json_mode(py, json, mode).and_then(|v| handles::register(v, token)))
}

/// The encoding of an object's value.
pub fn object_to_json(object: u64, flags: u32) -> Result<CText> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        convert::to_json_cstring_mode(py, o.as_ptr(), mode)
    })
}

fn name_obj(py: python::Python, name: &str) -> Result<PyRef> {
    // SAFETY: the `py` token proves the GIL is held; `name` is `name.len()` readable bytes (a
    // `&str` is at most isize::MAX long). A new reference or NULL with an error set.
    PyRef::from_owned(unsafe { (py.api.PyUnicode_FromStringAndSize)(name.as_ptr().cast(), name.len() as isize) })
        .ok_or_else(|| exception::fetch(py))
}

/// `getattr(object, name)` as a new handle or as its encoding.
pub fn object_getattr(object: u64, name: &str, flags: u32, as_object: bool) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let n = name_obj(py, name)?;
        // SAFETY: `o` and `n` own references to live objects; the `py` token proves the GIL is held.
        let v = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(o.as_ptr(), n.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `setattr(object, name, value)`, the value given encoded or as another handle.
pub fn object_setattr(object: u64, name: &str, value_json: Option<&str>, value_object: Option<u64>, flags: u32) -> Result<()> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let v = match (value_json, value_object) {
            (Some(json), _) => convert::from_json_mode(py, json, mode)?,
            (None, Some(h)) => handles::get(py, h)?,
            (None, None) => return Err(Error::invalid_argument("no value")),
        };
        let n = name_obj(py, name)?;
        // SAFETY: `o`, `n` and `v` own references to live objects (SetAttr takes its own reference
        // to the value); the `py` token proves the GIL is held.
        if unsafe { (py.api.PyObject_SetAttr)(o.as_ptr(), n.as_ptr(), v.as_ptr()) } != 0 {
            return Err(exception::fetch(py));
        }
        Ok(())
    })
}

/// Calls the object itself (`method` None) or its method `method`.
pub fn object_call(
    object: u64,
    method: Option<&str>,
    args: Option<&str>,
    kwargs: Option<&str>,
    flags: u32,
    as_object: bool,
) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let mut callable = handles::get(py, object)?;
        if let Some(m) = method {
            let n = name_obj(py, m)?;
            // SAFETY: `callable` and `n` own references to live objects; the `py` token proves the
            // GIL is held. The old `callable` is dropped only after the call returns.
            callable = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(callable.as_ptr(), n.as_ptr()) })
                .ok_or_else(|| exception::fetch(py))?;
        }
        let v = exec::call(py, &callable, &args, kwargs.as_ref())?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `repr(object)` or `str(object)`.
pub fn object_text(object: u64, repr: bool) -> Result<CString> {
    let (guard, _) = enter_object(object)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let f = if repr { py.api.PyObject_Repr } else { py.api.PyObject_Str };
        // SAFETY: `f` is `PyObject_Repr` or `PyObject_Str`; `o` owns a reference to a live object and
        // the `py` token proves the GIL is held. A new reference or NULL with an error set.
        let s = PyRef::from_owned(unsafe { f(o.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        let text = exception::utf8_of(py, s.as_ptr())
            .ok_or_else(|| Error::new(ErrorKind::Conversion, "text is not valid UTF-8 (lone surrogates)"))?;
        CString::new(text.replace('\0', "\\x00")).map_err(|_| Error::new(ErrorKind::Internal, "NUL in text"))
    })
}

/// A view of an object's buffer (`pyrt_object_buffer`).
pub fn object_buffer(object: u64, writable: bool, contiguous: bool) -> Result<python::buffer::Export> {
    let (guard, _) = enter_object(object)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        python::buffer::Export::new(py, o.as_ptr(), writable, contiguous)
    })
}

/// Copies an object's whole buffer to `dst` in C order (`pyrt_object_buffer_copy`); returns
/// the size needed and whether the copy was made.
pub fn object_buffer_copy(object: u64, dst: *mut std::ffi::c_void, dst_len: usize) -> Result<(usize, Result<()>)> {
    let (guard, _) = enter_object(object)?;
    let dst = dst as usize;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        let export = python::buffer::Export::new(py, o.as_ptr(), false, false)?;
        let needed = export.len();
        let copied = export.copy_to(py, dst as *mut std::ffi::c_void, dst_len);
        export.release(py);
        Ok((needed, copied))
    })
}

/// Copies a held buffer view to `dst` in C order (`pyrt_buffer_copy`).
pub fn buffer_copy(b: &python::buffer::Export, dst: *mut std::ffi::c_void, dst_len: usize) -> Result<()> {
    let guard = enter_interpreter()?;
    let dst = dst as usize;
    guard.with_gil(|py| b.copy_to(py, dst as *mut std::ffi::c_void, dst_len))
}

/// Releases an object handle; from any thread, without the GIL, never blocking on Python.
pub fn object_free(object: u64) {
    handles::release(object);
}
