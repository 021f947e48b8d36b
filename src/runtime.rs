//! The executor: one CPython interpreter per process, shared by every runtime handle.
//!
//! * CPython is initialized on a thread pyrt owns ("pyrt-python"); that thread also finalizes it,
//!   because finalizing from another thread hangs on 3.9-3.12 (HAZARDS §3.5). It is Python's main
//!   thread, and imports `threading` right away so `threading.main_thread()` is right (§3.4).
//! * Calls run on the caller's thread, holding the GIL only inside the call (`python::gil`).
//! * Handles are tokens looked up in a table, never dereferenced: a freed or bogus handle is an
//!   error (`Closed`), not a crash.
//! * Freeing the last handle finalizes the interpreter, after the calls in flight return. CPython
//!   cannot be re-initialized safely (§7), so from then on `new` fails with `Finalized`.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, RwLock};
use std::thread;
use std::time::Duration;

use crate::config::Config;
use crate::discover;
use crate::error::{Error, ErrorKind, Result};
use crate::python::convert::ValueMode;
use crate::python::{self, convert, exception, exec, ffi::Api, gil, init, loader, objects, with_gil, PyRef};

/// What the interpreter thread learned at start-up (for `info_json`).
#[derive(Debug, Clone)]
struct InterpreterInfo {
    executable: String,
    prefix: String,
}

enum OwnerMessage {
    Shutdown(mpsc::Sender<()>),
}

struct Running {
    config: Config,
    handles: usize,
    info: InterpreterInfo,
    owner: mpsc::Sender<OwnerMessage>,
    owner_thread: thread::JoinHandle<()>,
}

enum Lifecycle {
    Uninit,
    Running(Running),
    /// Initialization was attempted and failed; CPython cannot be retried in this process.
    Failed(Error),
    Finalized,
}

