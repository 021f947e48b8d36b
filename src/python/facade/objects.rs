//! Any object: its type, attributes, calls, modules and code.

use std::ffi::{c_int, c_ulong, CStr};

use super::{owned, status, Borrowed, PyResult};
use crate::python::ffi::{self, PyMethodDef, PyPtr};
use crate::python::{PyRef, Python};

/// CPython's static type objects pyrt tests subclasses of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BuiltinType {
    Float,
    Bytes,
    ByteArray,
    Set,
    FrozenSet,
    Complex,
}

impl<'py> Python<'py> {
    /// One of CPython's static type objects; it lives as long as the (never unloaded) library.
    #[inline]
    pub(crate) fn builtin_type(self, which: BuiltinType) -> Borrowed<'static> {
        let api = self.api;
        let p = match which {
            BuiltinType::Float => api.PyFloat_Type,
            BuiltinType::Bytes => api.PyBytes_Type,
            BuiltinType::ByteArray => api.PyByteArray_Type,
            BuiltinType::Set => api.PySet_Type,
            BuiltinType::FrozenSet => api.PyFrozenSet_Type,
            BuiltinType::Complex => api.PyComplex_Type,
        };
        // SAFETY: `p` is the address of a static type object exported by libpython, which is
        // never unloaded (`python::install`), so it lives for the whole process.
        unsafe { Borrowed::from_ptr(p) }.expect("static objects have non-null addresses")
    }

    /// A new reference to `None`.
    #[inline]
    pub(crate) fn none_ref(self) -> PyRef {
        // SAFETY: None is a static object.
        unsafe { PyRef::from_borrowed(self, self.api.none()) }.expect("None is a static object")
    }

    /// A new reference to `True` or `False`.
    #[inline]
    pub(crate) fn bool_ref(self, v: bool) -> PyRef {
        let p = if v { self.api._Py_TrueStruct } else { self.api._Py_FalseStruct };
        // SAFETY: True and False are static objects.
        unsafe { PyRef::from_borrowed(self, p) }.expect("bools are static objects")
    }

    /// Whether `o` is `None`.
    #[inline]
    pub(crate) fn is_none(self, o: &PyRef) -> bool {
        o.as_ptr() == self.api.none()
    }

    /// `type(o)`, as an address to compare with the `api.Py*_Type` statics or another object's:
    /// identity only, never to be handed back to CPython (use [`Python::type_of`] for that).
    #[inline]
    pub(crate) fn type_ptr(self, o: &PyRef) -> PyPtr {
        // SAFETY: the module note (`o` is live, so its header can be read).
        unsafe { ffi::py_type(o.as_ptr()) }
    }

    /// `type(o)`, owned (a `__class__` assignment may drop the old type while it is in use).
    #[inline]
    pub(crate) fn type_of(self, o: &PyRef) -> PyRef {
        // SAFETY: `o` (live) keeps its type alive, and the incref follows the read at once.
        unsafe { PyRef::from_borrowed(self, self.type_ptr(o)) }.expect("every object has a type")
    }

    /// `type(o).__flags__` (the `Py_TPFLAGS_*` bits, e.g. `ffi::TPFLAGS_LONG_SUBCLASS`).
    #[inline]
    pub(crate) fn type_flags(self, o: &PyRef) -> c_ulong {
        // SAFETY: the module note; the type is read and its flags loaded in one step, with no
        // Python code in between, while `o` keeps it alive.
        unsafe { (self.api.PyType_GetFlags)(ffi::py_type(o.as_ptr())) }
    }

    /// Whether `type(o)` is `base` or a subclass of it (the MRO, not `__instancecheck__`).
    #[inline]
    pub(crate) fn type_is_subtype(self, o: &PyRef, base: &PyRef) -> bool {
        // SAFETY: the module note; `type(o)` is kept alive by `o`. PyType_IsSubtype compares `base`
        // by identity with the entries of the type's MRO and runs no Python code.
        unsafe { (self.api.PyType_IsSubtype)(ffi::py_type(o.as_ptr()), base.as_ptr()) != 0 }
    }

    /// `type(o).__name__` as CPython stores it (`tp_name`, right after the type object's
    /// `PyVarObject` header: `ffi::ObjectLayout::tp_name`); no Python code runs.
    pub(crate) fn type_name(self, o: &PyRef) -> String {
        let t = self.type_ptr(o);
        // Aligned, as the SAFETY note below shows.
        #[allow(clippy::cast_ptr_alignment)]
        let field = t.cast::<u8>().cast_const().wrapping_add(ffi::layout().tp_name()).cast::<*const std::ffi::c_char>();
        // SAFETY: `t` is a live type object (the object's type, kept alive by the live `o`: the
        // module note), and a `PyTypeObject` has `tp_name` right after its `PyVarObject` header
        // (`ObjectLayout::tp_name`: offset 24 or 40) in every version. Type objects are 8-aligned
        // (allocated by CPython, or C statics whose first field is pointer-sized) and 24/40 are
        // multiples of 8, so the `const char *` read is aligned.
        let name = unsafe { *field };
        if name.is_null() {
            return "?".into();
        }
        // SAFETY: a non-null `tp_name` is a NUL-terminated C string owned by the type, which
        // outlives this call; it is copied out before returning.
        unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
    }

    /// `getattr(o, name)`.
    #[inline]
    pub(crate) fn getattr(self, o: &PyRef, name: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; PyObject_GetAttr steals nothing and returns a new reference.
        unsafe { owned((self.api.PyObject_GetAttr)(o.as_ptr(), name.as_ptr())) }
    }

    /// `getattr(o, name)` with a C-string name.
    #[inline]
    pub(crate) fn getattr_str(self, o: &PyRef, name: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated and only read during the call.
        unsafe { owned((self.api.PyObject_GetAttrString)(o.as_ptr(), name.as_ptr())) }
    }

    /// `setattr(o, name, v)`.
    #[inline]
    pub(crate) fn setattr(self, o: &PyRef, name: &PyRef, v: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; PyObject_SetAttr steals nothing.
        status(unsafe { (self.api.PyObject_SetAttr)(o.as_ptr(), name.as_ptr(), v.as_ptr()) })
    }

    /// `setattr(o, name, v)` with a C-string name.
    #[inline]
    pub(crate) fn setattr_str(self, o: &PyRef, name: &CStr, v: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; `name` is NUL-terminated; nothing is stolen.
        status(unsafe { (self.api.PyObject_SetAttrString)(o.as_ptr(), name.as_ptr(), v.as_ptr()) })
    }

    /// `delattr(o, name)` with a C-string name.
    #[inline]
    pub(crate) fn delattr_str(self, o: &PyRef, name: &CStr) -> PyResult<()> {
        // SAFETY: the module note; `name` is NUL-terminated; a NULL value means delete.
        status(unsafe { (self.api.PyObject_SetAttrString)(o.as_ptr(), name.as_ptr(), std::ptr::null_mut()) })
    }

    /// `len(o)`.
    #[inline]
    pub(crate) fn len(self, o: &PyRef) -> PyResult<usize> {
        // SAFETY: the module note; -1 with an error set when `o` has no length.
        let n = unsafe { (self.api.PyObject_Length)(o.as_ptr()) };
        usize::try_from(n).map_err(|_| super::PyErrPending)
    }

    /// `repr(o)`.
    #[inline]
    pub(crate) fn repr(self, o: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; the result is a new reference.
        unsafe { owned((self.api.PyObject_Repr)(o.as_ptr())) }
    }

    /// `str(o)`.
    #[inline]
    pub(crate) fn str(self, o: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; the result is a new reference.
        unsafe { owned((self.api.PyObject_Str)(o.as_ptr())) }
    }

    /// `f()`.
    #[inline]
    pub(crate) fn call0(self, f: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; NULL arguments mean none.
        unsafe { owned((self.api.PyObject_CallObject)(f.as_ptr(), std::ptr::null_mut())) }
    }

    /// `f(*args, **kwargs)` with the arguments as a tuple (and a dict, or none).
    #[inline]
    pub(crate) fn call_tuple(self, f: &PyRef, args: &PyRef, kwargs: Option<&PyRef>) -> PyResult<PyRef> {
        let kw = kwargs.map_or(std::ptr::null_mut(), PyRef::as_ptr);
        // SAFETY: the module note; PyObject_Call checks that `args` is a tuple and `kwargs` a dict
        // (or NULL) and steals nothing.
        unsafe { owned((self.api.PyObject_Call)(f.as_ptr(), args.as_ptr(), kw)) }
    }

    /// `f(*args)`: vectorcall where the library exports it (3.11+), else through a tuple.
    #[inline]
    pub(crate) fn call(self, f: &PyRef, args: &[PyRef]) -> PyResult<PyRef> {
        if let Some(vectorcall) = self.api.PyObject_Vectorcall {
            // PyRef is a transparent non-null pointer, so the slice is a `PyObject *const *`.
            let argv = args.as_ptr().cast::<PyPtr>();
            // SAFETY: the module note; `argv` points to `args.len()` live references, which the
            // borrow of `args` keeps alive through the call; without
            // `PY_VECTORCALL_ARGUMENTS_OFFSET` the callee does not write to the vector. No keyword
            // names: NULL.
            return unsafe { owned(vectorcall(f.as_ptr(), argv, args.len(), std::ptr::null_mut())) };
        }
        let tuple = self.tuple_from_slice(args)?;
        self.call_tuple(f, &tuple, None)
    }

    /// `o.name()`.
    #[inline]
    pub(crate) fn call_method0(self, o: &PyRef, name: &CStr) -> PyResult<PyRef> {
        let m = self.getattr_str(o, name)?;
        self.call0(&m)
    }

    /// `import name`.
    #[inline]
    pub(crate) fn import(self, name: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated and only read.
        unsafe { owned((self.api.PyImport_ImportModule)(name.as_ptr())) }
    }

    /// `sys.modules` as the interpreter holds it (assigning `sys.modules` does not replace it),
    /// borrowed for the token's lifetime: the interpreter keeps it until finalization, which
    /// cannot start while this thread holds the GIL.
    #[inline]
    pub(crate) fn sys_modules(self) -> Borrowed<'py> {
        // SAFETY: the module note; the dict lives as said above.
        unsafe { Borrowed::from_ptr((self.api.PyImport_GetModuleDict)()) }.expect("an initialized interpreter has sys.modules")
    }

    /// `sys.<name>`, owned; `None` when unset (no error is set then).
    #[inline]
    pub(crate) fn sys_attr(self, name: &CStr) -> Option<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated. The result is borrowed from the sys
        // module's dict and made a strong reference at once, before any Python code can run.
        unsafe { PyRef::from_borrowed(self, (self.api.PySys_GetObject)(name.as_ptr())) }
    }

    /// `sys.<name> = v`.
    #[inline]
    pub(crate) fn sys_set_attr(self, name: &CStr, v: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; `name` is NUL-terminated; the sys module takes its own reference.
        status(unsafe { (self.api.PySys_SetObject)(name.as_ptr(), v.as_ptr()) })
    }

    /// The dict of module `name` in `sys.modules`, made (empty) if absent; owned, since code run
    /// in it may remove the module (and so free the module and its dict) while it is used.
    pub(crate) fn added_module_dict(self, name: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated. The module is borrowed from
        // `sys.modules`, which keeps it alive until Python code runs, and none runs before its
        // dict (borrowed from it) is made a strong reference.
        unsafe {
            let m = (self.api.PyImport_AddModule)(name.as_ptr());
            if m.is_null() {
                return Err(super::PyErrPending);
            }
            PyRef::from_borrowed(self, (self.api.PyModule_GetDict)(m)).ok_or(super::PyErrPending)
        }
    }

    /// A new empty module object named `name` (not put into `sys.modules`).
    #[inline]
    pub(crate) fn new_module(self, name: &CStr) -> PyResult<PyRef> {
        // SAFETY: the module note; `name` is NUL-terminated and copied.
        unsafe { owned((self.api.PyModule_New)(name.as_ptr())) }
    }

    /// On a free-threaded build, declares that a module pyrt made is safe without the GIL (its
    /// functions take their own locks), so that importing it can never turn the GIL back on for
    /// the whole process. `PyUnstable_Module_SetGIL` exists only in free-threaded builds (3.13+).
    pub(crate) fn declare_no_gil(self, module: &PyRef) {
        if let Some(set_gil) = self.api.PyUnstable_Module_SetGIL {
            // Py_MOD_GIL_NOT_USED is `(void *)1`.
            // SAFETY: the module note; the call only stores the flag (a non-module sets an error,
            // cleared below).
            if unsafe { set_gil(module.as_ptr(), 1 as *mut std::ffi::c_void) } != 0 {
                self.clear_error();
            }
        }
    }

    /// A built-in function object made from `def`, with `self_obj` as its `self` (NULL: none)
    /// and `module_name` as its `__module__`.
    ///
    /// # Safety
    /// `def.ml_meth` must be an `extern "C"` function of the signature CPython calls for
    /// `def.ml_flags`, and `def.ml_name` (and `ml_doc`, if not NULL) a static NUL-terminated string.
    pub(crate) unsafe fn new_function(
        self,
        def: &'static PyMethodDef,
        self_obj: Option<&PyRef>,
        module_name: Option<&PyRef>,
    ) -> PyResult<PyRef> {
        let (s, m) = (self_obj.map_or(std::ptr::null_mut(), PyRef::as_ptr), module_name.map_or(std::ptr::null_mut(), PyRef::as_ptr));
        // SAFETY: the module note; `def` is a `'static` definition CPython only reads (the `*mut` is
        // its prototype's) and, per this function's contract, a valid one; the function object
        // points to it for as long as it lives, and takes its own references to `s` and `m`.
        unsafe { owned((self.api.PyCFunction_NewEx)(std::ptr::from_ref(def).cast_mut(), s, m)) }
    }

    /// Adds a built-in function made from `def` (no `self`) to `module`, under `def`'s name.
    ///
    /// # Safety
    /// As for [`Python::new_function`].
    pub(crate) unsafe fn add_function(self, module: &PyRef, def: &'static PyMethodDef) -> PyResult<()> {
        // SAFETY: this function's contract is `new_function`'s.
        let f = unsafe { self.new_function(def, None, None) }?;
        // SAFETY: the module note; the name is a static NUL-terminated string (contract).
        status(unsafe { (self.api.PyObject_SetAttrString)(module.as_ptr(), def.ml_name, f.as_ptr()) })
    }

    /// `compile(code, filename, mode)` through the C API; `start` is `ffi::PY_FILE_INPUT` or
    /// `ffi::PY_EVAL_INPUT`.
    #[inline]
    pub(crate) fn compile_source(self, code: &CStr, filename: &CStr, start: c_int) -> PyResult<Code> {
        // SAFETY: the module note; both strings are NUL-terminated and read during the call; NULL
        // flags and optimize -1 are the defaults. The result is a code object.
        unsafe { owned((self.api.Py_CompileStringExFlags)(code.as_ptr(), filename.as_ptr(), start, std::ptr::null_mut(), -1)) }.map(Code)
    }

    /// `o` if it is a code object (what `builtins.compile` returns, unless Python code replaced
    /// it); `None` otherwise.
    #[inline]
    pub(crate) fn as_code(self, o: PyRef) -> Option<Code> {
        (self.type_ptr(&o) == self.api.PyCode_Type).then_some(Code(o))
    }

    /// Runs a code object with `globals` (a dict: TypeError otherwise) as its globals and locals.
    #[inline]
    pub(crate) fn eval_code(self, code: &Code, globals: &PyRef) -> PyResult<PyRef> {
        if self.type_flags(globals) & ffi::TPFLAGS_DICT_SUBCLASS == 0 {
            self.set_error(super::Exc::TypeError, c"globals must be a dict");
            return Err(super::PyErrPending);
        }
        // SAFETY: the module note; `code` is a code object (the `Code` invariant: PyEval_EvalCode
        // does not check) and `globals` a dict (checked above); nothing is stolen.
        unsafe { owned((self.api.PyEval_EvalCode)(code.0.as_ptr(), globals.as_ptr(), globals.as_ptr())) }
    }
}

/// A code object (checked by type when made): what `PyEval_EvalCode` requires and does not check.
pub(crate) struct Code(PyRef);
