//! JSON text -> Python objects: the general parser's builder, call arguments, and the fast
//! path for flat scalar argument lists.

use std::ffi::CString;

use super::{tags, without_int_digit_limit, ArgList, ArgVec, ValueMode, SAFE_INT_DIGITS};
use crate::error::{Error, ErrorKind, Result};
use crate::json::{self, Builder, ParseError};
use crate::python::exception;
use crate::python::facade::{PyErrPending, PyResult};
use crate::python::{PyRef, Python};

/// Builds Python objects from parser events.
pub struct PyBuilder<'py> {
    py: Python<'py>,
    tagged: bool,
    /// Object keys already made in this document (records repeat theirs), like the memo of
    /// Python's own json module: a repeated key costs a comparison instead of a new str object
    /// and its hash.
    keys: Vec<(Box<[u8]>, PyRef)>,
}

/// Keys longer than this, or beyond this many distinct ones, are not remembered.
const KEY_MEMO_LEN: usize = 48;
const KEY_MEMO_MAX: usize = 64;

impl<'py> PyBuilder<'py> {
    pub fn with_mode(py: Python<'py>, mode: ValueMode) -> Self {
        PyBuilder { py, tagged: mode.tagged, keys: Vec::new() }
    }

    /// A made object, or the pending Python error's text.
    fn made(&self, r: PyResult<PyRef>) -> Result<PyRef, String> {
        r.map_err(|PyErrPending| exception::fetch(self.py).to_string())
    }
}

impl Builder for PyBuilder<'_> {
    type Value = PyRef;

    fn null(&mut self) -> Result<PyRef, String> {
        Ok(self.py.none_ref())
    }
    fn boolean(&mut self, v: bool) -> Result<PyRef, String> {
        Ok(self.py.bool_ref(v))
    }
    fn integer(&mut self, text: &str) -> Result<PyRef, String> {
        // Up to 18 digits always fits in i64; longer goes through CPython's exact parser.
        if text.len() <= 18 {
            let v: i64 = text.parse().map_err(|_| format!("invalid integer {text}"))?;
            return self.made(self.py.new_int(v));
        }
        let c = CString::new(text).map_err(|_| "integer contains NUL".to_string())?;
        let parse = || self.py.int_from_decimal(&c);
        if text.len() > SAFE_INT_DIGITS {
            self.made(without_int_digit_limit(self.py, parse))
        } else {
            self.made(parse())
        }
    }
    fn small_integer(&mut self, v: i64, _: &str) -> Result<PyRef, String> {
        self.made(self.py.new_int(v))
    }
    fn float(&mut self, v: f64) -> Result<PyRef, String> {
        self.made(self.py.new_float(v))
    }
    fn string(&mut self, v: &str) -> Result<PyRef, String> {
        self.made(self.py.new_str(v))
    }
    fn key(&mut self, v: &str) -> Result<PyRef, String> {
        if v.len() > KEY_MEMO_LEN {
            return self.string(v);
        }
        let bytes = v.as_bytes();
        if let Some((_, k)) = self.keys.iter().find(|(b, _)| b.len() == bytes.len() && **b == *bytes) {
            return Ok(k.clone_ref(self.py));
        }
        let k = self.string(v)?;
        if self.keys.len() < KEY_MEMO_MAX {
            self.keys.push((bytes.into(), k.clone_ref(self.py)));
        }
        Ok(k)
    }
    fn new_array(&mut self) -> Result<PyRef, String> {
        self.made(self.py.new_list())
    }
    fn array_push(&mut self, array: &mut PyRef, item: PyRef) -> Result<(), String> {
        // PyList_Append does not steal: `item` is released when it drops.
        self.py.list_append(array, &item).map_err(|PyErrPending| exception::fetch(self.py).to_string())
    }
    fn new_object(&mut self) -> Result<PyRef, String> {
        self.made(self.py.new_dict())
    }
    fn object_insert(&mut self, object: &mut PyRef, key: PyRef, value: PyRef) -> Result<(), String> {
        self.py.dict_set(object, &key, &value).map_err(|PyErrPending| exception::fetch(self.py).to_string())
    }
    fn end_object(&mut self, object: PyRef) -> Result<PyRef, String> {
        if !self.tagged {
            return Ok(object);
        }
        tags::decode(self.py, object)
    }
}

