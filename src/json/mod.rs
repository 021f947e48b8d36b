//! JSON text <-> values without an intermediate tree.
//!
//! The parser is iterative (an explicit stack, so a hostile 100,000-deep input is an error, not a
//! stack overflow) and hands every value straight to a [`Builder`] — the Python builder creates
//! Python objects directly, which is what makes a JSON call cheap (measured: 35× cheaper than
//! going through Python's `json` module). Integers are passed on as their decimal text so
//! arbitrarily large ones stay exact.

pub mod write;

/// Deepest nesting accepted in either direction.
pub const MAX_DEPTH: usize = 1000;

/// Receives parsed values. `Value` owns whatever it represents (dropping it releases it).
pub trait Builder {
    type Value;
    fn null(&mut self) -> Result<Self::Value, String>;
    fn boolean(&mut self, v: bool) -> Result<Self::Value, String>;
    /// `text` is `-?digits` of any length.
    fn integer(&mut self, text: &str) -> Result<Self::Value, String>;
    /// An integer of at most 18 digits, already parsed (`text` is its source).
    fn small_integer(&mut self, v: i64, text: &str) -> Result<Self::Value, String> {
        let _ = v;
        self.integer(text)
    }
    fn float(&mut self, v: f64) -> Result<Self::Value, String>;
    fn string(&mut self, v: &str) -> Result<Self::Value, String>;
    /// An object key (a builder may reuse the value made for an equal key earlier).
    fn key(&mut self, v: &str) -> Result<Self::Value, String> {
        self.string(v)
    }
    fn new_array(&mut self) -> Result<Self::Value, String>;
    fn array_push(&mut self, array: &mut Self::Value, item: Self::Value) -> Result<(), String>;
    fn new_object(&mut self) -> Result<Self::Value, String>;
    fn object_insert(&mut self, object: &mut Self::Value, key: Self::Value, value: Self::Value) -> Result<(), String>;
    /// Called when an object is complete (a tagged value may then become something else).
    fn end_object(&mut self, object: Self::Value) -> Result<Self::Value, String> {
        Ok(object)
    }
}

/// Why a parse failed: a syntax error at a byte offset, or the builder refused a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Syntax {
        offset: usize,
        message: String,
    },
    /// The text is not valid UTF-8.
    Utf8 {
        offset: usize,
    },
    Builder(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Syntax { offset, message } => write!(f, "{message} at byte {offset}"),
            ParseError::Utf8 { offset } => write!(f, "invalid UTF-8 at byte {offset}"),
            ParseError::Builder(m) => f.write_str(m),
        }
    }
}

enum Frame<V> {
    Array(V),
    Object(V, Option<V>),
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    scratch: String,
}

/// `bytes[start..end]` as text; the parser only ends slices at ASCII bytes, so a failure means
/// invalid UTF-8 inside them.
fn utf8(bytes: &[u8], start: usize, end: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(&bytes[start..end]).map_err(|e| ParseError::Utf8 { offset: start + e.valid_up_to() })
}

/// Powers of ten exactly representable as f64 (Clinger's fast path).
pub(crate) const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

