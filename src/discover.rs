//! Finding a libpython when the config names none: `$PYRT_LIBPYTHON`, then the `python3` on PATH
//! (asked through `sysconfig`, because its binary may be static while sysconfig names a shared
//! library that may or may not exist), then common install locations.
//! Every candidate considered is recorded with the reason it was taken or rejected, so a failure
//! explains itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, ErrorKind, Result};

use crate::config::{parse_constraint, Constraint};
use crate::python::library::{self, MIN_MINOR, NEWEST_TESTED_MINOR, SUPPORTED};

/// How far past the newest tested version discovery looks for `python3.X` and `libpython3.X`.
const NEWER_MINORS: u32 = 4;

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
    /// The virtualenv the interpreter runs in, if the config named one.
    pub venv: Option<Venv>,
    /// Set when the `python3` on PATH could not be used and another library was found instead:
    /// why (reported, so the substitution is never silent).
    pub warning: Option<String>,
}

/// A virtualenv as its `pyvenv.cfg` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    pub dir: PathBuf,
    /// `<venv>/bin/python`: the program name that makes CPython find the venv.
    pub python: PathBuf,
    pub minor: u32,
    pub version: String,
    pub include_system_site_packages: bool,
    /// Made by a free-threaded interpreter (its packages live in `lib/python3.Xt/`).
    pub free_threaded: bool,
}

/// Reads `<dir>/pyvenv.cfg`.
pub fn read_venv(dir: &str) -> Result<Venv> {
    let dir = PathBuf::from(dir);
    let cfg_path = dir.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&cfg_path)
        .map_err(|e| Error::new(ErrorKind::Config, format!("venv {}: not a virtualenv ({}: {e})", dir.display(), cfg_path.display())))?;
    let mut version = None;
    let mut system = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        match k.trim() {
            "version" | "version_info" => version = Some(v.trim().to_string()),
            "include-system-site-packages" => system = v.trim().eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    let version = version.ok_or_else(|| Error::new(ErrorKind::Config, format!("venv {}: pyvenv.cfg has no version", dir.display())))?;
    let minor = version.split('.').nth(1).and_then(|m| m.parse().ok()).filter(|_| version.starts_with("3."));
    let minor = minor.filter(|m| *m >= MIN_MINOR).ok_or_else(|| {
        Error::new(ErrorKind::Config, format!("venv {}: made for Python {version}; pyrt supports {SUPPORTED}", dir.display()))
    })?;
    let python = ["python", "python3", &format!("python3.{minor}"), &format!("python3.{minor}t")]
        .iter()
        .map(|n| dir.join("bin").join(n))
        .find(|p| p.exists());
    let python = python.ok_or_else(|| Error::new(ErrorKind::Config, format!("venv {}: no bin/python", dir.display())))?;
    // pyvenv.cfg gives only "3.13.5"; the site-packages directory tells the build kind.
    let free_threaded =
        dir.join("lib").join(format!("python3.{minor}t")).is_dir() && !dir.join("lib").join(format!("python3.{minor}")).is_dir();
    Ok(Venv { dir, python, minor, version, include_system_site_packages: system, free_threaded })
}

/// `major.minor` from a library file name such as `libpython3.12.so.1.0`.
pub fn version_from_file_name(path: &Path) -> Option<(u32, u32)> {
    library::version_from_file_name(path).map(|(major, minor, _)| (major, minor))
}

/// A real interpreter of the same version next to a library (`<prefix>/lib/libpython3.X.so` →
/// `<prefix>/bin/python3.X`; Debian's multiarch `/usr/lib/<triplet>/` → `/usr/bin/python3.X`;
/// a relocatable build with the library at its top → `<prefix>/bin/python3.X`). A free-threaded
/// library (`libpython3.Xt`) goes with `python3.Xt`.
pub fn executable_for_library(lib: &Path, minor: u32) -> Option<PathBuf> {
    let t = library::version_from_file_name(lib).is_some_and(|v| v.2);
    let name = format!("python3.{minor}{}", if t { "t" } else { "" });
    let dir = lib.parent()?;
    let mut roots = vec![dir.to_path_buf(), dir.join("..")];
    if let Some(up) = dir.parent() {
        roots.push(up.join(".."));
    }
    roots.push(PathBuf::from("/usr"));
    roots.push(PathBuf::from("/usr/local"));
    roots.into_iter().map(|root| root.join("bin").join(&name)).find(|p| p.is_file()).map(|p| p.canonicalize().unwrap_or(p))
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
    gil_disabled: Option<serde_json::Value>,
}

