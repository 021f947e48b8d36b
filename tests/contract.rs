//! The contract file (include/pyrt-contract.json, written from the sources by src/contract.rs)
//! against what a C programmer and a reader see: the header, a real pyrt_info_json, the docs;
//! and the shared value corpus (tests/corpus/values.json) through the C functions.

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use pyrt::capi::error::*;
use pyrt::capi::memory::*;
use pyrt::capi::object::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;
use serde_json::Value;

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn contract() -> Value {
    serde_json::from_str(&read("include/pyrt-contract.json")).unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle is a token pyrt looks up in a table and never dereferences, and it may be
// used from any thread (the header's Threads section).
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn rt() -> *mut pyrt_runtime {
    static RT: OnceLock<Rt> = OnceLock::new();
    RT.get_or_init(|| {
        let mut rt = ptr::null_mut();
        // SAFETY: a NULL config means the defaults; `rt` is a valid out-pointer.
        assert_eq!(unsafe { pyrt_new(ptr::null(), &mut rt, ptr::null_mut()) }, PYRT_OK);
        Rt(rt)
    })
    .0
}

/// Takes a result or an error out of a C call's out-pointers (and frees it).
///
/// # Safety
/// `text` and `err` are what the call that returned `status` wrote: on PYRT_OK a string pyrt
/// allocated in `text`; otherwise an error in `err`, or NULL. Nothing has freed them.
unsafe fn outcome(status: i32, text: *mut c_char, err: *mut pyrt_error) -> Result<String, (i32, String)> {
    // SAFETY: on PYRT_OK `text` is a live pyrt string, otherwise `err` is a live error or NULL (the
    // caller's promise); each is read (its message is owned by the error) and then freed, once.
    unsafe {
        if status == PYRT_OK {
            let s = CStr::from_ptr(text).to_str().unwrap().to_string();
            pyrt_string_free(text);
            Ok(s)
        } else {
            let m = if err.is_null() { String::new() } else { CStr::from_ptr(pyrt_error_message(err)).to_string_lossy().into_owned() };
            pyrt_error_free(err);
            Err((status, m))
        }
    }
}

#[test]
fn header_defines_every_status() {
    let header = read("include/pyrt.h");
    for s in contract()["statuses"].as_array().unwrap() {
        let (name, code) = (s["name"].as_str().unwrap(), s["code"].as_i64().unwrap());
        assert!(header.contains(&format!("#define {name} {code}")), "include/pyrt.h lacks #define {name} {code}");
        // SAFETY: pyrt_status_name returns a static string for every code.
        let got = unsafe { CStr::from_ptr(pyrt_status_name(code as i32)) }.to_str().unwrap();
        assert_eq!(got, name);
    }
}

#[test]
fn info_json_has_exactly_the_contract_fields() {
    let (mut text, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live runtime and valid out-pointers; `outcome` reads what this call wrote to them.
    let info = unsafe {
        let status = pyrt_info_json(rt(), &mut text, &mut err);
        outcome(status, text, err)
    };
    let info: Value = serde_json::from_str(&info.unwrap()).unwrap();
    let mut have: Vec<String> = info.as_object().unwrap().keys().cloned().collect();
    let mut want = names(&contract()["info_fields"]);
    have.sort();
    want.sort();
    assert_eq!(have, want);
}

/// The reader's documents name every status, config key and info field.
#[test]
fn docs_name_every_fact() {
    let c = contract();
    let readme = read("README.md");
    let header = read("include/pyrt.h");
    for key in names(&c["config_keys"]) {
        assert!(readme.contains(&format!("`{key}`")), "README.md does not document the config key `{key}`");
        assert!(header.contains(&format!("\"{key}\"")), "include/pyrt.h does not document the config key \"{key}\"");
    }
    for field in names(&c["info_fields"]) {
        assert!(header.contains(&format!("\"{field}\"")), "include/pyrt.h does not document the info field \"{field}\"");
    }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn eval(expr: &str) -> *mut pyrt_object {
    let (mut o, mut e) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: a live runtime, a NUL-terminated expression (a temporary alive until the call
    // returns) and valid out-pointers.
    let status = unsafe { pyrt_eval_object(rt(), c(expr).as_ptr(), &mut o, &mut e) };
    if status != PYRT_OK {
        // SAFETY: the call failed, so `e` is the error it wrote.
        panic!("eval {expr}: {:?}", unsafe { outcome(status, ptr::null_mut(), e) });
    }
    o
}

fn to_json(o: *mut pyrt_object, flags: u32) -> Result<String, (i32, String)> {
    let (mut text, mut err) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: `o` is an object token (looked up, never dereferenced); valid out-pointers, and
    // `outcome` reads what this call wrote to them.
    unsafe {
        let status = pyrt_object_to_json(o, flags, &mut text, &mut err);
        outcome(status, text, err)
    }
}

fn call(f: *mut pyrt_object, args: &str) -> Result<String, (i32, String)> {
    let (mut text, mut err) = (ptr::null_mut(), ptr::null_mut());
    let args = c(args);
    // SAFETY: `f` is an object token; NUL-terminated JSON arguments that outlive the call; NULL
    // method and keyword arguments (call `f` itself, no keywords); valid out-pointers, and `outcome`
    // reads what this call wrote to them.
    unsafe {
        let status = pyrt_object_call_json(f, ptr::null(), args.as_ptr(), ptr::null(), PYRT_VALUE_TAGGED, &mut text, &mut err);
        outcome(status, text, err)
    }
}

fn handle(o: *mut pyrt_object) -> String {
    format!("{{\"__pyrt__\":\"object\",\"v\":{}}}", pyrt_object_id(o))
}

/// Python reads the corpus (its json module keeps big integers exact and 4.0 a float) and
/// compares JSON trees strictly: 4 is not 4.0, -0.0 is not 0.0, True is not 1.
const HELPERS: &str = r#"
import json
def _corpus_load(path):
    global _corpus
    with open(path, encoding="utf-8") as f:
        _corpus = json.load(f)["cases"]
    return len(_corpus)
def _strict(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b
def _case(i, key):
    c = _corpus[i]
    return [c["name"], c["python"], json.dumps(c[key]) if key in c else None]
def _matches(i, key, text):
    return _strict(json.loads(text), _corpus[i][key])
def _same_value(a, b):
    return type(a) is type(b) and (a == b or (a != a and b != b))
"#;

/// Every corpus case: the Python value is written exactly as the corpus says (tagged, and plain
/// or PYRT_ERR_CONVERSION), and the tagged form read back is an equal value of the same type.
#[test]
fn corpus_round_trips_through_libpyrt() {
    let code = c(HELPERS);
    let mut err = ptr::null_mut();
    // SAFETY: a live runtime, NUL-terminated code, a valid out-pointer.
    let status = unsafe { pyrt_run_string(rt(), code.as_ptr(), &mut err) };
    if status != PYRT_OK {
        // SAFETY: the call failed, so `err` is the error it wrote.
        panic!("{:?}", unsafe { outcome(status, ptr::null_mut(), err) });
    }
    let path = serde_json::to_string(&root().join("tests/corpus/values.json")).unwrap();
    let n: usize = call(eval("_corpus_load"), &format!("[{path}]")).unwrap().parse().unwrap();
    assert!(n >= 40, "the corpus has {n} cases");
    let (case, matches, same_value) = (eval("_case"), eval("_matches"), eval("_same_value"));
    for i in 0..n {
        let fields: Vec<Option<String>> = serde_json::from_str(&call(case, &format!("[{i}, \"tagged\"]")).unwrap()).unwrap();
        let [Some(name), Some(python), Some(tagged_text)] = &fields[..] else { panic!("case {i}: {fields:?}") };
        let o = eval(python);
        let tagged = to_json(o, PYRT_VALUE_TAGGED).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let args = serde_json::json!([i, "tagged", tagged]).to_string();
        assert_eq!(call(matches, &args).unwrap(), "true", "{name}: libpyrt writes {tagged}, the corpus says {tagged_text}");
        let plain_fields: Vec<Option<String>> = serde_json::from_str(&call(case, &format!("[{i}, \"plain\"]")).unwrap()).unwrap();
        match (to_json(o, 0), &plain_fields[2]) {
            (Ok(text), Some(want)) => {
                let args = serde_json::json!([i, "plain", text]).to_string();
                assert_eq!(call(matches, &args).unwrap(), "true", "{name}: plain {text}, the corpus says {want}");
            }
            (Err((status, _)), None) => assert_eq!(status, PYRT_ERR_CONVERSION, "{name}"),
            (got, want) => panic!("{name}: plain form {got:?}, the corpus says {want:?}"),
        }
        // The corpus's tagged text read back is the evaluated value (same type, equal).
        let (mut back, mut err) = (ptr::null_mut(), ptr::null_mut());
        let json = c(tagged_text);
        // SAFETY: a live runtime, NUL-terminated JSON, valid out-pointers.
        let status = unsafe { pyrt_object_from_json(rt(), json.as_ptr(), PYRT_VALUE_TAGGED, &mut back, &mut err) };
        if status != PYRT_OK {
            // SAFETY: the call failed, so `err` is the error it wrote.
            panic!("{name}: reading {tagged_text}: {:?}", unsafe { outcome(status, ptr::null_mut(), err) });
        }
        let args = format!("[{}, {}]", handle(back), handle(o));
        assert_eq!(call(same_value, &args).unwrap(), "true", "{name}: {tagged_text} reads back as a different value");
        // SAFETY: handles this test owns, freed once.
        unsafe {
            pyrt_object_free(back);
            pyrt_object_free(o);
        }
    }
}
