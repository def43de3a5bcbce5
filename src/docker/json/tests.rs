//! The reader alone: tokens, escapes, numbers, depth, and agreement with serde_json (the reader
//! this one replaced) on what is valid JSON and how a bad document is classified.

use super::*;

fn text(input: &str) -> Result<Text<'_>, DocError> {
    let mut reader = JsonReader::new(input.as_bytes());
    let text = reader.string()?;
    reader.end()?;
    Ok(text)
}

fn int(input: &str) -> Result<i64, DocError> {
    let mut reader = JsonReader::new(input.as_bytes());
    let value = reader.i64()?;
    reader.end()?;
    Ok(value)
}

fn loose(input: &[u8]) -> Result<Loose<'_>, DocError> {
    let mut reader = JsonReader::new(input);
    let value = reader.loose()?;
    reader.end()?;
    Ok(value)
}

fn skip(input: &[u8]) -> Result<(), DocError> {
    let mut reader = JsonReader::new(input);
    reader.skip_value()?;
    reader.end()
}

/// serde_json's verdict on a whole document, in this module's terms.
fn serde_verdict(input: &[u8]) -> Result<(), DocError> {
    match serde_json::from_slice::<serde::de::IgnoredAny>(input) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Eof => DocError::Truncated,
            serde_json::error::Category::Data => DocError::WrongType,
            _ => DocError::Syntax,
        }),
    }
}

