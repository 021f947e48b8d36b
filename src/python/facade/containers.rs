//! Tuples, lists, dicts and sets: construction, and items taken out owned (or, for a tuple,
//! borrowed for as long as the tuple is).

use std::ffi::CStr;

use super::{owned, status, Borrowed, PyErrPending, PyResult};
use crate::python::ffi::{self, PyPtr};
use crate::python::{PyRef, Python};

impl<'py> Python<'py> {
    /// A new empty list.
    #[inline]
    pub(crate) fn new_list(self) -> PyResult<PyRef> {
        // SAFETY: the module note; no pointer arguments.
        unsafe { owned((self.api.PyList_New)(0)) }
    }

    /// `list.append(item)`. The list keeps its own reference.
    #[inline]
    pub(crate) fn list_append(self, list: &PyRef, item: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; PyList_Append checks that `list` is a list (SystemError
        // otherwise) and does not steal `item`.
        status(unsafe { (self.api.PyList_Append)(list.as_ptr(), item.as_ptr()) })
    }

    /// Item `i` of a list, owned; `None` past the end (or if `list` is not a list; no error is
    /// left pending). Owned because converting or using the item may run Python code that changes
    /// the list, and on a free-threaded build another thread may: `PyList_GetItemRef` (3.13+)
    /// takes it atomically there; with the GIL nothing runs between the borrow and the incref.
    #[inline]
    pub(crate) fn list_get(self, list: &PyRef, i: usize) -> Option<PyRef> {
        let api = self.api;
        let i = isize::try_from(i).ok()?;
        if let (true, Some(get_ref)) = (ffi::free_threaded(), api.PyList_GetItemRef) {
            // SAFETY: the module note; the result is a new reference (NULL with IndexError or
            // TypeError set, cleared below).
            let p = unsafe { get_ref(list.as_ptr(), i) };
            if p.is_null() {
                self.clear_error(); // the list ended (or shrank)
            }
            // SAFETY: `p` is the new reference PyList_GetItemRef returned (or NULL).
            return unsafe { PyRef::from_owned(p) };
        }
        // SAFETY: the module note; PyList_Size checks the type (-1 with SystemError otherwise).
        let n = unsafe { (api.PyList_Size)(list.as_ptr()) };
        if n < 0 {
            self.clear_error();
            return None;
        }
        if i >= n {
            return None;
        }
        // SAFETY: `list` is a list and `i` in bounds (checked just above, and with the GIL held
        // nothing ran since), so PyList_GetItem sets no error; the borrowed item is increfed by
        // `from_borrowed` before any Python code can run.
        unsafe { PyRef::from_borrowed(self, (api.PyList_GetItem)(list.as_ptr(), i)) }
    }

    /// `tuple(list)`.
    #[inline]
    pub(crate) fn list_to_tuple(self, list: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; PyList_AsTuple checks that `list` is a list.
        unsafe { owned((self.api.PyList_AsTuple)(list.as_ptr())) }
    }

    /// A new tuple of `items` (their references move into it).
    #[inline]
    pub(crate) fn new_tuple<const N: usize>(self, items: [PyRef; N]) -> PyResult<PyRef> {
        // SAFETY: the module note; N is a small constant (an array on the stack), far below
        // isize::MAX.
        let tuple = unsafe { owned((self.api.PyTuple_New)(N as isize)) }?;
        for (i, item) in items.into_iter().enumerate() {
            // SAFETY: `tuple` is a new tuple of N slots that only this function knows, and `i` < N;
            // PyTuple_SetItem steals the item's reference, given up by `into_ptr`.
            unsafe { (self.api.PyTuple_SetItem)(tuple.as_ptr(), i as isize, item.into_ptr()) };
        }
        Ok(tuple)
    }

    /// A new tuple holding new references to `items`.
    pub(crate) fn tuple_from_slice(self, items: &[PyRef]) -> PyResult<PyRef> {
        // SAFETY: the module note; a slice of pointers is shorter than isize::MAX.
        let tuple = unsafe { owned((self.api.PyTuple_New)(items.len() as isize)) }?;
        for (i, item) in items.iter().enumerate() {
            // SAFETY: `tuple` is a new tuple of `items.len()` slots that only this function knows,
            // and `i` is in range; PyTuple_SetItem steals the new reference `clone_ref` made.
            unsafe { (self.api.PyTuple_SetItem)(tuple.as_ptr(), i as isize, item.clone_ref(self).into_ptr()) };
        }
        Ok(tuple)
    }

    /// `len(tuple)` (SystemError if `tuple` is not a tuple).
    #[inline]
    pub(crate) fn tuple_len(self, tuple: &PyRef) -> PyResult<usize> {
        // SAFETY: the module note; PyTuple_Size checks the type.
        let n = unsafe { (self.api.PyTuple_Size)(tuple.as_ptr()) };
        usize::try_from(n).map_err(|_| PyErrPending)
    }

    /// Item `i` of a tuple, borrowed from it: a tuple never changes once made, so it holds the
    /// item for as long as the caller holds the tuple (no incref on the conversion fast path).
    /// IndexError past the end, SystemError if `tuple` is not a tuple.
    #[inline]
    pub(crate) fn tuple_get<'t>(self, tuple: &'t PyRef, i: usize) -> PyResult<Borrowed<'t>> {
        let i = isize::try_from(i).map_err(|_| PyErrPending)?;
        // SAFETY: the module note; PyTuple_GetItem checks the type and the bound. The item is
        // alive for `'t`: the borrow of `tuple` keeps the tuple alive, and the tuple its items
        // (tuples are immutable: only a new tuple, not yet shared, has its items set).
        unsafe { Borrowed::from_ptr((self.api.PyTuple_GetItem)(tuple.as_ptr(), i)) }.ok_or(PyErrPending)
    }

    /// A new empty dict.
    #[inline]
    pub(crate) fn new_dict(self) -> PyResult<PyRef> {
        // SAFETY: the module note; no pointer arguments.
        unsafe { owned((self.api.PyDict_New)()) }
    }

    /// `dict[key] = value`. The dict keeps its own references.
    #[inline]
    pub(crate) fn dict_set(self, dict: &PyRef, key: &PyRef, value: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; PyDict_SetItem checks that `dict` is a dict and steals nothing.
        status(unsafe { (self.api.PyDict_SetItem)(dict.as_ptr(), key.as_ptr(), value.as_ptr()) })
    }

    /// `dict[key] = value` with a C-string key.
    #[inline]
    pub(crate) fn dict_set_str(self, dict: &PyRef, key: &CStr, value: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; `key` is NUL-terminated; nothing is stolen.
        status(unsafe { (self.api.PyDict_SetItemString)(dict.as_ptr(), key.as_ptr(), value.as_ptr()) })
    }

    /// `del dict[key]` (KeyError if absent).
    #[inline]
    pub(crate) fn dict_del(self, dict: &PyRef, key: &PyRef) -> PyResult<()> {
        // SAFETY: the module note; PyDict_DelItem checks the type and steals nothing.
        status(unsafe { (self.api.PyDict_DelItem)(dict.as_ptr(), key.as_ptr()) })
    }

    /// `len(dict)` (SystemError if `dict` is not a dict).
    #[inline]
    pub(crate) fn dict_len(self, dict: &PyRef) -> PyResult<usize> {
        // SAFETY: the module note; PyDict_Size checks the type.
        let n = unsafe { (self.api.PyDict_Size)(dict.as_ptr()) };
        usize::try_from(n).map_err(|_| PyErrPending)
    }

    /// `dict[key]`, owned; `Ok(None)` when absent. The lookup may run the key's `__eq__`; on a
    /// free-threaded build `PyDict_GetItemRef` (3.13+) takes the value atomically, and with the
    /// GIL nothing runs between the borrow and the incref.
    #[inline]
    pub(crate) fn dict_get(self, dict: &PyRef, key: &PyRef) -> PyResult<Option<PyRef>> {
        let api = self.api;
        if let (true, Some(get_ref)) = (ffi::free_threaded(), api.PyDict_GetItemRef) {
            let mut v: PyPtr = std::ptr::null_mut();
            // SAFETY: the module note; `v` is a valid out-pointer, set to a new reference (or NULL).
            let rc = unsafe { get_ref(dict.as_ptr(), key.as_ptr(), &mut v) };
            // SAFETY: `v` is the new reference PyDict_GetItemRef stored (or NULL).
            return if rc < 0 { Err(PyErrPending) } else { Ok(unsafe { PyRef::from_owned(v) }) };
        }
        // SAFETY: the module note; PyDict_GetItemWithError checks the type; a borrowed result is
        // increfed by `from_borrowed` before any Python code can run.
        let v = unsafe { (api.PyDict_GetItemWithError)(dict.as_ptr(), key.as_ptr()) };
        if v.is_null() && self.error_pending() {
            return Err(PyErrPending);
        }
        // SAFETY: a non-null `v` is the dict's value, alive (held by the dict) until Python code
        // runs, and none has run since the lookup.
        Ok(unsafe { PyRef::from_borrowed(self, v) })
    }

    /// `dict[key]` with a `str` key, owned; `Ok(None)` when absent.
    #[inline]
    pub(crate) fn dict_get_str(self, dict: &PyRef, key: &str) -> PyResult<Option<PyRef>> {
        let k = self.new_str(key)?;
        self.dict_get(dict, &k)
    }

    /// Whether `dict[key] is expected`: the identity check of a cache validation, on the hot call
    /// path, so the value is not taken, only its address compared (right after the lookup, with
    /// nothing run in between; `expected` is alive, so no other object can have its address). A
    /// failed lookup reads as false, its error cleared.
    #[inline]
    pub(crate) fn dict_item_is(self, dict: &PyRef, key: &PyRef, expected: &PyRef) -> bool {
        // SAFETY: the module note; PyDict_GetItemWithError checks the type; the result is used
        // only as an address (above).
        let v = unsafe { (self.api.PyDict_GetItemWithError)(dict.as_ptr(), key.as_ptr()) };
        if v.is_null() {
            self.clear_error();
        }
        v == expected.as_ptr()
    }

    /// `set(iterable)`.
    #[inline]
    pub(crate) fn new_set(self, iterable: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; the argument is only iterated.
        unsafe { owned((self.api.PySet_New)(iterable.as_ptr())) }
    }

    /// `frozenset(iterable)`.
    #[inline]
    pub(crate) fn new_frozenset(self, iterable: &PyRef) -> PyResult<PyRef> {
        // SAFETY: the module note; the argument is only iterated.
        unsafe { owned((self.api.PyFrozenSet_New)(iterable.as_ptr())) }
    }
}

