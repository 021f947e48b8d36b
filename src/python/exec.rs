//! Running code and calling functions in the interpreter.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use super::convert;
use super::exception::OrFetch;
use super::facade::Code;
use super::ffi;
use super::interp::PerSlot;
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, Result};

/// FxHash: the keys are short module/function names chosen by the host program, not by an
/// attacker, so a fast non-keyed hash is fine for this per-call lookup.
#[derive(Default)]
pub(crate) struct FxHasher(u64);
impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

struct FunctionEntry {
    /// The first path component as an interned str, and the object it named when cached.
    first_name: PyRef,
    first: PyRef,
    /// Remaining components of a dotted path (`path.join` → `join`), looked up on every call.
    rest: Vec<CString>,
}

struct ModuleEntry {
    name: PyRef,
    module: PyRef,
    dict: PyRef,
    functions: FxMap<Box<str>, FunctionEntry>,
}

/// (module, function) → callable, validated on every use against `sys.modules` and the module's
/// `__dict__` (two dict lookups), so redefining a function with `pyrt_run_string` or replacing a
/// module is always seen.
#[derive(Default)]
struct CallableCache {
    modules: FxMap<Box<str>, ModuleEntry>,
    /// The last undotted name looked up (a loop calling one function skips both hash lookups),
    /// validated exactly as a map entry is.
    memo: Option<Memo>,
}

struct Memo {
    module: String,
    function: String,
    /// As in [`ModuleEntry`] and [`FunctionEntry`].
    name: PyRef,
    module_obj: PyRef,
    dict: PyRef,
    first_name: PyRef,
    first: PyRef,
}

const CACHE_LIMIT: usize = 4096;

// SAFETY: the references in the cache are only used and dropped by threads attached to the main
// interpreter (a `Python` token is needed to reach it), which is what CPython requires of any
// object, in GIL and free-threaded builds alike.
unsafe impl Send for CallableCache {}

/// The main interpreter's cache. A real lock, not the GIL: a free-threaded build has none, and
/// with the GIL another thread may run while a reference dropped inside the lock runs `__del__`.
static CACHE: Mutex<Option<CallableCache>> = Mutex::new(None);

/// The workers' caches, one per interpreter (`interp::PerSlot`), with a lock for the same
/// reasons as [`CACHE`].
static WORKER_CACHES: PerSlot<Mutex<Option<CallableCache>>> = PerSlot::new();

/// Runs `f` on the current interpreter's callable cache (the main one's, or this worker's);
/// `None` when the cache is busy — held by another thread, or by this one further up the stack
/// (a `__del__` run by a reference dropped in `f` calling back into pyrt). The caller then takes
/// the uncached path: the cache is only an accelerator, and waiting could deadlock.
fn with_cache<R>(py: Python, f: impl FnOnce(&mut Option<CallableCache>) -> R) -> Option<R> {
    if py.interp() == 0 {
        let mut guard = CACHE.try_lock().ok()?;
        Some(f(&mut guard))
    } else {
        let cache = WORKER_CACHES.get(py.interp());
        let mut guard = cache.try_lock().ok()?;
        Some(f(&mut guard))
    }
}

fn intern(py: Python, s: &str) -> Result<PyRef> {
    let c = CString::new(s).map_err(|_| Error::invalid_argument("name contains NUL"))?;
    py.intern(&c).or_fetch(py)
}

fn split_function(function: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = function.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::invalid_argument(format!("invalid function name {function:?}")));
    }
    Ok(parts)
}

fn import(py: Python, module: &str) -> Result<PyRef> {
    if module.is_empty() {
        return Err(Error::invalid_argument("module name is empty"));
    }
    let c = CString::new(module).map_err(|_| Error::invalid_argument("module name contains NUL"))?;
    py.import(&c).or_fetch(py)
}

fn resolve_rest(py: Python, mut obj: PyRef, rest: &[CString]) -> Result<PyRef> {
    for name in rest {
        obj = py.getattr_str(&obj, name).or_fetch(py)?;
    }
    Ok(obj)
}

