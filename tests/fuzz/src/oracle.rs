//! What the decoders must do with any input, checked the same way by the fuzz targets
//! (tests/fuzz/fuzz_targets/) and by the randomized test that runs in `make test`
//! (tests/decoders_randomized.rs, which includes this file with `#[path]`).
//!
//! Each `run_*` function drives one decoder over input cut into pieces, as socket reads would cut
//! it, and returns everything the decoder said as a plain value. A caller runs it twice (the input
//! whole, then in pieces) and compares the two values: what a decoder yields must not depend on how
//! its input was split. The `check_*` functions decode a document and assert what holds for every
//! answer (bounds, no panic). Every check panics on a violation, which is what a fuzzer reports.
//!
//! No dependency but csflowd: the fuzz crate and the stable test share this file as it is.
#![allow(dead_code)]

use std::path::Path;

use csflowd::config::{self, MAX_WARNINGS};
use csflowd::docker::{self, NAME_MAX};
use csflowd::http::{
    self, BodyDecoder, Event, Framing, LineSplitter, ResponseCollector, ResponseDecoder,
    ResponseHead, MAX_HEAD_LEN,
};

/// Cuts `input` into consecutive pieces; `next_len` gives each piece's length (0 is taken as 1, the
/// last piece is whatever is left).
pub fn pieces(input: &[u8], mut next_len: impl FnMut() -> usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let len = next_len().clamp(1, rest.len());
        let (piece, tail) = rest.split_at(len);
        out.push(piece);
        rest = tail;
    }
    out
}

/// Piece lengths read from bytes (each byte + 1), cycling; for fuzz targets, whose split comes
/// from the fuzzer's input.
pub fn lengths_from(bytes: &[u8]) -> impl FnMut() -> usize + '_ {
    let mut i = 0usize;
    move || {
        let len = bytes
            .get(i % bytes.len().max(1))
            .map_or(usize::MAX, |&b| usize::from(b) + 1);
        i = i.wrapping_add(1);
        len
    }
}

/// One item of the line splitter's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line (without LF and one trailing CR).
    Text(Vec<u8>),
    /// [`http::Error::LineTooLong`].
    TooLong,
}

/// Everything a [`ResponseDecoder`] (and the line splitter behind it) said about one response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exchange {
    /// The final head.
    pub head: Option<ResponseHead>,
    /// The body bytes handed out, concatenated.
    pub body: Vec<u8>,
    /// `Event::Done` was yielded.
    pub done: bool,
    /// The bytes after the response (the cursor once `Done` was yielded, and every later piece).
    pub after: Vec<u8>,
    /// The error, if the exchange failed.
    pub error: Option<http::Error>,
    /// What `eof` said at the end of the input (when there was no error before).
    pub eof: Option<Result<(), http::Error>>,
    /// The body cut into lines, as the events stream is.
    pub lines: Vec<Line>,
    /// The unterminated last line `finish` handed out.
    pub last_line: Option<Vec<u8>>,
}

/// Feeds `pieces` to a [`ResponseDecoder`] with `body_limit`, and its data to a [`LineSplitter`]
/// with `line_limit`; checks the contract's invariants on the way.
pub fn run_response(pieces: &[&[u8]], body_limit: u64, line_limit: usize) -> Exchange {
    let mut decoder = ResponseDecoder::new(body_limit);
    let mut splitter = LineSplitter::new(line_limit);
    let mut out = Exchange::default();
    'pieces: for piece in pieces {
        let mut cursor: &[u8] = piece;
        if out.done {
            assert_eq!(decoder.next(&mut cursor), Ok(None), "a call after Done");
            assert_eq!(
                cursor.len(),
                piece.len(),
                "a call after Done consumed bytes"
            );
            out.after.extend_from_slice(piece);
            continue;
        }
        loop {
            let before = cursor.len();
            match decoder.next(&mut cursor) {
                Ok(Some(Event::Head(head))) => {
                    assert!(out.head.is_none(), "a second final head");
                    assert!(!head.is_interim(), "an interim head was yielded");
                    out.head = Some(head);
                }
                Ok(Some(Event::Data(data))) => {
                    assert!(out.head.is_some(), "data before the head");
                    assert!(!data.is_empty(), "empty data");
                    assert!(before > cursor.len(), "data without consuming input");
                    out.body.extend_from_slice(data);
                    split_lines(&mut splitter, data, line_limit, &mut out.lines);
                }
                Ok(Some(Event::Done)) => {
                    assert!(out.head.is_some(), "done before the head");
                    out.done = true;
                    assert!(decoder.is_done());
                    assert_eq!(decoder.next(&mut cursor), Ok(None), "a call after Done");
                    out.after.extend_from_slice(cursor);
                    continue 'pieces;
                }
                Ok(None) => {
                    assert!(cursor.is_empty(), "None with input left");
                    continue 'pieces;
                }
                Err(e) => {
                    let mut again: &[u8] = b"more";
                    assert_eq!(decoder.next(&mut again), Err(e), "a failed decoder forgot");
                    out.error = Some(e);
                    break 'pieces;
                }
            }
            assert!(
                u64::try_from(out.body.len()).unwrap_or(u64::MAX) <= body_limit,
                "more body than the limit"
            );
            assert_eq!(decoder.body_len(), out.body.len() as u64, "body_len");
        }
    }
    if out.error.is_none() {
        out.eof = Some(decoder.eof());
        out.last_line = splitter.finish().map(<[u8]>::to_vec);
    }
    if let (Some(head), true) = (out.head, out.done) {
        if let Framing::Length(n) = head.framing {
            assert_eq!(
                out.body.len() as u64,
                n,
                "a Content-Length body of another length"
            );
        }
    }
    out
}

