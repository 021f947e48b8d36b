//! JSON text <-> Python objects, directly (no Python `json` module, no intermediate tree).
//!
//! Safety: everything here runs under a [`Python`] token (the GIL is held, or the thread is
//! attached on a free-threaded build). The `PyPtr` a [`Writer`] method takes is a live object
//! for the whole call: the top-level value is held by the caller, and each nested value is
//! either owned while it is written (list items, dict pairs, iterator items: encoding may run
//! Python code that changes the container) or an item of a tuple, which cannot change and
//! holds its items for as long as the caller holds the tuple.

use std::ffi::CString;

use super::exception;
use super::ffi::{self, PyPtr};
use super::pyref::type_name;
use super::{PyRef, Python};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::json::{self, write, Builder, ParseError, MAX_DEPTH};

/// How values cross the boundary (docs/values.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValueMode {
    /// The tagged encoding, in both directions: `{"__pyrt__": kind, "v": ...}` carries bytes,
    /// tuples, sets, non-str-keyed dicts, non-finite floats, complex, datetimes, Decimal and
    /// object handles.
    pub tagged: bool,
    /// Outputs: a value with no encoding becomes an object handle of this runtime (instead of a
    /// conversion error).
    pub handles_for: Option<u64>,
}

/// Plain JSON only (the `pyrt_call_json` contract).
pub const PLAIN: ValueMode = ValueMode { tagged: false, handles_for: None };

/// The tag key. A dict that has this key among its keys is always written in the general
/// `{"__pyrt__": "dict", "v": [[k, v], ...]}` form, so ordinary data can never read as a tag.
pub const TAG: &str = "__pyrt__";

/// Decimal digits every CPython converts without hitting its int/str limit (4300 by default).
const SAFE_INT_DIGITS: usize = 4000;

