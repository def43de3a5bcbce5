//! The JSON reader behind the engine decoders: a pull reader over borrowed bytes, the error type,
//! a string that borrows from the input when it can, a "string or anything else" value for lenient
//! decoding, and UTF-8-safe truncation.
//!
//! [`JsonReader`] walks one complete document held in memory. The decoder asks for what it expects
//! next ([`JsonReader::peek`], [`JsonReader::begin_object`] + [`JsonReader::next_key`],
//! [`JsonReader::begin_array`] + [`JsonReader::next_element`], [`JsonReader::string`],
//! [`JsonReader::i64`], [`JsonReader::skip_value`], [`JsonReader::end`]) and gets a
//! [`DocError`] as soon as the bytes say otherwise. Contract:
//!
//! - **No recursion, bounded descent.** Objects and arrays a decoder descends into count towards a
//!   depth of [`MAX_DEPTH`] (128, as serde_json had); deeper is [`DocError::Syntax`]. Values the
//!   decoder does not want are skipped by a loop with no depth limit: the bracket kinds of the
//!   first 128 levels are kept in a `u128`, deeper ones in a bit vector that grows only for such
//!   input (one bit per level), so label maps never allocate and junk nested 200,000 deep is fine.
//! - **Errors classify as serde_json did**: the input ends early → [`DocError::Truncated`]; a
//!   value of another type where a decoder wants a string, integer or object →
//!   [`DocError::WrongType`] (a scalar in that place is read first, so a broken one is still
//!   `Syntax`); an integer out of its type's range or with a fraction or exponent → `WrongType`;
//!   anything else (bad token, escape, control character, invalid UTF-8, a number beyond `f64`'s
//!   range in a value that is read, trailing data) → [`DocError::Syntax`].
//! - **Strings** are unescaped (`\uXXXX` with surrogate pairs; a lone surrogate is `Syntax`) and
//!   borrowed from the input when they hold no escape. Skipped strings are checked for their
//!   escapes and control characters only, as serde_json did.
//! - **Nothing panics**: every index is checked and the position only moves forward within the input.

use std::borrow::Cow;
use std::fmt;

pub(crate) use crate::container::truncate_utf8;

/// Deepest nesting of objects and arrays a decoder may descend into.
pub(crate) const MAX_DEPTH: usize = 128;

/// Why an engine document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocError {
    /// Not JSON: bad syntax, invalid UTF-8 or escape, trailing data, or nesting beyond 128 levels
    /// in the values the decoder reads.
    Syntax,
    /// The JSON ends early.
    Truncated,
    /// Valid JSON of the wrong shape: a field of the wrong type, a number out of its type's range,
    /// a duplicated field.
    WrongType,
    /// No container id where one is required.
    MissingId,
    /// The container id is not 64 lower-case hex digits.
    BadId,
    /// An event has neither `Action` nor `status`.
    MissingAction,
    /// `State.Pid` is negative.
    NegativePid,
    /// `State.Pid` is larger than any Linux pid.
    PidOutOfRange,
    /// A field with meaning (not just a display name) is longer than its bound.
    TooLong,
}

impl DocError {
    /// A static description of the error.
    pub const fn message(self) -> &'static str {
        match self {
            DocError::Syntax => "engine document is not valid JSON",
            DocError::Truncated => "engine document ends early",
            DocError::WrongType => "engine document has a field of the wrong type",
            DocError::MissingId => "engine document has no container id",
            DocError::BadId => "engine document has a malformed container id",
            DocError::MissingAction => "engine event has no action",
            DocError::NegativePid => "engine document has a negative pid",
            DocError::PidOutOfRange => "engine document has a pid out of range",
            DocError::TooLong => "engine document has a field longer than its bound",
        }
    }
}

impl fmt::Display for DocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for DocError {}

