//! Writing JSON text: string escaping and float formatting shared by every converter.

/// Appends `s` as a JSON string literal. Non-ASCII text is written as UTF-8; control characters
/// are escaped, so the output never contains a NUL byte.
pub fn string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escape: find the first byte that does, 8 bytes at a time.
    let clean = clean_prefix(bytes);
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if clean == bytes.len() {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[run..i]);
                out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
                run = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(esc);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// The length of the longest prefix of `b` without `"`, `\\` or a control character (the
/// bytes JSON must escape). SWAR: eight bytes per step.
#[inline]
pub fn clean_prefix(b: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        // A byte < 0x20: (w & 0xe0e0...) has a zero byte there; '"' and '\\' by equality.
        let ctrl = has_zero(w & 0xe0e0_e0e0_e0e0_e0e0);
        let quote = has_zero(w ^ (LO * u64::from(b'"')));
        let backslash = has_zero(w ^ (LO * u64::from(b'\\')));
        let hit = ctrl | quote | backslash;
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] >= 0x20 && b[i] != b'"' && b[i] != b'\\' {
        i += 1;
    }
    i
}

/// Appends a finite float in its shortest round-trip form (`4.0`, `0.1`, `1e300`).
/// Returns false for NaN and infinities, which JSON cannot carry.
pub fn float(out: &mut Vec<u8>, v: f64) -> bool {
    if !v.is_finite() {
        return false;
    }
    // Integral values (counts, ids, 4.0) are the common case: print the digits and `.0`.
    // (`v as i64` saturates, so the round trip test also rejects anything beyond i64; no libm
    // call as `fract()` would make.)
    if v.abs() < 1e15 && (v as i64) as f64 == v && !(v == 0.0 && v.is_sign_negative()) {
        integer(out, v as i64);
        out.extend_from_slice(b".0");
        return true;
    }
    // ryu prints the shortest representation that round-trips, always with a `.0` or an
    // exponent (so the value reads back as a float, never an int), several times faster than
    // `core::fmt` on this per-call path.
    out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    true
}

/// Appends a decimal integer.
pub fn integer(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        let mut o = Vec::new();
        string(&mut o, x);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn escapes() {
        assert_eq!(s("plain"), "\"plain\"");
        assert_eq!(s("a\"b\\c\nd\u{1}é"), "\"a\\\"b\\\\c\\nd\\u0001é\"");
        assert_eq!(s("\0"), "\"\\u0000\"");
    }

    #[test]
    fn clean_prefixes() {
        for (text, want) in [
            ("", 0),
            ("abc", 3),
            ("abcdefghij", 10),
            ("abcdefgh\"ij", 8),
            ("a\\", 1),
            ("0123456789\n", 10),
            ("\u{1}", 0),
            ("héllo wörld, fine", 19),
        ] {
            assert_eq!(clean_prefix(text.as_bytes()), want, "{text:?}");
        }
        // Every position and every byte that needs escaping.
        for bad in (0u8..0x20).chain([b'"', b'\\']) {
            for pos in 0..20 {
                let mut v = vec![b'x'; 20];
                v[pos] = bad;
                assert_eq!(clean_prefix(&v), pos);
            }
        }
    }

    #[test]
    fn floats_round_trip() {
        for v in
            [4.0, -3.0, 0.0, 1e14, 999999999999999.0, 1e15, 0.1, 1e300, -0.0, 1.5e-7, 123456789.125, f64::MAX, f64::MIN_POSITIVE, 5e-324]
        {
            let mut o = Vec::new();
            assert!(float(&mut o, v));
            let text = String::from_utf8(o).unwrap();
            assert!(text.contains('.') || text.contains('e'), "{text}");
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{text}");
        }
        let mut o = Vec::new();
        integer(&mut o, i64::MIN);
        assert_eq!(o, i64::MIN.to_string().as_bytes());
        assert!(!float(&mut Vec::new(), f64::NAN));
        assert!(!float(&mut Vec::new(), f64::INFINITY));
    }
}
