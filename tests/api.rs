//! The safe Rust API (src/api/) against a real libpython: `PYRT_LIBPYTHON`, else the one
//! discovery finds. The suite runs this file once per CPython present (scripts/test.sh).
//!
//! One runtime is kept for the whole process (freeing the last one would finalize Python for
//! good; that is tested in tests/lifecycle.rs). Each test uses its own names in `__main__`.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use pyrt::{Bytes, ErrorKind, Object, Runtime};
use serde::{Deserialize, Serialize};

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(None).expect("a libpython is available"))
}

#[test]
fn call_with_tuples_vecs_single_values_and_no_arguments() {
    let rt = rt();
    assert_eq!(rt.call::<f64>("math", "sqrt", (16.0,)).unwrap(), 4.0);
    assert_eq!(rt.call::<f64>("math", "sqrt", 16.0).unwrap(), 4.0);
    assert_eq!(rt.call::<i64>("builtins", "max", vec![3, 9, 4]).unwrap(), 9);
    assert_eq!(rt.call::<String>("os", "path.join", ("a", "b", "c")).unwrap(), "a/b/c");
    assert_eq!(rt.call::<Vec<i64>>("builtins", "list", ()).unwrap(), Vec::<i64>::new());
    // One list argument is a 1-tuple holding the list.
    assert_eq!(rt.call::<i64>("builtins", "sum", (vec![1, 2, 3],)).unwrap(), 6);
    // One None argument.
    assert_eq!(rt.call::<String>("builtins", "repr", (None::<i32>,)).unwrap(), "None");
    // A None result into ().
    rt.call::<()>("builtins", "print", ("printed by Python",)).unwrap();
}

#[test]
fn keyword_arguments_from_maps_and_structs() {
    let rt = rt();
    let kw: HashMap<&str, &str> = [("sep", "-")].into_iter().collect();
    rt.run("def joined(*a, sep=' '):\n    return sep.join(a)\n").unwrap();
    assert_eq!(rt.call_kw::<String, _>("__main__", "joined", ("x", "y"), Some(&kw)).unwrap(), "x-y");
    #[derive(Serialize)]
    struct Kw {
        sep: String,
    }
    let s: String = rt.call_kw("__main__", "joined", ["p", "q"], Some(&Kw { sep: "+".into() })).unwrap();
    assert_eq!(s, "p+q");
    let e = rt.call_kw::<String, _>("__main__", "joined", (), Some(&[1])).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
}

#[test]
fn results_fill_rust_types() {
    let rt = rt();
    rt.run("def api_record():\n    return {'name': 'ada', 'tags': ['x', 'y'], 'score': 9.5, 'pair': (1, 'one'), 'none': None}\n").unwrap();
    #[derive(Debug, Deserialize, PartialEq)]
    struct Record {
        name: String,
        tags: Vec<String>,
        score: f64,
        pair: (i32, String),
        none: Option<i32>,
    }
    let r: Record = rt.call("__main__", "api_record", ()).unwrap();
    assert_eq!(r, Record { name: "ada".into(), tags: vec!["x".into(), "y".into()], score: 9.5, pair: (1, "one".into()), none: None });
    let m: BTreeMap<String, serde_json::Value> = rt.call("__main__", "api_record", ()).unwrap();
    assert_eq!(m["pair"], serde_json::json!([1, "one"]));
    // Large integers are exact up to what the Rust type holds.
    assert_eq!(rt.eval::<u64>("2**64 - 1").unwrap(), u64::MAX);
    assert_eq!(rt.eval::<i128>("-2**100").unwrap(), -(1i128 << 100));
    let e = rt.eval::<u8>("300").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conversion);
    let e = rt.eval::<i64>("2**64").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conversion);
    // No JSON form: a conversion error naming the type.
    let e = rt.eval::<serde_json::Value>("{1, 2}").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conversion);
    assert!(e.message.contains("set"), "{}", e.message);
}

