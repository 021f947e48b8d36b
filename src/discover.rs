//! Finding a libpython when the config names none: `$PYRT_LIBPYTHON`, then the `python3` on PATH
//! (asked through `sysconfig`, because its binary may be static while sysconfig names a shared
//! library that may or may not exist — HAZARDS §8.2), then common install locations.
//! Every candidate considered is recorded with the reason it was taken or rejected, so a failure
//! explains itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, ErrorKind, Result};

/// Oldest and newest supported minor versions of CPython 3.
pub const MIN_MINOR: u32 = 8;
pub const MAX_MINOR: u32 = 13;

/// One library considered during discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub source: String,
    pub path: String,
    pub accepted: bool,
    pub reason: String,
}

/// The outcome of discovery: the library to load, the interpreter to report as `sys.executable`,
/// and what was considered on the way.
#[derive(Debug, Clone)]
pub struct Found {
    pub libpython: PathBuf,
    pub executable: Option<PathBuf>,
    pub candidates: Vec<Candidate>,
}

/// `major.minor` from a library file name such as `libpython3.12.so.1.0`.
pub fn version_from_file_name(path: &Path) -> Option<(u32, u32)> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("libpython")?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A real interpreter of the same version next to a library (`<prefix>/lib/libpython3.X.so` →
/// `<prefix>/bin/python3.X`; Debian's multiarch `/usr/lib/<triplet>/` → `/usr/bin/python3.X`).
pub fn executable_for_library(lib: &Path, minor: u32) -> Option<PathBuf> {
    let name = format!("python3.{minor}");
    let dir = lib.parent()?;
    let mut roots = vec![dir.join("..")];
    if let Some(up) = dir.parent() {
        roots.push(up.join(".."));
    }
    roots.push(PathBuf::from("/usr"));
    roots.push(PathBuf::from("/usr/local"));
    roots
        .into_iter()
        .map(|root| root.join("bin").join(&name))
        .find(|p| p.is_file())
        .map(|p| p.canonicalize().unwrap_or(p))
}

#[derive(serde::Deserialize)]
struct PythonFacts {
    version: String,
    executable: String,
    base_prefix: String,
    libdir: Option<String>,
    ldlibrary: Option<String>,
    instsoname: Option<String>,
    multiarch: Option<String>,
    libpl: Option<String>,
    shared: Option<serde_json::Value>,
}

const FACTS_SCRIPT: &str = "import sys, sysconfig, json\n\
v = sysconfig.get_config_var\n\
print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'executable': sys.executable,\n\
 'base_prefix': getattr(sys, 'base_prefix', sys.prefix), 'libdir': v('LIBDIR'), 'ldlibrary': v('LDLIBRARY'),\n\
 'instsoname': v('INSTSONAME'), 'multiarch': v('MULTIARCH'), 'libpl': v('LIBPL'), 'shared': v('Py_ENABLE_SHARED')}))";

/// Asks an interpreter where its shared library is.
fn ask_interpreter(python: &str, candidates: &mut Vec<Candidate>) -> Option<Found> {
    let source = format!("`{python}` on PATH (sysconfig)");
    let output = Command::new(python)
        .args(["-I", "-c", FACTS_SCRIPT])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            candidates.push(rejected(&source, python, format!("running it failed ({}): {}", o.status, err.trim())));
            return None;
        }
        Err(e) => {
            candidates.push(rejected(&source, python, format!("cannot run it: {e}")));
            return None;
        }
    };
    let facts: PythonFacts = match serde_json::from_slice(&output.stdout) {
        Ok(f) => f,
        Err(e) => {
            candidates.push(rejected(&source, python, format!("unexpected sysconfig output: {e}")));
            return None;
        }
    };
    let minor = facts.version.strip_prefix("3.").and_then(|m| m.parse::<u32>().ok());
    let minor = match minor {
        Some(m) if (MIN_MINOR..=MAX_MINOR).contains(&m) => m,
        _ => {
            candidates.push(rejected(&source, &facts.executable, format!("Python {} is not supported (3.8-3.13)", facts.version)));
            return None;
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    let names: Vec<&String> = [&facts.instsoname, &facts.ldlibrary].into_iter().flatten().collect();
    let dirs: Vec<PathBuf> = {
        let mut d = Vec::new();
        if let Some(libdir) = &facts.libdir {
            d.push(PathBuf::from(libdir));
            if let Some(m) = &facts.multiarch {
                d.push(Path::new(libdir).join(m));
            }
        }
        if let Some(libpl) = &facts.libpl {
            d.push(PathBuf::from(libpl));
        }
        d.push(Path::new(&facts.base_prefix).join("lib"));
        d
    };
    for dir in &dirs {
        for name in &names {
            let p = dir.join(name);
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
    }
    let shared = match &facts.shared {
        Some(serde_json::Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    };
    for p in paths {
        let shown = p.display().to_string();
        if shown.ends_with(".a") {
            candidates.push(rejected(&source, &shown, "a static archive cannot be loaded at run time".into()));
        } else if !p.is_file() {
            let why = if shared {
                "sysconfig names it but the file does not exist (install the libpython3.X package?)"
            } else {
                "does not exist: this Python was built without --enable-shared"
            };
            candidates.push(rejected(&source, &shown, why.into()));
        } else {
            candidates.push(Candidate { source: source.clone(), path: shown, accepted: true, reason: format!("Python 3.{minor}, file exists") });
            let executable = PathBuf::from(&facts.executable);
            let executable = if executable.is_file() { Some(executable) } else { executable_for_library(&p, minor) };
            return Some(Found { libpython: p, executable, candidates: Vec::new() });
        }
    }
    None
}

fn rejected(source: &str, path: &str, reason: String) -> Candidate {
    Candidate { source: source.into(), path: path.into(), accepted: false, reason }
}

/// Well-known places, newest version first.
fn common_locations() -> Vec<PathBuf> {
    let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/opt/homebrew/lib"];
    let mut out = Vec::new();
    for minor in (MIN_MINOR..=MAX_MINOR).rev() {
        for dir in dirs {
            out.push(Path::new(dir).join(format!("libpython3.{minor}.so.1.0")));
        }
    }
    out
}

/// Runs discovery. `env_override` is the value of `PYRT_LIBPYTHON` (passed in for testability).
pub fn discover(env_override: Option<String>, python: &str) -> Result<Found> {
    let mut candidates = Vec::new();
    if let Some(path) = env_override.filter(|p| !p.is_empty()) {
        // An explicit environment choice is final: falling through to another Python would hide
        // the mistake.
        let p = PathBuf::from(&path);
        if p.exists() {
            candidates.push(Candidate { source: "PYRT_LIBPYTHON".into(), path: path.clone(), accepted: true, reason: "set in the environment".into() });
            let executable = version_from_file_name(&p).and_then(|(_, minor)| executable_for_library(&p, minor));
            return Ok(Found { libpython: p, executable, candidates });
        }
        return Err(Error::new(ErrorKind::LibpythonNotFound, format!("PYRT_LIBPYTHON={path}: no such file")));
    }
    candidates.push(rejected("PYRT_LIBPYTHON", "", "not set".into()));

    if let Some(mut found) = ask_interpreter(python, &mut candidates) {
        candidates.append(&mut found.candidates);
        found.candidates = candidates;
        return Ok(found);
    }
    for p in common_locations() {
        if p.is_file() {
            let minor = version_from_file_name(&p).map(|v| v.1).unwrap_or(0);
            candidates.push(Candidate { source: "common location".into(), path: p.display().to_string(), accepted: true, reason: "file exists".into() });
            let executable = executable_for_library(&p, minor);
            return Ok(Found { libpython: p, executable, candidates });
        }
    }
    candidates.push(rejected("common locations", "/usr/lib*/libpython3.{8..13}.so.1.0, /usr/local/lib/...", "none exists".into()));
    Err(Error::new(ErrorKind::LibpythonNotFound, not_found_message(&candidates)))
}

pub fn not_found_message(candidates: &[Candidate]) -> String {
    let mut msg = String::from("no usable libpython found (set \"libpython\" in the config or PYRT_LIBPYTHON); tried:");
    for c in candidates {
        msg.push_str(&format!("\n  - {}: {} -> {}", c.source, if c.path.is_empty() { "-" } else { &c.path }, c.reason));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_names() {
        assert_eq!(version_from_file_name(Path::new("/x/libpython3.12.so.1.0")), Some((3, 12)));
        assert_eq!(version_from_file_name(Path::new("libpython3.8.so")), Some((3, 8)));
        assert_eq!(version_from_file_name(Path::new("libpython3.13t.so")), Some((3, 13)));
        assert_eq!(version_from_file_name(Path::new("libc.so.6")), None);
    }

    #[test]
    fn missing_interpreter_is_listed() {
        let mut c = Vec::new();
        assert!(ask_interpreter("/nonexistent/python3", &mut c).is_none());
        assert_eq!(c.len(), 1);
        assert!(c[0].reason.contains("cannot run"), "{:?}", c);
    }

    #[test]
    fn env_override_must_exist() {
        let e = discover(Some("/nonexistent/libpython3.12.so".into()), "python3").unwrap_err();
        assert_eq!(e.kind, ErrorKind::LibpythonNotFound);
    }
}