/// Runs `f` with CPython's int <-> decimal string digit limit lifted (`sys.set_int_max_str_digits`,
/// CVE-2020-10735; 3.11+ and the 3.8-3.10 security releases), then restores it. JSON integers are
/// exact at any size, and the limit guards `int(str)` in user code, which keeps it: no Python code
/// runs while the limit is lifted (the GIL is held throughout). Without the function (older
/// patch releases have no limit) `f` just runs. A pending error from `f` survives the restore.
pub(crate) fn without_int_digit_limit(py: Python, f: impl FnOnce() -> PyPtr) -> PyPtr {
    let api = py.api;
    // SAFETY: the `Python` token proves the GIL is held. `get`/`set` are borrowed from the sys
    // module's dict and used before any Python code other than their own calls runs (neither
    // replaces itself in `sys`); every new reference made here is released on each path; the
    // error saved around the restore is restored unchanged (PyErr_Fetch/Restore pair).
    unsafe {
        // Borrowed references into the sys module's dict.
        let get = (api.PySys_GetObject)(c"get_int_max_str_digits".as_ptr());
        let set = (api.PySys_GetObject)(c"set_int_max_str_digits".as_ptr());
        if get.is_null() || set.is_null() {
            return f();
        }
        let old = (api.PyObject_CallObject)(get, std::ptr::null_mut());
        if old.is_null() {
            (api.PyErr_Clear)();
            return f();
        }
        let set_to = |value: PyPtr| {
            let args = (api.PyTuple_New)(1);
            if args.is_null() {
                return false;
            }
            (api.Py_IncRef)(value);
            (api.PyTuple_SetItem)(args, 0, value);
            let r = (api.PyObject_CallObject)(set, args);
            (api.Py_DecRef)(args);
            (api.Py_DecRef)(r);
            !r.is_null()
        };
        let zero = (api.PyLong_FromLongLong)(0);
        let lifted = !zero.is_null() && set_to(zero);
        (api.Py_DecRef)(zero);
        if !lifted {
            (api.PyErr_Clear)();
            (api.Py_DecRef)(old);
            return f();
        }
        let result = f();
        let (mut t, mut v, mut tb) = (std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut());
        (api.PyErr_Fetch)(&mut t, &mut v, &mut tb);
        if !set_to(old) {
            (api.PyErr_Clear)();
        }
        (api.PyErr_Restore)(t, v, tb);
        (api.Py_DecRef)(old);
        result
    }
}

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

    /// Wraps a new reference, turning NULL into the pending Python error's text.
    fn own(&self, p: PyPtr) -> Result<PyRef, String> {
        self.made(PyRef::from_owned(p))
    }

    /// A made object, or the pending Python error's text.
    fn made(&self, r: Option<PyRef>) -> Result<PyRef, String> {
        r.ok_or_else(|| exception::fetch(self.py).to_string())
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
        let api = self.py.api;
        // Up to 18 digits always fits in i64; longer goes through CPython's exact parser.
        if text.len() <= 18 {
            let v: i64 = text.parse().map_err(|_| format!("invalid integer {text}"))?;
            return self.made(self.py.new_int(v));
        }
        let c = CString::new(text).map_err(|_| "integer contains NUL".to_string())?;
        // SAFETY: the `Python` token proves the GIL is held; `c` is a NUL-terminated string alive
        // for the call; a NULL end pointer is allowed.
        let parse = || unsafe { (api.PyLong_FromString)(c.as_ptr(), std::ptr::null_mut(), 10) };
        if text.len() > SAFE_INT_DIGITS {
            self.own(without_int_digit_limit(self.py, parse))
        } else {
            self.own(parse())
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
        if !self.py.list_append(array, &item) {
            return Err(exception::fetch(self.py).to_string());
        }
        Ok(())
    }
    fn new_object(&mut self) -> Result<PyRef, String> {
        self.made(self.py.new_dict())
    }
    fn object_insert(&mut self, object: &mut PyRef, key: PyRef, value: PyRef) -> Result<(), String> {
        if !self.py.dict_set(object, &key, &value) {
            return Err(exception::fetch(self.py).to_string());
        }
        Ok(())
    }
    fn end_object(&mut self, object: PyRef) -> Result<PyRef, String> {
        if !self.tagged {
            return Ok(object);
        }
        super::tags::decode(self.py, object)
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

/// Call arguments: up to [`ArgList::INLINE`] held inline (no allocation for a typical call),
/// more in a vector; always one contiguous slice.
pub struct ArgList {
    inline: [Option<PyRef>; ArgList::INLINE],
    n: usize,
    spill: Vec<PyRef>,
}

impl ArgList {
    pub const INLINE: usize = 6;

    pub fn new() -> ArgList {
        ArgList { inline: Default::default(), n: 0, spill: Vec::new() }
    }

    pub fn push(&mut self, v: PyRef) {
        if self.spill.is_empty() && self.n < Self::INLINE {
            self.inline[self.n] = Some(v);
            self.n += 1;
            return;
        }
        if self.spill.is_empty() {
            // Move to the vector, keeping the order (and the slice contiguous).
            self.spill.reserve(Self::INLINE * 2);
            self.spill.extend(self.inline[..self.n].iter_mut().map(|s| s.take().expect("filled slots")));
            self.n = 0;
        }
        self.spill.push(v);
    }
}

impl Default for ArgList {
    fn default() -> Self {
        ArgList::new()
    }
}

impl std::ops::Deref for ArgList {
    type Target = [PyRef];
    fn deref(&self) -> &[PyRef] {
        if !self.spill.is_empty() {
            return &self.spill;
        }
        // SAFETY: Option<PyRef> has PyRef's layout (a non-null pointer; None is null), and the
        // first `n` slots are Some.
        unsafe { std::slice::from_raw_parts(self.inline.as_ptr().cast::<PyRef>(), self.n) }
    }
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
/// numbers, syntax errors: the general parser handles them). `Some(None)`: MemoryError, pending.
#[inline(always)]
fn simple_number(py: Python, b: &[u8], i: &mut usize) -> Option<Option<PyRef>> {
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
                Some(py.bool_ref(true))
            }
            b'f' if b[i..].starts_with(b"false") => {
                i += 5;
                Some(py.bool_ref(false))
            }
            b'n' if b[i..].starts_with(b"null") => {
                i += 4;
                Some(py.none_ref())
            }
            _ => return Scalars::General,
        };
        match p {
            Some(v) => out.push(v),
            None => return Scalars::Failed(exception::fetch(py)),
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

/// One step of the path to a value inside the converted object, for error messages. A key is
/// kept as the (referenced) key object and turned into text only when an error needs it.
enum Step {
    Index(usize),
    Key(PyRef),
}

fn path_text(py: Python, path: &[Step]) -> String {
    let mut s = String::from("$");
    for step in path {
        match step {
            Step::Index(i) => s.push_str(&format!("[{i}]")),
            Step::Key(k) => {
                let k = exception::utf8_of(py, k.as_ptr()).unwrap_or_default();
                let mut quoted = Vec::new();
                write::string(&mut quoted, &k);
                s.push('[');
                s.push_str(&String::from_utf8_lossy(&quoted));
                s.push(']');
            }
        }
    }
    s
}

pub(crate) struct Writer<'py, 'o> {
    pub(crate) py: Python<'py>,
    pub(crate) out: &'o mut Vec<u8>,
    path: Vec<Step>,
    pub(crate) mode: ValueMode,
}

impl Writer<'_, '_> {
    pub(crate) fn fail(&self, what: String) -> Error {
        Error::new(ErrorKind::Conversion, format!("{what} at {}", path_text(self.py, &self.path)))
    }

    pub(crate) fn value(&mut self, o: PyPtr) -> Result<()> {
        let api = self.py.api;
        if o == api.none() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        // SAFETY: `o` is a live object (the Writer's contract, module note), so its type is.
        let t = unsafe { ffi::py_type(o) };
        if t == api.PyBool_Type {
            self.out.extend_from_slice(if o == api._Py_TrueStruct { b"true" } else { b"false" });
            return Ok(());
        }
        if t == api.PyFloat_Type {
            return self.float(o);
        }
        if t == api.PyLong_Type {
            return self.int(o);
        }
        if t == api.PyUnicode_Type {
            return self.str(o);
        }
        if t == api.PyList_Type {
            return self.list(o);
        }
        if t == api.PyDict_Type {
            return self.dict(o);
        }
        if t == api.PyTuple_Type {
            return self.tuple(o);
        }
        if self.mode.tagged {
            if let Some(done) = super::tags::encode_exact(self, o, t)? {
                return Ok(done);
            }
        }
        // Subclasses (IntEnum, str enums, OrderedDict, namedtuple, ...) keep their base's form.
        // SAFETY: `t` is the type of the live `o`, alive as long as `o` is; the GIL is held.
        let flags = unsafe { (api.PyType_GetFlags)(t) };
        if flags & ffi::TPFLAGS_LONG_SUBCLASS != 0 {
            return self.int(o);
        }
        if flags & ffi::TPFLAGS_UNICODE_SUBCLASS != 0 {
            return self.str(o);
        }
        if flags & ffi::TPFLAGS_LIST_SUBCLASS != 0 {
            return self.list(o);
        }
        if flags & ffi::TPFLAGS_TUPLE_SUBCLASS != 0 {
            return self.tuple(o);
        }
        if flags & ffi::TPFLAGS_DICT_SUBCLASS != 0 {
            return self.dict(o);
        }
        // SAFETY: as above; PyFloat_Type is a static type object.
        if unsafe { (api.PyType_IsSubtype)(t, api.PyFloat_Type) } != 0 {
            return self.float(o);
        }
        if self.mode.tagged {
            if let Some(done) = super::tags::encode_other(self, o, t)? {
                return Ok(done);
            }
        }
        if let Some(runtime) = self.mode.handles_for {
            let handle = super::handles::register(PyRef::from_borrowed(self.py, o).expect("non-null"), runtime)?;
            self.tag_open("object");
            write::integer(self.out, handle as i64);
            self.out.push(b'}');
            return Ok(());
        }
        let form = if self.mode.tagged { "encoding" } else { "JSON form" };
        Err(self.fail(format!("Python type '{}' has no {form}", type_name(o))))
    }

    /// Writes `{"__pyrt__":"<kind>","v":` (the caller writes the value and the closing brace).
    pub(crate) fn tag_open(&mut self, kind: &str) {
        self.out.extend_from_slice(b"{\"__pyrt__\":\"");
        self.out.extend_from_slice(kind.as_bytes());
        self.out.extend_from_slice(b"\",\"v\":");
    }

    /// Writes every item an iterator yields as a JSON array (sets, frozensets).
    pub(crate) fn iterable(&mut self, o: PyPtr) -> Result<()> {
        self.enter()?;
        let api = self.py.api;
        // SAFETY: `o` is live (module note); the iterator is a new reference, owned by `it`.
        let it = unsafe { PyRef::from_owned((api.PyObject_GetIter)(o)) }.ok_or_else(|| exception::fetch(self.py))?;
        self.out.push(b'[');
        let mut i = 0usize;
        loop {
            // SAFETY: `it` is an owned iterator; each item is a new reference, owned at once below.
            let item = unsafe { (api.PyIter_Next)(it.as_ptr()) };
            let Some(item) = PyRef::from_owned(item) else {
                if self.py.error_pending() {
                    return Err(exception::fetch(self.py));
                }
                break;
            };
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i));
            self.value(item.as_ptr())?;
            self.path.pop();
            i += 1;
        }
        self.out.push(b']');
        Ok(())
    }

    fn float(&mut self, o: PyPtr) -> Result<()> {
        // SAFETY: `o` is a live float (dispatched by its type); the GIL is held.
        let v = unsafe { (self.py.api.PyFloat_AsDouble)(o) };
        if self.mode.tagged && !v.is_finite() {
            self.tag_open("float");
            write::string(self.out, super::tags::non_finite_name(v));
            self.out.push(b'}');
            return Ok(());
        }
        if !write::float(self.out, v) {
            return Err(self.fail(format!(
                "float {} has no JSON form",
                if v.is_nan() {
                    "nan"
                } else if v > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }
            )));
        }
        Ok(())
    }

    fn int(&mut self, o: PyPtr) -> Result<()> {
        let api = self.py.api;
        let mut overflow = 0;
        // SAFETY: `o` is a live int (dispatched by its type); `overflow` is a valid out-pointer.
        let v = unsafe { (api.PyLong_AsLongLongAndOverflow)(o, &mut overflow) };
        if overflow == 0 {
            if v == -1 && self.py.error_pending() {
                return Err(exception::fetch(self.py));
            }
            write::integer(self.out, v);
            return Ok(());
        }
        // Beyond 64 bits: CPython's own exact decimal conversion (also right for int subclasses,
        // whose str() may be something else, e.g. an IntEnum's name).
        // SAFETY: `o` is a live int; the result is a new reference, owned by `text`.
        let mut text = unsafe { PyRef::from_owned((api.PyNumber_ToBase)(o, 10)) };
        // SAFETY: the GIL is held; PyExc_ValueError is the address of CPython's exported static
        // pointer to the ValueError type (read by `exception`); a NULL pending error matches nothing.
        let value_error = unsafe { (api.PyErr_GivenExceptionMatches)((api.PyErr_Occurred)(), api.exception(api.PyExc_ValueError)) } != 0;
        if text.is_none() && value_error {
            // Probably more digits than CPython's int/str limit allows: JSON integers are exact.
            self.py.clear_error();
            // SAFETY: as above.
            text = PyRef::from_owned(without_int_digit_limit(self.py, || unsafe { (api.PyNumber_ToBase)(o, 10) }));
        }
        let text = text.ok_or_else(|| exception::fetch(self.py))?;
        let digits = exception::utf8_of(self.py, text.as_ptr()).ok_or_else(|| self.fail("int has no decimal form".into()))?;
        self.out.extend_from_slice(digits.as_bytes());
        Ok(())
    }

    fn str(&mut self, o: PyPtr) -> Result<()> {
        let api = self.py.api;
        let mut len = 0isize;
        // SAFETY: `o` is a live str (or subclass, checked by the caller); `len` is a valid
        // out-pointer. The UTF-8 buffer is cached in `o` and lives as long as `o`.
        let p = unsafe { (api.PyUnicode_AsUTF8AndSize)(o, &mut len) };
        if p.is_null() {
            self.py.clear_error();
            return Err(self.fail("str with lone surrogates has no UTF-8 (JSON) form".into()));
        }
        // SAFETY: CPython guarantees `len` valid UTF-8 bytes at `p` while `o` lives.
        let s = unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(p.cast::<u8>(), len as usize)) };
        write::string(self.out, s);
        Ok(())
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.path.len() >= MAX_DEPTH {
            return Err(self.fail(format!("value nested deeper than {MAX_DEPTH} levels (a reference cycle?)")));
        }
        Ok(())
    }

    fn list(&mut self, o: PyPtr) -> Result<()> {
        self.enter()?;
        self.out.push(b'[');
        let mut i = 0;
        // Each item is owned while it is converted, and the size re-read each step: converting
        // an item may run Python code (`isoformat()`, `str()`, a property in tagged mode) that
        // changes the list, and on a free-threaded build another thread may.
        while let Some(item) = list_item(self.py, o, i) {
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i as usize));
            self.value(item.as_ptr())?;
            self.path.pop();
            i += 1;
        }
        self.out.push(b']');
        Ok(())
    }

    fn tuple(&mut self, o: PyPtr) -> Result<()> {
        self.enter()?;
        let api = self.py.api;
        if self.mode.tagged {
            self.tag_open("tuple");
        }
        self.out.push(b'[');
        // SAFETY: `o` is a live tuple (dispatched by its type).
        let n = unsafe { (api.PyTuple_Size)(o) };
        for i in 0..n {
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i as usize));
            // SAFETY: `i` < the tuple's size (a tuple never changes size); the item is borrowed
            // from the tuple, which the caller keeps alive and which holds the item for as long.
            self.value(unsafe { (api.PyTuple_GetItem)(o, i) })?;
            self.path.pop();
        }
        self.out.push(b']');
        if self.mode.tagged {
            self.out.push(b'}');
        }
        Ok(())
    }

    fn dict(&mut self, o: PyPtr) -> Result<()> {
        self.enter()?;
        let api = self.py.api;
        if self.mode.tagged && !self.plain_keys(o) {
            return self.dict_pairs(o);
        }
        self.out.push(b'{');
        let mut first = true;
        let mut items = DictItems::new(self.py, o).map_err(|e| self.fail(e.message.clone()))?;
        while let Some((key, value)) = items.next(self.py).map_err(|e| self.fail(e.message.clone()))? {
            let (k, v) = (key.as_ptr(), value.as_ptr());
            if !first {
                self.out.push(b',');
            }
            first = false;
            // SAFETY: `k` is owned by `key` (DictItems); its type lives as long as it does.
            let kt = unsafe { ffi::py_type(k) };
            // SAFETY: as above.
            let str_subclass = unsafe { (api.PyType_GetFlags)(kt) } & ffi::TPFLAGS_UNICODE_SUBCLASS != 0;
            if kt != api.PyUnicode_Type && !str_subclass {
                return Err(self.fail(format!("dict key of type '{}' has no JSON form (keys must be str)", type_name(k))));
            }
            self.str(k)?;
            self.out.push(b':');
            self.path.push(Step::Key(key));
            self.value(v)?;
            self.path.pop();
        }
        self.out.push(b'}');
        Ok(())
    }
}

