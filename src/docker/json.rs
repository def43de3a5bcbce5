//! Shared pieces of the JSON decoders: the error type, a string that borrows from the input when it
//! can, a "string or anything else" value for lenient decoding, and UTF-8-safe truncation.
//!
//! serde_json skips unknown fields and junk values without recursion (its `ignore_value` keeps an
//! explicit stack), and it refuses documents nested deeper than 128 levels in the values it does
//! descend into, so neither label maps nor deeply nested junk can exhaust the stack.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Why an engine document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocError {
    /// Not JSON: bad syntax, invalid UTF-8 or escape, trailing data, or nesting beyond serde_json's
    /// limit of 128.
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

impl From<serde_json::Error> for DocError {
    fn from(error: serde_json::Error) -> Self {
        match error.classify() {
            serde_json::error::Category::Eof => DocError::Truncated,
            serde_json::error::Category::Data => DocError::WrongType,
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                DocError::Syntax
            }
        }
    }
}

/// A JSON string, borrowed from the input when it has no escapes (the common case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl Text<'_> {
    /// The string.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Builds a [`Text`] that may borrow from input living at least as long (`'de: 'a`).
struct TextVisitor<'a>(PhantomData<&'a str>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(TextVisitor(PhantomData))
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

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Other)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'de>, E> {
        TextVisitor(PhantomData)
            .visit_borrowed_str(v)
            .map(Loose::Str)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'de>, E> {
        TextVisitor(PhantomData).visit_str(v).map(Loose::Str)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'de>, E> {
        TextVisitor(PhantomData).visit_string(v).map(Loose::Str)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// The longest prefix of `text` that fits in `max` bytes and ends on a character boundary.
pub(crate) fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1; // stops at 0 at the latest, which is always a boundary
    }
    text.get(..end).unwrap_or("")
}

/// An owned copy of `text` cut to `max` bytes on a character boundary.
pub(crate) fn bounded_string(text: &str, max: usize) -> String {
    truncate_utf8(text, max).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_when_it_can() {
        let text: Text<'_> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(text.0, Cow::Borrowed("plain")));
        let text: Text<'_> = serde_json::from_str(r#""esc\u00e9""#).unwrap();
        assert_eq!(text.as_str(), "escé");
        assert!(matches!(text.0, Cow::Owned(_)));
        assert_eq!(
            serde_json::from_str::<Text<'_>>("1").map_err(DocError::from),
            Err(DocError::WrongType)
        );
    }

    #[test]
    fn loose_accepts_anything() {
        assert_eq!(
            serde_json::from_str::<Loose<'_>>("null").unwrap(),
            Loose::Null
        );
        assert_eq!(
            serde_json::from_str::<Loose<'_>>("true").unwrap(),
            Loose::Other
        );
        assert_eq!(
            serde_json::from_str::<Loose<'_>>("-1.5e3").unwrap(),
            Loose::Other
        );
        assert_eq!(
            serde_json::from_str::<Loose<'_>>(r#"[1,{"a":[]}]"#).unwrap(),
            Loose::Other
        );
        assert_eq!(
            serde_json::from_str::<Loose<'_>>(r#"{"a":{"b":"c"}}"#).unwrap(),
            Loose::Other
        );
        assert_eq!(
            serde_json::from_str::<Loose<'_>>(r#""x""#).unwrap(),
            Loose::Str(Text(Cow::Borrowed("x")))
        );
    }

    #[test]
    fn errors_are_classified() {
        let e = |s: &str| DocError::from(serde_json::from_str::<Loose<'_>>(s).unwrap_err());
        assert_eq!(e("{"), DocError::Truncated);
        assert_eq!(e("nul"), DocError::Truncated);
        assert_eq!(e("{]"), DocError::Syntax);
        assert_eq!(e(r#""\ud800""#), DocError::Syntax);
        assert_eq!(e("1 2"), DocError::Syntax);
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate_utf8("hello", 10), "hello");
        assert_eq!(truncate_utf8("hello", 3), "hel");
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("€", 2), "");
        assert_eq!(truncate_utf8("", 0), "");
        assert_eq!(bounded_string("abc", 0), "");
    }
}
