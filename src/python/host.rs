//! Host functions as Python callables: Python code calls a C (or Go) function of the host.
//!
//! A registration is a function pointer, its user data and an optional destructor, under a
//! number. Python sees a built-in function whose `self` is that number; calling it converts the
//! arguments to the tagged encoding (objects without one become handles, valid for the duration
//! of the call), releases the GIL, calls the host, takes the GIL back and turns the host's reply
//! into the return value or an exception: `_pyrt.HostError(message)`, or — when the host passes
//! on the error of a nested pyrt call — that call's Python exception, unchanged.
//!
//! Releasing the GIL around the host makes re-entrancy work: the host may call back into pyrt on
//! the same thread (the thread's state is parked for it) or hand work to another thread that
//! calls pyrt. A registration is dropped — and its destructor runs — once it was unregistered
//! (or its runtime freed) and no call of it is still running.

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::convert::{self, ValueMode};
use super::exception::OrFetch;
use super::facade::{Borrowed, Exc};
use super::ffi::{PyMethodDef, PyPtr, METH_KEYWORDS, METH_VARARGS};
use super::{exception, handles, PyRef, Python};
use crate::error::{Error, ErrorKind, ExceptionRef, Result};

/// `int32_t fn(void *user_data, const char *args_json, const char *kwargs_json, pyrt_reply *reply)`
pub type HostFn = unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *mut Reply) -> i32;
/// `void destroy(void *user_data)`
pub type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// What the host answers (through `pyrt_reply_*`), filled during the callback.
#[derive(Default)]
pub struct Reply {
    value: Option<String>,
    error: Option<String>,
    exception: Option<ExceptionRef>,
}

thread_local! {
    /// The replies of the host calls running on this thread, innermost last. A `pyrt_reply`
    /// pointer is only used after it is found here, so a reply kept past its callback, or used
    /// from another thread, is an error rather than a write to freed stack memory.
    static OPEN_REPLIES: std::cell::RefCell<Vec<*mut Reply>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on the reply `r` if it belongs to a host call running on this thread.
pub fn with_open_reply<R>(r: *mut Reply, f: impl FnOnce(&mut Reply) -> R) -> Option<R> {
    let open = OPEN_REPLIES.with(|o| o.borrow().contains(&r));
    // SAFETY: `r` is the address of a Reply on the stack of `call_host`, which is still running
    // on this thread (it removes the address before the Reply goes away) and is not using it.
    open.then(|| f(unsafe { &mut *r }))
}

impl Reply {
    pub fn set_value(&mut self, json: &str) {
        self.value = Some(json.to_owned());
    }
    pub fn set_error(&mut self, message: &str) {
        self.error = Some(message.to_owned());
    }
    /// Re-raise `e`'s Python exception if it has one, else a HostError with its message.
    pub fn set_exception(&mut self, e: &Error) {
        match &e.exception {
            Some(x) => self.exception = Some(x.clone()),
            None => self.error = Some(e.to_string()),
        }
    }
}

struct Registration {
    f: HostFn,
    user_data: usize,
    destroy: Option<DestroyFn>,
    /// Set once the function was installed: only then does the destructor own the user data.
    armed: std::sync::atomic::AtomicBool,
    runtime: u64,
    module: String,
    name: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        if let Some(d) = self.destroy {
            // SAFETY: the host gave `destroy` and `user_data` together at registration, promising
            // that `destroy(user_data)` may be called once, from any thread, once pyrt is done with
            // them. Armed: the install succeeded, so the user data is pyrt's to release (before
            // that the caller keeps it). This is the last `Arc`'s drop, so it runs once, and no
            // call of the function is running (each holds a clone for its duration).
            unsafe { d(self.user_data as *mut c_void) };
        }
    }
}

static REGISTRY: Mutex<Option<HashMap<u64, Arc<Registration>>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);
/// Host calls in progress (diagnostics and tests).
pub static ACTIVE: AtomicUsize = AtomicUsize::new(0);

