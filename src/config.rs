//! The `pyrt_new` configuration: a JSON object whose keys grow with new features (virtualenvs,
//! workers, output capture) without touching the C ABI. Unknown keys are an error, so a typo is
//! never silently ignored.

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::signals::{SignalsMode, SigpipePolicy};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Path to `libpython3.X.so[.1.0]`; `None` = discover.
    #[serde(default)]
    pub libpython: Option<String>,
    /// The interpreter reported as `sys.executable` (and used to locate the standard library);
    /// `None` = derived from the library (a real interpreter of the same version).
    #[serde(default)]
    pub python_executable: Option<String>,
    /// Honour `PYTHON*` environment variables (off by default: a service must not change
    /// behaviour with the deployer's shell).
    #[serde(default)]
    pub use_environment: bool,
    /// `sys.argv`; `None` = `[""]`, as `python3 -c` would give without a script.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// A virtualenv directory: `sys.prefix`, `sys.executable` and site-packages become the venv's,
    /// and (without `libpython`) the venv's own Python is loaded.
    #[serde(default)]
    pub venv: Option<String>,
    /// A managed venv (crate::environment): requirements (pip's syntax) to install into `venv`,
    /// which pyrt creates with the interpreter it loads when it is missing or was made for other
    /// requirements. Takes effect when Python starts.
    #[serde(default)]
    pub requirements: Vec<String>,
    /// A requirements file (pip's `-r` syntax) for the managed venv, read with `requirements`.
    #[serde(default)]
    pub requirements_file: Option<String>,
    /// Whether the base installation's site-packages are visible; `None` = what the venv's
    /// `pyvenv.cfg` says (`include-system-site-packages`).
    #[serde(default)]
    pub system_site_packages: Option<bool>,
    /// Extra directories added with `site.addsitedir` after start-up (`.pth` files honoured).
    #[serde(default)]
    pub site_paths: Vec<String>,
    /// An explicit `PYTHONHOME` (the *base* installation's prefix, never a venv).
    #[serde(default)]
    pub python_home: Option<String>,
    /// A version constraint for discovery, e.g. `"3.12"`.
    #[serde(default)]
    pub python_version: Option<String>,
    /// `"host"` (default: Python never takes over a process-wide signal disposition) or
    /// `"python"` (as a standalone script: SIGINT raises KeyboardInterrupt, SIGPIPE ignored).
    #[serde(default)]
    pub signals: Option<String>,
    /// In `"host"` signals mode, when SIGPIPE is blocked in threads running Python: `"thread"`
    /// (default: from a thread's first call on) or `"call"` (for the duration of each call).
    #[serde(default)]
    pub sigpipe: Option<String>,
    /// This handle's calls run on the interpreter's main thread (the thread that initialized
    /// Python), so main-thread-only features work: `signal.signal`, `signal.setitimer`, asyncio
    /// signal handlers, `_thread.interrupt_main`. A per-handle setting.
    #[serde(default)]
    pub main_thread: bool,
    /// Each call through this handle is interrupted after this many milliseconds (per handle;
    /// 0 or absent: no limit).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Calls through this handle capture what they write to sys.stdout / sys.stderr (per handle).
    #[serde(default)]
    pub capture_output: bool,
    /// Per handle: run its calls in this many worker sub-interpreters, each with its own GIL
    /// (Python 3.12+; below, in the main interpreter).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Modules each worker imports when it starts.
    #[serde(default)]
    pub worker_modules: Vec<String>,
    /// Code each worker runs when it starts.
    #[serde(default)]
    pub worker_setup: Option<String>,
    /// Count calls (`pyrt_stats_json`); `None` = on. Process-wide, fixed by the first handle.
    #[serde(default)]
    pub stats: Option<bool>,
}

/// A `python_version` constraint: "3.12" (either build kind) or "3.13t" (free-threaded only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraint {
    pub minor: u32,
    pub free_threaded: bool,
}

impl Constraint {
    /// "3.13t" / "3.12", as discovery reports versions.
    pub fn shown(self) -> String {
        format!("3.{}{}", self.minor, if self.free_threaded { "t" } else { "" })
    }

    /// True when a library of this minor version and build kind satisfies it.
    pub fn accepts(self, minor: u32, free_threaded: bool) -> bool {
        self.minor == minor && (!self.free_threaded || free_threaded)
    }
}

/// "3.12" → 3.12, either build; "3.13t" → a free-threaded 3.13.
pub fn parse_constraint(v: &str) -> Option<Constraint> {
    let rest = v.trim().strip_prefix("3.")?;
    let (digits, free_threaded) = match rest.strip_suffix('t') {
        Some(d) => (d, true),
        None => (rest, false),
    };
    let minor: u32 = digits.parse().ok()?;
    (minor >= crate::python::library::MIN_MINOR).then_some(Constraint { minor, free_threaded })
}

/// Every key of the config object, in [`Config`]'s order (checked against it by a test; the
/// contract file lists them for the bindings).
#[cfg(test)]
pub const CONFIG_KEYS: [&str; 20] = [
    "libpython",
    "python_executable",
    "use_environment",
    "argv",
    "venv",
    "requirements",
    "requirements_file",
    "system_site_packages",
    "site_paths",
    "python_home",
    "python_version",
    "signals",
    "sigpipe",
    "main_thread",
    "timeout_ms",
    "capture_output",
    "workers",
    "worker_modules",
    "worker_setup",
    "stats",
];