static LIFECYCLE: Mutex<Lifecycle> = Mutex::new(Lifecycle::Uninit);
static HANDLES: RwLock<Option<HashSet<u64>>> = RwLock::new(None);
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0x7079_0000);
/// True while the interpreter accepts calls.
static ALIVE: AtomicBool = AtomicBool::new(false);
/// Calls (and thread teardowns) currently inside the interpreter.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static DRAINED: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Keeps the interpreter from being finalized while a call is inside it.
pub struct CallGuard {
    api: &'static Api,
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
    /// Runs `f` with the GIL held (first dropping references released without it).
    pub fn with_gil<R>(&self, f: impl FnOnce(python::Python<'_>) -> R) -> R {
        with_gil(self.api, |py| {
            objects::drain(py);
            f(py)
        })
    }
}

fn is_open(token: u64) -> bool {
    HANDLES.read().map(|h| h.as_ref().is_some_and(|h| h.contains(&token))).unwrap_or(false)
}

/// Admits one call on `token`: the handle must be open and the interpreter alive.
pub fn enter(token: u64) -> Result<CallGuard> {
    IN_FLIGHT.fetch_add(1, SeqCst);
    // Build the guard first so every early return below undoes the increment.
    let guard = CallGuard { api: match python::loaded() { Some(l) => &l.api, None => { IN_FLIGHT.fetch_sub(1, SeqCst); return Err(Error::closed()) } } };
    if !is_open(token) {
        return Err(Error::closed());
    }
    if !ALIVE.load(SeqCst) {
        return Err(Error::finalized());
    }
    Ok(guard)
}

/// Admits a thread's exit-time cleanup of its Python thread state, if the interpreter still runs.
pub(crate) fn enter_teardown() -> Option<CallGuard> {
    let api = &python::loaded()?.api;
    IN_FLIGHT.fetch_add(1, SeqCst);
    let guard = CallGuard { api };
    ALIVE.load(SeqCst).then_some(guard)
}

fn new_token() -> u64 {
    NEXT_TOKEN.fetch_add(8, SeqCst)
}

fn add_handle() -> u64 {
    let token = new_token();
    HANDLES.write().expect("handle table lock").get_or_insert_with(HashSet::new).insert(token);
    token
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
        Lifecycle::Failed(e) => Err(Error::new(e.kind, format!("Python failed to initialize earlier in this process and cannot be retried: {}", e.message))),
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
            r.handles += 1;
            Ok(add_handle())
        }
        Lifecycle::Uninit => {
            let found = discover::discover(&config, std::env::var("PYRT_LIBPYTHON").ok())?;
            let loaded = loader::load(&found.libpython, &|minor, version| check_versions(&config, &found, minor, version))?;
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
                Ok((owner, owner_thread, info)) => {
                    ALIVE.store(true, SeqCst);
                    *state = Lifecycle::Running(Running { config, handles: 1, info, owner, owner_thread });
                    Ok(add_handle())
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
fn check_versions(config: &Config, found: &discover::Found, minor: u32, version: &str) -> Result<()> {
    let lib = found.libpython.display();
    if let Some(v) = &found.venv {
        if v.minor != minor {
            return Err(Error::new(ErrorKind::Config, format!("venv {} was made for Python {}, but the libpython {lib} is Python {version}", v.dir.display(), v.version)));
        }
    }
    if let Some(want) = config.python_version.as_deref().and_then(discover::parse_constraint) {
        if want != minor {
            return Err(Error::new(ErrorKind::Config, format!("python_version asks for 3.{want}, but {lib} is Python {version}")));
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
    let guard = CallGuard { api };
    guard.with_gil(|py| exec::run_code(py, &code, c"<pyrt site setup>"))
}

type Started = (mpsc::Sender<OwnerMessage>, thread::JoinHandle<()>, InterpreterInfo);

fn start_interpreter(loaded: &'static loader::Loaded, config: &Config, executable: Option<PathBuf>) -> Result<Started> {
    let argv = config.argv.clone().unwrap_or_else(|| vec![String::new()]);
    let home = config.python_home.clone();
    let use_environment = config.use_environment;
    let program_name = executable.map(|p| p.to_string_lossy().into_owned());
    let (ready_tx, ready_rx) = mpsc::channel::<Result<InterpreterInfo>>();
    let (owner_tx, owner_rx) = mpsc::channel::<OwnerMessage>();
    let thread = thread::Builder::new()
        .name("pyrt-python".into())
        .stack_size(8 << 20)
        .spawn(move || {
            let api = &loaded.api;
            let opts = init::InitOptions { minor: loaded.minor, program_name: program_name.as_deref(), home: home.as_deref(), argv: &argv, use_environment };
            // SAFETY: first and only initialization, on the thread that will finalize.
            if let Err(e) = unsafe { init::initialize(api, &opts) } {
                let _ = ready_tx.send(Err(e));
                return;
            }
            let info = unsafe { interpreter_info(api) };
            // Release the GIL; from here on this thread's state is saved like any caller's.
            gil::adopt_main_thread_state(unsafe { (api.PyEval_SaveThread)() });
            let _ = ready_tx.send(Ok(info));
            serve(api, owner_rx);
        })
        .map_err(|e| Error::new(ErrorKind::Init, format!("cannot start the interpreter thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(info)) => Ok((owner_tx, thread, info)),
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
    let threading = (api.PyImport_ImportModule)(c"threading".as_ptr());
    if threading.is_null() {
        (api.PyErr_Clear)();
    } else {
        (api.Py_DecRef)(threading);
    }
    let text = |name: &CStr| -> String {
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
        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len as usize)).into_owned()
    };
    InterpreterInfo { executable: text(c"executable"), prefix: text(c"prefix") }
}

/// The interpreter thread's life after start-up: wait for shutdown, then finalize.
fn serve(api: &'static Api, inbox: mpsc::Receiver<OwnerMessage>) {
    let reply = match inbox.recv() {
        Ok(OwnerMessage::Shutdown(reply)) => Some(reply),
        Err(_) => None,
    };
    // Wait for the calls still inside the interpreter (ALIVE is already false: no new ones).
    {
        let mut lock = DRAINED.0.lock().unwrap_or_else(|p| p.into_inner());
        while IN_FLIGHT.load(SeqCst) > 0 {
            lock = DRAINED.1.wait_timeout(lock, Duration::from_millis(20)).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
    objects::release_all();
    with_gil(api, |py| {
        objects::drain(py);
        exec::clear_caches(py);
        exec::flush_stdio(py);
    });
    gil::reclaim_main_thread_state(api);
    // SAFETY: on the initializing thread, GIL held, no other call inside (drained above).
    // atexit handlers run and non-daemon threads are joined here, as at interpreter exit.
    unsafe { (api.Py_FinalizeEx)() };
    if let Some(reply) = reply {
        let _ = reply.send(());
    }
}

/// Closes a handle; the last one finalizes the interpreter. Unknown or already freed: no-op.
pub fn free(token: u64) {
    let mut state = LIFECYCLE.lock().unwrap_or_else(|p| p.into_inner());
    let removed = HANDLES.write().map(|mut h| h.as_mut().is_some_and(|h| h.remove(&token))).unwrap_or(false);
    if !removed {
        return;
    }
    let last = match &mut *state {
        Lifecycle::Running(r) => {
            r.handles -= 1;
            r.handles == 0
        }
        _ => false,
    };
    if !last {
        // The interpreter lives on: drop what this handle's objects hold (at the next GIL holder).
        objects::release_runtime(token);
        return;
    }
    ALIVE.store(false, SeqCst);
    let Lifecycle::Running(running) = std::mem::replace(&mut *state, Lifecycle::Finalized) else { unreachable!() };
    drop(state);
    let (tx, rx) = mpsc::channel();
    if running.owner.send(OwnerMessage::Shutdown(tx)).is_err() {
        return;
    }
    // Freeing from inside a call (a host callback) cannot wait for itself: the interpreter thread
    // finalizes once that call returns.
    if !gil::in_gil_section() {
        let _ = rx.recv();
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
    guard.with_gil(|py| exec::run_code(py, code, c"<string>"))
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
    guard.with_gil(|py| exec::run_file(py, &code, path))
}

pub fn eval_json(token: u64, expr: &CStr) -> Result<CString> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::eval(py, expr)?;
        convert::to_json_cstring(py, v.as_ptr())
    })
}

pub fn call_json(token: u64, module: &str, function: &str, args: Option<&str>, kwargs: Option<&str>) -> Result<CString> {
    let guard = enter(token)?;
    guard.with_gil(|py| {
        let v = exec::call_json(py, module, function, args, kwargs)?;
        convert::to_json_cstring(py, v.as_ptr())
    })
}

pub fn info_json(token: u64) -> Result<CString> {
    let _guard = enter(token)?;
    let info = running_info()?;
    let loaded = python::loaded().expect("running implies loaded");
    let value = serde_json::json!({
        "pyrt_version": crate::VERSION,
        "python_version": loaded.version,
        "libpython": loaded.path.to_string_lossy(),
        "executable": info.executable,
        "prefix": info.prefix,
    });
    Ok(CString::new(value.to_string()).expect("JSON has no NUL"))
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
    let runtime = objects::runtime_of(object)?;
    Ok((enter(runtime)?, runtime))
}

/// Admits the interpreter as a whole (no particular runtime handle): the typed fast path checks
/// the object's runtime itself, under the GIL, in the same table lookup that takes its reference.
fn enter_interpreter() -> Result<CallGuard> {
    IN_FLIGHT.fetch_add(1, SeqCst);
    let api = match python::loaded() {
        Some(l) => &l.api,
        None => {
            IN_FLIGHT.fetch_sub(1, SeqCst);
            return Err(objects::closed_object());
        }
    };
    let guard = CallGuard { api };
    if !ALIVE.load(SeqCst) {
        return Err(objects::closed_object());
    }
    Ok(guard)
}

/// Calls the object `callable` with typed arguments; `read` turns the result into the host value.
pub fn object_call_typed<R>(callable: u64, args: &crate::args::Args, read: impl FnOnce(python::Python, PyRef, u64) -> Result<R>) -> Result<R> {
    let guard = enter_interpreter()?;
    guard.with_gil(|py| {
        // Freeing a runtime removes its objects from the table, so finding the object here
        // means its runtime is open (a call racing that free completes, as any concurrent call).
        let (f, runtime) = objects::get_with_runtime(py, callable)?;
        let v = if args.items.len() <= 8 {
            // The common case builds the argument vector on the stack.
            let mut slots: [Option<PyRef>; 8] = Default::default();
            for (slot, a) in slots.iter_mut().zip(&args.items) {
                *slot = Some(convert::arg_to_py(py, a)?);
            }
            let n = args.items.len();
            // SAFETY: Option<PyRef> is a nullable pointer (PyRef is a transparent NonNull), and the
            // first n slots are Some.
            let refs: &[PyRef] = unsafe { std::slice::from_raw_parts(slots.as_ptr() as *const PyRef, n) };
            exec::call(py, &f, refs, None)?
        } else {
            let argv = args.items.iter().map(|a| convert::arg_to_py(py, a)).collect::<Result<Vec<_>>>()?;
            exec::call(py, &f, &argv, None)?
        };
        read(py, v, runtime)
    })
}

/// The typed readers of [`object_call_typed`].
pub fn read_double(py: python::Python, v: PyRef, _: u64) -> Result<f64> {
    convert::result_double(py, v.as_ptr())
}
pub fn read_int(py: python::Python, v: PyRef, _: u64) -> Result<i64> {
    convert::result_int(py, v.as_ptr())
}
pub fn read_object(_: python::Python, v: PyRef, runtime: u64) -> Result<u64> {
    Ok(objects::register(v, runtime))
}
pub fn read_json(flags: u32) -> impl FnOnce(python::Python, PyRef, u64) -> Result<CString> {
    move |py, v, runtime| convert::to_json_cstring_mode(py, v.as_ptr(), mode(flags, runtime)?)
}

/// `"module:function"` (function may be dotted) → (module, function).
fn split_target(target: &str) -> Result<(&str, &str)> {
    target.split_once(':').ok_or_else(|| Error::invalid_argument(format!("target {target:?} must be \"module:function\"")))
}

fn call_args(py: python::Python, args: Option<&str>, kwargs: Option<&str>, mode: ValueMode) -> Result<(Vec<PyRef>, Option<PyRef>)> {
    let args = match args {
        None => Vec::new(),
        Some(text) => convert::args_from_json_mode(py, text, mode)?,
    };
    let kwargs = match kwargs {
        None => None,
        Some(text) => {
            let dict = convert::from_json_mode(py, text, mode)?;
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
    Json(CString),
    Object(u64),
}

fn give(py: python::Python, value: PyRef, runtime: u64, as_object: bool, mode: ValueMode) -> Result<Returned> {
    if as_object {
        Ok(Returned::Object(objects::register(value, runtime)))
    } else {
        convert::to_json_cstring_mode(py, value.as_ptr(), mode).map(Returned::Json)
    }
}

/// Calls `module:function` with encoded values.
pub fn call_value(token: u64, target: &str, args: Option<&str>, kwargs: Option<&str>, flags: u32, as_object: bool) -> Result<Returned> {
    let (module, function) = split_target(target)?;
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
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
    guard.with_gil(|py| {
        let c = CString::new(module).map_err(|_| Error::invalid_argument("module contains NUL"))?;
        let m = PyRef::from_owned(unsafe { (py.api.PyImport_ImportModule)(c.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        Ok(objects::register(m, token))
    })
}

/// Evaluates an expression in `__main__` and keeps the result as an object handle.
pub fn object_eval(token: u64, expr: &CStr) -> Result<u64> {
    let guard = enter(token)?;
    guard.with_gil(|py| exec::eval(py, expr).map(|v| objects::register(v, token)))
}

/// Builds an object from an encoded value.
pub fn object_from_json(token: u64, json: &str, flags: u32) -> Result<u64> {
    let mode = mode(flags, token)?;
    let guard = enter(token)?;
    guard.with_gil(|py| convert::from_json_mode(py, json, mode).map(|v| objects::register(v, token)))
}

/// The encoding of an object's value.
pub fn object_to_json(object: u64, flags: u32) -> Result<CString> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = objects::get(py, object)?;
        convert::to_json_cstring_mode(py, o.as_ptr(), mode)
    })
}

fn name_obj(py: python::Python, name: &str) -> Result<PyRef> {
    PyRef::from_owned(unsafe { (py.api.PyUnicode_FromStringAndSize)(name.as_ptr().cast(), name.len() as isize) }).ok_or_else(|| exception::fetch(py))
}

/// `getattr(object, name)` as a new handle or as its encoding.
pub fn object_getattr(object: u64, name: &str, flags: u32, as_object: bool) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = objects::get(py, object)?;
        let n = name_obj(py, name)?;
        let v = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(o.as_ptr(), n.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `setattr(object, name, value)`, the value given encoded or as another handle.
pub fn object_setattr(object: u64, name: &str, value_json: Option<&str>, value_object: Option<u64>, flags: u32) -> Result<()> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let o = objects::get(py, object)?;
        let v = match (value_json, value_object) {
            (Some(json), _) => convert::from_json_mode(py, json, mode)?,
            (None, Some(h)) => objects::get(py, h)?,
            (None, None) => return Err(Error::invalid_argument("no value")),
        };
        let n = name_obj(py, name)?;
        if unsafe { (py.api.PyObject_SetAttr)(o.as_ptr(), n.as_ptr(), v.as_ptr()) } != 0 {
            return Err(exception::fetch(py));
        }
        Ok(())
    })
}

/// Calls the object itself (`method` None) or its method `method`.
pub fn object_call(object: u64, method: Option<&str>, args: Option<&str>, kwargs: Option<&str>, flags: u32, as_object: bool) -> Result<Returned> {
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let (args, kwargs) = call_args(py, args, kwargs, mode)?;
        let mut callable = objects::get(py, object)?;
        if let Some(m) = method {
            let n = name_obj(py, m)?;
            callable = PyRef::from_owned(unsafe { (py.api.PyObject_GetAttr)(callable.as_ptr(), n.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        }
        let v = exec::call(py, &callable, &args, kwargs.as_ref())?;
        give(py, v, runtime, as_object, mode)
    })
}

/// `repr(object)` or `str(object)`.
pub fn object_text(object: u64, repr: bool) -> Result<CString> {
    let (guard, _) = enter_object(object)?;
    guard.with_gil(|py| {
        let o = objects::get(py, object)?;
        let f = if repr { py.api.PyObject_Repr } else { py.api.PyObject_Str };
        let s = PyRef::from_owned(unsafe { f(o.as_ptr()) }).ok_or_else(|| exception::fetch(py))?;
        let text = exception::utf8_of(py, s.as_ptr()).ok_or_else(|| Error::new(ErrorKind::Conversion, "text is not valid UTF-8 (lone surrogates)"))?;
        CString::new(text.replace('\0', "\\x00")).map_err(|_| Error::new(ErrorKind::Internal, "NUL in text"))
    })
}

/// Releases an object handle; from any thread, without the GIL, never blocking on Python.
pub fn object_free(object: u64) {
    objects::release(object);
}

/// Turns a Python exception pending on this thread into an error (used by the typed paths).
pub fn pending_error(py: python::Python) -> Error {
    exception::fetch(py)
}
