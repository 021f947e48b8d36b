//! The C functions with arbitrary bytes as code, module, function, target, JSON arguments,
//! config and path.
//!
//! Input: operations separated by 0x1D; byte 0 of each picks the function, byte 1 the value
//! flags, the rest is fields separated by 0x1E ("-" = a NULL pointer). What may really execute
//! is bounded by the harness (fuzz/src/lib.rs): unsafe code is compiled but stopped before it
//! runs, and only `pyrt_fuzz` and `__main__` functions are callable.
//!
//! Checks: no crash or sanitizer report; statuses and error objects well formed, never
//! PYRT_ERR_INTERNAL; outputs written only on success; every returned JSON text valid; guarded
//! code never runs (its run ends in SystemExit or a compile error, its eval in `0`); handles a
//! call returns are usable and freed.
#![no_main]

use std::ffi::c_char;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use pyrt_fuzz::*;

unsafe fn json_out(what: &str, rc: i32, err: *mut pyrt_error, out: *mut c_char) -> Option<String> {
    match finish(what, rc, err) {
        None => {
            let s = take_string(what, out);
            Some(s)
        }
        Some(_) => {
            assert_eq!(out as usize, SENTINEL, "{what}: output written on failure");
            None
        }
    }
}

unsafe fn object_out(what: &str, rc: i32, err: *mut pyrt_error, obj: *mut pyrt_object) {
    match finish(what, rc, err) {
        None => {
            assert!(!obj.is_null() && obj as usize != SENTINEL, "{what}: no handle written");
            // The handle works: it can be shown and encoded (or fails cleanly), then freed.
            let mut out = SENTINEL as *mut c_char;
            let mut err = null_mut();
            let rc = pyrt_object_to_json(obj, PYRT_VALUE_TAGGED, &mut out, &mut err);
            if let Some(s) = json_out("object_to_json", rc, err, out) {
                assert_json("object_to_json", &s);
            }
            pyrt_object_free(obj);
            pyrt_object_free(obj); // a second free is a no-op
        }
        Some(_) => assert_eq!(obj as usize, SENTINEL, "{what}: handle written on failure"),
    }
}