#[test]
fn python_exceptions_are_errors_with_type_and_traceback() {
    let rt = rt();
    rt.run("def api_fail(x):\n    raise ValueError(f'bad value {x}')\n").unwrap();
    let e = rt.call::<()>("__main__", "api_fail", (7,)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Python);
    assert_eq!(e.python_type(), Some("ValueError"));
    assert_eq!(e.message, "bad value 7");
    assert_eq!(e.to_string(), "ValueError: bad value 7");
    let tb = e.traceback().expect("a traceback");
    assert!(tb.contains("api_fail") && tb.contains("ValueError: bad value 7"), "{tb}");
    let e = rt.run("raise SystemExit(3)").unwrap_err();
    assert_eq!(e.python_type(), Some("SystemExit"));
    assert_eq!(e.kind, ErrorKind::SystemExit);
    let e = rt.call::<()>("no_such_module_pyrt", "f", ()).unwrap_err();
    assert_eq!(e.python_type(), Some("ModuleNotFoundError"));
    let e = rt.run("x = (").unwrap_err();
    assert_eq!(e.python_type(), Some("SyntaxError"));
    // Errors work with `?` into Box<dyn Error> (thiserror).
    let boxed = || -> Result<(), Box<dyn std::error::Error>> {
        rt.run("1/0")?;
        Ok(())
    };
    assert_eq!(boxed().unwrap_err().to_string(), "ZeroDivisionError: division by zero");
    // Bad input from Rust is an error too, never a panic.
    assert_eq!(rt.run("a\0b").unwrap_err().kind, ErrorKind::InvalidArgument);
    assert_eq!(rt.eval::<i32>("1\0").unwrap_err().kind, ErrorKind::InvalidArgument);
}

#[test]
fn objects_keep_state_and_are_released_on_drop() {
    let rt = rt();
    let counter: Object = rt.call_object("collections", "Counter", ("abracadabra",)).unwrap();
    let top: Vec<(String, u32)> = counter.call_method("most_common", (2,)).unwrap();
    assert_eq!(top, [("a".to_string(), 5), ("b".to_string(), 2)]);
    counter.call_method::<()>("update", ("zzz",)).unwrap();
    assert_eq!(counter.call_method::<u32>("get", ("z",)).unwrap(), 3);
    assert!(counter.repr().unwrap().starts_with("Counter({"), "{}", counter.repr().unwrap());

    // Drop releases the reference: a weakref to the object dies.
    rt.run("import weakref\nclass ApiThing:\n    def __init__(self, n):\n        self.n = n\n    def twice(self):\n        return 2 * self.n\n")
        .unwrap();
    let thing = rt.call_object("__main__", "ApiThing", (21,)).unwrap();
    assert_eq!(thing.call_method::<i64>("twice", ()).unwrap(), 42);
    assert_eq!(thing.get_value::<i64>("n").unwrap(), 21);
    thing.set("n", 5).unwrap();
    assert_eq!(thing.get("n").unwrap().extract::<i64>().unwrap(), 5);
    rt.call::<()>("builtins", "setattr", (rt.import("__main__").unwrap(), "api_ref", rt.call_object("weakref", "ref", (&thing,)).unwrap()))
        .unwrap();
    assert!(rt.eval::<bool>("api_ref() is not None").unwrap());
    drop(thing);
    // The reference is dropped by the next call into the interpreter.
    rt.run("import gc; gc.collect()").unwrap();
    assert!(rt.eval::<bool>("api_ref() is None").unwrap(), "the object outlived its Rust handle");
}

