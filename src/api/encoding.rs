//! Values between Rust and pyrt's core: serde to and from JSON text, the tagged arguments an
//! [`Object`](super::Object) or [`Bytes`] needs, and the results calls return.

use std::ffi::CString;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{self, VALUE_TAGGED};

/// Bytes passed to Python as a `bytes` object (inside arguments: `rt.call("m", "f", (Bytes(b"\x00\x01"),))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes<'a>(pub &'a [u8]);

pub(super) fn path_text(p: &Path, what: &str) -> Result<String> {
    p.to_str().map(str::to_string).ok_or_else(|| Error::new(ErrorKind::InvalidUtf8, format!("{what} {} is not valid UTF-8", p.display())))
}

pub(super) fn c_string(text: &str, what: &str) -> Result<CString> {
    CString::new(text).map_err(|_| Error::invalid_argument(format!("{what} contains a NUL character")))
}

/// Text pyrt's core returns: a `CString` or (JSON results) a `CText`.
pub(super) trait CoreText {
    fn into_text(self) -> String;
}

impl CoreText for CString {
    fn into_text(self) -> String {
        self.into_string().expect("pyrt returns UTF-8")
    }
}

impl CoreText for crate::ctext::CText {
    fn into_text(self) -> String {
        self.into_string_lossy()
    }
}

pub(super) fn into_string(s: impl CoreText) -> String {
    s.into_text()
}

pub(super) fn to_json<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::Conversion, format!("{what} cannot be serialized: {e}")))
}

pub(super) fn from_json<T: DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(ErrorKind::Conversion, format!("the Python result {} does not fit the Rust type: {e}", abbreviate(json))))
}

pub(super) fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Serialized arguments: a JSON array and the value flags they need. Plain JSON goes as is;
/// arguments holding an `Object` or `Bytes` (the only writers of the reserved `"__pyrt__"` key,
/// apart from a caller who writes a tag deliberately) go in the tagged encoding.
#[derive(Debug)]
pub(super) struct Encoded {
    pub(super) args: String,
    pub(super) kwargs: Option<String>,
    pub(super) flags: u32,
}

pub(super) fn encode_args<A: Serialize, K: Serialize>(args: &A, kwargs: Option<&K>) -> Result<Encoded> {
    let mut args = to_json(args, "the arguments")?;
    if args == "null" {
        // `()` (or a bare `None`): no arguments. One None argument is `(None::<T>,)`.
        args = "[]".to_string();
    } else if !args.starts_with('[') {
        // A single value rather than a tuple/array/Vec: pass it as the only argument.
        args = format!("[{args}]");
    }
    let kwargs = match kwargs {
        None => None,
        Some(k) => {
            let text = to_json(k, "the keyword arguments")?;
            if !text.starts_with('{') {
                return Err(Error::invalid_argument(format!("keyword arguments must serialize to a map, not {}", abbreviate(&text))));
            }
            Some(text)
        }
    };
    let tagged = args.contains("\"__pyrt__\"") || kwargs.as_deref().is_some_and(|k| k.contains("\"__pyrt__\""));
    Ok(Encoded { args, kwargs, flags: if tagged { VALUE_TAGGED } else { 0 } })
}

pub(super) fn unexpected_object(id: u64) -> Error {
    runtime::object_free(id);
    Error::new(ErrorKind::Internal, "pyrt returned a handle where a value was asked for")
}

pub(super) const NO_KWARGS: Option<&()> = None;

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use base64::Engine;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("__pyrt__", "bytes")?;
        m.serialize_entry("v", &base64::engine::general_purpose::STANDARD.encode(self.0))?;
        m.end()
    }
}