/// A JSON string, borrowed from the input when it has no escapes (the common case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Any JSON value, kept only when it is a string: for decoders that skip a malformed element instead
/// of failing the whole document. Arrays and objects are drained without being stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Loose<'a> {
    /// `null`.
    Null,
    /// A string.
    Str(Text<'a>),
    /// Anything else: a number, a boolean, an array or an object.
    Other,
}

/// The kind of the next value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// A number as read: an integer when it has no fraction or exponent and fits 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Number {
    /// Magnitude and sign.
    Integer { negative: bool, magnitude: u64 },
    /// A fraction, an exponent or an integer too long for 64 bits, within `f64`'s range.
    Float,
}

/// Open brackets of a value being skipped: one bit per level (set = object).
struct BracketStack {
    low: u128,
    spill: Vec<u64>,
    depth: usize,
}

impl BracketStack {
    fn new() -> Self {
        BracketStack {
            low: 0,
            spill: Vec::new(),
            depth: 0,
        }
    }

    fn push(&mut self, object: bool) {
        let level = self.depth;
        if level < 128 {
            let bit = 1u128 << level;
            self.low = if object {
                self.low | bit
            } else {
                self.low & !bit
            };
        } else {
            let index = (level - 128) / 64;
            if index >= self.spill.len() {
                self.spill.push(0);
            }
            if let Some(word) = self.spill.get_mut(index) {
                let bit = 1u64 << ((level - 128) % 64);
                *word = if object { *word | bit } else { *word & !bit };
            }
        }
        self.depth += 1;
    }

    /// Closes the innermost level; `None` when nothing is open.
    fn pop(&mut self) -> Option<bool> {
        let level = self.depth.checked_sub(1)?;
        self.depth = level;
        if level < 128 {
            Some(self.low & (1u128 << level) != 0)
        } else {
            let word = self.spill.get((level - 128) / 64).copied().unwrap_or(0);
            Some(word & (1u64 << ((level - 128) % 64)) != 0)
        }
    }
}

/// A pull reader over one whole JSON document (see the module docs for the contract).
pub(crate) struct JsonReader<'a> {
    input: &'a [u8],
    pos: usize,
    /// Objects and arrays descended into and not yet closed.
    depth: usize,
    /// The last token was `{` or `[`: the next key or element needs no comma.
    after_open: bool,
}

