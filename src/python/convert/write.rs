//! Python objects -> JSON text (plain or tagged), with the path of a value that has no form.

use super::{list_item, tags, without_int_digit_limit, DictItems, ValueMode, PLAIN, TAG};
use crate::ctext::CText;
use crate::error::{Error, ErrorKind, Result};
use crate::json::{write, MAX_DEPTH};
use crate::python::exception;
use crate::python::ffi::{self, PyPtr};
use crate::python::pyref::type_name;
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
            if let Some(done) = tags::encode_exact(self, o, t)? {
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
            if let Some(done) = tags::encode_other(self, o, t)? {
                return Ok(done);
            }
        }
        if let Some(runtime) = self.mode.handles_for {
            let handle = crate::python::handles::register(PyRef::from_borrowed(self.py, o).expect("non-null"), runtime)?;
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
    /// This pass runs for every dict in tagged mode, so it is kept cheap: no Python code runs
    /// in it, nothing is copied, and with the GIL the keys are only borrowed.
    fn plain_keys(&self, o: PyPtr) -> bool {
        let api = self.py.api;
        if !ffi::free_threaded() {
            let (mut pos, mut k, mut v): (isize, PyPtr, PyPtr) = (0, std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: `o` is a live dict (the caller's type dispatch) and the GIL is held; no
            // Python code runs in this loop (type checks and the cached UTF-8 of a str), so the
            // dict cannot change and the borrowed keys stay alive while they are looked at.
            while unsafe { (api.PyDict_Next)(o, &mut pos, &mut k, &mut v) } != 0 {
                if !self.plain_key(k) {
                    return false;
                }
            }
            return true;
        }
        // Free-threaded: another thread may change the dict; look at a snapshot of owned keys.
        let Ok(mut items) = DictItems::new(self.py, o) else { return false };
        while let Ok(Some((key, _))) = items.next(self.py) {
            if !self.plain_key(key.as_ptr()) {
                return false;
            }
        }
        true
    }

    /// True when `k` (a live object) is a str other than the tag key. A str without UTF-8
    /// (lone surrogates) counts as plain: writing it reports the error.
    #[inline]
    fn plain_key(&self, k: PyPtr) -> bool {
        let api = self.py.api;
        // SAFETY: `k` is a live object (the caller's contract); its type lives as long as it does.
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
    with_json_mode(py, o, PLAIN, f)
}

/// [`with_json`] in `mode`'s encoding.
#[inline]
pub fn with_json_mode<R>(py: Python, o: PyPtr, mode: ValueMode, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    with_scratch(py, |out| {
        to_json_mode(py, o, out, mode)?;
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
