//! The CPython C-API as pyrt sees it: function pointers and data addresses resolved from a
//! libpython opened at run time. No Python headers are involved; every prototype below is the
//! stable one shared by every CPython from 3.8 on (docs/cpython-abi.md). The few layouts pyrt
//! still reads (the object header, `Py_buffer`, `PyStatus`) are ABI that compiled extension
//! modules depend on too; where a build kind changes one, `ObjectLayout` follows it.
//! Macros (`Py_INCREF`, `Py_None`, `PyLong_Check`, ...) are replaced by the exported functions and
//! data symbols that implement them.

use std::ffi::{c_char, c_int, c_long, c_longlong, c_ulong, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use libloading::os::unix::Library;

/// An opaque CPython object. Only ever used behind a pointer.
#[repr(C)]
pub struct PyObject {
    _private: [u8; 0],
}
/// An opaque CPython thread state.
#[repr(C)]
pub struct PyThreadState {
    _private: [u8; 0],
}

pub type PyPtr = *mut PyObject;
pub type PySsize = isize;

/// `PyStatus` is returned by value by the PEP 587 functions (32 bytes in every version).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PyStatus {
    pub kind: c_int, // 0 ok, 1 error, 2 exit
    pub func: *const c_char,
    pub err_msg: *const c_char,
    pub exitcode: c_int,
}

/// `PyMethodDef`: identical in every version (name, C function, flags, doc).
#[repr(C)]
pub struct PyMethodDef {
    pub ml_name: *const c_char,
    pub ml_meth: *const c_void,
    pub ml_flags: c_int,
    pub ml_doc: *const c_char,
}
// SAFETY: a shared `&PyMethodDef` only lets a thread copy the four fields out (no interior
// mutability); the pointers they hold are dereferenced only in `unsafe` code (CPython reads the
// name/doc strings and calls `ml_meth`, never writing through them), and pyrt's method tables are
// statics pointing at static C strings and `extern "C"` functions, valid from any thread.
unsafe impl Sync for PyMethodDef {}

pub const METH_VARARGS: c_int = 0x0001;
pub const METH_KEYWORDS: c_int = 0x0002;
pub const METH_O: c_int = 0x0008;
pub const METH_NOARGS: c_int = 0x0004;

/// `PyInterpreterConfig` (3.12-3.14: seven ints, unchanged), followed by zeroed room: should a
/// later release append fields, CPython reads zeros there rather than whatever follows on the
/// stack (docs/cpython-abi.md).
#[repr(C)]
pub struct PyInterpreterConfig {
    pub use_main_obmalloc: c_int,
    pub allow_fork: c_int,
    pub allow_exec: c_int,
    pub allow_threads: c_int,
    pub allow_daemon_threads: c_int,
    pub check_multi_interp_extensions: c_int,
    pub gil: c_int,
    pub reserved: [c_int; 25],
}

/// `PyInterpreterConfig_OWN_GIL`.
pub const OWN_GIL: c_int = 2;

/// `Py_buffer`: 80 bytes with the same offsets in every version and build kind (it is part of
/// the buffer protocol's ABI, PEP 3118, and of the stable ABI since 3.11).
#[repr(C)]
pub struct PyBuffer {
    pub buf: *mut c_void,
    pub obj: PyPtr,
    pub len: PySsize,
    pub itemsize: PySsize,
    pub readonly: c_int,
    pub ndim: c_int,
    pub format: *mut c_char,
    pub shape: *mut PySsize,
    pub strides: *mut PySsize,
    pub suboffsets: *mut PySsize,
    pub internal: *mut c_void,
}

/// `PyType_Slot` and `PyType_Spec` (stable since 3.2).
#[repr(C)]
pub struct PyTypeSlot {
    pub slot: c_int,
    pub pfunc: *mut c_void,
}
#[repr(C)]
pub struct PyTypeSpec {
    pub name: *const c_char,
    pub basicsize: c_int,
    pub itemsize: c_int,
    pub flags: std::ffi::c_uint,
    pub slots: *mut PyTypeSlot,
}