impl<'a> Parser<'a> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::Syntax { offset: self.pos, message: message.into() })
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn expect_literal(&mut self, lit: &str) -> Result<(), ParseError> {
        if self.bytes[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    /// Parses a string starting at the opening quote; returns the decoded text.
    fn string(&mut self) -> Result<&str, ParseError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes, borrow straight from the input (scanned 8 bytes at a time).
        self.pos += write::clean_prefix(&self.bytes[start..]);
        match self.bytes.get(self.pos) {
            None => return self.err("unterminated string"),
            Some(b'"') => {
                let raw = &self.bytes[start..self.pos];
                let s = if raw.is_ascii() {
                    // SAFETY: ASCII is UTF-8.
                    unsafe { std::str::from_utf8_unchecked(raw) }
                } else {
                    utf8(self.bytes, start, self.pos)?
                };
                self.pos += 1;
                return Ok(s);
            }
            Some(b'\\') => {}
            Some(_) => return self.err("control character in string"),
        }
        self.scratch.clear();
        self.scratch.push_str(utf8(self.bytes, start, self.pos)?);
        loop {
            match self.bytes.get(self.pos) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(&self.scratch);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.bytes.get(self.pos) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.bytes[self.pos..].starts_with(b"\\u") {
                                    return self.err("unpaired surrogate in \\u escape");
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("unpaired surrogate in \\u escape");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return self.err("unpaired surrogate in \\u escape");
                            } else {
                                hi
                            };
                            self.scratch.push(char::from_u32(code).expect("valid scalar"));
                            continue;
                        }
                        _ => return self.err("invalid escape"),
                    };
                    self.scratch.push(c);
                    self.pos += 1;
                }
                Some(&b) if b < 0x20 => return self.err("control character in string"),
                Some(_) => {
                    // Copy a run of ordinary bytes (UTF-8 boundaries are preserved: we stop only
                    // at ASCII bytes).
                    let run = self.pos;
                    while let Some(&b) = self.bytes.get(self.pos) {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    let piece = utf8(self.bytes, run, self.pos)?;
                    self.scratch.push_str(piece);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self.bytes.get(self.pos..self.pos + 4).filter(|d| d.iter().all(|b| b.is_ascii_hexdigit()));
        match digits {
            Some(d) => {
                self.pos += 4;
                let d = std::str::from_utf8(d).expect("ASCII hex digits");
                Ok(u32::from_str_radix(d, 16).expect("hex digits"))
            }
            None => self.err("invalid \\u escape"),
        }
    }

    fn number<B: Builder>(&mut self, b: &mut B) -> Result<B::Value, ParseError> {
        let (n, end) = scan_number(self.bytes, self.pos)?;
        self.pos = end;
        match n {
            Number::Small(v, text) => b.small_integer(v, text),
            Number::Big(text) => b.integer(text),
            Number::Float(v) => b.float(v),
        }
        .map_err(ParseError::Builder)
    }
}

/// A JSON number, as [`scan_number`] read it.
pub enum Number<'a> {
    /// An integer of at most 18 digits (and its text).
    Small(i64, &'a str),
    /// A longer integer: its text (`-?digits`).
    Big(&'a str),
    Float(f64),
}

/// Reads the JSON number that starts at `bytes[start]`; returns it and the offset after it.
#[inline]
pub fn scan_number(bytes: &[u8], start: usize) -> Result<(Number<'_>, usize), ParseError> {
    let mut pos = start;
    let err = |pos: usize, message: &str| Err(ParseError::Syntax { offset: pos, message: message.into() });
    let negative = bytes.get(pos) == Some(&b'-');
    if negative {
        pos += 1;
    }
    // The digits accumulate as they are checked (exact up to 19 digits).
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    match bytes.get(pos) {
        Some(b'0') => {
            pos += 1;
            digits = 1;
        }
        Some(c) if c.is_ascii_digit() => {
            while let Some(&c) = bytes.get(pos).filter(|c| c.is_ascii_digit()) {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                digits += 1;
                pos += 1;
            }
        }
        _ => return err(pos, "invalid number"),
    }
    let mut is_float = false;
    let mut fraction = 0usize;
    if bytes.get(pos) == Some(&b'.') {
        is_float = true;
        pos += 1;
        if !bytes.get(pos).is_some_and(|c| c.is_ascii_digit()) {
            return err(pos, "invalid number: digit expected after '.'");
        }
        while let Some(&c) = bytes.get(pos).filter(|c| c.is_ascii_digit()) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            digits += 1;
            fraction += 1;
            pos += 1;
        }
    }
    let mut exponent = false;
    if matches!(bytes.get(pos), Some(b'e') | Some(b'E')) {
        is_float = true;
        exponent = true;
        pos += 1;
        if matches!(bytes.get(pos), Some(b'+') | Some(b'-')) {
            pos += 1;
        }
        if !bytes.get(pos).is_some_and(|c| c.is_ascii_digit()) {
            return err(pos, "invalid number: digit expected in exponent");
        }
        while bytes.get(pos).is_some_and(|c| c.is_ascii_digit()) {
            pos += 1;
        }
    }
    // SAFETY: the bytes just scanned are ASCII digits, signs, '.', 'e' and 'E'.
    let text = unsafe { std::str::from_utf8_unchecked(&bytes[start..pos]) };
    let n = if is_float {
        // Clinger's fast path: an integer mantissa below 2^53 divided by an exact power of
        // ten is correctly rounded, as Python's float() is. Anything else: Rust's parser,
        // which rounds correctly too.
        if !exponent && digits <= 15 && fraction < POW10.len() {
            let v = mantissa as f64 / POW10[fraction];
            Number::Float(if negative { -v } else { v })
        } else {
            match text.parse() {
                Ok(v) => Number::Float(v),
                Err(_) => return err(start, "invalid number"),
            }
        }
    } else if digits <= 18 {
        let v = mantissa as i64;
        Number::Small(if negative { -v } else { v }, text)
    } else {
        Number::Big(text)
    };
    Ok((n, pos))
}

