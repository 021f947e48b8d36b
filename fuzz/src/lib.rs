//! The shared harness of pyrt's fuzz targets (see fuzz/README.md).
//!
//! * **One interpreter per fuzz process.** CPython can be initialized once per process, so the
//!   first input opens a runtime through the C ABI (`pyrt_new`, libpython from `PYRT_LIBPYTHON`
//!   or discovery) and every later input reuses it; it is never freed. `__main__` is put back
//!   to its start-up contents after each input that ran code (`pyrt_fuzz.reset_main`, a dict
//!   clear + update), so inputs do not depend on each other.
//! * **Only pyrt is fuzzed, not Python.** Fuzz inputs reach the C functions byte for byte,
//!   but what they may *execute* is bounded (support.py and [`safe_code`]): code runs for real
//!   only when it is short ASCII built from a list of harmless names without `*`, `<<` or long
//!   numbers (no loops, no imports, no size arguments), so every input ends quickly in bounded
//!   memory; any other code is still compiled by pyrt (prefixed by a statement that stops it
//!   before it runs). Modules other than `pyrt_fuzz` and `__main__` are renamed so that a
//!   meta-path finder refuses them, and dunder or private names are renamed too. That keeps
//!   `os.system`, `shutil.rmtree` or `9**9**9` out of reach while every byte still passes through
//!   pyrt's own argument checks, conversions and error paths.
//! * **Oracles** besides crashes and sanitizer reports ([`finish`]): a status is a known code and
//!   never `PYRT_ERR_INTERNAL` (a panic pyrt caught), a failed call returns an error object whose
//!   code matches, outputs are written only on success, and every JSON text pyrt returns is valid
//!   JSON ([`assert_json`]).

use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

pub use pyrt::capi::args::*;
pub use pyrt::capi::error::*;
pub use pyrt::capi::memory::*;
pub use pyrt::capi::object::*;
pub use pyrt::capi::runtime::*;

pub const OK: i32 = 0;
pub const ERR_INVALID_ARGUMENT: i32 = 1;
pub const ERR_INVALID_UTF8: i32 = 2;
pub const ERR_INVALID_JSON: i32 = 3;
pub const ERR_CONFIG: i32 = 4;
pub const ERR_LIBPYTHON_CONFLICT: i32 = 7;
pub const ERR_CLOSED: i32 = 10;
pub const ERR_PYTHON: i32 = 11;
pub const ERR_SYSTEM_EXIT: i32 = 12;
pub const ERR_KEYBOARD_INTERRUPT: i32 = 13;
pub const ERR_CONVERSION: i32 = 14;
pub const ERR_FILE_NOT_FOUND: i32 = 15;
pub const ERR_INTERNAL: i32 = 19;

/// A value written into output pointers before a call: it must still be there after a failure.
pub const SENTINEL: usize = 0x5e5e_5e50;

/// The process's runtime (opened on first use, never freed).
pub fn rt() -> *mut pyrt_runtime {
    static RT: OnceLock<usize> = OnceLock::new();
    *RT.get_or_init(|| unsafe {
        let mut rt = null_mut();
        let mut err = null_mut();
        let rc = pyrt_new(null(), &mut rt, &mut err);
        if rc != OK {
            panic!("pyrt_new failed ({rc}): {}; set PYRT_LIBPYTHON to a libpython3.X.so", message(err));
        }
        let support = CString::new(include_str!("support.py")).unwrap();
        let rc = pyrt_run_string(rt, support.as_ptr(), &mut err);
        if rc != OK {
            panic!("fuzz support code failed ({rc}): {}", message(err));
        }
        let mut out = null_mut();
        let rc = pyrt_call_json(rt, c"pyrt_fuzz".as_ptr(), c"snapshot_main".as_ptr(), null(), null(), &mut out, &mut err);
        assert_eq!(rc, OK, "snapshot_main: {}", message(err));
        pyrt_string_free(out);
        rt as usize
    }) as *mut pyrt_runtime
}

unsafe fn message(err: *mut pyrt_error) -> String {
    if err.is_null() {
        return "(no error object)".into();
    }
    CStr::from_ptr(pyrt_error_message(err)).to_string_lossy().into_owned()
}

