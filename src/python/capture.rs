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

use super::ffi::{PyMethodDef, PyPtr, METH_VARARGS};
use super::{exception, PyRef, Python};
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

crate::per_worker!(WORKER_INSTALLED: bool = false);

fn installed() -> bool {
    if super::interp::current() == 0 {
        INSTALLED.load(Ordering::Acquire)
    } else {
        WORKER_INSTALLED.with(|i| *i.borrow())
    }
}

fn ensure_installed(py: Python) -> Result<()> {
    if installed() {
        return Ok(());
    }
    let api = py.api;
    // SAFETY: `py` proves the GIL is held. Every object used is a strong reference held across the
    // calls using it (`PyRef`s; `install` is made one at once, as the calls below may run Python
    // code); C strings are NUL-terminated literals. `args` is a new 1-tuple, only ours, whose slot
    // 0 `PyTuple_SetItem` fills with the reference it steals. `pair` is `_install`'s 2-tuple, whose
    // items live as long as it; `PySys_SetObject` takes its own references. `WRITE` is a static
    // that CPython only reads (the `*mut` is its prototype's).
    unsafe {
        let globals = PyRef::from_owned((api.PyDict_New)()).ok_or_else(|| exception::fetch(py))?;
        let builtins = PyRef::from_owned((api.PyImport_ImportModule)(c"builtins".as_ptr())).ok_or_else(|| exception::fetch(py))?;
        (api.PyDict_SetItemString)(globals.as_ptr(), c"__builtins__".as_ptr(), builtins.as_ptr());
        let code = PyRef::from_owned((api.Py_CompileStringExFlags)(
            PROXY.as_ptr(),
            c"<pyrt output>".as_ptr(),
            super::ffi::PY_FILE_INPUT,
            std::ptr::null_mut(),
            -1,
        ))
        .ok_or_else(|| exception::fetch(py))?;
        PyRef::from_owned((api.PyEval_EvalCode)(code.as_ptr(), globals.as_ptr(), globals.as_ptr())).ok_or_else(|| exception::fetch(py))?;
        let name = PyRef::from_owned((api.PyUnicode_FromStringAndSize)(c"_install".as_ptr(), 8)).ok_or_else(|| exception::fetch(py))?;
        // Borrowed from `globals`: a strong reference at once, before anything can run Python code
        // (an allocation below can start a GC pass, whose finalizers are Python code).
        let install = (api.PyDict_GetItemWithError)(globals.as_ptr(), name.as_ptr());
        let Some(install) = PyRef::from_borrowed(py, install) else { return Err(exception::fetch(py)) };
        let write = PyRef::from_owned((api.PyCFunction_NewEx)(ptr::from_ref(&WRITE).cast_mut(), ptr::null_mut(), ptr::null_mut()))
            .ok_or_else(|| exception::fetch(py))?;
        let args = PyRef::from_owned((api.PyTuple_New)(1)).ok_or_else(|| exception::fetch(py))?;
        (api.PyTuple_SetItem)(args.as_ptr(), 0, write.into_ptr());
        let pair = PyRef::from_owned((api.PyObject_CallObject)(install.as_ptr(), args.as_ptr())).ok_or_else(|| exception::fetch(py))?;
        // Python code ran above, so another thread may have installed meanwhile (the GIL
        // switches between bytecodes; a free-threaded build has none). The swap itself runs no
        // Python code, so a plain lock makes check-and-set atomic; the loser's proxies are
        // dropped after it.
        let _installing = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
        if installed() {
            return Ok(());
        }
        for (i, name) in [c"stdout", c"stderr"].into_iter().enumerate() {
            if (api.PySys_SetObject)(name.as_ptr(), (api.PyTuple_GetItem)(pair.as_ptr(), i as isize)) != 0 {
                return Err(exception::fetch(py));
            }
        }
        if super::interp::current() == 0 {
            INSTALLED.store(true, Ordering::Release);
        } else {
            WORKER_INSTALLED.with(|i| *i.borrow_mut() = true);
        }
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
    let api = super::api();
    // SAFETY: the GIL is held and `args` is the call's live tuple (contract). The items are
    // borrowed from it, and a tuple cannot drop its items, so they stay alive for the whole call
    // even where Python code runs (`__index__`, `__len__` of a str subclass, `original.write`).
    // A missing item is NULL with IndexError set (`PyLong_AsLong(NULL)` fails cleanly as well).
    let (index, text, original) = unsafe {
        let index = (api.PyLong_AsLong)((api.PyTuple_GetItem)(args, 0));
        (index, (api.PyTuple_GetItem)(args, 1), (api.PyTuple_GetItem)(args, 2))
    };
    // SAFETY: the GIL is held.
    if text.is_null() || original.is_null() || !unsafe { (api.PyErr_Occurred)() }.is_null() {
        return std::ptr::null_mut();
    }
    let stream = if index == 2 { 1 } else { 0 };
    // SAFETY: the GIL is held and `text` is live (above).
    let chars = unsafe { (api.PyObject_Length)(text) };
    // UTF-8 of the text; lone surrogates (from surrogateescape) become backslash escapes.
    let utf8 = || -> Option<PyRef> {
        // SAFETY: the GIL is held and `text` is live (above); the codec and error names are literals.
        let encoded = unsafe { (api.PyUnicode_AsEncodedString)(text, c"utf-8".as_ptr(), c"backslashreplace".as_ptr()) };
        PyRef::from_owned(encoded)
    };
    // The bytes of `bytes` (a bytes object: the UTF-8 codec returns one), valid while it lives.
    let contents = |bytes: &PyRef| -> Option<(*mut c_char, isize)> {
        let mut p: *mut c_char = std::ptr::null_mut();
        let mut n: isize = 0;
        // SAFETY: the GIL is held and `bytes` is a live reference; `p` and `n` are written on
        // success, `p` then pointing to the object's own `n` bytes.
        (unsafe { (api.PyBytes_AsStringAndSize)(bytes.as_ptr(), &mut p, &mut n) } == 0).then_some((p, n))
    };
    let captured = CAPTURES.with(|c| {
        let mut c = c.borrow_mut();
        let Some(top) = c.last_mut() else { return Some(false) };
        let bytes = utf8()?;
        let (p, n) = contents(&bytes)?;
        // SAFETY: `p` points to the `n` bytes of `bytes` (`contents` succeeded), immutable and alive
        // while `bytes` is held, which outlives the copy.
        top[stream].extend_from_slice(unsafe { std::slice::from_raw_parts(p.cast_const().cast::<u8>(), n as usize) });
        Some(true)
    });
    match captured {
        None => return std::ptr::null_mut(),
        // SAFETY: the GIL is held.
        Some(true) => return unsafe { (api.PyLong_FromLongLong)(chars as i64) },
        Some(false) => {}
    }
    let handler = *HANDLER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = handler {
        let Some(bytes) = utf8() else { return std::ptr::null_mut() };
        let Some((p, n)) = contents(&bytes) else { return std::ptr::null_mut() };
        // SAFETY: CPython called this function, so this thread holds the GIL; the token does not
        // leave this call.
        let py = unsafe { super::gil::assume_gil(api) };
        // The host may block (a Go io.Writer on a pipe): let other threads run Python meanwhile.
        // SAFETY: the host gave `f` with `user_data` to `pyrt_set_output_handler`: callable from
        // any thread, `user_data` valid until the handler is replaced. (Gap: `h` is a copy, so a
        // handler replaced while this write runs is still called once after the replacement
        // returned; `pyrt_set_output_handler` does not wait for running handlers.) `p`/`n` are the
        // bytes of `bytes`, immutable and kept alive (a strong reference, dropped only after the
        // call) even with the GIL released.
        super::gil::allow_threads(py, || unsafe { (h.f)(h.user_data as *mut c_void, stream as u32 + 1, p, n as usize) });
        // SAFETY: the GIL is held again (`allow_threads` took it back).
        return unsafe { (api.PyLong_FromLongLong)(chars as i64) };
    }
    if original == api.none() {
        // SAFETY: the GIL is held.
        return unsafe { (api.PyLong_FromLongLong)(chars as i64) };
    }
    let method = c"write";
    // SAFETY: the GIL is held and `original` and `text` are live (borrowed from `args`, above).
    // `f`, `a` and `r` are new references or NULL: `f` and `a` dropped once (`Py_DecRef` accepts
    // NULL), `r` returned to CPython. `a` is a new 1-tuple, only ours, and its slot gets a new
    // reference to `text`, which `PyTuple_SetItem` steals.
    unsafe {
        let f = (api.PyObject_GetAttrString)(original, method.as_ptr());
        if f.is_null() {
            return std::ptr::null_mut();
        }
        let a = (api.PyTuple_New)(1);
        if a.is_null() {
            (api.Py_DecRef)(f);
            return std::ptr::null_mut();
        }
        (api.Py_IncRef)(text);
        (api.PyTuple_SetItem)(a, 0, text);
        let r = (api.PyObject_CallObject)(f, a);
        (api.Py_DecRef)(a);
        (api.Py_DecRef)(f);
        r
    }
}
