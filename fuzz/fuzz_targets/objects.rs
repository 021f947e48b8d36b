//! Sequences of object-handle operations: create (from JSON, calls, imports, typed calls),
//! encode, getattr/setattr, call methods, repr/str, pass handles inside tagged JSON and in
//! typed argument lists, free (also twice, and then use), bogus handle numbers, and handles
//! whose runtime handle was freed.
//!
//! Input: operations separated by 0x1D; byte 0 picks the operation, byte 1 flags, the rest is
//! fields separated by 0x1E; a field's first byte picks a handle slot. Up to 16 handles live in
//! slots; freed ones stay in their slot (use after free is part of the input space); whatever is
//! still live at the end is freed, so nothing accumulates between inputs.
//!
//! Checks: no crash or sanitizer report; statuses and error objects well formed, never
//! PYRT_ERR_INTERNAL; outputs only on success; returned JSON valid; a freed handle, a bogus
//! number and a handle of a freed runtime are PYRT_ERR_CLOSED for every operation.
#![no_main]

use std::ffi::{c_char, CString};
use std::ptr::{null, null_mut};

use libfuzzer_sys::fuzz_target;
use pyrt_fuzz::*;

struct Slot {
    obj: *mut pyrt_object,
    /// Freed (by us) or orphaned (its runtime handle was freed): must be PYRT_ERR_CLOSED.
    dead: bool,
}

struct State {
    slots: Vec<Slot>,
}

impl State {
    fn pick(&self, field: &[u8]) -> Option<&Slot> {
        if self.slots.is_empty() {
            return None;
        }
        let i = field.first().copied().unwrap_or(0) as usize % self.slots.len();
        self.slots.get(i)
    }
    fn push(&mut self, obj: *mut pyrt_object) {
        if self.slots.len() >= 16 {
            let old = self.slots.remove(0);
            unsafe { pyrt_object_free(old.obj) };
        }
        self.slots.push(Slot { obj, dead: false });
    }
}

/// An operation on a freed handle fails with PYRT_ERR_CLOSED — or, when another argument is
/// already invalid (checked first, without looking at the handle), with that argument's error.
fn closed_if_dead(what: &str, slot_dead: bool, f: &Option<Failure>) {
    if slot_dead {
        let rc = f.as_ref().map(|f| f.rc);
        assert!(matches!(rc, Some(ERR_CLOSED | ERR_INVALID_UTF8 | ERR_INVALID_ARGUMENT)), "{what} on a freed handle: {f:?}");
    }
}

unsafe fn json_result(what: &str, rc: i32, err: *mut pyrt_error, out: *mut c_char, dead: bool) {
    let f = finish(what, rc, err);
    closed_if_dead(what, dead, &f);
    if f.is_none() {
        let s = take_string(what, out);
        assert_json(what, &s);
        free_handles_in(&s);
    } else {
        assert_eq!(out as usize, SENTINEL, "{what}: output written on failure");
    }
}

unsafe fn object_result(st: &mut State, what: &str, rc: i32, err: *mut pyrt_error, obj: *mut pyrt_object, dead: bool) {
    let f = finish(what, rc, err);
    closed_if_dead(what, dead, &f);
    if f.is_none() {
        assert!(!obj.is_null() && obj as usize != SENTINEL, "{what}: no handle written");
        st.push(obj);
    } else {
        assert_eq!(obj as usize, SENTINEL, "{what}: handle written on failure");
    }
}

fn tagged_ref(id: u64) -> String {
    format!("{{\"__pyrt__\":\"object\",\"v\":{id}}}")
}

/// Typed arguments from bytes: a kind byte, then its payload.
unsafe fn typed_args(st: &State, spec: &[u8]) -> *mut pyrt_args {
    let a = pyrt_args_new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| -> &[u8] {
        let s = &spec[(*i).min(spec.len())..(*i + n).min(spec.len())];
        *i += n;
        s
    };
    let mut n = 0;
    while i < spec.len() && n < 10 {
        let kind = spec[i];
        i += 1;
        n += 1;
        let rc = match kind % 7 {
            0 => {
                let mut b = [0u8; 8];
                let p = take(&mut i, 8);
                b[..p.len()].copy_from_slice(p);
                pyrt_args_push_int(a, i64::from_le_bytes(b))
            }
            1 => {
                let mut b = [0u8; 8];
                let p = take(&mut i, 8);
                b[..p.len()].copy_from_slice(p);
                pyrt_args_push_double(a, f64::from_le_bytes(b))
            }
            2 => pyrt_args_push_bool(a, take(&mut i, 1).first().is_some_and(|b| b & 1 == 1)),
            3 => pyrt_args_push_none(a),
            4 => {
                let len = take(&mut i, 1).first().copied().unwrap_or(0) as usize;
                let s = take(&mut i, len);
                let rc = pyrt_args_push_str(a, s.as_ptr().cast(), s.len());
                assert!(rc == OK || (rc == ERR_INVALID_UTF8 && std::str::from_utf8(s).is_err()), "push_str: {rc}");
                rc
            }
            5 => {
                let len = take(&mut i, 1).first().copied().unwrap_or(0) as usize;
                let s = take(&mut i, len);
                pyrt_args_push_bytes(a, if s.is_empty() { null() } else { s.as_ptr() }, s.len())
            }
            _ => {
                let f = take(&mut i, 1);
                let obj = st.pick(f).map_or(null_mut(), |s| s.obj);
                pyrt_args_push_object(a, obj)
            }
        };
        assert!(rc == OK || rc == ERR_INVALID_UTF8, "pyrt_args_push_*: {rc}");
    }
    a
}

