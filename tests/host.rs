//! Host functions as Python callables (pyrt_register), through the C functions: results and
//! errors both ways, re-entrancy on the same and on another thread, Python threads, the main
//! thread, unregistering and destructors.

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use pyrt::capi::error::*;
use pyrt::capi::host::*;
use pyrt::capi::memory::*;
use pyrt::capi::object::*;
use pyrt::capi::runtime::*;
use pyrt::capi::status::*;

#[derive(Clone, Copy)]
struct Rt(*mut pyrt_runtime);
// SAFETY: a runtime handle is a token pyrt looks up in a table and never dereferences, and every
// runtime function may be called from any thread (include/pyrt.h), so the handle may move.
unsafe impl Send for Rt {}
// SAFETY: `&Rt` gives out nothing but a copy of that token (see Send).
unsafe impl Sync for Rt {}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn open(config: &str) -> Rt {
    let mut rt = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: the config is a NUL-terminated temporary alive until the call returns; `rt` and `err`
    // are valid out-pointers.
    assert_eq!(unsafe { pyrt_new(c(config).as_ptr(), &mut rt, &mut err) }, PYRT_OK);
    Rt(rt)
}

fn rt() -> Rt {
    static RT: OnceLock<Rt> = OnceLock::new();
    *RT.get_or_init(|| open(""))
}

/// The Python type (or "") and message of a failed call's error, which is freed.
///
/// # Safety
/// `e` is an error pyrt wrote to an `err_out` that nothing has freed (it is freed here).
unsafe fn err_parts(e: *mut pyrt_error) -> (String, String) {
    // SAFETY: `e` is a live error (the caller's promise): its type name (NULL when it is not a
    // Python exception) and message are NUL-terminated strings it owns, copied before `e` is
    // freed, once.
    unsafe {
        let t = pyrt_error_python_type(e);
        let t = if t.is_null() { String::new() } else { CStr::from_ptr(t).to_string_lossy().into_owned() };
        let m = CStr::from_ptr(pyrt_error_message(e)).to_string_lossy().into_owned();
        pyrt_error_free(e);
        (t, m)
    }
}

