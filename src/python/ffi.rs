//! The CPython C-API as pyrt sees it: function pointers and data addresses resolved from a
//! libpython opened at run time. No Python headers are involved; every prototype below is the
//! stable one shared by CPython 3.8-3.13 (see shared/HAZARDS.md §1 and its symbol matrix).
//! Macros (`Py_INCREF`, `Py_None`, `PyLong_Check`, ...) are replaced by the exported functions and
//! data symbols that implement them.

use std::ffi::{c_char, c_int, c_long, c_longlong, c_ulong, c_void};

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
// Method definitions are immutable statics that CPython only reads.
unsafe impl Sync for PyMethodDef {}

pub const METH_VARARGS: c_int = 0x0001;
pub const METH_KEYWORDS: c_int = 0x0002;
pub const METH_O: c_int = 0x0008;
pub const METH_NOARGS: c_int = 0x0004;

/// `PyInterpreterConfig` (3.12 and 3.13: seven ints, HAZARDS §6.1).
#[repr(C)]
pub struct PyInterpreterConfig {
    pub use_main_obmalloc: c_int,
    pub allow_fork: c_int,
    pub allow_exec: c_int,
    pub allow_threads: c_int,
    pub allow_daemon_threads: c_int,
    pub check_multi_interp_extensions: c_int,
    pub gil: c_int,
}

/// `PyInterpreterConfig_OWN_GIL`.
pub const OWN_GIL: c_int = 2;

/// `Py_buffer`: 80 bytes with the same offsets in every version 3.8-3.13 (HAZARDS §9.1).
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
/// `tp_as_buffer` in `PyTypeObject` (GIL builds 3.8-3.13).
pub const TP_AS_BUFFER_OFFSET: usize = 160;

pub const PY_FILE_INPUT: c_int = 257;
pub const PY_EVAL_INPUT: c_int = 258;

pub const TPFLAGS_LONG_SUBCLASS: c_ulong = 1 << 24;
pub const TPFLAGS_LIST_SUBCLASS: c_ulong = 1 << 25;
pub const TPFLAGS_TUPLE_SUBCLASS: c_ulong = 1 << 26;
pub const TPFLAGS_UNICODE_SUBCLASS: c_ulong = 1 << 28;
pub const TPFLAGS_DICT_SUBCLASS: c_ulong = 1 << 29;

/// `ob_type` sits right after `ob_refcnt` in every GIL build 3.8-3.13 (free-threaded builds are
/// refused by the loader, so this offset holds for every library pyrt accepts).
const OB_TYPE_OFFSET: usize = 8;

/// Reads `Py_TYPE(o)` (a macro, so not exported).
///
/// # Safety
/// `o` must point to a live Python object.
#[inline]
pub unsafe fn py_type(o: PyPtr) -> PyPtr {
    *((o as *const u8).add(OB_TYPE_OFFSET) as *const PyPtr)
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
            /// Resolves every mandatory symbol (naming the first one missing) and the optional ones.
            ///
            /// # Safety
            /// `lib` must be a CPython 3.8-3.13 shared library; the prototypes above are trusted.
            #[allow(non_snake_case)]
            pub unsafe fn resolve(lib: &Library) -> Result<Api, String> {
                $(
                    let $fname = *lib
                        .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>(concat!(stringify!($fname), "\0").as_bytes())
                        .map_err(|_| stringify!($fname).to_string())?;
                )*
                $(
                    let $oname = lib
                        .get::<unsafe extern "C" fn($($oarg),*) $(-> $oret)?>(concat!(stringify!($oname), "\0").as_bytes())
                        .ok()
                        .map(|s| *s);
                )*
                $(
                    // Data symbols such as `_Py_NoneStruct` *are* the object.
                    let $dname = *lib
                        .get::<*mut c_void>(concat!(stringify!($dname), "\0").as_bytes())
                        .map_err(|_| stringify!($dname).to_string())? as PyPtr;
                )*
                $(
                    // `PyExc_*` are `PyObject *` variables: the symbol is the variable's address,
                    // read once after initialization (see `Api::exception`).
                    let $pname = *lib
                        .get::<*mut c_void>(concat!(stringify!($pname), "\0").as_bytes())
                        .map_err(|_| stringify!($pname).to_string())? as PyPtr;
                )*
                Ok(Api { $($fname,)* $($oname,)* $($dname,)* $($pname,)* })
            }
        }
    };
}

