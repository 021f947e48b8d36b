//! Discovery through PATH: a `python3.X` there is found (3.14 when `python3` is older or broken),
//! and when the `python3` on PATH cannot be used the report says so instead of quietly loading
//! another Python. Its own test binary: it changes PATH, and loads no Python.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

use pyrt::Runtime;

/// The CPython 3.14 that scripts/install-pythons.sh installs (`$PYRT_PYTHONS/3.14`).
fn python314() -> Option<PathBuf> {
    let root = std::env::var_os("PYRT_PYTHONS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pyrt/pythons")))?;
    let p = root.join("3.14/bin/python3.14");
    p.is_file().then_some(p)
}

#[test]
fn path_interpreters_and_an_unusable_python3() {
    let Some(py314) = python314() else {
        // The matrix reports 3.14 MISSING in that case; nothing to discover here.
        eprintln!("skipped: no CPython 3.14 under $PYRT_PYTHONS (scripts/install-pythons.sh)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("pyrt-discovery-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::env::remove_var("PYRT_LIBPYTHON");

    // python3 on PATH is 3.14 itself: taken, no warning.
    symlink(&py314, bin.join("python3")).unwrap();
    std::env::set_var("PATH", &bin);
    let d = Runtime::builder().discover().unwrap();
    assert_eq!(d.version.as_deref(), Some("3.14"), "{d:?}");
    assert_eq!(d.warning, None);
    assert_eq!(d.untested, Some(false));

    // python3 is broken, python3.14 works: 3.14 is found, and the report says why python3 was not.
    std::fs::remove_file(bin.join("python3")).unwrap();
    std::fs::write(bin.join("python3"), "#!/bin/sh\necho 'this python3 is broken' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(bin.join("python3"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    symlink(&py314, bin.join("python3.14")).unwrap();
    let d = Runtime::builder().discover().unwrap();
    assert_eq!(d.version.as_deref(), Some("3.14"), "{d:?}");
    let w = d.warning.as_deref().expect("a warning about python3");
    assert!(w.contains("`python3` on PATH cannot be used") && w.contains("broken"), "{w}");
    assert!(d.candidates.iter().any(|c| !c.accepted && c.reason.contains("broken")), "{:?}", d.candidates);
    std::fs::remove_dir_all(&dir).unwrap();
}