fuzz_target!(|data: &[u8]| {
    let rt = rt();
    let mut ran_code = false;
    for op in ops(data) {
        let flags = u32::from(op.flags & 3) | if op.flags & 0x80 != 0 { u32::from(op.flags) << 8 } else { 0 };
        let mut out = SENTINEL as *mut c_char;
        let mut obj = SENTINEL as *mut pyrt_object;
        let mut err = null_mut();
        unsafe {
            match op.code % 11 {
                0 => {
                    let (code, guarded) = statements(op.field(0));
                    let code = cstring(&code);
                    let rc = pyrt_run_string(rt, code.as_ptr(), &mut err);
                    let f = finish("run_string", rc, err);
                    if guarded {
                        let f = f.expect("guarded code cannot succeed");
                        assert!(
                            f.rc == ERR_SYSTEM_EXIT
                                || f.python_type.as_deref().is_some_and(|t| t.contains("Error"))
                                || f.rc == ERR_INVALID_UTF8,
                            "guarded code ended unexpectedly: {f:?}"
                        );
                    }
                    ran_code |= !guarded;
                }
                1 | 2 => match expression(op.field(0)) {
                    Expr::Eval(expr) => {
                        let expr = cstring(&expr);
                        if op.code % 11 == 1 {
                            let rc = pyrt_eval_json(rt, expr.as_ptr(), &mut out, &mut err);
                            if let Some(s) = json_out("eval_json", rc, err, out) {
                                assert_json("eval_json", &s);
                            }
                        } else {
                            let rc = pyrt_eval_object(rt, expr.as_ptr(), &mut obj, &mut err);
                            object_out("eval_object", rc, err, obj);
                        }
                        ran_code = true;
                    }
                    Expr::CompileOnly(args) => {
                        let rc = pyrt_call_json(
                            rt,
                            c"pyrt_fuzz".as_ptr(),
                            c"compile_eval".as_ptr(),
                            args.as_ptr(),
                            std::ptr::null(),
                            &mut out,
                            &mut err,
                        );
                        match json_out("compile_eval", rc, err, out) {
                            Some(s) => assert_eq!(s, "true"),
                            None => {}
                        }
                    }
                },
                3 => {
                    let module = cstring(&module_for(op.field(0)));
                    let function = cstring(&name_for(op.field(1)));
                    let args = op.optional(2).map(cstring);
                    let kwargs = op.optional(3).map(cstring);
                    let rc = pyrt_call_json(rt, module.as_ptr(), function.as_ptr(), opt_ptr(&args), opt_ptr(&kwargs), &mut out, &mut err);
                    if let Some(s) = json_out("call_json", rc, err, out) {
                        assert_json("call_json", &s);
                    }
                }
                4 => {
                    let target = cstring(&target_for(op.field(0)));
                    let args = op.optional(1).map(cstring);
                    let kwargs = op.optional(2).map(cstring);
                    let rc = pyrt_call_value(rt, target.as_ptr(), opt_ptr(&args), opt_ptr(&kwargs), flags, &mut out, &mut err);
                    if let Some(s) = json_out("call_value", rc, err, out) {
                        assert_json("call_value", &s);
                        free_handles_in(&s);
                    } else if flags & !3 != 0 {
                        // unknown flag bits are refused before anything runs
                    }
                }
                5 => {
                    let target = cstring(&target_for(op.field(0)));
                    let args = op.optional(1).map(cstring);
                    let kwargs = op.optional(2).map(cstring);
                    let rc = pyrt_call_object(rt, target.as_ptr(), opt_ptr(&args), opt_ptr(&kwargs), flags, &mut obj, &mut err);
                    object_out("call_object", rc, err, obj);
                }
                6 => {
                    let module = cstring(&module_for(op.field(0)));
                    let rc = pyrt_import(rt, module.as_ptr(), &mut obj, &mut err);
                    object_out("import", rc, err, obj);
                }
                7 => {
                    // A config: parsed, checked against the running interpreter (no discovery
                    // runs while one is running); a new handle joins it and is freed again.
                    let config = op.optional(0).map(cstring);
                    let mut h = SENTINEL as *mut pyrt_runtime;
                    let rc = pyrt_new(opt_ptr(&config), &mut h, &mut err);
                    if finish("new", rc, err).is_none() {
                        assert!(!h.is_null() && h as usize != SENTINEL && h != rt);
                        let mut o = null_mut();
                        let rc = pyrt_eval_json(h, c"1+1".as_ptr(), &mut o, null_mut());
                        assert_eq!(rc, OK);
                        assert_eq!(take_string("eval on a new handle", o), "2");
                        pyrt_free(h);
                        let rc = pyrt_eval_json(h, c"1+1".as_ptr(), &mut out, null_mut());
                        assert_eq!(rc, ERR_CLOSED, "a freed handle must be PYRT_ERR_CLOSED");
                    } else {
                        assert_eq!(h as usize, SENTINEL, "new: handle written on failure");
                    }
                }
                8 => {
                    let path = cstring(&missing_path(op.field(0)));
                    let rc = pyrt_run_file(rt, path.as_ptr(), &mut err);
                    let f = finish("run_file", rc, err).expect("a missing file cannot run");
                    assert!(matches!(f.rc, ERR_FILE_NOT_FOUND | ERR_INVALID_UTF8 | 16 | 17 | 18), "run_file of a missing path: {f:?}");
                }
                9 => {
                    // NULL and bogus handles, NULL outputs: errors, never crashes.
                    let bogus = u64::from_le_bytes({
                        let mut b = [0u8; 8];
                        let f = op.field(0);
                        b[..f.len().min(8)].copy_from_slice(&f[..f.len().min(8)]);
                        b
                    }) as usize;
                    let bogus_rt = bogus as *mut pyrt_runtime;
                    let rc = pyrt_eval_json(bogus_rt, c"1".as_ptr(), &mut out, &mut err);
                    if bogus_rt != rt {
                        let f = finish("eval_json on a bogus handle", rc, err).expect("bogus handle");
                        assert!(f.rc == ERR_CLOSED || f.rc == ERR_INVALID_ARGUMENT);
                        assert_eq!(out as usize, SENTINEL);
                    } else {
                        let _ = json_out("eval_json", rc, err, out);
                    }
                    let rc = pyrt_object_to_json(bogus as *mut pyrt_object, 0, &mut out, null_mut());
                    // A NULL handle is an invalid argument, a bogus one closed (or, by chance, live).
                    assert!(rc == ERR_CLOSED || rc == OK || (bogus == 0 && rc == ERR_INVALID_ARGUMENT));
                    if rc == OK {
                        let _ = take_string("to_json", out);
                    }
                    pyrt_free(null_mut());
                    pyrt_object_free(null_mut());
                    pyrt_error_free(null_mut());
                    pyrt_string_free(null_mut());
                    let rc = pyrt_call_json(
                        rt,
                        c"pyrt_fuzz".as_ptr(),
                        c"echo".as_ptr(),
                        c"[1]".as_ptr(),
                        std::ptr::null(),
                        null_mut(),
                        &mut err,
                    );
                    assert_eq!(finish("NULL result_out", rc, err).map(|f| f.rc), Some(ERR_INVALID_ARGUMENT));
                }
                _ => {
                    let mut o = SENTINEL as *mut c_char;
                    let rc = pyrt_info_json(rt, &mut o, &mut err);
                    assert!(finish("info_json", rc, err).is_none());
                    let s = take_string("info_json", o);
                    assert_json("info_json", &s);
                    let name = pyrt_status_name(i32::from(op.flags as i8));
                    assert!(!name.is_null());
                }
            }
        }
    }
    if ran_code {
        reset_main();
    }
});