/// Byte equality for short names, inline (a `memcmp` call costs more than the comparison):
/// overlapping word loads, no byte loop.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    // SAFETY: every load below stays within the n bytes of both slices.
    unsafe {
        let w64 = |p: *const u8, i: usize| p.add(i).cast::<u64>().read_unaligned();
        let w32 = |p: *const u8, i: usize| p.add(i).cast::<u32>().read_unaligned();
        if n >= 8 {
            let mut i = 0;
            while i + 8 < n {
                if w64(pa, i) != w64(pb, i) {
                    return false;
                }
                i += 8;
            }
            w64(pa, n - 8) == w64(pb, n - 8)
        } else if n >= 4 {
            w32(pa, 0) == w32(pb, 0) && w32(pa, n - 4) == w32(pb, n - 4)
        } else {
            (0..n).all(|i| *pa.add(i) == *pb.add(i))
        }
    }
}

/// The callable named `module`.`function` (function may be dotted).
pub fn lookup(py: Python, module: &str, function: &str) -> Result<PyRef> {
    // Fast path: both cached objects are still what the names mean.
    let hit = with_cache(py, |cache| -> Option<(PyRef, Option<Vec<CString>>)> {
        let cache = cache.as_mut()?;
        let sys_modules = py.sys_modules();
        if let Some(m) =
            cache.memo.as_ref().filter(|m| same(m.module.as_bytes(), module.as_bytes()) && same(m.function.as_bytes(), function.as_bytes()))
        {
            if py.dict_item_is(&sys_modules, &m.name, &m.module_obj) && py.dict_item_is(&m.dict, &m.first_name, &m.first) {
                return Some((m.first.clone_ref(py), None));
            }
            cache.memo = None;
        }
        let m = cache.modules.get(module)?;
        if !py.dict_item_is(&sys_modules, &m.name, &m.module) {
            cache.modules.remove(module);
            return None;
        }
        let f = m.functions.get(function)?;
        if !py.dict_item_is(&m.dict, &f.first_name, &f.first) {
            return None;
        }
        if f.rest.is_empty() {
            let mut memo = cache.memo.take().unwrap_or_else(|| Memo {
                module: String::new(),
                function: String::new(),
                name: m.name.clone_ref(py),
                module_obj: m.module.clone_ref(py),
                dict: m.dict.clone_ref(py),
                first_name: f.first_name.clone_ref(py),
                first: f.first.clone_ref(py),
            });
            memo.module.clear();
            memo.module.push_str(module);
            memo.function.clear();
            memo.function.push_str(function);
            memo.name = m.name.clone_ref(py);
            memo.module_obj = m.module.clone_ref(py);
            memo.dict = m.dict.clone_ref(py);
            memo.first_name = f.first_name.clone_ref(py);
            memo.first = f.first.clone_ref(py);
            let first = f.first.clone_ref(py);
            cache.memo = Some(memo);
            return Some((first, None));
        }
        // (Most names are not dotted: nothing to copy then.)
        Some((f.first.clone_ref(py), (!f.rest.is_empty()).then(|| f.rest.clone())))
    })
    .flatten();
    if let Some((first, rest)) = hit {
        return match rest {
            None => Ok(first),
            Some(rest) => resolve_rest(py, first, &rest),
        };
    }
    lookup_slow(py, module, function)
}

fn lookup_slow(py: Python, module: &str, function: &str) -> Result<PyRef> {
    let parts = split_function(function)?;
    let module_obj = import(py, module)?;
    let first_name = intern(py, parts[0])?;
    let first = py.getattr(&module_obj, &first_name).or_fetch(py)?;
    let rest: Vec<CString> = parts[1..]
        .iter()
        .map(|p| CString::new(*p))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::invalid_argument("function name contains NUL"))?;
    let callable = resolve_rest(py, first.clone_ref(py), &rest)?;

    // Cache only what validation can check: a real module in sys.modules whose __dict__ holds
    // the first component (not one produced by a module-level __getattr__).
    let module_name = intern(py, module)?;
    if py.dict_item_is(&py.sys_modules(), &module_name, &module_obj) {
        let dict = py.getattr_str(&module_obj, c"__dict__").ok();
        if dict.is_none() {
            py.clear_error();
        }
        if let Some(dict) = dict.filter(|d| py.type_ptr(d) == py.api.PyDict_Type) {
            if py.dict_item_is(&dict, &first_name, &first) {
                with_cache(py, |cache| {
                    let cache = cache.get_or_insert_with(CallableCache::default);
                    if cache.modules.len() >= CACHE_LIMIT {
                        cache.modules.clear();
                    }
                    let entry = cache.modules.entry(module.into()).or_insert_with(|| ModuleEntry {
                        name: module_name.clone_ref(py),
                        module: module_obj.clone_ref(py),
                        dict: dict.clone_ref(py),
                        functions: FxMap::default(),
                    });
                    if entry.module.as_ptr() == module_obj.as_ptr() {
                        if entry.functions.len() >= CACHE_LIMIT {
                            entry.functions.clear();
                        }
                        entry.functions.insert(function.into(), FunctionEntry { first_name, first, rest });
                    }
                });
            }
        }
    }
    Ok(callable)
}

