//! The safe Rust API: embed CPython in a Rust program, with the Python chosen when the program
//! runs (PyO3 fixes it when the program is compiled).
//!
//! ```no_run
//! use pyrt::{Object, Runtime};
//!
//! fn main() -> pyrt::Result<()> {
//!     // Finds libpython ($PYRT_LIBPYTHON, the python3 on PATH, common places), or name one:
//!     // Runtime::builder().libpython("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0").build()?
//!     let rt = Runtime::new(None)?;
//!     let root: f64 = rt.call("math", "sqrt", (16.0,))?;
//!     assert_eq!(root, 4.0);
//!
//!     rt.run("def greet(name):\n    return f'hello {name}'\n")?;
//!     let s: String = rt.call("__main__", "greet", ("pyrt",))?;
//!     assert_eq!(s, "hello pyrt");
//!
//!     // Keep Python objects alive and call their methods; dropping an Object releases it.
//!     let counter: Object = rt.call_object("collections", "Counter", ("abracadabra",))?;
//!     let top: Vec<(String, u32)> = counter.call_method("most_common", (2,))?;
//!     assert_eq!(top, [("a".to_string(), 5), ("b".to_string(), 2)]);
//!
//!     // A Python exception is an Err carrying the type and the traceback.
//!     let err = rt.run("1/0").unwrap_err();
//!     assert_eq!(err.python_type(), Some("ZeroDivisionError"));
//!     Ok(())
//! }
//! ```
//!
//! # Values
//! Arguments are anything `serde` can serialize and results anything it can deserialize, through
//! JSON text (docs/values.md): numbers, strings, booleans, `None`/`()`/`Option`, sequences (a
//! Python tuple comes back as a sequence, so it fills a Rust tuple or `Vec`), maps with string
//! keys. Integers of any size stay exact on the Python side; a Rust type too small for a result
//! is an [`ErrorKind::Conversion`] error. A Python value without a JSON form (a set, bytes, a
//! class instance) is a conversion error too — ask for an [`Object`] instead
//! ([`Runtime::call_object`], [`Object::call_method_object`]). An [`Object`] and [`Bytes`] may
//! appear anywhere inside arguments; they travel in the tagged encoding, in which a map key
//! `"__pyrt__"` is reserved.
//!
//! # Threads and lifetime
//! [`Runtime`] and [`Object`] are `Send + Sync`: call them from any thread, concurrently; the
//! GIL is taken and released inside each call. One interpreter exists per process: every
//! `Runtime` is a handle to it, and dropping the last one finalizes it for good (CPython cannot
//! be restarted), after which [`Runtime::new`] fails with [`ErrorKind::Finalized`]. Objects
//! belong to the runtime that created them: once it is dropped their calls fail with
//! [`ErrorKind::Closed`]; dropping an `Object` is always safe.

use std::ffi::CString;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{self, Returned, VALUE_TAGGED};

/// A handle to the process's Python interpreter. Dropping it closes it; dropping the last one
/// finalizes Python (see the module docs).
#[derive(Debug)]
pub struct Runtime {
    token: u64,
}

/// A Python object kept alive by Rust: it owns one reference, released when the `Object` is
/// dropped (from any thread, without waiting for the GIL).
#[derive(Debug)]
pub struct Object {
    id: u64,
}

/// Bytes passed to Python as a `bytes` object (inside arguments: `rt.call("m", "f", (Bytes(b"\x00\x01"),))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

/// Call statistics: [`Runtime::stats`] (one handle) and [`process_stats`] (the whole process).
/// The fields are `pyrt_stats_json`'s (the header documents them): counts are exact, the
/// latency figures estimates (fast calls are timed one in 16).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[cfg_attr(test, serde(deny_unknown_fields))]
pub struct Stats {
    /// `"runtime"` or `"process"`.
    pub scope: String,
    /// Whether calls are counted (config key `"stats"`, [`Builder::stats`]).
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

/// What [`Runtime::info`] reports about the running interpreter.
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

/// Which libpython [`Builder::build`] would load, and every candidate considered
/// ([`Builder::discover`]).
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

/// Options for starting Python: the typed form of the JSON config `pyrt_new` takes (README,
/// "Config"). Anything left unset keeps its default.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: serde_json::Map<String, serde_json::Value>,
}

fn path_text(p: &Path, what: &str) -> Result<String> {
    p.to_str().map(str::to_string).ok_or_else(|| Error::new(ErrorKind::InvalidUtf8, format!("{what} {} is not valid UTF-8", p.display())))
}

fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid_argument(format!("{what} contains a NUL character")))
}

/// Text pyrt's core returns: a `CString` or (JSON results) a `CText`.
trait CoreText {
    fn into_text(self) -> String;
}