impl Writer<'_, '_> {
    /// True when every key is a str other than the tag key (the dict can be a plain object).
    fn plain_keys(&self, o: PyPtr) -> bool {
        let api = self.py.api;
        let Ok(mut items) = DictItems::new(self.py, o) else { return false };
        while let Ok(Some((key, _))) = items.next(self.py) {
            let k = key.as_ptr();
            // SAFETY: `k` is owned by `key` (DictItems); its type lives as long as it does.
            let kt = unsafe { ffi::py_type(k) };
            // SAFETY: as above.
            let str_subclass = unsafe { (api.PyType_GetFlags)(kt) } & ffi::TPFLAGS_UNICODE_SUBCLASS != 0;
            if kt != api.PyUnicode_Type && !str_subclass {
                return false;
            }
            if exception::utf8_of(self.py, k).as_deref() == Some(TAG) {
                return false;
            }
        }
        true
    }

    /// `{"__pyrt__":"dict","v":[[k,v],...]}`: any keys, in insertion order.
    fn dict_pairs(&mut self, o: PyPtr) -> Result<()> {
        self.tag_open("dict");
        self.out.push(b'[');
        let mut i = 0usize;
        let mut items = DictItems::new(self.py, o).map_err(|e| self.fail(e.message.clone()))?;
        while let Some((key, value)) = items.next(self.py).map_err(|e| self.fail(e.message.clone()))? {
            let (k, v) = (key.as_ptr(), value.as_ptr());
            if i > 0 {
                self.out.push(b',');
            }
            self.out.push(b'[');
            self.path.push(Step::Index(i));
            self.value(k)?;
            self.out.push(b',');
            self.value(v)?;
            self.path.pop();
            self.out.push(b']');
            i += 1;
        }
        self.out.extend_from_slice(b"]}");
        Ok(())
    }
}

