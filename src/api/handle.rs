//! [`Runtime`]: a handle to the interpreter, and the calls made through it.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::encoding::{c_string, encode_args, from_json, into_string, path_text, to_json, NO_KWARGS};
use super::object::{decode_call, object_of};
use super::{Info, Object, Stats};
use crate::error::Result;
use crate::runtime::{self, VALUE_TAGGED};

/// A handle to the process's Python interpreter. Dropping it closes it; dropping the last one
/// finalizes Python (see the module docs).
#[derive(Debug)]
pub struct Runtime {
    pub(super) token: u64,
}

impl Runtime {
    /// Opens a runtime. `config` is the JSON object `pyrt_new` takes (README, "Config"); `None`
    /// for all defaults, which finds libpython by itself. [`Runtime::builder`] is the typed way.
    /// The first runtime in a process loads libpython and starts Python; later ones share it.
    pub fn new(config: Option<&str>) -> Result<Runtime> {
        runtime::new(config).map(|token| Runtime { token })
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

    /// [`Runtime::info`](crate::Runtime::info) as JSON text.
    pub fn info_json(&self) -> Result<String> {
        runtime::info_json(self.token).map(into_string)
    }

    /// This handle's call statistics.
    pub fn stats(&self) -> Result<Stats> {
        from_json(&self.stats_json()?)
    }

    /// [`Runtime::stats`](crate::Runtime::stats) as JSON text.
    pub fn stats_json(&self) -> Result<String> {
        runtime::stats_json(Some(self.token)).map(into_string)
    }

    /// What this handle's calls wrote to `sys.stdout` and `sys.stderr` since the last take
    /// (with [`Builder::capture_output`](crate::Builder::capture_output); empty otherwise), and forgets it.
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