impl CoreText for CString {
    fn into_text(self) -> String {
        self.into_string().expect("pyrt returns UTF-8")
    }
}

impl CoreText for crate::ctext::CText {
    fn into_text(self) -> String {
        self.into_string_lossy()
    }
}

fn into_string(s: impl CoreText) -> String {
    s.into_text()
}

fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::Conversion, format!("{what} cannot be serialized: {e}")))
}

fn from_json<T: DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(ErrorKind::Conversion, format!("the Python result {} does not fit the Rust type: {e}", abbreviate(json))))
}

fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Serialized arguments: a JSON array and the value flags they need. Plain JSON goes as is;
/// arguments holding an `Object` or `Bytes` (the only writers of the reserved `"__pyrt__"` key,
/// apart from a caller who writes a tag deliberately) go in the tagged encoding.
#[derive(Debug)]
struct Encoded {
    args: String,
    kwargs: Option<String>,
    flags: u32,
}

fn encode_args<A: Serialize, K: Serialize>(args: &A, kwargs: Option<&K>) -> Result<Encoded> {
    let mut args = to_json(args, "the arguments")?;
    if args == "null" {
        // `()` (or a bare `None`): no arguments. One None argument is `(None::<T>,)`.
        args = "[]".to_string();
    } else if !args.starts_with('[') {
        // A single value rather than a tuple/array/Vec: pass it as the only argument.
        args = format!("[{args}]");
    }
    let kwargs = match kwargs {
        None => None,
        Some(k) => {
            let text = to_json(k, "the keyword arguments")?;
            if !text.starts_with('{') {
                return Err(Error::invalid_argument(format!("keyword arguments must serialize to a map, not {}", abbreviate(&text))));
            }
            Some(text)
        }
    };
    let tagged = args.contains("\"__pyrt__\"") || kwargs.as_deref().is_some_and(|k| k.contains("\"__pyrt__\""));
    Ok(Encoded { args, kwargs, flags: if tagged { VALUE_TAGGED } else { 0 } })
}

/// Runs a call that returns [`Returned`] and decodes its result as plain JSON into `T`. With
/// plain arguments the call converts the result itself; with tagged arguments it returns a
/// handle whose plain encoding is read next (the result must not come back tagged).
fn decode_call<T: DeserializeOwned>(flags: u32, call: impl FnOnce(u32, bool) -> Result<Returned>) -> Result<T> {
    if flags == 0 {
        match call(0, false)? {
            Returned::Json(j) => from_json(j.to_str().expect("pyrt returns UTF-8")),
            Returned::Object(id) => Err(unexpected_object(id)),
        }
    } else {
        object_of(call(flags, true)?)?.extract()
    }
}

fn object_of(r: Returned) -> Result<Object> {
    match r {
        Returned::Object(id) => Ok(Object { id }),
        Returned::Json(_) => Err(Error::new(ErrorKind::Internal, "pyrt returned a value where a handle was asked for")),
    }
}

fn unexpected_object(id: u64) -> Error {
    runtime::object_free(id);
    Error::new(ErrorKind::Internal, "pyrt returned a handle where a value was asked for")
}

const NO_KWARGS: Option<&()> = None;

impl Runtime {
    /// Opens a runtime. `config` is the JSON object `pyrt_new` takes (README, "Config"); `None`
    /// for all defaults, which finds libpython by itself. [`Runtime::builder`] is the typed way.
    /// The first runtime in a process loads libpython and starts Python; later ones share it.
    pub fn new(config: Option<&str>) -> Result<Runtime> {
        runtime::new(config).map(|token| Runtime { token })
    }

    /// Typed options for starting Python.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Runs Python statements in `__main__` (shared by every runtime of the process).
    pub fn run(&self, code: &str) -> Result<()> {
        runtime::run_string(self.token, &c_string(code, "code")?)
    }

    /// Same as [`Runtime::run`].
    pub fn run_string(&self, code: &str) -> Result<()> {
        self.run(code)
    }

    /// Runs a Python file in `__main__`, as `python file.py` would (`__file__` is set).
    pub fn run_file(&self, path: impl AsRef<Path>) -> Result<()> {
        runtime::run_file(self.token, &path_text(path.as_ref(), "path")?)
    }

    /// Evaluates a Python expression in `__main__` and converts the result to `T`.
    pub fn eval<T: DeserializeOwned>(&self, expr: &str) -> Result<T> {
        from_json(&self.eval_json(expr)?)
    }

    /// Evaluates a Python expression; its value as JSON text.
    pub fn eval_json(&self, expr: &str) -> Result<String> {
        runtime::eval_json(self.token, &c_string(expr, "expression")?).map(into_string)
    }