/// Appends the JSON form of `o` to `out`. On error `out` holds a partial document.
pub fn to_json(py: Python, o: PyPtr, out: &mut Vec<u8>) -> Result<()> {
    to_json_mode(py, o, out, PLAIN)
}

/// Appends the encoding of `o` in `mode`.
pub fn to_json_mode(py: Python, o: PyPtr, out: &mut Vec<u8>, mode: ValueMode) -> Result<()> {
    Writer { py, out, path: Vec::new(), mode }.value(o)
}

/// The encoding of `o` in `mode`, as a C string.
pub fn to_json_cstring_mode(py: Python, o: PyPtr, mode: ValueMode) -> Result<CText> {
    with_scratch(py, |out| {
        to_json_mode(py, o, out, mode)?;
        Ok(finish_cstring(out))
    })
}

/// Runs `f` with the thread's scratch buffer (`gil::ThreadCtx::scratch`), kept between calls so
/// a call allocates only the exact-size copy it returns (a growing Vec would allocate and then
/// shrink).
fn with_scratch<R>(py: Python, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let Some(ctx) = py.thread() else {
        return f(&mut Vec::new());
    };
    // Taken out while in use: a conversion that re-enters (Python code calling back into pyrt)
    // simply gets a fresh buffer.
    let mut buf = ctx.scratch.take();
    buf.clear();
    let r = f(&mut buf);
    if buf.capacity() <= 64 << 10 {
        ctx.scratch.set(buf);
    }
    r
}

