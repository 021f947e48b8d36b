//! The tagged value encoding (docs/values.md): `{"__pyrt__": kind, "v": value}` for what plain
//! JSON cannot carry. Writing lives here and in `convert::Writer`; reading turns a finished dict
//! that has the tag key into the value it stands for.

use std::ffi::CStr;

use base64::Engine;

use super::convert::{Writer, TAG};
use super::exception;
use super::ffi::{self, PyPtr};
use super::{objects, PyRef, Python};
use crate::error::Result;
use crate::json::write;

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

fn bytes_of<'a>(py: Python, o: PyPtr, bytearray: bool) -> Option<&'a [u8]> {
    unsafe {
        if bytearray {
            let p = (py.api.PyByteArray_AsString)(o);
            let n = (py.api.PyByteArray_Size)(o);
            if n == 0 {
                return Some(&[]);
            }
            (!p.is_null()).then(|| std::slice::from_raw_parts(p as *const u8, n as usize))
        } else {
            let mut p = std::ptr::null_mut();
            let mut n = 0isize;
            ((py.api.PyBytes_AsStringAndSize)(o, &mut p, &mut n) == 0).then(|| std::slice::from_raw_parts(p as *const u8, n as usize))
        }
    }
}

fn write_bytes(w: &mut Writer, o: PyPtr, bytearray: bool) -> Result<()> {
    let data = bytes_of(w.py, o, bytearray).ok_or_else(|| exception::fetch(w.py))?;
    let text = B64.encode(data);
    w.tag_open(if bytearray { "bytearray" } else { "bytes" });
    write::string(w.out, &text);
    w.out.push(b'}');
    Ok(())
}

fn write_complex(w: &mut Writer, o: PyPtr) -> Result<()> {
    let (re, im) = unsafe { ((w.py.api.PyComplex_RealAsDouble)(o), (w.py.api.PyComplex_ImagAsDouble)(o)) };
    w.tag_open("complex");
    w.out.push(b'[');
    write_float_part(w, re);
    w.out.push(b',');
    write_float_part(w, im);
    w.out.extend_from_slice(b"]}");
    Ok(())
}

fn write_set(w: &mut Writer, o: PyPtr, kind: &str) -> Result<()> {
    w.tag_open(kind);
    w.iterable(o)?;
    w.out.push(b'}');
    Ok(())
}

