//! Object handles and the tagged value encoding (docs/values.md), through the C functions.

use std::ffi::{c_char, CStr, CString};
use std::ptr;
use std::sync::OnceLock;

use pyrt::capi::error::*;
use pyrt::capi::memory::*;
use pyrt::capi::object::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

// Runtime and object handles are tokens that pyrt looks up in a table and never dereferences: any
// value, NULL or freed included, is safe to pass (a stale one gives PYRT_ERR_CLOSED). Error and
// string pointers are real: they are read only after the call that wrote them, and freed once.

struct Rt(*mut pyrt_runtime);
// SAFETY: the runtime handle is a token (see above), and every runtime function may be called from
// any thread (include/pyrt.h), so the handle may move.
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn rt() -> *mut pyrt_runtime {
    static RT: OnceLock<Rt> = OnceLock::new();
    RT.get_or_init(|| {
        let mut rt = ptr::null_mut();
        // SAFETY: a NULL config means the defaults; `rt` is a valid out-pointer; NULL `err_out` is allowed.
        assert_eq!(unsafe { pyrt_new(ptr::null(), &mut rt, ptr::null_mut()) }, PYRT_OK);
        Rt(rt)
    })
    .0
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A string pyrt returned through a `result_out`, copied and freed.
///
/// # Safety
/// `s` is such a string (NUL-terminated, allocated by pyrt) that nothing has freed.
unsafe fn take(s: *mut c_char) -> String {
    // SAFETY: `s` is a live pyrt string (the caller's promise), read and then freed, once.
    unsafe {
        let r = CStr::from_ptr(s).to_str().unwrap().to_string();
        pyrt_string_free(s);
        r
    }
}

/// The message of a failed call's error, which is freed.
///
/// # Safety
/// `e` is an error pyrt wrote to an `err_out` that nothing has freed (it is freed here).
unsafe fn err_text(e: *mut pyrt_error) -> String {
    // SAFETY: `e` is a live error (the caller's promise): its message is a NUL-terminated string
    // it owns, copied before `e` is freed, once.
    unsafe {
        let m = CStr::from_ptr(pyrt_error_message(e)).to_string_lossy().into_owned();
        pyrt_error_free(e);
        m
    }
}

/// The result text of a call that returned `status`, or its status and error message.
///
/// # Safety
/// `out` and `e` are what that call (made with both out-pointers non-NULL) wrote: on PYRT_OK a
/// pyrt string in `out`, otherwise an error in `e`; nothing has freed them (they are freed here).
unsafe fn outcome(status: i32, out: *mut c_char, e: *mut pyrt_error) -> Result<String, (i32, String)> {
    match status {
        // SAFETY: the call succeeded, so `out` is a string pyrt allocated for us (the caller's promise).
        PYRT_OK => Ok(unsafe { take(out) }),
        // SAFETY: the call failed, so `e` is the new error it wrote (the caller's promise).
        code => Err((code, unsafe { err_text(e) })),
    }
}

/// Frees an object handle. Any value is safe (a token: NULL or a freed handle is a no-op).
fn free(o: *mut pyrt_object) {
    // SAFETY: pyrt_object_free looks the token up and never dereferences it.
    unsafe { pyrt_object_free(o) };
}

fn run(code: &str) {
    let mut e = ptr::null_mut();
    // SAFETY: a runtime token; the code is a NUL-terminated temporary alive until the call returns;
    // `e` is a valid out-pointer.
    let status = unsafe { pyrt_run_string(rt(), c(code).as_ptr(), &mut e) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `e`.
    assert_eq!(status, PYRT_OK, "{}", unsafe { err_text(e) });
}

fn eval_obj(expr: &str) -> *mut pyrt_object {
    let mut o = ptr::null_mut();
    let mut e = ptr::null_mut();
    // SAFETY: a runtime token; the expression is a NUL-terminated temporary alive until the call
    // returns; valid out-pointers.
    let status = unsafe { pyrt_eval_object(rt(), c(expr).as_ptr(), &mut o, &mut e) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `e`.
    assert_eq!(status, PYRT_OK, "{}", unsafe { err_text(e) });
    o
}

fn to_json(o: *mut pyrt_object, flags: u32) -> Result<String, (i32, String)> {
    let mut out = ptr::null_mut();
    let mut e = ptr::null_mut();
    // SAFETY: an object token and valid out-pointers; `outcome` reads what this call wrote to them.
    unsafe {
        let status = pyrt_object_to_json(o, flags, &mut out, &mut e);
        outcome(status, out, e)
    }
}

fn from_json(json: &str, flags: u32) -> *mut pyrt_object {
    let mut o = ptr::null_mut();
    let mut e = ptr::null_mut();
    // SAFETY: a runtime token; the JSON is a NUL-terminated temporary alive until the call returns;
    // valid out-pointers.
    let status = unsafe { pyrt_object_from_json(rt(), c(json).as_ptr(), flags, &mut o, &mut e) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `e`.
    assert_eq!(status, PYRT_OK, "{json}: {}", unsafe { err_text(e) });
    o
}

fn call_json(o: *mut pyrt_object, method: Option<&str>, args: &str, flags: u32) -> Result<String, (i32, String)> {
    let (m, args) = (method.map(c), c(args));
    let mut out = ptr::null_mut();
    let mut e = ptr::null_mut();
    // SAFETY: an object token; the method name (NULL: call `o` itself) and the arguments are
    // NUL-terminated and outlive the call; NULL keyword arguments mean none; valid out-pointers, and
    // `outcome` reads what this call wrote to them.
    unsafe {
        let status =
            pyrt_object_call_json(o, m.as_ref().map_or(ptr::null(), |m| m.as_ptr()), args.as_ptr(), ptr::null(), flags, &mut out, &mut e);
        outcome(status, out, e)
    }
}

const T: u32 = PYRT_VALUE_TAGGED;

#[test]
fn every_tagged_type_round_trips_exactly() {
    run(r#"import datetime, decimal, math, struct
def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack('<d', a) == struct.pack('<d', b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b
"#);
    let values = [
        "None",
        "True",
        "0",
        "-7",
        "10**100",
        "-(10**100)",
        "0.1",
        "-0.0",
        "float('nan')",
        "float('inf')",
        "float('-inf')",
        "5e-324",
        "'text é 😀'",
        "b'\\x00\\xffbytes'",
        "bytearray(b'ab')",
        "b''",
        "(1, 'a', (2.5,))",
        "()",
        "{1, 2, 3}",
        "frozenset({'a'})",
        "set()",
        "{1: 'int key', (1, 2): 'tuple key', None: 0, True: 'bool', 2.5: 'float'}",
        "{'__pyrt__': 'looks like a tag', 'v': 1}",
        "{'plain': [1, {'nested': (1,)}]}",
        "complex(1.5, -2)",
        "complex(float('nan'), float('inf'))",
        "decimal.Decimal('3.14159265358979323846264338327950288')",
        "decimal.Decimal('-0')",
        "datetime.datetime(2024, 2, 29, 13, 45, 30, 123456)",
        "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))",
        "datetime.date(1999, 12, 31)",
        "datetime.time(23, 59, 59, 999999)",
        "datetime.timedelta(days=-3, seconds=5, microseconds=7)",
        "[{'k': (b'x', {1.5: float('nan')})}, [frozenset({(1, 2)})]]",
    ];
    for v in values {
        let original = eval_obj(v);
        let encoded = to_json(original, T).unwrap_or_else(|e| panic!("{v}: {e:?}"));
        let back = from_json(&encoded, T);
        let same = eval_obj("same");
        let args = format!(
            "[{{\"__pyrt__\":\"object\",\"v\":{}}},{{\"__pyrt__\":\"object\",\"v\":{}}}]",
            pyrt_object_id(original),
            pyrt_object_id(back)
        );
        assert_eq!(call_json(same, None, &args, T).unwrap(), "true", "{v} -> {encoded}");
        free(same);
        free(original);
        free(back);
    }
    // Plain JSON stays plain in the tagged encoding.
    let o = eval_obj("{'a': [1, 2.5, 'x', None, True]}");
    assert_eq!(to_json(o, T).unwrap(), r#"{"a":[1,2.5,"x",null,true]}"#);
    free(o);
}

#[test]
fn tag_errors_and_handles_for_unknown_types() {
    let o = eval_obj("[object()]");
    let (code, msg) = to_json(o, T).unwrap_err();
    assert_eq!(code, PYRT_ERR_CONVERSION);
    assert!(msg.contains("'object'") && msg.contains("$[0]"), "{msg}");
    let with_handles = to_json(o, T | PYRT_VALUE_HANDLES).unwrap();
    assert!(with_handles.starts_with(r#"[{"__pyrt__":"object","v":"#), "{with_handles}");
    // The handle in the output is usable and freeable.
    let id: u64 = with_handles.trim_start_matches(r#"[{"__pyrt__":"object","v":"#).trim_end_matches("}]").parse().unwrap();
    let inner = id as usize as *mut pyrt_object;
    assert!(call_json(inner, Some("__repr__"), "[]", 0).unwrap().contains("object object"));
    free(inner);
    free(o);
    let mut e = ptr::null_mut();
    let mut out = ptr::null_mut();
    // SAFETY: a runtime token; the JSON is a NUL-terminated temporary alive until the call returns;
    // valid out-pointers. The call fails (asserted first), so `e` is then the error it wrote.
    unsafe {
        assert_eq!(pyrt_object_from_json(rt(), c(r#"{"__pyrt__":"nope","v":1}"#).as_ptr(), T, &mut out, &mut e), PYRT_ERR_CONVERSION);
        assert!(err_text(e).contains("unknown tag kind"));
    }
    // SAFETY: deliberately the NULL handle, which pyrt rejects as closed (a token, never
    // dereferenced); the result out-pointer is a valid temporary; NULL `err_out` is allowed.
    assert_eq!(unsafe { pyrt_object_to_json(ptr::null_mut(), 0, &mut ptr::null_mut(), ptr::null_mut()) }, PYRT_ERR_INVALID_ARGUMENT);
    let o = eval_obj("1");
    // SAFETY: an object token and a valid temporary out-pointer; the unknown flags 99 are what is
    // under test (rejected before anything is written).
    assert_eq!(unsafe { pyrt_object_to_json(o, 99, &mut ptr::null_mut(), ptr::null_mut()) }, PYRT_ERR_INVALID_ARGUMENT);
    free(o);
}

#[test]
fn counter_updated_many_times() {
    let mut collections = ptr::null_mut();
    let mut counter = ptr::null_mut();
    // SAFETY: a runtime token and an object token; the names are NUL-terminated temporaries alive
    // until each call returns; NULL positional and keyword arguments mean none; valid out-pointers;
    // NULL `err_out` is allowed.
    unsafe {
        assert_eq!(pyrt_import(rt(), c("collections").as_ptr(), &mut collections, ptr::null_mut()), PYRT_OK);
        assert_eq!(
            pyrt_object_call(collections, c("Counter").as_ptr(), ptr::null(), ptr::null(), 0, &mut counter, ptr::null_mut()),
            PYRT_OK
        );
    }
    let mut apples = 0;
    for i in 0..10_000 {
        let word = ["apple", "pear", "fig", "kiwi", "plum"][i % 5 % (1 + i % 4)];
        apples += (word == "apple") as i32;
        assert!(call_json(counter, Some("update"), &format!(r#"[["{word}"]]"#), 0).is_ok());
    }
    let top = call_json(counter, Some("most_common"), "[3]", T).unwrap();
    assert!(top.starts_with(r#"[{"__pyrt__":"tuple","v":["apple","#), "{top}");
    assert_eq!(call_json(counter, Some("most_common"), "[1]", 0).unwrap(), format!(r#"[["apple",{apples}]]"#));
    free(counter);
    free(collections);
}

#[test]
fn instance_kept_alive_attributes_and_handles_as_arguments() {
    run("class Account:\n    def __init__(self, owner):\n        self.owner = owner\n        self.balance = 0\n    def deposit(self, n):\n        self.balance += n\n        return self.balance\n    def transfer(self, other, n):\n        self.balance -= n\n        other.balance += n\n");
    let (mut main, mut a, mut b, mut cls) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
    // SAFETY: a runtime token and object tokens; names and JSON arguments are NUL-terminated
    // temporaries alive until each call returns (NULL ones mean none); valid out-pointers; NULL
    // `err_out` is allowed.
    unsafe {
        assert_eq!(pyrt_import(rt(), c("__main__").as_ptr(), &mut main, ptr::null_mut()), PYRT_OK);
        assert_eq!(
            pyrt_object_call(main, c("Account").as_ptr(), c(r#"["ann"]"#).as_ptr(), ptr::null(), 0, &mut a, ptr::null_mut()),
            PYRT_OK
        );
        assert_eq!(pyrt_object_getattr(main, c("Account").as_ptr(), &mut cls, ptr::null_mut()), PYRT_OK);
        assert_eq!(pyrt_object_call(cls, ptr::null(), ptr::null(), c(r#"{"owner":"bob"}"#).as_ptr(), 0, &mut b, ptr::null_mut()), PYRT_OK);
    }
    for _ in 0..100 {
        call_json(a, Some("deposit"), "[2]", 0).unwrap();
    }
    let args = format!(r#"[{{"__pyrt__":"object","v":{}}}, 50]"#, pyrt_object_id(b));
    assert_eq!(call_json(a, Some("transfer"), &args, T).unwrap(), "null");
    let mut out = ptr::null_mut();
    // SAFETY: object tokens; names and JSON values are NUL-terminated temporaries alive until each
    // call returns; `out` is a valid out-pointer, and each `take` follows the successful call that
    // wrote a new string to it (asserted first), so each string is freed once; NULL `err_out` is
    // allowed.
    unsafe {
        assert_eq!(pyrt_object_getattr_json(b, c("balance").as_ptr(), 0, &mut out, ptr::null_mut()), PYRT_OK);
        assert_eq!(take(out), "50");
        assert_eq!(pyrt_object_setattr_json(b, c("owner").as_ptr(), c(r#""robert""#).as_ptr(), 0, ptr::null_mut()), PYRT_OK);
        assert_eq!(pyrt_object_setattr(a, c("friend").as_ptr(), b, ptr::null_mut()), PYRT_OK);
        assert_eq!(pyrt_object_getattr_json(a, c("friend").as_ptr(), PYRT_VALUE_HANDLES, &mut out, ptr::null_mut()), PYRT_OK);
        let friend = take(out);
        assert!(friend.starts_with(r#"{"__pyrt__":"object""#), "{friend}");
        assert_eq!(pyrt_object_repr(b, &mut out, ptr::null_mut()), PYRT_OK);
        assert!(take(out).contains("Account object"));
        assert_eq!(pyrt_object_str(main, &mut out, ptr::null_mut()), PYRT_OK);
        assert!(take(out).contains("__main__"));
    }
    // A freed handle is an error, not a crash; so is garbage.
    free(b);
    free(b);
    assert_eq!(call_json(b, Some("deposit"), "[1]", 0).unwrap_err().0, PYRT_ERR_CLOSED);
    assert_eq!(call_json(0x55 as *mut pyrt_object, None, "[]", 0).unwrap_err().0, PYRT_ERR_CLOSED);
    let (code, msg) = call_json(a, Some("transfer"), &args, T).unwrap_err();
    assert_eq!(code, PYRT_ERR_CONVERSION, "{msg}");
    for o in [a, cls, main] {
        free(o);
    }
}

#[test]
fn call_value_by_target_and_round_trip_example() {
    // SAFETY: a runtime token; targets and JSON arguments are NUL-terminated temporaries alive until
    // each call returns (NULL ones mean none); valid out-pointers. Each `take` follows a successful
    // call (asserted first), which wrote a new string to `out`; the failed call wrote a new error to
    // `e`, freed once.
    unsafe {
        let mut out = ptr::null_mut();
        let mut e = ptr::null_mut();
        assert_eq!(
            pyrt_call_value(rt(), c("os:path.join").as_ptr(), c(r#"["a","b"]"#).as_ptr(), ptr::null(), 0, &mut out, &mut e),
            PYRT_OK
        );
        assert_eq!(take(out), r#""a/b""#);
        assert_eq!(
            pyrt_call_value(rt(), c("math.sqrt").as_ptr(), ptr::null(), ptr::null(), 0, &mut out, &mut e),
            PYRT_ERR_INVALID_ARGUMENT
        );
        pyrt_error_free(e);
        // The issue's example: a dict with bytes, a tuple key, NaN and a 100-digit integer.
        let value = r#"{"__pyrt__":"dict","v":[["data",{"__pyrt__":"bytes","v":"AAEC"}],[{"__pyrt__":"tuple","v":[1,2]},"pair"],["nan",{"__pyrt__":"float","v":"nan"}],["big",1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890]]}"#;
        assert_eq!(
            pyrt_call_value(
                rt(),
                c("builtins:dict").as_ptr(),
                c(&format!("[{value}]")).as_ptr(),
                ptr::null(),
                T,
                &mut out,
                ptr::null_mut()
            ),
            PYRT_OK
        );
        assert_eq!(take(out), value);
    }
}

#[test]
fn objects_free_from_other_threads_without_leaking() {
    run("import sys, gc");
    let blocks = || -> i64 {
        // SAFETY: a runtime token; the expression is a NUL-terminated temporary alive until the call
        // returns; `out` is a valid out-pointer, taken once after the call succeeded (asserted).
        unsafe {
            let mut out = ptr::null_mut();
            assert_eq!(pyrt_eval_json(rt(), c("gc.collect() * 0 + sys.getallocatedblocks()").as_ptr(), &mut out, ptr::null_mut()), PYRT_OK);
            take(out).parse().unwrap()
        }
    };
    let churn = || {
        let objects: Vec<usize> = (0..2000).map(|i| eval_obj(&format!("[{i}] * 10")) as usize).collect();
        // Released from other threads, with no GIL: queued, dropped by the next GIL holder.
        std::thread::spawn(move || objects.into_iter().for_each(|o| free(o as *mut pyrt_object))).join().unwrap();
    };
    churn();
    let before = blocks();
    churn();
    churn();
    let after = blocks();
    if after - before >= 300 {
        // Python's block count moves by a few hundred with what other tests in this process do
        // meanwhile; a leak grows again in every round.
        churn();
        churn();
        let again = blocks();
        assert!(again - after < 300, "blocks {before} -> {after} -> {again}");
    }
}

#[test]
fn typed_fast_path() {
    use pyrt::capi::args::*;
    run("def describe(*a):\n    return repr(a)\ndef total(a, b):\n    return a + b\n");
    // SAFETY: `args` is the list pyrt_args_new returned, used on this thread only and freed once at
    // the end; a NULL list is also passed on purpose (no arguments for a call; rejected by a push;
    // a no-op to free). Object handles are tokens: the freed ones passed last are rejected as
    // closed, never dereferenced. The string and bytes pointers come with their lengths and live
    // until each call returns, which copies them ([0xff] is invalid UTF-8 on purpose). `d`, `i`,
    // `o` and `out` are valid out-pointers (a NULL `result_out` is rejected: tested); `out` is taken
    // once after each successful call, and `e` read once after the failed call that wrote it.
    unsafe {
        let sqrt = eval_obj("__import__('math').sqrt");
        let args = pyrt_args_new();
        let mut d = 0.0;
        assert_eq!(pyrt_args_push_double(args, 16.0), PYRT_OK);
        assert_eq!(pyrt_object_call_double(sqrt, args, &mut d, ptr::null_mut()), PYRT_OK);
        assert_eq!(d, 4.0);
        pyrt_args_clear(args);
        assert_eq!(pyrt_args_push_int(args, 81), PYRT_OK);
        assert_eq!(pyrt_object_call_double(sqrt, args, &mut d, ptr::null_mut()), PYRT_OK);
        assert_eq!(d, 9.0);

        let total = eval_obj("total");
        pyrt_args_clear(args);
        pyrt_args_push_int(args, i64::MAX - 1);
        pyrt_args_push_bool(args, true);
        let mut i = 0i64;
        assert_eq!(pyrt_object_call_int(total, args, &mut i, ptr::null_mut()), PYRT_OK);
        assert_eq!(i, i64::MAX);
        pyrt_args_clear(args);
        pyrt_args_push_int(args, i64::MAX);
        pyrt_args_push_int(args, 1);
        let mut e = ptr::null_mut();
        assert_eq!(pyrt_object_call_int(total, args, &mut i, &mut e), PYRT_ERR_CONVERSION);
        assert!(err_text(e).contains("64 bits"));

        let describe = eval_obj("describe");
        let list = eval_obj("[1, 2]");
        pyrt_args_clear(args);
        pyrt_args_push_none(args);
        pyrt_args_push_str(args, c("héllo").as_ptr(), "héllo".len());
        pyrt_args_push_bytes(args, b"\x00\x01".as_ptr(), 2);
        pyrt_args_push_object(args, list);
        pyrt_args_push_double(args, 0.5);
        let mut out = ptr::null_mut();
        assert_eq!(pyrt_object_call_args_json(describe, args, 0, &mut out, ptr::null_mut()), PYRT_OK);
        assert_eq!(take(out), r#""(None, 'héllo', b'\\x00\\x01', [1, 2], 0.5)""#);
        let mut o = ptr::null_mut();
        assert_eq!(pyrt_object_call_args(describe, ptr::null(), &mut o, ptr::null_mut()), PYRT_OK);
        assert_eq!(to_json(o, 0).unwrap(), r#""()""#);
        assert_eq!(pyrt_args_push_str(args, [0xffu8].as_ptr().cast(), 1), PYRT_ERR_INVALID_UTF8);
        assert_eq!(pyrt_args_push_int(ptr::null_mut(), 1), PYRT_ERR_INVALID_ARGUMENT);
        assert_eq!(pyrt_object_call_double(sqrt, args, ptr::null_mut(), ptr::null_mut()), PYRT_ERR_INVALID_ARGUMENT);
        // A string result is not a float; a freed handle (argument or callable) is an error.
        assert_eq!(pyrt_object_call_double(describe, ptr::null(), &mut d, ptr::null_mut()), PYRT_ERR_CONVERSION);
        free(list);
        pyrt_args_clear(args);
        pyrt_args_push_object(args, list);
        assert_eq!(pyrt_object_call_args(describe, args, &mut o, ptr::null_mut()), PYRT_ERR_CLOSED);
        free(sqrt);
        assert_eq!(pyrt_object_call_double(sqrt, ptr::null(), &mut d, ptr::null_mut()), PYRT_ERR_CLOSED);
        for h in [total, describe, o] {
            free(h);
        }
        pyrt_args_free(args);
        pyrt_args_free(ptr::null_mut());
    }
}