fn registry() -> std::sync::MutexGuard<'static, Option<HashMap<u64, Arc<Registration>>>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Method definitions by function name; CPython keeps a pointer to one in every function
/// object, which may outlive its registration, so they live as long as the process (one per
/// distinct name).
static DEFS: Mutex<Option<HashMap<String, &'static PyMethodDef>>> = Mutex::new(None);

fn def_for(name: &str) -> Result<&'static PyMethodDef> {
    let mut defs = DEFS.lock().unwrap_or_else(|p| p.into_inner());
    let defs = defs.get_or_insert_with(HashMap::new);
    if let Some(d) = defs.get(name) {
        return Ok(d);
    }
    let cname: &'static CStr = Box::leak(CString::new(name).map_err(|_| Error::invalid_argument("name contains NUL"))?.into_boxed_c_str());
    let def: &'static PyMethodDef = Box::leak(Box::new(PyMethodDef {
        ml_name: cname.as_ptr(),
        ml_meth: call as *const c_void,
        ml_flags: METH_VARARGS | METH_KEYWORDS,
        ml_doc: c"A function of the host program, registered with pyrt.".as_ptr(),
    }));
    defs.insert(name.to_owned(), def);
    Ok(def)
}

fn valid_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The module `name`, imported, or created empty (and put in `sys.modules`) when there is none.
fn module_for(py: Python, name: &str) -> Result<PyRef> {
    let c = CString::new(name).map_err(|_| Error::invalid_argument("module contains NUL"))?;
    if let Ok(m) = py.import(&c) {
        return Ok(m);
    }
    let e = exception::fetch(py);
    if e.python.as_ref().map(|p| p.type_name.as_str()) != Some("ModuleNotFoundError") {
        return Err(e);
    }
    let m = py.new_module(&c).or_fetch(py)?;
    py.declare_no_gil(&m);
    py.dict_set_str(&py.sys_modules(), &c, &m).or_fetch(py)?;
    Ok(m)
}

/// Creates the registration of `module.name` (no GIL needed); [`install`] then puts the
/// function into an interpreter (the main one, or each worker). Returns its number.
pub fn create(runtime: u64, module: &str, name: &str, f: HostFn, user_data: *mut c_void, destroy: Option<DestroyFn>) -> Result<u64> {
    if module.is_empty() || !module.split('.').all(valid_identifier) {
        return Err(Error::invalid_argument(format!("module {module:?} is not a valid module name")));
    }
    if !valid_identifier(name) {
        return Err(Error::invalid_argument(format!("name {name:?} is not a valid Python identifier")));
    }
    def_for(name)?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let reg = Arc::new(Registration {
        f,
        user_data: user_data as usize,
        destroy,
        armed: std::sync::atomic::AtomicBool::new(false),
        runtime,
        module: module.into(),
        name: name.into(),
    });
    registry().get_or_insert_with(HashMap::new).insert(id, reg);
    Ok(id)
}

/// Puts registration `id` into the current interpreter as `module.name`. GIL held.
pub fn install(py: Python, id: u64) -> Result<()> {
    let reg = registry().as_ref().and_then(|m| m.get(&id).cloned()).ok_or_else(|| Error::invalid_argument("no such host function"))?;
    let def = def_for(&reg.name)?;
    let m = module_for(py, &reg.module)?;
    let key = py.new_int(id as i64).or_fetch(py)?;
    let modname = py.new_str(&reg.module).or_fetch(py)?;
    // SAFETY: `def` is leaked (`def_for`), so `'static`; its `ml_meth` is `call`, a
    // METH_VARARGS | METH_KEYWORDS function as its flags say, and its name a leaked C string.
    let func = unsafe { py.new_function(def, Some(&key), Some(&modname)) }.or_fetch(py)?;
    let cname = CString::new(reg.name.as_str()).expect("checked");
    py.setattr_str(&m, &cname, &func).or_fetch(py)
}