    /// Evaluates a Python expression and keeps its value as an [`Object`].
    pub fn eval_object(&self, expr: &str) -> Result<Object> {
        runtime::object_eval(self.token, &c_string(expr, "expression")?).map(|id| Object { id })
    }

    /// Calls `module.function(*args)`: `function` may be dotted (`"path.join"` in `"os"`),
    /// `module` may be `"__main__"` or `"builtins"`. `args` is the argument list: a tuple
    /// (`(1, "a")`; `(x,)` for one argument; `()` for none), a `Vec`, array or slice of
    /// arguments, or a single non-sequence value. The result is converted to `T` (`()` accepts
    /// `None`; [`Runtime::call_object`] keeps any result as an object).
    pub fn call<T: DeserializeOwned>(&self, module: &str, function: &str, args: impl Serialize) -> Result<T> {
        self.call_kw(module, function, args, NO_KWARGS)
    }

    /// Calls `module.function(*args, **kwargs)`; `kwargs` serializes to a map (a `HashMap`, a
    /// struct, `serde_json::json!({...})`), `None` for no keyword arguments.
    pub fn call_kw<T: DeserializeOwned, K: Serialize>(
        &self,
        module: &str,
        function: &str,
        args: impl Serialize,
        kwargs: Option<&K>,
    ) -> Result<T> {
        let e = encode_args(&args, kwargs)?;
        let target = format!("{module}:{function}");
        decode_call(e.flags, |flags, as_object| {
            runtime::call_value(self.token, &target, Some(&e.args), e.kwargs.as_deref(), flags, as_object)
        })
    }

    /// Calls `module.function(*args)` and keeps the result as an [`Object`].
    pub fn call_object(&self, module: &str, function: &str, args: impl Serialize) -> Result<Object> {
        let e = encode_args(&args, NO_KWARGS)?;
        object_of(runtime::call_value(self.token, &format!("{module}:{function}"), Some(&e.args), None, e.flags, true)?)
    }

    /// The raw JSON call: `args` a JSON array, `kwargs` a JSON object (docs/values.md); returns
    /// the result's JSON text.
    pub fn call_json(&self, module: &str, function: &str, args: Option<&str>, kwargs: Option<&str>) -> Result<String> {
        runtime::call_json(self.token, module, function, args.map(str::as_bytes), kwargs.map(str::as_bytes)).map(into_string)
    }

    /// Calls `module.function(*args)`, an `async def`, and runs the coroutine on pyrt's asyncio
    /// event loop (docs/streams.md): returns at once with a [`Task`], a `Future` of the result
    /// converted to `T` (await it from any executor, or [`Task::wait`] for it). No thread waits
    /// while the coroutine runs. An error raised before the coroutine started (a missing
    /// function, a result that is not awaitable) is returned here.
    ///
    /// ```no_run
    /// # fn main() -> pyrt::Result<()> {
    /// let rt = pyrt::Runtime::new(None)?;
    /// rt.run("import asyncio\nasync def later(x):\n    await asyncio.sleep(0.01)\n    return x * 2\n")?;
    /// let tasks: Vec<pyrt::Task<i64>> = (0..100).map(|i| rt.call_async("__main__", "later", (i,))).collect::<pyrt::Result<_>>()?;
    /// let sum: i64 = tasks.into_iter().map(|t| t.wait()).sum::<pyrt::Result<i64>>()?;
    /// assert_eq!(sum, 9900);
    /// # Ok(())
    /// # }
    /// ```
    pub fn call_async<T: DeserializeOwned>(&self, module: &str, function: &str, args: impl Serialize) -> Result<Task<T>> {
        let e = encode_args(&args, NO_KWARGS)?;
        let (shared, done) = Task::<T>::completion();
        let id = runtime::call_async(self.token, &format!("{module}:{function}"), Some(&e.args), None, e.flags, done)?;
        Ok(Task { id, shared, _value: std::marker::PhantomData })
    }

    /// Imports a module and keeps it as an [`Object`].
    pub fn import(&self, module: &str) -> Result<Object> {
        runtime::object_import(self.token, module).map(|id| Object { id })
    }

    /// Builds a Python object from a Rust value (a `dict` from a map or struct, a `list` from a
    /// `Vec`, ...).
    pub fn to_object(&self, value: &impl Serialize) -> Result<Object> {
        let json = to_json(value, "the value")?;
        let flags = if json.contains("\"__pyrt__\"") { VALUE_TAGGED } else { 0 };
        runtime::object_from_json(self.token, &json, flags).map(|id| Object { id })
    }

    /// The versions and paths of pyrt and the running Python.
    pub fn info(&self) -> Result<Info> {
        from_json(&self.info_json()?)
    }

    /// [`Runtime::info`] as JSON text.
    pub fn info_json(&self) -> Result<String> {
        runtime::info_json(self.token).map(into_string)
    }