#[test]
fn objects_and_bytes_as_arguments() {
    let rt = rt();
    let list = rt.to_object(&vec![1, 2, 3]).unwrap();
    list.call_method::<()>("append", (4,)).unwrap();
    assert_eq!(rt.call::<i64>("builtins", "len", (&list,)).unwrap(), 4);
    // Objects nested inside other arguments, and passed by keyword.
    rt.run("def api_total(items, extra=None):\n    return sum(sum(i) for i in items) + (sum(extra) if extra else 0)\n").unwrap();
    let kw = HashMap::from([("extra", &list)]);
    assert_eq!(rt.call_kw::<i64, _>("__main__", "api_total", (vec![&list, &list],), Some(&kw)).unwrap(), 30);
    // An object passed in is the object itself, not a copy.
    let d = rt.to_object(&serde_json::json!({"k": 1})).unwrap();
    rt.call::<()>("operator", "setitem", (&d, "k", 2)).unwrap();
    assert_eq!(d.extract::<HashMap<String, i32>>().unwrap()["k"], 2);
    // bytes
    assert_eq!(rt.call::<i64>("builtins", "len", (Bytes(&[0, 1, 2, 255]),)).unwrap(), 4);
    assert_eq!(rt.call::<String>("builtins", "repr", (Bytes(b"\x00A"),)).unwrap(), "b'\\x00A'");
    let b = rt.call_object("builtins", "bytes", (Bytes(b"hi"),)).unwrap();
    assert_eq!(b.to_tagged_json().unwrap(), r#"{"__pyrt__":"bytes","v":"aGk="}"#);
}

#[test]
fn objects_from_modules_and_expressions() {
    let rt = rt();
    let math = rt.import("math").unwrap();
    assert_eq!(math.call_method::<f64>("hypot", (3.0, 4.0)).unwrap(), 5.0);
    assert!((math.get_value::<f64>("pi").unwrap() - std::f64::consts::PI).abs() < 1e-15);
    let sqrt = math.get("sqrt").unwrap();
    assert_eq!(sqrt.call::<f64>((81.0,)).unwrap(), 9.0);
    let f = rt.eval_object("lambda a, b=10: a * b").unwrap();
    assert_eq!(f.call::<i64>((4,)).unwrap(), 40);
    assert_eq!(f.call_kw::<i64, _>((4,), Some(&HashMap::from([("b", 3)]))).unwrap(), 12);
    let s = rt.eval_object("{3, 1, 2}").unwrap();
    assert_eq!(s.str().unwrap(), "{1, 2, 3}");
    assert_eq!(s.extract::<Vec<i32>>().unwrap_err().kind, ErrorKind::Conversion);
    let e = math.get("no_such_attr").unwrap_err();
    assert_eq!(e.python_type(), Some("AttributeError"));
    let e = math.call_method::<f64>("sqrt", ("x",)).unwrap_err();
    assert_eq!(e.python_type(), Some("TypeError"));
}

#[test]
fn run_file_and_info() {
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("pyrt-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script.py");
    std::fs::write(&file, "api_from_file = __file__\n").unwrap();
    rt.run_file(&file).unwrap();
    assert_eq!(rt.eval::<String>("api_from_file").unwrap(), file.to_str().unwrap());
    assert_eq!(rt.run_file(dir.join("missing.py")).unwrap_err().kind, ErrorKind::FileNotFound);
    assert_eq!(rt.run_file(&dir).unwrap_err().kind, ErrorKind::NotAFile);
    std::fs::remove_dir_all(&dir).unwrap();

    let info = rt.info().unwrap();
    assert_eq!(info.pyrt_version, pyrt::VERSION);
    let (major_minor, _) = info.python_version.rsplit_once('.').unwrap();
    assert!(info.libpython.contains(&format!("libpython{major_minor}")), "{info:?}");
    if let Ok(lib) = std::env::var("PYRT_LIBPYTHON") {
        assert_eq!(std::fs::canonicalize(&info.libpython).unwrap(), std::fs::canonicalize(lib).unwrap());
    }
}

#[test]
fn many_threads_share_one_runtime() {
    let rt = rt();
    let sqrt = rt.import("math").unwrap().get("sqrt").unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let sqrt = &sqrt;
            s.spawn(move || {
                for i in 0..200 {
                    let n = (t * 1000 + i) as f64;
                    assert_eq!(sqrt.call::<f64>((n * n,)).unwrap(), n);
                    assert_eq!(rt.call::<i64>("operator", "add", (t, i)).unwrap(), (t + i) as i64);
                }
            });
        }
    });
}

#[test]
fn builder_and_discovery() {
    let rt = rt();
    let lib = rt.info().unwrap().libpython;
    // The same libpython joins the running interpreter; another argv contradicts it.
    let again = Runtime::builder().libpython(&lib).build().unwrap();
    assert_eq!(again.call::<i64>("operator", "mul", (6, 7)).unwrap(), 42);
    let e = Runtime::builder().argv(["other"]).build().unwrap_err();
    assert_eq!(e.kind, ErrorKind::LibpythonConflict);
    let e = Runtime::builder().python_version("2.7").build().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    let d = Runtime::builder().libpython(&lib).discover().unwrap();
    assert_eq!(d.libpython, lib);
    assert!(d.candidates.last().unwrap().accepted, "{d:?}");
    let e = Runtime::builder().python_version("4.0").discover().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    let e = Runtime::builder().venv("/nonexistent/pyrt-venv").discover().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
}

/// The interpreter that runs (PYRT_LIBPYTHON in the suite) reports its build and whether it was
/// tested, and the same facts as Python itself.
#[test]
fn info_reports_the_build() {
    let rt = rt();
    let info = rt.info().unwrap();
    // The build, not the current state: an extension may turn the GIL back on at run time.
    let gil_disabled: bool = rt.eval("__import__('sysconfig').get_config_var('Py_GIL_DISABLED') == 1").unwrap();
    assert_eq!(info.free_threaded, gil_disabled, "{info:?}");
    let minor: u32 = rt.eval("__import__('sys').version_info[1]").unwrap();
    assert_eq!(info.tested, minor <= 14, "{info:?}");
    assert_eq!(info.tested_note.is_some(), !info.tested);
}
