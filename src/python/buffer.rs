//! Numeric arrays without copies, both ways.
//!
//! **Host → Python.** A host array (pointer, element count, element type) is lent to one call:
//! pyrt makes a small exporter object (`pyrt.HostBuffer`, a type built with `PyType_FromSpec`)
//! that hands out the host memory through the buffer protocol, and passes Python a `memoryview`
//! of it — so `numpy.frombuffer(mv)` / `numpy.asarray(mv)` see the host's bytes, no copy. When the
//! call returns, pyrt releases that memoryview (using it afterwards raises `ValueError`) and
//! closes the exporter (no new view can be made of it). The exporter counts the views still
//! exported: NumPy arrays made from the memoryview hold one (NumPy wraps a memoryview that has a
//! `releasebuffer` in a view of its own, which keeps the export open), as do slices and casts
//! of the memoryview. A count above zero after pyrt dropped its own references (and, if needed,
//! ran the garbage collector and cleared the frames of a failed call's traceback) means Python
//! kept something that points into host memory: the call fails with `BufferEscaped`, and the
//! host must keep the memory alive — a raw pointer an extension took cannot be withdrawn.
//!
//! **Python → host.** [`Export`] holds a `Py_buffer` of any object that has one (NumPy arrays,
//! `array.array`, `bytes`, `memoryview`...): the host reads it in place for as long as it keeps
//! the view (the exporter cannot resize or free the memory meanwhile), or copies it out in C
//! order with one copy. Shape, strides and format are reported as the exporter gave them.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicIsize, AtomicPtr, Ordering};

use super::exception;
use super::ffi::{self, PyBuffer, PyPtr, PySsize, PyTypeSlot, PyTypeSpec};
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, Result};

/// Element types (`PYRT_BUFFER_*` in the C API): (struct-module format, item size).
pub const FLOAT64: u32 = 1;
pub const FLOAT32: u32 = 2;
pub const INT64: u32 = 3;
pub const INT32: u32 = 4;
pub const UINT8: u32 = 5;
pub const INT8: u32 = 6;
pub const INT16: u32 = 7;
pub const UINT16: u32 = 8;
pub const UINT32: u32 = 9;
pub const UINT64: u32 = 10;

/// The format and item size of an element type; `None` for an unknown type.
pub fn elem_info(elem: u32) -> Option<(&'static CStr, usize)> {
    Some(match elem {
        FLOAT64 => (c"d", 8),
        FLOAT32 => (c"f", 4),
        INT64 => (c"q", 8),
        INT32 => (c"i", 4),
        UINT8 => (c"B", 1),
        INT8 => (c"b", 1),
        INT16 => (c"h", 2),
        UINT16 => (c"H", 2),
        UINT32 => (c"I", 4),
        UINT64 => (c"Q", 8),
        _ => return None,
    })
}

/// The element type a buffer format names on this (LP64, little-endian) platform, or 0. Byte
/// order prefixes `@ = <` are native here; `>`/`!` (big-endian) are not an element type.
pub fn elem_of_format(format: &[u8], itemsize: usize) -> u32 {
    let f = match format {
        [b'@' | b'=' | b'<', rest @ ..] => rest,
        f => f,
    };
    let t = match f {
        b"d" => FLOAT64,
        b"f" => FLOAT32,
        b"q" | b"l" => INT64,
        b"i" => INT32,
        b"B" | b"c" => UINT8,
        b"b" => INT8,
        b"h" => INT16,
        b"H" => UINT16,
        b"I" => UINT32,
        b"Q" | b"L" => UINT64,
        _ => 0,
    };
    // `l`/`L` are 8 bytes on LP64; a mismatch in size means another platform's letter meaning.
    match elem_info(t) {
        Some((_, size)) if size == itemsize => t,
        _ => 0,
    }
}

// ---- the exporter type ------------------------------------------------------------------------

