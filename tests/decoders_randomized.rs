//! The decoders on mutated recordings, on the stable toolchain, in every `make test`: the same
//! checks as the fuzz targets (tests/fuzz/src/oracle.rs, included below), driven by a fixed-seed
//! xorshift instead of a fuzzer, so every run sees the same inputs and a failure reproduces.
//!
//! Inputs: the engine answers recorded byte for byte (tests/fixtures/recorded/*.http,
//! tests/fixtures/http/*.http) and the configuration fixtures (tests/fixtures/config), each
//! mutated a few times (bit flips, interesting bytes and tokens inserted, ranges deleted,
//! duplicated, spliced from another recording, truncation). For each input:
//!
//! - the response decoder, the line splitter behind it and the one-shot collector give the same
//!   head, body, lines, end and error whether the input comes whole, in random pieces or byte by
//!   byte (split independence), and respect their bounds;
//! - the body decoder alone, for every framing, likewise;
//! - the line splitter gives the lines a plain reading gives;
//! - every line goes through `decode_event`, every body through `decode_inspect` and
//!   `decode_list`, every configuration through `config::parse`, none panics and every bound holds.
//!
//! Bounded: a few seconds in a debug build (the counts below).

#[path = "fuzz/src/oracle.rs"]
mod oracle;

use std::path::Path;
use std::time::Instant;

use csflowd::http::MAX_HEAD_LEN;
use oracle::{Exchange, Line};

/// Mutated variants of each recording.
const MUTATIONS_PER_RECORDING: usize = 100;
/// Mutated variants of each configuration fixture.
const MUTATIONS_PER_CONFIG: usize = 400;
/// Mutated variants of each JSON document.
const MUTATIONS_PER_DOCUMENT: usize = 100;
/// Random splits tried per input (besides whole and byte by byte).
const SPLITS: usize = 3;

/// xorshift64*: a tiny deterministic generator (no crate).
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A piece length for a split: mostly short (reads that cut everything), sometimes long.
    fn piece_len(&mut self) -> usize {
        match self.below(4) {
            0 => 1,
            1 => 1 + self.below(8),
            2 => 1 + self.below(64),
            _ => 1 + self.below(4096),
        }
    }
}

/// Bytes that matter to HTTP framing, JSON and UTF-8, inserted by the mutator.
const HTTP_TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"0\r\n\r\n",
    b"1\r\n",
    b"ffffffffffffffff\r\n",
    b"10000000000000000\r\n",
    b"4000001\r\n",
    b";ext=\"v\"",
    b" \t",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Connection: close\r\n",
    b"Api-Version: 1.99\r\n",
    b"HTTP/1.0 200 OK\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n",
    b"Trailer: x\r\n",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\xf0\x9f\x98\x80",
    b"\xff",
    b"\0",
];

/// JSON pieces, including the fields the decoders read, inserted by the mutator.
const JSON_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\u00e9",
    b":",
    b",",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"4194305",
    b"1e999",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"\"Id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"",
    b"\"Id\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"",
    b"\"Name\":\"/x\"",
    b"\"State\":{\"Status\":\"paused\",\"Pid\":-5}",
    b"\"Pid\":99999999",
    b"\"Action\":\"die\"",
    b"\"Action\":\"exec_start: sh\"",
    b"\"status\":\"start\"",
    b"\"Type\":\"container\"",
    b"\"Type\":\"network\"",
    b"\"Actor\":{\"ID\":\"\",\"Attributes\":{}}",
    b"\"exitCode\":\"2147483648\"",
    b"\"timeNano\":-1",
    b"\"Names\":[\"/a/b\",\"/c\"]",
    b"\"CpusetCpus\":\"0-3,8\"",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
];

/// Configuration words and values, inserted by the mutator.
const CONFIG_TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"=",
    b";",
    b"#",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b" ",
    b"sflow",
    b"collector",
    b"docker",
    b"polling",
    b"counterPollingInterval",
    b"datagramBytes",
    b"agentIP",
    b"agent",
    b"agent.cidr",
    b"subAgentId",
    b"uuid",
    b"udpport",
    b"ip",
    b"hostname",
    b"socket",
    b"sampling.http",
    b"pcap { dev = eth0 }",
    b"::1",
    b"fe80::1%eth0",
    b"10.0.0.0/8",
    b"!192.168.0.0/255.255.0.0",
    b"4294967296",
    b"5G",
    b"0",
    b"65536",
    b"01234567-89ab-cdef-0123-456789abcdef",
    b"on",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"{{{{{{{{{{{{{{{{{{{{",
];

/// Applies one to four random edits to `input`.
fn mutate(rng: &mut XorShift, input: &[u8], tokens: &[&[u8]], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = *rng.pick(b"\r\n\0\xff :;\"{}[]0123456789abcdefABCDEF-.");
            }
            2 | 3 => {
                let token = rng.pick(tokens);
                out.splice(at..at, token.iter().copied());
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(out.len());
                out.drain(at..end);
            }
            5 => {
                let end = (at + 1 + rng.below(256)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len() + 1);
                out.splice(to..to, copy);
            }
            6 => out.truncate(at),
            _ => {
                let other = rng.pick(pool);
                let from = rng.below(other.len() + 1);
                let end = (from + 1 + rng.below(512)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
        }
    }
    out
}