/// Drops every cached reference (before finalization).
pub fn clear_caches(py: Python) {
    let old = with_cache(py, |c| c.take()).flatten();
    drop(old);
    if py.interp() != 0 {
        WORKER_CACHES.take(py.interp());
    }
}

/// Calls `module.function(*args, **kwargs)` with JSON arguments.
pub fn call_json(py: Python, module: &str, function: &str, args_json: Option<&[u8]>, kwargs_json: Option<&[u8]>) -> Result<PyRef> {
    call_json_mode(py, module, function, args_json, kwargs_json, convert::PLAIN)
}

/// Calls `module.function(*args, **kwargs)` with arguments in `mode`'s encoding (a flat array
/// of scalars, the common case, reads the same in every mode).
pub fn call_json_mode(
    py: Python,
    module: &str,
    function: &str,
    args_json: Option<&[u8]>,
    kwargs_json: Option<&[u8]>,
    mode: convert::ValueMode,
) -> Result<PyRef> {
    if let (Some(text), None) = (args_json, kwargs_json) {
        // The common case: a flat list of scalars, on the stack.
        let mut argv = convert::ArgVec::new(py);
        match convert::scalars_into(py, text, &mut argv) {
            convert::Scalars::Done => {
                let callable = lookup(py, module, function)?;
                return call_positional(py, &callable, argv.as_refs());
            }
            convert::Scalars::Failed(e) => return Err(e),
            convert::Scalars::General => {}
        }
    }
    let args = match args_json {
        None => convert::ArgList::new(),
        Some(text) => convert::args_from_json_mode(py, text, mode)?,
    };
    let kwargs = match kwargs_json {
        None => None,
        Some(text) => {
            let dict = convert::from_json_mode(py, text, mode)?;
            if py.type_ptr(&dict) != py.api.PyDict_Type {
                return Err(Error::invalid_argument("kwargs_json must be a JSON object"));
            }
            Some(dict)
        }
    };
    let callable = lookup(py, module, function)?;
    call(py, &callable, &args, kwargs.as_ref())
}

/// Calls `callable(*args, **kwargs)`: vectorcall where the library exports it (3.11+) and there
/// are no keyword arguments, else a tuple and `PyObject_Call`.
pub fn call(py: Python, callable: &PyRef, args: &[PyRef], kwargs: Option<&PyRef>) -> Result<PyRef> {
    match kwargs {
        None => call_positional(py, callable, args),
        Some(kwargs) => {
            let tuple = py.tuple_from_slice(args).or_fetch(py)?;
            py.call_tuple(callable, &tuple, Some(kwargs)).or_fetch(py)
        }
    }
}

/// [`call`] without keyword arguments (the typed fast path).
#[inline(always)]
pub fn call_positional(py: Python, callable: &PyRef, args: &[PyRef]) -> Result<PyRef> {
    py.call(callable, args).or_fetch(py)
}

/// `__main__.__dict__`, as a strong reference: the code run with it can remove `__main__` from
/// `sys.modules` (and so free the module and its dict) before pyrt is done with it.
fn main_dict(py: Python) -> Result<PyRef> {
    py.added_module_dict(c"__main__").or_fetch(py)
}

fn compile(py: Python, code: &CStr, filename: &CStr, start: std::ffi::c_int) -> Result<Code> {
    if ffi::free_threaded() {
        return compile_with_builtin(py, code, filename, start);
    }
    py.compile_source(code, filename, start).or_fetch(py)
}