/// `pyrt.HostBuffer`'s own fields: a one-dimensional view of host memory, open for one call.
/// They follow the object header, whose size depends on the build (16 bytes with the GIL, 32
/// free-threaded: `ffi::ObjectLayout`), so the type's `basicsize` and every access add the
/// header size of the loaded build instead of declaring a header here.
///
/// `state` and `exports` are atomics: on a free-threaded build two threads may take or release
/// views of one exporter at the same time; the other fields are written once, before the
/// exporter is handed to Python.
#[repr(C)]
struct Exporter {
    ptr: *mut c_void,
    nbytes: PySsize,
    itemsize: PySsize,
    /// shape[0] and strides[0], pointed to by the views handed out.
    shape: PySsize,
    strides: PySsize,
    format: *const c_char,
    readonly: c_int,
    /// OPEN while the call runs; anything else refuses new views (a zero-filled object made
    /// from Python is closed).
    state: AtomicI32,
    exports: AtomicIsize,
}

const OPEN: i32 = 0x6f70;

/// Where the exporter fields of the `pyrt.HostBuffer` object `o` are (computing it reads nothing).
#[allow(clippy::cast_ptr_alignment)] // aligned: see below
fn exporter_ptr(o: PyPtr) -> *mut Exporter {
    // Aligned: CPython allocates every object at least 8-aligned (pymalloc and mimalloc align to
    // 16 on 64-bit), and the header is 16 or 32 bytes, so the fields start 8-aligned, which is
    // `Exporter`'s alignment (pointers and `Py_ssize_t`s).
    o.cast::<u8>().wrapping_add(ffi::layout().header).cast::<Exporter>()
}

/// The exporter fields of a `pyrt.HostBuffer` object. Shared, never `&mut`: on a free-threaded
/// build other threads may take or release views of the same exporter at the same time (only the
/// atomics change once Python has the object).
///
/// # Safety
/// `o` must be a live object of the exporter type, kept alive for `'a`.
unsafe fn exporter<'a>(o: PyPtr) -> &'a Exporter {
    // SAFETY: `o` is a live `pyrt.HostBuffer` (caller), whose `basicsize` is the header plus
    // `size_of::<Exporter>()`, so the fields are inside it and aligned (`exporter_ptr`); they were
    // initialized, zero-filled by `PyType_GenericAlloc` and then written by `lend` before the object
    // was published, and only the atomics change afterwards.
    unsafe { &*exporter_ptr(o) }
}

static TYPE: AtomicPtr<ffi::PyObject> = AtomicPtr::new(ptr::null_mut());

fn buffer_error(py: Python, message: &CStr) {
    // SAFETY: `py` proves the GIL is held; `PyExc_BufferError` is one of the exception variables
    // (`Api::exception`), and `message` a NUL-terminated string CPython copies.
    unsafe { (py.api.PyErr_SetString)(py.api.exception(py.api.PyExc_BufferError), message.as_ptr()) };
}

unsafe extern "C" fn getbuffer(o: PyPtr, view: *mut PyBuffer, flags: c_int) -> c_int {
    // SAFETY: CPython calls `bf_getbuffer` with the GIL held, `o` a live object of the type it is
    // installed on (`pyrt.HostBuffer`) and `view` NULL or the `Py_buffer` to fill: the body's
    // contract, passed through unchanged.
    super::boundary::guard(super::boundary::Site::GetBuffer, -1, || unsafe { getbuffer_body(o, view, flags) })
}