const FACTS_SCRIPT: &str = "import sys, sysconfig, json\n\
v = sysconfig.get_config_var\n\
print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'executable': sys.executable,\n\
 'base_prefix': getattr(sys, 'base_prefix', sys.prefix), 'libdir': v('LIBDIR'), 'ldlibrary': v('LDLIBRARY'),\n\
 'instsoname': v('INSTSONAME'), 'multiarch': v('MULTIARCH'), 'libpl': v('LIBPL'), 'shared': v('Py_ENABLE_SHARED'),\n\
 'gil_disabled': v('Py_GIL_DISABLED')}))";

/// Asks an interpreter where its shared library is.
fn ask_interpreter(python: &str, want: Option<Constraint>, candidates: &mut Vec<Candidate>) -> Option<Found> {
    let source = if python.contains('/') { format!("interpreter {python} (sysconfig)") } else { format!("`{python}` on PATH (sysconfig)") };
    let output = Command::new(python).args(["-I", "-c", FACTS_SCRIPT]).stdin(Stdio::null()).stderr(Stdio::piped()).output();
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
        Some(m) if want.is_some_and(|w| w.minor != m) => {
            candidates.push(rejected(
                &source,
                &facts.executable,
                format!(
                    "Python {} does not match the requested python_version {}",
                    facts.version,
                    want.map(Constraint::shown).unwrap_or_default()
                ),
            ));
            return None;
        }
        Some(m) if m >= MIN_MINOR => m,
        _ => {
            candidates.push(rejected(
                &source,
                &facts.executable,
                format!("Python {} is not supported; pyrt supports {SUPPORTED}", facts.version),
            ));
            return None;
        }
    };
    let t = matches!(&facts.gil_disabled, Some(serde_json::Value::Number(n)) if n.as_i64() == Some(1));
    let shown_version = format!("{}{}", facts.version, if t { "t" } else { "" });
    if want.is_some_and(|w| !w.accepts(minor, t)) {
        candidates.push(rejected(
            &source,
            &facts.executable,
            format!(
                "Python {shown_version} is not a free-threaded build, as python_version {} asks",
                want.map(Constraint::shown).unwrap_or_default()
            ),
        ));
        return None;
    }
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
        } else if let Err(e) = library::check(&p) {
            candidates.push(rejected(&source, &shown, e.message.clone()));
        } else {
            candidates.push(Candidate {
                source: source.clone(),
                path: shown,
                accepted: true,
                reason: format!("Python {shown_version}{}, file exists", untested_note(minor)),
            });
            let executable = PathBuf::from(&facts.executable);
            let executable = if executable.is_file() { Some(executable) } else { executable_for_library(&p, minor) };
            return Some(Found { libpython: p, executable, candidates: Vec::new(), venv: None, warning: None });
        }
    }
    None
}

/// A library the user named: it is what will be loaded, and the report says whether
/// `pyrt_new` will accept it (the same checks).
fn explicit(source: &str, p: &Path, why: &str) -> Candidate {
    let (accepted, reason) = match library::check(p) {
        Ok(_) => (true, why.to_string()),
        Err(e) => (false, format!("{why}, but refused: {}", e.message)),
    };
    Candidate { source: source.into(), path: p.display().to_string(), accepted, reason }
}

fn untested_note(minor: u32) -> &'static str {
    if minor > NEWEST_TESTED_MINOR {
        " (newer than any version pyrt was tested with)"
    } else {
        ""
    }
}

/// The `python3.X` / `python3.Xt` interpreters on PATH, newest first.
fn versioned_interpreters_on_path() -> Vec<String> {
    let dirs: Vec<PathBuf> = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let mut out = Vec::new();
    for minor in (MIN_MINOR..=NEWEST_TESTED_MINOR + NEWER_MINORS).rev() {
        for name in [format!("python3.{minor}"), format!("python3.{minor}t")] {
            if dirs.iter().any(|d| d.join(&name).is_file()) {
                out.push(name);
            }
        }
    }
    out
}

fn rejected(source: &str, path: &str, reason: String) -> Candidate {
    Candidate { source: source.into(), path: path.into(), accepted: false, reason }
}

/// Well-known places, newest version first: system directories, then pyenv's installs.
fn common_locations() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let pyenv_root =
        std::env::var_os("PYENV_ROOT").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(versions) = pyenv_root.map(|r| r.join("versions")) {
        let mut installs: Vec<PathBuf> =
            std::fs::read_dir(versions).into_iter().flatten().flatten().map(|e| e.path().join("lib")).collect();
        installs.sort();
        installs.reverse();
        dirs.extend(installs);
    }
    let mut out = Vec::new();
    for minor in (MIN_MINOR..=NEWEST_TESTED_MINOR + NEWER_MINORS).rev() {
        for dir in &dirs {
            out.push(dir.join(format!("libpython3.{minor}.so.1.0")));
            out.push(dir.join(format!("libpython3.{minor}t.so.1.0")));
        }
    }
    out
}