/// Parses JSON text (tagged values decoded when `mode.tagged`) into a new Python object. The
/// bytes need not have been checked for UTF-8: invalid UTF-8 is `ErrorKind::InvalidUtf8`.
pub fn from_json_mode(py: Python, text: impl AsRef<[u8]>, mode: ValueMode) -> Result<PyRef> {
    json::parse_bytes(text.as_ref(), &mut PyBuilder::with_mode(py, mode)).map_err(|e| match e {
        ParseError::Syntax { .. } => Error::new(ErrorKind::InvalidJson, format!("invalid JSON: {e}")),
        ParseError::Utf8 { .. } => Error::new(ErrorKind::InvalidUtf8, format!("the JSON text is not valid UTF-8: {e}")),
        ParseError::Builder(m) => Error::new(ErrorKind::Conversion, m),
    })
}

/// Parses a JSON array of call arguments into owned objects (no intermediate list), decoding
/// tagged values when `mode.tagged`; the bytes need not have been checked for UTF-8.
pub fn args_from_json_mode(py: Python, text: impl AsRef<[u8]>, mode: ValueMode) -> Result<ArgList> {
    let mut b = ArgsBuilder { inner: PyBuilder::with_mode(py, mode), top: None };
    let done = json::parse_bytes(text.as_ref(), &mut b).map_err(|e| match e {
        ParseError::Syntax { .. } => Error::new(ErrorKind::InvalidJson, format!("invalid JSON: {e}")),
        ParseError::Utf8 { .. } => Error::new(ErrorKind::InvalidUtf8, format!("args_json is not valid UTF-8: {e}")),
        ParseError::Builder(m) if m == NOT_AN_ARRAY => Error::invalid_argument("args_json must be a JSON array"),
        ParseError::Builder(m) => Error::new(ErrorKind::Conversion, m),
    })?;
    match done {
        ArgsValue::Top => Ok(b.top.take().unwrap_or_default()),
        ArgsValue::Py(_) => Err(Error::invalid_argument("args_json must be a JSON array")),
    }
}

const NOT_AN_ARRAY: &str = "args_json must be a JSON array";

/// What [`scalars_into`] did.
pub enum Scalars {
    /// The arguments are in the vector.
    Done,
    /// A Python error while making an object.
    Failed(Error),
    /// Not a flat array of simple scalars: use the general parser (from the start).
    General,
}

/// A number in the simplest JSON forms — `-?digits` up to 18 digits, or `-?digits.digits` up to
/// 15 significant digits — as a new Python object; `None` for anything else (exponents, long
/// numbers, syntax errors: the general parser handles them). `Some(Err)`: MemoryError, pending.
#[inline(always)]
fn simple_number(py: Python, b: &[u8], i: &mut usize) -> Option<PyResult<PyRef>> {
    let mut p = *i;
    let negative = b.get(p) == Some(&b'-');
    p += usize::from(negative);
    let start = p;
    let mut mantissa: u64 = 0;
    while let Some(&c) = b.get(p) {
        if !c.is_ascii_digit() {
            break;
        }
        mantissa = mantissa * 10 + u64::from(c - b'0');
        p += 1;
        if p - start > 18 {
            return None;
        }
    }
    let int_digits = p - start;
    if int_digits == 0 || (int_digits > 1 && b[start] == b'0') {
        return None;
    }
    if b.get(p) != Some(&b'.') {
        if matches!(b.get(p), Some(b'e' | b'E')) {
            return None;
        }
        *i = p;
        let v = mantissa as i64;
        return Some(py.new_int(if negative { -v } else { v }));
    }
    p += 1;
    let frac_start = p;
    while let Some(&c) = b.get(p) {
        if !c.is_ascii_digit() {
            break;
        }
        mantissa = mantissa * 10 + u64::from(c - b'0');
        p += 1;
        if int_digits + (p - frac_start) > 15 {
            return None;
        }
    }
    let fraction = p - frac_start;
    if fraction == 0 || matches!(b.get(p), Some(b'e' | b'E')) {
        return None;
    }
    *i = p;
    // Exact: mantissa < 10^15 < 2^53 and 10^fraction is exact (Clinger's fast path), so this is
    // correctly rounded, as Python's float() is.
    let v = mantissa as f64 / json::POW10[fraction];
    Some(py.new_float(if negative { -v } else { v }))
}

