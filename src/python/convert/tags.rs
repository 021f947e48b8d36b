//! The tagged value encoding (docs/values.md): `{"__pyrt__": kind, "v": value}` for what plain
//! JSON cannot carry. Writing lives here and in `convert::Writer`; reading turns a finished dict
//! that has the tag key into the value it stands for.

use std::ffi::CStr;

use base64::Engine;

use super::{Writer, TAG};
use crate::error::Result;
use crate::json::write;
use crate::python::exception::{self, OrFetch};
use crate::python::facade::{BuiltinType, PyErrPending, PyResult};
use crate::python::ffi::PyPtr;
use crate::python::{handles, PyRef, Python};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn non_finite_name(v: f64) -> &'static str {
    if v.is_nan() {
        "nan"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

fn write_float_part(w: &mut Writer, v: f64) {
    if v.is_finite() {
        write::float(w.out, v);
    } else {
        write::string(w.out, non_finite_name(v));
    }
}

fn write_bytes(w: &mut Writer, o: &PyRef, bytearray: bool) -> Result<()> {
    let py = w.py;
    let text = if bytearray { B64.encode(py.bytearray_to_vec(o).or_fetch(py)?) } else { B64.encode(py.bytes_data(o).or_fetch(py)?) };
    w.tag_open(if bytearray { "bytearray" } else { "bytes" });
    write::string(w.out, &text);
    w.out.push(b'}');
    Ok(())
}

fn write_complex(w: &mut Writer, o: &PyRef) -> Result<()> {
    let (re, im) = w.py.complex_parts(o).or_fetch(w.py)?;
    w.tag_open("complex");
    w.out.push(b'[');
    write_float_part(w, re);
    w.out.push(b',');
    write_float_part(w, im);
    w.out.extend_from_slice(b"]}");
    Ok(())
}

fn write_set(w: &mut Writer, o: &PyRef, kind: &str) -> Result<()> {
    w.tag_open(kind);
    w.iterable(o)?;
    w.out.push(b'}');
    Ok(())
}

/// Exact builtin types of the encoding (the common, cheap checks); `t` is `type(o)`, compared by
/// identity.
pub(crate) fn encode_exact(w: &mut Writer, o: &PyRef, t: PyPtr) -> Result<Option<()>> {
    let api = w.py.api;
    if t == api.PyBytes_Type {
        return write_bytes(w, o, false).map(Some);
    }
    if t == api.PyByteArray_Type {
        return write_bytes(w, o, true).map(Some);
    }
    if t == api.PySet_Type {
        return write_set(w, o, "set").map(Some);
    }
    if t == api.PyFrozenSet_Type {
        return write_set(w, o, "frozenset").map(Some);
    }
    if t == api.PyComplex_Type {
        return write_complex(w, o).map(Some);
    }
    Ok(None)
}

/// `sys.modules[name]` if that module was imported, else `None`: a value can only be a
/// `datetime` if the `datetime` module is loaded, so nothing is imported just to check. Owned:
/// the encoding runs Python code (`isoformat()`, a property) that may remove it from
/// `sys.modules` while it is still used. A failed lookup (a failed allocation) reads as absent:
/// the value is then not a datetime, which the caller reports as it would any unknown type.
fn loaded_module(py: Python, name: &str) -> Option<PyRef> {
    py.dict_get_str(&py.sys_modules(), name).unwrap_or_else(|PyErrPending| {
        py.clear_error();
        None
    })
}

fn attr(py: Python, o: &PyRef, name: &CStr) -> Option<PyRef> {
    py.getattr_str(o, name).map_err(|PyErrPending| py.clear_error()).ok()
}

fn write_text_tag(w: &mut Writer, kind: &str, text: PyRef) -> Result<()> {
    let s = w.py.str_to_string(&text).ok_or_else(|| w.fail(format!("{kind} has no text form")))?;
    w.tag_open(kind);
    write::string(w.out, &s);
    w.out.push(b'}');
    Ok(())
}

/// Subclasses of the builtin kinds, datetimes and Decimal.
pub(crate) fn encode_other(w: &mut Writer, o: &PyRef) -> Result<Option<()>> {
    let py = w.py;
    let subtype = |base: BuiltinType| py.type_is_subtype(o, &py.builtin_type(base));
    if subtype(BuiltinType::Bytes) {
        return write_bytes(w, o, false).map(Some);
    }
    if subtype(BuiltinType::ByteArray) {
        return write_bytes(w, o, true).map(Some);
    }
    if subtype(BuiltinType::Set) {
        return write_set(w, o, "set").map(Some);
    }
    if subtype(BuiltinType::FrozenSet) {
        return write_set(w, o, "frozenset").map(Some);
    }
    if subtype(BuiltinType::Complex) {
        return write_complex(w, o).map(Some);
    }
    if let Some(datetime) = loaded_module(py, "datetime") {
        // datetime before date: a datetime is a date.
        for (class, kind) in [(c"datetime", "datetime"), (c"date", "date"), (c"time", "time")] {
            if let Some(cls) = attr(py, &datetime, class) {
                if py.type_is_subtype(o, &cls) {
                    let text = py.call_method0(o, c"isoformat").or_fetch(py)?;
                    return write_text_tag(w, kind, text).map(Some);
                }
            }
        }
        if let Some(cls) = attr(py, &datetime, c"timedelta") {
            if py.type_is_subtype(o, &cls) {
                w.tag_open("timedelta");
                w.out.push(b'[');
                for (i, field) in [c"days", c"seconds", c"microseconds"].into_iter().enumerate() {
                    if i > 0 {
                        w.out.push(b',');
                    }
                    let v = attr(py, o, field).ok_or_else(|| w.fail("timedelta without fields".into()))?;
                    w.value(&v)?;
                }
                w.out.extend_from_slice(b"]}");
                return Ok(Some(()));
            }
        }
    }
    if let Some(decimal) = loaded_module(py, "decimal") {
        if let Some(cls) = attr(py, &decimal, c"Decimal") {
            if py.type_is_subtype(o, &cls) {
                let text = py.str(o).or_fetch(py)?;
                return write_text_tag(w, "decimal", text).map(Some);
            }
        }
    }
    Ok(None)
}

// ---- reading ---------------------------------------------------------------------------------

// Reading runs Python code only through imports and constructors of pyrt's own choosing, and
// an object handle as a dict key runs its `__hash__`; every item taken out of the parsed
// containers is still owned while it is used, so no such code can free it from under pyrt.

/// `dict[key]`, owned; `None` when absent (a failed lookup, its error cleared, reads as absent).
fn get_item(py: Python, dict: &PyRef, key: &str) -> Option<PyRef> {
    py.dict_get_str(dict, key).unwrap_or_else(|PyErrPending| {
        py.clear_error();
        None
    })
}

fn err(py: Python) -> String {
    exception::fetch(py).to_string()
}

/// A made object, or the pending Python error's text.
fn made(py: Python, r: PyResult<PyRef>) -> Result<PyRef, String> {
    r.map_err(|PyErrPending| err(py))
}

fn text(py: Python, v: &PyRef, kind: &str) -> Result<String, String> {
    if py.type_ptr(v) != py.api.PyUnicode_Type {
        return Err(format!("tag {kind:?} needs a string \"v\""));
    }
    py.str_to_string(v).ok_or_else(|| format!("tag {kind:?}: invalid string"))
}

/// The items of a list, each owned.
fn list(py: Python, v: &PyRef, kind: &str) -> Result<Vec<PyRef>, String> {
    if py.type_ptr(v) != py.api.PyList_Type {
        return Err(format!("tag {kind:?} needs an array \"v\""));
    }
    let mut items = Vec::new();
    while let Some(item) = py.list_get(v, items.len()) {
        items.push(item);
    }
    Ok(items)
}

fn float_part(py: Python, v: &PyRef, kind: &str) -> Result<f64, String> {
    let api = py.api;
    let t = py.type_ptr(v);
    if t == api.PyFloat_Type || t == api.PyLong_Type {
        return py.as_f64(v).map_err(|PyErrPending| err(py));
    }
    match text(py, v, kind)?.as_str() {
        "nan" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        other => Err(format!("tag {kind:?}: {other:?} is not a number")),
    }
}

/// `module.class(arg)`, or `module.class.method(arg)`.
fn call1(py: Python, module: &CStr, class: &CStr, method: Option<&CStr>, arg: PyRef) -> Result<PyRef, String> {
    let m = made(py, py.import(module))?;
    let mut f = made(py, py.getattr_str(&m, class))?;
    if let Some(method) = method {
        f = made(py, py.getattr_str(&f, method))?;
    }
    made(py, py.call(&f, &[arg]))
}

/// Replaces a finished dict that carries the tag key by the value it encodes.
pub fn decode(py: Python, dict: PyRef) -> Result<PyRef, String> {
    let Some(kind) = get_item(py, &dict, TAG) else { return Ok(dict) };
    let kind = text(py, &kind, TAG)?;
    if py.dict_len(&dict).map_err(|PyErrPending| err(py))? != 2 {
        return Err(format!("a tagged value has exactly the keys \"{TAG}\" and \"v\" (kind {kind:?})"));
    }
    let v = get_item(py, &dict, "v").ok_or_else(|| format!("tag {kind:?} without \"v\""))?;
    match kind.as_str() {
        "tuple" => {
            list(py, &v, &kind)?;
            made(py, py.list_to_tuple(&v))
        }
        "set" | "frozenset" => {
            list(py, &v, &kind)?;
            made(py, if kind == "set" { py.new_set(&v) } else { py.new_frozenset(&v) })
        }
        "dict" => {
            let out = made(py, py.new_dict())?;
            for pair in list(py, &v, &kind)? {
                let kv = list(py, &pair, "dict pair")?;
                if kv.len() != 2 {
                    return Err("tag \"dict\": every pair is [key, value]".into());
                }
                py.dict_set(&out, &kv[0], &kv[1]).map_err(|PyErrPending| err(py))?;
            }
            Ok(out)
        }
        "bytes" | "bytearray" => {
            let data = B64.decode(text(py, &v, &kind)?).map_err(|e| format!("tag {kind:?}: invalid base64: {e}"))?;
            made(py, if kind == "bytes" { py.new_bytes(&data) } else { py.new_bytearray(&data) })
        }
        "float" => made(py, py.new_float(float_part(py, &v, &kind)?)),
        "complex" => {
            let parts = list(py, &v, &kind)?;
            if parts.len() != 2 {
                return Err("tag \"complex\" is [real, imag]".into());
            }
            let (re, im) = (float_part(py, &parts[0], &kind)?, float_part(py, &parts[1], &kind)?);
            made(py, py.new_complex(re, im))
        }
        "datetime" | "date" | "time" => {
            let s = text(py, &v, &kind)?;
            let class = match kind.as_str() {
                "datetime" => c"datetime",
                "date" => c"date",
                _ => c"time",
            };
            let arg = made(py, py.new_str(&s))?;
            call1(py, c"datetime", class, Some(c"fromisoformat"), arg)
        }
        "timedelta" => {
            let parts = list(py, &v, &kind)?;
            if parts.len() != 3 {
                return Err("tag \"timedelta\" is [days, seconds, microseconds]".into());
            }
            let m = made(py, py.import(c"datetime"))?;
            let cls = made(py, py.getattr_str(&m, c"timedelta"))?;
            made(py, py.call(&cls, &parts))
        }
        "decimal" => {
            let s = text(py, &v, &kind)?;
            let arg = made(py, py.new_str(&s))?;
            call1(py, c"decimal", c"Decimal", None, arg)
        }
        "object" => {
            // A non-int (TypeError), an int beyond 64 bits or below 1 is no handle number.
            let id = match py.as_i64(&v) {
                Ok(Some(id)) if id > 0 => id,
                _ => {
                    py.clear_error();
                    return Err("tag \"object\" needs a handle number".into());
                }
            };
            handles::get(py, id as u64).map_err(|e| e.into_detail().message)
        }
        other => Err(format!("unknown tag kind {other:?}")),
    }
}

/// The handle of the first object tag (`{"__pyrt__": "object", "v": id}`, depth first) in an
/// encoded value, found without Python (to choose the worker a call runs in). Parsed only when
/// the text holds the tag key at all.
pub fn first_object_handle(text: &[u8]) -> Option<u64> {
    fn find(v: &serde_json::Value) -> Option<u64> {
        match v {
            serde_json::Value::Object(m) => {
                if m.get(TAG).and_then(serde_json::Value::as_str) == Some("object") {
                    return m.get("v").and_then(serde_json::Value::as_u64);
                }
                m.values().find_map(find)
            }
            serde_json::Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    if !text.windows(TAG.len()).any(|w| w == TAG.as_bytes()) {
        return None;
    }
    find(&serde_json::from_slice(text).ok()?)
}