/// Arms registration `id`'s destructor and drops older registrations of the same name, once
/// its function was installed everywhere.
pub fn activate(id: u64) {
    let old: Vec<Arc<Registration>> = {
        let mut r = registry();
        let map = r.get_or_insert_with(HashMap::new);
        let Some(reg) = map.get(&id) else { return };
        reg.armed.store(true, Ordering::SeqCst);
        let (module, name) = (reg.module.clone(), reg.name.clone());
        let old_ids: Vec<u64> = map.iter().filter(|(k, x)| **k != id && x.module == module && x.name == name).map(|(k, _)| *k).collect();
        old_ids.iter().filter_map(|k| map.remove(k)).collect()
    };
    drop(old);
}

/// Forgets a registration whose install failed (its destructor is not called: the caller keeps
/// the user data). Functions already installed in some workers then raise RuntimeError.
pub fn discard(id: u64) {
    let reg = registry().as_mut().and_then(|m| m.remove(&id));
    drop(reg);
}

/// Ends the registration of `module.name` made through `runtime` (no GIL needed); its
/// destructor runs once no call of it is running.
pub fn remove(runtime: u64, module: &str, name: &str) -> Result<()> {
    let removed: Vec<Arc<Registration>> = {
        let mut r = registry();
        let Some(map) = r.as_mut() else { return Err(not_registered(module, name)) };
        let ids: Vec<u64> =
            map.iter().filter(|(_, x)| x.runtime == runtime && x.module == module && x.name == name).map(|(k, _)| *k).collect();
        ids.iter().filter_map(|k| map.remove(k)).collect()
    };
    if removed.is_empty() {
        return Err(not_registered(module, name));
    }
    drop(removed);
    Ok(())
}

/// Removes the attribute `module.name` from the current interpreter (if the module is there).
pub fn uninstall(py: Python, module: &str, name: &str) -> Result<()> {
    let c = CString::new(module).map_err(|_| Error::invalid_argument("module contains NUL"))?;
    match py.import(&c) {
        Ok(m) => {
            let n = CString::new(name).map_err(|_| Error::invalid_argument("name contains NUL"))?;
            if py.delattr_str(&m, &n).is_err() {
                py.clear_error();
            }
        }
        Err(_) => py.clear_error(),
    }
    Ok(())
}

fn not_registered(module: &str, name: &str) -> Error {
    Error::invalid_argument(format!("no host function {module}.{name} is registered through this runtime"))
}

/// Drops every registration of `runtime` (its handle was freed); no GIL needed. Each destructor
/// runs once the registration's running calls have returned.
pub fn drop_runtime(runtime: u64) {
    let removed: Vec<Arc<Registration>> = {
        let mut r = registry();
        match r.as_mut() {
            Some(map) => {
                let ids: Vec<u64> = map.iter().filter(|(_, x)| x.runtime == runtime).map(|(k, _)| *k).collect();
                ids.iter().filter_map(|k| map.remove(k)).collect()
            }
            None => Vec::new(),
        }
    };
    drop(removed);
}

/// Drops every registration (at finalization).
pub fn drop_all() {
    let all = registry().take();
    drop(all);
}

/// `_pyrt.HostError`, raised for host errors (created with `_pyrt`), per interpreter.
static HOST_ERROR: AtomicUsize = AtomicUsize::new(0);
/// Each worker interpreter's `HostError` (`interp::PerSlot`).
static WORKER_HOST_ERRORS: super::interp::PerSlot<AtomicUsize> = super::interp::PerSlot::new();

/// Creates `_pyrt.HostError` in `module`. GIL held.
pub fn install_error_type(py: Python, module: &PyRef) -> Result<()> {
    let t = py.new_exception_class(c"_pyrt.HostError").or_fetch(py)?;
    py.setattr_str(module, c"HostError", &t).or_fetch(py)?;
    // The module holds one reference and the static keeps ours, never dropped: the module's
    // alone would not keep the type alive — `del _pyrt.HostError` (then a GC pass), or
    // finalization clearing `_pyrt` while atexit handlers still call host functions, would
    // leave the static dangling. (One type object per interpreter stays allocated.)
    let t = t.into_ptr() as usize;
    match py.interp() {
        0 => HOST_ERROR.store(t, Ordering::Release),
        slot => WORKER_HOST_ERRORS.get(slot).store(t, Ordering::Release),
    }
    Ok(())
}