/// Reads the common argument list — a flat array of numbers, plain strings, booleans and nulls
/// (`[16.0]`, `[2, 3]`, `["a", 1]`) — into `out`, without the general parser's machinery.
/// Tagged mode changes nothing for such scalars, so both modes use this.
#[inline]
pub fn scalars_into(py: Python, b: &[u8], out: &mut ArgVec) -> Scalars {
    #[inline(always)]
    fn ws(b: &[u8], mut i: usize) -> usize {
        while matches!(b.get(i), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            i += 1;
        }
        i
    }
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Scalars::General;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b']') {
        return if ws(b, i + 1) == b.len() { Scalars::Done } else { Scalars::General };
    }
    loop {
        let Some(&c) = b.get(i) else { return Scalars::General };
        let p = match c {
            b'-' | b'0'..=b'9' => match simple_number(py, b, &mut i) {
                Some(p) => p,
                None => return Scalars::General,
            },
            b'"' => {
                let start = i + 1;
                let Some(len) = b[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20) else { return Scalars::General };
                if b[start + len] != b'"' {
                    return Scalars::General;
                }
                let Ok(text) = std::str::from_utf8(&b[start..start + len]) else { return Scalars::General };
                i = start + len + 1;
                py.new_str(text)
            }
            b't' if b[i..].starts_with(b"true") => {
                i += 4;
                Ok(py.bool_ref(true))
            }
            b'f' if b[i..].starts_with(b"false") => {
                i += 5;
                Ok(py.bool_ref(false))
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                Ok(py.none_ref())
            }
            _ => return Scalars::General,
        };
        match p {
            Ok(v) => out.push(v),
            Err(PyErrPending) => return Scalars::Failed(exception::fetch(py)),
        }
        i = ws(b, i);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b']') => return if ws(b, i + 1) == b.len() { Scalars::Done } else { Scalars::General },
            _ => return Scalars::General,
        }
    }
}

/// The top-level array collects into a Vec; everything below it is an ordinary Python object.
enum ArgsValue {
    Top,
    Py(PyRef),
}

struct ArgsBuilder<'py> {
    inner: PyBuilder<'py>,
    top: Option<ArgList>,
}

impl ArgsBuilder<'_> {
    fn py(v: Result<PyRef, String>) -> Result<ArgsValue, String> {
        v.map(ArgsValue::Py)
    }
    fn nested(v: ArgsValue) -> PyRef {
        match v {
            ArgsValue::Py(p) => p,
            ArgsValue::Top => unreachable!("the top-level array is never nested"),
        }
    }
}

impl Builder for ArgsBuilder<'_> {
    type Value = ArgsValue;
    fn null(&mut self) -> Result<ArgsValue, String> {
        Self::py(self.inner.null())
    }
    fn boolean(&mut self, v: bool) -> Result<ArgsValue, String> {
        Self::py(self.inner.boolean(v))
    }
    fn integer(&mut self, t: &str) -> Result<ArgsValue, String> {
        Self::py(self.inner.integer(t))
    }
    fn small_integer(&mut self, v: i64, t: &str) -> Result<ArgsValue, String> {
        Self::py(self.inner.small_integer(v, t))
    }
    fn float(&mut self, v: f64) -> Result<ArgsValue, String> {
        Self::py(self.inner.float(v))
    }
    fn string(&mut self, v: &str) -> Result<ArgsValue, String> {
        Self::py(self.inner.string(v))
    }
    fn key(&mut self, v: &str) -> Result<ArgsValue, String> {
        Self::py(self.inner.key(v))
    }
    fn new_array(&mut self) -> Result<ArgsValue, String> {
        if self.top.is_none() {
            self.top = Some(ArgList::new());
            return Ok(ArgsValue::Top);
        }
        Self::py(self.inner.new_array())
    }
    fn array_push(&mut self, array: &mut ArgsValue, item: ArgsValue) -> Result<(), String> {
        let item = Self::nested(item);
        match array {
            ArgsValue::Top => {
                self.top.as_mut().expect("top array open").push(item);
                Ok(())
            }
            ArgsValue::Py(list) => self.inner.array_push(list, item),
        }
    }
    fn new_object(&mut self) -> Result<ArgsValue, String> {
        if self.top.is_none() {
            return Err(NOT_AN_ARRAY.into());
        }
        Self::py(self.inner.new_object())
    }
    fn object_insert(&mut self, object: &mut ArgsValue, key: ArgsValue, value: ArgsValue) -> Result<(), String> {
        match object {
            ArgsValue::Py(dict) => self.inner.object_insert(dict, Self::nested(key), Self::nested(value)),
            ArgsValue::Top => unreachable!("the top-level value is an array"),
        }
    }
    fn end_object(&mut self, object: ArgsValue) -> Result<ArgsValue, String> {
        Self::py(self.inner.end_object(Self::nested(object)))
    }
}