/// Cuts one piece of body into lines.
fn split_lines(splitter: &mut LineSplitter, data: &[u8], limit: usize, out: &mut Vec<Line>) {
    let mut cursor = data;
    while let Some(line) = splitter.next_line(&mut cursor) {
        match line {
            Ok(line) => {
                assert!(line.len() <= limit, "a line over the limit");
                out.push(Line::Text(line.to_vec()));
            }
            Err(http::Error::LineTooLong) => out.push(Line::TooLong),
            Err(e) => panic!("the line splitter said {e:?}"),
        }
        assert!(
            splitter.capacity() <= limit,
            "splitter buffer over its limit"
        );
    }
    assert!(cursor.is_empty(), "the splitter left input");
    assert!(
        splitter.capacity() <= limit,
        "splitter buffer over its limit"
    );
}

/// Lines as a plain reading of the whole input gives them: what [`LineSplitter`] must yield
/// whatever the split.
pub fn reference_lines(input: &[u8], limit: usize) -> (Vec<Line>, Option<Vec<u8>>) {
    let trim_cr = |line: &[u8]| line.strip_suffix(b"\r").unwrap_or(line).to_vec();
    let mut lines = Vec::new();
    let mut segments = input.split(|&b| b == b'\n').peekable();
    let mut last = None;
    while let Some(segment) = segments.next() {
        let terminated = segments.peek().is_some();
        if segment.len() > limit {
            lines.push(Line::TooLong);
        } else if terminated {
            lines.push(Line::Text(trim_cr(segment)));
        } else if !segment.is_empty() {
            last = Some(trim_cr(segment));
        }
    }
    (lines, last)
}

/// Feeds `pieces` to a [`LineSplitter`] with `limit`; returns its lines and unterminated last line.
pub fn run_lines(pieces: &[&[u8]], limit: usize) -> (Vec<Line>, Option<Vec<u8>>) {
    let mut splitter = LineSplitter::new(limit);
    let mut lines = Vec::new();
    for piece in pieces {
        split_lines(&mut splitter, piece, limit, &mut lines);
    }
    let last = splitter.finish().map(<[u8]>::to_vec);
    assert_eq!(splitter.buffered(), 0, "finish left bytes");
    (lines, last)
}

/// Everything a [`BodyDecoder`] said about one body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body {
    /// Body data, concatenated.
    pub data: Vec<u8>,
    /// The body completed.
    pub done: bool,
    /// The bytes after the body.
    pub after: Vec<u8>,
    /// The error, if the body was malformed.
    pub error: Option<http::Error>,
    /// What `eof` said at the end of the input (when there was no error before).
    pub eof: Option<Result<(), http::Error>>,
}

/// Feeds `pieces` to a [`BodyDecoder`] for `framing`.
pub fn run_body(framing: Framing, pieces: &[&[u8]]) -> Body {
    let mut decoder = BodyDecoder::new(framing);
    let mut out = Body::default();
    'pieces: for piece in pieces {
        let mut cursor: &[u8] = piece;
        loop {
            if out.done {
                out.after.extend_from_slice(cursor);
                continue 'pieces;
            }
            match decoder.decode(&mut cursor) {
                Ok(Some(data)) => {
                    assert!(!data.is_empty(), "empty body data");
                    out.data.extend_from_slice(data);
                }
                Ok(None) if decoder.is_done() => out.done = true,
                Ok(None) => {
                    assert!(cursor.is_empty(), "None with input left");
                    continue 'pieces;
                }
                Err(e) => {
                    let mut again: &[u8] = b"more";
                    assert_eq!(
                        decoder.decode(&mut again),
                        Err(e),
                        "a failed decoder forgot"
                    );
                    out.error = Some(e);
                    break 'pieces;
                }
            }
        }
    }
    // A body that was complete from the start (no body, length 0) is done without a call.
    out.done |= out.error.is_none() && decoder.is_done();
    if out.error.is_none() {
        out.eof = Some(decoder.eof());
    }
    if let (Framing::Length(n), true) = (framing, out.done) {
        assert_eq!(
            out.data.len() as u64,
            n,
            "a Content-Length body of another length"
        );
    }
    out
}