    /// This handle's call statistics.
    pub fn stats(&self) -> Result<Stats> {
        from_json(&self.stats_json()?)
    }

    /// [`Runtime::stats`] as JSON text.
    pub fn stats_json(&self) -> Result<String> {
        runtime::stats_json(Some(self.token)).map(into_string)
    }

    /// What this handle's calls wrote to `sys.stdout` and `sys.stderr` since the last take
    /// (with [`Builder::capture_output`]; empty otherwise), and forgets it.
    pub fn take_output(&self) -> Result<(String, String)> {
        use crate::capi::status::{PYRT_STDERR, PYRT_STDOUT};
        Ok((runtime::output_take(self.token, PYRT_STDOUT)?, runtime::output_take(self.token, PYRT_STDERR)?))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        runtime::free(self.token)
    }
}

impl Object {
    /// `getattr(self, name)` as an object.
    pub fn get(&self, name: &str) -> Result<Object> {
        object_of(runtime::object_getattr(self.id, name, 0, true)?)
    }

    /// `getattr(self, name)` converted to `T`.
    pub fn get_value<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        match runtime::object_getattr(self.id, name, 0, false)? {
            Returned::Json(j) => from_json(j.to_str().expect("pyrt returns UTF-8")),
            Returned::Object(id) => Err(unexpected_object(id)),
        }
    }

    /// `setattr(self, name, value)`; `value` may be an `&Object`.
    pub fn set(&self, name: &str, value: impl Serialize) -> Result<()> {
        let json = to_json(&value, "the value")?;
        let flags = if json.contains("\"__pyrt__\"") { VALUE_TAGGED } else { 0 };
        runtime::object_setattr(self.id, name, Some(&json), None, flags)
    }

    /// `self(*args)` converted to `T`.
    pub fn call<T: DeserializeOwned>(&self, args: impl Serialize) -> Result<T> {
        self.call_inner(None, &args, NO_KWARGS)
    }

    /// `self(*args, **kwargs)` converted to `T`.
    pub fn call_kw<T: DeserializeOwned, K: Serialize>(&self, args: impl Serialize, kwargs: Option<&K>) -> Result<T> {
        self.call_inner(None, &args, kwargs)
    }

    /// `self(*args)` as an object.
    pub fn call_object(&self, args: impl Serialize) -> Result<Object> {
        let e = encode_args(&args, NO_KWARGS)?;
        object_of(runtime::object_call(self.id, None, Some(&e.args), None, e.flags, true)?)
    }

    /// `self.method(*args)` converted to `T`.
    pub fn call_method<T: DeserializeOwned>(&self, method: &str, args: impl Serialize) -> Result<T> {
        self.call_inner(Some(method), &args, NO_KWARGS)
    }

    /// `self.method(*args, **kwargs)` converted to `T`.
    pub fn call_method_kw<T: DeserializeOwned, K: Serialize>(&self, method: &str, args: impl Serialize, kwargs: Option<&K>) -> Result<T> {
        self.call_inner(Some(method), &args, kwargs)
    }

    /// `self.method(*args)` as an object.
    pub fn call_method_object(&self, method: &str, args: impl Serialize) -> Result<Object> {
        let e = encode_args(&args, NO_KWARGS)?;
        object_of(runtime::object_call(self.id, Some(method), Some(&e.args), None, e.flags, true)?)
    }

    fn call_inner<T: DeserializeOwned, A: Serialize, K: Serialize>(&self, method: Option<&str>, args: &A, kwargs: Option<&K>) -> Result<T> {
        let e = encode_args(args, kwargs)?;
        decode_call(e.flags, |flags, as_object| runtime::object_call(self.id, method, Some(&e.args), e.kwargs.as_deref(), flags, as_object))
    }

    /// The object's value converted to `T`.
    pub fn extract<T: DeserializeOwned>(&self) -> Result<T> {
        from_json(&self.to_json()?)
    }

    /// The object's value as plain JSON text.
    pub fn to_json(&self) -> Result<String> {
        runtime::object_to_json(self.id, 0).map(into_string)
    }

    /// The object's value in the tagged encoding (docs/values.md): also for bytes, sets, tuples,
    /// datetimes, ...
    pub fn to_tagged_json(&self) -> Result<String> {
        runtime::object_to_json(self.id, VALUE_TAGGED).map(into_string)
    }

    /// `repr(self)`.
    pub fn repr(&self) -> Result<String> {
        runtime::object_text(self.id, true).map(into_string)
    }

    /// `str(self)`.
    pub fn str(&self) -> Result<String> {
        runtime::object_text(self.id, false).map(into_string)
    }

    /// The number that stands for this object in the tagged encoding (`pyrt_object_id`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// `iter(self)`: the items of any iterable (a list, a generator, a file...), each converted
    /// to `T` as it is taken. A generator runs one step per item (see [`Iter::batched`] to take
    /// many per call).
    ///
    /// ```no_run
    /// # fn main() -> pyrt::Result<()> {
    /// let rt = pyrt::Runtime::new(None)?;
    /// rt.run("def squares(n):\n    for i in range(n):\n        yield i * i\n")?;
    /// let squares = rt.call_object("__main__", "squares", (4,))?;
    /// let v: Vec<u64> = squares.iter()?.collect::<pyrt::Result<_>>()?;
    /// assert_eq!(v, [0, 1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn iter<T: DeserializeOwned>(&self) -> Result<Iter<T>> {
        Ok(Iter {
            it: Object { id: runtime::object_iter(self.id)? },
            batch: 1,
            buffered: std::collections::VecDeque::new(),
            done: false,
            _item: std::marker::PhantomData,
        })
    }
}