/// # Safety
/// CPython's `bf_getbuffer` contract: `o` is a live object of the exporter type, `view` is NULL or
/// points to a `Py_buffer` to fill, and the calling thread holds the GIL.
unsafe fn getbuffer_body(o: PyPtr, view: *mut PyBuffer, flags: c_int) -> c_int {
    let api = super::api();
    // SAFETY: CPython calls buffer slots with the GIL held (an attached thread state on a
    // free-threaded build), and the token does not leave this call.
    let py = unsafe { super::gil::assume_gil(api) };
    // SAFETY: `o` is the object CPython asks a buffer of: this slot is only installed on
    // `pyrt.HostBuffer`, which cannot be subclassed (no `Py_TPFLAGS_BASETYPE`), so it is one; the
    // caller's reference keeps it alive for this call.
    let e = unsafe { exporter(o) };
    if view.is_null() {
        buffer_error(py, c"pyrt.HostBuffer: NULL view");
        return -1;
    }
    // The export is counted before the state is checked, and `Loans::close` closes the state before
    // it reads the count, all four SeqCst: either this call sees the exporter closed, or `close`
    // sees this export. (Checking first, a thread racing `close` on a free-threaded build could
    // hand out a view of host memory after `close` found none.)
    e.exports.fetch_add(1, Ordering::SeqCst);
    let refused = if e.state.load(Ordering::SeqCst) != OPEN || e.ptr.is_null() {
        Some(c"this host buffer was lent to a pyrt call that has returned: its memory belongs to the host again (copy the data during the call to keep it)")
    } else if flags & ffi::PYBUF_WRITABLE != 0 && e.readonly != 0 {
        Some(c"this host buffer is read-only (the host lent it without PYRT_BUFFER_WRITABLE)")
    } else {
        None
    };
    if let Some(message) = refused {
        e.exports.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: `view` is non-NULL (checked above) and points to the caller's `Py_buffer`.
        unsafe { (*view).obj = ptr::null_mut() };
        buffer_error(py, message);
        return -1;
    }
    let ep = exporter_ptr(o);
    // SAFETY: the GIL is held and `o` is live (above); the new reference is the one `view.obj`
    // owns, dropped by `PyBuffer_Release`. `view` is non-NULL (checked above) and points to the
    // `Py_buffer` the caller asks this slot to fill, not aliased meanwhile. `format` is a static C
    // string; `shape` and `strides` point into the exporter (derived from the object's own
    // pointer, `ep`), which `view.obj` keeps alive as long as the view exists. Consumers only read
    // `format`, `shape` and `strides` ("read-only for the consumer", the buffer protocol).
    unsafe {
        (api.Py_IncRef)(o);
        let v = &mut *view;
        v.buf = e.ptr;
        v.obj = o;
        v.len = e.nbytes;
        v.itemsize = e.itemsize;
        v.readonly = e.readonly;
        v.ndim = 1;
        v.format = if flags & ffi::PYBUF_FORMAT != 0 { e.format.cast_mut() } else { ptr::null_mut() };
        v.shape = if flags & ffi::PYBUF_ND != 0 { ptr::addr_of_mut!((*ep).shape) } else { ptr::null_mut() };
        v.strides = if flags & ffi::PYBUF_STRIDES == ffi::PYBUF_STRIDES { ptr::addr_of_mut!((*ep).strides) } else { ptr::null_mut() };
        v.suboffsets = ptr::null_mut();
        v.internal = ptr::null_mut();
    }
    0
}

unsafe extern "C" fn releasebuffer(o: PyPtr, _view: *mut PyBuffer) {
    // SAFETY: CPython calls `bf_releasebuffer` with the GIL held and `o` the view's exporter, a
    // `pyrt.HostBuffer` the view still references: the body's contract, passed through.
    super::boundary::guard(super::boundary::Site::ReleaseBuffer, (), || unsafe { releasebuffer_body(o, _view) })
}

/// # Safety
/// CPython's `bf_releasebuffer` contract: `o` is the exporter a view was taken from (its `obj`),
/// still alive: the view's reference is dropped only after this call.
unsafe fn releasebuffer_body(o: PyPtr, _view: *mut PyBuffer) {
    // SAFETY: `o` is a live `pyrt.HostBuffer` (this slot is only installed on that type, which
    // cannot be subclassed), kept alive by the view being released for this call.
    let e = unsafe { exporter(o) };
    e.exports.fetch_sub(1, Ordering::AcqRel);
}

