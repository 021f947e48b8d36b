//! Python objects -> JSON text (plain or tagged), with the path of a value that has no form.

use super::{tags, without_int_digit_limit, ValueMode, PLAIN, TAG};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::json::{write, MAX_DEPTH};
use crate::python::exception::OrFetch;
use crate::python::facade::{BuiltinType, DictChanged, DictItems, Exc, PyErrPending};
use crate::python::ffi::{self, PyPtr};
use crate::python::{PyRef, Python};

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
                let k = py.str_to_string(k).unwrap_or_default();
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

/// Whether `o` is a str (or subclass).
#[inline]
fn is_str(py: Python, o: &PyRef) -> bool {
    py.type_ptr(o) == py.api.PyUnicode_Type || py.type_flags(o) & ffi::TPFLAGS_UNICODE_SUBCLASS != 0
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

    pub(crate) fn value(&mut self, o: &PyRef) -> Result<()> {
        let py = self.py;
        let api = py.api;
        if py.is_none(o) {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        // Exact types first, by identity (the common case).
        let t = py.type_ptr(o);
        if t == api.PyBool_Type {
            self.out.extend_from_slice(if o.as_ptr() == api._Py_TrueStruct { b"true" } else { b"false" });
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
            if let Some(done) = tags::encode_exact(self, o, t)? {
                return Ok(done);
            }
        }
        // Subclasses (IntEnum, str enums, OrderedDict, namedtuple, ...) keep their base's form.
        let flags = py.type_flags(o);
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
        if py.type_is_subtype(o, &py.builtin_type(BuiltinType::Float)) {
            return self.float(o);
        }
        if self.mode.tagged {
            if let Some(done) = tags::encode_other(self, o)? {
                return Ok(done);
            }
        }
        if let Some(runtime) = self.mode.handles_for {
            let handle = crate::python::handles::register(o.clone_ref(py), runtime)?;
            self.tag_open("object");
            write::integer(self.out, handle as i64);
            self.out.push(b'}');
            return Ok(());
        }
        let form = if self.mode.tagged { "encoding" } else { "JSON form" };
        Err(self.fail(format!("Python type '{}' has no {form}", py.type_name(o))))
    }

    /// Writes `{"__pyrt__":"<kind>","v":` (the caller writes the value and the closing brace).
    pub(crate) fn tag_open(&mut self, kind: &str) {
        self.out.extend_from_slice(b"{\"__pyrt__\":\"");
        self.out.extend_from_slice(kind.as_bytes());
        self.out.extend_from_slice(b"\",\"v\":");
    }

    /// Writes every item an iterator yields as a JSON array (sets, frozensets).
    pub(crate) fn iterable(&mut self, o: &PyRef) -> Result<()> {
        self.enter()?;
        let py = self.py;
        let it = py.iter(o).or_fetch(py)?;
        self.out.push(b'[');
        let mut i = 0usize;
        while let Some(item) = py.iter_next(&it).or_fetch(py)? {
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i));
            self.value(&item)?;
            self.path.pop();
            i += 1;
        }
        self.out.push(b']');
        Ok(())
    }

    fn float(&mut self, o: &PyRef) -> Result<()> {
        // A float (or subclass: dispatched by its type) cannot fail to convert.
        let v = self.py.as_f64(o).or_fetch(self.py)?;
        if self.mode.tagged && !v.is_finite() {
            self.tag_open("float");
            write::string(self.out, tags::non_finite_name(v));
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

    fn int(&mut self, o: &PyRef) -> Result<()> {
        let py = self.py;
        if let Some(v) = py.as_i64(o).or_fetch(py)? {
            write::integer(self.out, v);
            return Ok(());
        }
        // Beyond 64 bits: CPython's own exact decimal conversion (also right for int subclasses,
        // whose str() may be something else, e.g. an IntEnum's name).
        let mut text = py.int_to_decimal(o);
        if text.is_err() && py.pending_error_is(Exc::ValueError) {
            // Probably more digits than CPython's int/str limit allows: JSON integers are exact.
            py.clear_error();
            text = without_int_digit_limit(py, || py.int_to_decimal(o));
        }
        let text = text.or_fetch(py)?;
        let digits = py.str_to_string(&text).ok_or_else(|| self.fail("int has no decimal form".into()))?;
        self.out.extend_from_slice(digits.as_bytes());
        Ok(())
    }

    fn str(&mut self, o: &PyRef) -> Result<()> {
        let Ok(s) = self.py.str_as_utf8(o) else {
            self.py.clear_error();
            return Err(self.fail("str with lone surrogates has no UTF-8 (JSON) form".into()));
        };
        write::string(self.out, s);
        Ok(())
    }

    pub(crate) fn enter(&mut self) -> Result<()> {
        if self.path.len() >= MAX_DEPTH {
            return Err(self.fail(format!("value nested deeper than {MAX_DEPTH} levels (a reference cycle?)")));
        }
        Ok(())
    }

    fn list(&mut self, o: &PyRef) -> Result<()> {
        self.enter()?;
        self.out.push(b'[');
        let mut i = 0;
        // Each item is owned while it is converted, and the size re-read each step: converting
        // an item may run Python code (`isoformat()`, `str()`, a property in tagged mode) that
        // changes the list, and on a free-threaded build another thread may.
        while let Some(item) = self.py.list_get(o, i) {
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i));
            self.value(&item)?;
            self.path.pop();
            i += 1;
        }
        self.out.push(b']');
        Ok(())
    }

    fn tuple(&mut self, o: &PyRef) -> Result<()> {
        self.enter()?;
        let py = self.py;
        if self.mode.tagged {
            self.tag_open("tuple");
        }
        self.out.push(b'[');
        let n = py.tuple_len(o).or_fetch(py)?;
        for i in 0..n {
            if i > 0 {
                self.out.push(b',');
            }
            self.path.push(Step::Index(i));
            // Borrowed, not owned: the tuple (held by the caller) cannot change and holds the item.
            let item = py.tuple_get(o, i).or_fetch(py)?;
            self.value(&item)?;
            self.path.pop();
        }
        self.out.push(b']');
        if self.mode.tagged {
            self.out.push(b'}');
        }
        Ok(())
    }

    fn dict(&mut self, o: &PyRef) -> Result<()> {
        self.enter()?;
        let py = self.py;
        if self.mode.tagged && !self.plain_keys(o) {
            return self.dict_pairs(o);
        }
        self.out.push(b'{');
        let mut first = true;
        let mut items = self.dict_items(o)?;
        while let Some((key, value)) = items.next(py).map_err(|DictChanged| self.dict_changed())? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            if !is_str(py, &key) {
                return Err(self.fail(format!("dict key of type '{}' has no JSON form (keys must be str)", py.type_name(&key))));
            }
            self.str(&key)?;
            self.out.push(b':');
            self.path.push(Step::Key(key));
            self.value(&value)?;
            self.path.pop();
        }
        self.out.push(b'}');
        Ok(())
    }
}