/// The files with this extension in `dir`, sorted, with their names.
fn read_dir(dir: &str, ext: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.{ext} in {}", dir.display());
    files
}

/// Every recorded engine answer.
fn recordings() -> Vec<(String, Vec<u8>)> {
    let mut all = read_dir("tests/fixtures/recorded", "http");
    all.extend(read_dir("tests/fixtures/http", "http"));
    all
}

/// The response decoder on `input` whole, byte by byte and in random pieces: the same answer each
/// time; the collector agrees; returns the answer.
fn response_any_split(
    rng: &mut XorShift,
    input: &[u8],
    body_limit: u64,
    line_limit: usize,
) -> Exchange {
    let whole = oracle::run_response(&[input], body_limit, line_limit);
    let one_byte = oracle::pieces(input, || 1);
    assert_eq!(
        oracle::run_response(&one_byte, body_limit, line_limit),
        whole,
        "byte by byte"
    );
    for _ in 0..SPLITS {
        let split = oracle::pieces(input, || rng.piece_len());
        assert_eq!(
            oracle::run_response(&split, body_limit, line_limit),
            whole,
            "in {} pieces",
            split.len()
        );
        let collector_limit = usize::try_from(body_limit).unwrap_or(usize::MAX);
        oracle::check_collector(&split, collector_limit, &whole);
    }
    for line in &whole.lines {
        if let Line::Text(line) = line {
            oracle::check_event(line);
        }
    }
    if let Some(line) = &whole.last_line {
        oracle::check_event(line);
    }
    oracle::check_inspect(&whole.body);
    oracle::check_list(&whole.body, 2);
    oracle::check_list(&whole.body, usize::MAX);
    whole
}