cpython_api! {
    functions {
        Py_GetVersion: fn() -> *const c_char;
        Py_IsInitialized: fn() -> c_int;
        PyPreConfig_InitIsolatedConfig: fn(*mut c_void);
        Py_PreInitialize: fn(*const c_void) -> PyStatus;
        PyConfig_InitIsolatedConfig: fn(*mut c_void);
        PyConfig_SetBytesString: fn(*mut c_void, *mut *mut libc::wchar_t, *const c_char) -> PyStatus;
        PyConfig_SetBytesArgv: fn(*mut c_void, PySsize, *const *mut c_char) -> PyStatus;
        PyConfig_Clear: fn(*mut c_void);
        Py_InitializeFromConfig: fn(*const c_void) -> PyStatus;
        Py_FinalizeEx: fn() -> c_int;

        PyEval_SaveThread: fn() -> *mut PyThreadState;
        PyEval_RestoreThread: fn(*mut PyThreadState);
        PyGILState_Ensure: fn() -> c_int;
        PyGILState_Release: fn(c_int);
        PyThreadState_SetAsyncExc: fn(c_ulong, PyPtr) -> c_int;
        PyThreadState_Get: fn() -> *mut PyThreadState;
        PyThreadState_Swap: fn(*mut PyThreadState) -> *mut PyThreadState;
        PyThreadState_New: fn(*mut c_void) -> *mut PyThreadState;
        PyThreadState_Clear: fn(*mut PyThreadState);
        PyThreadState_DeleteCurrent: fn();
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
        PyBool_FromLong: fn(c_long) -> PyPtr;
        PyUnicode_FromStringAndSize: fn(*const c_char, PySsize) -> PyPtr;
        PyUnicode_AsUTF8AndSize: fn(PyPtr, *mut PySsize) -> *const c_char;
        PyUnicode_InternFromString: fn(*const c_char) -> PyPtr;

        PyList_New: fn(PySsize) -> PyPtr;
        PyList_SetItem: fn(PyPtr, PySsize, PyPtr) -> c_int;
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
        PyDict_DelItem: fn(PyPtr, PyPtr) -> c_int;

        PyObject_GetAttr: fn(PyPtr, PyPtr) -> PyPtr;
        PyObject_GetAttrString: fn(PyPtr, *const c_char) -> PyPtr;
        PyObject_SetAttrString: fn(PyPtr, *const c_char, PyPtr) -> c_int;
        PyObject_Call: fn(PyPtr, PyPtr, PyPtr) -> PyPtr;
        PyObject_CallObject: fn(PyPtr, PyPtr) -> PyPtr;
        PyObject_Str: fn(PyPtr) -> PyPtr;
        PyObject_Repr: fn(PyPtr) -> PyPtr;
        PyObject_IsTrue: fn(PyPtr) -> c_int;
        PyObject_SetAttr: fn(PyPtr, PyPtr, PyPtr) -> c_int;
        PyObject_GetIter: fn(PyPtr) -> PyPtr;
        PyIter_Next: fn(PyPtr) -> PyPtr;
        PyCallable_Check: fn(PyPtr) -> c_int;
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
        PyLong_AsLongLong: fn(PyPtr) -> c_longlong;
        PyErr_NewException: fn(*const c_char, PyPtr, PyPtr) -> PyPtr;
        PyImport_ImportModule: fn(*const c_char) -> PyPtr;
        PyImport_Import: fn(PyPtr) -> PyPtr;
        PyImport_AddModule: fn(*const c_char) -> PyPtr;
        PyImport_GetModuleDict: fn() -> PyPtr;
        PyModule_GetDict: fn(PyPtr) -> PyPtr;
        PySys_GetObject: fn(*const c_char) -> PyPtr;

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
    }
    optional {
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
    }
    object_pointers {
        PyExc_SystemExit;
        PyExc_KeyboardInterrupt;
        PyExc_TypeError;
        PyExc_ValueError;
        PyExc_RuntimeError;
        PyExc_BufferError;
    }
}

// The resolved pointers are plain addresses into a library that is never unloaded.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

impl Api {
    /// Reads a `PyExc_*` variable (its value is set during initialization).
    ///
    /// # Safety
    /// `var` must be one of the `object_pointers` fields; Python must be initialized.
    #[inline]
    pub unsafe fn exception(&self, var: PyPtr) -> PyPtr {
        *(var as *const PyPtr)
    }

    #[inline]
    pub fn none(&self) -> PyPtr {
        self._Py_NoneStruct
    }
}