#[inline]
fn finish_cstring(text: &[u8]) -> CText {
    // The writer escapes every control character, so the text has no NUL.
    CText::from_bytes_unchecked(text)
}

/// Writes the JSON text of `o` into the thread's scratch buffer and hands it to `f`.
pub fn with_json<R>(py: Python, o: PyPtr, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    with_scratch(py, |out| {
        to_json(py, o, out)?;
        Ok(f(out))
    })
}

/// The JSON text of `o` as a C string (JSON output never contains NUL: control characters are
/// escaped).
pub fn to_json_cstring(py: Python, o: PyPtr) -> Result<CText> {
    with_scratch(py, |out| {
        to_json(py, o, out)?;
        Ok(finish_cstring(out))
    })
}

/// Call arguments as owned Python references, on the stack for up to [`ArgVec::INLINE`] (no
/// allocation for a typical call). Dropping it releases them.
pub struct ArgVec<'py> {
    py: Python<'py>,
    inline: [PyPtr; ArgVec::INLINE],
    n: usize,
    spill: Vec<PyRef>,
    /// Host arrays lent to the call (`Arg::Buffer`); closed after it (see [`ArgVec::finish`]).
    pub loans: super::buffer::Loans,
}

impl<'py> ArgVec<'py> {
    pub const INLINE: usize = 8;

