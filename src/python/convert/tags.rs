//! The tagged value encoding (docs/values.md): `{"__pyrt__": kind, "v": value}` for what plain
//! JSON cannot carry. Writing lives here and in `convert::Writer`; reading turns a finished dict
//! that has the tag key into the value it stands for.

use std::ffi::CStr;

use base64::Engine;

use super::{Writer, TAG};
use crate::error::Result;
use crate::json::write;
use crate::python::exception;
use crate::python::ffi::{self, PyPtr};
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

/// The contents of a live bytes or bytearray `o`, valid while `o` lives and is not resized
/// (the caller copies them out before any Python code runs).
fn bytes_of<'a>(py: Python, o: PyPtr, bytearray: bool) -> Option<&'a [u8]> {
    // SAFETY: `o` is a live bytes/bytearray (dispatched by its exact type; the Writer's contract
    // keeps it alive); CPython returns its buffer and length, `n` bytes readable at `p`.
    unsafe {
        if bytearray {
            let p = (py.api.PyByteArray_AsString)(o);
            let n = (py.api.PyByteArray_Size)(o);
            if n == 0 {
                return Some(&[]);
            }
            (!p.is_null()).then(|| std::slice::from_raw_parts(p.cast::<u8>(), n as usize))
        } else {
            let mut p = std::ptr::null_mut();
            let mut n = 0isize;
            ((py.api.PyBytes_AsStringAndSize)(o, &mut p, &mut n) == 0).then(|| std::slice::from_raw_parts(p.cast::<u8>(), n as usize))
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
    // SAFETY: `o` is a live complex (dispatched by its exact type); the GIL is held.
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
    // SAFETY: `t` is the type of a live object and `base` a live class the caller holds.
    !base.is_null() && unsafe { (py.api.PyType_IsSubtype)(t, base) } != 0
}

/// `sys.modules[name]` if that module was imported, else `None`: a value can only be a
/// `datetime` if the `datetime` module is loaded, so nothing is imported just to check. Owned:
/// the encoding runs Python code (`isoformat()`, a property) that may remove it from
/// `sys.modules` while it is still used.
fn loaded_module(py: Python, name: &str) -> Option<PyRef> {
    // SAFETY: the `Python` token proves this thread may call CPython; `name` is valid for its
    // length; the key is owned by `key` for the lookup.
    let key = unsafe { PyRef::from_owned((py.api.PyUnicode_FromStringAndSize)(name.as_ptr().cast(), name.len() as isize)) };
    let Some(key) = key else {
        // The failed allocation's error is dropped: the value is then not a datetime, which the
        // caller reports as it would any unknown type.
        py.clear_error();
        return None;
    };
    // SAFETY: PyImport_GetModuleDict returns the interpreter's live `sys.modules` (borrowed, alive
    // as long as the interpreter); the item is borrowed and increfed by `from_borrowed` before
    // any Python code can run.
    let m = unsafe { (py.api.PyDict_GetItemWithError)((py.api.PyImport_GetModuleDict)(), key.as_ptr()) };
    if m.is_null() {
        py.clear_error(); // a lookup error, or none pending
    }
    PyRef::from_borrowed(py, m)
}

fn attr(py: Python, o: PyPtr, name: &CStr) -> Option<PyRef> {
    // SAFETY: `o` is a live object the caller holds; `name` is NUL-terminated; the result is a
    // new reference, owned by `r`.
    let r = unsafe { PyRef::from_owned((py.api.PyObject_GetAttrString)(o, name.as_ptr())) };
    if r.is_none() {
        py.clear_error();
    }
    r
}

fn call_method0(py: Python, o: PyPtr, name: &CStr) -> Result<PyRef> {
    // SAFETY: as in `attr`.
    let m = unsafe { PyRef::from_owned((py.api.PyObject_GetAttrString)(o, name.as_ptr())) }.ok_or_else(|| exception::fetch(py))?;
    // SAFETY: `m` is owned; NULL arguments mean no arguments; the result is a new reference.
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
    if let Some(module) = loaded_module(py, "datetime") {
        let datetime = module.as_ptr();
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
    if let Some(module) = loaded_module(py, "decimal") {
        let decimal = module.as_ptr();
        if let Some(cls) = attr(py, decimal, c"Decimal") {
            if subtype(py, t, cls.as_ptr()) {
                // SAFETY: `o` is live (the Writer's contract); the result is a new reference.
                let text = unsafe { PyRef::from_owned((api.PyObject_Str)(o)) }.ok_or_else(|| exception::fetch(py))?;
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

/// `dict[key]`, owned; `None` when absent.
fn get_item(py: Python, dict: &PyRef, key: &str) -> Option<PyRef> {
    let k = py.new_str(key)?;
    // SAFETY: `dict` is a live dict (the parser made it) and `k` an owned str; the borrowed
    // result is increfed by `from_borrowed` before any Python code can run.
    let v = unsafe { (py.api.PyDict_GetItemWithError)(dict.as_ptr(), k.as_ptr()) };
    if v.is_null() {
        py.clear_error();
    }
    PyRef::from_borrowed(py, v)
}

fn err(py: Python) -> String {
    exception::fetch(py).to_string()
}

fn own(py: Python, p: PyPtr) -> Result<PyRef, String> {
    PyRef::from_owned(p).ok_or_else(|| err(py))
}

fn text(py: Python, v: &PyRef, kind: &str) -> Result<String, String> {
    // SAFETY: `v` is a live reference; its type lives as long as it does.
    let t = unsafe { ffi::py_type(v.as_ptr()) };
    if t != py.api.PyUnicode_Type {
        return Err(format!("tag {kind:?} needs a string \"v\""));
    }
    exception::utf8_of(py, v.as_ptr()).ok_or_else(|| format!("tag {kind:?}: invalid string"))
}

/// The items of a list, each owned.
fn list(py: Python, v: &PyRef, kind: &str) -> Result<Vec<PyRef>, String> {
    // SAFETY: `v` is a live reference.
    if unsafe { ffi::py_type(v.as_ptr()) } != py.api.PyList_Type {
        return Err(format!("tag {kind:?} needs an array \"v\""));
    }
    let mut items = Vec::new();
    while let Some(item) = super::list_item(py, v.as_ptr(), items.len() as isize) {
        items.push(item);
    }
    Ok(items)
}

fn float_part(py: Python, v: &PyRef, kind: &str) -> Result<f64, String> {
    let api = py.api;
    // SAFETY: `v` is a live reference.
    let t = unsafe { ffi::py_type(v.as_ptr()) };
    if t == api.PyFloat_Type || t == api.PyLong_Type {
        // SAFETY: `v` is a live float or int (checked just above).
        let f = unsafe { (api.PyFloat_AsDouble)(v.as_ptr()) };
        if f == -1.0 && py.error_pending() {
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

/// `module.class(arg)`, or `module.class.method(arg)`.
fn call1(py: Python, module: &CStr, class: &CStr, method: Option<&CStr>, arg: PyRef) -> Result<PyRef, String> {
    let api = py.api;
    // The calls below: the GIL is held; names are NUL-terminated C strings; every object passed
    // is owned here (`m`, `f`, `args`) and every result is a new reference, owned at once by
    // `own`. PyTuple_SetItem steals `arg`'s reference into the fresh 1-tuple.
    // SAFETY: as just said.
    let m = own(py, unsafe { (api.PyImport_ImportModule)(module.as_ptr()) })?;
    // SAFETY: as above.
    let mut f = own(py, unsafe { (api.PyObject_GetAttrString)(m.as_ptr(), class.as_ptr()) })?;
    if let Some(method) = method {
        // SAFETY: as above.
        f = own(py, unsafe { (api.PyObject_GetAttrString)(f.as_ptr(), method.as_ptr()) })?;
    }
    // SAFETY: as above.
    let args = own(py, unsafe { (api.PyTuple_New)(1) })?;
    // SAFETY: as above; index 0 exists in the new 1-tuple.
    unsafe { (api.PyTuple_SetItem)(args.as_ptr(), 0, arg.into_ptr()) };
    // SAFETY: as above.
    own(py, unsafe { (api.PyObject_CallObject)(f.as_ptr(), args.as_ptr()) })
}

/// Replaces a finished dict that carries the tag key by the value it encodes.
pub fn decode(py: Python, dict: PyRef) -> Result<PyRef, String> {
    let api = py.api;
    let Some(kind) = get_item(py, &dict, TAG) else { return Ok(dict) };
    let kind = text(py, &kind, TAG)?;
    // SAFETY: `dict` is an owned dict (the parser made it).
    if unsafe { (api.PyDict_Size)(dict.as_ptr()) } != 2 {
        return Err(format!("a tagged value has exactly the keys \"{TAG}\" and \"v\" (kind {kind:?})"));
    }
    let v = get_item(py, &dict, "v").ok_or_else(|| format!("tag {kind:?} without \"v\""))?;
    match kind.as_str() {
        "tuple" => {
            list(py, &v, &kind)?;
            // SAFETY: `v` is an owned list (checked by `list`); the result is a new reference.
            own(py, unsafe { (api.PyList_AsTuple)(v.as_ptr()) })
        }
        "set" | "frozenset" => {
            list(py, &v, &kind)?;
            let f = if kind == "set" { api.PySet_New } else { api.PyFrozenSet_New };
            // SAFETY: `v` is an owned list, an iterable; the result is a new reference.
            own(py, unsafe { f(v.as_ptr()) })
        }
        "dict" => {
            let out = py.new_dict().ok_or_else(|| err(py))?;
            for pair in list(py, &v, &kind)? {
                let kv = list(py, &pair, "dict pair")?;
                if kv.len() != 2 {
                    return Err("tag \"dict\": every pair is [key, value]".into());
                }
                if !py.dict_set(&out, &kv[0], &kv[1]) {
                    return Err(err(py));
                }
            }
            Ok(out)
        }
        "bytes" | "bytearray" => {
            let data = B64.decode(text(py, &v, &kind)?).map_err(|e| format!("tag {kind:?}: invalid base64: {e}"))?;
            let f = if kind == "bytes" { api.PyBytes_FromStringAndSize } else { api.PyByteArray_FromStringAndSize };
            // SAFETY: `data` is valid for its length (a Vec: at most isize::MAX bytes).
            own(py, unsafe { f(data.as_ptr().cast(), data.len() as isize) })
        }
        "float" => py.new_float(float_part(py, &v, &kind)?).ok_or_else(|| err(py)),
        "complex" => {
            let parts = list(py, &v, &kind)?;
            if parts.len() != 2 {
                return Err("tag \"complex\" is [real, imag]".into());
            }
            let (re, im) = (float_part(py, &parts[0], &kind)?, float_part(py, &parts[1], &kind)?);
            // SAFETY: the GIL is held; no pointer arguments.
            own(py, unsafe { (api.PyComplex_FromDoubles)(re, im) })
        }
        "datetime" | "date" | "time" => {
            let s = text(py, &v, &kind)?;
            let class = match kind.as_str() {
                "datetime" => c"datetime",
                "date" => c"date",
                _ => c"time",
            };
            let arg = py.new_str(&s).ok_or_else(|| err(py))?;
            call1(py, c"datetime", class, Some(c"fromisoformat"), arg)
        }
        "timedelta" => {
            let parts = list(py, &v, &kind)?;
            if parts.len() != 3 {
                return Err("tag \"timedelta\" is [days, seconds, microseconds]".into());
            }
            // SAFETY: the GIL is held; the name is NUL-terminated; the result is owned at once.
            let m = own(py, unsafe { (api.PyImport_ImportModule)(c"datetime".as_ptr()) })?;
            // SAFETY: `m` is owned; as above.
            let cls = own(py, unsafe { (api.PyObject_GetAttrString)(m.as_ptr(), c"timedelta".as_ptr()) })?;
            // SAFETY: `v` is an owned list (checked by `list`).
            let args = own(py, unsafe { (api.PyList_AsTuple)(v.as_ptr()) })?;
            // SAFETY: `cls` and `args` are owned; the result is owned at once.
            own(py, unsafe { (api.PyObject_CallObject)(cls.as_ptr(), args.as_ptr()) })
        }
        "decimal" => {
            let s = text(py, &v, &kind)?;
            let arg = py.new_str(&s).ok_or_else(|| err(py))?;
            call1(py, c"decimal", c"Decimal", None, arg)
        }
        "object" => {
            let mut overflow = 0;
            // SAFETY: `v` is owned; a non-int sets TypeError and returns -1 (refused below).
            let id = unsafe { (api.PyLong_AsLongLongAndOverflow)(v.as_ptr(), &mut overflow) };
            if id <= 0 || overflow != 0 {
                py.clear_error();
                return Err("tag \"object\" needs a handle number".into());
            }
            handles::get(py, id as u64).map_err(|e| e.into_detail().message)
        }
        other => Err(format!("unknown tag kind {other:?}")),
    }
}
