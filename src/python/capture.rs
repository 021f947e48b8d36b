//! Capturing what Python code writes to `sys.stdout` / `sys.stderr`.
//!
//! Nothing changes until a runtime handle asks for capture (`capture_output`) or the host sets an
//! output handler: then pyrt replaces `sys.stdout` and `sys.stderr` with thin proxies whose
//! `write` comes here (every other attribute is the original stream's). A write goes to:
//! 1. the capture buffer of the call running on the writing thread, if its handle captures —
//!    so the output of concurrent calls never mixes;
//! 2. otherwise the host's output handler, if one is set (the runtime-level destination: output
//!    of threads that user code started, and of calls through handles that do not capture);
//! 3. otherwise the original stream (the default: the process's own stdout/stderr).
//!
//! Output written below Python's `sys.stdout` (a C extension writing to fd 1, a subprocess
//! inheriting it, `os.write(1, ...)`) is not captured.

use std::cell::RefCell;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::exception::{self, OrFetch};
use super::facade::Borrowed;
use super::ffi::{PyMethodDef, PyPtr, METH_VARARGS};
use super::{PyRef, Python};
use crate::error::Result;

pub const STDOUT: u32 = 1;
pub const STDERR: u32 = 2;

/// The host's output handler: `fn(user_data, stream, text, len)`.
pub type OutputFn = unsafe extern "C" fn(*mut c_void, u32, *const c_char, usize);

#[derive(Clone, Copy)]
struct Handler {
    f: OutputFn,
    user_data: usize,
}

static HANDLER: Mutex<Option<Handler>> = Mutex::new(None);
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Held while the proxies are swapped in (never while Python code runs).
static INSTALLING: Mutex<()> = Mutex::new(());

thread_local! {
    /// The capture buffers of the call running on this thread ([stdout, stderr]); a stack,
    /// because calls nest (a host callback calling back in).
    static CAPTURES: RefCell<Vec<[Vec<u8>; 2]>> = const { RefCell::new(Vec::new()) };
}

/// Sets (or with `None` removes) the process's output handler. Installs the proxies if needed.
pub fn set_handler(py: Python, handler: Option<(OutputFn, *mut c_void)>) -> Result<()> {
    ensure_installed(py)?;
    *HANDLER.lock().unwrap_or_else(|p| p.into_inner()) = handler.map(|(f, u)| Handler { f, user_data: u as usize });
    Ok(())
}

/// Starts capturing this thread's writes for the call that begins now. GIL held.
pub fn begin(py: Python) -> Result<()> {
    ensure_installed(py)?;
    CAPTURES.with(|c| c.borrow_mut().push([Vec::new(), Vec::new()]));
    Ok(())
}

/// Ends the capture begun by [`begin`]; returns [stdout, stderr] as text.
pub fn end() -> [String; 2] {
    let [out, err] = CAPTURES.with(|c| c.borrow_mut().pop()).unwrap_or_default();
    [String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned()]
}

const PROXY: &std::ffi::CStr = cr#"
def _install(write):
    import sys
    class PyrtStream:
        """sys.stdout / sys.stderr as pyrt routes them (see pyrt's docs: output capture)."""
        def __init__(self, original, index):
            self._pyrt_original = original
            self._pyrt_index = index
        def write(self, s):
            if not isinstance(s, str):
                raise TypeError("write() argument must be str, not %s" % type(s).__name__)
            return write(self._pyrt_index, s, self._pyrt_original)
        def writelines(self, lines):
            for line in lines:
                self.write(line)
        def flush(self):
            if self._pyrt_original is not None:
                self._pyrt_original.flush()
        def __getattr__(self, name):
            return getattr(self._pyrt_original, name)
        def __repr__(self):
            return "<pyrt stream %r>" % (self._pyrt_original,)
    return PyrtStream(sys.stdout, 1), PyrtStream(sys.stderr, 2)
"#;

/// The same per worker interpreter (`interp::PerSlot`).
static WORKER_INSTALLED: super::interp::PerSlot<AtomicBool> = super::interp::PerSlot::new();

fn installed(py: Python) -> bool {
    match py.interp() {
        0 => INSTALLED.load(Ordering::Acquire),
        slot => WORKER_INSTALLED.get(slot).load(Ordering::Acquire),
    }
}

/// Forgets a worker interpreter's proxies as it ends.
pub fn forget_worker(py: Python) {
    WORKER_INSTALLED.take(py.interp());
}