/// A coroutine running on pyrt's asyncio event loop ([`Runtime::call_async`]): a `Future` of
/// its result, converted to `T`. Awaiting it from any executor does not block a thread;
/// [`Task::wait`] blocks the calling thread instead. Dropping it does not cancel the coroutine:
/// call [`Task::cancel`].
#[derive(Debug)]
pub struct Task<T> {
    id: u64,
    shared: std::sync::Arc<TaskShared>,
    _value: std::marker::PhantomData<fn() -> T>,
}

#[derive(Debug, Default)]
struct TaskShared {
    state: std::sync::Mutex<TaskState>,
    ready: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct TaskState {
    outcome: Option<Result<String>>,
    waker: Option<std::task::Waker>,
}

impl<T: DeserializeOwned> Task<T> {
    fn completion() -> (std::sync::Arc<TaskShared>, runtime::Completion) {
        let shared = std::sync::Arc::new(TaskShared::default());
        let s = shared.clone();
        let done: runtime::Completion = Box::new(move |_task, outcome| {
            let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
            st.outcome = Some(outcome.map(into_string));
            if let Some(w) = st.waker.take() {
                w.wake();
            }
            s.ready.notify_all();
        });
        (shared, done)
    }

    /// Blocks the calling thread until the coroutine is done; its result converted to `T`, or
    /// its exception ([`ErrorKind::Python`]), its cancellation ([`ErrorKind::Interrupted`]) or
    /// the runtime's closing ([`ErrorKind::Closed`]).
    pub fn wait(self) -> Result<T> {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.outcome.is_none() {
            st = self.shared.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        let outcome = st.outcome.take().expect("checked");
        drop(st);
        outcome.and_then(|json| from_json(&json))
    }

    /// Cancels the coroutine: Python sees CancelledError where it awaits and runs its cleanup;
    /// the task then completes with [`ErrorKind::Interrupted`] (or its result, if it caught the
    /// cancellation). Returns at once.
    pub fn cancel(&self) -> Result<()> {
        runtime::task_cancel(self.id)
    }

    /// Whether the coroutine is done.
    pub fn is_done(&self) -> bool {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).outcome.is_some()
    }
}

impl<T: DeserializeOwned> std::future::Future for Task<T> {
    type Output = Result<T>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<T>> {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        match st.outcome.take() {
            Some(outcome) => std::task::Poll::Ready(outcome.and_then(|json| from_json(&json))),
            None => {
                st.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

/// An iterator over a Python iterable's items ([`Object::iter`]); also a generator's `send`,
/// `throw` and `close`. Each step is a call into Python (interruptible, with the runtime's
/// timeout); a Python exception ends the iteration as an `Err` item.
///
/// Dropping it releases the Python iterator; a generator then closes when its last reference
/// is dropped, on whichever thread next enters Python. Call [`Iter::close`] to run its `finally`
/// blocks now.
#[derive(Debug)]
pub struct Iter<T> {
    it: Object,
    batch: usize,
    buffered: std::collections::VecDeque<serde_json::Value>,
    done: bool,
    _item: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Iter<T> {
    /// Takes up to `n` items per call into Python (at least 1): many small items then cost one
    /// call per batch instead of one each. A generator runs ahead of what was consumed by up to
    /// `n - 1` items, so keep 1 where each step has side effects that must be paced.
    pub fn batched(mut self, n: usize) -> Iter<T> {
        self.batch = n.max(1);
        self
    }

    /// `generator.send(value)`: the next value it yields, or `None` when it returns.
    pub fn send(&mut self, value: impl Serialize) -> Result<Option<T>> {
        self.check_unbuffered("send")?;
        let json = to_json(&value, "the value")?;
        let flags = if json.contains("\"__pyrt__\"") { VALUE_TAGGED } else { 0 };
        self.step(runtime::iter_send(self.it.id, Some(&json), flags, false))
    }

    /// `generator.throw(exception)` with an exception object (an instance or a class): the next
    /// value the generator yields, `None` if it returns, or the exception that propagates out.
    pub fn throw(&mut self, exception: &Object) -> Result<Option<T>> {
        self.check_unbuffered("throw")?;
        self.step(runtime::iter_throw(self.it.id, exception.id, 0, false))
    }

    /// `close()`: a generator's `finally` blocks run now; the iteration ends.
    pub fn close(&mut self) -> Result<()> {
        self.done = true;
        self.buffered.clear();
        runtime::iter_close(self.it.id)
    }

    /// The Python iterator itself.
    pub fn as_object(&self) -> &Object {
        &self.it
    }

    fn check_unbuffered(&self, what: &str) -> Result<()> {
        if self.buffered.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_argument(format!("{what}: items taken ahead by a batch are still unread")))
        }
    }

    fn step(&mut self, r: Result<Option<Returned>>) -> Result<Option<T>> {
        match r? {
            Some(Returned::Json(j)) => from_json(j.to_str().expect("pyrt returns UTF-8")).map(Some),
            Some(Returned::Object(id)) => Err(unexpected_object(id)),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    fn fill(&mut self) -> Result<()> {
        match runtime::iter_next_batch(self.it.id, self.batch, 0)? {
            Some(items) => {
                let text = items.to_str().expect("pyrt returns UTF-8");
                let values: Vec<serde_json::Value> = serde_json::from_str(text)
                    .map_err(|e| Error::new(ErrorKind::Internal, format!("pyrt returned a malformed batch: {e}")))?;
                self.buffered.extend(values);
            }
            None => self.done = true,
        }
        Ok(())
    }
}

impl<T: DeserializeOwned> Iterator for Iter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(
                serde_json::from_value(v)
                    .map_err(|e| Error::new(ErrorKind::Conversion, format!("an item does not fit the Rust type: {e}"))),
            );
        }
        if self.done {
            return None;
        }
        if self.batch == 1 {
            return self.step(runtime::iter_next(self.it.id, 0, false)).transpose();
        }
        if let Err(e) = self.fill() {
            return Some(Err(e));
        }
        self.next()
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        runtime::object_free(self.id)
    }
}

/// Inside arguments an object is passed as itself (a new reference, not a copy).
impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("__pyrt__", "object")?;
        m.serialize_entry("v", &self.id)?;
        m.end()
    }
}

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("__pyrt__", "bytes")?;
        m.serialize_entry("v", &base64::engine::general_purpose::STANDARD.encode(self.0))?;
        m.end()
    }
}