/// The exporter type, made on first use (main interpreter; never freed).
fn exporter_type(py: Python) -> Result<PyPtr> {
    let t = TYPE.load(Ordering::Acquire);
    if !t.is_null() {
        return Ok(t);
    }
    let api = py.api;
    let minor = super::loaded().map_or(8, |l| l.minor);
    // 3.9+ take the buffer slots in the spec; 3.8's PyType_FromSpec does not know them
    // (typeslots.h leaves them undefined), so there they are written into the heap type's own
    // PyBufferProcs, which tp_as_buffer points to.
    let mut slots = [
        PyTypeSlot { slot: ffi::PY_BF_GETBUFFER, pfunc: getbuffer as *mut c_void },
        PyTypeSlot { slot: ffi::PY_BF_RELEASEBUFFER, pfunc: releasebuffer as *mut c_void },
        PyTypeSlot { slot: 0, pfunc: ptr::null_mut() },
    ];
    let slots_ptr = if minor >= 9 { slots.as_mut_ptr() } else { slots[2..].as_mut_ptr() };
    let mut spec = PyTypeSpec {
        name: c"pyrt.HostBuffer".as_ptr(),
        basicsize: (ffi::layout().header + std::mem::size_of::<Exporter>()) as c_int,
        itemsize: 0,
        flags: ffi::TPFLAGS_DEFAULT,
        slots: slots_ptr,
    };
    // SAFETY: `py` proves the GIL is held. `spec` and the slot array it points to live until the
    // call returns (CPython copies the slots); the name is a static C string, which 3.8-3.11 keep
    // pointing to as `tp_name`.
    let t = unsafe { (api.PyType_FromSpec)(&mut spec) };
    if t.is_null() {
        return Err(exception::fetch(py));
    }
    if minor < 9 {
        // Aligned: a type object is allocated by CPython (at least 8-aligned) and
        // `tp_as_buffer()` is a multiple of 8 (the header, `ob_size` and 17 pointer-sized slots).
        #[allow(clippy::cast_ptr_alignment)]
        let slot = t.cast::<u8>().cast_const().wrapping_add(ffi::layout().tp_as_buffer()).cast::<*mut [*mut c_void; 2]>();
        // SAFETY: `t` is the new heap type (a new reference we own), and on 3.8 (the only version
        // taking this path) `tp_as_buffer` is at that offset, aligned (above), and points to the
        // `PyBufferProcs` inside the same `PyHeapTypeObject`: two function pointers,
        // `bf_getbuffer` and `bf_releasebuffer`. Nothing else can see the type yet (it is
        // published below) and the GIL is held, so the writes race with nothing.
        unsafe {
            let procs = *slot;
            if procs.is_null() {
                return Err(Error::new(ErrorKind::Internal, "pyrt.HostBuffer has no buffer procs"));
            }
            (*procs)[0] = getbuffer as *mut c_void;
            (*procs)[1] = releasebuffer as *mut c_void;
        }
    }
    // Two threads may make it at once (free-threaded builds, or a GC pass running Python code in
    // between): the first stored wins and the loser's type is dropped.
    match TYPE.compare_exchange(ptr::null_mut(), t, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Ok(t),
        Err(winner) => {
            // SAFETY: `t` is our own new reference to the losing type, never published; the GIL is
            // held (`py`).
            unsafe { (api.Py_DecRef)(t) };
            Ok(winner)
        }
    }
}

// ---- lending host memory for one call ----------------------------------------------------------

/// One host array lent to a call: the exporter and the memoryview Python receives.
struct Loan {
    exporter: PyRef,
    /// Dropped when the loan ends.
    view: Option<PyRef>,
}

/// The host arrays lent to one call. Dropping it closes them (also on early returns).
#[derive(Default)]
pub struct Loans {
    loans: Vec<Loan>,
    closed: bool,
}

impl Loans {
    pub fn is_empty(&self) -> bool {
        self.loans.is_empty()
    }

