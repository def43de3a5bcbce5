//! The shared pieces, and the serde_json behaviour the decoders rely on (pinned here so that an
//! upgrade that changed it would show): error classes, numbers read as integers, and skipping
//! without a depth limit.

use super::*;

fn text(input: &str) -> Result<Text<'_>, DocError> {
    from_slice(input.as_bytes())
}

fn int(input: &str) -> Result<i64, DocError> {
    from_slice(input.as_bytes())
}

fn loose(input: &[u8]) -> Result<Loose<'_>, DocError> {
    from_slice(input)
}

fn skip(input: &[u8]) -> Result<(), DocError> {
    from_slice::<IgnoredAny>(input).map(|_| ())
}

#[test]
fn text_borrows_when_it_can() {
    let plain = text(r#""plain""#).unwrap();
    assert!(matches!(plain.0, Cow::Borrowed("plain")));
    let escaped = text(r#""esc\u00e9""#).unwrap();
    assert_eq!(escaped.as_str(), "escé");
    assert!(matches!(escaped.0, Cow::Owned(_)));
    // Inside an `Option` too, which `Cow`'s own impl would copy.
    let some: Option<Text<'_>> = from_slice(br#" "plain" "#).unwrap();
    assert!(matches!(some, Some(Text(Cow::Borrowed("plain")))));
    assert_eq!(text("1"), Err(DocError::WrongType));
    assert_eq!(text("[1]"), Err(DocError::WrongType));
    assert_eq!(text("nul"), Err(DocError::Truncated));
    assert_eq!(text("1e999"), Err(DocError::Syntax));
}

#[test]
fn escapes() {
    let cases: &[(&str, Result<&str, DocError>)] = &[
        (r#""a\"b\\c\/d""#, Ok("a\"b\\c/d")),
        (r#""\b\f\n\r\t""#, Ok("\u{8}\u{c}\n\r\t")),
        (r#""\u0041\u00e9\u20AC""#, Ok("Aé€")),
        (r#""x\u0000y""#, Ok("x\0y")),
        (r#""\ud83d\ude00""#, Ok("😀")),
        (r#""é€😀 raw""#, Ok("é€😀 raw")),
        (r#""\ud800""#, Err(DocError::Syntax)),
        (r#""\ud800\u0041""#, Err(DocError::Syntax)),
        (r#""\udc00""#, Err(DocError::Syntax)),
        (r#""\x""#, Err(DocError::Syntax)),
        (r#""\u12g4""#, Err(DocError::Syntax)),
        (r#""\u12"#, Err(DocError::Truncated)),
        (r#""\"#, Err(DocError::Truncated)),
        (r#""open"#, Err(DocError::Truncated)),
        ("\"tab\there\"", Err(DocError::Syntax)),
        ("\"nl\nhere\"", Err(DocError::Syntax)),
    ];
    for (input, expected) in cases {
        let got = text(input);
        assert_eq!(
            got.as_ref().map(Text::as_str).map_err(|e| *e),
            *expected,
            "{input}"
        );
    }
    // Invalid UTF-8, raw or after an escape.
    for raw in [&b"\"\xff\""[..], b"\"\\n\xc3\"", b"\"\xed\xa0\x80\""] {
        assert_eq!(
            from_slice::<Text<'_>>(raw),
            Err(DocError::Syntax),
            "{raw:?}"
        );
    }
}

#[test]
fn integers() {
    let cases: &[(&str, Result<i64, DocError>)] = &[
        ("0", Ok(0)),
        ("-0", Err(DocError::WrongType)),
        ("42", Ok(42)),
        (" -17 ", Ok(-17)),
        ("9223372036854775807", Ok(i64::MAX)),
        ("-9223372036854775808", Ok(i64::MIN)),
        ("9223372036854775808", Err(DocError::WrongType)),
        ("-9223372036854775809", Err(DocError::WrongType)),
        ("99999999999999999999", Err(DocError::WrongType)),
        ("1.5", Err(DocError::WrongType)),
        ("1.0", Err(DocError::WrongType)),
        ("1e3", Err(DocError::WrongType)),
        ("1e308", Err(DocError::WrongType)),
        ("1.8e308", Err(DocError::Syntax)),
        ("1e309", Err(DocError::Syntax)),
        ("01", Err(DocError::Syntax)),
        ("-", Err(DocError::Truncated)),
        ("1.", Err(DocError::Truncated)),
        ("1e", Err(DocError::Truncated)),
        (".5", Err(DocError::Syntax)),
        ("+1", Err(DocError::Syntax)),
        ("1x", Err(DocError::Syntax)),
        ("\"12\"", Err(DocError::WrongType)),
        ("true", Err(DocError::WrongType)),
        ("{}", Err(DocError::WrongType)),
        ("", Err(DocError::Truncated)),
    ];
    for (input, expected) in cases {
        assert_eq!(int(input), *expected, "{input}");
    }
}

#[test]
fn loose_accepts_anything() {
    assert_eq!(loose(b"null"), Ok(Loose::Null));
    assert_eq!(loose(b"true"), Ok(Loose::Other));
    assert_eq!(loose(b"-1.5e3"), Ok(Loose::Other));
    assert_eq!(loose(br#"[1,{"a":[]}]"#), Ok(Loose::Other));
    assert_eq!(loose(br#"{"a":{"b":"c"}}"#), Ok(Loose::Other));
    assert_eq!(loose(br#""x""#), Ok(Loose::Str(Text(Cow::Borrowed("x")))));
    assert_eq!(loose(b"1e999"), Err(DocError::Syntax));
}

#[test]
fn errors_are_classified() {
    assert_eq!(loose(b"{"), Err(DocError::Truncated));
    assert_eq!(loose(b"nul"), Err(DocError::Truncated));
    assert_eq!(loose(b"nulx"), Err(DocError::Syntax));
    assert_eq!(loose(b"{]"), Err(DocError::Syntax));
    assert_eq!(loose(br#""\ud800""#), Err(DocError::Syntax));
    assert_eq!(loose(b"1 2"), Err(DocError::Syntax));
    assert_eq!(loose(b""), Err(DocError::Truncated));
    assert_eq!(loose(b"   "), Err(DocError::Truncated));
    assert_eq!(loose(b"}"), Err(DocError::Syntax));
    for bad in [
        &br#"{"a":1,}"#[..],
        br#"{,"a":1}"#,
        br#"{"a" 1}"#,
        br#"{"a":1 "b":2}"#,
        br#"{1:2}"#,
        b"[1,]",
        b"[,1]",
        b"[1 2]",
        b"[1}",
    ] {
        assert_eq!(
            loose(bad),
            Err(DocError::Syntax),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn skipping_has_no_depth_limit() {
    let depth = 200_000;
    let deep = format!("{}1{}", "[{\"k\":".repeat(depth), "}]".repeat(depth));
    assert_eq!(skip(deep.as_bytes()), Ok(()));
    let mismatched = format!("{}1{}", "[{\"k\":".repeat(depth), "]}".repeat(depth));
    assert_eq!(skip(mismatched.as_bytes()), Err(DocError::Syntax));
    assert_eq!(
        skip(&deep.as_bytes()[..deep.len() - 1]),
        Err(DocError::Truncated)
    );
}

#[test]
fn descent_is_bounded() {
    /// Descends into nested arrays as far as they go, as a decoder's own structs would.
    struct Nested;
    impl<'de> Deserialize<'de> for Nested {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Nested;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("nested arrays")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nested, A::Error> {
                    while seq.next_element::<Nested>()?.is_some() {}
                    Ok(Nested)
                }
            }
            deserializer.deserialize_seq(V)
        }
    }
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(from_slice::<Nested>(nested(127).as_bytes()).is_ok());
    assert_eq!(
        from_slice::<Nested>(nested(128).as_bytes()).err(),
        Some(DocError::Syntax)
    );
}

#[test]
fn truncates_on_char_boundaries() {
    assert_eq!(truncate_utf8("héllo", 2), "h");
    assert_eq!(truncate_utf8("héllo", 3), "hé");
    assert_eq!(truncate_utf8("€", 2), "");
    assert_eq!(bounded_string("abc", 0), "");
    assert_eq!(bounded_string("abc", 5), "abc");
}