/// Parses one JSON document into a value built by `b`.
#[cfg(test)]
pub fn parse<B: Builder>(text: &str, b: &mut B) -> Result<B::Value, ParseError> {
    parse_bytes(text.as_bytes(), b)
}

/// Parses one JSON document given as bytes: only the text inside strings may be non-ASCII, and
/// it is checked to be UTF-8 there (`ParseError::Utf8`), so a caller need not validate first.
pub fn parse_bytes<B: Builder>(bytes: &[u8], b: &mut B) -> Result<B::Value, ParseError> {
    parse_inner(bytes, b).map_err(|e| match e {
        // A stray non-ASCII byte outside a string is a UTF-8 problem when the text is not UTF-8.
        ParseError::Syntax { .. } if std::str::from_utf8(bytes).is_err() => {
            ParseError::Utf8 { offset: std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to()) }
        }
        e => e,
    })
}

/// A stack that holds a few frames inline (calls are usually one or two levels deep), so a
/// typical parse does not allocate for it.
struct Stack<T> {
    inline: [Option<T>; 4],
    len: usize,
    spill: Vec<T>,
}

impl<T> Stack<T> {
    fn new() -> Self {
        Stack { inline: [None, None, None, None], len: 0, spill: Vec::new() }
    }
    #[inline]
    fn len(&self) -> usize {
        self.len + self.spill.len()
    }
    #[inline]
    fn push(&mut self, v: T) {
        if self.len < self.inline.len() && self.spill.is_empty() {
            self.inline[self.len] = Some(v);
            self.len += 1;
        } else {
            self.spill.push(v);
        }
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        if let Some(v) = self.spill.pop() {
            return Some(v);
        }
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.inline[self.len].take()
    }
    #[inline]
    fn last_mut(&mut self) -> Option<&mut T> {
        if !self.spill.is_empty() {
            return self.spill.last_mut();
        }
        if self.len == 0 {
            return None;
        }
        self.inline[self.len - 1].as_mut()
    }
}

