//! The body decoder: Content-Length, chunked and read-until-close bodies, push-style and zero-copy.
//!
//! Chunk-size lines follow RFC 9112 §7.1 as `httparse::parse_chunk_size` reads them: hex digits in
//! either case (at most 16), optional spaces or tabs, optional `;extensions` (at most
//! [`MAX_CHUNK_EXT_LEN`] bytes, content ignored), then CRLF. A chunk may announce at most
//! [`MAX_CHUNK_SIZE`] bytes. After the `0` chunk, trailer fields (at most [`MAX_TRAILER_LEN`] bytes
//! in all) are skipped up to the empty line. The decoder keeps no copy of the input: a chunk-size
//! line split across reads is parsed byte by byte. Nothing here allocates or panics.

use super::{Error, Framing};

/// The largest chunk accepted. Engines flush per event or per document, far below this.
pub const MAX_CHUNK_SIZE: u64 = 64 * 1024 * 1024;
/// The longest chunk extension (`;name=value...`) accepted on one chunk-size line.
pub const MAX_CHUNK_EXT_LEN: usize = 1024;
/// The most bytes of trailer fields accepted after the last chunk.
pub const MAX_TRAILER_LEN: usize = 16 * 1024;

/// The most hex digits in a chunk size, as `httparse` allows.
const MAX_CHUNK_SIZE_DIGITS: u8 = 16;

/// Decodes one response body from bytes pushed by the caller.
///
/// [`decode`](Self::decode) takes a cursor over the caller's bytes (`&mut &[u8]`), advances it past
/// what it consumed and hands out body data as sub-slices of those same bytes. Because the cursor
/// itself moves, a caller cannot lose track of what was consumed: it calls again with what is left.
///
/// - `Ok(Some(data))`: `data` (never empty) is body content; call again.
/// - `Ok(None)`: either the body is complete ([`is_done`](Self::is_done); the cursor then starts at
///   the first byte after the body), or all input was consumed and more is needed.
/// - `Err(e)`: the body is malformed; the decoder keeps returning `e`.
///
/// [`eof`](Self::eof) reports the peer closing: it completes a read-until-close body and is
/// [`Error::Truncated`] for a Content-Length or chunked body that is not finished.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A Content-Length body with this many bytes still to come.
    Length(u64),
    /// A chunked body, at this point of the chunk framing grammar.
    Chunked(Chunk),
    /// A chunked body, inside a chunk's data with this many bytes still to come.
    ChunkData(u64),
    /// A body that ends when the peer closes.
    UntilClose,
    /// The body is complete.
    Done,
    /// The body was malformed.
    Failed(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before the first hex digit of a size.
    SizeStart,
    /// Among the hex digits of a size.
    Size { size: u64, digits: u8 },
    /// Spaces or tabs after the size digits.
    SizeSpace { size: u64 },
    /// Inside `;extensions`, ignored.
    Extension { size: u64, len: usize },
    /// After the CR that ends a size line.
    SizeLf { size: u64 },
    /// Expecting the CR after a chunk's data.
    DataCr,
    /// Expecting the LF after a chunk's data.
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart { total: usize },
    /// Inside a trailer field line.
    TrailerField { total: usize },
    /// After the CR that ends a trailer field line.
    TrailerFieldLf { total: usize },
    /// After the CR of the final empty line.
    EndLf,
}

/// Where one framing byte leads.
enum Step {
    /// Still in the framing grammar.
    Framing(Chunk),
    /// At the start of a chunk's data of this many bytes (never 0).
    Data(u64),
    /// Past the end of the body.
    Finished,
}

