//! [`Builder`]: the config of a runtime, key by key.

use std::path::Path;

use super::encoding::from_json;
use super::{Discovery, Runtime};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime;

/// Options for starting Python: the typed form of the JSON config `pyrt_new` takes (README,
/// "Config"). Anything left unset keeps its default.
#[derive(Debug, Clone, Default)]
pub struct Builder {
    config: serde_json::Map<String, serde_json::Value>,
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
    /// 3.12+; below, in the main interpreter: [`Info::workers_note`](crate::Info::workers_note) says so).
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
    /// Count calls ([`Runtime::stats`](crate::Runtime::stats); on by default). Process-wide: the first handle decides.
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
    /// reporting progress lines to `progress` (`pyrt_venv_ensure`). [`Builder::build`](crate::Builder::build) does the
    /// same, with progress to stderr.
    pub fn ensure_venv(&self, mut progress: impl FnMut(&str)) -> Result<()> {
        runtime::venv_ensure(Some(&self.config_json()?), &mut progress)
    }

    /// Reports which libpython [`Builder::build`](crate::Builder::build) would load, without loading it.
    pub fn discover(&self) -> Result<Discovery> {
        let config = crate::config::Config::parse(Some(&self.config_json()?))?;
        from_json(&crate::discover::report_json(&config, std::env::var("PYRT_LIBPYTHON").ok())?)
    }
}

impl Runtime {
    /// Typed options for starting Python.
    pub fn builder() -> Builder {
        Builder::default()
    }
}