impl Builder {
    fn set(mut self, key: &str, value: impl Into<serde_json::Value>) -> Builder {
        self.config.insert(key.to_string(), value.into());
        self
    }

    fn set_path(self, key: &str, p: &Path) -> Builder {
        // A non-UTF-8 path is kept lossily here and reported by `build` as a config error.
        let text = p.to_str().map(str::to_string).unwrap_or_else(|| format!("\u{0}non-UTF-8 path {}", p.display()));
        self.set(key, text)
    }

    /// The libpython to load (`libpython3.X.so[.1.0]`); otherwise it is discovered.
    pub fn libpython(self, path: impl AsRef<Path>) -> Builder {
        self.set_path("libpython", path.as_ref())
    }
    /// A version constraint for discovery, e.g. `"3.12"`.
    pub fn python_version(self, version: &str) -> Builder {
        self.set("python_version", version)
    }
    /// A virtualenv: its Python is loaded and its site-packages are used.
    pub fn venv(self, dir: impl AsRef<Path>) -> Builder {
        self.set_path("venv", dir.as_ref())
    }
    /// A requirement (pip's syntax, `"jinja2>=3"`) for a managed venv: pyrt creates the
    /// [`venv`](Builder::venv) with the Python it loads and installs the requirements before
    /// Python starts (again only when they change; docs/environments.md). Repeatable.
    pub fn requirement(mut self, spec: &str) -> Builder {
        match self.config.entry("requirements").or_insert_with(|| serde_json::Value::Array(Vec::new())) {
            serde_json::Value::Array(a) => a.push(spec.into()),
            _ => unreachable!("requirements is always an array"),
        }
        self
    }
    /// A requirements file (pip's `-r` syntax) for the managed venv.
    pub fn requirements_file(self, path: impl AsRef<Path>) -> Builder {
        self.set_path("requirements_file", path.as_ref())
    }
    /// Whether the base installation's site-packages are visible (default: the venv's setting).
    pub fn system_site_packages(self, on: bool) -> Builder {
        self.set("system_site_packages", on)
    }
    /// A directory added with `site.addsitedir` at start-up (`.pth` files honoured); repeatable.
    pub fn site_path(mut self, dir: impl AsRef<Path>) -> Builder {
        let text = dir.as_ref().to_str().map(str::to_string).unwrap_or_else(|| format!("\u{0}non-UTF-8 path {}", dir.as_ref().display()));
        match self.config.entry("site_paths").or_insert_with(|| serde_json::Value::Array(Vec::new())) {
            serde_json::Value::Array(a) => a.push(text.into()),
            _ => unreachable!("site_paths is always an array"),
        }
        self
    }
    /// `PYTHONHOME`: the base installation's prefix (never a venv).
    pub fn python_home(self, dir: impl AsRef<Path>) -> Builder {
        self.set_path("python_home", dir.as_ref())
    }
    /// The interpreter reported as `sys.executable`.
    pub fn python_executable(self, path: impl AsRef<Path>) -> Builder {
        self.set_path("python_executable", path.as_ref())
    }
    /// Honour `PYTHON*` environment variables (default: ignored).
    pub fn use_environment(self, on: bool) -> Builder {
        self.set("use_environment", on)
    }
    /// `sys.argv` (default `[""]`).
    pub fn argv<I: IntoIterator<Item = S>, S: Into<String>>(self, argv: I) -> Builder {
        let v: Vec<serde_json::Value> = argv.into_iter().map(|s| serde_json::Value::String(s.into())).collect();
        self.set("argv", v)
    }

