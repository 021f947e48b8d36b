//! pyrt's error type: a kind with a stable status number, a message, and for Python exceptions
//! the exception's type name and formatted traceback. Every host binding sees these fields.

use std::fmt;

/// What went wrong. The discriminants are the C status codes (`PYRT_ERR_*`): stable, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    InvalidArgument = 1,
    InvalidUtf8 = 2,
    InvalidJson = 3,
    Config = 4,
    LibpythonNotFound = 5,
    LibpythonInvalid = 6,
    LibpythonConflict = 7,
    Init = 8,
    Finalized = 9,
    Closed = 10,
    Python = 11,
    SystemExit = 12,
    KeyboardInterrupt = 13,
    Conversion = 14,
    FileNotFound = 15,
    PermissionDenied = 16,
    NotAFile = 17,
    Io = 18,
    Internal = 19,
    Interrupted = 20,
    Timeout = 21,
    BufferEscaped = 22,
    Venv = 23,
}

impl ErrorKind {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The C constant's name, e.g. `"PYRT_ERR_PYTHON"`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "PYRT_ERR_INVALID_ARGUMENT",
            ErrorKind::InvalidUtf8 => "PYRT_ERR_INVALID_UTF8",
            ErrorKind::InvalidJson => "PYRT_ERR_INVALID_JSON",
            ErrorKind::Config => "PYRT_ERR_CONFIG",
            ErrorKind::LibpythonNotFound => "PYRT_ERR_LIBPYTHON_NOT_FOUND",
            ErrorKind::LibpythonInvalid => "PYRT_ERR_LIBPYTHON_INVALID",
            ErrorKind::LibpythonConflict => "PYRT_ERR_LIBPYTHON_CONFLICT",
            ErrorKind::Init => "PYRT_ERR_INIT",
            ErrorKind::Finalized => "PYRT_ERR_FINALIZED",
            ErrorKind::Closed => "PYRT_ERR_CLOSED",
            ErrorKind::Python => "PYRT_ERR_PYTHON",
            ErrorKind::SystemExit => "PYRT_ERR_SYSTEM_EXIT",
            ErrorKind::KeyboardInterrupt => "PYRT_ERR_KEYBOARD_INTERRUPT",
            ErrorKind::Conversion => "PYRT_ERR_CONVERSION",
            ErrorKind::FileNotFound => "PYRT_ERR_FILE_NOT_FOUND",
            ErrorKind::PermissionDenied => "PYRT_ERR_PERMISSION_DENIED",
            ErrorKind::NotAFile => "PYRT_ERR_NOT_A_FILE",
            ErrorKind::Io => "PYRT_ERR_IO",
            ErrorKind::Internal => "PYRT_ERR_INTERNAL",
            ErrorKind::Interrupted => "PYRT_ERR_INTERRUPTED",
            ErrorKind::Timeout => "PYRT_ERR_TIMEOUT",
            ErrorKind::BufferEscaped => "PYRT_ERR_BUFFER_ESCAPED",
            ErrorKind::Venv => "PYRT_ERR_VENV",
        }
    }

    pub const ALL: [ErrorKind; 23] = [
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidUtf8,
        ErrorKind::InvalidJson,
        ErrorKind::Config,
        ErrorKind::LibpythonNotFound,
        ErrorKind::LibpythonInvalid,
        ErrorKind::LibpythonConflict,
        ErrorKind::Init,
        ErrorKind::Finalized,
        ErrorKind::Closed,
        ErrorKind::Python,
        ErrorKind::SystemExit,
        ErrorKind::KeyboardInterrupt,
        ErrorKind::Conversion,
        ErrorKind::FileNotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::NotAFile,
        ErrorKind::Io,
        ErrorKind::Internal,
        ErrorKind::Interrupted,
        ErrorKind::Timeout,
        ErrorKind::BufferEscaped,
        ErrorKind::Venv,
    ];

    pub fn from_code(code: i32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }
}

/// The Python side of an error that came from a Python exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonException {
    /// `ZeroDivisionError`, or qualified for non-builtins: `json.decoder.JSONDecodeError`.
    pub type_name: String,
    /// `traceback.format_exception(...)` joined; `None` when Python gave none.
    pub traceback: Option<String>,
}

/// An error: its fields are [`ErrorDetail`]'s, reached through `Deref` (`e.kind`, `e.message`).
/// Boxed, so a `Result<T>` stays two words and moves cheaply along the call path (a call's
/// result passes through several layers on every call; the error is the rare case).
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorDetail>);

impl std::ops::Deref for Error {
    type Target = ErrorDetail;
    #[inline]
    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    #[inline]
    fn deref_mut(&mut self) -> &mut ErrorDetail {
        &mut self.0
    }
}

impl From<ErrorDetail> for Error {
    fn from(d: ErrorDetail) -> Error {
        Error(Box::new(d))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

/// What an [`Error`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub kind: ErrorKind,
    pub message: String,
    pub python: Option<PythonException>,
    /// What the failed call wrote to sys.stdout / sys.stderr, when its runtime handle captures
    /// output (`capture_output`).
    pub output: Option<Box<[String; 2]>>,
    /// The Python exception object itself, so a host callback can re-raise it unchanged.
    pub exception: Option<ExceptionRef>,
}

/// A reference to the Python exception behind an error. Opaque; releasing it never needs the
/// GIL (the reference is queued like a freed object handle). The layer that touches CPython
/// (`python::handles::Held`) is what it holds: a leaf module names no Python types.
#[derive(Clone)]
pub struct ExceptionRef(pub(crate) std::sync::Arc<dyn std::any::Any + Send + Sync>);

impl PartialEq for ExceptionRef {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for ExceptionRef {}
impl fmt::Debug for ExceptionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExceptionRef")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.python {
            Some(py) if !self.message.is_empty() => write!(f, "{}: {}", py.type_name, self.message),
            Some(py) => f.write_str(&py.type_name),
            None => f.write_str(&self.message),
        }
    }
}

impl Error {
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        ErrorDetail { kind, message: message.into(), python: None, output: None, exception: None }.into()
    }
    /// The same error with another message.
    pub fn with_message(mut self, message: String) -> Error {
        self.message = message;
        self
    }
    /// The detail, by value.
    pub fn into_detail(self) -> ErrorDetail {
        *self.0
    }
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }
    pub fn closed() -> Error {
        Error::new(ErrorKind::Closed, "the pyrt runtime was freed (or this is not a runtime handle)")
    }
    pub fn finalized() -> Error {
        Error::new(
            ErrorKind::Finalized,
            "the Python interpreter of this process was finalized; CPython cannot be initialized twice in one process",
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