    #[inline(always)]
    pub fn new(py: Python<'py>) -> ArgVec<'py> {
        ArgVec { py, inline: [std::ptr::null_mut(); ArgVec::INLINE], n: 0, spill: Vec::new(), loans: Default::default() }
    }

    /// Converts every typed argument (on failure the ones already made are released).
    #[inline(always)]
    pub fn typed(py: Python<'py>, args: &[crate::args::Arg]) -> Result<ArgVec<'py>> {
        let mut t = ArgVec::new(py);
        for a in args {
            let v = match *a {
                crate::args::Arg::Buffer { data, count, elem, writable } => {
                    t.loans.lend(py, data as *mut std::ffi::c_void, count, elem, writable)?
                }
                _ => arg_to_py(py, a)?,
            };
            t.push(v);
        }
        Ok(t)
    }

    /// Drops the argument references and ends the host buffers' loans; returns the loans
    /// (closed) and whether Python still holds views of them (see `buffer::Loans::close`).
    pub fn finish(mut self) -> (super::buffer::Loans, bool) {
        self.release_args();
        let mut loans = std::mem::take(&mut self.loans);
        let escaped = !loans.is_empty() && loans.close(self.py);
        (loans, escaped)
    }

    fn release_args(&mut self) {
        for &p in &self.inline[..self.n] {
            // SAFETY: each of the first `n` slots holds a strong reference this vector owns
            // (`push` stored `into_ptr`); `n` is reset below so none is released twice.
            unsafe { (self.py.api.Py_DecRef)(p) };
        }
        self.n = 0;
        self.spill.clear();
    }

    #[inline(always)]
    pub fn push(&mut self, v: PyRef) {
        if self.n < Self::INLINE {
            self.inline[self.n] = v.into_ptr();
            self.n += 1;
        } else {
            self.push_spill(v);
        }
    }

    #[inline(never)]
    fn push_spill(&mut self, v: PyRef) {
        if self.spill.is_empty() {
            self.spill.reserve(Self::INLINE * 2);
            for p in &mut self.inline[..self.n] {
                self.spill.push(PyRef::from_owned(std::mem::replace(p, std::ptr::null_mut())).expect("filled slots"));
            }
            self.n = 0;
        }
        self.spill.push(v);
    }

    /// The arguments as a `PyObject *const *` vector.
    #[inline(always)]
    pub fn as_ptrs(&self) -> &[PyPtr] {
        if self.spill.is_empty() {
            &self.inline[..self.n]
        } else {
            // SAFETY: PyRef is a transparent non-null pointer.
            unsafe { std::slice::from_raw_parts(self.spill.as_ptr().cast::<PyPtr>(), self.spill.len()) }
        }
    }
}

impl Drop for ArgVec<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        for &p in &self.inline[..self.n] {
            // SAFETY: as in `release_args`; the vector's `py` token outlives it.
            unsafe { (self.py.api.Py_DecRef)(p) };
        }
        // (Loans close themselves when dropped, after the arguments above.)
    }
}

