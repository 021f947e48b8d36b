//! Status codes returned by every fallible function. Stable numbers, never reused.

/// Success.
pub const PYRT_OK: i32 = 0;
/// A required pointer argument was NULL, `args_json` was not a JSON array, `kwargs_json` not a
/// JSON object, or a name was empty or malformed.
pub const PYRT_ERR_INVALID_ARGUMENT: i32 = 1;
/// A text argument was not valid UTF-8.
pub const PYRT_ERR_INVALID_UTF8: i32 = 2;
/// A JSON argument was malformed or nested deeper than 1000 levels.
pub const PYRT_ERR_INVALID_JSON: i32 = 3;
/// The config JSON was malformed, not an object, or had an unknown key or a wrong value type.
pub const PYRT_ERR_CONFIG: i32 = 4;
/// No libpython was found; the message lists every candidate tried and why it was rejected.
pub const PYRT_ERR_LIBPYTHON_NOT_FOUND: i32 = 5;
/// The library is not a usable libpython: not a shared library, not CPython, a version before
/// 3.8, or a required symbol is missing (named in the message).
pub const PYRT_ERR_LIBPYTHON_INVALID: i32 = 6;
/// This process already runs a different libpython (or the same one with contradicting
/// settings); a process can host only one.
pub const PYRT_ERR_LIBPYTHON_CONFLICT: i32 = 7;
/// CPython failed to initialize (the message carries CPython's reason).
pub const PYRT_ERR_INIT: i32 = 8;
/// The interpreter of this process was finalized (its last runtime was freed); CPython cannot be
/// initialized again in the same process.
pub const PYRT_ERR_FINALIZED: i32 = 9;
/// The runtime handle was freed, or is not a runtime handle.
pub const PYRT_ERR_CLOSED: i32 = 10;
/// Python raised an exception; see pyrt_error_python_type() and pyrt_error_traceback().
pub const PYRT_ERR_PYTHON: i32 = 11;
/// Python raised SystemExit (the exit code is in the message). The process keeps running.
pub const PYRT_ERR_SYSTEM_EXIT: i32 = 12;
/// Python raised KeyboardInterrupt.
pub const PYRT_ERR_KEYBOARD_INTERRUPT: i32 = 13;
/// A Python value has no JSON form; the message names its type and its path (`$[0]["key"]`).
pub const PYRT_ERR_CONVERSION: i32 = 14;
/// pyrt_run_file(): the file does not exist.
pub const PYRT_ERR_FILE_NOT_FOUND: i32 = 15;
/// pyrt_run_file(): the file may not be read.
pub const PYRT_ERR_PERMISSION_DENIED: i32 = 16;
/// pyrt_run_file(): the path is a directory or another non-regular file.
pub const PYRT_ERR_NOT_A_FILE: i32 = 17;
/// Another input/output error.
pub const PYRT_ERR_IO: i32 = 18;
/// A bug in pyrt was caught (an internal panic); the process keeps running. Please report it.
pub const PYRT_ERR_INTERNAL: i32 = 19;
/// The call was interrupted by pyrt_interrupt() or pyrt_interrupt_thread() (the Python code saw
/// a KeyboardInterrupt, whose type and traceback the error carries). The runtime stays usable.
pub const PYRT_ERR_INTERRUPTED: i32 = 20;
/// The call ran longer than its runtime handle's "timeout_ms" and was interrupted. The runtime
/// stays usable.
pub const PYRT_ERR_TIMEOUT: i32 = 21;
/// A host buffer lent to the call (pyrt_args_push_buffer()) was still referenced by Python when
/// the call returned: the Python code kept an array or view made from it (a NumPy array from
/// numpy.frombuffer/asarray, a memoryview slice) in a global, an attribute, a closure... pyrt
/// closed every view it could (the memoryview it passed raises ValueError when used), but
/// cannot withdraw a raw pointer an extension took: the host memory MUST stay valid, and
/// should stay unchanged, for as long as the process may run that Python code — treat the
/// buffer as leaked. The call's own result, if any, was discarded.
pub const PYRT_ERR_BUFFER_ESCAPED: i32 = 22;

/// Preparing a managed virtualenv (config "requirements") failed: creating it, or installing a
/// requirement — the message names what failed and carries the installer's error. A venv that
/// existed is left exactly as it was; a new one is not left half made.
pub const PYRT_ERR_VENV: i32 = 23;

/// Not an error: the iterator is exhausted (or the generator returned, or was closed). Returned
/// by pyrt_iter_next() and the other pyrt_iter_* steps instead of an item; `*item_out` is left
/// untouched and `*err_out` is not set. Every later step returns it again.
pub const PYRT_DONE: i32 = 100;

/// Python's sys.stdout, for pyrt_output_take(), pyrt_error_output() and output handlers.
pub const PYRT_STDOUT: u32 = 1;
/// Python's sys.stderr, for pyrt_output_take(), pyrt_error_output() and output handlers.
pub const PYRT_STDERR: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn constants_match_error_kinds() {
        let table = [
            (PYRT_ERR_INVALID_ARGUMENT, ErrorKind::InvalidArgument),
            (PYRT_ERR_INVALID_UTF8, ErrorKind::InvalidUtf8),
            (PYRT_ERR_INVALID_JSON, ErrorKind::InvalidJson),
            (PYRT_ERR_CONFIG, ErrorKind::Config),
            (PYRT_ERR_LIBPYTHON_NOT_FOUND, ErrorKind::LibpythonNotFound),
            (PYRT_ERR_LIBPYTHON_INVALID, ErrorKind::LibpythonInvalid),
            (PYRT_ERR_LIBPYTHON_CONFLICT, ErrorKind::LibpythonConflict),
            (PYRT_ERR_INIT, ErrorKind::Init),
            (PYRT_ERR_FINALIZED, ErrorKind::Finalized),
            (PYRT_ERR_CLOSED, ErrorKind::Closed),
            (PYRT_ERR_PYTHON, ErrorKind::Python),
            (PYRT_ERR_SYSTEM_EXIT, ErrorKind::SystemExit),
            (PYRT_ERR_KEYBOARD_INTERRUPT, ErrorKind::KeyboardInterrupt),
            (PYRT_ERR_CONVERSION, ErrorKind::Conversion),
            (PYRT_ERR_FILE_NOT_FOUND, ErrorKind::FileNotFound),
            (PYRT_ERR_PERMISSION_DENIED, ErrorKind::PermissionDenied),
            (PYRT_ERR_NOT_A_FILE, ErrorKind::NotAFile),
            (PYRT_ERR_IO, ErrorKind::Io),
            (PYRT_ERR_INTERNAL, ErrorKind::Internal),
            (PYRT_ERR_INTERRUPTED, ErrorKind::Interrupted),
            (PYRT_ERR_TIMEOUT, ErrorKind::Timeout),
            (PYRT_ERR_BUFFER_ESCAPED, ErrorKind::BufferEscaped),
            (PYRT_ERR_VENV, ErrorKind::Venv),
        ];
        assert_eq!(table.len(), ErrorKind::ALL.len());
        for (code, kind) in table {
            assert_eq!(code, kind.code(), "{}", kind.name());
        }
    }
}
