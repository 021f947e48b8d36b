//! Managed virtualenvs (docs/environments.md): a config with `"venv"` and `"requirements"` (or
//! `"requirements_file"`) gets that venv created with the interpreter pyrt will load and the
//! requirements installed — with `uv` when it is on PATH, else with the venv's pip — before
//! Python starts. A hash of the interpreter and the requirements, written into the venv as its
//! last step, says the venv is ready: a start with nothing changed only reads that file.
//!
//! Consistency: a venv is built in a sibling directory and moved into place only once every
//! requirement is installed, so a failed install (offline, a misspelt package) leaves the
//! previous venv — or none — exactly as it was. Two processes starting together serialize on a
//! lock file beside the venv; the second finds the first one's venv ready.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};

/// Where progress lines go (the installer's output, and what pyrt is doing).
pub type Progress<'a> = &'a mut dyn FnMut(&str);

/// The file in a ready venv holding the hash of what it was made for.
const READY_FILE: &str = ".pyrt-requirements";

fn venv_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Venv, message)
}

/// Whether the config asks for a managed venv.
pub fn wanted(config: &Config) -> bool {
    !config.requirements.is_empty() || config.requirements_file.is_some()
}

/// Makes sure the config's venv exists with its requirements installed (see the module note).
/// Nothing to do without requirements.
pub fn ensure(config: &Config, progress: Progress) -> Result<()> {
    if !wanted(config) {
        return Ok(());
    }
    let dir = config
        .venv
        .as_deref()
        .ok_or_else(|| Error::new(ErrorKind::Config, "\"requirements\" need a \"venv\" directory to install into"))?;
    let dir = absolute(Path::new(dir))?;
    let requirements = requirements_text(config)?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| venv_error(format!("venv {}: cannot create {}: {e}", dir.display(), parent.display())))?;
    }
    let _lock = Lock::take(&dir)?;
    let base = base_interpreter(config, &dir)?;
    let hash = hash_of(&base, &requirements);
    if ready_hash(&dir).as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    progress(&format!("pyrt: preparing venv {} with {} ({})", dir.display(), base.display(), summary(&requirements)));
    let building = sibling(&dir, "building");
    let _ = std::fs::remove_dir_all(&building);
    let built = build(&base, &building, &requirements, progress).and_then(|()| {
        relocate(&building, &dir)?;
        std::fs::write(building.join(READY_FILE), format!("{hash}\n"))
            .map_err(|e| venv_error(format!("venv {}: cannot record its requirements: {e}", building.display())))
    });
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    // Swap: the old venv (if any) steps aside, the new one takes its name, the old one goes.
    let old = sibling(&dir, "old");
    let _ = std::fs::remove_dir_all(&old);
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(&dir, &old).map_err(|e| venv_error(format!("venv {}: cannot move the previous venv aside: {e}", dir.display())))?;
    }
    if let Err(e) = std::fs::rename(&building, &dir) {
        if had_old {
            let _ = std::fs::rename(&old, &dir);
        }
        let _ = std::fs::remove_dir_all(&building);
        return Err(venv_error(format!("venv {}: cannot move the new venv into place: {e}", dir.display())));
    }
    let _ = std::fs::remove_dir_all(&old);
    progress(&format!("pyrt: venv {} is ready", dir.display()));
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    std::env::current_dir().map(|d| d.join(p)).map_err(|e| venv_error(format!("venv {}: {e}", p.display())))
}

/// `<venv>.pyrt-<what>` beside the venv (same file system, so renames are atomic).
fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "venv".into());
    dir.with_file_name(format!("{name}.pyrt-{what}"))
}

/// The requirements as pip reads them: the config's list, then the file's lines.
fn requirements_text(config: &Config) -> Result<String> {
    let mut text = String::new();
    for r in &config.requirements {
        let r = r.trim();
        if r.is_empty() || r.contains('\n') {
            return Err(Error::new(ErrorKind::Config, format!("requirement {r:?} is empty or spans lines")));
        }
        text.push_str(r);
        text.push('\n');
    }
    if let Some(file) = &config.requirements_file {
        let body = std::fs::read_to_string(file).map_err(|e| Error::new(ErrorKind::Config, format!("requirements_file {file}: {e}")))?;
        text.push_str(&body);
        if !body.ends_with('\n') {
            text.push('\n');
        }
    }
    Ok(text)
}

