//! Writing JSON text: string escaping and float formatting shared by every converter.

/// Appends `s` as a JSON string literal. Non-ASCII text is written as UTF-8; control characters
/// are escaped, so the output never contains a NUL byte.
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
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
    fn floats_round_trip() {
        for v in [4.0, -3.0, 0.0, 1e14, 999999999999999.0, 1e15, 0.1, 1e300, -0.0, 1.5e-7, 123456789.125, f64::MAX, f64::MIN_POSITIVE, 5e-324] {
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