/// `PyBUF_*` request flags (identical in every version).
pub const PYBUF_WRITABLE: c_int = 0x0001;
pub const PYBUF_FORMAT: c_int = 0x0004;
pub const PYBUF_ND: c_int = 0x0008;
pub const PYBUF_STRIDES: c_int = 0x0010 | PYBUF_ND;
pub const PYBUF_FULL_RO: c_int = PYBUF_STRIDES | PYBUF_FORMAT | 0x0100;
pub const PYBUF_FULL: c_int = PYBUF_FULL_RO | PYBUF_WRITABLE;
/// `Py_TPFLAGS_DEFAULT` for a GIL build (`Py_TPFLAGS_HAVE_VERSION_TAG`).
pub const TPFLAGS_DEFAULT: std::ffi::c_uint = 1 << 18;
/// `Py_bf_getbuffer` / `Py_bf_releasebuffer` type slots (honoured by PyType_FromSpec from 3.9).
pub const PY_BF_GETBUFFER: c_int = 1;
pub const PY_BF_RELEASEBUFFER: c_int = 2;

pub const PY_FILE_INPUT: c_int = 257;
pub const PY_EVAL_INPUT: c_int = 258;

pub const TPFLAGS_LONG_SUBCLASS: c_ulong = 1 << 24;
pub const TPFLAGS_LIST_SUBCLASS: c_ulong = 1 << 25;
pub const TPFLAGS_TUPLE_SUBCLASS: c_ulong = 1 << 26;
pub const TPFLAGS_UNICODE_SUBCLASS: c_ulong = 1 << 28;
pub const TPFLAGS_DICT_SUBCLASS: c_ulong = 1 << 29;
pub const TPFLAGS_BASE_EXC_SUBCLASS: c_ulong = 1 << 30;

/// The object header as the loaded build lays it out (docs/cpython-abi.md). Only two layouts
/// exist, fixed per build kind since 3.8 and unchanged through 3.14:
///
/// * GIL builds: `{ Py_ssize_t ob_refcnt; PyTypeObject *ob_type; }` — 16 bytes, `ob_type` at 8.
///   3.12 made `ob_refcnt` a union with split 32-bit halves (immortal objects) and 3.14 added
///   flags inside that word, but the word is still 8 bytes at offset 0.
/// * free-threaded builds (`Py_GIL_DISABLED`, `libpython3.Xt`): `{ uintptr_t ob_tid; uint16_t
///   ob_flags; PyMutex ob_mutex; uint8_t ob_gc_bits; uint32_t ob_ref_local; Py_ssize_t
///   ob_ref_shared; PyTypeObject *ob_type; }` — 32 bytes, `ob_type` at 24, the reference count
///   split between `ob_ref_local` (owning thread) and `ob_ref_shared` (others, shifted by 2).
///
/// These are ABI: every compiled extension module reads `ob_type` at this offset through the
/// `Py_TYPE` macro, so CPython cannot move it within a build kind without breaking every wheel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectLayout {
    /// `sizeof(PyObject)`: where a type's own fields start.
    pub header: usize,
    /// `offsetof(PyObject, ob_type)`.
    pub ob_type: usize,
    pub free_threaded: bool,
}

impl ObjectLayout {
    pub const GIL: ObjectLayout = ObjectLayout { header: 16, ob_type: 8, free_threaded: false };
    pub const FREE_THREADED: ObjectLayout = ObjectLayout { header: 32, ob_type: 24, free_threaded: true };

    pub fn of(free_threaded: bool) -> ObjectLayout {
        if free_threaded {
            Self::FREE_THREADED
        } else {
            Self::GIL
        }
    }

    /// `offsetof(PyTypeObject, tp_name)`: a type object is a `PyVarObject` (header + `ob_size`)
    /// followed by `tp_name`, in every version.
    pub fn tp_name(self) -> usize {
        self.header + 8
    }

    /// `offsetof(PyTypeObject, tp_as_buffer)`: 17 pointer-sized slots after `tp_name` (3.8
    /// `cpython/object.h`; only read on 3.8, whose `PyType_FromSpec` ignores buffer slots).
    pub fn tp_as_buffer(self) -> usize {
        self.tp_name() + 136
    }
}