/// Puts `__main__` back to its start-up contents.
pub fn reset_main() {
    let mut out = null_mut();
    let rc = unsafe { pyrt_call_json(rt(), c"pyrt_fuzz".as_ptr(), c"reset_main".as_ptr(), null(), null(), &mut out, null_mut()) };
    assert_eq!(rc, OK, "reset_main failed");
    unsafe { pyrt_string_free(out) };
}

/// The C string a C caller would pass for these bytes: everything up to the first NUL.
pub fn cstring(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap()
}

/// What a failed call reported.
#[derive(Debug, Default)]
pub struct Failure {
    pub rc: i32,
    pub message: String,
    pub python_type: Option<String>,
}

/// Checks a finished call's status and error object, frees the error, and returns the failure
/// (None on success). Panics — a fuzz crash — when pyrt broke its contract.
pub fn finish(what: &str, rc: i32, err: *mut pyrt_error) -> Option<Failure> {
    assert!((0..=19).contains(&rc), "{what}: unknown status {rc}");
    if rc == OK {
        assert!(err.is_null(), "{what}: succeeded but wrote an error object");
        return None;
    }
    assert!(!err.is_null(), "{what}: failed with {rc} but returned no error object");
    unsafe {
        assert_eq!(pyrt_error_code(err), rc, "{what}: the error object's code differs from the status");
        let m = pyrt_error_message(err);
        assert!(!m.is_null(), "{what}: error without a message");
        let message = CStr::from_ptr(m).to_str().unwrap_or_else(|_| panic!("{what}: error message is not UTF-8")).to_owned();
        let t = pyrt_error_python_type(err);
        let python_type = (!t.is_null()).then(|| CStr::from_ptr(t).to_str().expect("python type is UTF-8").to_owned());
        let tb = pyrt_error_traceback(err);
        if !tb.is_null() {
            CStr::from_ptr(tb).to_str().unwrap_or_else(|_| panic!("{what}: traceback is not UTF-8"));
        }
        pyrt_error_free(err);
        assert_ne!(rc, ERR_INTERNAL, "{what}: pyrt caught an internal panic: {message}");
        if rc == ERR_PYTHON {
            assert!(python_type.is_some(), "{what}: a Python exception without its type: {message}");
        }
        Some(Failure { rc, message, python_type })
    }
}

/// Copies and frees a string pyrt returned; it must be UTF-8.
pub fn take_string(what: &str, p: *mut c_char) -> String {
    assert!(!p.is_null() && p as usize != SENTINEL, "{what}: succeeded without writing its output");
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap_or_else(|_| panic!("{what}: output is not UTF-8")).to_owned();
    unsafe { pyrt_string_free(p) };
    s
}

/// Every JSON text pyrt returns must parse (serde_json, without a depth limit).
pub fn assert_json(what: &str, s: &str) {
    let mut de = serde_json::Deserializer::from_str(s);
    de.disable_recursion_limit();
    let r: Result<serde::de::IgnoredAny, _> = serde::de::Deserialize::deserialize(&mut de);
    if let Err(e) = r.and_then(|_| de.end()) {
        panic!("{what}: pyrt returned invalid JSON ({e}): {:.300}", s);
    }
}

/// Frees every handle written as `{"__pyrt__":"object","v":<id>}` in a tagged output.
pub fn free_handles_in(json: &str) {
    const KEY: &str = "{\"__pyrt__\":\"object\",\"v\":";
    let mut rest = json;
    while let Some(i) = rest.find(KEY) {
        rest = &rest[i + KEY.len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(id) = digits.parse::<u64>() {
            unsafe { pyrt_object_free(id as usize as *mut pyrt_object) };
        }
    }
}

/// Names a fuzz input may use in code that really runs.
const SAFE_WORDS: &[&str] = &[
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "is",
    "if",
    "else",
    "elif",
    "pass",
    "try",
    "except",
    "finally",
    "raise",
    "assert",
    "del",
    "global",
    "a",
    "b",
    "c",
    "x",
    "y",
    "z",
    "s",
    "ValueError",
    "KeyError",
    "TypeError",
    "IndexError",
    "ZeroDivisionError",
    "RuntimeError",
    "Exception",
    "BaseException",
    "SystemExit",
    "KeyboardInterrupt",
    "RecursionError",
    "len",
    "str",
    "repr",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "tuple",
    "set",
    "frozenset",
    "abs",
    "min",
    "max",
    "sorted",
    "round",
    "isinstance",
    "chr",
    "ord",
    "hex",
    "bin",
    "oct",
    "divmod",
    "complex",
    "hash",
    "append",
    "pop",
    "keys",
    "values",
    "items",
    "upper",
    "lower",
    "split",
    "strip",
    "encode",
    "decode",
    "get",
    "update",
    "add",
    "copy",
    "join",
    "reverse",
    "sort",
    "count",
    "index",
    "real",
    "imag",
    "nan",
    "inf",
    // string prefixes
    "b",
    "r",
    "u",
    "f",
    "rb",
    "br",
    "fr",
    "rf",
    "B",
    "R",
    "U",
    "F",
];

/// Code short and plain enough to run for real (see the module docs).
pub fn safe_code(code: &[u8]) -> bool {
    if code.len() > 96 || !code.is_ascii() || code.contains(&b'*') || code.windows(2).any(|w| w == b"<<") {
        return false;
    }
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
                i += 1;
            }
            let word = std::str::from_utf8(&code[start..i]).unwrap();
            if !SAFE_WORDS.contains(&word) {
                return false;
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < code.len() && code[i].is_ascii_digit() {
                i += 1;
            }
            if i - start > 4 {
                return false;
            }
        } else {
            i += 1;
        }
    }
    true
}