    /// `"host"` (default: Python never takes a process-wide signal disposition) or `"python"`
    /// (as a standalone script: SIGINT raises KeyboardInterrupt, SIGPIPE is ignored).
    pub fn signals(self, mode: &str) -> Builder {
        self.set("signals", mode)
    }
    /// In `"host"` signals mode, when SIGPIPE is blocked in threads running Python: `"thread"`
    /// (default) or `"call"`.
    pub fn sigpipe(self, policy: &str) -> Builder {
        self.set("sigpipe", policy)
    }
    /// This handle's calls run on the interpreter's main thread (for `signal.signal`, asyncio
    /// signal handlers and other main-thread-only features).
    pub fn main_thread(self, on: bool) -> Builder {
        self.set("main_thread", on)
    }
    /// Each call through this handle is interrupted after this long ([`ErrorKind::Timeout`]);
    /// zero means no limit.
    pub fn timeout(self, limit: std::time::Duration) -> Builder {
        // Rounded up: a limit under a millisecond must not become 0, which means no limit.
        let ms = limit.as_nanos().div_ceil(1_000_000);
        self.set("timeout_ms", u64::try_from(ms).unwrap_or(u64::MAX))
    }
    /// Calls through this handle capture what they write to `sys.stdout` / `sys.stderr`: read
    /// it with [`Runtime::take_output`] (a failed call's output is also on its error).
    pub fn capture_output(self, on: bool) -> Builder {
        self.set("capture_output", on)
    }
    /// Run this handle's calls in `n` worker sub-interpreters, each with its own GIL (Python
    /// 3.12+; below, in the main interpreter: [`Info::workers_note`] says so).
    pub fn workers(self, n: usize) -> Builder {
        self.set("workers", n)
    }
    /// A module each worker imports when it starts; repeatable.
    pub fn worker_module(mut self, name: &str) -> Builder {
        match self.config.entry("worker_modules").or_insert_with(|| serde_json::Value::Array(Vec::new())) {
            serde_json::Value::Array(a) => a.push(name.into()),
            _ => unreachable!("worker_modules is always an array"),
        }
        self
    }
    /// Code each worker runs when it starts.
    pub fn worker_setup(self, code: &str) -> Builder {
        self.set("worker_setup", code)
    }
    /// Count calls ([`Runtime::stats`]; on by default). Process-wide: the first handle decides.
    pub fn stats(self, on: bool) -> Builder {
        self.set("stats", on)
    }

    /// The JSON config these options stand for (what [`Runtime::new`] takes).
    pub fn config_json(&self) -> Result<String> {
        let has_nul_path = self.config.values().any(|v| match v {
            serde_json::Value::String(s) => s.starts_with('\u{0}'),
            serde_json::Value::Array(a) => a.iter().any(|s| s.as_str().is_some_and(|s| s.starts_with('\u{0}'))),
            _ => false,
        });
        if has_nul_path {
            return Err(Error::new(ErrorKind::Config, "a path in the options is not valid UTF-8"));
        }
        Ok(serde_json::Value::Object(self.config.clone()).to_string())
    }

    /// Opens a runtime with these options.
    pub fn build(&self) -> Result<Runtime> {
        Runtime::new(Some(&self.config_json()?))
    }