/// `offsetof(PyObject, ob_type)` of the loaded build; set once by the loader before any object
/// exists (8 until then, the GIL layout).
static OB_TYPE_OFFSET: AtomicUsize = AtomicUsize::new(8);
static FREE_THREADED: AtomicBool = AtomicBool::new(false);

/// Records the loaded library's layout (the loader, once, before initialization).
pub(crate) fn set_layout(layout: ObjectLayout) {
    OB_TYPE_OFFSET.store(layout.ob_type, Ordering::Relaxed);
    FREE_THREADED.store(layout.free_threaded, Ordering::Relaxed);
}

/// The loaded build's object layout.
#[inline]
pub fn layout() -> ObjectLayout {
    ObjectLayout::of(FREE_THREADED.load(Ordering::Relaxed))
}

/// True when the loaded libpython is a free-threaded build (no GIL guards pyrt's state there).
#[inline]
pub fn free_threaded() -> bool {
    FREE_THREADED.load(Ordering::Relaxed)
}

/// Reads `Py_TYPE(o)` (a macro, so not exported).
///
/// # Safety
/// `o` must point to a live Python object, and the calling thread must hold the GIL (have an
/// attached thread state: on a free-threaded build `__class__` assignment stops the world).
#[inline]
pub unsafe fn py_type(o: PyPtr) -> PyPtr {
    // Aligned, as the SAFETY note below shows.
    #[allow(clippy::cast_ptr_alignment)]
    let field = o.cast::<u8>().cast_const().wrapping_add(OB_TYPE_OFFSET.load(Ordering::Relaxed)).cast::<PyPtr>();
    // SAFETY: `o` points to a live object (caller), whose header is `ObjectLayout::header` (16 or
    // 32) bytes, so `o + ob_type` (8 or 24, set by the loader for the loaded build kind) is inside
    // it. Aligned: every object is either allocated by CPython (pymalloc and the system allocator
    // both align to 16 on the 64-bit targets these layouts describe) or a static C struct whose
    // first field is pointer-sized, so `o` is 8-aligned, and 8 and 24 are multiples of 8, the
    // alignment of `PyObject *`. With the GIL held nothing writes `ob_type` concurrently.
    unsafe { *field }
}

/// The reference count of `o`, as `Py_REFCNT` computes it for the loaded build.
///
/// # Safety
/// `o` must point to a live Python object that the calling thread holds a reference to, and the
/// thread must hold the GIL (have an attached thread state); on a free-threaded build the figure
/// is exact only for an object no other thread references.
#[inline]
pub unsafe fn refcnt(o: PyPtr) -> PySsize {
    let base = o.cast::<u8>();
    if free_threaded() {
        // SAFETY: `o` is a live object (caller) with the 32-byte free-threaded header, so offsets
        // 12 (`uint32_t ob_ref_local`) and 16 (`Py_ssize_t ob_ref_shared`) are inside it. The
        // object is 8-aligned (see `py_type`), so 12 is 4-aligned (`AtomicU32`) and 16 8-aligned
        // (`AtomicIsize`). Other threads update these fields concurrently, always with atomic
        // operations (CPython's `_Py_atomic_*`, as `Py_REFCNT` reads them too): relaxed atomic
        // loads, not plain reads, so this read is no data race. The references live only for the
        // two loads, while the caller's reference keeps the object alive.
        #[allow(clippy::cast_ptr_alignment)]
        let (local, shared) = unsafe {
            (
                std::sync::atomic::AtomicU32::from_ptr(base.add(12).cast::<u32>()).load(Ordering::Relaxed),
                std::sync::atomic::AtomicIsize::from_ptr(base.add(16).cast::<PySsize>()).load(Ordering::Relaxed),
            )
        };
        if local == u32::MAX {
            return PySsize::MAX; // immortal
        }
        local as PySsize + (shared >> 2)
    } else {
        // Aligned, as the SAFETY note below shows.
        #[allow(clippy::cast_ptr_alignment)]
        let ob_refcnt = base.cast_const().cast::<PySsize>();
        // SAFETY: on a GIL build `ob_refcnt` is the 8-byte word at offset 0 of the live object
        // (caller); the object is 8-aligned (see `py_type`), the alignment of `Py_ssize_t`. It is
        // written only by threads holding the GIL, which the caller holds, so nothing races.
        unsafe { *ob_refcnt }
    }
}