/// Drops a worker's reference to its `HostError` as the worker's interpreter ends (GIL held, on
/// the worker's thread). An object left in a sub-interpreter with its own allocator makes CPython
/// keep that allocator's arenas for the rest of the process (hundreds of kB per worker started).
pub fn forget_worker_error_type(py: Python) {
    let t = WORKER_HOST_ERRORS.take(py.interp()).map_or(0, |h| h.swap(0, Ordering::AcqRel));
    // SAFETY: a non-zero value is the one strong reference `install_error_type` kept for this
    // worker's interpreter, whose GIL the caller holds; it is given up here, once (zeroed above).
    drop(unsafe { PyRef::from_owned(t as PyPtr) });
}

fn raise_host_error(py: Python, message: &str) -> PyPtr {
    let t = match py.interp() {
        0 => HOST_ERROR.load(Ordering::Acquire),
        slot => WORKER_HOST_ERRORS.get(slot).load(Ordering::Acquire),
    } as PyPtr;
    let msg = CString::new(message.replace('\0', "\\x00")).expect("NULs replaced");
    // SAFETY: a non-null `t` is this interpreter's `HostError`, which the static holds a reference
    // to for the interpreter's life (`install_error_type`), so for this call.
    match unsafe { Borrowed::from_ptr(t) } {
        Some(t) => py.set_error_of_class(&t, &msg),
        None => py.set_error(Exc::RuntimeError, &msg),
    }
    ptr::null_mut()
}

fn raise_error(py: Python, e: &Error) -> PyPtr {
    let class = match e.kind {
        ErrorKind::Conversion => Exc::TypeError,
        _ => Exc::RuntimeError,
    };
    let msg = CString::new(e.to_string().replace('\0', "\\x00")).expect("NULs replaced");
    py.set_error(class, &msg);
    ptr::null_mut()
}

/// Re-raises an exception object as it is (type, value and traceback).
fn reraise(py: Python, exc: &ExceptionRef) -> PyPtr {
    let Some(e) = handles::held(exc).and_then(|h| h.get(py)) else {
        return raise_host_error(py, "the exception came from another interpreter (a worker) and cannot be raised here");
    };
    py.raise_exception(e);
    ptr::null_mut()
}

/// The C function behind every host function: `self` is the registration's number.
unsafe extern "C" fn call(slf: PyPtr, args: PyPtr, kwargs: PyPtr) -> PyPtr {
    // SAFETY: CPython calls a METH_VARARGS | METH_KEYWORDS function with the GIL held, `slf` the
    // `self` it was made with and `args`/`kwargs` a tuple and a dict or NULL it keeps alive for the
    // call: the body's contract, passed through.
    super::boundary::guard(super::boundary::Site::HostFunction, ptr::null_mut(), || unsafe { call_body(slf, args, kwargs) })
}

