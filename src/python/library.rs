//! What a libpython file is, read from the file without loading it: the version its name gives,
//! whether it is a free-threaded build, and whether it exports every symbol pyrt needs.
//!
//! Discovery and the loader run the same [`check`], so discovery never reports as accepted a
//! library that `pyrt_new` would refuse, and a refused library is never opened (opening and
//! closing an unused libpython was seen to crash later Python code on the probing thread: its
//! thread-local storage outlives the `dlclose`).

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::ffi::Api;
use crate::error::{Error, ErrorKind, Result};

/// The oldest supported minor version of CPython 3. There is no newest: a newer library is
/// accepted when it exports what pyrt needs, and reported as untested.
pub const MIN_MINOR: u32 = 8;
/// The newest minor version the test suite runs against; newer ones are accepted untested.
pub const NEWEST_TESTED_MINOR: u32 = 14;
/// The supported range as the messages say it.
pub const SUPPORTED: &str = "CPython 3.8 and later (free-threaded builds included)";

/// A symbol only free-threaded builds export (the shared half of biased reference counting).
const FREE_THREADED_MARKER: &str = "_Py_DecRefShared";
/// PEP 741's entry point: present from 3.14 on; pyrt then starts through it (init.rs).
pub const PEP741_MARKER: &str = "PyInitConfig_Create";

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// From the file name (`libpython3.14t.so.1.0` → 3, 14, free-threaded); `None` when the
    /// name does not tell (the loader then asks `Py_GetVersion()`).
    pub version: Option<(u32, u32)>,
    pub free_threaded: bool,
    /// The file starts through PEP 741 (it exports `PyInitConfig_Create`).
    pub pep741: bool,
}

/// `(major, minor, free_threaded)` from a library file name such as `libpython3.12.so.1.0` or
/// `libpython3.13t.so`; `None` for names that carry no minor version (`libpython3.so`).
pub fn version_from_file_name(path: &Path) -> Option<(u32, u32, bool)> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("libpython")?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let flags: String = rest[minor.len()..].chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    Some((major.parse().ok()?, minor.parse().ok()?, flags.contains('t')))
}

/// Refuses a version pyrt cannot run: Python 2, 3.0-3.7.
pub fn check_version(major: u32, minor: u32, shown: &str) -> std::result::Result<(), String> {
    if major != 3 || minor < MIN_MINOR {
        return Err(format!("Python {shown} is not supported; pyrt supports {SUPPORTED}"));
    }
    Ok(())
}

/// Every symbol a library of this kind must export: the mandatory table of `ffi.rs`, plus the
/// initialization API it will be started through.
pub fn required_symbols(pep741: bool) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Api::MANDATORY.to_vec();
    if pep741 {
        v.extend_from_slice(&super::init::PEP741_SYMBOLS);
    } else {
        v.extend_from_slice(&super::init::PEP587_SYMBOLS);
    }
    v
}

/// Checks a library file: a supported version (when the name tells it), every required symbol
/// exported (when the file is an ELF shared object pyrt can read; otherwise the loader's `dlsym`
/// decides). The error names the first missing symbol.
pub fn check(path: &Path) -> Result<Facts> {
    let invalid = |why: String| Error::new(ErrorKind::LibpythonInvalid, format!("{}: {why}", path.display()));
    let named = version_from_file_name(path);
    if let Some((major, minor, t)) = named {
        check_version(major, minor, &format!("{major}.{minor}{}", if t { "t" } else { "" })).map_err(invalid)?;
    }
    let symbols = match exported_symbols(path) {
        Ok(s) => s,
        // Not an ELF file pyrt can read (or another byte order): dlopen will tell.
        Err(_) => return Ok(Facts { version: named.map(|(a, b, _)| (a, b)), free_threaded: named.is_some_and(|n| n.2), pep741: false }),
    };
    if !symbols.contains("Py_GetVersion") {
        return Err(invalid("not a libpython (no Py_GetVersion symbol)".into()));
    }
    let pep741 = symbols.contains(PEP741_MARKER);
    let free_threaded = named.is_some_and(|n| n.2) || symbols.contains(FREE_THREADED_MARKER);
    if let Some((_, minor, _)) = named {
        if minor > 13 && !pep741 {
            return Err(invalid(format!("Python 3.{minor} lacks the required symbol {PEP741_MARKER} (PEP 741 initialization)")));
        }
    }
    if let Some(missing) = required_symbols(pep741).into_iter().find(|s| !symbols.contains(*s)) {
        let shown = named.map_or_else(|| "this library".to_string(), |(a, b, t)| format!("Python {a}.{b}{}", if t { "t" } else { "" }));
        return Err(invalid(format!("{shown} lacks the required symbol {missing}")));
    }
    Ok(Facts { version: named.map(|(a, b, _)| (a, b)), free_threaded, pep741 })
}