fn summary(requirements: &str) -> String {
    let names: Vec<&str> = requirements.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    match names.len() {
        0 => "no requirements".into(),
        n if n <= 4 => names.join(", "),
        n => format!("{}, … ({n} requirements)", names[..3].join(", ")),
    }
}

/// What a venv's readiness is checked against: its base interpreter and its requirements. The
/// interpreter by its resolved path: discovery may name `bin/python3` where an existing venv's
/// `pyvenv.cfg` leads to `bin/python3.11`, the same file, and a venv must not be rebuilt for that.
/// (A venv recorded by a pyrt that hashed the path as given is rebuilt once; so is a venv whose
/// base interpreter's resolved path changes, a link moved to another installation.)
fn hash_of(base: &Path, requirements: &str) -> String {
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    let mut h = Sha256::new();
    h.update(b"pyrt managed venv 1\n");
    h.update(base.as_os_str().as_encoded_bytes());
    h.update(b"\n");
    h.update(requirements.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn ready_hash(dir: &Path) -> Option<String> {
    dir.join("pyvenv.cfg").is_file().then_some(())?;
    std::fs::read_to_string(dir.join(READY_FILE)).ok().map(|s| s.trim().to_string())
}

/// The interpreter the venv is made with: the one pyrt would load for this config without the
/// venv (its `python_executable`, the interpreter of its `libpython`, or discovery's choice).
fn base_interpreter(config: &Config, dir: &Path) -> Result<PathBuf> {
    if let Some(exe) = &config.python_executable {
        return Ok(PathBuf::from(exe));
    }
    let mut base = config.clone();
    base.venv = None;
    if base.libpython.is_none() && dir.join("pyvenv.cfg").is_file() {
        // An existing venv: the interpreter it was made with, so a requirements change keeps
        // the same Python.
        if let Some(home) = home_interpreter(dir) {
            return Ok(home);
        }
    }
    let found = crate::discover::discover(&base, std::env::var("PYRT_LIBPYTHON").ok())?;
    let exe = match found.executable {
        Some(e) => Some(e),
        None => crate::python::library::version_from_file_name(&found.libpython)
            .and_then(|(_, minor, _)| crate::discover::executable_for_library(&found.libpython, minor)),
    };
    exe.ok_or_else(|| {
        venv_error(format!(
            "no Python interpreter found beside {} to create the venv with (set \"python_executable\")",
            found.libpython.display()
        ))
    })
}

/// The base interpreter recorded in an existing venv's `pyvenv.cfg` (`home` and `version`).
fn home_interpreter(dir: &Path) -> Option<PathBuf> {
    let cfg = std::fs::read_to_string(dir.join("pyvenv.cfg")).ok()?;
    let value = |key: &str| cfg.lines().filter_map(|l| l.split_once('=')).find(|(k, _)| k.trim() == key).map(|(_, v)| v.trim().to_string());
    let home = PathBuf::from(value("home")?);
    let version = value("version").or_else(|| value("version_info"))?;
    let minor = version.split('.').nth(1)?.to_string();
    let t = if dir.join("lib").join(format!("python3.{minor}t")).is_dir() { "t" } else { "" };
    [format!("python3.{minor}{t}"), "python3".into()].iter().map(|n| home.join(n)).find(|p| p.is_file())
}

/// Creates the venv in `dir` with `base` and installs the requirements into it.
fn build(base: &Path, dir: &Path, requirements: &str, progress: Progress) -> Result<()> {
    let uv = find_on_path("uv");
    let mut venv = Command::new(base);
    venv.arg("-m").arg("venv");
    if uv.is_some() {
        venv.arg("--without-pip");
    }
    venv.arg(dir);
    run(venv, "creating the venv", progress)?;
    let python = dir.join("bin").join("python");
    let req_file = dir.join("pyrt-requirements.txt");
    std::fs::write(&req_file, requirements).map_err(|e| venv_error(format!("venv {}: {e}", dir.display())))?;
    let install = match uv {
        Some(uv) => {
            let mut c = Command::new(uv);
            c.args(["pip", "install", "--python"]).arg(&python).arg("-r").arg(&req_file);
            c
        }
        None => {
            let mut c = Command::new(&python);
            c.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-r"]).arg(&req_file);
            c
        }
    };
    run(install, "installing the requirements", progress)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// Runs a command, streaming its output lines to `progress`; a failure's error carries the
/// command's own error lines (pip's `ERROR: ...`).
fn run(mut cmd: Command, what: &str, progress: Progress) -> Result<()> {
    let shown = format!("{cmd:?}");
    progress(&format!("pyrt: {what}: {shown}"));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // A pip or uv of the user's must not read the deployer's PYTHON* settings into the venv.
    cmd.env_remove("PYTHONHOME").env_remove("PYTHONPATH").env("PIP_NO_INPUT", "1");
    let mut child = cmd.spawn().map_err(|e| venv_error(format!("{what}: cannot run {shown}: {e}")))?;
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel::<(bool, String)>();
    let tx2 = tx.clone();
    let err_reader = std::thread::spawn(move || read_lines(stderr, true, &tx2));
    let stdout = child.stdout.take().expect("piped");
    let out_reader = std::thread::spawn(move || read_lines(stdout, false, &tx));
    let mut errors: Vec<String> = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    for (is_err, line) in rx {
        progress(&line);
        if line.starts_with("ERROR") || line.contains("error:") {
            errors.push(line.clone());
        }
        if is_err {
            tail.push(line);
            if tail.len() > 20 {
                tail.remove(0);
            }
        }
    }
    let _ = out_reader.join();
    let _ = err_reader.join();
    let status = child.wait().map_err(|e| venv_error(format!("{what}: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let detail = if errors.is_empty() { tail.join("\n") } else { errors.join("\n") };
    Err(venv_error(format!("{what} failed ({status}): {detail}")))
}

fn read_lines(r: impl Read, is_err: bool, tx: &std::sync::mpsc::Sender<(bool, String)>) {
    for line in BufReader::new(r).lines() {
        let Ok(line) = line else { break };
        if tx.send((is_err, line)).is_err() {
            break;
        }
    }
}

/// A venv built in a sibling directory names that directory in its scripts (`bin/pip`'s
/// `#!` line, `bin/activate`): point them at the venv's final place.
fn relocate(building: &Path, dir: &Path) -> Result<()> {
    let (from, to) = (building.to_string_lossy().into_owned(), dir.to_string_lossy().into_owned());
    let bin = building.join("bin");
    let Ok(entries) = std::fs::read_dir(&bin) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if !meta.is_file() || meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        if text.contains(&from) {
            std::fs::write(&path, text.replace(&from, &to)).map_err(|e| venv_error(format!("venv {}: {e}", path.display())))?;
        }
    }
    let cfg = building.join("pyvenv.cfg");
    if let Ok(text) = std::fs::read_to_string(&cfg) {
        let _ = std::fs::write(&cfg, text.replace(&from, &to));
    }
    Ok(())
}

/// An exclusive `flock` on `<venv>.pyrt-lock`, held while the venv is checked and built (the
/// open file is the lock: closing it, when the `Lock` drops, releases it).
struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    fn take(dir: &Path) -> Result<Lock> {
        let path = sibling(dir, "lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| venv_error(format!("venv lock {}: {e}", path.display())))?;
        use std::os::fd::AsRawFd;
        // SAFETY: `flock` on a file descriptor this `File` owns and keeps open; no memory is
        // passed. The lock is released when the descriptor closes (the `File` drops).
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(venv_error(format!("venv lock {}: {}", path.display(), std::io::Error::last_os_error())));
        }
        Ok(Lock(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_interpreter_by_another_name_hashes_the_same() {
        let dir = std::env::temp_dir().join(format!("pyrt-venv-hash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let real = dir.join("python3.11");
        std::fs::write(&real, "").unwrap();
        std::os::unix::fs::symlink("python3.11", dir.join("python3")).unwrap();
        let by_link = hash_of(&dir.join("python3"), "six\n");
        assert_eq!(by_link, hash_of(&real, "six\n"));
        assert_ne!(by_link, hash_of(&real, "six==1.16.0\n"));
        assert_ne!(by_link, hash_of(&dir.join("no-such-python"), "six\n"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