impl Writer<'_, '_> {
    /// The items of a dict, or the conversion error (with the value's path) for why not.
    fn dict_items<'d>(&self, o: &'d PyRef) -> Result<DictItems<'d>> {
        DictItems::new(self.py, o).map_err(|PyErrPending| {
            let e = crate::python::exception::fetch(self.py);
            self.fail(e.into_detail().message)
        })
    }

    fn dict_changed(&self) -> Error {
        self.fail("dictionary changed size during conversion".into())
    }

    /// True when every key is a str other than the tag key (the dict can be a plain object).
    /// This pass runs for every dict in tagged mode, so it is kept cheap: no Python code runs
    /// in it, nothing is copied, and with the GIL the keys are only borrowed (the one place in
    /// the converters that reads CPython directly: the facade's owned-item iteration costs a
    /// reference count per key here).
    fn plain_keys(&self, o: &PyRef) -> bool {
        let api = self.py.api;
        if !ffi::free_threaded() {
            let (mut pos, mut k, mut v): (isize, PyPtr, PyPtr) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: `o` is a live dict (the caller's type dispatch) and the GIL is held; no
            // Python code runs in this loop (type checks and the cached UTF-8 of a str), so the
            // dict cannot change and the borrowed keys stay alive while they are looked at.
            while unsafe { (api.PyDict_Next)(o.as_ptr(), &mut pos, &mut k, &mut v) } != 0 {
                // SAFETY: `k` is a live key borrowed from the dict, which does not change (above).
                if !unsafe { self.plain_key(k) } {
                    return false;
                }
            }
            return true;
        }
        // Free-threaded: another thread may change the dict; look at a snapshot of owned keys.
        let Ok(mut items) = DictItems::new(self.py, o) else {
            self.py.clear_error();
            return false;
        };
        while let Ok(Some((key, _))) = items.next(self.py) {
            // SAFETY: `key` is an owned reference, alive for the call.
            if !unsafe { self.plain_key(key.as_ptr()) } {
                return false;
            }
        }
        true
    }

    /// True when `k` is a str other than the tag key. A str without UTF-8 (lone surrogates)
    /// counts as plain: writing it reports the error.
    ///
    /// # Safety
    /// `k` is a live object for the call; the GIL is held (or, free-threaded, the thread is
    /// attached).
    #[inline]
    unsafe fn plain_key(&self, k: PyPtr) -> bool {
        let api = self.py.api;
        // SAFETY: `k` is a live object (this function's contract); its type lives as long as it does.
        let kt = unsafe { ffi::py_type(k) };
        // SAFETY: as above.
        if kt != api.PyUnicode_Type && unsafe { (api.PyType_GetFlags)(kt) } & ffi::TPFLAGS_UNICODE_SUBCLASS == 0 {
            return false;
        }
        let mut len = 0isize;
        // SAFETY: `k` is a live str (checked above); `len` is a valid out-pointer. The UTF-8 buffer
        // is cached in `k` and lives as long as it does; no Python code runs.
        let p = unsafe { (api.PyUnicode_AsUTF8AndSize)(k, &mut len) };
        if p.is_null() {
            self.py.clear_error();
            return true;
        }
        // SAFETY: CPython guarantees `len` bytes at `p` while `k` lives.
        len as usize != TAG.len() || unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len as usize) } != TAG.as_bytes()
    }

    /// `{"__pyrt__":"dict","v":[[k,v],...]}`: any keys, in insertion order.
    fn dict_pairs(&mut self, o: &PyRef) -> Result<()> {
        self.tag_open("dict");
        self.out.push(b'[');
        let mut i = 0usize;
        let mut items = self.dict_items(o)?;
        while let Some((key, value)) = items.next(self.py).map_err(|DictChanged| self.dict_changed())? {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.push(b'[');
            self.path.push(Step::Index(i));
            self.value(&key)?;
            self.out.push(b',');
            self.value(&value)?;
            self.path.pop();
            self.out.push(b']');
            i += 1;
        }
        self.out.extend_from_slice(b"]}");
        Ok(())
    }
}