/// Statements to pass to `pyrt_run_string`: the code itself when safe, else the code behind a
/// statement that stops it after compilation. Returns (text, guarded).
pub fn statements(code: &[u8]) -> (Vec<u8>, bool) {
    if safe_code(code) {
        (code.to_vec(), false)
    } else {
        ([b"raise SystemExit(0)\n".as_slice(), code].concat(), true)
    }
}

/// What to do with an expression for `pyrt_eval_*`.
pub enum Expr {
    /// Safe code, or text that is not UTF-8 (pyrt refuses it before Python sees it): evaluate.
    Eval(Vec<u8>),
    /// Anything else: no wrapper can stop an expression from running (a guard's brackets can be
    /// closed by the text), so the text only goes to Python's compiler, as a JSON string
    /// argument of `pyrt_fuzz.compile_eval`.
    CompileOnly(CString),
}

pub fn expression(code: &[u8]) -> Expr {
    let code = &code[..code.iter().position(|&b| b == 0).unwrap_or(code.len())];
    match std::str::from_utf8(code) {
        Ok(text) if !safe_code(code) => Expr::CompileOnly(CString::new(serde_json::to_string(&[text]).unwrap()).unwrap()),
        _ => Expr::Eval(code.to_vec()),
    }
}

/// The module a call may use: `pyrt_fuzz` and `__main__` as given; invalid or empty names as
/// given (pyrt rejects them); anything else renamed so the harness's finder refuses it.
pub fn module_for(m: &[u8]) -> Vec<u8> {
    let m = &m[..m.iter().position(|&b| b == 0).unwrap_or(m.len())];
    if m.is_empty() || std::str::from_utf8(m).is_err() || m == b"pyrt_fuzz" || m == b"__main__" {
        m.to_vec()
    } else {
        [b"pyrt_fuzz_blocked_".as_slice(), m].concat()
    }
}

/// Methods that take a size or run unbounded arithmetic: renamed like dunders.
const SIZE_METHODS: &[&str] = &[
    "ljust",
    "rjust",
    "center",
    "zfill",
    "expandtabs",
    "to_bytes",
    "format",
    "format_map",
    "factorial",
    "comb",
    "perm",
    "pow",
    "ldexp",
    "prod",
];

/// A function, method or attribute name (possibly dotted): as given when invalid, empty or
/// harmless; prefixed (so it names nothing) when a part is private, a dunder, or takes a size.
pub fn name_for(n: &[u8]) -> Vec<u8> {
    let n = &n[..n.iter().position(|&b| b == 0).unwrap_or(n.len())];
    let Ok(s) = std::str::from_utf8(n) else { return n.to_vec() };
    if s.is_empty() {
        return n.to_vec();
    }
    let risky = s.split('.').any(|part| part.starts_with('_') || part.contains("__") || SIZE_METHODS.contains(&part));
    if risky {
        [b"x".as_slice(), n].concat()
    } else {
        n.to_vec()
    }
}