/// Decides which libpython to load for a config. `env_override` is `PYRT_LIBPYTHON`'s value
/// (a parameter for testability).
pub fn discover(config: &crate::config::Config, env_override: Option<String>) -> Result<Found> {
    let want = config.python_version.as_deref().and_then(parse_constraint);
    let venv = config.venv.as_deref().map(read_venv).transpose()?;
    if let (Some(v), Some(w)) = (&venv, want) {
        if !w.accepts(v.minor, v.free_threaded) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "venv {} is Python {}{}, but python_version asks for {}",
                    v.dir.display(),
                    v.version,
                    if v.free_threaded { "t" } else { "" },
                    w.shown()
                ),
            ));
        }
    }
    let mut found = if let Some(lib) = &config.libpython {
        let p = PathBuf::from(lib);
        Found {
            candidates: vec![explicit("config \"libpython\"", &p, "named in the config")],
            libpython: p,
            executable: None,
            venv: None,
            warning: None,
        }
    } else if let Some(v) = &venv {
        // The venv's own interpreter knows its base installation's libpython.
        let mut candidates = Vec::new();
        match ask_interpreter(
            &v.python.to_string_lossy(),
            Some(Constraint { minor: v.minor, free_threaded: v.free_threaded }),
            &mut candidates,
        ) {
            Some(mut f) => {
                candidates.append(&mut f.candidates);
                f.candidates = candidates;
                f
            }
            None => return Err(Error::new(ErrorKind::LibpythonNotFound, not_found_message(&candidates))),
        }
    } else {
        search(want, env_override, "python3")?
    };
    if let Some(v) = &venv {
        found.executable = Some(v.python.clone());
    }
    found.venv = venv;
    Ok(found)
}

/// The search when the config names no library and no venv.
fn search(want: Option<Constraint>, env_override: Option<String>, python: &str) -> Result<Found> {
    let mut candidates = Vec::new();
    if let Some(path) = env_override.filter(|p| !p.is_empty()) {
        // An explicit environment choice is final: falling through to another Python would hide
        // the mistake.
        let p = PathBuf::from(&path);
        if p.exists() {
            candidates.push(explicit("PYRT_LIBPYTHON", &p, "set in the environment"));
            let executable = version_from_file_name(&p).and_then(|(_, minor)| executable_for_library(&p, minor));
            return Ok(Found { libpython: p, executable, candidates, venv: None, warning: None });
        }
        return Err(Error::new(ErrorKind::LibpythonNotFound, format!("PYRT_LIBPYTHON={path}: no such file")));
    }
    candidates.push(rejected("PYRT_LIBPYTHON", "", "not set".into()));

    let mut interpreters = Vec::new();
    if let Some(w) = want {
        interpreters.push(format!("python{}", w.shown()));
    }
    interpreters.push(python.to_string());
    // python3 first; then every python3.X on PATH, newest first (e.g. a python3.14 installed
    // beside an older python3).
    for name in versioned_interpreters_on_path() {
        if !interpreters.contains(&name) {
            interpreters.push(name);
        }
    }
    let mut python3_failed: Option<String> = None;
    for interpreter in &interpreters {
        let before = candidates.len();
        if let Some(mut found) = ask_interpreter(interpreter, want, &mut candidates) {
            candidates.append(&mut found.candidates);
            found.candidates = candidates;
            found.warning = python3_failed;
            return Ok(found);
        }
        if interpreter == python && python3_failed.is_none() {
            let why: Vec<String> = candidates[before..].iter().map(|c| format!("{} ({})", c.path, c.reason)).collect();
            python3_failed = Some(format!("the `{python}` on PATH cannot be used: {}", why.join("; ")));
        }
    }
    for p in common_locations() {
        let minor = version_from_file_name(&p).map(|v| v.1).unwrap_or(0);
        let t = library::version_from_file_name(&p).is_some_and(|v| v.2);
        if want.is_some_and(|w| !w.accepts(minor, t)) || !p.is_file() {
            continue;
        }
        if let Err(e) = library::check(&p) {
            candidates.push(rejected("common location", &p.display().to_string(), e.message.clone()));
            continue;
        }
        candidates.push(Candidate {
            source: "common location".into(),
            path: p.display().to_string(),
            accepted: true,
            reason: format!("file exists{}", untested_note(minor)),
        });
        let executable = executable_for_library(&p, minor);
        return Ok(Found { libpython: p, executable, candidates, venv: None, warning: python3_failed });
    }
    let which = want.map_or("3.{8,…}".to_string(), Constraint::shown);
    candidates.push(rejected(
        "common locations",
        &format!("/usr/lib*/, /usr/local/lib/, $PYENV_ROOT/versions/*/lib/: libpython{which}.so.1.0"),
        "none exists".into(),
    ));
    Err(Error::new(ErrorKind::LibpythonNotFound, not_found_message(&candidates)))
}