fn ensure_installed(py: Python) -> Result<()> {
    if installed(py) {
        return Ok(());
    }
    let globals = py.new_dict().or_fetch(py)?;
    let builtins = py.import(c"builtins").or_fetch(py)?;
    py.dict_set_str(&globals, c"__builtins__", &builtins).or_fetch(py)?;
    let code = py.compile_source(PROXY, c"<pyrt output>", super::ffi::PY_FILE_INPUT).or_fetch(py)?;
    py.eval_code(&code, &globals).or_fetch(py)?;
    let Some(install) = py.dict_get_str(&globals, "_install").or_fetch(py)? else { return Err(exception::fetch(py)) };
    // SAFETY: `WRITE` is a static whose `ml_meth` is `write`, a METH_VARARGS function
    // (`(self, args)`), with static C-string name and doc.
    let write = unsafe { py.new_function(&WRITE, None, None) }.or_fetch(py)?;
    let pair = py.call(&install, &[write]).or_fetch(py)?;
    // Python code ran above, so another thread may have installed meanwhile (the GIL
    // switches between bytecodes; a free-threaded build has none). The swap itself runs no
    // Python code, so a plain lock makes check-and-set atomic; the loser's proxies are
    // dropped after it.
    let _installing = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if installed(py) {
        return Ok(());
    }
    for (i, name) in [c"stdout", c"stderr"].into_iter().enumerate() {
        let stream = py.tuple_get(&pair, i).or_fetch(py)?;
        py.sys_set_attr(name, &stream).or_fetch(py)?;
    }
    match py.interp() {
        0 => INSTALLED.store(true, Ordering::Release),
        slot => WORKER_INSTALLED.get(slot).store(true, Ordering::Release),
    }
    Ok(())
}

static WRITE: PyMethodDef = PyMethodDef {
    ml_name: c"write".as_ptr(),
    ml_meth: write as *const c_void,
    ml_flags: METH_VARARGS,
    ml_doc: c"pyrt's sys.stdout/sys.stderr write: capture, host handler, or the original stream.".as_ptr(),
};

/// `write(index, text, original)` for the proxies. Returns `len(text)` like `TextIOBase.write`.
unsafe extern "C" fn write(_self: PyPtr, args: PyPtr) -> PyPtr {
    // SAFETY: CPython calls a METH_VARARGS function with the GIL held and `args` a tuple it keeps
    // alive for the call: the body's contract, passed through.
    super::boundary::guard(super::boundary::Site::OutputWrite, std::ptr::null_mut(), || unsafe { write_body(_self, args) })
}

/// # Safety
/// CPython's METH_VARARGS contract: the GIL is held and `args` is a tuple alive for the call.
unsafe fn write_body(_self: PyPtr, args: PyPtr) -> PyPtr {
    // SAFETY: CPython called this function, so this thread holds the GIL (contract); the token
    // does not leave this call.
    let py = unsafe { super::gil::assume_gil(super::api()) };
    // SAFETY: `args` is the call's tuple, alive for the call (contract).
    let Some(args) = (unsafe { Borrowed::from_ptr(args) }) else { return ptr::null_mut() };
    // The items are borrowed from `args`, and a tuple cannot drop its items, so they stay alive
    // for the whole call even where Python code runs (`__index__`, `__len__` of a str subclass,
    // `original.write`).
    let (Ok(index), Ok(text), Ok(original)) = (py.tuple_get(&args, 0), py.tuple_get(&args, 1), py.tuple_get(&args, 2)) else {
        return ptr::null_mut();
    };
    let Ok(index) = py.as_c_long(&index) else { return ptr::null_mut() };
    let stream = if index == 2 { 1 } else { 0 };
    let Ok(chars) = py.len(&text) else { return ptr::null_mut() };
    let written = || py.new_int(chars as i64).map_or(ptr::null_mut(), PyRef::into_ptr);
    // UTF-8 of the text; lone surrogates (from surrogateescape) become backslash escapes.
    let utf8 = || py.encode_utf8_backslashreplace(&text).ok();
    let captured = CAPTURES.with(|c| {
        let mut c = c.borrow_mut();
        let Some(top) = c.last_mut() else { return Some(false) };
        let bytes = utf8()?;
        top[stream].extend_from_slice(py.bytes_data(&bytes).ok()?);
        Some(true)
    });
    match captured {
        None => return ptr::null_mut(),
        Some(true) => return written(),
        Some(false) => {}
    }
    let handler = *HANDLER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = handler {
        let Some(bytes) = utf8() else { return ptr::null_mut() };
        let Ok(data) = py.bytes_data(&bytes) else { return ptr::null_mut() };
        // The host may block (a Go io.Writer on a pipe): let other threads run Python meanwhile.
        // SAFETY: the host gave `f` with `user_data` to `pyrt_set_output_handler`: callable from
        // any thread, `user_data` valid until the handler is replaced. (Gap: `h` is a copy, so a
        // handler replaced while this write runs is still called once after the replacement
        // returned; `pyrt_set_output_handler` does not wait for running handlers.) `data` is the
        // contents of `bytes`, immutable and kept alive (a strong reference, dropped only after
        // the call) even with the GIL released.
        super::gil::allow_threads(py, || unsafe { (h.f)(h.user_data as *mut c_void, stream as u32 + 1, data.as_ptr().cast(), data.len()) });
        return written();
    }
    if py.is_none(&original) {
        return written();
    }
    py.getattr_str(&original, c"write").and_then(|f| py.call(&f, std::slice::from_ref(&*text))).map_or(ptr::null_mut(), PyRef::into_ptr)
}