/// `builtins.compile(code, filename, mode)`. Free-threaded 3.13 makes the constants of code
/// compiled through the C API immortal once a second thread has run (3-4 blocks kept per
/// compile, for good); `compile()` switches that off while it runs. Same source decoding
/// (bytes: UTF-8 unless a coding cookie says otherwise), same result.
fn compile_with_builtin(py: Python, code: &CStr, filename: &CStr, start: std::ffi::c_int) -> Result<Code> {
    let mode: &CStr = if start == ffi::PY_EVAL_INPUT { c"eval" } else { c"exec" };
    let builtins = py.import(c"builtins").or_fetch(py)?;
    let compile = py.getattr_str(&builtins, c"compile").or_fetch(py)?;
    let args = [
        py.new_bytes(code.to_bytes()).or_fetch(py)?,
        py.str_from_utf8(filename.to_bytes()).or_fetch(py)?,
        py.str_from_utf8(mode.to_bytes()).or_fetch(py)?,
    ];
    let compiled = py.call(&compile, &args).or_fetch(py)?;
    // Python code may have replaced `builtins.compile`.
    py.as_code(compiled).ok_or_else(|| Error::new(ErrorKind::Python, "builtins.compile() returned something other than a code object"))
}

/// Runs statements in `__main__` (state persists between calls, as in a REPL).
pub fn run_code(py: Python, code: &CStr, filename: &CStr) -> Result<()> {
    let globals = main_dict(py)?;
    let compiled = compile(py, code, filename, ffi::PY_FILE_INPUT)?;
    py.eval_code(&compiled, &globals).map(drop).or_fetch(py)
}

/// Runs a file's contents in `__main__` with `__file__` set for the duration, as
/// `python script.py` would.
pub fn run_file(py: Python, code: &[u8], path: &str) -> Result<()> {
    let code = CString::new(code).map_err(|_| Error::new(ErrorKind::Python, format!("{path}: source code cannot contain null bytes")))?;
    let filename = CString::new(path).map_err(|_| Error::invalid_argument("path contains NUL"))?;
    let globals = main_dict(py)?;
    let file = py.new_str(path).or_fetch(py)?;
    py.dict_set_str(&globals, c"__file__", &file).or_fetch(py)?;
    let result = compile(py, &code, &filename, ffi::PY_FILE_INPUT).and_then(|c| py.eval_code(&c, &globals).map(drop).or_fetch(py));
    // Remove __file__ again (PyRun_SimpleFile does the same), keeping any exception intact.
    let saved = py.save_error();
    if let Ok(key) = intern(py, "__file__") {
        if let Ok(Some(_)) = py.dict_get(&globals, &key) {
            let _ = py.dict_del(&globals, &key);
        }
    }
    py.clear_error();
    py.restore_error(saved);
    result
}

/// Evaluates an expression in `__main__`.
pub fn eval(py: Python, expr: &CStr) -> Result<PyRef> {
    let globals = main_dict(py)?;
    let compiled = compile(py, expr, c"<eval>", ffi::PY_EVAL_INPUT)?;
    py.eval_code(&compiled, &globals).or_fetch(py)
}

/// Flushes `sys.stdout` and `sys.stderr` (errors ignored), so nothing is lost at finalization.
pub fn flush_stdio(py: Python) {
    for name in [c"stdout", c"stderr"] {
        // Owned: `flush()` runs Python code, which may replace `sys.stdout` and drop the stream.
        let Some(stream) = py.sys_attr(name) else { continue };
        if py.is_none(&stream) {
            continue;
        }
        if py.call_method0(&stream, c"flush").is_err() {
            py.clear_error();
        }
    }
}

/// In the `"host"` signals mode SIGINT stays the host's at the OS level, while Python's own
/// table says `default_int_handler`, as in a script: `_thread.interrupt_main()` and
/// `signal.getsignal()` behave as standalone, and Ctrl-C still reaches the host. (Importing
/// `signal` would otherwise install Python's handler whenever the host left SIGINT at SIG_DFL.)
/// A host that ignores SIGINT keeps it ignored, as Python would. Runs once, on the
/// main thread, right after initialization.
pub fn adopt_host_sigint(py: Python, host_action: &crate::signals::Disposition) {
    if host_action.sa_sigaction == libc::SIG_IGN {
        return;
    }
    let code = c"import _signal as _s\n_s.signal(_s.SIGINT, _s.default_int_handler)\ndel _s\n";
    if run_code(py, code, c"<pyrt signals>").is_err() {
        py.clear_error();
    }
    crate::signals::restore_action(libc::SIGINT, host_action);
}