macro_rules! cpython_api {
    (
        functions { $( $fname:ident : fn( $($arg:ty),* ) $(-> $ret:ty)? ; )* }
        optional { $( $oname:ident : fn( $($oarg:ty),* ) $(-> $oret:ty)? ; )* }
        objects { $( $dname:ident ; )* }
        object_pointers { $( $pname:ident ; )* }
    ) => {
        /// Every CPython entry point pyrt uses, resolved once when the library is loaded.
        #[allow(non_snake_case)]
        pub struct Api {
            $( pub $fname: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
            $( pub $oname: Option<unsafe extern "C" fn($($oarg),*) $(-> $oret)?>, )*
            $( pub $dname: PyPtr, )*
            $( pub $pname: PyPtr, )*
        }

        impl Api {
            /// The symbols a library must export (functions and data), in declaration order.
            pub const MANDATORY: &'static [&'static str] = &[
                $( stringify!($fname), )* $( stringify!($dname), )* $( stringify!($pname), )*
            ];

            /// Resolves every mandatory symbol (naming the first one missing) and the optional ones.
            ///
            /// # Safety
            /// `lib` must be a CPython 3.8+ shared library; the prototypes above are trusted.
            #[allow(non_snake_case)]
            pub unsafe fn resolve(lib: &Library) -> Result<Api, String> {
                $(
                    // SAFETY: the symbol is declared above with CPython's prototype (trusted for a
                    // 3.8+ library, the caller's contract); the copied function pointer stays valid
                    // because the loader never unloads the library (loader.rs forgets both handles).
                    let $fname = *unsafe { lib
                        .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(concat!(stringify!($fname), "\0").as_bytes()) }
                        .map_err(|_| stringify!($fname).to_string())?;
                )*
                $(
                    // SAFETY: as for the mandatory functions: the declared prototype is CPython's,
                    // and the library stays loaded for the life of the process.
                    let $oname = unsafe { lib
                        .get::<unsafe extern "C" fn($($oarg),*) $(-> $oret)?>(concat!(stringify!($oname), "\0").as_bytes()) }
                        .ok()
                        .map(|s| *s);
                )*
                $(
                    // Data symbols such as `_Py_NoneStruct` *are* the object.
                    // SAFETY: a `Symbol<*mut c_void>` derefs to the symbol's address, only copied
                    // here (not read through); it is a static object in a library never unloaded.
                    let $dname = unsafe { lib
                        .get::<*mut c_void>(concat!(stringify!($dname), "\0").as_bytes()) }
                        .map(|s| s.cast::<PyObject>())
                        .map_err(|_| stringify!($dname).to_string())?;
                )*
                $(
                    // `PyExc_*` are `PyObject *` variables: the symbol is the variable's address,
                    // read once after initialization (see `Api::exception`).
                    // SAFETY: as for the data symbols: only the address is copied.
                    let $pname = unsafe { lib
                        .get::<*mut c_void>(concat!(stringify!($pname), "\0").as_bytes()) }
                        .map(|s| s.cast::<PyObject>())
                        .map_err(|_| stringify!($pname).to_string())?;
                )*
                Ok(Api { $($fname,)* $($oname,)* $($dname,)* $($pname,)* })
            }
        }
    };
}