pub fn not_found_message(candidates: &[Candidate]) -> String {
    let mut msg = String::from("no usable libpython found (set \"libpython\" in the config or PYRT_LIBPYTHON); tried:");
    for c in candidates {
        msg.push_str(&format!("\n  - {}: {} -> {}", c.source, if c.path.is_empty() { "-" } else { &c.path }, c.reason));
    }
    msg
}

/// The discovery report as JSON: what would be loaded and every candidate considered.
pub fn report_json(config: &crate::config::Config, env_override: Option<String>) -> Result<String> {
    let found = discover(config, env_override)?;
    let named = library::version_from_file_name(&found.libpython);
    let version = named.map(|(a, b, t)| format!("{a}.{b}{}", if t { "t" } else { "" }));
    let candidates: Vec<serde_json::Value> = found
        .candidates
        .iter()
        .map(|c| serde_json::json!({"source": c.source, "path": c.path, "accepted": c.accepted, "reason": c.reason}))
        .collect();
    Ok(serde_json::json!({
        "libpython": found.libpython.to_string_lossy(),
        "version": version,
        "executable": found.executable.map(|p| p.to_string_lossy().into_owned()),
        "venv": found.venv.map(|v| v.dir.to_string_lossy().into_owned()),
        "free_threaded": named.map(|n| n.2),
        "untested": named.map(|n| n.1 > NEWEST_TESTED_MINOR),
        "warning": found.warning,
        "candidates": candidates,
    })
    .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_from_names() {
        assert_eq!(version_from_file_name(Path::new("/x/libpython3.12.so.1.0")), Some((3, 12)));
        assert_eq!(version_from_file_name(Path::new("libpython3.8.so")), Some((3, 8)));
        assert_eq!(version_from_file_name(Path::new("libpython3.13t.so")), Some((3, 13)));
        assert_eq!(version_from_file_name(Path::new("libpython3.14.so.1.0")), Some((3, 14)));
        assert_eq!(version_from_file_name(Path::new("libc.so.6")), None);
    }

    #[test]
    fn constraints() {
        let c = |minor, free_threaded| Some(Constraint { minor, free_threaded });
        assert_eq!(parse_constraint("3.12"), c(12, false));
        assert_eq!(parse_constraint("3.7"), None);
        assert_eq!(parse_constraint("3.14"), c(14, false));
        assert_eq!(parse_constraint("3.15"), c(15, false));
        assert_eq!(parse_constraint("3.13t"), c(13, true));
        assert_eq!(parse_constraint("3.7t"), None);
        assert!(c(13, false).unwrap().accepts(13, true) && !c(13, true).unwrap().accepts(13, false));
        assert_eq!(parse_constraint("2.7"), None);
        assert_eq!(parse_constraint("3.x"), None);
    }

    #[test]
    fn venv_config_is_read() {
        let dir = std::env::temp_dir().join(format!("pyrt-venv-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        assert_eq!(read_venv(dir.to_str().unwrap()).unwrap_err().kind, ErrorKind::Config);
        std::fs::write(dir.join("pyvenv.cfg"), "home = /x/bin\ninclude-system-site-packages = true\nversion = 3.12.1\n").unwrap();
        std::fs::write(dir.join("bin/python"), "").unwrap();
        let v = read_venv(dir.to_str().unwrap()).unwrap();
        assert_eq!((v.minor, v.include_system_site_packages), (12, true));
        std::fs::write(dir.join("pyvenv.cfg"), "version = 3.7.16\n").unwrap();
        assert!(read_venv(dir.to_str().unwrap()).unwrap_err().message.contains("3.7.16"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_interpreter_is_listed() {
        let mut c = Vec::new();
        assert!(ask_interpreter("/nonexistent/python3", None, &mut c).is_none());
        assert_eq!(c.len(), 1);
        assert!(c[0].reason.contains("cannot run"), "{:?}", c);
    }

    #[test]
    fn env_override_must_exist() {
        let e = search(None, Some("/nonexistent/libpython3.12.so".into()), "python3").unwrap_err();
        assert_eq!(e.kind, ErrorKind::LibpythonNotFound);
    }
}