/// # Safety
/// CPython's METH_VARARGS | METH_KEYWORDS contract: the GIL is held, `slf` is the registration
/// number `install` bound, `args` a tuple and `kwargs` NULL or a dict, alive for the call.
unsafe fn call_body(slf: PyPtr, args: PyPtr, kwargs: PyPtr) -> PyPtr {
    let api = super::api();
    // SAFETY: CPython called us with the GIL held; the token does not leave this call.
    let py = unsafe { super::gil::assume_gil(api) };
    // SAFETY: `slf` is the int `install` bound as the function's `self`, which the function object
    // keeps alive for the call.
    let slf = unsafe { Borrowed::from_ptr(slf) };
    // (Registration numbers start at 1: 0 finds nothing.)
    let id = slf.and_then(|s| py.as_i64(&s).ok().flatten()).map_or(0, |v| v as u64);
    let reg = registry().as_ref().and_then(|m| m.get(&id).cloned());
    let Some(reg) = reg else {
        let e = Error::new(ErrorKind::Closed, "this host function was unregistered (or its runtime was freed)");
        return raise_error(py, &e);
    };
    crate::stats::host_callback(reg.runtime);
    // A thread Python started in a worker is that worker's, not the main interpreter's.
    super::interp::adopt(py);
    // Object handles live in the main interpreter; in a worker, arguments must be encodable.
    let handles_for = (py.interp() == 0).then_some(reg.runtime);
    let mode = ValueMode { tagged: true, handles_for };
    // SAFETY: `args` (a tuple) and `kwargs` (NULL or a dict) are kept alive by CPython for the
    // call (this function's contract), which outlives both borrows.
    let (args, kwargs) = unsafe { (Borrowed::from_ptr(args), Borrowed::from_ptr(kwargs)) };
    let (encoded, arg_handles) = handles::collect_registered(|| -> Result<(CString, CString)> {
        let mut a = Vec::with_capacity(64);
        a.push(b'[');
        if let Some(args) = args {
            for i in 0..py.tuple_len(&args).or_fetch(py)? {
                if i > 0 {
                    a.push(b',');
                }
                // Borrowed from the tuple, which cannot drop its items (even though the conversion
                // may run Python code).
                let item = py.tuple_get(&args, i).or_fetch(py)?;
                convert::to_json_mode(py, &item, &mut a, mode)?;
            }
        }
        a.extend_from_slice(b"]\0");
        let mut k = Vec::with_capacity(16);
        match kwargs {
            None => k.extend_from_slice(b"{}"),
            Some(kwargs) => convert::to_json_mode(py, &kwargs, &mut k, mode)?,
        }
        k.push(0);
        Ok((CString::from_vec_with_nul(a).expect("one NUL"), CString::from_vec_with_nul(k).expect("one NUL")))
    });
    let (a, k) = match encoded {
        Ok(x) => x,
        Err(e) => {
            arg_handles.into_iter().for_each(handles::release);
            return raise_error(py, &e);
        }
    };
    let mut reply = Reply::default();
    let reply_ptr: *mut Reply = &mut reply;
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    OPEN_REPLIES.with(|o| o.borrow_mut().push(reply_ptr));
    // SAFETY: the host registered `f` for `user_data`, callable from any thread until the
    // destructor runs, which `reg` (held until after the call) defers. `a` and `k` are
    // NUL-terminated and outlive the call. `reply_ptr` points to `reply`, on this stack until after
    // the call and untouched meanwhile; the host reaches it only through `with_open_reply`, which
    // checks `OPEN_REPLIES`. The GIL is released for the call (`allow_threads`), as the host
    // function may block or call back into pyrt.
    let status = super::gil::allow_threads(py, || unsafe { (reg.f)(reg.user_data as *mut c_void, a.as_ptr(), k.as_ptr(), reply_ptr) });
    OPEN_REPLIES.with(|o| o.borrow_mut().retain(|&p| p != reply_ptr));
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
    arg_handles.into_iter().for_each(handles::release);
    drop(reg);
    if let Some(exc) = &reply.exception {
        return reraise(py, exc);
    }
    if let Some(msg) = &reply.error {
        return raise_host_error(py, msg);
    }
    if status != 0 {
        return raise_host_error(py, &format!("the host function failed with status {status}"));
    }
    match &reply.value {
        None => py.none_ref().into_ptr(),
        Some(json) => match convert::from_json_mode(py, json, ValueMode { tagged: true, handles_for: None }) {
            Ok(v) => v.into_ptr(),
            Err(e) => raise_error(py, &Error::new(ErrorKind::Conversion, format!("the host function's result: {}", e.message))),
        },
    }
}