impl BodyDecoder {
    /// A decoder for a body with the given framing. [`Framing::NoBody`] and `Length(0)` are
    /// complete at once.
    pub fn new(framing: Framing) -> BodyDecoder {
        let state = match framing {
            Framing::NoBody | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::SizeStart),
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder { state }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, advancing it past the consumed bytes. See [`BodyDecoder`] for the
    /// meaning of each result.
    pub fn decode<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<&'a [u8]>, Error> {
        let result = self.decode_inner(input);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    fn decode_inner<'a>(&mut self, input: &mut &'a [u8]) -> Result<Option<&'a [u8]>, Error> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Failed(e) => return Err(e),
                State::UntilClose => return Ok(take(input, u64::MAX)),
                State::Length(remaining) => {
                    let data = take(input, remaining);
                    let left = remaining.saturating_sub(data.map_or(0, len_u64));
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(data);
                }
                State::ChunkData(remaining) => {
                    let data = take(input, remaining);
                    let left = remaining.saturating_sub(data.map_or(0, len_u64));
                    self.state = if left == 0 {
                        State::Chunked(Chunk::DataCr)
                    } else {
                        State::ChunkData(left)
                    };
                    // `None` here means the input is empty.
                    return Ok(data);
                }
                State::Chunked(chunk) => {
                    let Some((&byte, rest)) = input.split_first() else {
                        return Ok(None);
                    };
                    *input = rest;
                    self.state = match framing_byte(chunk, byte)? {
                        Step::Framing(next) => State::Chunked(next),
                        Step::Data(size) => State::ChunkData(size),
                        Step::Finished => State::Done,
                    };
                }
            }
        }
    }

    /// Reports that the peer closed the connection. `Ok` if the body is complete (a read-until-close
    /// body completes here); [`Error::Truncated`] if a Content-Length or chunked body is unfinished.
    pub fn eof(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::UntilClose => {
                self.state = State::Done;
                Ok(())
            }
            State::Failed(e) => Err(e),
            State::Length(_) | State::Chunked(_) | State::ChunkData(_) => {
                self.state = State::Failed(Error::Truncated);
                Err(Error::Truncated)
            }
        }
    }
}

/// Splits at most `limit` bytes off the front of `input`; `None` when nothing can be taken.
fn take<'a>(input: &mut &'a [u8], limit: u64) -> Option<&'a [u8]> {
    let n = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .min(input.len());
    if n == 0 {
        return None;
    }
    let (data, rest) = input.split_at(n);
    *input = rest;
    Some(data)
}

fn len_u64(data: &[u8]) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}