/// Exact builtin types of the encoding (the common, cheap checks).
pub(crate) fn encode_exact(w: &mut Writer, o: PyPtr, t: PyPtr) -> Result<Option<()>> {
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

fn subtype(py: Python, t: PyPtr, base: PyPtr) -> bool {
    !base.is_null() && unsafe { (py.api.PyType_IsSubtype)(t, base) } != 0
}

/// `sys.modules[name]` if that module was imported (borrowed), else NULL: a value can only be
/// a `datetime` if the `datetime` module is loaded, so nothing is imported just to check.
fn loaded_module(py: Python, name: &str) -> PyPtr {
    unsafe {
        let key = PyRef::from_owned((py.api.PyUnicode_FromStringAndSize)(name.as_ptr().cast(), name.len() as isize));
        let Some(key) = key else {
            (py.api.PyErr_Clear)();
            return std::ptr::null_mut();
        };
        let m = (py.api.PyDict_GetItemWithError)((py.api.PyImport_GetModuleDict)(), key.as_ptr());
        if m.is_null() {
            (py.api.PyErr_Clear)();
        }
        m
    }
}

fn attr(py: Python, o: PyPtr, name: &CStr) -> Option<PyRef> {
    let r = unsafe { PyRef::from_owned((py.api.PyObject_GetAttrString)(o, name.as_ptr())) };
    if r.is_none() {
        unsafe { (py.api.PyErr_Clear)() };
    }
    r
}

fn call_method0(py: Python, o: PyPtr, name: &CStr) -> Result<PyRef> {
    let m = unsafe { PyRef::from_owned((py.api.PyObject_GetAttrString)(o, name.as_ptr())) }.ok_or_else(|| exception::fetch(py))?;
    unsafe { PyRef::from_owned((py.api.PyObject_CallObject)(m.as_ptr(), std::ptr::null_mut())) }.ok_or_else(|| exception::fetch(py))
}

fn write_text_tag(w: &mut Writer, kind: &str, text: PyRef) -> Result<()> {
    let s = exception::utf8_of(w.py, text.as_ptr()).ok_or_else(|| w.fail(format!("{kind} has no text form")))?;
    w.tag_open(kind);
    write::string(w.out, &s);
    w.out.push(b'}');
    Ok(())
}

/// Subclasses of the builtin kinds, datetimes and Decimal.
pub(crate) fn encode_other(w: &mut Writer, o: PyPtr, t: PyPtr) -> Result<Option<()>> {
    let py = w.py;
    let api = py.api;
    if subtype(py, t, api.PyBytes_Type) {
        return write_bytes(w, o, false).map(Some);
    }
    if subtype(py, t, api.PyByteArray_Type) {
        return write_bytes(w, o, true).map(Some);
    }
    if subtype(py, t, api.PySet_Type) {
        return write_set(w, o, "set").map(Some);
    }
    if subtype(py, t, api.PyFrozenSet_Type) {
        return write_set(w, o, "frozenset").map(Some);
    }
    if subtype(py, t, api.PyComplex_Type) {
        return write_complex(w, o).map(Some);
    }
    let datetime = loaded_module(py, "datetime");
    if !datetime.is_null() {
        // datetime before date: a datetime is a date.
        for (class, kind) in [(c"datetime", "datetime"), (c"date", "date"), (c"time", "time")] {
            if let Some(cls) = attr(py, datetime, class) {
                if subtype(py, t, cls.as_ptr()) {
                    let text = call_method0(py, o, c"isoformat")?;
                    return write_text_tag(w, kind, text).map(Some);
                }
            }
        }
        if let Some(cls) = attr(py, datetime, c"timedelta") {
            if subtype(py, t, cls.as_ptr()) {
                w.tag_open("timedelta");
                w.out.push(b'[');
                for (i, field) in [c"days", c"seconds", c"microseconds"].into_iter().enumerate() {
                    if i > 0 {
                        w.out.push(b',');
                    }
                    let v = attr(py, o, field).ok_or_else(|| w.fail("timedelta without fields".into()))?;
                    w.value(v.as_ptr())?;
                }
                w.out.extend_from_slice(b"]}");
                return Ok(Some(()));
            }
        }
    }
    let decimal = loaded_module(py, "decimal");
    if !decimal.is_null() {
        if let Some(cls) = attr(py, decimal, c"Decimal") {
            if subtype(py, t, cls.as_ptr()) {
                let text = unsafe { PyRef::from_owned((api.PyObject_Str)(o)) }.ok_or_else(|| exception::fetch(py))?;
                return write_text_tag(w, "decimal", text).map(Some);
            }
        }
    }
    Ok(None)
}

// ---- reading ---------------------------------------------------------------------------------

fn get_item(py: Python, dict: PyPtr, key: &str) -> Option<PyPtr> {
    unsafe {
        let k = PyRef::from_owned((py.api.PyUnicode_FromStringAndSize)(key.as_ptr().cast(), key.len() as isize))?;
        let v = (py.api.PyDict_GetItemWithError)(dict, k.as_ptr());
        if v.is_null() {
            (py.api.PyErr_Clear)();
            return None;
        }
        Some(v)
    }
}

fn err(py: Python) -> String {
    exception::fetch(py).to_string()
}

fn own(py: Python, p: PyPtr) -> Result<PyRef, String> {
    PyRef::from_owned(p).ok_or_else(|| err(py))
}

fn text(py: Python, v: PyPtr, kind: &str) -> Result<String, String> {
    let t = unsafe { ffi::py_type(v) };
    if t != py.api.PyUnicode_Type {
        return Err(format!("tag {kind:?} needs a string \"v\""));
    }
    exception::utf8_of(py, v).ok_or_else(|| format!("tag {kind:?}: invalid string"))
}

fn list(py: Python, v: PyPtr, kind: &str) -> Result<Vec<PyPtr>, String> {
    if unsafe { ffi::py_type(v) } != py.api.PyList_Type {
        return Err(format!("tag {kind:?} needs an array \"v\""));
    }
    let n = unsafe { (py.api.PyList_Size)(v) };
    Ok((0..n).map(|i| unsafe { (py.api.PyList_GetItem)(v, i) }).collect())
}

fn float_part(py: Python, v: PyPtr, kind: &str) -> Result<f64, String> {
    let api = py.api;
    let t = unsafe { ffi::py_type(v) };
    if t == api.PyFloat_Type || t == api.PyLong_Type {
        let f = unsafe { (api.PyFloat_AsDouble)(v) };
        if f == -1.0 && unsafe { !(api.PyErr_Occurred)().is_null() } {
            return Err(err(py));
        }
        return Ok(f);
    }
    match text(py, v, kind)?.as_str() {
        "nan" => Ok(f64::NAN),
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        other => Err(format!("tag {kind:?}: {other:?} is not a number")),
    }
}

fn call1(py: Python, module: &CStr, class: &CStr, method: Option<&CStr>, arg: PyRef) -> Result<PyRef, String> {
    let api = py.api;
    let m = own(py, unsafe { (api.PyImport_ImportModule)(module.as_ptr()) })?;
    let mut f = own(py, unsafe { (api.PyObject_GetAttrString)(m.as_ptr(), class.as_ptr()) })?;
    if let Some(method) = method {
        f = own(py, unsafe { (api.PyObject_GetAttrString)(f.as_ptr(), method.as_ptr()) })?;
    }
    let args = own(py, unsafe { (api.PyTuple_New)(1) })?;
    unsafe { (api.PyTuple_SetItem)(args.as_ptr(), 0, arg.into_ptr()) };
    own(py, unsafe { (api.PyObject_CallObject)(f.as_ptr(), args.as_ptr()) })
}

/// Replaces a finished dict that carries the tag key by the value it encodes.
pub fn decode(py: Python, dict: PyRef) -> Result<PyRef, String> {
    let api = py.api;
    let d = dict.as_ptr();
    let Some(kind) = get_item(py, d, TAG) else { return Ok(dict) };
    let kind = text(py, kind, TAG)?;
    if unsafe { (api.PyDict_Size)(d) } != 2 {
        return Err(format!("a tagged value has exactly the keys \"{TAG}\" and \"v\" (kind {kind:?})"));
    }
    let v = get_item(py, d, "v").ok_or_else(|| format!("tag {kind:?} without \"v\""))?;
    match kind.as_str() {
        "tuple" => {
            list(py, v, &kind)?;
            own(py, unsafe { (api.PyList_AsTuple)(v) })
        }
        "set" | "frozenset" => {
            list(py, v, &kind)?;
            let f = if kind == "set" { api.PySet_New } else { api.PyFrozenSet_New };
            own(py, unsafe { f(v) })
        }
        "dict" => {
            let out = own(py, unsafe { (api.PyDict_New)() })?;
            for pair in list(py, v, &kind)? {
                let kv = list(py, pair, "dict pair")?;
                if kv.len() != 2 {
                    return Err("tag \"dict\": every pair is [key, value]".into());
                }
                if unsafe { (api.PyDict_SetItem)(out.as_ptr(), kv[0], kv[1]) } != 0 {
                    return Err(err(py));
                }
            }
            Ok(out)
        }
        "bytes" | "bytearray" => {
            let data = B64.decode(text(py, v, &kind)?).map_err(|e| format!("tag {kind:?}: invalid base64: {e}"))?;
            let f = if kind == "bytes" { api.PyBytes_FromStringAndSize } else { api.PyByteArray_FromStringAndSize };
            own(py, unsafe { f(data.as_ptr().cast(), data.len() as isize) })
        }
        "float" => own(py, unsafe { (api.PyFloat_FromDouble)(float_part(py, v, &kind)?) }),
        "complex" => {
            let parts = list(py, v, &kind)?;
            if parts.len() != 2 {
                return Err("tag \"complex\" is [real, imag]".into());
            }
            let (re, im) = (float_part(py, parts[0], &kind)?, float_part(py, parts[1], &kind)?);
            own(py, unsafe { (api.PyComplex_FromDoubles)(re, im) })
        }
        "datetime" | "date" | "time" => {
            let s = text(py, v, &kind)?;
            let class = match kind.as_str() {
                "datetime" => c"datetime",
                "date" => c"date",
                _ => c"time",
            };
            let arg = own(py, unsafe { (api.PyUnicode_FromStringAndSize)(s.as_ptr().cast(), s.len() as isize) })?;
            call1(py, c"datetime", class, Some(c"fromisoformat"), arg)
        }
        "timedelta" => {
            let parts = list(py, v, &kind)?;
            if parts.len() != 3 {
                return Err("tag \"timedelta\" is [days, seconds, microseconds]".into());
            }
            let m = own(py, unsafe { (api.PyImport_ImportModule)(c"datetime".as_ptr()) })?;
            let cls = own(py, unsafe { (api.PyObject_GetAttrString)(m.as_ptr(), c"timedelta".as_ptr()) })?;
            let args = own(py, unsafe { (api.PyList_AsTuple)(v) })?;
            own(py, unsafe { (api.PyObject_CallObject)(cls.as_ptr(), args.as_ptr()) })
        }
        "decimal" => {
            let s = text(py, v, &kind)?;
            let arg = own(py, unsafe { (api.PyUnicode_FromStringAndSize)(s.as_ptr().cast(), s.len() as isize) })?;
            call1(py, c"decimal", c"Decimal", None, arg)
        }
        "object" => {
            let mut overflow = 0;
            let id = unsafe { (api.PyLong_AsLongLongAndOverflow)(v, &mut overflow) };
            if id <= 0 || overflow != 0 {
                unsafe { (api.PyErr_Clear)() };
                return Err("tag \"object\" needs a handle number".into());
            }
            objects::get(py, id as u64).map_err(|e| e.into_detail().message)
        }
        other => Err(format!("unknown tag kind {other:?}")),
    }
}