impl<'a> JsonReader<'a> {
    /// A reader at the start of `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        JsonReader {
            input,
            pos: 0,
            depth: 0,
            after_open: false,
        }
    }

    fn byte(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.byte() {
            self.pos += 1;
        }
    }

    /// The next byte after white space, not consumed; the end of input is `Truncated`.
    fn next_significant(&mut self) -> Result<u8, DocError> {
        self.skip_whitespace();
        self.byte().ok_or(DocError::Truncated)
    }

    /// Consumes `expected` after white space.
    fn expect(&mut self, expected: u8) -> Result<(), DocError> {
        if self.next_significant()? == expected {
            self.pos += 1;
            Ok(())
        } else {
            Err(DocError::Syntax)
        }
    }

    /// The kind of the next value (white space is skipped; nothing else is consumed).
    pub(crate) fn peek(&mut self) -> Result<Kind, DocError> {
        match self.next_significant()? {
            b'n' => Ok(Kind::Null),
            b't' | b'f' => Ok(Kind::Bool),
            b'-' | b'0'..=b'9' => Ok(Kind::Number),
            b'"' => Ok(Kind::String),
            b'[' => Ok(Kind::Array),
            b'{' => Ok(Kind::Object),
            _ => Err(DocError::Syntax),
        }
    }

    fn descend(&mut self, open: u8) -> Result<(), DocError> {
        self.expect(open)?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(DocError::Syntax);
        }
        self.after_open = true;
        Ok(())
    }

    /// Consumes `{`; then call [`Self::next_key`] until it gives `None`.
    pub(crate) fn begin_object(&mut self) -> Result<(), DocError> {
        self.descend(b'{')
    }

    /// Consumes `[`; then call [`Self::next_element`] until it gives `false`.
    pub(crate) fn begin_array(&mut self) -> Result<(), DocError> {
        self.descend(b'[')
    }

    /// The next key of the object being read, with its `:` consumed (the caller then reads or skips
    /// the value), or `None` once the closing `}` is consumed.
    pub(crate) fn next_key(&mut self) -> Result<Option<Text<'a>>, DocError> {
        let first = std::mem::replace(&mut self.after_open, false);
        match self.next_significant()? {
            b'}' => {
                self.pos += 1;
                self.depth = self.depth.saturating_sub(1);
                return Ok(None);
            }
            b',' if !first => {
                self.pos += 1;
                if self.next_significant()? != b'"' {
                    return Err(DocError::Syntax);
                }
            }
            b'"' if first => {}
            _ => return Err(DocError::Syntax),
        }
        let key = self.string()?;
        self.expect(b':')?;
        Ok(Some(key))
    }

    /// Whether the array being read has another element (the caller then reads or skips it);
    /// `false` once the closing `]` is consumed.
    pub(crate) fn next_element(&mut self) -> Result<bool, DocError> {
        let first = std::mem::replace(&mut self.after_open, false);
        match self.next_significant()? {
            b']' => {
                self.pos += 1;
                self.depth = self.depth.saturating_sub(1);
                Ok(false)
            }
            b',' if !first => {
                self.pos += 1;
                Ok(true)
            }
            _ if first => Ok(true),
            _ => Err(DocError::Syntax),
        }
    }

    /// Consumes a literal (`null`, `true`, `false`) whose first byte is next.
    fn literal(&mut self) -> Result<(), DocError> {
        let word: &[u8] = match self.byte() {
            Some(b'n') => b"null",
            Some(b't') => b"true",
            Some(b'f') => b"false",
            Some(_) => return Err(DocError::Syntax),
            None => return Err(DocError::Truncated),
        };
        for &expected in word {
            match self.byte() {
                Some(b) if b == expected => self.pos += 1,
                Some(_) => return Err(DocError::Syntax),
                None => return Err(DocError::Truncated),
            }
        }
        Ok(())
    }

    /// Consumes `null` (after white space).
    pub(crate) fn null(&mut self) -> Result<(), DocError> {
        self.skip_whitespace();
        self.after_open = false;
        self.literal()
    }

    /// Consumes the digits at the cursor (at least one), calling `each` with every digit. No digit
    /// at the end of input is `at_end`.
    fn digits(&mut self, at_end: DocError, mut each: impl FnMut(u8)) -> Result<(), DocError> {
        match self.byte() {
            Some(b @ b'0'..=b'9') => each(b - b'0'),
            Some(_) => return Err(DocError::Syntax),
            None => return Err(at_end),
        }
        self.pos += 1;
        while let Some(b @ b'0'..=b'9') = self.byte() {
            each(b - b'0');
            self.pos += 1;
        }
        Ok(())
    }

    /// Reads the number at the cursor. `range_check` (a number that is read, not skipped): a number
    /// beyond `f64`'s range is `Syntax`, and so is `-0` as an integer (serde_json made it a float).
    /// Without it, missing digits are `Syntax` even at the end of input, as serde_json's skipping
    /// said.
    fn number(&mut self, range_check: bool) -> Result<Number, DocError> {
        let at_end = if range_check {
            DocError::Truncated
        } else {
            DocError::Syntax
        };
        let negative = self.byte() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        // The integer part; a leading zero stands alone.
        let mut magnitude: u64 = 0;
        let mut fits = true;
        // Significant digits (after leading zeros): how many, and the first 17 of them.
        let mut significant: i64 = 0;
        let mut leading: u64 = 0;
        fn note(d: u8, significant: &mut i64, leading: &mut u64) {
            if *significant > 0 || d != 0 {
                if *significant < 17 {
                    *leading = *leading * 10 + u64::from(d);
                }
                *significant += 1;
            }
        }
        if self.byte() == Some(b'0') {
            self.pos += 1;
            if let Some(b'0'..=b'9') = self.byte() {
                return Err(DocError::Syntax);
            }
        } else {
            self.digits(at_end, |d| {
                match magnitude
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u64::from(d)))
                {
                    Some(m) => magnitude = m,
                    None => fits = false,
                }
                note(d, &mut significant, &mut leading);
            })?;
        }
        // Decimal exponent of the first significant digit, before any `e`.
        let mut point_exponent = significant - 1;
        let mut integer = true;
        if self.byte() == Some(b'.') {
            self.pos += 1;
            integer = false;
            let mut zeros: i64 = 0;
            self.digits(at_end, |d| {
                if significant == 0 && d == 0 {
                    zeros += 1;
                }
                note(d, &mut significant, &mut leading);
            })?;
            if point_exponent < 0 {
                point_exponent = -zeros - 1;
            }
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = self.byte() {
            self.pos += 1;
            integer = false;
            let negative_exponent = match self.byte() {
                Some(b'-') => true,
                Some(b'+') => false,
                _ => false,
            };
            if let Some(b'-' | b'+') = self.byte() {
                self.pos += 1;
            }
            self.digits(at_end, |d| {
                exponent = (exponent * 10 + i64::from(d)).min(1 << 40)
            })?;
            if negative_exponent {
                exponent = -exponent;
            }
        }
        if integer && fits && !(negative && magnitude == 0) {
            return Ok(Number::Integer {
                negative,
                magnitude,
            });
        }
        if range_check && significant > 0 {
            // f64's largest finite value is 1.7976931348623157e308.
            let mut scaled = leading;
            for _ in significant.min(17)..17 {
                scaled *= 10;
            }
            let decimal_exponent = point_exponent + exponent;
            if decimal_exponent > 308 || (decimal_exponent == 308 && scaled > 17976931348623157) {
                return Err(DocError::Syntax);
            }
        }
        Ok(Number::Float)
    }

    /// Consumes the next value, which should have been of another type, and returns the error to
    /// give: `WrongType`, unless the value is itself malformed (serde_json read such a scalar to
    /// name it in its message, so its error came first).
    pub(crate) fn wrong_type(&mut self) -> DocError {
        let result = match self.peek() {
            Ok(Kind::Null | Kind::Bool) => self.literal(),
            Ok(Kind::Number) => self.number(true).map(|_| ()),
            Ok(Kind::String) => self.string().map(|_| ()),
            Ok(Kind::Array | Kind::Object) => Ok(()),
            Err(e) => Err(e),
        };
        result.err().unwrap_or(DocError::WrongType)
    }

    /// Reads an integer into `i64`: a fraction, an exponent or a value out of range is `WrongType`;
    /// another type is [`Self::wrong_type`].
    pub(crate) fn i64(&mut self) -> Result<i64, DocError> {
        if self.peek()? != Kind::Number {
            return Err(self.wrong_type());
        }
        self.after_open = false;
        match self.number(true)? {
            Number::Integer {
                negative: false,
                magnitude,
            } => i64::try_from(magnitude).map_err(|_| DocError::WrongType),
            Number::Integer {
                negative: true,
                magnitude,
            } => 0i64
                .checked_sub_unsigned(magnitude)
                .ok_or(DocError::WrongType),
            Number::Float => Err(DocError::WrongType),
        }
    }

    /// Reads a string (unescaped, borrowed when it has no escape); another type is
    /// [`Self::wrong_type`].
    pub(crate) fn string(&mut self) -> Result<Text<'a>, DocError> {
        if self.peek()? != Kind::String {
            return Err(self.wrong_type());
        }
        self.after_open = false;
        self.pos += 1; // the opening quote
        let start = self.pos;
        loop {
            match self.byte() {
                None => return Err(DocError::Truncated),
                Some(b'"') => break,
                Some(b'\\') => return self.escaped_string(start),
                Some(0..=0x1f) => return Err(DocError::Syntax),
                Some(_) => self.pos += 1,
            }
        }
        let raw = self.input.get(start..self.pos).unwrap_or(&[]);
        self.pos += 1; // the closing quote
        std::str::from_utf8(raw)
            .map(|s| Text(Cow::Borrowed(s)))
            .map_err(|_| DocError::Syntax)
    }

    /// The rest of a string from `start` (just after its opening quote), with the cursor on its
    /// first backslash: unescaped into an owned string.
    fn escaped_string(&mut self, start: usize) -> Result<Text<'a>, DocError> {
        let mut out = String::new();
        let mut segment = start;
        loop {
            match self.byte() {
                None => return Err(DocError::Truncated),
                Some(b'"') => {
                    self.push_segment(&mut out, segment)?;
                    self.pos += 1;
                    return Ok(Text(Cow::Owned(out)));
                }
                Some(b'\\') => {
                    self.push_segment(&mut out, segment)?;
                    self.pos += 1;
                    let c = self.escape()?;
                    out.push(c);
                    segment = self.pos;
                }
                Some(0..=0x1f) => return Err(DocError::Syntax),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Appends the raw bytes from `from` to the cursor, which must be UTF-8.
    fn push_segment(&self, out: &mut String, from: usize) -> Result<(), DocError> {
        let raw = self.input.get(from..self.pos).unwrap_or(&[]);
        out.push_str(std::str::from_utf8(raw).map_err(|_| DocError::Syntax)?);
        Ok(())
    }

    /// The character of the escape after a backslash (consumed), pairing surrogates.
    fn escape(&mut self) -> Result<char, DocError> {
        let c = match self.byte() {
            None => return Err(DocError::Truncated),
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
                let unit = self.hex4()?;
                return match unit {
                    0xd800..=0xdbff => {
                        for expected in [b'\\', b'u'] {
                            match self.byte() {
                                None => return Err(DocError::Truncated),
                                Some(b) if b == expected => self.pos += 1,
                                Some(_) => return Err(DocError::Syntax),
                            }
                        }
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(DocError::Syntax);
                        }
                        let code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                        char::from_u32(code).ok_or(DocError::Syntax)
                    }
                    _ => char::from_u32(unit).ok_or(DocError::Syntax),
                };
            }
            Some(_) => return Err(DocError::Syntax),
        };
        self.pos += 1;
        Ok(c)
    }

    /// Four hex digits (consumed).
    fn hex4(&mut self) -> Result<u32, DocError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = match self.byte() {
                None => return Err(DocError::Truncated),
                Some(b) => char::from(b).to_digit(16).ok_or(DocError::Syntax)?,
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    /// Consumes a string without keeping it: escapes and control characters are checked, UTF-8
    /// and surrogate pairing are not (serde_json skipped strings the same way).
    fn skip_string(&mut self) -> Result<(), DocError> {
        self.pos += 1; // the opening quote
        loop {
            match self.byte() {
                None => return Err(DocError::Truncated),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.byte() {
                        None => return Err(DocError::Truncated),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            self.hex4()?;
                        }
                        Some(_) => return Err(DocError::Syntax),
                    }
                }
                Some(0..=0x1f) => return Err(DocError::Syntax),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Consumes the next value, whatever its shape and depth, without storing it. Numbers are
    /// checked for syntax only.
    pub(crate) fn skip_value(&mut self) -> Result<(), DocError> {
        self.after_open = false;
        let mut open = BracketStack::new();
        loop {
            // A value.
            match self.peek()? {
                Kind::Null | Kind::Bool => self.literal()?,
                Kind::Number => {
                    self.number(false)?;
                }
                Kind::String => self.skip_string()?,
                Kind::Array | Kind::Object => {
                    let object = self.byte() == Some(b'{');
                    self.pos += 1;
                    open.push(object);
                    // The first member, or an immediate close.
                    let close = if object { b'}' } else { b']' };
                    if self.next_significant()? != close {
                        if object {
                            self.key_of_skipped()?;
                        }
                        continue;
                    }
                    self.pos += 1;
                    open.pop();
                }
            }
            // After a value: a comma and the next member, or closes.
            loop {
                let Some(object) = open.pop() else {
                    return Ok(());
                };
                match self.next_significant()? {
                    b',' => {
                        self.pos += 1;
                        open.push(object);
                        if object {
                            if self.next_significant()? != b'"' {
                                return Err(DocError::Syntax);
                            }
                            self.key_of_skipped()?;
                        }
                        break;
                    }
                    b'}' if object => self.pos += 1,
                    b']' if !object => self.pos += 1,
                    _ => return Err(DocError::Syntax),
                }
            }
        }
    }

    /// A key and its colon inside a skipped object.
    fn key_of_skipped(&mut self) -> Result<(), DocError> {
        if self.next_significant()? != b'"' {
            return Err(DocError::Syntax);
        }
        self.skip_string()?;
        self.expect(b':')
    }

    /// Reads any value, keeping it only when it is a string. Numbers are range-checked.
    pub(crate) fn loose(&mut self) -> Result<Loose<'a>, DocError> {
        match self.peek()? {
            Kind::Null => self.null().map(|()| Loose::Null),
            Kind::String => self.string().map(Loose::Str),
            Kind::Number => {
                self.after_open = false;
                self.number(true).map(|_| Loose::Other)
            }
            Kind::Bool => {
                self.after_open = false;
                self.literal().map(|()| Loose::Other)
            }
            Kind::Array | Kind::Object => {
                // Descended into, as serde_json did: the depth limit applies to its first level.
                if self.depth >= MAX_DEPTH {
                    return Err(DocError::Syntax);
                }
                self.skip_value().map(|()| Loose::Other)
            }
        }
    }

    /// `None` for `null`, else a string ([`Self::string`]).
    pub(crate) fn optional_string(&mut self) -> Result<Option<Text<'a>>, DocError> {
        if self.peek()? == Kind::Null {
            return self.null().map(|()| None);
        }
        self.string().map(Some)
    }

    /// `None` for `null`, else an integer ([`Self::i64`]).
    pub(crate) fn optional_i64(&mut self) -> Result<Option<i64>, DocError> {
        if self.peek()? == Kind::Null {
            return self.null().map(|()| None);
        }
        self.i64().map(Some)
    }

    /// `false` for `null`; `true` with the object opened; another type is [`Self::wrong_type`].
    pub(crate) fn optional_object(&mut self) -> Result<bool, DocError> {
        match self.peek()? {
            Kind::Null => self.null().map(|()| false),
            Kind::Object => self.begin_object().map(|()| true),
            _ => Err(self.wrong_type()),
        }
    }

    /// Opens the top-level object of a document; another type is [`Self::wrong_type`].
    pub(crate) fn document_object(&mut self) -> Result<(), DocError> {
        if self.peek()? == Kind::Object {
            self.begin_object()
        } else {
            Err(self.wrong_type())
        }
    }

    /// Checks that only white space follows the document.
    pub(crate) fn end(&mut self) -> Result<(), DocError> {
        self.skip_whitespace();
        if self.pos < self.input.len() {
            Err(DocError::Syntax)
        } else {
            Ok(())
        }
    }
}

/// Marks a field as seen; a field seen before is `WrongType` (which of the two is true?).
pub(crate) fn first_sighting(seen: &mut bool) -> Result<(), DocError> {
    if std::mem::replace(seen, true) {
        Err(DocError::WrongType)
    } else {
        Ok(())
    }
}

/// An owned copy of `text` cut to `max` bytes on a character boundary.
pub(crate) fn bounded_string(text: &str, max: usize) -> String {
    truncate_utf8(text, max).to_owned()
}

#[cfg(test)]
mod tests;