    /// Lends `count` elements of type `elem` at `data`; returns the memoryview for the call's
    /// arguments (a new reference).
    ///
    /// # Safety
    /// `data` is NULL when `count` is 0, or else readable (and, if `writable`, writable) for
    /// `count` elements of `elem`'s size until the loans are closed ([`Loans::close`]): Python
    /// code reads and writes it through the memoryview until then.
    pub unsafe fn lend(&mut self, py: Python, data: *mut c_void, count: usize, elem: u32, writable: bool) -> Result<PyRef> {
        let (format, itemsize) = elem_info(elem).ok_or_else(|| Error::invalid_argument(format!("unknown buffer element type {elem}")))?;
        let nbytes =
            count.checked_mul(itemsize).filter(|n| *n <= isize::MAX as usize).ok_or_else(|| Error::invalid_argument("buffer too large"))?;
        let t = exporter_type(py)?;
        let api = py.api;
        // SAFETY: `py` proves the GIL is held; `t` is the exporter type, which `TYPE` keeps alive
        // for good. The result is a new reference (or NULL with an error set).
        let o = unsafe { PyRef::from_owned((api.PyType_GenericAlloc)(t, 0)) }.ok_or_else(|| exception::fetch(py))?;
        // SAFETY: `o` is the new, zero-filled exporter (`exporter_ptr`: its fields are in bounds and
        // aligned); only this thread has it, as Python gets it only from the memoryview made below,
        // so this `&mut` aliases nothing and ends before it is published.
        unsafe {
            let e = &mut *exporter_ptr(o.as_ptr());
            // A zero-length array may come with a NULL pointer: lend an empty, valid address.
            e.ptr = if data.is_null() { ptr::NonNull::<u64>::dangling().as_ptr().cast() } else { data };
            e.nbytes = nbytes as PySsize;
            e.itemsize = itemsize as PySsize;
            e.shape = count as PySsize;
            e.strides = itemsize as PySsize;
            e.format = format.as_ptr();
            e.readonly = c_int::from(!writable);
            e.state.store(OPEN, Ordering::Release);
            e.exports.store(0, Ordering::Release);
        }
        // SAFETY: the GIL is held (`py`) and `o` is a live exporter we own a reference to; the
        // result is a new reference (or NULL with an error set).
        let view = unsafe { PyRef::from_owned((api.PyMemoryView_FromObject)(o.as_ptr())) }.ok_or_else(|| exception::fetch(py))?;
        let arg = view.clone_ref(py);
        self.loans.push(Loan { exporter: o, view: Some(view) });
        Ok(arg)
    }

    /// Ends the loans after the call (its argument references already dropped): releases each
    /// memoryview pyrt passed (so it raises ValueError if Python kept it) and closes each
    /// exporter. Returns true when some exporter still has views open: Python kept something
    /// that points into host memory.
    pub fn close(&mut self, py: Python) -> bool {
        self.closed = true;
        let api = py.api;
        for l in &mut self.loans {
            // SAFETY: `l.exporter` is a strong reference to an exporter `lend` made. SeqCst: see
            // `getbuffer_body` (this store comes before `exported` reads the counts).
            unsafe {
                exporter(l.exporter.as_ptr()).state.store(0, Ordering::SeqCst);
            }
            let Some(view) = l.view.take() else { continue };
            // Only we hold the memoryview: dropping it releases it. Otherwise Python kept it:
            // release it explicitly, so any later use raises ValueError. (A refcount is exact
            // here: a memoryview is never immortal, and this thread made it, so on a
            // free-threaded build every other reference is in the shared count.)
            // SAFETY: `view` is our own strong reference to a live memoryview; `py` proves the GIL
            // is held.
            if unsafe { ffi::refcnt(view.as_ptr()) } > 1 {
                // SAFETY: the GIL is held and `view` is live (our reference). `release` and `r` are
                // new references or NULL, each dropped once (`Py_DecRef` accepts NULL).
                unsafe {
                    let release = (api.PyObject_GetAttrString)(view.as_ptr(), c"release".as_ptr());
                    let r = if release.is_null() { ptr::null_mut() } else { (api.PyObject_CallObject)(release, ptr::null_mut()) };
                    if r.is_null() {
                        // BufferError: the memoryview itself still exports a buffer (someone
                        // holds a Py_buffer of it): counted as escaped below.
                        (api.PyErr_Clear)();
                    }
                    (api.Py_DecRef)(r);
                    (api.Py_DecRef)(release);
                }
            }
            drop(view);
        }
        self.exported()
    }