/// Appends the JSON form of `o` to `out`. On error `out` holds a partial document.
pub fn to_json(py: Python, o: &PyRef, out: &mut Vec<u8>) -> Result<()> {
    to_json_mode(py, o, out, PLAIN)
}

/// Appends the encoding of `o` in `mode`.
pub fn to_json_mode(py: Python, o: &PyRef, out: &mut Vec<u8>, mode: ValueMode) -> Result<()> {
    Writer { py, out, path: Vec::new(), mode }.value(o)
}

/// The encoding of `o` in `mode`, as a C string.
pub fn to_json_cstring_mode(py: Python, o: &PyRef, mode: ValueMode) -> Result<CText> {
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
pub fn with_json<R>(py: Python, o: &PyRef, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    with_json_mode(py, o, PLAIN, f)
}

/// [`with_json`] in `mode`'s encoding.
#[inline]
pub fn with_json_mode<R>(py: Python, o: &PyRef, mode: ValueMode, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    with_scratch(py, |out| {
        to_json_mode(py, o, out, mode)?;
        Ok(f(out))
    })
}

/// The JSON text of `o` as a C string (JSON output never contains NUL: control characters are
/// escaped).
pub fn to_json_cstring(py: Python, o: &PyRef) -> Result<CText> {
    with_scratch(py, |out| {
        to_json(py, o, out)?;
        Ok(finish_cstring(out))
    })
}
