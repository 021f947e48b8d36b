//! The interpreter's one lifecycle per process: opening a handle (starting CPython on its own
//! thread the first time), the interpreter thread's life, and freeing a handle (the last one
//! finalizes).

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering::Release, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use super::guard::{enter_interpreter, CallGuard, MAIN};
use super::handles::{add_handle, Handle, HANDLES, HANDLES_GEN, SPECIAL_HANDLES};
use crate::config::Config;
use crate::discover;
use crate::error::{Error, ErrorKind, Result};
use crate::python::{self, exec, ffi::Api, gil, handles, init, liveness, loader, with_gil};
use crate::signals::{self, SignalsMode, SigpipePolicy};

/// What the interpreter thread learned at start-up (for `info_json`).
#[derive(Debug, Clone)]
pub(super) struct InterpreterInfo {
    pub(super) executable: String,
    pub(super) prefix: String,
}

struct Running {
    config: Config,
    handles: usize,
    info: InterpreterInfo,
    owner_thread: thread::JoinHandle<()>,
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

fn conflict(message: String) -> Error {
    Error::new(ErrorKind::LibpythonConflict, message)
}

/// The worker sub-interpreters a handle asks for (`workers`), started; `None` when it asks for
/// none, or below 3.12, where its calls run in the main interpreter (set up there, once).
fn workers_for(config: &Config) -> Result<Option<Arc<python::workers::Pool>>> {
    let requested = config.workers.unwrap_or(0);
    if requested == 0 {
        return Ok(None);
    }
    let api = &python::loaded().expect("running implies loaded").api;
    let setup = python::workers::Setup { modules: config.worker_modules.clone(), code: config.worker_setup.clone() };
    if python::workers::Pool::supported(api) {
        return Ok(Some(Arc::new(python::workers::Pool::start(api, requested, setup)?)));
    }
    let guard = enter_interpreter()?;
    guard.with_gil(|py| python::workers::setup_main(py, &setup))?;
    Ok(None)
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
            let token = add_handle(&config, workers_for(&config)?);
            r.handles += 1;
            Ok(token)
        }
        Lifecycle::Uninit => {
            // A managed venv is made ready before discovery reads it; progress goes to stderr
            // (hosts that want it elsewhere call pyrt_venv_ensure first).
            crate::environment::ensure(&config, &mut |line| eprintln!("{line}"))?;
            crate::stats::set_enabled(config.stats.unwrap_or(true));
            crate::stats::init();
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
                    liveness::set_alive(true);
                    let handle = workers_for(&config).map(|pool| add_handle(&config, pool));
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
    if let Some(want) = config.python_version.as_deref().and_then(crate::config::parse_constraint) {
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
    let in_flight = liveness::count_in();
    let guard = CallGuard {
        api,
        token: 0,
        handle: Some(Arc::new(Handle { main_thread: true, ..Handle::default() })),
        thread: gil::try_thread(),
        admitted: 0,
        pin: 0,
        _in_flight: in_flight,
    };
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
            // for finalization, by `reclaim_main_thread_state` (`adopt_main_thread_state`'s contract).
            unsafe { gil::adopt_main_thread_state((api.PyEval_SaveThread)()) };
            signals::set_python_main_thread(true);
            let setup = with_gil(api, |py| {
                if signals_mode == SignalsMode::Host {
                    exec::adopt_host_sigint(py, &sigint_before);
                } else {
                    exec::claim_sigint(py);
                }
                python::module::install(py)?;
                python::exception::preload(py)?;
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
    MAIN.serve(|job| {
        // This thread runs Python now, as a gated call does (it is not gated: `gil`): threads
        // that spin for its result must not count it as another process's.
        crate::spin::OCCUPIED.fetch_add(1, SeqCst);
        job();
        crate::spin::OCCUPIED.fetch_sub(1, SeqCst);
    });
    // Wait for the calls still inside the interpreter (it is closed already: no new ones), then
    // for workers closed from inside their own calls.
    liveness::wait_drained();
    python::workers::join_detached();
    handles::release_all();
    with_gil(api, |py| {
        handles::drain(py);
        // The event loop stops (its tasks cancelled and through their cleanup) before anything else.
        python::aio::shutdown(py);
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
    crate::stats::close(token);
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
        python::aio::close_runtime(token);
        return;
    }
    python::aio::close_runtime(token);
    liveness::set_alive(false);
    let Lifecycle::Running(running) = std::mem::replace(&mut *state, Lifecycle::Finalized) else { unreachable!() };
    drop(state);
    MAIN.close();
    // Freeing from inside a call (a host callback) cannot wait for itself: the interpreter thread
    // finalizes once that call returns.
    if !gil::in_gil_section() && !MAIN.is_server() {
        let _ = running.owner_thread.join();
    }
}

pub(super) fn running_info() -> Result<InterpreterInfo> {
    match &*LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner()) {
        Lifecycle::Running(r) => Ok(r.info.clone()),
        Lifecycle::Finalized => Err(Error::finalized()),
        _ => Err(Error::closed()),
    }
}

/// Makes a config's managed venv ready (see crate::environment) without starting Python,
/// reporting progress lines to `progress`.
pub fn venv_ensure(config_text: Option<&str>, progress: &mut dyn FnMut(&str)) -> Result<()> {
    let config = Config::parse(config_text)?;
    if !crate::environment::wanted(&config) {
        return Err(Error::new(ErrorKind::Config, "the config has no \"requirements\" or \"requirements_file\""));
    }
    crate::environment::ensure(&config, progress)
}
