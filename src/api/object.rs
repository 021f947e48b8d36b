//! [`Object`]: a Python object kept alive by Rust, and what can be done with it.

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::encoding::{encode_args, from_json, into_string, to_json, unexpected_object, NO_KWARGS};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{self, Returned, VALUE_TAGGED};

/// A Python object kept alive by Rust: it owns one reference, released when the `Object` is
/// dropped (from any thread, without waiting for the GIL).
#[derive(Debug)]
pub struct Object {
    pub(super) id: u64,
}

impl Object {
    /// `getattr(self, name)` as an object.
    pub fn get(&self, name: &str) -> Result<Object> {
        object_of(runtime::object_getattr(self.id, name, 0, true)?)
    }

    /// `getattr(self, name)` converted to `T`.
    pub fn get_value<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        match runtime::object_getattr(self.id, name, 0, false)? {
            Returned::Json(j) => from_json(j.to_str().expect("pyrt returns UTF-8")),
            Returned::Object(id) => Err(unexpected_object(id)),
        }
    }

    /// `setattr(self, name, value)`; `value` may be an `&Object`.
    pub fn set(&self, name: &str, value: impl Serialize) -> Result<()> {
        let json = to_json(&value, "the value")?;
        let flags = if json.contains("\"__pyrt__\"") { VALUE_TAGGED } else { 0 };
        runtime::object_setattr(self.id, name, Some(&json), None, flags)
    }

    /// `self(*args)` converted to `T`.
    pub fn call<T: DeserializeOwned>(&self, args: impl Serialize) -> Result<T> {
        self.call_inner(None, &args, NO_KWARGS)
    }

    /// `self(*args, **kwargs)` converted to `T`.
    pub fn call_kw<T: DeserializeOwned, K: Serialize>(&self, args: impl Serialize, kwargs: Option<&K>) -> Result<T> {
        self.call_inner(None, &args, kwargs)
    }

    /// `self(*args)` as an object.
    pub fn call_object(&self, args: impl Serialize) -> Result<Object> {
        let e = encode_args(&args, NO_KWARGS)?;
        object_of(runtime::object_call(self.id, None, Some(&e.args), None, e.flags, true)?)
    }

    /// `self.method(*args)` converted to `T`.
    pub fn call_method<T: DeserializeOwned>(&self, method: &str, args: impl Serialize) -> Result<T> {
        self.call_inner(Some(method), &args, NO_KWARGS)
    }

    /// `self.method(*args, **kwargs)` converted to `T`.
    pub fn call_method_kw<T: DeserializeOwned, K: Serialize>(&self, method: &str, args: impl Serialize, kwargs: Option<&K>) -> Result<T> {
        self.call_inner(Some(method), &args, kwargs)
    }

    /// `self.method(*args)` as an object.
    pub fn call_method_object(&self, method: &str, args: impl Serialize) -> Result<Object> {
        let e = encode_args(&args, NO_KWARGS)?;
        object_of(runtime::object_call(self.id, Some(method), Some(&e.args), None, e.flags, true)?)
    }

    fn call_inner<T: DeserializeOwned, A: Serialize, K: Serialize>(&self, method: Option<&str>, args: &A, kwargs: Option<&K>) -> Result<T> {
        let e = encode_args(args, kwargs)?;
        decode_call(e.flags, |flags, as_object| runtime::object_call(self.id, method, Some(&e.args), e.kwargs.as_deref(), flags, as_object))
    }

    /// The object's value converted to `T`.
    pub fn extract<T: DeserializeOwned>(&self) -> Result<T> {
        from_json(&self.to_json()?)
    }

    /// The object's value as plain JSON text.
    pub fn to_json(&self) -> Result<String> {
        runtime::object_to_json(self.id, 0).map(into_string)
    }

    /// The object's value in the tagged encoding (docs/values.md): also for bytes, sets, tuples,
    /// datetimes, ...
    pub fn to_tagged_json(&self) -> Result<String> {
        runtime::object_to_json(self.id, VALUE_TAGGED).map(into_string)
    }

    /// `repr(self)`.
    pub fn repr(&self) -> Result<String> {
        runtime::object_text(self.id, true).map(into_string)
    }

    /// `str(self)`.
    pub fn str(&self) -> Result<String> {
        runtime::object_text(self.id, false).map(into_string)
    }

    /// The number that stands for this object in the tagged encoding (`pyrt_object_id`).
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        runtime::object_free(self.id)
    }
}

/// Inside arguments an object is passed as itself (a new reference, not a copy).
impl Serialize for Object {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("__pyrt__", "object")?;
        m.serialize_entry("v", &self.id)?;
        m.end()
    }
}

/// Runs a call that returns [`Returned`] and decodes its result as plain JSON into `T`. With
/// plain arguments the call converts the result itself; with tagged arguments it returns a
/// handle whose plain encoding is read next (the result must not come back tagged).
pub(super) fn decode_call<T: DeserializeOwned>(flags: u32, call: impl FnOnce(u32, bool) -> Result<Returned>) -> Result<T> {
    if flags == 0 {
        match call(0, false)? {
            Returned::Json(j) => from_json(j.to_str().expect("pyrt returns UTF-8")),
            Returned::Object(id) => Err(unexpected_object(id)),
        }
    } else {
        object_of(call(flags, true)?)?.extract()
    }
}

pub(super) fn object_of(r: Returned) -> Result<Object> {
    match r {
        Returned::Object(id) => Ok(Object { id }),
        Returned::Json(_) => Err(Error::new(ErrorKind::Internal, "pyrt returned a value where a handle was asked for")),
    }
}