impl Config {
    /// Parses the config text; `None` or `""` (or only white space) means all defaults.
    pub fn parse(text: Option<&str>) -> Result<Config> {
        let text = match text {
            None => return Ok(Config::default()),
            Some(t) if t.trim().is_empty() => return Ok(Config::default()),
            Some(t) => t,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::new(ErrorKind::Config, format!("config is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Error::new(ErrorKind::Config, "config must be a JSON object"));
        }
        let config: Config = serde_json::from_value(value).map_err(|e| Error::new(ErrorKind::Config, format!("invalid config: {e}")))?;
        if let Some(v) = &config.python_version {
            if parse_constraint(v).is_none() {
                return Err(Error::new(ErrorKind::Config, format!("invalid config: python_version {v:?} is not a supported version (\"3.X\" with X ≥ 8, or \"3.Xt\" for a free-threaded build)")));
            }
        }
        let (signals, sigpipe) = config.signal_settings()?;
        if signals == SignalsMode::Python && config.sigpipe.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "invalid config: sigpipe applies to signals \"host\" only (\"python\" ignores SIGPIPE process-wide)",
            ));
        }
        let _ = sigpipe;
        if let Some(n) = config.workers {
            if !(1..=64).contains(&n) {
                return Err(Error::new(ErrorKind::Config, format!("invalid config: workers must be between 1 and 64, not {n}")));
            }
        } else if !config.worker_modules.is_empty() || config.worker_setup.is_some() {
            return Err(Error::new(ErrorKind::Config, "invalid config: worker_modules and worker_setup need \"workers\""));
        }
        if config.workers.is_some() && config.main_thread {
            return Err(Error::new(
                ErrorKind::Config,
                "invalid config: a handle runs its calls either on the main thread or in workers, not both",
            ));
        }
        if let Some(argv) = &config.argv {
            if argv.iter().any(|a| a.contains('\0')) {
                return Err(Error::new(ErrorKind::Config, "invalid config: argv entries must not contain NUL"));
            }
        }
        Ok(config)
    }

    /// The signals mode and SIGPIPE policy (validated).
    pub fn signal_settings(&self) -> Result<(SignalsMode, SigpipePolicy)> {
        let mode = self.signals.as_deref().map(SignalsMode::parse).transpose()?.unwrap_or_default();
        let policy = match mode {
            SignalsMode::Python => SigpipePolicy::Off,
            SignalsMode::Host => self.sigpipe.as_deref().map(SigpipePolicy::parse).transpose()?.unwrap_or_default(),
        };
        Ok((mode, policy))
    }

    /// The settings that shape the interpreter at start-up. A second `pyrt_new` in the same
    /// process may omit them (it joins the running interpreter) but must not contradict them.
    pub fn init_settings_conflict(&self, running: &Config) -> Option<String> {
        if self.use_environment != running.use_environment {
            return Some("use_environment differs from the running interpreter's".into());
        }
        if self.argv.is_some() && self.argv != running.argv {
            return Some("argv differs from the running interpreter's".into());
        }
        if self.venv.is_some() && self.venv != running.venv {
            return Some("venv differs from the running interpreter's".into());
        }
        if self.python_home.is_some() && self.python_home != running.python_home {
            return Some("python_home differs from the running interpreter's".into());
        }
        if self.python_executable.is_some() && self.python_executable != running.python_executable {
            return Some("python_executable differs from the running interpreter's".into());
        }
        if self.signals.is_some() && self.signal_settings().ok().map(|s| s.0) != running.signal_settings().ok().map(|s| s.0) {
            return Some("signals differs from the running interpreter's".into());
        }
        if self.sigpipe.is_some() && self.signal_settings().ok() != running.signal_settings().ok() {
            return Some("sigpipe differs from the running interpreter's".into());
        }
        if self.stats.is_some() && self.stats.unwrap_or(true) != running.stats.unwrap_or(true) {
            return Some("stats differs from the running interpreter's (counting is process-wide)".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CONFIG_KEYS` is exactly the struct's fields: serde lists them when it meets an unknown key.
    #[test]
    fn config_keys_are_the_fields() {
        let e = Config::parse(Some(r#"{"no_such_key": 1}"#)).unwrap_err();
        let listed = e.message.split("expected one of ").nth(1).expect("serde lists the fields");
        let listed: Vec<&str> = listed
            .split(", ")
            .map(|k| k.trim_matches(|c: char| c == '`' || !c.is_ascii() || c.is_whitespace() || c == '.').split('`').next().unwrap_or(""))
            .collect();
        assert_eq!(listed, CONFIG_KEYS, "{}", e.message);
    }

    #[test]
    fn defaults_for_null_and_empty() {
        assert_eq!(Config::parse(None).unwrap(), Config::default());
        assert_eq!(Config::parse(Some("")).unwrap(), Config::default());
        assert_eq!(Config::parse(Some("  ")).unwrap(), Config::default());
        assert_eq!(Config::parse(Some("{}")).unwrap(), Config::default());
    }

    #[test]
    fn rejects_unknown_keys_and_non_objects() {
        let e = Config::parse(Some(r#"{"libpyton": "x"}"#)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains("libpyton"), "{}", e.message);
        assert_eq!(Config::parse(Some("[]")).unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Config::parse(Some("{")).unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Config::parse(Some(r#"{"use_environment": "yes"}"#)).unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn reads_keys() {
        let c = Config::parse(Some(r#"{"libpython":"/x/libpython3.12.so","argv":["a","b"],"use_environment":true}"#)).unwrap();
        assert_eq!(c.libpython.as_deref(), Some("/x/libpython3.12.so"));
        assert_eq!(c.argv, Some(vec!["a".into(), "b".into()]));
        assert!(c.use_environment);
    }
}