cpython_api! {
    functions {
        Py_FinalizeEx: fn() -> c_int;

        PyEval_SaveThread: fn() -> *mut PyThreadState;
        PyEval_RestoreThread: fn(*mut PyThreadState);
        PyGILState_Ensure: fn() -> c_int;
        PyGILState_Release: fn(c_int);
        PyGILState_GetThisThreadState: fn() -> *mut PyThreadState;
        PyThreadState_SetAsyncExc: fn(c_ulong, PyPtr) -> c_int;
        PyThreadState_Get: fn() -> *mut PyThreadState;
        PyThreadState_Swap: fn(*mut PyThreadState) -> *mut PyThreadState;
        PyThreadState_New: fn(*mut c_void) -> *mut PyThreadState;
        PyThreadState_Clear: fn(*mut PyThreadState);
        PyThreadState_DeleteCurrent: fn();
        PyThreadState_Delete: fn(*mut PyThreadState);
        Py_EndInterpreter: fn(*mut PyThreadState);

        Py_IncRef: fn(PyPtr);
        Py_DecRef: fn(PyPtr);
        PyType_GetFlags: fn(PyPtr) -> c_ulong;
        PyType_IsSubtype: fn(PyPtr, PyPtr) -> c_int;

        PyLong_FromLongLong: fn(c_longlong) -> PyPtr;
        PyLong_FromString: fn(*const c_char, *mut *mut c_char, c_int) -> PyPtr;
        PyLong_AsLongLongAndOverflow: fn(PyPtr, *mut c_int) -> c_longlong;
        PyFloat_FromDouble: fn(f64) -> PyPtr;
        PyFloat_AsDouble: fn(PyPtr) -> f64;
        PyUnicode_FromStringAndSize: fn(*const c_char, PySsize) -> PyPtr;
        PyUnicode_AsUTF8AndSize: fn(PyPtr, *mut PySsize) -> *const c_char;
        PyUnicode_InternFromString: fn(*const c_char) -> PyPtr;

        PyList_New: fn(PySsize) -> PyPtr;
        PyList_GetItem: fn(PyPtr, PySsize) -> PyPtr;
        PyList_Size: fn(PyPtr) -> PySsize;
        PyList_Append: fn(PyPtr, PyPtr) -> c_int;
        PyTuple_New: fn(PySsize) -> PyPtr;
        PyTuple_SetItem: fn(PyPtr, PySsize, PyPtr) -> c_int;
        PyTuple_GetItem: fn(PyPtr, PySsize) -> PyPtr;
        PyTuple_Size: fn(PyPtr) -> PySsize;
        PyDict_New: fn() -> PyPtr;
        PyDict_SetItem: fn(PyPtr, PyPtr, PyPtr) -> c_int;
        PyDict_SetItemString: fn(PyPtr, *const c_char, PyPtr) -> c_int;
        PyDict_GetItemWithError: fn(PyPtr, PyPtr) -> PyPtr;
        PyDict_Next: fn(PyPtr, *mut PySsize, *mut PyPtr, *mut PyPtr) -> c_int;
        PyDict_Size: fn(PyPtr) -> PySsize;
        PyDict_Items: fn(PyPtr) -> PyPtr;
        PyDict_DelItem: fn(PyPtr, PyPtr) -> c_int;

        PyObject_GetAttr: fn(PyPtr, PyPtr) -> PyPtr;
        PyObject_GetAttrString: fn(PyPtr, *const c_char) -> PyPtr;
        PyObject_SetAttrString: fn(PyPtr, *const c_char, PyPtr) -> c_int;
        PyObject_Call: fn(PyPtr, PyPtr, PyPtr) -> PyPtr;
        PyObject_CallObject: fn(PyPtr, PyPtr) -> PyPtr;
        PyObject_Str: fn(PyPtr) -> PyPtr;
        PyObject_Repr: fn(PyPtr) -> PyPtr;
        PyObject_SetAttr: fn(PyPtr, PyPtr, PyPtr) -> c_int;
        PyObject_GetIter: fn(PyPtr) -> PyPtr;
        PyIter_Next: fn(PyPtr) -> PyPtr;
        // A function (not only a macro) in every version since 3.8.
        PyIter_Check: fn(PyPtr) -> c_int;
        PyBytes_FromStringAndSize: fn(*const c_char, PySsize) -> PyPtr;
        PyBytes_AsStringAndSize: fn(PyPtr, *mut *mut c_char, *mut PySsize) -> c_int;
        PyByteArray_FromStringAndSize: fn(*const c_char, PySsize) -> PyPtr;
        PyByteArray_AsString: fn(PyPtr) -> *mut c_char;
        PyByteArray_Size: fn(PyPtr) -> PySsize;
        PySet_New: fn(PyPtr) -> PyPtr;
        PyFrozenSet_New: fn(PyPtr) -> PyPtr;
        PyComplex_FromDoubles: fn(f64, f64) -> PyPtr;
        PyComplex_RealAsDouble: fn(PyPtr) -> f64;
        PyComplex_ImagAsDouble: fn(PyPtr) -> f64;
        PyNumber_ToBase: fn(PyPtr, c_int) -> PyPtr;
        PyObject_Length: fn(PyPtr) -> PySsize;
        PyUnicode_AsEncodedString: fn(PyPtr, *const c_char, *const c_char) -> PyPtr;
        PyList_AsTuple: fn(PyPtr) -> PyPtr;

        PyType_FromSpec: fn(*mut PyTypeSpec) -> PyPtr;
        PyType_GenericAlloc: fn(PyPtr, PySsize) -> PyPtr;
        PyMemoryView_FromObject: fn(PyPtr) -> PyPtr;
        PyObject_GetBuffer: fn(PyPtr, *mut PyBuffer, c_int) -> c_int;
        PyBuffer_Release: fn(*mut PyBuffer);
        PyBuffer_IsContiguous: fn(*const PyBuffer, c_char) -> c_int;
        PyBuffer_ToContiguous: fn(*mut c_void, *const PyBuffer, PySsize, c_char) -> c_int;

        PyModule_New: fn(*const c_char) -> PyPtr;
        PyCFunction_NewEx: fn(*mut PyMethodDef, PyPtr, PyPtr) -> PyPtr;
        PyLong_AsLong: fn(PyPtr) -> c_long;
        PyErr_NewException: fn(*const c_char, PyPtr, PyPtr) -> PyPtr;
        PyImport_ImportModule: fn(*const c_char) -> PyPtr;
        PyImport_AddModule: fn(*const c_char) -> PyPtr;
        PyImport_GetModuleDict: fn() -> PyPtr;
        PyModule_GetDict: fn(PyPtr) -> PyPtr;
        PySys_GetObject: fn(*const c_char) -> PyPtr;
        PySys_SetObject: fn(*const c_char, PyPtr) -> c_int;

        Py_CompileStringExFlags: fn(*const c_char, *const c_char, c_int, *mut c_void, c_int) -> PyPtr;
        PyEval_EvalCode: fn(PyPtr, PyPtr, PyPtr) -> PyPtr;

        PyErr_Occurred: fn() -> PyPtr;
        PyErr_Fetch: fn(*mut PyPtr, *mut PyPtr, *mut PyPtr);
        PyErr_NormalizeException: fn(*mut PyPtr, *mut PyPtr, *mut PyPtr);
        PyErr_Restore: fn(PyPtr, PyPtr, PyPtr);
        PyErr_Clear: fn();
        PyErr_SetString: fn(PyPtr, *const c_char);
        PyErr_GivenExceptionMatches: fn(PyPtr, PyPtr) -> c_int;
        PyException_SetTraceback: fn(PyPtr, PyPtr) -> c_int;
        PyException_GetTraceback: fn(PyPtr) -> PyPtr;
    }
    optional {
        // PEP 587 (3.8+): the initialization of 3.8-3.13 (init.rs). Its PyConfig layout changes
        // in every release, so 3.14+ start through PEP 741 instead; which set a library must
        // have is checked by `init::required_symbols`.
        PyPreConfig_InitIsolatedConfig: fn(*mut c_void);
        Py_PreInitialize: fn(*const c_void) -> PyStatus;
        PyConfig_InitIsolatedConfig: fn(*mut c_void);
        PyConfig_SetBytesString: fn(*mut c_void, *mut *mut libc::wchar_t, *const c_char) -> PyStatus;
        PyConfig_SetBytesArgv: fn(*mut c_void, PySsize, *const *mut c_char) -> PyStatus;
        PyConfig_Clear: fn(*mut c_void);
        Py_InitializeFromConfig: fn(*const c_void) -> PyStatus;
        // PEP 741 (3.14+): options set by name, no struct layout.
        PyInitConfig_Create: fn() -> *mut c_void;
        PyInitConfig_Free: fn(*mut c_void);
        PyInitConfig_SetInt: fn(*mut c_void, *const c_char, i64) -> c_int;
        PyInitConfig_SetStr: fn(*mut c_void, *const c_char, *const c_char) -> c_int;
        PyInitConfig_SetStrList: fn(*mut c_void, *const c_char, usize, *const *mut c_char) -> c_int;
        PyInitConfig_GetError: fn(*mut c_void, *mut *const c_char) -> c_int;
        PyInitConfig_GetExitCode: fn(*mut c_void, *mut c_int) -> c_int;
        Py_InitializeFromInitConfig: fn(*mut c_void) -> c_int;
        // 3.13+: strong references out of containers (safe where another thread, or Python
        // code run meanwhile, may change the container).
        PyList_GetItemRef: fn(PyPtr, PySsize) -> PyPtr;
        PyDict_GetItemRef: fn(PyPtr, PyPtr, *mut PyPtr) -> c_int;
        // Free-threaded builds: declare that a module pyrt makes needs no GIL (else importing it
        // would turn the GIL back on for the whole process).
        PyUnstable_Module_SetGIL: fn(PyPtr, *mut c_void) -> c_int;
        // 3.14.1+: where the calling thread's C stack is, for a call made on a stack the
        // operating system does not know (Node's koffi runs native calls on its own stacks).
        PyUnstable_ThreadState_SetStackProtection: fn(*mut PyThreadState, *mut c_void, usize) -> c_int;
        PyUnstable_ThreadState_ResetStackProtection: fn(*mut PyThreadState);
        // 3.12+: replaces Fetch/Normalize/Restore.
        PyErr_GetRaisedException: fn() -> PyPtr;
        // 3.11+: argument vectors without a tuple.
        PyObject_Vectorcall: fn(PyPtr, *const PyPtr, usize, PyPtr) -> PyPtr;
        // 3.12+: sub-interpreters with their own GIL.
        Py_NewInterpreterFromConfig: fn(*mut *mut PyThreadState, *const PyInterpreterConfig) -> PyStatus;
        // 3.9+.
        PyThreadState_GetInterpreter: fn(*mut PyThreadState) -> *mut c_void;
    }
    objects {
        _Py_NoneStruct;
        _Py_TrueStruct;
        _Py_FalseStruct;
        PyLong_Type;
        PyFloat_Type;
        PyUnicode_Type;
        PyBool_Type;
        PyList_Type;
        PyTuple_Type;
        PyDict_Type;
        PyBytes_Type;
        PyByteArray_Type;
        PySet_Type;
        PyFrozenSet_Type;
        PyComplex_Type;
        PyCode_Type;
    }
    object_pointers {
        PyExc_SystemExit;
        PyExc_KeyboardInterrupt;
        PyExc_TypeError;
        PyExc_ValueError;
        PyExc_RuntimeError;
        PyExc_BufferError;
        PyExc_StopIteration;
        PyExc_AttributeError;
    }
}

// SAFETY: `Api` holds only function pointers and addresses of data symbols, resolved once from
// a library that is never unloaded: valid in every thread for the life of the process. Sending
// or sharing it copies addresses; every use of them (a call, a read of a `PyExc_*` variable, an
// object) is `unsafe` code that itself requires the GIL, so `Api` adds no unsynchronized access.
unsafe impl Send for Api {}
// SAFETY: as for `Send`: no interior mutability, and the fields are only ever read.
unsafe impl Sync for Api {}

impl Api {
    /// Reads a `PyExc_*` variable (its value is set during initialization).
    ///
    /// # Safety
    /// `var` must be one of the `object_pointers` fields; Python must be initialized.
    #[inline]
    pub unsafe fn exception(&self, var: PyPtr) -> PyPtr {
        // SAFETY: `var` is the address of a `PyObject *` variable exported by libpython (caller),
        // so it is a valid, pointer-aligned C global in a library never unloaded; initialization
        // (done, per the caller) set it, and CPython does not write it again while pyrt runs.
        unsafe { *var.cast_const().cast::<PyPtr>() }
    }

    #[inline]
    pub fn none(&self) -> PyPtr {
        self._Py_NoneStruct
    }
}
