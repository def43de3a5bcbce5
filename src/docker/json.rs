//! What the engine decoders share: the error type and its mapping from serde_json's, a string that
//! borrows from the input when it can, a "string or anything else" value for lenient decoding, and
//! UTF-8-safe truncation.
//!
//! The decoders deserialize with serde and serde_json into `#[derive(Deserialize)]` structs that
//! name only the fields the agent reads. Contract, all of it serde_json's behaviour:
//!
//! - **Unread values are skipped, not stored, at any depth.** Unknown fields go to
//!   [`serde::de::IgnoredAny`], which serde_json skips with a loop and an explicit stack (one byte
//!   per open bracket), so label maps are never built and junk nested 200,000 deep is fine.
//! - **Bounded descent, with recursion.** The values a decoder does descend into (its structs,
//!   `Names`, a list element and the first level of a value read loosely) recurse, within
//!   serde_json's recursion limit: 127 levels are read, a 128th is [`DocError::Syntax`]. No
//!   decoder's own shape is deeper than 3, so only junk reaches it.
//! - **Errors classify by serde_json's [`serde_json::error::Category`]**: `Eof` (the input ends
//!   early) → [`DocError::Truncated`]; `Data` (a value of another type, an integer out of its
//!   type's range or with a fraction or exponent, a duplicated field) → [`DocError::WrongType`];
//!   `Syntax` (bad token, escape, control character, invalid UTF-8, a number beyond `f64`'s range
//!   in a value that is read, trailing data, descent past the limit) and `Io` →
//!   [`DocError::Syntax`].
//! - **Strings** are unescaped (`\uXXXX` with surrogate pairs; a lone surrogate is `Syntax`) and
//!   borrowed from the input when they hold no escape ([`Text`]).
//! - **Objects only**: a struct is read from an object ([`Object`]); an array in its place is
//!   `WrongType`, as for any other value of the wrong type.
//! - **Nothing panics.**

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

pub(crate) use crate::container::truncate_utf8;

/// Why an engine document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocError {
    /// Not JSON: bad syntax, invalid UTF-8 or escape, trailing data, or nesting of 128 levels or
    /// more in the values the decoder reads.
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

/// Deserializes one whole document: only white space may follow it.
pub(crate) fn from_slice<'a, T: Deserialize<'a>>(input: &'a [u8]) -> Result<T, DocError> {
    Ok(serde_json::from_slice(input)?)
}

/// A struct read from a JSON object only. serde_json would also fill a struct from an array, field
/// by field; the engine never sends one, so an array is [`DocError::WrongType`] like any other
/// value of the wrong type.
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(Object)
    }
}

/// A deserializer that asks for a map whatever it is asked for.
struct MapOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

/// A JSON string, borrowed from the input when it has no escapes (the common case): a
/// `Cow<'a, str>` that borrows inside an `Option` too (serde's own `Cow` impl always copies).
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
        Ok(Loose::Str(Text(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Text(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Text(Cow::Owned(v))))
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

/// An owned copy of `text` cut to `max` bytes on a character boundary.
pub(crate) fn bounded_string(text: &str, max: usize) -> String {
    truncate_utf8(text, max).to_owned()
}

#[cfg(test)]
mod tests;