/// A typed host argument as a new Python object.
#[inline]
pub fn arg_to_py(py: Python, arg: &crate::args::Arg) -> Result<PyRef> {
    use crate::args::Arg;
    let made = match arg {
        Arg::None => return Ok(py.none_ref()),
        Arg::Bool(b) => return Ok(py.bool_ref(*b)),
        Arg::Int(v) => py.new_int(*v),
        Arg::Double(v) => py.new_float(*v),
        Arg::Str(s) => py.new_str(s),
        // SAFETY: the GIL is held; `b` is valid for `b.len()` bytes (a Vec never exceeds isize::MAX).
        Arg::Bytes(b) => PyRef::from_owned(unsafe { (py.api.PyBytes_FromStringAndSize)(b.as_ptr().cast(), b.len() as isize) }),
        Arg::Object(id) => return super::handles::get(py, *id),
        Arg::Buffer { .. } => return Err(Error::invalid_argument("host buffers can only be lent to typed calls (pyrt_object_call_*)")),
    };
    made.ok_or_else(|| exception::fetch(py))
}

/// A float result (an int is accepted and converted, as Python's float() would).
#[inline]
pub fn result_double(py: Python, o: PyPtr) -> Result<f64> {
    let api = py.api;
    // SAFETY: `o` is the live result the caller holds; its type lives as long as it does, and
    // PyFloat_Type is static.
    let (t, float_subclass, int_subclass) = unsafe {
        let t = ffi::py_type(o);
        (t, (api.PyType_IsSubtype)(t, api.PyFloat_Type) != 0, (api.PyType_GetFlags)(t) & ffi::TPFLAGS_LONG_SUBCLASS != 0)
    };
    let is_number = t == api.PyFloat_Type || t == api.PyLong_Type || float_subclass || int_subclass;
    if !is_number {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not a float", type_name(o))));
    }
    // SAFETY: `o` is live and a float or an int (checked above).
    let v = unsafe { (api.PyFloat_AsDouble)(o) };
    if v == -1.0 && py.error_pending() {
        return Err(exception::fetch(py));
    }
    Ok(v)
}

/// An int result that fits in 64 bits (bool counts as int, as in Python).
#[inline]
pub fn result_int(py: Python, o: PyPtr) -> Result<i64> {
    let api = py.api;
    // SAFETY: `o` is the live result the caller holds; its type lives as long as it does.
    let is_int = unsafe { (api.PyType_GetFlags)(ffi::py_type(o)) } & ffi::TPFLAGS_LONG_SUBCLASS != 0;
    if !is_int {
        return Err(Error::new(ErrorKind::Conversion, format!("result of type '{}' is not an int", type_name(o))));
    }
    let mut overflow = 0;
    // SAFETY: `o` is a live int (checked above); `overflow` is a valid out-pointer.
    let v = unsafe { (api.PyLong_AsLongLongAndOverflow)(o, &mut overflow) };
    if overflow != 0 {
        return Err(Error::new(ErrorKind::Conversion, "int result does not fit in 64 bits"));
    }
    if v == -1 && py.error_pending() {
        return Err(exception::fetch(py));
    }
    Ok(v)
}