    /// Makes the managed venv ready ([`Builder::requirement`]) without starting Python,
    /// reporting progress lines to `progress` (`pyrt_venv_ensure`). [`Builder::build`] does the
    /// same, with progress to stderr.
    pub fn ensure_venv(&self, mut progress: impl FnMut(&str)) -> Result<()> {
        runtime::venv_ensure(Some(&self.config_json()?), &mut progress)
    }

    /// Reports which libpython [`Builder::build`] would load, without loading it.
    pub fn discover(&self) -> Result<Discovery> {
        let config = crate::config::Config::parse(Some(&self.config_json()?))?;
        from_json(&crate::discover::report_json(&config, std::env::var("PYRT_LIBPYTHON").ok())?)
    }
}

impl Error {
    /// The Python exception's type name (`"ZeroDivisionError"`, `"json.decoder.JSONDecodeError"`)
    /// when the error came from Python.
    pub fn python_type(&self) -> Option<&str> {
        self.python.as_ref().map(|p| p.type_name.as_str())
    }

    /// The formatted Python traceback, when the error came from Python and has one.
    pub fn traceback(&self) -> Option<&str> {
        self.python.as_ref().and_then(|p| p.traceback.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every config key has a [`Builder`] method (the contract's list is the config struct's).
    #[test]
    fn builder_sets_every_config_key() {
        let b = Runtime::builder()
            .libpython("/l")
            .python_executable("/x")
            .use_environment(true)
            .argv(["a"])
            .venv("/v")
            .requirement("six")
            .requirements_file("/r.txt")
            .system_site_packages(true)
            .site_path("/s")
            .python_home("/h")
            .python_version("3.12")
            .signals("host")
            .sigpipe("call")
            .main_thread(false)
            .timeout(std::time::Duration::from_millis(5))
            .capture_output(true)
            .workers(2)
            .worker_module("json")
            .worker_setup("pass")
            .stats(true);
        let config: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&b.config_json().unwrap()).unwrap();
        let mut keys: Vec<&str> = config.keys().map(String::as_str).collect();
        let mut want = crate::config::CONFIG_KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    /// [`Info`] has a field for everything `pyrt_info_json` reports (it refuses unknown fields
    /// in tests).
    #[test]
    fn info_has_every_field() {
        let fields = crate::runtime::INFO_FIELDS.iter().map(|&k| {
            let v = match k {
                "workers" | "workers_requested" => serde_json::json!(1),
                "free_threaded" | "tested" => serde_json::json!(true),
                _ => serde_json::json!("x"),
            };
            (k.to_string(), v)
        });
        let info: Info = serde_json::from_value(serde_json::Value::Object(fields.collect())).unwrap();
        assert_eq!(info.workers_requested, 1);
    }

    #[test]
    fn args_are_wrapped_and_tagged_only_when_needed() {
        let e = encode_args(&(1, "a"), NO_KWARGS).unwrap();
        assert_eq!((e.args.as_str(), e.flags), ("[1,\"a\"]", 0));
        let e = encode_args(&16.0, NO_KWARGS).unwrap();
        assert_eq!(e.args, "[16.0]");
        let e = encode_args(&(), NO_KWARGS).unwrap();
        assert_eq!(e.args, "[]", "() is no arguments");
        let e = encode_args(&(Bytes(b"\x00\xff"),), NO_KWARGS).unwrap();
        assert_eq!((e.args.as_str(), e.flags), (r#"[{"__pyrt__":"bytes","v":"AP8="}]"#, VALUE_TAGGED));
        let kw = serde_json::json!({"sep": "-"});
        let e = encode_args(&("a",), Some(&kw)).unwrap();
        assert_eq!(e.kwargs.as_deref(), Some(r#"{"sep":"-"}"#));
        let e = encode_args(&(), Some(&[1, 2])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn builder_writes_the_config() {
        let b =
            Runtime::builder().libpython("/x/libpython3.12.so").argv(["a", "b"]).site_path("/s1").site_path("/s2").use_environment(true);
        let v: serde_json::Value = serde_json::from_str(&b.config_json().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"libpython": "/x/libpython3.12.so", "argv": ["a", "b"], "site_paths": ["/s1", "/s2"], "use_environment": true})
        );
        assert_eq!(crate::config::Config::parse(Some(&b.config_json().unwrap())).unwrap().site_paths, ["/s1", "/s2"]);
    }

    #[test]
    fn non_utf8_paths_are_config_errors() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/x/\xff"));
        assert_eq!(Runtime::builder().venv(p).config_json().unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Runtime::builder().site_path(p).config_json().unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn result_type_mismatch_is_a_conversion_error() {
        let e = from_json::<i32>("\"text\"").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conversion);
        assert!(e.message.contains("\"text\""), "{}", e.message);
    }
}