/// The names of the functions and data a shared object defines (its `.dynsym`), read with a
/// few positioned reads: the ELF header, the section headers, the symbol and string tables.
/// Only little-endian ELF64 (x86-64, aarch64: every platform pyrt ships for).
pub fn exported_symbols(path: &Path) -> std::io::Result<HashSet<String>> {
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    let read = |off: u64, n: u64| -> std::io::Result<Vec<u8>> {
        if off.checked_add(n).is_none_or(|end| end > len) || n > (64 << 20) {
            return Err(bad("section outside the file"));
        }
        let mut buf = vec![0u8; n as usize];
        f.read_exact_at(&mut buf, off)?;
        Ok(buf)
    };
    let h = read(0, 64)?;
    if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
        return Err(bad("not a little-endian ELF64 file"));
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes")) as u64;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let (shoff, shentsize, shnum) = (u64_at(&h, 0x28), u16_at(&h, 0x3a), u16_at(&h, 0x3c));
    if shentsize < 64 || shnum == 0 {
        return Err(bad("no section headers"));
    }
    let sh = read(shoff, shentsize * shnum)?;
    let section = |i: u64| -> (u64, u64, u64, u64) {
        let b = &sh[(i * shentsize) as usize..];
        // sh_type, sh_offset, sh_size, sh_link
        (u32_at(b, 4), u64_at(b, 0x18), u64_at(b, 0x20), u32_at(b, 0x28))
    };
    const SHT_DYNSYM: u64 = 11;
    let dynsym = (0..shnum).map(section).find(|s| s.0 == SHT_DYNSYM).ok_or_else(|| bad("no .dynsym"))?;
    if dynsym.3 >= shnum {
        return Err(bad("bad .dynsym link"));
    }
    let strtab = section(dynsym.3);
    let syms = read(dynsym.1, dynsym.2)?;
    let strs = read(strtab.1, strtab.2)?;
    let mut out = HashSet::with_capacity(syms.len() / 24);
    for s in syms.chunks_exact(24) {
        let (name, shndx) = (u32_at(s, 0) as usize, u16_at(s, 6));
        if shndx == 0 || name >= strs.len() {
            continue; // undefined: imported, not exported
        }
        let end = strs[name..].iter().position(|&c| c == 0).map_or(strs.len(), |p| name + p);
        if let Ok(n) = std::str::from_utf8(&strs[name..end]) {
            out.insert(n.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(version_from_file_name(Path::new("/x/libpython3.12.so.1.0")), Some((3, 12, false)));
        assert_eq!(version_from_file_name(Path::new("libpython3.13t.so")), Some((3, 13, true)));
        assert_eq!(version_from_file_name(Path::new("libpython3.6m.so.1.0")), Some((3, 6, false)));
        assert_eq!(version_from_file_name(Path::new("libpython3.15.so")), Some((3, 15, false)));
        assert_eq!(version_from_file_name(Path::new("libpython3.so")), None);
        assert_eq!(version_from_file_name(Path::new("libc.so.6")), None);
    }

    #[test]
    fn versions() {
        assert!(check_version(3, 7, "3.7").is_err());
        assert!(check_version(2, 7, "2.7").is_err());
        assert!(check_version(3, 8, "3.8").is_ok());
        assert!(check_version(3, 16, "3.16").is_ok());
    }

    #[test]
    fn libc_is_not_a_libpython() {
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"].into_iter().find(|p| Path::new(p).exists());
        if let Some(libc) = libc {
            let syms = exported_symbols(Path::new(libc)).expect("libc is ELF");
            assert!(syms.contains("malloc"));
            let e = check(Path::new(libc)).unwrap_err();
            assert!(e.message.contains("Py_GetVersion"), "{}", e.message);
        }
    }
}