/// Runs pyrt's own setup code in a fresh globals dict (with `__builtins__`), not in `__main__`.
pub fn run_private(py: Python, code: &CStr, filename: &CStr) -> Result<()> {
    let globals = py.new_dict().or_fetch(py)?;
    run_in(py, code, filename, &globals)
}

/// Runs pyrt's own code in the given globals dict (which the caller made, with what the code
/// needs), so the caller can take what it defined.
pub fn run_in(py: Python, code: &CStr, filename: &CStr, globals: &PyRef) -> Result<()> {
    let builtins = py.import(c"builtins").or_fetch(py)?;
    py.dict_set_str(globals, c"__builtins__", &builtins).or_fetch(py)?;
    let compiled = compile(py, code, filename, ffi::PY_FILE_INPUT)?;
    py.eval_code(&compiled, globals).map(drop).or_fetch(py)
}

/// In the `"python"` signals mode, Python's SIGINT handler even when the host already had one:
/// CPython installs `default_int_handler` only over SIG_DFL, so in a Go host (whose runtime
/// handles every signal) Ctrl-C, `os.kill(os.getpid(), SIGINT)` and `_thread.interrupt_main()`
/// would not raise KeyboardInterrupt. A host that ignores SIGINT keeps it ignored, as in Python.
/// Runs once, on the main thread, right after initialization.
pub fn claim_sigint(py: Python) {
    let code = c"import _signal as _s\nif _s.getsignal(_s.SIGINT) is None:\n    _s.signal(_s.SIGINT, _s.default_int_handler)\ndel _s\n";
    if run_code(py, code, c"<pyrt signals>").is_err() {
        py.clear_error();
    }
}

/// Wraps `_signal.signal` (which `signal.signal` calls) so that each handler Python installs is
/// routed to the main thread (`crate::signals`). Runs once, on the main thread, after `_pyrt`
/// exists.
pub fn route_python_signals(py: Python) -> Result<()> {
    // A signal whose handler the host installed (a Go program has one for every signal) reads
    // as None in `signal.getsignal()`, as in CPython. CPython cannot put such a handler back:
    // `signal.signal(sig, None)` is a TypeError, so the common save/restore idiom
    // `old = signal.signal(sig, h); ...; signal.signal(sig, old)` fails. pyrt saves the host's
    // disposition when Python first replaces it, and `signal.signal(sig, None)` then gives the
    // signal back to the host (getsignal() reads None again). Without a saved host handler,
    // None stays a TypeError, as in CPython.
    let code = cr#"def _install():
    import _signal, _pyrt
    original, original_getsignal, route = _signal.signal, _signal.getsignal, _pyrt.route_signal
    save, restore, saved = _pyrt.save_host_handler, _pyrt.restore_host_handler, _pyrt.has_host_handler
    host_owned = set()
    def signal(signalnum, handler):
        if handler is None and saved(signalnum):
            was_host = signalnum in host_owned
            old = original(signalnum, _signal.SIG_IGN)
            route(signalnum)
            restore(signalnum)
            host_owned.add(signalnum)
            return None if was_host else old
        was_host = signalnum in host_owned or original_getsignal(signalnum) is None
        if handler is not None and original_getsignal(signalnum) is None:
            save(signalnum)
        old = original(signalnum, handler)
        route(signalnum)
        host_owned.discard(signalnum)
        return None if was_host else old
    def getsignal(signalnum):
        handler = original_getsignal(signalnum)
        return None if signalnum in host_owned else handler
    for f, o in ((signal, original), (getsignal, original_getsignal)):
        for attr in ('__name__', '__qualname__', '__doc__'):
            setattr(f, attr, getattr(o, attr))
        f.__module__ = '_signal'
    _signal.signal = signal
    _signal.getsignal = getsignal
_install()
"#;
    run_private(py, code, c"<pyrt signals>")
}