/// A dict's items, each key and value owned while it is used.
///
/// With the GIL: `PyDict_Next` with each pair increfed at once, and the dict's size checked
/// before each step, so Python code run while using a value (a `__str__`, `isoformat()`) that
/// changes the dict ends the iteration with [`DictChanged`], as iterating it in Python would,
/// instead of reading a changed table. Free-threaded: a snapshot (`PyDict_Items`, which locks
/// the dict), because another thread may change it at any moment.
pub(crate) enum DictItems<'d> {
    Live { dict: &'d PyRef, pos: isize, size: isize },
    Snapshot { items: PyRef, i: usize },
}

/// The dict changed size while its items were being taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DictChanged;

impl<'d> DictItems<'d> {
    /// The items of `dict` (SystemError if it is not a dict).
    pub(crate) fn new(py: Python, dict: &'d PyRef) -> PyResult<DictItems<'d>> {
        let api = py.api;
        if ffi::free_threaded() {
            // SAFETY: the module note; PyDict_Items checks the type and returns a new list of
            // new (key, value) tuples.
            let items = unsafe { owned((api.PyDict_Items)(dict.as_ptr())) }?;
            return Ok(DictItems::Snapshot { items, i: 0 });
        }
        let size = py.dict_len(dict)? as isize;
        Ok(DictItems::Live { dict, pos: 0, size })
    }

    /// The next (key, value) pair, both owned; `None` at the end.
    pub(crate) fn next(&mut self, py: Python) -> Result<Option<(PyRef, PyRef)>, DictChanged> {
        let api = py.api;
        match self {
            DictItems::Live { dict, pos, size } => {
                // SAFETY: the module note (`dict` is a dict: `new` checked); no error is possible.
                if unsafe { (api.PyDict_Size)(dict.as_ptr()) } != *size {
                    return Err(DictChanged);
                }
                let (mut k, mut v): (PyPtr, PyPtr) = (std::ptr::null_mut(), std::ptr::null_mut());
                // SAFETY: the module note; `pos` is this iteration's cursor (only PyDict_Next moves
                // it) and `k`/`v` are valid out-pointers for borrowed references, increfed by
                // `from_borrowed` before any Python code can run.
                if unsafe { (api.PyDict_Next)(dict.as_ptr(), pos, &mut k, &mut v) } == 0 {
                    return Ok(None);
                }
                // SAFETY: `k` and `v` are held by the dict, and no Python code runs before both are
                // increfed (an incref runs none).
                Ok(unsafe { PyRef::from_borrowed(py, k).zip(PyRef::from_borrowed(py, v)) })
            }
            DictItems::Snapshot { items, i } => {
                let Some(pair) = py.list_get(items, *i) else { return Ok(None) };
                *i += 1;
                // PyDict_Items makes (key, value) tuples, so both indexes exist.
                let (Ok(k), Ok(v)) = (py.tuple_get(&pair, 0), py.tuple_get(&pair, 1)) else { return Ok(None) };
                Ok(Some((k.to_owned(py), v.to_owned(py))))
            }
        }
    }
}
