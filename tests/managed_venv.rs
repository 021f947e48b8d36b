//! Managed virtualenvs (`"venv"` + `"requirements"`): created with the interpreter pyrt loads,
//! requirements installed from PyPI, ready again at once when nothing changed, rebuilt when the
//! requirements change, a failed install leaving the previous venv as it was, two preparations
//! at once, and a runtime started on the managed venv importing what was installed. Needs
//! network access to PyPI (or pip's cache). The suite runs this file once per CPython present.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyrt::{ErrorKind, Runtime};

fn libpython() -> Option<String> {
    std::env::var("PYRT_LIBPYTHON").ok().filter(|s| !s.is_empty())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pyrt-managed-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn builder(venv: &Path) -> pyrt::Builder {
    let b = Runtime::builder().venv(venv);
    match libpython() {
        Some(l) => b.libpython(l),
        None => b,
    }
}

fn site_has(venv: &Path, package: &str) -> bool {
    std::fs::read_dir(venv.join("lib")).into_iter().flatten().flatten().any(|d| d.path().join("site-packages").join(package).exists())
}

#[test]
fn created_ready_rebuilt_and_kept_on_failure() {
    let dir = scratch("cycle");
    let venv = dir.join("env");
    let mut lines = Vec::new();
    builder(&venv).requirement("six==1.16.0").ensure_venv(|l| lines.push(l.to_string())).unwrap();
    assert!(lines.iter().any(|l| l.contains("six")), "{lines:#?}");
    assert!(venv.join("pyvenv.cfg").is_file() && venv.join("bin/python").exists());
    assert!(std::fs::read_dir(venv.join("lib")).unwrap().flatten().any(|d| d.path().join("site-packages/six.py").exists()));

    // Nothing changed: ready at once, nothing reported.
    let t = Instant::now();
    let mut again = Vec::new();
    builder(&venv).requirement("six==1.16.0").ensure_venv(|l| again.push(l.to_string())).unwrap();
    let took = t.elapsed();
    assert!(again.is_empty(), "{again:#?}");
    eprintln!("managed venv, nothing changed: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A requirement that cannot be installed: one clear error, the venv as it was.
    let before = std::fs::read_to_string(venv.join(".pyrt-requirements")).unwrap();
    let e = builder(&venv).requirement("six==1.16.0").requirement("pyrt-no-such-package-x7q==9.9.9").ensure_venv(|_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Venv, "{e}");
    assert!(e.message.contains("pyrt-no-such-package-x7q"), "{}", e.message);
    assert_eq!(std::fs::read_to_string(venv.join(".pyrt-requirements")).unwrap(), before);
    assert!(std::fs::read_dir(venv.join("lib")).unwrap().flatten().any(|d| d.path().join("site-packages/six.py").exists()));
    assert!(!dir.join("env.pyrt-building").exists());

    // Changed requirements: rebuilt (six gone, the new one there), scripts pointing at the venv.
    let req = dir.join("requirements.txt");
    std::fs::write(&req, "# comment\nsix==1.17.0\n").unwrap();
    builder(&venv).requirements_file(&req).ensure_venv(|_| {}).unwrap();
    let cfg = std::fs::read_to_string(venv.join("pyvenv.cfg")).unwrap();
    assert!(!cfg.contains("pyrt-building"), "{cfg}");
    let pip = std::fs::read_to_string(venv.join("bin/pip")).unwrap_or_default();
    assert!(pip.is_empty() || !pip.contains("pyrt-building"), "{pip}");
    let out = std::process::Command::new(venv.join("bin/python")).args(["-c", "import six; print(six.__version__)"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.17.0");
    assert!(!site_has(&venv, "no-such"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_preparations_at_once_take_turns() {
    let dir = scratch("race");
    let venv = dir.join("env");
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let venv = venv.clone();
            std::thread::spawn(move || builder(&venv).requirement("six==1.16.0").ensure_venv(|_| {}))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let out = std::process::Command::new(venv.join("bin/python")).args(["-c", "import six; print(six.__version__)"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.16.0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_mistakes_are_config_errors() {
    let e = Runtime::builder().requirement("six").ensure_venv(|_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    let e = Runtime::builder().venv("/tmp/x").ensure_venv(|_| {}).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
}

/// The only test here that starts Python (one interpreter per process).
#[test]
fn a_runtime_on_the_managed_venv_imports_what_was_installed() {
    let dir = scratch("runtime");
    let venv = dir.join("env");
    let rt = builder(&venv).requirement("six==1.16.0").build().unwrap();
    let v: String = rt.eval("__import__('six').__version__").unwrap();
    assert_eq!(v, "1.16.0");
    let prefix: String = rt.eval("__import__('sys').prefix").unwrap();
    assert_eq!(Path::new(&prefix), venv);
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