/// Runs `body` with the failing input named, so a failure says which seed and fixture to replay.
fn with_context(what: &str, body: impl FnOnce()) {
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        eprintln!("failed on {what}");
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn recordings_decode_the_same_in_any_split() {
    let mut rng = XorShift::new(1);
    for (name, bytes) in recordings() {
        with_context(&name, || {
            let whole = response_any_split(&mut rng, &bytes, u64::MAX, 1 << 20);
            // Not vacuous: each recording is a real answer, read whole.
            let head = whole.head.unwrap_or_else(|| panic!("{name}: no head"));
            assert!(whole.error.is_none(), "{name}: {:?}", whole.error);
            if head.status == 200 && name.contains("events") {
                let events = whole
                    .lines
                    .iter()
                    .filter(|l| matches!(l, Line::Text(t) if !t.is_empty()))
                    .count();
                assert!(events > 0, "{name}: no event lines");
            }
        });
    }
}

#[test]
fn mutated_recordings_decode_the_same_in_any_split() {
    let began = Instant::now();
    let recordings = recordings();
    let pool: Vec<Vec<u8>> = recordings.iter().map(|(_, b)| b.clone()).collect();
    let tokens: Vec<&[u8]> = HTTP_TOKENS.iter().chain(JSON_TOKENS).copied().collect();
    let mut count = 0;
    for (n, (name, bytes)) in recordings.iter().enumerate() {
        let seed = 1000 + n as u64;
        let mut rng = XorShift::new(seed);
        for i in 0..MUTATIONS_PER_RECORDING {
            let input = mutate(&mut rng, bytes, &tokens, &pool);
            // Mostly the agent's limits; sometimes small ones, so that the bounds are crossed.
            let body_limit = match rng.below(3) {
                0 => rng.below(input.len() + 1) as u64,
                _ => u64::MAX,
            };
            let line_limit = match rng.below(3) {
                0 => rng.below(600),
                _ => 1 << 20,
            };
            with_context(&format!("{name}, seed {seed}, mutation {i}"), || {
                response_any_split(&mut rng, &input, body_limit, line_limit);
            });
            count += 1;
        }
    }
    eprintln!("{count} mutated responses in {:?}", began.elapsed());
}

#[test]
fn mutated_bodies_decode_the_same_in_any_split() {
    let recordings = recordings();
    let pool: Vec<Vec<u8>> = recordings.iter().map(|(_, b)| b.clone()).collect();
    let mut rng = XorShift::new(2);
    for (name, bytes) in &recordings {
        // The body as sent: everything after the head.
        let whole = oracle::run_response(&[bytes], u64::MAX, 1 << 20);
        let head_len = bytes.len() - whole.body.len() - whole.after.len();
        let raw_body = &bytes[head_len.min(bytes.len())..];
        for i in 0..MUTATIONS_PER_RECORDING {
            let input = mutate(&mut rng, raw_body, HTTP_TOKENS, &pool);
            let framing =
                oracle::framing_from(rng.below(4) as u8, rng.below(input.len() + 8) as u64);
            with_context(&format!("{name} body, {framing:?}, mutation {i}"), || {
                let expected = oracle::run_body(framing, &[&input]);
                let one_byte = oracle::pieces(&input, || 1);
                assert_eq!(
                    oracle::run_body(framing, &one_byte),
                    expected,
                    "byte by byte"
                );
                for _ in 0..SPLITS {
                    let split = oracle::pieces(&input, || rng.piece_len());
                    assert_eq!(oracle::run_body(framing, &split), expected, "in pieces");
                }
            });
        }
    }
}

#[test]
fn mutated_event_streams_split_into_the_lines_a_plain_reading_gives() {
    let recordings = recordings();
    let streams: Vec<(String, Vec<u8>)> = recordings
        .iter()
        .filter(|(name, _)| name.contains("events"))
        .map(|(name, bytes)| {
            (
                name.clone(),
                oracle::run_response(&[bytes], u64::MAX, 1 << 20).body,
            )
        })
        .collect();
    assert!(!streams.is_empty());
    let pool: Vec<Vec<u8>> = streams.iter().map(|(_, b)| b.clone()).collect();
    let mut rng = XorShift::new(3);
    for (name, body) in &streams {
        for i in 0..MUTATIONS_PER_RECORDING {
            let input = mutate(&mut rng, body, JSON_TOKENS, &pool);
            let limit = match rng.below(3) {
                0 => rng.below(64),
                1 => rng.below(1024),
                _ => 1 << 20,
            };
            with_context(
                &format!("{name} lines, limit {limit}, mutation {i}"),
                || {
                    let expected = oracle::reference_lines(&input, limit);
                    assert_eq!(oracle::run_lines(&[&input], limit), expected, "whole");
                    let one_byte = oracle::pieces(&input, || 1);
                    assert_eq!(
                        oracle::run_lines(&one_byte, limit),
                        expected,
                        "byte by byte"
                    );
                    for _ in 0..SPLITS {
                        let split = oracle::pieces(&input, || rng.piece_len());
                        assert_eq!(oracle::run_lines(&split, limit), expected, "in pieces");
                    }
                },
            );
        }
    }
}

#[test]
fn mutated_documents_decode_without_panic() {
    // Every event line, inspect and list body of the recordings, then mutated.
    let mut documents: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, bytes) in recordings() {
        let whole = oracle::run_response(&[&bytes], u64::MAX, 1 << 20);
        if name.contains("events") {
            for (n, line) in whole.lines.iter().enumerate() {
                if let Line::Text(line) = line {
                    documents.push((format!("{name} line {n}"), line.clone()));
                }
            }
        } else {
            documents.push((name, whole.body));
        }
    }
    let pool: Vec<Vec<u8>> = documents.iter().map(|(_, d)| d.clone()).collect();
    let mut rng = XorShift::new(4);
    let mut decoded = 0;
    for (name, document) in &documents {
        for i in 0..MUTATIONS_PER_DOCUMENT {
            let input = mutate(&mut rng, document, JSON_TOKENS, &pool);
            with_context(&format!("{name}, mutation {i}"), || {
                oracle::check_event(&input);
                oracle::check_inspect(&input);
                oracle::check_list(&input, rng.below(4));
            });
            decoded += 1;
        }
    }
    eprintln!("{decoded} mutated documents");
}

#[test]
fn mutated_configurations_parse_without_panic() {
    let mut configs = read_dir("tests/fixtures/config", "conf");
    configs.extend(read_dir("tests/fixtures/config/bad", "conf"));
    let pool: Vec<Vec<u8>> = configs.iter().map(|(_, c)| c.clone()).collect();
    let mut rng = XorShift::new(5);
    for (name, text) in &configs {
        with_context(name, || {
            oracle::check_config(&String::from_utf8_lossy(text))
        });
        for i in 0..MUTATIONS_PER_CONFIG {
            let input = mutate(&mut rng, text, CONFIG_TOKENS, &pool);
            with_context(&format!("{name}, mutation {i}"), || {
                oracle::check_config(&String::from_utf8_lossy(&input));
            });
        }
    }
}

#[test]
fn heads_around_the_size_bound_decode_the_same_in_any_split() {
    // A head that ends just within, at, or just past MAX_HEAD_LEN, grown by one long header field.
    let mut rng = XorShift::new(6);
    for delta in [-3i64, -2, -1, 0, 1, 2, 64] {
        let start = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: ";
        let end = b"\r\n\r\nok";
        // The head is everything but the 2 body bytes.
        let head_len = (MAX_HEAD_LEN as i64 + delta) as usize;
        let pad = head_len - start.len() - (end.len() - 2);
        let input = [&start[..], &vec![b'a'; pad], &end[..]].concat();
        with_context(&format!("head of {head_len} bytes"), || {
            let whole = response_any_split(&mut rng, &input, u64::MAX, 1 << 20);
            if head_len <= MAX_HEAD_LEN {
                assert_eq!(whole.body, b"ok", "{head_len}: {:?}", whole.error);
            } else {
                assert_eq!(whole.error, Some(csflowd::http::Error::HeadTooLarge));
            }
            oracle::check_head(&input);
        });
    }
}