// ---- items out of containers, owned --------------------------------------------------------------

/// Item `i` of a list, as a strong reference; `None` past the end. On a free-threaded build
/// `PyList_GetItemRef` (3.13+) takes it atomically; with the GIL, nothing can run between the
/// borrow and the incref.
pub(crate) fn list_item(py: Python, list: PyPtr, i: isize) -> Option<PyRef> {
    let api = py.api;
    if let (true, Some(get_ref)) = (ffi::free_threaded(), api.PyList_GetItemRef) {
        // SAFETY: `list` is a live list (checked by the caller's type dispatch).
        let p = unsafe { get_ref(list, i) };
        if p.is_null() {
            py.clear_error(); // IndexError: the list ended (or shrank)
        }
        return PyRef::from_owned(p);
    }
    // SAFETY: as above; the bound is checked first, so PyList_GetItem sets no error.
    if i >= unsafe { (api.PyList_Size)(list) } {
        return None;
    }
    // SAFETY: `i` is in bounds (checked just above, and with the GIL held nothing ran since); the
    // borrowed item is increfed by `from_borrowed` before any Python code can run.
    PyRef::from_borrowed(py, unsafe { (api.PyList_GetItem)(list, i) })
}

/// A dict's items, each key and value owned while it is used.
///
/// With the GIL: `PyDict_Next` with each pair increfed at once, and the dict's size checked
/// before each step, so Python code run while converting a value (a `__str__`, `isoformat()`)
/// that changes the dict ends the conversion with an error, as iterating it in Python would,
/// instead of reading a changed table. Free-threaded: a snapshot (`PyDict_Items`, which locks
/// the dict), because another thread may change it at any moment.
pub(crate) enum DictItems {
    Live { dict: PyPtr, pos: isize, size: isize },
    Snapshot { items: PyRef, i: isize },
}

impl DictItems {
    pub(crate) fn new(py: Python, dict: PyPtr) -> Result<DictItems> {
        let api = py.api;
        if ffi::free_threaded() {
            // SAFETY: `dict` is a live dict; PyDict_Items returns a new list of new tuples.
            let items = PyRef::from_owned(unsafe { (api.PyDict_Items)(dict) }).ok_or_else(|| exception::fetch(py))?;
            return Ok(DictItems::Snapshot { items, i: 0 });
        }
        // SAFETY: `dict` is a live dict (the caller's type dispatch; it holds a reference).
        let size = unsafe { (api.PyDict_Size)(dict) };
        Ok(DictItems::Live { dict, pos: 0, size })
    }

    pub(crate) fn next(&mut self, py: Python) -> Result<Option<(PyRef, PyRef)>> {
        let api = py.api;
        match self {
            DictItems::Live { dict, pos, size } => {
                // SAFETY: the dict is alive (the caller holds it); the pair is increfed before any
                // Python code can run.
                if unsafe { (api.PyDict_Size)(*dict) } != *size {
                    return Err(Error::new(ErrorKind::Conversion, "dictionary changed size during conversion"));
                }
                let (mut k, mut v): (PyPtr, PyPtr) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: as above; `pos` is this iteration's cursor (only PyDict_Next moves it) and
                // `k`/`v` are valid out-pointers for borrowed references, owned at once below.
                if unsafe { (api.PyDict_Next)(*dict, pos, &mut k, &mut v) } == 0 {
                    return Ok(None);
                }
                Ok(PyRef::from_borrowed(py, k).zip(PyRef::from_borrowed(py, v)))
            }
            DictItems::Snapshot { items, i } => {
                // SAFETY: the snapshot list and its tuples are private to this iterator.
                let Some(pair) = list_item(py, items.as_ptr(), *i) else { return Ok(None) };
                *i += 1;
                // SAFETY: PyDict_Items makes (key, value) tuples, so indexes 0 and 1 exist; `pair`
                // is owned and holds both while `from_borrowed` takes its own references.
                let (k, v) = unsafe { ((api.PyTuple_GetItem)(pair.as_ptr(), 0), (api.PyTuple_GetItem)(pair.as_ptr(), 1)) };
                Ok(PyRef::from_borrowed(py, k).zip(PyRef::from_borrowed(py, v)))
            }
        }
    }
}
