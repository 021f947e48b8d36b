//! Strings pyrt returns, and static information.

use std::ffi::c_char;

use crate::ctext::CText;

use crate::error::ErrorKind;

/// Frees a string returned by pyrt (e.g. the `result_out` of pyrt_call_json()).
///
/// NULL is a harmless no-op. Free each string at most once, and only strings pyrt returned.
/// Thread safety: may be called from any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: not NULL; per the header `s` is a string pyrt returned, freed once, and every
        // string pyrt returns comes from `CText::into_raw` (`give`, or a CText's `into_raw`).
        unsafe { CText::free_raw(s) };
    }
}

/// Hands a string to the host as a `pyrt_string_free`-able C string.
pub(crate) fn give(s: impl Into<CText>) -> *mut c_char {
    s.into().into_raw()
}

/// pyrt's own version, e.g. "0.1.0": a static string, never freed. Bindings compare its
/// major.minor with their own to detect a mismatched library. Any thread.
#[no_mangle]
pub extern "C" fn pyrt_version() -> *const c_char {
    crate::VERSION_C.as_ptr()
}

/// The SHA-256 (64 lowercase hex digits) of the sources this library was built from: a static
/// string, never freed. It identifies a build exactly where pyrt_version() only names a release:
/// a prebuilt copy (such as the Go module's embedded libpyrt) is checked against the source tree
/// with it. It hashes Cargo.toml, Cargo.lock, build.rs, cbindgen.toml and src/**/*.rs
/// (`scripts/source-hash.sh` computes the same value from a checkout). Any thread.
#[no_mangle]
pub extern "C" fn pyrt_source_hash() -> *const c_char {
    crate::SOURCE_HASH_C.as_ptr()
}

/// The name of a status code, e.g. "PYRT_ERR_PYTHON" for PYRT_ERR_PYTHON, "PYRT_OK" for 0, and
/// "PYRT_ERR_UNKNOWN" for any other number. A static string, never freed. Any thread.
#[no_mangle]
pub extern "C" fn pyrt_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match ErrorKind::from_code(status) {
        _ if status == 0 => b"PYRT_OK\0",
        _ if status == super::status::PYRT_DONE => b"PYRT_DONE\0",
        Some(kind) => STATUS_NAMES[kind.code() as usize - 1],
        None => b"PYRT_ERR_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

static STATUS_NAMES: [&[u8]; 23] = [
    b"PYRT_ERR_INVALID_ARGUMENT\0",
    b"PYRT_ERR_INVALID_UTF8\0",
    b"PYRT_ERR_INVALID_JSON\0",
    b"PYRT_ERR_CONFIG\0",
    b"PYRT_ERR_LIBPYTHON_NOT_FOUND\0",
    b"PYRT_ERR_LIBPYTHON_INVALID\0",
    b"PYRT_ERR_LIBPYTHON_CONFLICT\0",
    b"PYRT_ERR_INIT\0",
    b"PYRT_ERR_FINALIZED\0",
    b"PYRT_ERR_CLOSED\0",
    b"PYRT_ERR_PYTHON\0",
    b"PYRT_ERR_SYSTEM_EXIT\0",
    b"PYRT_ERR_KEYBOARD_INTERRUPT\0",
    b"PYRT_ERR_CONVERSION\0",
    b"PYRT_ERR_FILE_NOT_FOUND\0",
    b"PYRT_ERR_PERMISSION_DENIED\0",
    b"PYRT_ERR_NOT_A_FILE\0",
    b"PYRT_ERR_IO\0",
    b"PYRT_ERR_INTERNAL\0",
    b"PYRT_ERR_INTERRUPTED\0",
    b"PYRT_ERR_TIMEOUT\0",
    b"PYRT_ERR_BUFFER_ESCAPED\0",
    b"PYRT_ERR_VENV\0",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn source_hash_is_sha256_hex() {
        // SAFETY: pyrt_source_hash() returns a pointer to a static NUL-terminated string.
        let h = unsafe { CStr::from_ptr(pyrt_source_hash()) }.to_str().unwrap();
        assert_eq!(h, crate::SOURCE_HASH);
        assert!(h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{h}");
    }

    #[test]
    fn status_names_match_kinds() {
        for kind in ErrorKind::ALL {
            // SAFETY: pyrt_status_name() returns a pointer to a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(pyrt_status_name(kind.code())) };
            assert_eq!(name.to_str().unwrap(), kind.name());
        }
        // SAFETY: as above: static NUL-terminated strings.
        let (ok, unknown) = unsafe { (CStr::from_ptr(pyrt_status_name(0)), CStr::from_ptr(pyrt_status_name(999))) };
        assert_eq!(ok.to_str().unwrap(), "PYRT_OK");
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(pyrt_status_name(super::super::status::PYRT_DONE)) }.to_str().unwrap(), "PYRT_DONE");
        assert_eq!(unknown.to_str().unwrap(), "PYRT_ERR_UNKNOWN");
    }
}
