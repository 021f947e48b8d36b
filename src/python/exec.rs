//! Running code and calling functions in the interpreter.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use super::convert;
use super::exception;
use super::ffi::{self, PyPtr};
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

crate::per_worker!(WORKER_CACHE: Option<CallableCache> = None);

/// Runs `f` on the current interpreter's callable cache (the main one's, or this worker's);
/// `None` when the cache is busy — held by another thread, or by this one further up the stack
/// (a `__del__` run by a reference dropped in `f` calling back into pyrt). The caller then takes
/// the uncached path: the cache is only an accelerator, and waiting could deadlock.
fn with_cache<R>(py: Python, f: impl FnOnce(&mut Option<CallableCache>) -> R) -> Option<R> {
    if py.interp() == 0 {
        let mut guard = CACHE.try_lock().ok()?;
        Some(f(&mut guard))
    } else {
        WORKER_CACHE.with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c)))
    }
}

fn fail(py: Python) -> Error {
    exception::fetch(py)
}

fn own(py: Python, p: PyPtr) -> Result<PyRef> {
    PyRef::from_owned(p).ok_or_else(|| fail(py))
}

/// Looks `key` up in a dict, borrowed; NULL when absent (errors are cleared: a failed lookup in
/// a validation just means "re-resolve").
/// The result is only good for comparing identities or testing for NULL: Python code the lookup
/// or a later call runs may drop it.
fn dict_get(py: Python, dict: PyPtr, key: PyPtr) -> PyPtr {
    // SAFETY: `py` proves the GIL is held; every caller passes a live dict and key it holds
    // references to (or `sys.modules`, which the interpreter holds).
    let v = unsafe { (py.api.PyDict_GetItemWithError)(dict, key) };
    if v.is_null() {
        // SAFETY: the GIL is held (`py`).
        unsafe { (py.api.PyErr_Clear)() };
    }
    v
}

fn intern(py: Python, s: &str) -> Result<PyRef> {
    let c = CString::new(s).map_err(|_| Error::invalid_argument("name contains NUL"))?;
    // SAFETY: `py` proves the GIL is held; `c` is a NUL-terminated string CPython copies.
    own(py, unsafe { (py.api.PyUnicode_InternFromString)(c.as_ptr()) })
}

fn getattr(py: Python, o: PyPtr, name: &CStr) -> Result<PyRef> {
    // SAFETY: `py` proves the GIL is held; every caller passes an object it holds a strong
    // reference to for the call (the lookup may run Python code), and a NUL-terminated name.
    own(py, unsafe { (py.api.PyObject_GetAttrString)(o, name.as_ptr()) })
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
    // SAFETY: `py` proves the GIL is held; `c` is a NUL-terminated string.
    own(py, unsafe { (py.api.PyImport_ImportModule)(c.as_ptr()) })
}

