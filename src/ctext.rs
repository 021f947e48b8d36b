//! Strings handed to the host: NUL-terminated, in C heap memory (`malloc`), so
//! `pyrt_string_free` is a plain `free()` — no length to recompute and no allocator wrapper on
//! the per-call path.

use std::ffi::{c_char, CStr, CString};
use std::ptr::NonNull;

/// An owned, NUL-terminated string allocated with `malloc`.
pub struct CText {
    ptr: NonNull<c_char>,
    len: usize,
}

// SAFETY: CText owns its allocation exclusively (like a Box).
unsafe impl Send for CText {}
unsafe impl Sync for CText {}

impl CText {
    /// A copy of `bytes` and a terminating NUL. The caller guarantees `bytes` holds no NUL (JSON
    /// text never does: control characters are escaped).
    pub fn from_bytes_unchecked(bytes: &[u8]) -> CText {
        unsafe {
            let p = libc::malloc(bytes.len() + 1) as *mut u8;
            let Some(ptr) = NonNull::new(p as *mut c_char) else {
                std::alloc::handle_alloc_error(std::alloc::Layout::array::<u8>(bytes.len() + 1).expect("size"));
            };
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
            CText { ptr, len: bytes.len() }
        }
    }

    /// Gives the string to the host, which frees it with `pyrt_string_free` (`free`).
    pub fn into_raw(self) -> *mut c_char {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: len bytes were written at ptr.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr() as *const u8, self.len) }
    }

    pub fn as_c_str(&self) -> &CStr {
        // SAFETY: NUL-terminated, no interior NUL.
        unsafe { CStr::from_bytes_with_nul_unchecked(std::slice::from_raw_parts(self.ptr.as_ptr() as *const u8, self.len + 1)) }
    }

    /// The text as `&str` (pyrt's JSON output is UTF-8).
    pub fn to_str(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(self.as_bytes())
    }

    /// The text as a Rust `String` (invalid UTF-8 replaced).
    pub fn into_string_lossy(self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }

    /// Frees a string made by [`CText::into_raw`].
    ///
    /// # Safety
    /// `p` came from `into_raw` and is freed once.
    pub unsafe fn free_raw(p: *mut c_char) {
        libc::free(p.cast());
    }
}

impl From<CString> for CText {
    fn from(c: CString) -> CText {
        CText::from_bytes_unchecked(c.as_bytes())
    }
}

impl From<&str> for CText {
    /// NULs in `s` end the string early, as C would read it; callers replace them first.
    fn from(s: &str) -> CText {
        let end = s.as_bytes().iter().position(|&b| b == 0).unwrap_or(s.len());
        CText::from_bytes_unchecked(&s.as_bytes()[..end])
    }
}

impl Drop for CText {
    fn drop(&mut self) {
        unsafe { libc::free(self.ptr.as_ptr().cast()) };
    }
}

impl std::fmt::Debug for CText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_c_str().fmt(f)
    }
}
