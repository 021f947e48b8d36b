//! A real virtualenv (built by scripts/make-venvs.sh, named by PYRT_TEST_VENV): the embedded
//! interpreter behaves like `<venv>/bin/python`. One process per scenario (one interpreter per
//! process); the system-site scenario is tests/venv_system_site.rs.

use pyrt::{ErrorKind, Runtime};

fn venv() -> Option<String> {
    let v = std::env::var("PYRT_TEST_VENV").ok().filter(|v| !v.is_empty());
    if v.is_none() {
        // scripts/test.sh always provides one: there, a missing venv is a failure, not a skip.
        assert!(std::env::var_os("PYRT_TEST_REQUIRE_VENV").is_none(), "PYRT_TEST_REQUIRE_VENV is set but PYRT_TEST_VENV is not");
        eprintln!("PYRT_TEST_VENV is not set: scripts/test.sh sets it to a venv from scripts/make-venvs.sh");
    }
    v
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn embedded_interpreter_is_the_venvs_python() {
    let Some(venv) = venv() else { return };
    let venv_json = json_str(&venv);

    // A venv of one version with a libpython of another is refused before anything is loaded.
    let minor: u32 = std::fs::read_to_string(format!("{venv}/pyvenv.cfg"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("version").map(|v| v.trim_start_matches([' ', '=']).split('.').nth(1).unwrap().parse().unwrap()))
        .unwrap();
    let other_lib = std::fs::read_dir(format!("{}/.pyenv/versions", std::env::var("HOME").unwrap()))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|e| (8..=13u32).filter(|m| *m != minor).map(move |m| e.path().join(format!("lib/libpython3.{m}.so.1.0"))))
        .find(|p| p.exists());
    if let Some(other_lib) = other_lib {
        let cfg = format!(r#"{{"venv": {venv_json}, "libpython": {}}}"#, json_str(other_lib.to_str().unwrap()));
        let e = Runtime::new(Some(&cfg)).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Config, "{e}");
        assert!(e.message.contains("was made for Python"), "{}", e.message);
    }

    // Only the venv path: pyrt finds the matching libpython itself.
    let modules = std::env::temp_dir().join(format!("pyrt-venv-mods-{}", std::process::id()));
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::write(modules.join("pyrt_user_mod.py"), "def square(x):\n    return x * x\n").unwrap();
    let cfg = format!(r#"{{"venv": {venv_json}, "site_paths": [{}]}}"#, json_str(modules.to_str().unwrap()));
    let rt = Runtime::new(Some(&cfg)).unwrap();
    let eval = |e: &str| rt.eval_json(e).unwrap();
    let venv_real = std::fs::canonicalize(&venv).unwrap();
    assert_eq!(eval("__import__('os').path.realpath(__import__('sys').prefix)"), json_str(venv_real.to_str().unwrap()));
    assert_eq!(eval("__import__('sys').executable"), json_str(&format!("{venv}/bin/python")));
    assert_eq!(eval("__import__('sys').argv"), r#"[""]"#);
    assert_eq!(eval("any(p.endswith('site-packages') and p.startswith(__import__('sys').prefix) for p in __import__('sys').path)"), "true");

    // numpy (a C extension) computes; jinja2 (pure Python) renders.
    assert_eq!(eval("__import__('numpy').arange(10).reshape(2, 5).sum(axis=1).tolist()"), "[10,35]");
    assert_eq!(
        eval("float(__import__('numpy').linalg.det(__import__('numpy').array([[2.0, 1.0], [1.0, 3.0]])))").parse::<f64>().unwrap().round(),
        5.0
    );
    assert_eq!(eval("__import__('jinja2').Template('Hello {{ name }}!').render(name='pyrt')"), r#""Hello pyrt!""#);

    // A package present only outside the venv (pip lives in the base install) does not import.
    let e = rt.run_string("import pip").unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "ModuleNotFoundError");

    // sys.executable is a real interpreter of this version: subprocess and multiprocessing work.
    rt.run_string(
        "import subprocess, sys\nout = subprocess.run([sys.executable, '-c', 'import sys; print(sys.prefix, sys.version_info[:2])'], capture_output=True, text=True, check=True).stdout.split()\n",
    )
    .unwrap();
    assert_eq!(eval("out[0] == sys.prefix"), "true");
    assert_eq!(eval("' '.join(out[1:]) == str(sys.version_info[:2])"), "true");
    for method in ["spawn", "forkserver"] {
        let code = format!("import multiprocessing, pyrt_user_mod\nwith multiprocessing.get_context('{method}').Pool(2) as pool:\n    mp_result = pool.map(pyrt_user_mod.square, range(6))\n");
        rt.run_string(&code).unwrap_or_else(|e| panic!("{method}: {e}\n{:?}", e.python));
        assert_eq!(eval("mp_result"), "[0,1,4,9,16,25]", "{method}");
    }
    std::fs::remove_dir_all(&modules).unwrap();
}