fn resolve_rest(py: Python, mut obj: PyRef, rest: &[CString]) -> Result<PyRef> {
    for name in rest {
        obj = getattr(py, obj.as_ptr(), name)?;
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
        // SAFETY: `py` proves the GIL is held. The result is borrowed from the interpreter, which
        // holds it until finalization (assigning `sys.modules` does not replace it).
        let sys_modules = unsafe { (py.api.PyImport_GetModuleDict)() };
        if let Some(m) =
            cache.memo.as_ref().filter(|m| same(m.module.as_bytes(), module.as_bytes()) && same(m.function.as_bytes(), function.as_bytes()))
        {
            if dict_get(py, sys_modules, m.name.as_ptr()) == m.module_obj.as_ptr()
                && dict_get(py, m.dict.as_ptr(), m.first_name.as_ptr()) == m.first.as_ptr()
            {
                return Some((m.first.clone_ref(py), None));
            }
            cache.memo = None;
        }
        let m = cache.modules.get(module)?;
        if dict_get(py, sys_modules, m.name.as_ptr()) != m.module.as_ptr() {
            cache.modules.remove(module);
            return None;
        }
        let f = m.functions.get(function)?;
        if dict_get(py, m.dict.as_ptr(), f.first_name.as_ptr()) != f.first.as_ptr() {
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
    // SAFETY: `py` proves the GIL is held; both objects are strong references held across the call.
    let first = own(py, unsafe { (py.api.PyObject_GetAttr)(module_obj.as_ptr(), first_name.as_ptr()) })?;
    let rest: Vec<CString> = parts[1..]
        .iter()
        .map(|p| CString::new(*p))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::invalid_argument("function name contains NUL"))?;
    let callable = resolve_rest(py, first.clone_ref(py), &rest)?;

    // Cache only what validation can check: a real module in sys.modules whose __dict__ holds
    // the first component (not one produced by a module-level __getattr__).
    let api = py.api;
    // SAFETY: `py` proves the GIL is held; the dict is the interpreter's, held by it until
    // finalization, so it outlives the Python code `intern` and `dict_get` may run.
    let sys_modules = unsafe { (api.PyImport_GetModuleDict)() };
    let module_name = intern(py, module)?;
    if dict_get(py, sys_modules, module_name.as_ptr()) == module_obj.as_ptr() {
        // SAFETY: the GIL is held; `module_obj` is a strong reference.
        let dict_ptr = unsafe { (api.PyObject_GetAttrString)(module_obj.as_ptr(), c"__dict__".as_ptr()) };
        let dict = PyRef::from_owned(dict_ptr);
        if dict.is_none() {
            // SAFETY: the GIL is held.
            unsafe { (api.PyErr_Clear)() };
        }
        // SAFETY: `d` is a strong reference to a live object; the GIL is held.
        if let Some(dict) = dict.filter(|d| unsafe { ffi::py_type(d.as_ptr()) } == api.PyDict_Type) {
            if dict_get(py, dict.as_ptr(), first_name.as_ptr()) == first.as_ptr() {
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
    let api = py.api;
    if let (Some(text), None) = (args_json, kwargs_json) {
        // The common case: a flat list of scalars, on the stack.
        let mut argv = convert::ArgVec::new(py);
        match convert::scalars_into(py, text, &mut argv) {
            convert::Scalars::Done => {
                let callable = lookup(py, module, function)?;
                return call_ptrs(py, callable.as_ptr(), argv.as_ptrs());
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
            // SAFETY: `dict` is a strong reference to a live object; `py` proves the GIL is held.
            if unsafe { ffi::py_type(dict.as_ptr()) } != api.PyDict_Type {
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
    let api = py.api;
    if let (Some(vectorcall), None) = (api.PyObject_Vectorcall, kwargs) {
        // PyRef is a transparent non-null pointer, so the slice is a `PyObject *const *`.
        let argv = args.as_ptr().cast::<ffi::PyPtr>();
        // SAFETY: `py` proves the GIL is held. `argv` points to `args.len()` strong references
        // (`PyRef` is `repr(transparent)` over a non-null pointer), which the caller's borrow keeps
        // alive through the call; without `PY_VECTORCALL_ARGUMENTS_OFFSET` the callee does not
        // write to the vector. No keyword names: NULL.
        return own(py, unsafe { vectorcall(callable.as_ptr(), argv, args.len(), std::ptr::null_mut()) });
    }
    // SAFETY: the GIL is held (`py`).
    let tuple = own(py, unsafe { (api.PyTuple_New)(args.len() as isize) })?;
    for (i, a) in args.iter().enumerate() {
        // PyTuple_SetItem steals the reference: hand it a new one.
        // SAFETY: `tuple` is a new tuple of `args.len()` slots, only ours, and `i` is in range; the
        // GIL is held.
        unsafe { (api.PyTuple_SetItem)(tuple.as_ptr(), i as isize, a.clone_ref(py).into_ptr()) };
    }
    let kw = kwargs.map_or(std::ptr::null_mut(), |k| k.as_ptr());
    // SAFETY: the GIL is held; `callable`, `tuple` and `kwargs` (or NULL) are strong references
    // held across the call.
    own(py, unsafe { (api.PyObject_Call)(callable.as_ptr(), tuple.as_ptr(), kw) })
}

/// [`call`] with borrowed pointers and no keyword arguments (the typed fast path).
#[inline(always)]
pub fn call_ptrs(py: Python, callable: PyPtr, args: &[PyPtr]) -> Result<PyRef> {
    let api = py.api;
    if let Some(vectorcall) = api.PyObject_Vectorcall {
        // SAFETY: `py` proves the GIL is held. `callable` and `args` are live objects the caller
        // holds references to until this returns (this function's contract: the typed path passes
        // its `ArgVec`'s). Without `PY_VECTORCALL_ARGUMENTS_OFFSET` the vector is not written.
        return own(py, unsafe { vectorcall(callable, args.as_ptr(), args.len(), std::ptr::null_mut()) });
    }
    // SAFETY: the GIL is held (`py`).
    let tuple = own(py, unsafe { (api.PyTuple_New)(args.len() as isize) })?;
    for (i, &a) in args.iter().enumerate() {
        // PyTuple_SetItem steals the reference: hand it a new one.
        // SAFETY: `a` is live (the caller's reference); `tuple` is a new tuple of `args.len()`
        // slots, only ours, and `i` is in range; the GIL is held.
        unsafe {
            (api.Py_IncRef)(a);
            (api.PyTuple_SetItem)(tuple.as_ptr(), i as isize, a);
        }
    }
    // SAFETY: the GIL is held; `callable` is live (the caller's reference), `tuple` ours.
    own(py, unsafe { (api.PyObject_Call)(callable, tuple.as_ptr(), std::ptr::null_mut()) })
}

/// `__main__.__dict__`, as a strong reference: the code run with it can remove `__main__` from
/// `sys.modules` (and so free the module and its dict) before pyrt is done with it.
fn main_dict(py: Python) -> Result<PyRef> {
    // SAFETY: `py` proves the GIL is held. The module is borrowed from `sys.modules`, which keeps
    // it alive until Python code runs; none runs before its dict is taken below.
    let m = unsafe { (py.api.PyImport_AddModule)(c"__main__".as_ptr()) };
    if m.is_null() {
        return Err(fail(py));
    }
    // SAFETY: `m` is a live module (above); the dict is borrowed from it, and made a strong
    // reference at once, before any Python code can run.
    let d = unsafe { (py.api.PyModule_GetDict)(m) };
    PyRef::from_borrowed(py, d).ok_or_else(|| fail(py))
}

fn compile(py: Python, code: &CStr, filename: &CStr, start: std::ffi::c_int) -> Result<PyRef> {
    if ffi::free_threaded() {
        return compile_with_builtin(py, code, filename, start);
    }
    // SAFETY: `py` proves the GIL is held; `code` and `filename` are NUL-terminated strings read
    // during the call; NULL flags and optimize -1 are the defaults.
    own(py, unsafe { (py.api.Py_CompileStringExFlags)(code.as_ptr(), filename.as_ptr(), start, std::ptr::null_mut(), -1) })
}

/// `builtins.compile(code, filename, mode)`. Free-threaded 3.13 makes the constants of code
/// compiled through the C API immortal once a second thread has run (3-4 blocks kept per
/// compile, for good); `compile()` switches that off while it runs. Same source decoding
/// (bytes: UTF-8 unless a coding cookie says otherwise), same result.
fn compile_with_builtin(py: Python, code: &CStr, filename: &CStr, start: std::ffi::c_int) -> Result<PyRef> {
    let api = py.api;
    let mode: &CStr = if start == ffi::PY_EVAL_INPUT { c"eval" } else { c"exec" };
    // SAFETY: `py` proves the GIL is held; the name is a NUL-terminated literal.
    let builtins = own(py, unsafe { (api.PyImport_ImportModule)(c"builtins".as_ptr()) })?;
    let compile = getattr(py, builtins.as_ptr(), c"compile")?;
    // SAFETY: the GIL is held; `s` points to `s.to_bytes().len()` bytes, copied by the call.
    let text = |s: &CStr| own(py, unsafe { (api.PyUnicode_FromStringAndSize)(s.as_ptr(), s.to_bytes().len() as isize) });
    // SAFETY: as for `text`: the GIL is held and the bytes are in bounds, copied by the call.
    let source = own(py, unsafe { (api.PyBytes_FromStringAndSize)(code.as_ptr(), code.to_bytes().len() as isize) })?;
    // SAFETY: the GIL is held.
    let args = own(py, unsafe { (api.PyTuple_New)(3) })?;
    for (i, item) in [source, text(filename)?, text(mode)?].into_iter().enumerate() {
        // SAFETY: a new tuple of 3, only ours, and `i` < 3; PyTuple_SetItem steals each reference.
        unsafe { (api.PyTuple_SetItem)(args.as_ptr(), i as isize, item.into_ptr()) };
    }
    // SAFETY: the GIL is held; `compile` and `args` are strong references held across the call.
    own(py, unsafe { (api.PyObject_CallObject)(compile.as_ptr(), args.as_ptr()) })
}

/// Runs statements in `__main__` (state persists between calls, as in a REPL).
pub fn run_code(py: Python, code: &CStr, filename: &CStr) -> Result<()> {
    let globals = main_dict(py)?;
    let compiled = compile(py, code, filename, ffi::PY_FILE_INPUT)?;
    // SAFETY: `py` proves the GIL is held; the code object and the globals dict are strong
    // references held across the call.
    own(py, unsafe { (py.api.PyEval_EvalCode)(compiled.as_ptr(), globals.as_ptr(), globals.as_ptr()) }).map(drop)
}

/// Runs a file's contents in `__main__` with `__file__` set for the duration, as
/// `python script.py` would.
pub fn run_file(py: Python, code: &[u8], path: &str) -> Result<()> {
    let api = py.api;
    let code = CString::new(code).map_err(|_| Error::new(ErrorKind::Python, format!("{path}: source code cannot contain null bytes")))?;
    let filename = CString::new(path).map_err(|_| Error::invalid_argument("path contains NUL"))?;
    let globals = main_dict(py)?;
    // SAFETY: `py` proves the GIL is held; `path` is `path.len()` bytes of UTF-8, copied.
    let file = own(py, unsafe { (api.PyUnicode_FromStringAndSize)(path.as_ptr().cast(), path.len() as isize) })?;
    // SAFETY: the GIL is held; `globals` and `file` are strong references (the old value's
    // `__del__` may run Python code here).
    if unsafe { (api.PyDict_SetItemString)(globals.as_ptr(), c"__file__".as_ptr(), file.as_ptr()) } != 0 {
        return Err(fail(py));
    }
    let result = compile(py, &code, &filename, ffi::PY_FILE_INPUT)
        // SAFETY: the GIL is held; the code object and `globals` are strong references.
        .and_then(|c| own(py, unsafe { (api.PyEval_EvalCode)(c.as_ptr(), globals.as_ptr(), globals.as_ptr()) }).map(drop));
    // Remove __file__ again (PyRun_SimpleFile does the same), keeping any exception intact.
    // SAFETY: the GIL is held; `globals` and `key` are strong references. The fetched exception
    // (three new references or NULLs) is handed back to `PyErr_Restore`, which steals them.
    unsafe {
        let (mut t, mut v, mut tb) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        (api.PyErr_Fetch)(&mut t, &mut v, &mut tb);
        let key = intern(py, "__file__");
        if let Ok(key) = key {
            if !dict_get(py, globals.as_ptr(), key.as_ptr()).is_null() {
                (api.PyDict_DelItem)(globals.as_ptr(), key.as_ptr());
            }
        }
        (api.PyErr_Clear)();
        (api.PyErr_Restore)(t, v, tb);
    }
    result
}

/// Evaluates an expression in `__main__`.
pub fn eval(py: Python, expr: &CStr) -> Result<PyRef> {
    let globals = main_dict(py)?;
    let compiled = compile(py, expr, c"<eval>", ffi::PY_EVAL_INPUT)?;
    // SAFETY: `py` proves the GIL is held; the code object and the globals dict are strong
    // references held across the call.
    own(py, unsafe { (py.api.PyEval_EvalCode)(compiled.as_ptr(), globals.as_ptr(), globals.as_ptr()) })
}

/// Flushes `sys.stdout` and `sys.stderr` (errors ignored), so nothing is lost at finalization.
pub fn flush_stdio(py: Python) {
    for name in [c"stdout", c"stderr"] {
        // SAFETY: `py` proves the GIL is held. `PySys_GetObject` returns a borrowed reference, made
        // strong at once (before `getattr` and `flush()` run Python code, which may replace
        // `sys.stdout` and drop the stream); `flush` and `r` are new references, dropped once.
        unsafe {
            let stream = (py.api.PySys_GetObject)(name.as_ptr());
            if stream.is_null() || stream == py.api.none() {
                continue;
            }
            let Some(stream) = PyRef::from_borrowed(py, stream) else { continue };
            if let Ok(flush) = getattr(py, stream.as_ptr(), c"flush") {
                let r = (py.api.PyObject_CallObject)(flush.as_ptr(), std::ptr::null_mut());
                if r.is_null() {
                    (py.api.PyErr_Clear)();
                } else {
                    (py.api.Py_DecRef)(r);
                }
            } else {
                (py.api.PyErr_Clear)();
            }
        }
    }
}

/// In the `"host"` signals mode SIGINT stays the host's at the OS level, while Python's own
/// table says `default_int_handler`, as in a script: `_thread.interrupt_main()` and
/// `signal.getsignal()` behave as standalone, and Ctrl-C still reaches the host. (Importing
/// `signal` would otherwise install Python's handler whenever the host left SIGINT at SIG_DFL.)
/// A host that ignores SIGINT keeps it ignored, as Python would. Runs once, on the
/// main thread, right after initialization.
pub fn adopt_host_sigint(py: Python, host_action: &libc::sigaction) {
    if host_action.sa_sigaction == libc::SIG_IGN {
        return;
    }
    let code = c"import _signal as _s\n_s.signal(_s.SIGINT, _s.default_int_handler)\ndel _s\n";
    if run_code(py, code, c"<pyrt signals>").is_err() {
        // SAFETY: `py` proves the GIL is held.
        unsafe { (py.api.PyErr_Clear)() };
    }
    crate::signals::restore_action(libc::SIGINT, host_action);
}

/// Runs pyrt's own setup code in a fresh globals dict (with `__builtins__`), not in `__main__`.
pub fn run_private(py: Python, code: &CStr, filename: &CStr) -> Result<()> {
    let api = py.api;
    // SAFETY: `py` proves the GIL is held.
    let globals = own(py, unsafe { (api.PyDict_New)() })?;
    // SAFETY: the GIL is held; the name is a NUL-terminated literal.
    let builtins = own(py, unsafe { (api.PyImport_ImportModule)(c"builtins".as_ptr()) })?;
    // SAFETY: the GIL is held; `globals` and `builtins` are strong references.
    if unsafe { (api.PyDict_SetItemString)(globals.as_ptr(), c"__builtins__".as_ptr(), builtins.as_ptr()) } != 0 {
        return Err(fail(py));
    }
    let compiled = compile(py, code, filename, ffi::PY_FILE_INPUT)?;
    // SAFETY: the GIL is held; the code object and `globals` are strong references.
    own(py, unsafe { (api.PyEval_EvalCode)(compiled.as_ptr(), globals.as_ptr(), globals.as_ptr()) }).map(drop)
}

/// In the `"python"` signals mode, Python's SIGINT handler even when the host already had one:
/// CPython installs `default_int_handler` only over SIG_DFL, so in a Go host (whose runtime
/// handles every signal) Ctrl-C, `os.kill(os.getpid(), SIGINT)` and `_thread.interrupt_main()`
/// would not raise KeyboardInterrupt. A host that ignores SIGINT keeps it ignored, as in Python.
/// Runs once, on the main thread, right after initialization.
pub fn claim_sigint(py: Python) {
    let code = c"import _signal as _s\nif _s.getsignal(_s.SIGINT) is None:\n    _s.signal(_s.SIGINT, _s.default_int_handler)\ndel _s\n";
    if run_code(py, code, c"<pyrt signals>").is_err() {
        // SAFETY: `py` proves the GIL is held.
        unsafe { (py.api.PyErr_Clear)() };
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
    let api = py.api;
    // SAFETY: `py` proves the GIL is held.
    let globals = own(py, unsafe { (api.PyDict_New)() })?;
    // SAFETY: the GIL is held; the name is a NUL-terminated literal.
    let builtins = own(py, unsafe { (api.PyImport_ImportModule)(c"builtins".as_ptr()) })?;
    // SAFETY: the GIL is held; `globals` and `builtins` are strong references.
    if unsafe { (api.PyDict_SetItemString)(globals.as_ptr(), c"__builtins__".as_ptr(), builtins.as_ptr()) } != 0 {
        return Err(fail(py));
    }
    let compiled = compile(py, code, c"<pyrt signals>", ffi::PY_FILE_INPUT)?;
    // SAFETY: the GIL is held; the code object and `globals` are strong references.
    own(py, unsafe { (api.PyEval_EvalCode)(compiled.as_ptr(), globals.as_ptr(), globals.as_ptr()) }).map(drop)
}