    /// True when some exporter still has a view open.
    pub fn exported(&self) -> bool {
        // SAFETY: each `l.exporter` is a strong reference to an exporter `lend` made, alive while
        // `self` is borrowed. SeqCst: see `getbuffer_body`.
        self.loans.iter().any(|l| unsafe { exporter(l.exporter.as_ptr()) }.exports.load(Ordering::SeqCst) > 0)
    }

    /// After [`Loans::close`] found views open: lets go of what only looks alive — the frames a
    /// failed call's traceback keeps (`traceback.clear_frames`) and unreachable cycles
    /// (`gc.collect()`) — and checks again.
    pub fn settle(&self, py: Python, error: Option<&Error>) -> bool {
        if let Some(exc) = error.and_then(|e| e.exception.as_ref()).and_then(|x| super::handles::held(x)?.get(py)) {
            run_quietly(py, c"traceback", c"clear_frames", Some(&exc), true);
        }
        if !self.exported() {
            return false;
        }
        run_quietly(py, c"gc", c"collect", None, false);
        self.exported()
    }
}

impl Drop for Loans {
    fn drop(&mut self) {
        if !self.closed && !self.loans.is_empty() {
            if let Some(api) = super::loaded().map(|l| &l.api) {
                // Early return (an argument failed to convert): still close every exporter.
                // SAFETY: the loans hold `PyRef`s, which exist only under the GIL and are dropped
                // with it held (`PyRef`'s rule; `Loans` is not `Send`), so this drop runs with the
                // GIL held; the token does not outlive it.
                let py = unsafe { super::gil::assume_gil(api) };
                self.close(py);
            }
        }
    }
}

/// `module.function(arg.__traceback__ if traceback else arg)` with errors ignored.
fn run_quietly(py: Python, module: &CStr, function: &CStr, arg: Option<&PyRef>, traceback: bool) {
    let api = py.api;
    let arg = arg.map(PyRef::as_ptr);
    // SAFETY: `py` proves the GIL is held. `arg` is live: the caller's `PyRef` holds a reference
    // for this call. `m`, `f`, `a`, `args` and `r` are new
    // references or NULL, each dropped exactly once (`Py_DecRef` accepts NULL) except `a`, which
    // `PyTuple_SetItem` steals into the fresh 1-tuple made for it.
    unsafe {
        let m = (api.PyImport_ImportModule)(module.as_ptr());
        let f = if m.is_null() { ptr::null_mut() } else { (api.PyObject_GetAttrString)(m, function.as_ptr()) };
        if !f.is_null() {
            let a = match arg {
                Some(a) if traceback => (api.PyObject_GetAttrString)(a, c"__traceback__".as_ptr()),
                Some(a) => {
                    (api.Py_IncRef)(a);
                    a
                }
                None => ptr::null_mut(),
            };
            let args = if a.is_null() { (api.PyTuple_New)(0) } else { (api.PyTuple_New)(1) };
            if !a.is_null() && !args.is_null() {
                (api.PyTuple_SetItem)(args, 0, a);
            } else {
                (api.Py_DecRef)(a);
            }
            let arg_failed = arg.is_some() && a.is_null();
            if !args.is_null() && !arg_failed {
                let r = (api.PyObject_CallObject)(f, args);
                (api.Py_DecRef)(r);
            }
            (api.Py_DecRef)(args);
        }
        (api.PyErr_Clear)();
        (api.Py_DecRef)(f);
        (api.Py_DecRef)(m);
    }
}

/// The error of a call whose Python code kept a view of a lent host buffer.
pub fn escaped_error(cause: Option<&Error>) -> Error {
    let mut message = String::from(
        "the Python code kept a reference to a host buffer lent to this call (an array or view made from it, stored beyond the call); the host memory must stay valid from now on — copy the data inside the call (e.g. numpy's .copy()) to keep it",
    );
    if let Some(e) = cause {
        message.push_str(&format!(" (the call itself failed: {e})"));
    }
    Error::new(ErrorKind::BufferEscaped, message)
}

