//! Which libraries pyrt accepts: any CPython 3.8+ that exports what pyrt needs (newer ones
//! untested), free-threaded builds included; a library lacking a symbol is refused with its name,
//! by `pyrt_new` and by discovery alike (they run the same check). The libraries here are made
//! by the test with the C compiler (no interpreter starts in this test binary: a process can
//! load one libpython, and `pyrt_new` must see these first): each exports a chosen set of CPython's symbol names (the
//! bodies are never run: pyrt reads the exports before it opens a library).

use std::path::{Path, PathBuf};
use std::process::Command;

use pyrt::{ErrorKind, Runtime};

/// Every symbol pyrt needs, as the library reports them when one is missing: built by asking
/// pyrt about a library that exports nothing but `Py_GetVersion`, then adding each named symbol
/// until it is accepted.
fn fake_library(dir: &Path, file: &str, symbols: &[String]) -> PathBuf {
    let src = dir.join(format!("{file}.c"));
    let mut c = String::from("const char *Py_GetVersion(void) { return \"3.16.0 (fake)\"; }\n");
    for s in symbols {
        if s != "Py_GetVersion" {
            c.push_str(&format!("void {s}(void) {{}}\n"));
        }
    }
    std::fs::write(&src, c).unwrap();
    let out = dir.join(file);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(cc).args(["-shared", "-fPIC", "-o"]).arg(&out).arg(&src).status().expect("a C compiler (cc)");
    assert!(st.success());
    out
}

fn refused_symbol(lib: &Path) -> Option<String> {
    let d = Runtime::builder().libpython(lib).discover().expect("a report");
    let c = d.candidates.first().expect("the named library");
    if c.accepted {
        return None;
    }
    let sym = c.reason.rsplit("required symbol ").next().unwrap().split_whitespace().next().unwrap().to_string();
    Some(sym)
}

#[test]
fn a_library_lacking_a_symbol_is_refused_naming_it_by_discovery_and_new() {
    // It loads no Python, so the suite (which runs every test once per CPython) needs it once:
    // with the newest tested version, or when run by hand without PYRT_LIBPYTHON.
    if std::env::var("PYRT_LIBPYTHON").is_ok_and(|p| !p.contains("libpython3.14.so")) {
        eprintln!("skipped: independent of the Python under test; runs with 3.14");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pyrt-versions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // Grow the export list one missing symbol at a time: every step names the next one.
    let mut symbols: Vec<String> = Vec::new();
    let mut named = 0;
    loop {
        let lib = fake_library(&dir, "libpython3.16.so.1.0", &symbols);
        match refused_symbol(&lib) {
            Some(sym) => {
                assert!(!symbols.contains(&sym), "{sym} is exported but reported missing");
                if named == 0 {
                    // pyrt_new refuses it the same way, before opening it.
                    let e = Runtime::builder().libpython(&lib).build().expect_err("refused");
                    assert_eq!(e.kind, ErrorKind::LibpythonInvalid);
                    assert!(e.message.contains(&format!("required symbol {sym}")), "{}", e.message);
                }
                symbols.push(sym);
                named += 1;
                assert!(named < 400, "no end to the missing symbols");
            }
            None => break,
        }
    }
    // 3.14+ start through PEP 741: a 3.16 library must have it, and all of it.
    assert!(symbols.iter().any(|s| s == "PyInitConfig_Create"), "{symbols:?}");
    assert!(symbols.iter().any(|s| s == "Py_InitializeFromInitConfig"), "{symbols:?}");
    assert!(!symbols.iter().any(|s| s == "PyConfig_InitIsolatedConfig"), "3.16 needs no PEP 587: {symbols:?}");
    let d = Runtime::builder().libpython(dir.join("libpython3.16.so.1.0")).discover().unwrap();
    assert_eq!(d.version.as_deref(), Some("3.16"));
    assert_eq!(d.untested, Some(true));
    assert_eq!(d.free_threaded, Some(false));

    // A 3.12 library is started through PEP 587 instead: without it, it names that API.
    let pep741: Vec<String> = symbols.iter().filter(|s| !s.contains("InitConfig")).cloned().collect();
    let lib = fake_library(&dir, "libpython3.12.so.1.0", &pep741);
    let sym = refused_symbol(&lib).expect("3.12 without PEP 587 is refused");
    assert!(sym.starts_with("Py") && (sym.contains("Config") || sym.contains("PreInit")), "{sym}");

    // Old versions are refused by name, before any symbol is read.
    let lib = fake_library(&dir, "libpython3.7m.so.1.0", &symbols);
    let e = Runtime::builder().libpython(&lib).build().expect_err("refused");
    assert!(e.message.contains("Python 3.7 is not supported"), "{}", e.message);

    // A free-threaded name is reported as such.
    let lib = fake_library(&dir, "libpython3.15t.so.1.0", &symbols);
    let d = Runtime::builder().libpython(&lib).discover().unwrap();
    assert_eq!(d.version.as_deref(), Some("3.15t"));
    assert_eq!(d.free_threaded, Some(true));
    std::fs::remove_dir_all(&dir).unwrap();
}