fuzz_target!(|data: &[u8]| {
    let rt = rt();
    let mut st = State { slots: Vec::new() };
    let mut extra_runtimes: Vec<*mut pyrt_runtime> = Vec::new();
    for op in ops(data) {
        let flags = u32::from(op.flags & 3);
        let mut out = SENTINEL as *mut c_char;
        let mut obj = SENTINEL as *mut pyrt_object;
        let mut err = null_mut();
        unsafe {
            match op.code % 14 {
                0 => {
                    let json = cstring(op.field(0));
                    let rc = pyrt_object_from_json(rt, json.as_ptr(), flags, &mut obj, &mut err);
                    object_result(&mut st, "from_json", rc, err, obj, false);
                }
                1 => {
                    let target =
                        CString::new([b"pyrt_fuzz:".as_slice(), &cstring(&attribute_for(op.field(0))).into_bytes()].concat()).unwrap();
                    let args = op.optional(1).map(cstring);
                    let rc = pyrt_call_object(rt, target.as_ptr(), opt_ptr(&args), null(), flags, &mut obj, &mut err);
                    object_result(&mut st, "call_object", rc, err, obj, false);
                }
                2 => {
                    let module = cstring(&module_for(op.field(0)));
                    let rc = pyrt_import(rt, module.as_ptr(), &mut obj, &mut err);
                    object_result(&mut st, "import", rc, err, obj, false);
                }
                3 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let rc = pyrt_object_to_json(o, flags, &mut out, &mut err);
                    json_result("to_json", rc, err, out, dead);
                }
                4 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let name = cstring(&attribute_for(op.field(1)));
                    if op.flags & 0x80 != 0 {
                        let rc = pyrt_object_getattr(o, name.as_ptr(), &mut obj, &mut err);
                        object_result(&mut st, "getattr", rc, err, obj, dead);
                    } else {
                        let rc = pyrt_object_getattr_json(o, name.as_ptr(), flags, &mut out, &mut err);
                        json_result("getattr_json", rc, err, out, dead);
                    }
                }
                5 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let name = cstring(&attribute_for(op.field(1)));
                    let rc = if op.flags & 0x80 != 0 {
                        let v = st.pick(op.field(2)).map_or(null_mut(), |s| s.obj);
                        pyrt_object_setattr(o, name.as_ptr(), v, &mut err)
                    } else {
                        let v = cstring(op.field(2));
                        pyrt_object_setattr_json(o, name.as_ptr(), v.as_ptr(), flags, &mut err)
                    };
                    let f = finish("setattr", rc, err);
                    closed_if_dead("setattr", dead, &f);
                }
                6 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let method = op.optional(1).map(|m| cstring(&attribute_for(m)));
                    let args = op.optional(2).map(cstring);
                    let kwargs = op.optional(3).map(cstring);
                    if op.flags & 0x80 != 0 {
                        let rc = pyrt_object_call(o, opt_ptr(&method), opt_ptr(&args), opt_ptr(&kwargs), flags, &mut obj, &mut err);
                        object_result(&mut st, "object_call", rc, err, obj, dead);
                    } else {
                        let rc = pyrt_object_call_json(o, opt_ptr(&method), opt_ptr(&args), opt_ptr(&kwargs), flags, &mut out, &mut err);
                        json_result("object_call_json", rc, err, out, dead);
                    }
                }
                7 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let rc =
                        if op.flags & 1 == 0 { pyrt_object_repr(o, &mut out, &mut err) } else { pyrt_object_str(o, &mut out, &mut err) };
                    let f = finish("repr/str", rc, err);
                    closed_if_dead("repr/str", dead, &f);
                    if f.is_none() {
                        take_string("repr/str", out);
                    }
                }
                8 => {
                    if st.slots.is_empty() {
                        continue;
                    }
                    let i = op.field(0).first().copied().unwrap_or(0) as usize % st.slots.len();
                    pyrt_object_free(st.slots[i].obj);
                    st.slots[i].dead = true;
                }
                9 => {
                    // A bogus handle number: CLOSED for every operation (unless it happens to be
                    // a live handle), free is a no-op.
                    let mut b = [0u8; 8];
                    let f = op.field(0);
                    b[..f.len().min(8)].copy_from_slice(&f[..f.len().min(8)]);
                    let id = u64::from_le_bytes(b);
                    if id == 0 || st.slots.iter().any(|s| pyrt_object_id(s.obj) == id) {
                        continue;
                    }
                    let o = id as usize as *mut pyrt_object;
                    let rc = pyrt_object_to_json(o, 0, &mut out, &mut err);
                    json_result("to_json(bogus)", rc, err, out, true);
                    let rc = pyrt_object_call_json(o, null(), null(), null(), 0, &mut out, &mut err);
                    json_result("call(bogus)", rc, err, out, true);
                    let args = CString::new(format!("[{}]", tagged_ref(id))).unwrap();
                    let rc = pyrt_call_value(rt, c"pyrt_fuzz:echo".as_ptr(), args.as_ptr(), null(), PYRT_VALUE_TAGGED, &mut out, &mut err);
                    let f = finish("echo(bogus ref)", rc, err);
                    assert!(
                        f.as_ref().is_some_and(|f| f.rc == ERR_CONVERSION || f.rc == ERR_CLOSED),
                        "a bogus handle inside tagged JSON: {f:?}"
                    );
                    pyrt_object_free(o);
                }
                10 => {
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let a = typed_args(&st, op.field(1));
                    match op.flags % 4 {
                        0 => {
                            let mut d = 0.0f64;
                            let rc = pyrt_object_call_double(o, a, &mut d, &mut err);
                            let f = finish("call_double", rc, err);
                            closed_if_dead("call_double", dead, &f);
                        }
                        1 => {
                            let mut n = 0i64;
                            let rc = pyrt_object_call_int(o, a, &mut n, &mut err);
                            let f = finish("call_int", rc, err);
                            closed_if_dead("call_int", dead, &f);
                        }
                        2 => {
                            let rc = pyrt_object_call_args(o, a, &mut obj, &mut err);
                            object_result(&mut st, "call_args", rc, err, obj, dead);
                        }
                        _ => {
                            let rc = pyrt_object_call_args_json(o, a, u32::from(op.flags >> 2 & 3), &mut out, &mut err);
                            json_result("call_args_json", rc, err, out, dead);
                        }
                    }
                    pyrt_args_free(a);
                }
                11 => {
                    // A handle inside tagged JSON: passed as the object itself.
                    let Some(s) = st.pick(op.field(0)) else { continue };
                    let (o, dead) = (s.obj, s.dead);
                    let args = CString::new(format!("[{}]", tagged_ref(pyrt_object_id(o)))).unwrap();
                    let rc = pyrt_call_value(
                        rt,
                        c"pyrt_fuzz:echo".as_ptr(),
                        args.as_ptr(),
                        null(),
                        PYRT_VALUE_TAGGED | PYRT_VALUE_HANDLES,
                        &mut out,
                        &mut err,
                    );
                    let f = finish("echo(ref)", rc, err);
                    if dead {
                        assert!(
                            f.as_ref().is_some_and(|f| f.rc == ERR_CONVERSION || f.rc == ERR_CLOSED),
                            "a freed handle inside tagged JSON: {f:?}"
                        );
                    }
                    if f.is_none() {
                        let s = take_string("echo(ref)", out);
                        assert_json("echo(ref)", &s);
                        free_handles_in(&s);
                    }
                }
                12 => {
                    // Objects obtained through a second runtime handle die with it.
                    let mut h = null_mut();
                    let rc = pyrt_new(null(), &mut h, &mut err);
                    assert!(finish("new", rc, err).is_none(), "a second handle must open");
                    extra_runtimes.push(h);
                    let rc = pyrt_call_object(h, c"pyrt_fuzz:Box".as_ptr(), c"[1]".as_ptr(), null(), 0, &mut obj, &mut err);
                    object_result(&mut st, "call_object(second runtime)", rc, err, obj, false);
                }
                _ => {
                    if let Some(h) = extra_runtimes.pop() {
                        pyrt_free(h);
                        pyrt_free(h); // twice: a no-op
                        for s in &mut st.slots {
                            let mut o = SENTINEL as *mut c_char;
                            let rc = pyrt_object_to_json(s.obj, 0, &mut o, null_mut());
                            if rc == ERR_CLOSED {
                                s.dead = true;
                            } else if rc == OK {
                                take_string("to_json", o);
                            }
                        }
                    }
                }
            }
        }
    }
    unsafe {
        for s in &st.slots {
            pyrt_object_free(s.obj);
        }
        for h in extra_runtimes {
            pyrt_free(h);
        }
    }
    reset_main();
});
