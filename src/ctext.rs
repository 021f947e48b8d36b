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

// SAFETY: CText owns its allocation exclusively (like a Box<[u8]>): nothing else points to it,
// and `free` may be called from any thread.
unsafe impl Send for CText {}
// SAFETY: `&CText` only reads the bytes (no interior mutability), so sharing it is like sharing a `&[u8]`.
unsafe impl Sync for CText {}

impl CText {
    /// A copy of `bytes` and a terminating NUL. The caller guarantees `bytes` holds no NUL (JSON
    /// text never does: control characters are escaped).
    pub fn from_bytes_unchecked(bytes: &[u8]) -> CText {
        // SAFETY: malloc has no precondition; a NULL result is handled before any write.
        let p = unsafe { libc::malloc(bytes.len() + 1) }.cast::<u8>();
        let Some(ptr) = NonNull::new(p.cast::<c_char>()) else {
            std::alloc::handle_alloc_error(std::alloc::Layout::array::<u8>(bytes.len() + 1).expect("size"));
        };
        // SAFETY: `p` is a fresh allocation of len + 1 bytes (not NULL: checked above), so it cannot
        // overlap `bytes`; the copy fills [0, len) and the NUL goes at index len, the last byte.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
        CText { ptr, len: bytes.len() }
    }

    /// Gives the string to the host, which frees it with `pyrt_string_free` (`free`).
    pub fn into_raw(self) -> *mut c_char {
        let p = self.ptr.as_ptr();
        std::mem::forget(self);
        p
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is this CText's own malloc'd block of len + 1 initialized bytes (written by
        // `from_bytes_unchecked`), freed only by Drop, so it outlives the `&self` borrow.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast_const().cast::<u8>(), self.len) }
    }

    pub fn as_c_str(&self) -> &CStr {
        // SAFETY: as in `as_bytes`, with the terminating NUL (len + 1 bytes, all initialized).
        let with_nul = unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast_const().cast::<u8>(), self.len + 1) };
        // Checked, not `_unchecked`: `from_bytes_unchecked` is a safe function, so an interior NUL
        // must not make this UB; the string then ends there, as C would read it.
        CStr::from_bytes_until_nul(with_nul).expect("the last byte is NUL")
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
        // SAFETY: per the contract `p` came from `into_raw`, i.e. from `malloc` in
        // `from_bytes_unchecked`, and nothing frees it after this.
        unsafe { libc::free(p.cast()) };
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
        // SAFETY: `ptr` came from `malloc` and is owned by this CText alone (`into_raw` forgets
        // `self`, so a string given away is never freed here).
        unsafe { libc::free(self.ptr.as_ptr().cast()) };
    }
}

impl std::fmt::Debug for CText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_c_str().fmt(f)
    }
}
