//! JSON text -> Python -> JSON text, plain and tagged (PYRT_VALUE_TAGGED).
//!
//! Input: byte 0 bit 0 selects the tagged encoding; the rest is the JSON text (up to its first
//! NUL, as a C caller would pass it). Checks, besides "no crash, no sanitizer report":
//! * every status and error object is well formed (`finish`), never PYRT_ERR_INTERNAL;
//! * a value pyrt accepted encodes back to valid JSON, or fails with PYRT_ERR_CONVERSION only
//!   (lone surrogates; non-finite floats in plain mode);
//! * decoding that output gives a value equal to the first one (`pyrt_fuzz.same`: types kept,
//!   NaN == NaN, 0.0 != -0.0), and encoding it again gives the same text;
//! * the same value passed as an argument (`pyrt_call_value` of an echo function) comes back
//!   with the same encoding;
//! * plain mode agrees with serde_json: text serde_json accepts, pyrt accepts too (unless it
//!   nests deeper than pyrt's documented 1000 levels), and means the same value.
#![no_main]

use std::ffi::CString;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
use pyrt_fuzz::*;

fn depth(s: &str) -> usize {
    let (mut d, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for b in s.bytes() {
        if in_str {
            if esc {
                esc = false
            } else if b == b'\\' {
                esc = true
            } else if b == b'"' {
                in_str = false
            }
        } else if b == b'"' {
            in_str = true
        } else if b == b'[' || b == b'{' {
            d += 1;
            max = max.max(d)
        } else if b == b']' || b == b'}' {
            d = d.saturating_sub(1)
        }
    }
    max
}

unsafe fn from_json(text: &CString, flags: u32) -> Result<*mut pyrt_object, Failure> {
    let mut obj = SENTINEL as *mut pyrt_object;
    let mut err = null_mut();
    let rc = pyrt_object_from_json(rt(), text.as_ptr(), flags, &mut obj, &mut err);
    match finish("object_from_json", rc, err) {
        None => Ok(obj),
        Some(f) => {
            assert_eq!(obj as usize, SENTINEL, "object_from_json wrote its output on failure");
            Err(f)
        }
    }
}

unsafe fn to_json(obj: *mut pyrt_object, flags: u32) -> Result<String, Failure> {
    let mut out = SENTINEL as *mut std::ffi::c_char;
    let mut err = null_mut();
    let rc = pyrt_object_to_json(obj, flags, &mut out, &mut err);
    match finish("object_to_json", rc, err) {
        None => {
            let s = take_string("object_to_json", out);
            assert_json("object_to_json", &s);
            Ok(s)
        }
        Some(f) => {
            assert_eq!(out as usize, SENTINEL, "object_to_json wrote its output on failure");
            Err(f)
        }
    }
}

unsafe fn same(a: *mut pyrt_object, b: *mut pyrt_object) -> bool {
    let args = CString::new(format!(
        "[{{\"__pyrt__\":\"object\",\"v\":{}}},{{\"__pyrt__\":\"object\",\"v\":{}}}]",
        pyrt_object_id(a),
        pyrt_object_id(b)
    ))
    .unwrap();
    let mut out = null_mut();
    let mut err = null_mut();
    let rc = pyrt_call_value(rt(), c"pyrt_fuzz:same".as_ptr(), args.as_ptr(), std::ptr::null(), 1, &mut out, &mut err);
    if let Some(f) = finish("same", rc, err) {
        panic!("pyrt_fuzz.same failed: {f:?}");
    }
    take_string("same", out) == "true"
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let flags = u32::from(mode & 1);
    let text = cstring(body);
    let _ = rt();
    unsafe {
        let serde_ok = std::str::from_utf8(text.as_bytes()).ok().and_then(|s| {
            let mut de = serde_json::Deserializer::from_str(s);
            de.disable_recursion_limit();
            let v: serde_json::Value = serde::Deserialize::deserialize(&mut de).ok()?;
            de.end().ok()?;
            Some(v)
        });
        let obj = match from_json(&text, flags) {
            Ok(o) => o,
            Err(f) => {
                if std::str::from_utf8(text.as_bytes()).is_err() {
                    assert_eq!(f.rc, ERR_INVALID_UTF8, "non-UTF-8 JSON: {f:?}");
                }
                if flags == 0 && serde_ok.is_some() {
                    assert!(
                        f.rc == ERR_INVALID_JSON && depth(text.to_str().unwrap()) > 1000,
                        "serde_json accepts this JSON but pyrt does not: {f:?}"
                    );
                }
                return;
            }
        };
        let out1 = match to_json(obj, flags) {
            Ok(s) => s,
            Err(f) => {
                assert_eq!(f.rc, ERR_CONVERSION, "a decoded value failed to encode: {f:?}");
                pyrt_object_free(obj);
                return;
            }
        };
        if flags == 0 {
            if let Some(v) = &serde_ok {
                let mut de = serde_json::Deserializer::from_str(&out1);
                de.disable_recursion_limit();
                let back: serde_json::Value = serde::Deserialize::deserialize(&mut de).expect("valid JSON");
                assert!(json_equal(v, &back), "plain JSON changed meaning: {:.200} -> {:.200}", text.to_str().unwrap(), out1);
            }
        }
        let c1 = CString::new(out1.clone()).unwrap();
        let obj2 = from_json(&c1, flags).unwrap_or_else(|f| panic!("pyrt cannot read its own output {out1:.300}: {f:?}"));
        assert!(same(obj, obj2), "round trip changed the value: {:.200} -> {out1:.200}", text.to_str().unwrap_or("?"));
        let out2 = to_json(obj2, flags).unwrap_or_else(|f| panic!("re-encoding failed: {f:?}"));
        if !out1.contains("set\",\"v\"") {
            assert_eq!(out1, out2, "encoding is not a fixed point");
        }
        // The value as an argument: echo(value) comes back with the same encoding.
        let args = CString::new(format!("[{}]", text.to_str().unwrap())).unwrap();
        let mut out = SENTINEL as *mut std::ffi::c_char;
        let mut err = null_mut();
        let rc = pyrt_call_value(rt(), c"pyrt_fuzz:echo".as_ptr(), args.as_ptr(), std::ptr::null(), flags, &mut out, &mut err);
        match finish("call_value echo", rc, err) {
            None => {
                let echoed = take_string("call_value echo", out);
                assert_json("call_value echo", &echoed);
                if !out1.contains("set\",\"v\"") {
                    assert_eq!(echoed, out1, "echo(value) differs from the value's encoding");
                }
            }
            Some(f) => assert!(f.rc == ERR_INVALID_JSON, "echo of an accepted value failed: {f:?}"),
        }
        pyrt_object_free(obj);
        pyrt_object_free(obj2);
    }
});

/// serde_json values equal as JSON data: numbers compared as f64 when either side is a float
/// (pyrt keeps big integers exact where serde_json rounds them), objects as maps (the last
/// duplicate key wins on both sides).
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            if x.is_f64() || y.is_f64() {
                x.as_f64() == y.as_f64()
            } else {
                x == y
            }
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q)),
        (Object(x), Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w))),
        _ => a == b,
    }
}