/// The error of a call whose result refers to a lent host buffer (pyrt dropped the result).
pub fn result_refers_error() -> Error {
    Error::new(
        ErrorKind::Conversion,
        "the call's result refers to a host buffer lent to the call (e.g. numpy.frombuffer of it); return a copy (numpy's .copy()) or write into a buffer lent with PYRT_BUFFER_WRITABLE instead",
    )
}

// ---- reading an object's buffer ---------------------------------------------------------------

/// A `Py_buffer` of some object, held by the host: the memory stays valid and in place until
/// it is released (with the GIL; by `handles::drain` when the host frees it: `release_later`).
pub struct Export {
    view: Box<PyBuffer>,
    /// Shape and strides widened to i64, and the format as a C string (never NULL).
    pub shape: Vec<i64>,
    pub strides: Vec<i64>,
    pub format: std::ffi::CString,
    pub elem: u32,
    pub c_contiguous: bool,
}

// SAFETY: the `Py_buffer` is only released with the GIL held (`release`, which takes a `Python`
// token), and CPython lets any thread holding the GIL release a view; its other fields are plain
// data, and the exporter keeps the memory in place until the release, whichever thread reads it.
unsafe impl Send for Export {}
// SAFETY: `&Export` allows only reads: the plain fields (no interior mutability) and `copy_to`,
// which reads the exported memory under the GIL. Nothing mutates the view through `&Export`.
unsafe impl Sync for Export {}

impl Export {
    /// A view of `o`'s buffer. `writable`: ask for write access. `contiguous`: require
    /// C-contiguous memory (else a BufferError from the exporter, or from pyrt).
    pub fn new(py: Python, o: &PyRef, writable: bool, contiguous: bool) -> Result<Export> {
        let api = py.api;
        // SAFETY: `Py_buffer` is a C struct of pointers and integers, for which all zeros is valid.
        let mut view: Box<PyBuffer> = Box::new(unsafe { std::mem::zeroed() });
        let flags = if writable { ffi::PYBUF_FULL } else { ffi::PYBUF_FULL_RO };
        // SAFETY: `py` proves the GIL is held; `o` is a live object (a `PyRef`); `view` is a
        // writable `Py_buffer`.
        if unsafe { (api.PyObject_GetBuffer)(o.as_ptr(), &mut *view, flags) } != 0 {
            return Err(exception::fetch(py));
        }
        let v = &*view;
        let ndim = v.ndim.max(0) as usize;
        let itemsize = v.itemsize.max(0) as usize;
        // SAFETY: the view was filled by a successful `PyObject_GetBuffer` and is held until
        // `release`: `shape` and `strides`, when not NULL, point to `ndim` `Py_ssize_t`s (C arrays,
        // so aligned) the exporter keeps valid until then.
        let (shape, strides) = unsafe {
            let shape: Vec<i64> = match (ndim, v.shape.is_null()) {
                (0, _) => Vec::new(),
                (_, true) => vec![(v.len as usize / itemsize.max(1)) as i64],
                (_, false) => (0..ndim).map(|i| *v.shape.add(i) as i64).collect(),
            };
            let strides: Vec<i64> = if v.strides.is_null() || ndim == 0 {
                // C-contiguous: strides follow from the shape.
                let mut s = vec![0i64; shape.len()];
                let mut acc = itemsize as i64;
                for i in (0..shape.len()).rev() {
                    s[i] = acc;
                    acc *= shape[i];
                }
                s
            } else {
                (0..ndim).map(|i| *v.strides.add(i) as i64).collect()
            };
            (shape, strides)
        };
        // SAFETY: a non-NULL `format` of a held view is a NUL-terminated string the exporter keeps
        // valid until the release; it is copied at once.
        let format = if v.format.is_null() { c"B".to_owned() } else { unsafe { CStr::from_ptr(v.format) }.to_owned() };
        let elem = elem_of_format(format.to_bytes(), itemsize);
        // SAFETY: `view` is a held view (above); the call only reads it. The GIL is held (`py`).
        let c_contiguous = unsafe { (api.PyBuffer_IsContiguous)(&*view, b'C' as c_char) != 0 };
        let export = Export { view, shape, strides, format, elem, c_contiguous };
        if !export.view.suboffsets.is_null() {
            let e = Error::invalid_argument("buffers with suboffsets (PIL-style indirect arrays) are not supported");
            export.release(py);
            return Err(e);
        }
        if contiguous && !export.c_contiguous {
            export.release(py);
            return Err(Error::invalid_argument("the object's buffer is not C-contiguous (e.g. a transposed or sliced array): ask without PYRT_BUFFER_CONTIGUOUS and copy it out, or pass numpy.ascontiguousarray(x)"));
        }
        Ok(export)
    }