/// Advances the chunk framing grammar (everything but chunk data) by one byte.
fn framing_byte(chunk: Chunk, byte: u8) -> Result<Step, Error> {
    use Chunk::*;
    let hex = char::from(byte).to_digit(16).map(u64::from);
    let next = match (chunk, byte, hex) {
        (SizeStart, _, Some(digit)) => Size {
            size: digit,
            digits: 1,
        },
        (SizeStart, _, None) => return Err(Error::BadChunkSize),
        (
            Size {
                digits: MAX_CHUNK_SIZE_DIGITS,
                ..
            },
            _,
            Some(_),
        ) => return Err(Error::BadChunkSize),
        // At most 16 digits, so the size never overflows.
        (Size { size, digits }, _, Some(digit)) => Size {
            size: size << 4 | digit,
            digits: digits + 1,
        },
        (Size { size, .. } | SizeSpace { size }, b' ' | b'\t', _) => SizeSpace { size },
        (Size { size, .. } | SizeSpace { size }, b';', _) => Extension { size, len: 0 },
        (Size { size, .. } | SizeSpace { size } | Extension { size, .. }, b'\r', _) => {
            SizeLf { size }
        }
        (Size { .. } | SizeSpace { .. }, _, _) => return Err(Error::BadChunkSize),
        (Extension { .. }, b'\n', _) => return Err(Error::BadChunkSize),
        (
            Extension {
                len: MAX_CHUNK_EXT_LEN..,
                ..
            },
            _,
            _,
        ) => return Err(Error::BadChunkSize),
        (Extension { size, len }, _, _) => Extension { size, len: len + 1 },
        (SizeLf { size: 0 }, b'\n', _) => TrailerStart { total: 0 },
        (SizeLf { size }, b'\n', _) if size > MAX_CHUNK_SIZE => return Err(Error::ChunkTooLarge),
        (SizeLf { size }, b'\n', _) => return Ok(Step::Data(size)),
        (SizeLf { .. }, _, _) => return Err(Error::BadChunkSize),
        (DataCr, b'\r', _) => DataLf,
        (DataLf, b'\n', _) => SizeStart,
        (DataCr | DataLf, _, _) => return Err(Error::BadChunkTerminator),
        (TrailerStart { .. }, b'\r', _) => EndLf,
        (EndLf, b'\n', _) => return Ok(Step::Finished),
        (TrailerField { total }, b'\r', _) => TrailerFieldLf { total },
        (TrailerFieldLf { total }, b'\n', _) => TrailerStart { total },
        (
            TrailerStart {
                total: MAX_TRAILER_LEN..,
            }
            | TrailerField {
                total: MAX_TRAILER_LEN..,
            },
            _,
            _,
        ) => return Err(Error::BadTrailer),
        (TrailerStart { total } | TrailerField { total }, _, _) if byte != b'\n' => {
            TrailerField { total: total + 1 }
        }
        (TrailerStart { .. } | TrailerField { .. } | TrailerFieldLf { .. } | EndLf, _, _) => {
            return Err(Error::BadTrailer)
        }
    };
    Ok(Step::Framing(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::{dechunk_reference, splittings};

    /// What a decoder made of some reads: the body, then whether it finished and how many bytes
    /// were left after its end, or the error.
    #[derive(Debug, PartialEq, Eq)]
    struct Outcome {
        body: Vec<u8>,
        result: Result<(bool, usize), Error>,
    }

    fn run(framing: Framing, pieces: &[&[u8]], eof: bool) -> Outcome {
        let mut decoder = BodyDecoder::new(framing);
        let mut body = Vec::new();
        let mut leftover = 0;
        for piece in pieces {
            let mut rest = *piece;
            loop {
                match decoder.decode(&mut rest) {
                    Ok(Some(data)) => {
                        assert!(!data.is_empty());
                        body.extend_from_slice(data);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Outcome {
                            body,
                            result: Err(e),
                        }
                    }
                }
            }
            if decoder.is_done() {
                leftover += rest.len();
            } else {
                assert!(rest.is_empty(), "need-more must consume everything");
            }
        }
        if eof {
            if let Err(e) = decoder.eof() {
                return Outcome {
                    body,
                    result: Err(e),
                };
            }
        }
        Outcome {
            body,
            result: Ok((decoder.is_done(), leftover)),
        }
    }

    /// Runs every splitting of `input` and checks they all agree; returns the common outcome.
    fn run_all(framing: Framing, input: &[u8], eof: bool) -> Outcome {
        let whole = run(framing, &[input], eof);
        for pieces in splittings(input, 20) {
            assert_eq!(
                run(framing, &pieces, eof),
                whole,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        whole
    }

    #[test]
    fn chunked_valid_table() {
        let rows: &[(&[u8], &[u8], usize)] = &[
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello", 0),
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world", 0),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 0),
            (b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", 0),
            (b"00005\r\nhello\r\n000\r\n\r\n", b"hello", 0),
            (
                b"000000000000000A\r\n0123456789\r\n0000000000000000\r\n\r\n",
                b"0123456789",
                0,
            ),
            (b"5;name=value\r\nhello\r\n0;last\r\n\r\n", b"hello", 0),
            (b"5;a=\"q;\\\"\"\r\nhello\r\n0\r\n\r\n", b"hello", 0),
            (b"5 \t ;ext\r\nhello\r\n0\r\n\r\n", b"hello", 0),
            (b"5\t\r\nhello\r\n0 \r\n\r\n", b"hello", 0),
            (b"2\r\n\r\n\r\n1\r\n\n\r\n0\r\n\r\n", b"\r\n\n", 0),
            (b"0\r\n\r\n", b"", 0),
            (b"0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n", b"", 0),
            (b"3\r\nabc\r\n0\r\nX: \r\n\r\n", b"abc", 0),
            (b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", b"hello", 17),
            // An "é" cut between two chunks passes through byte for byte.
            (
                b"1\r\n\xc3\r\n1\r\n\xa9\r\n0\r\n\r\n",
                "\u{e9}".as_bytes(),
                0,
            ),
            (
                b"3\r\n\xf0\x9f\x90\r\n1\r\n\xb3\r\n0\r\n\r\n",
                "\u{1F433}".as_bytes(),
                0,
            ),
        ];
        for &(input, body, leftover) in rows {
            let outcome = run_all(Framing::Chunked, input, false);
            let text = String::from_utf8_lossy(input);
            assert_eq!(
                outcome,
                Outcome {
                    body: body.to_vec(),
                    result: Ok((true, leftover))
                },
                "{text}"
            );
            // The independent reference agrees.
            assert_eq!(dechunk_reference(input), body, "{text}");
        }
    }

    #[test]
    fn chunked_error_table() {
        let rows: &[(&[u8], Error)] = &[
            (b"\r\n", Error::BadChunkSize),
            (b"x\r\n", Error::BadChunkSize),
            (b"g\r\n", Error::BadChunkSize),
            (b" 5\r\nhello\r\n", Error::BadChunkSize),
            (b"-1\r\n", Error::BadChunkSize),
            (b"+5\r\n", Error::BadChunkSize),
            (b"0x5\r\nhello\r\n", Error::BadChunkSize),
            (b"5 5\r\n", Error::BadChunkSize),
            (b"5\nhello\r\n", Error::BadChunkSize),
            (b"5\rhello\r\n", Error::BadChunkSize),
            (b";ext\r\n", Error::BadChunkSize),
            (b"5;ext\nhello\r\n", Error::BadChunkSize),
            (b"10000000000000000\r\n", Error::BadChunkSize),
            (b"00000000000000000\r\n", Error::BadChunkSize),
            (b"fffffffffffffffff\r\n", Error::BadChunkSize),
            (b"FFFFFFFFFFFFFFFF\r\n", Error::ChunkTooLarge),
            (b"8000000000000000\r\n", Error::ChunkTooLarge),
            (b"4000001\r\n", Error::ChunkTooLarge),
            (b"5\r\nhelloX\r\n", Error::BadChunkTerminator),
            (b"5\r\nhello\rX", Error::BadChunkTerminator),
            (b"5\r\nhello\n0\r\n\r\n", Error::BadChunkTerminator),
            (b"5\r\nhello world\r\n", Error::BadChunkTerminator),
            (b"3\r\nhello\r\n", Error::BadChunkTerminator),
            (b"0\r\n\n", Error::BadTrailer),
            (b"0\r\nX: y\n\r\n", Error::BadTrailer),
            (b"0\r\nX: y\rz", Error::BadTrailer),
            (b"0\r\n\rX", Error::BadTrailer),
        ];
        for &(input, error) in rows {
            let outcome = run_all(Framing::Chunked, input, false);
            assert_eq!(
                outcome.result,
                Err(error),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
        // A failed decoder stays failed, even for good bytes.
        let mut decoder = BodyDecoder::new(Framing::Chunked);
        assert_eq!(decoder.decode(&mut &b"x"[..]), Err(Error::BadChunkSize));
        assert_eq!(
            decoder.decode(&mut &b"0\r\n\r\n"[..]),
            Err(Error::BadChunkSize)
        );
        assert_eq!(decoder.eof(), Err(Error::BadChunkSize));
    }

    #[test]
    fn chunk_limits() {
        // The largest chunk is accepted (and then awaits its data).
        let outcome = run_all(Framing::Chunked, b"4000000\r\nabc", false);
        assert_eq!(
            outcome,
            Outcome {
                body: b"abc".to_vec(),
                result: Ok((false, 0))
            }
        );
        // Extensions up to the limit pass; one byte more fails.
        let mut input = b"1;".to_vec();
        input.resize(2 + MAX_CHUNK_EXT_LEN, b'e');
        input.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert_eq!(
            run_all(Framing::Chunked, &input, false).result,
            Ok((true, 0))
        );
        input.insert(3, b'e');
        assert_eq!(
            run_all(Framing::Chunked, &input, false).result,
            Err(Error::BadChunkSize)
        );
        // Trailers likewise.
        let mut input = b"0\r\nX: ".to_vec();
        input.resize(3 + MAX_TRAILER_LEN, b't');
        input.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            run(Framing::Chunked, &[&input], false).result,
            Ok((true, 0))
        );
        input.insert(6, b't');
        assert_eq!(
            run(Framing::Chunked, &[&input], false).result,
            Err(Error::BadTrailer)
        );
    }

    #[test]
    fn truncation_at_every_byte() {
        let chunked: &[u8] = b"5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nTrailer: t\r\n\r\n";
        let cases: &[(Framing, &[u8])] = &[
            (Framing::Chunked, chunked),
            (Framing::Length(11), b"hello world"),
        ];
        for &(framing, input) in cases {
            for cut in 0..input.len() {
                let outcome = run(framing, &[&input[..cut]], true);
                assert_eq!(
                    outcome.result,
                    Err(Error::Truncated),
                    "{framing:?} cut at {cut}"
                );
            }
            assert_eq!(run(framing, &[input], true).result, Ok((true, 0)));
        }
    }

    #[test]
    fn content_length_and_until_close() {
        let expect = |body: &[u8], result| Outcome {
            body: body.to_vec(),
            result,
        };
        assert_eq!(
            run_all(Framing::Length(5), b"hello", false),
            expect(b"hello", Ok((true, 0)))
        );
        assert_eq!(
            run_all(Framing::Length(5), b"helloEXTRA", false),
            expect(b"hello", Ok((true, 5)))
        );
        assert_eq!(
            run_all(Framing::Length(5), b"hel", false),
            expect(b"hel", Ok((false, 0)))
        );
        assert_eq!(
            run_all(Framing::Length(0), b"next", false),
            expect(b"", Ok((true, 4)))
        );
        assert_eq!(
            run_all(Framing::NoBody, b"next", false),
            expect(b"", Ok((true, 4)))
        );
        let huge = Framing::Length(u64::MAX);
        assert_eq!(
            run_all(huge, b"data", false),
            expect(b"data", Ok((false, 0)))
        );
        assert_eq!(run_all(huge, b"data", true).result, Err(Error::Truncated));
        // Until close: everything is body, and the close ends it.
        let text: &[u8] = b"{\"a\":1}\r\n0\r\n\r\n";
        assert_eq!(
            run_all(Framing::UntilClose, text, false),
            expect(text, Ok((false, 0)))
        );
        assert_eq!(
            run_all(Framing::UntilClose, text, true),
            expect(text, Ok((true, 0)))
        );
        assert_eq!(
            run_all(Framing::UntilClose, b"", true),
            expect(b"", Ok((true, 0)))
        );
    }

    #[test]
    fn empty_input_changes_nothing() {
        for framing in [Framing::Chunked, Framing::Length(3), Framing::UntilClose] {
            let mut decoder = BodyDecoder::new(framing);
            let mut empty: &[u8] = &[];
            assert_eq!(decoder.decode(&mut empty), Ok(None));
            assert!(!decoder.is_done());
        }
        let mut decoder = BodyDecoder::new(Framing::Length(0));
        assert_eq!(decoder.decode(&mut &b""[..]), Ok(None));
        assert!(decoder.is_done());
        assert_eq!(decoder.eof(), Ok(()));
    }
}