fn run(rt: Rt, code: &str) {
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token (looked up, never dereferenced); the code is a NUL-terminated
    // temporary alive until the call returns; `err` is a valid out-pointer.
    let st = unsafe { pyrt_run_string(rt.0, c(code).as_ptr(), &mut err) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `err`.
    assert_eq!(st, PYRT_OK, "{code}: {:?}", unsafe { err_parts(err) });
}

fn eval(rt: Rt, expr: &str) -> Result<String, (i32, String, String)> {
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; the expression is a NUL-terminated temporary alive until the call
    // returns; valid out-pointers.
    match unsafe { pyrt_eval_json(rt.0, c(expr).as_ptr(), &mut out, &mut err) } {
        // SAFETY: on success `out` is a NUL-terminated string pyrt allocated for us, freed once.
        PYRT_OK => unsafe {
            let s = CStr::from_ptr(out).to_string_lossy().into_owned();
            pyrt_string_free(out);
            Ok(s)
        },
        st => {
            // SAFETY: the call failed, so it wrote a new error to `err`, freed by err_parts only.
            let (t, m) = unsafe { err_parts(err) };
            Err((st, t, m))
        }
    }
}

fn register(
    rt: Rt,
    module: &str,
    name: &str,
    f: unsafe extern "C" fn(*mut c_void, *const c_char, *const c_char, *mut pyrt_reply) -> i32,
    user: usize,
    destroy: pyrt_destroy_fn,
) {
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; module and name are NUL-terminated temporaries alive until the call
    // returns; every function registered here reads `user` only as the runtime token it is given
    // (nested, elsewhere) or compares it with 0xd00d (count_destroy); `err` is a valid out-pointer.
    let st = unsafe { pyrt_register(rt.0, c(module).as_ptr(), c(name).as_ptr(), Some(f), user as *mut c_void, destroy, &mut err) };
    // SAFETY: evaluated only when the call failed, and then it wrote a new error to `err`.
    assert_eq!(st, PYRT_OK, "{:?}", unsafe { err_parts(err) });
}

/// The `args_json` or `kwargs_json` of a host function call, copied.
///
/// # Safety
/// `p` is one of those two strings of a host function call that has not returned yet.
unsafe fn arg_str(p: *const c_char) -> String {
    // SAFETY: pyrt passes both NUL-terminated, valid until the host function returns.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

/// Answers with `json`, checking that the reply took it.
fn reply_json(r: *mut pyrt_reply, json: &str) -> i32 {
    // SAFETY: pyrt looks `r` up among the replies open on this thread before touching it (any other
    // value is PYRT_ERR_INVALID_ARGUMENT); the JSON is a NUL-terminated temporary alive until the
    // call returns, which copies it.
    assert_eq!(unsafe { pyrt_reply_json(r, c(json).as_ptr()) }, PYRT_OK);
    PYRT_OK
}

/// `echo(*args, **kwargs)` → `[args, kwargs]` as the host saw them.
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only.
unsafe extern "C" fn echo(_: *mut c_void, args: *const c_char, kwargs: *const c_char, r: *mut pyrt_reply) -> i32 {
    // SAFETY: this call's `args_json` and `kwargs_json`, valid until we return.
    let s = unsafe { format!("[{}, {}]", arg_str(args), arg_str(kwargs)) };
    reply_json(r, &s)
}

/// `fail(message)` → raises HostError(message).
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only.
unsafe extern "C" fn fail(_: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    // SAFETY: this call's `args_json`, valid until we return.
    let a = unsafe { arg_str(args) };
    let msg: Vec<String> = serde_json::from_str(&a).unwrap();
    // SAFETY: `r` is this call's reply, open on this thread; the message is a NUL-terminated
    // temporary alive until the call returns, which copies it.
    assert_eq!(unsafe { pyrt_reply_error(r, c(&msg[0]).as_ptr()) }, PYRT_OK);
    PYRT_OK
}

/// `status()` returns a status without an answer.
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only (it touches none of its arguments).
unsafe extern "C" fn bad_status(_: *mut c_void, _: *const c_char, _: *const c_char, _: *mut pyrt_reply) -> i32 {
    7
}

/// `nested(expr)`: evaluates `expr` through pyrt on this same thread, relaying errors unchanged.
///
/// # Safety
/// A `pyrt_host_fn` registered with a runtime handle as `user`, called by pyrt only.
unsafe extern "C" fn nested(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = user.cast::<pyrt_runtime>();
    // SAFETY: this call's `args_json`, valid until we return.
    let expr: Vec<String> = serde_json::from_str(&unsafe { arg_str(args) }).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    let mut err = ptr::null_mut();
    // SAFETY: `rt` is the runtime token registered as user data; the expression is a NUL-terminated
    // temporary alive for the call; `out` and `err` are valid out-pointers. `r` is this call's
    // reply, open on this thread until we return. On PYRT_OK `out` is a string we own (the reply
    // copies it), else `err` is an error we own (the reply does not consume it): each freed once.
    unsafe {
        if pyrt_eval_json(rt, c(&expr[0]).as_ptr(), &mut out, &mut err) == PYRT_OK {
            pyrt_reply_json(r, out);
            pyrt_string_free(out);
        } else {
            pyrt_reply_exception(r, err);
            pyrt_error_free(err);
        }
    }
    PYRT_OK
}

/// `elsewhere(expr)`: evaluates `expr` through pyrt on another thread, waiting for it.
///
/// # Safety
/// A `pyrt_host_fn` registered with a runtime handle as `user`, called by pyrt only.
unsafe extern "C" fn elsewhere(user: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    let rt = Rt(user.cast());
    // SAFETY: this call's `args_json`, valid until we return.
    let expr: Vec<String> = serde_json::from_str(&unsafe { arg_str(args) }).unwrap();
    let got = std::thread::spawn(move || eval(rt, &expr[0])).join().unwrap();
    match got {
        Ok(v) => reply_json(r, &v),
        Err((_, t, m)) => {
            // SAFETY: `r` is this call's reply, open on this thread (the other thread was joined);
            // the message is a NUL-terminated temporary alive until the call returns, which copies it.
            unsafe { pyrt_reply_error(r, c(&format!("{t}: {m}")).as_ptr()) };
            PYRT_OK
        }
    }
}

/// `describe(obj)`: repr() of an argument that arrived as an object handle.
///
/// # Safety
/// A `pyrt_host_fn`, called by pyrt only.
unsafe extern "C" fn describe(_: *mut c_void, args: *const c_char, _: *const c_char, r: *mut pyrt_reply) -> i32 {
    // SAFETY: this call's `args_json`, valid until we return.
    let v: serde_json::Value = serde_json::from_str(&unsafe { arg_str(args) }).unwrap();
    let id = v[0]["v"].as_u64().expect("an object handle");
    assert_eq!(v[0]["__pyrt__"], "object");
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: an object handle is the token its id names (looked up, never dereferenced; this one
    // is live until we return); `out` is a valid out-pointer, and on PYRT_OK a NUL-terminated string
    // pyrt allocated for us, copied and then freed once.
    let s = unsafe {
        assert_eq!(pyrt_object_repr(id as usize as *mut pyrt_object, &mut out, ptr::null_mut()), PYRT_OK);
        let s = serde_json::to_string(CStr::from_ptr(out).to_str().unwrap()).unwrap();
        pyrt_string_free(out);
        s
    };
    reply_json(r, &s)
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);
/// The destructor of the user data 0xd00d: counts calls.
///
/// # Safety
/// A `pyrt_destroy_fn`, called by pyrt only (it never dereferences `user`).
unsafe extern "C" fn count_destroy(user: *mut c_void) {
    assert_eq!(user as usize, 0xd00d);
    DESTROYED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn values_and_keywords_cross_in_the_tagged_encoding() {
    let rt = rt();
    register(rt, "hostmod", "echo", echo, 0, None);
    run(rt, "import hostmod");
    assert_eq!(eval(rt, "hostmod.echo(1, 'two', [3.5, None], k=True)").unwrap(), r#"[[1,"two",[3.5,null]],{"k":true}]"#);
    assert_eq!(eval(rt, "hostmod.echo()").unwrap(), "[[],{}]");
    // Tagged kinds both ways: bytes, tuples, non-str keys, NaN, big ints.
    assert_eq!(
        eval(rt, "[repr(x) for x in hostmod.echo(b'\\x00x', (1, 2), {1: 'a'}, float('nan'), 10**30)[0]]").unwrap(),
        r#"["b'\\x00x'","(1, 2)","{1: 'a'}","nan","1000000000000000000000000000000"]"#
    );
    assert_eq!(eval(rt, "hostmod.echo.__name__ + ' ' + hostmod.echo.__module__").unwrap(), "\"echo hostmod\"");
    // Values with no encoding arrive as handles, usable during the call.
    register(rt, "hostmod", "describe", describe, 0, None);
    assert_eq!(eval(rt, "hostmod.describe(object()).startswith('<object object at')").unwrap(), "true");
    // An existing module gets the function too.
    register(rt, "json", "host_echo", echo, 0, None);
    assert_eq!(eval(rt, "__import__('json').host_echo(1)").unwrap(), "[[1],{}]");
}

#[test]
fn host_errors_are_python_exceptions() {
    let rt = rt();
    register(rt, "hosterr", "fail", fail, 0, None);
    register(rt, "hosterr", "status", bad_status, 0, None);
    run(rt, "import hosterr, _pyrt");
    assert_eq!(eval(rt, "(lambda: [str(e) for e in [None] if False])()").unwrap(), "[]");
    run(rt, "def catch(f, *a):\n    try:\n        f(*a)\n    except _pyrt.HostError as e:\n        return 'caught: ' + str(e)\n");
    assert_eq!(eval(rt, "catch(hosterr.fail, 'no can do')").unwrap(), "\"caught: no can do\"");
    assert_eq!(eval(rt, "issubclass(_pyrt.HostError, Exception)").unwrap(), "true");
    let (st, t, m) = eval(rt, "hosterr.fail('uncaught')").unwrap_err();
    assert_eq!((st, t.as_str(), m.as_str()), (PYRT_ERR_PYTHON, "_pyrt.HostError", "uncaught"));
    let (_, t, m) = eval(rt, "hosterr.status()").unwrap_err();
    assert_eq!(t, "_pyrt.HostError");
    assert!(m.contains("status 7"), "{m}");
}

#[test]
fn reentrancy_on_the_same_thread_and_through_another() {
    let rt = rt();
    register(rt, "hostre", "nested", nested, rt.0 as usize, None);
    register(rt, "hostre", "elsewhere", elsewhere, rt.0 as usize, None);
    run(rt, "import hostre");
    assert_eq!(eval(rt, "hostre.nested('len([1, 2, 3])')").unwrap(), "3");
    assert_eq!(eval(rt, "hostre.elsewhere('sum([1, 2, 3])')").unwrap(), "6");
    // Python -> host -> Python -> host -> Python.
    assert_eq!(eval(rt, "hostre.nested(\"hostre.elsewhere('2 ** 10')\")").unwrap(), "1024");
    // A Python exception raised in the nested call comes back out unchanged: same object.
    run(rt, "class Boom(Exception):\n    pass\ndef boom():\n    global raised\n    raised = Boom('deep')\n    raise raised\n");
    run(rt, "try:\n    hostre.nested('boom()')\nexcept Boom as e:\n    caught = e\n");
    assert_eq!(eval(rt, "caught is raised and str(caught) == 'deep'").unwrap(), "true");
    let (_, t, m) = eval(rt, "hostre.nested('boom()')").unwrap_err();
    assert_eq!((t.as_str(), m.as_str()), ("__main__.Boom", "deep"));
}

#[test]
fn python_threads_and_the_main_thread_call_host_functions() {
    let rt = rt();
    register(rt, "hostthr", "echo", echo, 0, None);
    register(rt, "hostthr", "nested", nested, rt.0 as usize, None);
    run(
        rt,
        "import hostthr, threading\n\
         results = []\n\
         def work(i):\n\
         \x20   for j in range(50):\n\
         \x20       results.append(hostthr.echo(i, j)[0] == [i, j] and hostthr.nested(f'{i} * {j}') == i * j)\n\
         threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n\
         [t.start() for t in threads]\n\
         [t.join() for t in threads]\n",
    );
    assert_eq!(eval(rt, "len(results), all(results)").unwrap(), "[400,true]");
    // A main-thread handle: its callback runs on the main thread and calls back in through the
    // same handle without deadlocking.
    let main = open(r#"{"main_thread": true}"#);
    register(main, "hostmain", "nested", nested, main.0 as usize, None);
    assert_eq!(
        eval(
            main,
            "__import__('hostmain').nested('__import__(\"threading\").current_thread() is __import__(\"threading\").main_thread()')"
        )
        .unwrap(),
        "true"
    );
    // SAFETY: a runtime token this test opened and frees once (`rt()` keeps the interpreter alive).
    unsafe { pyrt_free(main.0) };
}

#[test]
fn unregister_and_destructors() {
    let rt = rt();
    let before = DESTROYED.load(Ordering::SeqCst);
    register(rt, "hostgone", "f", echo, 0xd00d, Some(count_destroy));
    run(rt, "import hostgone\nkept = hostgone.f");
    assert_eq!(eval(rt, "kept(1)").unwrap(), "[[1],{}]");
    // Replacing a registration drops the old one.
    register(rt, "hostgone", "f", echo, 0xd00d, Some(count_destroy));
    assert_eq!(DESTROYED.load(Ordering::SeqCst), before + 1);
    let mut err = ptr::null_mut();
    // SAFETY: a runtime token; NUL-terminated temporaries alive until the call returns; `err` is a
    // valid out-pointer.
    assert_eq!(unsafe { pyrt_unregister(rt.0, c("hostgone").as_ptr(), c("f").as_ptr(), &mut err) }, PYRT_OK);
    assert_eq!(DESTROYED.load(Ordering::SeqCst), before + 2);
    assert_eq!(eval(rt, "hasattr(hostgone, 'f')").unwrap(), "false");
    let (st, t, _) = eval(rt, "kept(1)").unwrap_err();
    assert_eq!((st, t.as_str()), (PYRT_ERR_PYTHON, "RuntimeError"));
    // SAFETY: as above (a NULL `err_out` is allowed).
    assert_eq!(unsafe { pyrt_unregister(rt.0, c("hostgone").as_ptr(), c("f").as_ptr(), ptr::null_mut()) }, PYRT_ERR_INVALID_ARGUMENT);
    // Freeing a runtime ends its registrations.
    let other = open("");
    register(other, "hostgone", "g", echo, 0xd00d, Some(count_destroy));
    // SAFETY: a runtime token this test opened and frees once (`rt` keeps the interpreter alive).
    unsafe { pyrt_free(other.0) };
    assert_eq!(DESTROYED.load(Ordering::SeqCst), before + 3);
    // Bad names and a NULL function are errors; destroy is not called then.
    for (m, n) in [("", "f"), ("bad-name", "f"), ("ok", "1x"), ("ok", "a.b")] {
        // SAFETY: a runtime token; NUL-terminated temporaries alive until the call returns; the user
        // data is never dereferenced (by count_destroy, had it been called); NULL `err_out` allowed.
        let st = unsafe {
            pyrt_register(rt.0, c(m).as_ptr(), c(n).as_ptr(), Some(echo), 0xd00d as *mut c_void, Some(count_destroy), ptr::null_mut())
        };
        assert_eq!(st, PYRT_ERR_INVALID_ARGUMENT, "{m}.{n}");
    }
    // SAFETY: as above; the NULL function is what is under test (pyrt rejects it).
    let st = unsafe { pyrt_register(rt.0, c("ok").as_ptr(), c("f").as_ptr(), None, ptr::null_mut(), None, ptr::null_mut()) };
    assert_eq!(st, PYRT_ERR_INVALID_ARGUMENT);
    assert_eq!(DESTROYED.load(Ordering::SeqCst), before + 3);
    // SAFETY: deliberately a NULL reply, which pyrt rejects without touching; the JSON is a
    // NUL-terminated temporary alive until the call returns.
    assert_eq!(unsafe { pyrt_reply_json(ptr::null_mut(), c("1").as_ptr()) }, PYRT_ERR_INVALID_ARGUMENT);
}