/// A `"module:function"` target with both parts treated as above.
pub fn target_for(t: &[u8]) -> Vec<u8> {
    let t = &t[..t.iter().position(|&b| b == 0).unwrap_or(t.len())];
    match t.iter().position(|&b| b == b':') {
        Some(i) => [module_for(&t[..i]), b":".to_vec(), name_for(&t[i + 1..])].concat(),
        None => t.to_vec(),
    }
}

/// A path for `pyrt_run_file` that can never name an existing file.
pub fn missing_path(p: &[u8]) -> Vec<u8> {
    [b"/nonexistent-pyrt-fuzz/".as_slice(), p].concat()
}

/// Splits an input into operations: ops are separated by 0x1D; in each, byte 0 selects the
/// operation, byte 1 carries flags, and the rest is fields separated by 0x1E.
pub fn ops(data: &[u8]) -> impl Iterator<Item = Op<'_>> {
    data.split(|&b| b == 0x1D).filter(|op| !op.is_empty()).take(16).map(|op| {
        let code = op[0];
        let flags = op.get(1).copied().unwrap_or(0);
        let fields = if op.len() > 2 { op[2..].split(|&b| b == 0x1E).collect() } else { Vec::new() };
        Op { code, flags, fields }
    })
}

pub struct Op<'a> {
    pub code: u8,
    pub flags: u8,
    pub fields: Vec<&'a [u8]>,
}

impl<'a> Op<'a> {
    pub fn field(&self, i: usize) -> &'a [u8] {
        self.fields.get(i).copied().unwrap_or(b"")
    }
    /// Field `i`, or None when absent or exactly "-" (a NULL pointer in the C call).
    pub fn optional(&self, i: usize) -> Option<&'a [u8]> {
        self.fields.get(i).copied().filter(|f| *f != b"-")
    }
}

/// A C pointer for an optional field (NULL for None); the CString must outlive the call.
pub fn opt_ptr(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(null(), |c| c.as_ptr())
}

/// Attribute and method names the object-sequence target may use as given (everything else
/// is prefixed so it names nothing): methods whose cost is bounded by their operands. Growth
/// methods (`replace`, `join`, `extend`, `ljust`, `translate`, ...) would let a dozen
/// operations build gigabytes, which is Python's business, not pyrt's.
const SAFE_ATTRS: &[&str] = &[
    // pyrt_fuzz
    "echo",
    "tup",
    "fail",
    "recurse",
    "odd",
    "nested",
    "selfref",
    "fdouble",
    "fint",
    "same",
    "Box",
    "Weird",
    "BadDel",
    "BadHash",
    "compile_eval",
    "unraisable_count",
    "get",
    "set",
    "call",
    "v",
    // containers
    "keys",
    "values",
    "items",
    "copy",
    "append",
    "pop",
    "index",
    "count",
    "sort",
    "reverse",
    "clear",
    "insert",
    "remove",
    "add",
    "discard",
    "union",
    "intersection",
    "difference",
    "issubset",
    "setdefault",
    "popitem",
    // str, bytes
    "upper",
    "lower",
    "split",
    "strip",
    "encode",
    "decode",
    "startswith",
    "endswith",
    "find",
    "isdigit",
    "title",
    "casefold",
    "splitlines",
    "partition",
    "isascii",
    "fromhex",
    "hex",
    // numbers
    "real",
    "imag",
    "conjugate",
    "bit_length",
    "is_integer",
    "denominator",
    "numerator",
    "sqrt",
    "is_nan",
    "adjusted",
    "normalize",
    "as_tuple",
    "is_signed",
    "exp",
    // datetime, memoryview, range
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "microsecond",
    "isoformat",
    "total_seconds",
    "days",
    "seconds",
    "microseconds",
    "tzinfo",
    "utcoffset",
    "date",
    "time",
    "weekday",
    "tolist",
    "tobytes",
    "nbytes",
    "start",
    "stop",
    "step",
];

/// An attribute or method name for the object-sequence target: as given when invalid UTF-8,
/// empty, or a known bounded name; otherwise prefixed with "x" (an AttributeError).
pub fn attribute_for(n: &[u8]) -> Vec<u8> {
    let n = &n[..n.iter().position(|&b| b == 0).unwrap_or(n.len())];
    match std::str::from_utf8(n) {
        Ok(s) if !s.is_empty() && !SAFE_ATTRS.contains(&s) => [b"x".as_slice(), n].concat(),
        _ => n.to_vec(),
    }
}
