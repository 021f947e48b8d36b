//! Integration tests against a real libpython: the one `PYRT_LIBPYTHON` names, else the one
//! discovery finds. The suite runs this file once per CPython present (scripts/test.sh).
//!
//! One runtime is kept for the whole process: freeing the last handle would finalize Python,
//! which cannot be restarted (finalization is tested in tests/lifecycle.rs, its own process).

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use pyrt::capi::error::*;
use pyrt::capi::memory::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;
use pyrt::{ErrorKind, Runtime};

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = Runtime::new(None).expect("a libpython is available");
        rt.run_string("def ident(x):\n    return x\n").unwrap();
        eprintln!("testing against {}", rt.info_json().unwrap());
        rt
    })
}

fn call(module: &str, function: &str, args: &str) -> pyrt::Result<String> {
    rt().call_json(module, function, Some(args), None)
}

#[test]
fn math_sqrt() {
    assert_eq!(call("math", "sqrt", "[16.0]").unwrap(), "4.0");
}

#[test]
fn dotted_builtins_and_main() {
    assert_eq!(call("os", "path.join", r#"["a","b"]"#).unwrap(), r#""a/b""#);
    assert_eq!(call("builtins", "len", r#"["hello"]"#).unwrap(), "5");
    assert_eq!(call("builtins", "sum", "[[1,2,3]]").unwrap(), "6");
    rt().run_string("def greet(name, punct='!'):\n    return 'hi ' + name + punct\n").unwrap();
    assert_eq!(rt().call_json("__main__", "greet", Some(r#"["bob"]"#), Some(r#"{"punct":"?"}"#)).unwrap(), r#""hi bob?""#);
}

#[test]
fn redefinition_is_seen_through_the_cache() {
    rt().run_string("def version_fn():\n    return 1\n").unwrap();
    assert_eq!(call("__main__", "version_fn", "[]").unwrap(), "1");
    rt().run_string("def version_fn():\n    return 2\n").unwrap();
    assert_eq!(call("__main__", "version_fn", "[]").unwrap(), "2");
}

#[test]
fn json_values_round_trip() {
    for v in [
        "null",
        "true",
        "false",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "123456789012345678901234567890123456789",
        "-98765432109876543210987654321",
        "4.0",
        "0.1",
        "-0.0",
        "1e300",
        "5e-324",
        r#""""#,
        r#""h\u00e9llo \"q\" \\ \n\t\u0001 😀""#,
        "[]",
        "{}",
        r#"[1,[2,[3,{"a":[null,true]}]]]"#,
        r#"{"k":{"nested":[1.5,"x"]}}"#,
    ] {
        let out = call("__main__", "ident", &format!("[{v}]")).unwrap();
        let want: serde_json::Value = serde_json::from_str(v).unwrap();
        let got: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(got, want, "{v} came back as {out}");
        assert!(!v.contains('.') || out.contains('.') || out.contains('e'), "float stays a float: {v} -> {out}");
    }
}

#[test]
fn big_ints_are_exact_both_ways() {
    assert_eq!(rt().eval_json("2**100").unwrap(), "1267650600228229401496703205376");
    assert_eq!(call("__main__", "ident", "[-1267650600228229401496703205376]").unwrap(), "-1267650600228229401496703205376");
    assert_eq!(call("builtins", "str", "[18446744073709551617]").unwrap(), r#""18446744073709551617""#);
}

#[test]
fn floats_round_trip_bit_identical() {
    // A deterministic spread of bit patterns (xorshift), finite only.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut args = String::from("[[");
    let mut values = Vec::new();
    while values.len() < 2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if !f.is_finite() {
            continue;
        }
        if !values.is_empty() {
            args.push(',');
        }
        // Rust's `{:?}` is the shortest form that reads back to the same bits (valid JSON for a
        // finite value), as pyrt's own writer promises.
        args.push_str(&format!("{f:?}"));
        values.push(f);
    }
    args.push_str("]]");
    let out = call("__main__", "ident", &args).unwrap();
    // Parse with Rust's correctly rounded parser (serde_json's default one is not exact).
    let back: Vec<f64> = out.trim_matches(|c| c == '[' || c == ']').split(',').map(|t| t.parse().unwrap()).collect();
    assert_eq!(back.len(), values.len());
    for (a, b) in values.iter().zip(&back) {
        assert_eq!(a.to_bits(), b.to_bits(), "{a:?} came back as {b:?}");
    }
    // And Python agrees on the text: repr(float(text)) round-trips the same bits.
    assert_eq!(rt().eval_json("float('0.1') + float('0.2')").unwrap(), "0.30000000000000004");
}

#[test]
fn python_exceptions_are_errors() {
    let e = call("__main__", "ident", "[]").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Python);
    assert_eq!(e.python.as_ref().unwrap().type_name, "TypeError");

    rt().run_string("def boom():\n    return 1 / 0\n").unwrap();
    let e = call("__main__", "boom", "[]").unwrap_err();
    let py = e.python.clone().unwrap();
    assert_eq!(py.type_name, "ZeroDivisionError");
    assert_eq!(e.message, "division by zero");
    assert!(py.traceback.as_deref().unwrap().contains("in boom"), "{:?}", py.traceback);

    let e = call("json", "loads", r#"["{"]"#).unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "json.decoder.JSONDecodeError");
    let e = call("no_such_module_xyz", "f", "[]").unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "ModuleNotFoundError");
    let e = call("math", "no_such_function", "[]").unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "AttributeError");
    let e = call("math", "pi", "[]").unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "TypeError");
}

#[test]
fn system_exit_and_keyboard_interrupt_do_not_end_the_process() {
    for (code, msg) in [
        ("raise SystemExit(7)", "exit code 7"),
        ("import sys; sys.exit()", "exit code 0"),
        ("import sys; sys.exit('bye')", "bye (exit code 1)"),
    ] {
        let e = rt().run_string(code).unwrap_err();
        assert_eq!(e.kind, ErrorKind::SystemExit);
        assert_eq!(e.message, msg);
    }
    let e = rt().run_string("raise KeyboardInterrupt").unwrap_err();
    assert_eq!(e.kind, ErrorKind::KeyboardInterrupt);
    assert_eq!(call("math", "sqrt", "[4.0]").unwrap(), "2.0");
}

#[test]
fn conversion_errors_name_type_and_path() {
    let e = rt().eval_json("{'a': [1, {2}]}").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conversion);
    assert_eq!(e.message, r#"Python type 'set' has no JSON form at $["a"][1]"#);
    let e = rt().eval_json("[float('nan')]").unwrap_err();
    assert_eq!(e.message, "float nan has no JSON form at $[0]");
    let e = rt().eval_json("{1: 2}").unwrap_err();
    assert!(e.message.contains("dict key of type 'int'"), "{}", e.message);
    let e = rt().eval_json("(lambda l: (l.append(l), l)[1])([])").unwrap_err();
    assert!(e.message.contains("deeper than 1000"), "{}", e.message);
    // Subclasses keep their base's form.
    assert_eq!(rt().eval_json("__import__('collections').OrderedDict(a=1)").unwrap(), r#"{"a":1}"#);
    assert_eq!(rt().eval_json("__import__('enum').IntEnum('C', 'A B').B").unwrap(), "2");
}

#[test]
fn bad_json_inputs() {
    assert_eq!(call("math", "sqrt", "[16.0").unwrap_err().kind, ErrorKind::InvalidJson);
    assert_eq!(call("math", "sqrt", "16.0").unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(rt().call_json("math", "sqrt", Some("[1]"), Some("[]")).unwrap_err().kind, ErrorKind::InvalidArgument);
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    assert_eq!(call("builtins", "len", &format!("[{deep}]")).unwrap_err().kind, ErrorKind::InvalidJson);
    assert_eq!(call("math", "", "[]").unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(call("os", "path..join", "[]").unwrap_err().kind, ErrorKind::InvalidArgument);
}

#[test]
fn large_string_argument() {
    let big = "x".repeat(100 << 20);
    let out = call("builtins", "len", &format!("[\"{big}\"]")).unwrap();
    assert_eq!(out, (100u64 << 20).to_string());
}

#[test]
fn thread_state_persists_per_os_thread() {
    rt().run_string("import threading, decimal\ntls = threading.local()\ndef tls_set(v):\n    tls.v = v\ndef tls_get():\n    return getattr(tls, 'v', None)\ndef prec_set(p):\n    decimal.getcontext().prec = p\ndef prec_get():\n    return decimal.getcontext().prec\n").unwrap();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                call("__main__", "tls_set", &format!("[{i}]")).unwrap();
                call("__main__", "prec_set", &format!("[{}]", 5 + i)).unwrap();
                for _ in 0..100 {
                    assert_eq!(call("__main__", "tls_get", "[]").unwrap(), i.to_string());
                    assert_eq!(call("__main__", "prec_get", "[]").unwrap(), (5 + i).to_string());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    // A fresh thread sees fresh state.
    std::thread::spawn(|| assert_eq!(call("__main__", "tls_get", "[]").unwrap(), "null")).join().unwrap();
}

#[test]
fn concurrent_calls_from_many_threads() {
    let handles: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..500 {
                    let n = t * 1000 + i;
                    assert_eq!(call("builtins", "abs", &format!("[-{n}]")).unwrap(), n.to_string());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn run_file_errors_are_distinct() {
    let dir = std::env::temp_dir().join(format!("pyrt-rs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.py");
    std::fs::write(&file, "ran_file = __file__\n").unwrap();
    rt().run_file(file.to_str().unwrap()).unwrap();
    assert_eq!(rt().eval_json("ran_file").unwrap(), format!("\"{}\"", file.display()));
    assert_eq!(rt().eval_json("'__file__' in globals()").unwrap(), "false");
    assert_eq!(rt().run_file(dir.join("missing.py").to_str().unwrap()).unwrap_err().kind, ErrorKind::FileNotFound);
    assert_eq!(rt().run_file(dir.to_str().unwrap()).unwrap_err().kind, ErrorKind::NotAFile);
    std::fs::write(&file, "raise ValueError('from file')\n").unwrap();
    let e = rt().run_file(file.to_str().unwrap()).unwrap_err();
    assert!(e.python.as_ref().unwrap().traceback.as_deref().unwrap().contains("script.py"));
}

// ---- the C functions, called with raw pointers -------------------------------------------------

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

#[test]
fn capi_null_pointers_are_errors() {
    // SAFETY: the NULL pointers are deliberate: the contract under test is that pyrt rejects a NULL
    // input, output or handle with PYRT_ERR_INVALID_ARGUMENT (writing no output), and that NULL is a
    // no-op for the free functions and NULL for the error accessors. Every other pointer is a
    // NUL-terminated string that outlives the calls (`cfg`, `m`, `f`, `a`, `bad_utf8`), a valid
    // out-pointer, or a runtime handle: a token looked up, never dereferenced, so the freed `raw`
    // and the bogus 0x1234 give PYRT_ERR_CLOSED. `err` and `out` are read and freed once, after the
    // call that wrote them (asserted); the version string is static.
    unsafe {
        let mut raw: *mut pyrt_runtime = ptr::null_mut();
        let mut err: *mut pyrt_error = ptr::null_mut();
        let cfg = c(r#"{"libpython": null}"#);
        assert_eq!(pyrt_new(cfg.as_ptr(), ptr::null_mut(), &mut err), PYRT_ERR_INVALID_ARGUMENT);
        assert!(CStr::from_ptr(pyrt_error_message(err)).to_str().unwrap().contains("rt_out"));
        pyrt_error_free(err);
        assert_eq!(pyrt_new(ptr::null(), &mut raw, ptr::null_mut()), PYRT_OK);
        let mut out: *mut c_char = ptr::null_mut();
        let (m, f, a) = (c("math"), c("sqrt"), c("[16.0]"));
        assert_eq!(
            pyrt_call_json(raw, ptr::null(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()),
            PYRT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            pyrt_call_json(raw, m.as_ptr(), ptr::null(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()),
            PYRT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            pyrt_call_json(raw, m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), ptr::null_mut(), ptr::null_mut()),
            PYRT_ERR_INVALID_ARGUMENT
        );
        assert!(out.is_null(), "outputs are written only on success");
        assert_eq!(
            pyrt_call_json(ptr::null_mut(), m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()),
            PYRT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(pyrt_run_string(raw, ptr::null(), ptr::null_mut()), PYRT_ERR_INVALID_ARGUMENT);
        assert_eq!(pyrt_run_file(raw, ptr::null(), ptr::null_mut()), PYRT_ERR_INVALID_ARGUMENT);
        assert_eq!(pyrt_eval_json(raw, ptr::null(), &mut out, ptr::null_mut()), PYRT_ERR_INVALID_ARGUMENT);
        let bad_utf8 = [b'1', 0xff, 0];
        assert_eq!(pyrt_run_string(raw, bad_utf8.as_ptr().cast(), ptr::null_mut()), PYRT_ERR_INVALID_UTF8);
        assert_eq!(pyrt_call_json(raw, m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()), PYRT_OK);
        assert_eq!(CStr::from_ptr(out).to_str().unwrap(), "4.0");
        pyrt_string_free(out);
        // A bogus handle and this handle once freed: errors, not crashes. Another handle (rt())
        // keeps the interpreter alive.
        let _ = rt();
        pyrt_free(raw);
        pyrt_free(raw);
        assert_eq!(pyrt_call_json(raw, m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()), PYRT_ERR_CLOSED);
        assert_eq!(
            pyrt_call_json(0x1234 as *mut pyrt_runtime, m.as_ptr(), f.as_ptr(), a.as_ptr(), ptr::null(), &mut out, ptr::null_mut()),
            PYRT_ERR_CLOSED
        );
        assert_eq!(pyrt_error_code(ptr::null()), PYRT_ERR_INVALID_ARGUMENT);
        assert!(pyrt_error_message(ptr::null()).is_null());
        pyrt_error_free(ptr::null_mut());
        pyrt_string_free(ptr::null_mut());
        pyrt_free(ptr::null_mut());
        assert_eq!(CStr::from_ptr(pyrt_version()).to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}

#[test]
fn second_runtime_shares_the_interpreter_and_conflicts_are_refused() {
    rt().run_string("shared_marker = 42").unwrap();
    let second = Runtime::new(None).unwrap();
    assert_eq!(second.eval_json("shared_marker").unwrap(), "42");
    drop(second);
    assert_eq!(rt().eval_json("shared_marker").unwrap(), "42");
    let info: serde_json::Value = serde_json::from_str(&rt().info_json().unwrap()).unwrap();
    let loaded = info["libpython"].as_str().unwrap();
    let other = ["/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "/root/.pyenv/versions/3.12.1/lib/libpython3.12.so.1.0"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists() && std::path::Path::new(p).canonicalize().unwrap().to_str() != Some(loaded));
    if let Some(other) = other {
        let e = Runtime::new(Some(&format!(r#"{{"libpython": "{other}"}}"#))).err().unwrap();
        assert_eq!(e.kind, ErrorKind::LibpythonConflict);
    }
    let e = Runtime::new(Some(r#"{"use_environment": true}"#)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::LibpythonConflict);
    assert_eq!(Runtime::new(Some(r#"{"bogus": 1}"#)).err().unwrap().kind, ErrorKind::Config);
}

/// Python code that runs while a value is encoded (tagged mode calls `isoformat()`, `str()`)
/// empties the container being encoded: every item pyrt holds stays alive (owned references),
/// a dict that changed is an error (with the GIL) or encoded as it was (free-threaded: a
/// snapshot), and a list ends where it was cut. Under valgrind or ASan a borrowed reference would
/// show as a read of freed memory; here the results are checked.
#[test]
fn dict_mutated_during_encoding() {
    let rt = rt();
    rt.run_string(
        "import datetime\n\
         class _Evil(datetime.date):\n\
         \x20   def isoformat(self):\n\
         \x20       _victim.clear()\n\
         \x20       return '2020-01-02'\n\
         def _fresh(i):\n\
         \x20   return ('item-%d-' % i) * 50\n\
         _victim = {}\n",
    )
    .unwrap();
    let free_threaded = rt.info().unwrap().free_threaded;
    for _ in 0..50 {
        rt.run_string("_victim = {'a': _Evil(2020, 1, 2), 'b': _fresh(1), 'c': [_fresh(2), _fresh(3)]}").unwrap();
        let victim = rt.eval_object("_victim").unwrap();
        match victim.to_tagged_json() {
            Ok(text) => {
                assert!(free_threaded, "a changed dict must be an error with the GIL: {text}");
                assert!(text.contains("item-1-item-1") && text.contains("item-3-"), "{text}");
            }
            Err(e) => {
                assert!(!free_threaded, "{e}");
                assert!(e.message.contains("changed size"), "{e}");
            }
        }
        rt.run_string("_victim = [_Evil(2020, 1, 2), _fresh(1), _fresh(2)]").unwrap();
        let victim = rt.eval_object("_victim").unwrap();
        let text = victim.to_tagged_json().unwrap();
        assert!(text.contains("2020-01-02"), "{text}");
        assert!(!text.contains("item-2-"), "the list was cut after its first item: {text}");
        // The plain encoding has no form for a date: an error naming it, nothing read after.
        rt.run_string("_victim = [_Evil(2020, 1, 2), _fresh(1), _fresh(2)]").unwrap();
        let victim = rt.eval_object("_victim").unwrap();
        let e = victim.to_json().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conversion, "{e}");
    }
}