fn parse_inner<B: Builder>(bytes: &[u8], b: &mut B) -> Result<B::Value, ParseError> {
    let mut p = Parser { bytes, pos: 0, scratch: String::new() };
    let mut stack: Stack<Frame<B::Value>> = Stack::new();
    let be = ParseError::Builder;

    p.skip_ws();
    'value: loop {
        // Parse one value (or open a container).
        let mut value = match p.bytes.get(p.pos) {
            None => return p.err("unexpected end of input"),
            Some(b'{') | Some(b'[') => {
                if stack.len() >= MAX_DEPTH {
                    return p.err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
                }
                let is_array = p.bytes[p.pos] == b'[';
                p.pos += 1;
                p.skip_ws();
                if is_array {
                    let arr = b.new_array().map_err(be)?;
                    if p.bytes.get(p.pos) == Some(&b']') {
                        p.pos += 1;
                        arr
                    } else {
                        stack.push(Frame::Array(arr));
                        continue 'value;
                    }
                } else {
                    let obj = b.new_object().map_err(be)?;
                    match p.bytes.get(p.pos) {
                        Some(b'}') => {
                            p.pos += 1;
                            b.end_object(obj).map_err(be)?
                        }
                        Some(b'"') => {
                            let key = p.string()?;
                            let key = b.key(key).map_err(be)?;
                            p.skip_ws();
                            if p.bytes.get(p.pos) != Some(&b':') {
                                return p.err("expected ':'");
                            }
                            p.pos += 1;
                            p.skip_ws();
                            stack.push(Frame::Object(obj, Some(key)));
                            continue 'value;
                        }
                        _ => return p.err("expected a string key or '}'"),
                    }
                }
            }
            Some(b'"') => {
                let s = p.string()?;
                b.string(s).map_err(be)?
            }
            Some(b'n') => {
                p.expect_literal("null")?;
                b.null().map_err(be)?
            }
            Some(b't') => {
                p.expect_literal("true")?;
                b.boolean(true).map_err(be)?
            }
            Some(b'f') => {
                p.expect_literal("false")?;
                b.boolean(false).map_err(be)?
            }
            Some(b'-') | Some(b'0'..=b'9') => p.number(b)?,
            Some(_) => return p.err("unexpected character"),
        };

        // Attach the finished value to its parent, closing every container that ends here.
        loop {
            p.skip_ws();
            match stack.last_mut() {
                None => {
                    if p.pos != p.bytes.len() {
                        return p.err("trailing characters after the JSON value");
                    }
                    return Ok(value);
                }
                Some(Frame::Array(arr)) => {
                    b.array_push(arr, value).map_err(be)?;
                    match p.bytes.get(p.pos) {
                        Some(b',') => {
                            p.pos += 1;
                            p.skip_ws();
                            continue 'value;
                        }
                        Some(b']') => {
                            p.pos += 1;
                            value = match stack.pop() {
                                Some(Frame::Array(a)) => a,
                                _ => unreachable!(),
                            };
                        }
                        _ => return p.err("expected ',' or ']'"),
                    }
                }
                Some(Frame::Object(obj, key)) => {
                    let k = key.take().expect("a key precedes every object value");
                    b.object_insert(obj, k, value).map_err(be)?;
                    match p.bytes.get(p.pos) {
                        Some(b',') => {
                            p.pos += 1;
                            p.skip_ws();
                            if p.bytes.get(p.pos) != Some(&b'"') {
                                return p.err("expected a string key");
                            }
                            let k = p.string()?;
                            let k = b.key(k).map_err(be)?;
                            p.skip_ws();
                            if p.bytes.get(p.pos) != Some(&b':') {
                                return p.err("expected ':'");
                            }
                            p.pos += 1;
                            p.skip_ws();
                            *key = Some(k);
                            continue 'value;
                        }
                        Some(b'}') => {
                            p.pos += 1;
                            value = match stack.pop() {
                                Some(Frame::Object(o, _)) => b.end_object(o).map_err(be)?,
                                _ => unreachable!(),
                            };
                        }
                        _ => return p.err("expected ',' or '}'"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a canonical text form, so the tests check what the parser hands over.
    struct Echo;
    impl Builder for Echo {
        type Value = String;
        fn null(&mut self) -> Result<String, String> {
            Ok("null".into())
        }
        fn boolean(&mut self, v: bool) -> Result<String, String> {
            Ok(v.to_string())
        }
        fn integer(&mut self, t: &str) -> Result<String, String> {
            Ok(format!("i{t}"))
        }
        fn float(&mut self, v: f64) -> Result<String, String> {
            Ok(format!("f{v:?}"))
        }
        fn string(&mut self, v: &str) -> Result<String, String> {
            Ok(format!("{v:?}"))
        }
        fn new_array(&mut self) -> Result<String, String> {
            Ok("[".into())
        }
        fn array_push(&mut self, a: &mut String, i: String) -> Result<(), String> {
            if a.len() > 1 {
                a.push(',');
            }
            a.push_str(&i);
            Ok(())
        }
        fn new_object(&mut self) -> Result<String, String> {
            Ok("{".into())
        }
        fn object_insert(&mut self, o: &mut String, k: String, v: String) -> Result<(), String> {
            if o.len() > 1 {
                o.push(',');
            }
            o.push_str(&format!("{k}:{v}"));
            Ok(())
        }
    }

    fn echo(t: &str) -> Result<String, ParseError> {
        parse(t, &mut Echo)
    }

    #[test]
    fn scalars() {
        assert_eq!(echo("null").unwrap(), "null");
        assert_eq!(echo(" true ").unwrap(), "true");
        assert_eq!(echo("-12").unwrap(), "i-12");
        assert_eq!(echo("123456789012345678901234567890").unwrap(), "i123456789012345678901234567890");
        assert_eq!(echo("16.0").unwrap(), "f16.0");
        assert_eq!(echo("1e2").unwrap(), "f100.0");
        assert_eq!(echo("0.1").unwrap(), "f0.1");
        assert_eq!(echo(r#""a\n\u00e9\ud83d\ude00""#).unwrap(), "\"a\\né😀\"");
    }

    #[test]
    fn containers() {
        assert_eq!(echo("[1, [2, []], {}]").unwrap(), "[i1,[i2,[,{");
        assert_eq!(echo(r#"{"a": [true], "b": {"c": null}}"#).unwrap(), r#"{"a":[true,"b":{"c":null"#);
    }

    #[test]
    fn errors() {
        for bad in
            ["", "[", "[1,]", "{\"a\" 1}", "01", "1.", "-", "nul", "\"\\x\"", "[1] 2", "\"a", "{1:2}", "NaN", "\"\u{1}\"", "\"\\ud800\""]
        {
            assert!(echo(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn depth_limit_is_an_error() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let e = echo(&deep).unwrap_err();
        assert!(e.to_string().contains("deeper"), "{e}");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(echo(&ok).is_ok());
    }
}