    pub fn data(&self) -> *mut c_void {
        self.view.buf
    }
    pub fn len(&self) -> usize {
        self.view.len as usize
    }
    pub fn itemsize(&self) -> usize {
        self.view.itemsize as usize
    }
    pub fn ndim(&self) -> usize {
        self.view.ndim.max(0) as usize
    }
    pub fn readonly(&self) -> bool {
        self.view.readonly != 0
    }

    /// Copies the whole buffer, in C (row-major) order, to `dst` (`dst_len` bytes, at least
    /// [`Export::len`]). GIL held.
    ///
    /// # Safety
    /// `dst` is NULL (an error unless nothing is copied) or writable for `dst_len` bytes.
    pub unsafe fn copy_to(&self, py: Python, dst: *mut c_void, dst_len: usize) -> Result<()> {
        if dst_len < self.len() {
            return Err(Error::invalid_argument(format!("destination holds {dst_len} bytes; the buffer has {}", self.len())));
        }
        if self.len() == 0 {
            return Ok(());
        }
        if dst.is_null() {
            return Err(Error::invalid_argument("dst is NULL"));
        }
        // SAFETY: `py` proves the GIL is held; `self.view` is a held view (an `Export` exists only
        // after a successful `PyObject_GetBuffer`, until `release`). `dst` is non-NULL (checked) and,
        // by this function's `# Safety` contract, writable for `dst_len` bytes, at least the `len` copied.
        if unsafe { (py.api.PyBuffer_ToContiguous)(dst, &*self.view, self.view.len, b'C' as c_char) } != 0 {
            return Err(exception::fetch(py));
        }
        Ok(())
    }

    /// Releases the view. GIL held.
    pub fn release(mut self, py: Python) {
        // SAFETY: `py` proves the GIL is held; the view is held (filled by a successful
        // `PyObject_GetBuffer`), and released once: `release` consumes the `Export`.
        unsafe { (py.api.PyBuffer_Release)(&mut *self.view) };
        self.view.obj = ptr::null_mut();
    }

    /// Releases the view with the next main-interpreter GIL holder (`handles::drain`): from any
    /// thread, without the GIL, never blocking on Python. After finalization the view is simply
    /// forgotten (the interpreter that owned it is gone).
    pub fn release_later(self) {
        if !super::liveness::is_alive() {
            self.forget();
            return;
        }
        super::handles::queue_main_release(Box::new(move |py| self.release(py)));
    }

    /// Gives up the view without releasing it (the interpreter is gone).
    fn forget(mut self) {
        self.view.obj = ptr::null_mut();
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        debug_assert!(self.view.obj.is_null(), "an Export must be released with the GIL (Export::release_later)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(elem_of_format(b"d", 8), FLOAT64);
        assert_eq!(elem_of_format(b"<d", 8), FLOAT64);
        assert_eq!(elem_of_format(b">d", 8), 0);
        assert_eq!(elem_of_format(b"l", 8), INT64);
        assert_eq!(elem_of_format(b"l", 4), 0);
        assert_eq!(elem_of_format(b"B", 1), UINT8);
        assert_eq!(elem_of_format(b"Zd", 16), 0);
        for t in 1..=10 {
            let (f, size) = elem_info(t).unwrap();
            assert_eq!(elem_of_format(f.to_bytes(), size), t);
        }
        assert!(elem_info(0).is_none() && elem_info(11).is_none());
    }
}