#[test]
fn text_borrows_when_it_can() {
    let plain = text(r#""plain""#).unwrap();
    assert!(matches!(plain.0, Cow::Borrowed("plain")));
    let escaped = text(r#""esc\u00e9""#).unwrap();
    assert_eq!(escaped.as_str(), "escé");
    assert!(matches!(escaped.0, Cow::Owned(_)));
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
        (r#""\ud800x""#, Err(DocError::Syntax)),
        (r#""\ud800\n""#, Err(DocError::Syntax)),
        (r#""\ud800\u0041""#, Err(DocError::Syntax)),
        (r#""\udc00""#, Err(DocError::Syntax)),
        (r#""\ud800\udbff""#, Err(DocError::Syntax)),
        (r#""\x""#, Err(DocError::Syntax)),
        (r#""\u12g4""#, Err(DocError::Syntax)),
        (r#""\u12"#, Err(DocError::Truncated)),
        (r#""\ud800\u"#, Err(DocError::Truncated)),
        (r#""\ud800"#, Err(DocError::Truncated)),
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
        // The same verdict as serde_json on the string as a document.
        let serde = serde_json::from_str::<String>(input).map_err(|e| e.classify());
        assert_eq!(got.is_ok(), serde.is_ok(), "{input}");
    }
    // Invalid UTF-8, raw or after an escape.
    for raw in [&b"\"\xff\""[..], b"\"\\n\xc3\"", b"\"\xed\xa0\x80\""] {
        let mut reader = JsonReader::new(raw);
        assert_eq!(reader.string(), Err(DocError::Syntax), "{raw:?}");
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
        ("18446744073709551615", Err(DocError::WrongType)),
        ("99999999999999999999", Err(DocError::WrongType)),
        ("1.5", Err(DocError::WrongType)),
        ("1.0", Err(DocError::WrongType)),
        ("1e3", Err(DocError::WrongType)),
        ("1E+3", Err(DocError::WrongType)),
        ("1e-400", Err(DocError::WrongType)),
        ("0e999", Err(DocError::WrongType)),
        ("1e308", Err(DocError::WrongType)),
        ("1.7976931348623157e308", Err(DocError::WrongType)),
        ("1.8e308", Err(DocError::Syntax)),
        ("1e309", Err(DocError::Syntax)),
        ("-1e999", Err(DocError::Syntax)),
        ("0.000001e314", Err(DocError::WrongType)),
        ("0.00001e314", Err(DocError::Syntax)),
        ("1e99999999999999999999999", Err(DocError::Syntax)),
        ("01", Err(DocError::Syntax)),
        ("-", Err(DocError::Truncated)),
        ("-x", Err(DocError::Syntax)),
        ("1.", Err(DocError::Truncated)),
        ("1.e3", Err(DocError::Syntax)),
        ("1e", Err(DocError::Truncated)),
        ("1e+", Err(DocError::Truncated)),
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
        let serde = match serde_json::from_str::<i64>(input) {
            Ok(v) => Ok(v),
            Err(e) => Err(match e.classify() {
                serde_json::error::Category::Eof => DocError::Truncated,
                serde_json::error::Category::Data => DocError::WrongType,
                _ => DocError::Syntax,
            }),
        };
        assert_eq!(int(input), serde, "serde_json disagrees on {input}");
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
}

#[test]
fn objects_and_arrays() {
    let input = br#" { "a" : [ 1 , "two" , null ] , "b\u0063" : { } , "d" : [ ] } "#;
    let mut reader = JsonReader::new(input);
    reader.begin_object().unwrap();
    assert_eq!(reader.next_key().unwrap().unwrap().as_str(), "a");
    reader.begin_array().unwrap();
    assert!(reader.next_element().unwrap());
    assert_eq!(reader.i64(), Ok(1));
    assert!(reader.next_element().unwrap());
    assert_eq!(reader.string().unwrap().as_str(), "two");
    assert!(reader.next_element().unwrap());
    reader.null().unwrap();
    assert!(!reader.next_element().unwrap());
    assert_eq!(reader.next_key().unwrap().unwrap().as_str(), "bc");
    assert!(reader.optional_object().unwrap());
    assert_eq!(reader.next_key(), Ok(None));
    assert_eq!(reader.next_key().unwrap().unwrap().as_str(), "d");
    reader.begin_array().unwrap();
    assert!(!reader.next_element().unwrap());
    assert_eq!(reader.next_key(), Ok(None));
    reader.end().unwrap();

    // Commas and colons where they belong, and nowhere else.
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
        let mut reader = JsonReader::new(bad);
        let result = (|| {
            reader.loose()?;
            reader.end()
        })();
        assert_eq!(
            result,
            Err(DocError::Syntax),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn depth_is_bounded_where_the_reader_descends() {
    let mut reader = JsonReader::new(&[b'['; MAX_DEPTH + 1]);
    for _ in 0..MAX_DEPTH {
        reader.begin_array().unwrap();
        assert!(reader.next_element().unwrap());
    }
    assert_eq!(reader.begin_array(), Err(DocError::Syntax));
    // Skipping has no depth limit and no recursion.
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
fn bracket_stack_past_its_inline_bits() {
    let mut stack = BracketStack::new();
    let pattern = |i: usize| i.is_multiple_of(3) || i % 7 == 1;
    for i in 0..1000 {
        stack.push(pattern(i));
    }
    for i in (0..1000).rev() {
        assert_eq!(stack.pop(), Some(pattern(i)), "{i}");
    }
    assert_eq!(stack.pop(), None);
}

/// Documents serde_json and this reader must judge alike (valid, truncated, or bad syntax).
const DOCUMENTS: &[&[u8]] = &[
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0.0e-0",
    b"123.456E+78",
    br#""a\u00e9\ud83d\ude00""#,
    br#""\ud800""#, // skipped strings keep a lone surrogate, as serde_json did
    b"\"\xff\"",    // and invalid UTF-8
    br#"{"a":[1,2,{"b":null}],"c":"d"}"#,
    b"[]",
    b"{}",
    b" [ [ ] , { } ] ",
    b"[1,]",
    b"{\"a\":1,}",
    b"[1 2]",
    b"{\"a\"}",
    b"{\"a\":}",
    b"[",
    b"[1",
    b"[1,",
    b"{\"a\"",
    b"{\"a\":",
    b"{\"a\":1",
    b"tru",
    b"trux",
    b"nan",
    b"01",
    b"1.",
    b"-",
    b"1e999",
    b"\"\\q\"",
    b"\"\\u12",
    b"\"\\u12x4\"",
    b"\"a\x01\"",
    b"[] x",
    b"",
    b"]",
    b"{]",
    b"[}",
    b"{\"a\":1]",
];

#[test]
fn skipping_agrees_with_serde_json() {
    for document in DOCUMENTS {
        assert_eq!(
            skip(document),
            serde_verdict(document),
            "{}",
            String::from_utf8_lossy(document)
        );
    }
}

#[test]
fn skipping_agrees_with_serde_json_on_random_documents() {
    // Random token soups, mostly almost-JSON.
    const TOKENS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"k\"",
        b"\"v\\n\"",
        b"1",
        b"-2.5e3",
        b"0",
        b"true",
        b"null",
        b" ",
        b"\"",
        b"\\",
        b"\"\\u00e9\"",
        b"e",
        b".",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    };
    let mut valid = 0;
    for _ in 0..20_000 {
        let mut document = Vec::new();
        for _ in 0..(next() % 12) {
            let token = TOKENS[(next() % TOKENS.len() as u64) as usize];
            document.extend_from_slice(token);
        }
        let expected = serde_verdict(&document);
        valid += usize::from(expected.is_ok());
        assert_eq!(
            skip(&document),
            expected,
            "{}",
            String::from_utf8_lossy(&document)
        );
    }
    assert!(
        valid > 100,
        "too few valid documents to mean anything: {valid}"
    );
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