/// A framing chosen by one byte (for fuzz targets and the randomized test).
pub fn framing_from(byte: u8, length: u64) -> Framing {
    match byte % 4 {
        0 => Framing::Chunked,
        1 => Framing::Length(length),
        2 => Framing::UntilClose,
        _ => Framing::NoBody,
    }
}

/// [`ResponseCollector`] over `pieces` must agree with the decoder's [`Exchange`] for the same
/// limit: same head, and the whole body when the response completed.
pub fn check_collector(pieces: &[&[u8]], body_limit: usize, exchange: &Exchange) {
    let mut collector = ResponseCollector::new(body_limit);
    let mut error = None;
    for piece in pieces {
        match collector.feed(piece) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(
        collector.body().len() <= body_limit,
        "collector body over its limit"
    );
    assert_eq!(collector.head(), exchange.head.as_ref(), "collector head");
    assert_eq!(error, exchange.error, "collector error");
    if exchange.done {
        assert!(collector.is_complete(), "collector incomplete");
        assert_eq!(collector.body(), &exchange.body[..], "collector body");
    }
}

/// [`http::parse_head`] on any bytes: a complete head lies within the input and within
/// [`MAX_HEAD_LEN`], and parses the same from its own bytes alone.
pub fn check_head(input: &[u8]) {
    match http::parse_head(input) {
        Ok(Some((len, head))) => {
            assert!(
                len <= input.len() && len <= MAX_HEAD_LEN,
                "head length {len}"
            );
            assert!((100..=999).contains(&head.status), "status {}", head.status);
            let again = http::parse_head(&input[..len]);
            assert_eq!(
                again,
                Ok(Some((len, head))),
                "the head alone parses otherwise"
            );
        }
        Ok(None) => assert!(input.len() < MAX_HEAD_LEN, "a partial head past the limit"),
        Err(_) => {}
    }
}

/// Decodes one event line; names are bounded.
pub fn check_event(line: &[u8]) {
    if let Ok(Some(event)) = docker::decode_event(line) {
        assert!(
            event.name.as_ref().is_none_or(|n| n.len() <= NAME_MAX),
            "event name bound"
        );
        let _ = event.id.short();
    }
}

/// Decodes an inspect document; strings are bounded.
pub fn check_inspect(body: &[u8]) {
    if let Ok(inspect) = docker::decode_inspect(body) {
        assert!(inspect.name.len() <= NAME_MAX, "inspect name bound");
        assert!(inspect.hostname.len() <= NAME_MAX, "inspect hostname bound");
        assert!(
            inspect.cpuset_cpus.len() <= docker::CPUSET_MAX,
            "cpuset bound"
        );
        assert!(inspect.pid < (1 << 22) + 1, "pid bound");
    }
}

/// Decodes a container list with a cap of `max`; the cap holds, names are bounded, and the push
/// decoder gives the same answer whether the body comes whole, cut in two or in small pieces.
pub fn check_list(body: &[u8], max: usize) {
    let whole = docker::decode_list(body, max);
    let in_pieces = |len: usize| {
        let mut decoder = docker::ListDecoder::new(max);
        for piece in body.chunks(len.max(1)) {
            decoder.feed(piece)?;
        }
        decoder.finish()
    };
    assert_eq!(in_pieces(body.len() / 2 + 1), whole, "list cut in two");
    assert_eq!(in_pieces(7), whole, "list in pieces of 7");
    if let Ok(list) = whole {
        assert!(list.containers.len() <= max, "list cap");
        assert!(
            list.containers.iter().all(|c| c.name.len() <= NAME_MAX),
            "list name bound"
        );
    }
}

/// Parses configuration text; a parse that succeeds gives values within their documented ranges,
/// one that fails names a line and says why.
pub fn check_config(text: &str) {
    match config::parse(text, Path::new("fuzz.conf")) {
        Ok(parsed) => {
            let c = &parsed.config;
            // The cap, then the count of the rest and "no collector", which are never dropped.
            assert!(parsed.warnings.len() <= MAX_WARNINGS + 2, "warnings bound");
            assert!(
                (config::MIN_DATAGRAM_BYTES..=config::MAX_DATAGRAM_BYTES)
                    .contains(&c.datagram_bytes),
                "datagramBytes {}",
                c.datagram_bytes
            );
            assert!(c.collectors.iter().all(|c| c.port != 0), "collector port 0");
            assert!(
                c.agent_cidrs
                    .iter()
                    .all(|a| a.prefix <= if a.net.is_ipv4() { 32 } else { 128 }),
                "cidr prefix"
            );
            for w in &parsed.warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // The excerpt is cut to MAX_SHOWN_CHARS characters plus "...".
            assert!(
                e.text.chars().count() <= config::MAX_SHOWN_CHARS + 3,
                "excerpt bound"
            );
        }
    }
}
