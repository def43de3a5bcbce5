//! The line splitter for the events stream: de-chunked bytes in, complete LF-terminated lines out,
//! with a bounded buffer.

use super::{reserve_within, Error};

/// Splits a byte stream on LF with a bounded line length.
///
/// [`next_line`](Self::next_line) takes a cursor (`&mut &[u8]`) over body bytes and advances it:
///
/// - `Some(Ok(line))`: one complete line, without its LF and without one trailing CR. A line that
///   lies wholly in the input is borrowed from it (no copy); one that spans several inputs is
///   assembled in the splitter's buffer. Empty lines are yielded too.
/// - `Some(Err(Error::LineTooLong))`: a line longer than the limit. It is reported once, as soon as
///   its length is known to exceed the limit; its bytes are dropped up to and including its LF and
///   splitting resumes with the next line.
/// - `None`: all input was consumed; an unfinished line (if any) is kept for the next call.
///
/// Memory is bounded by the limit given to [`new`](Self::new): the buffer's capacity never exceeds
/// it, whatever the input. [`finish`](Self::finish) hands out an unterminated last line when the
/// stream ends. Nothing here panics.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    limit: usize,
    /// Dropping the rest of an over-long line, up to its LF.
    skipping: bool,
    /// `buf` holds the line yielded last, to be dropped on the next call.
    yielded_from_buf: bool,
}

impl LineSplitter {
    /// A splitter for lines of at most `limit` bytes (not counting the LF; a CR before it counts).
    pub fn new(limit: usize) -> LineSplitter {
        LineSplitter {
            buf: Vec::new(),
            limit,
            skipping: false,
            yielded_from_buf: false,
        }
    }

    /// The next complete line of `input`, advancing it. See [`LineSplitter`] for the results.
    pub fn next_line<'s, 'a: 's>(
        &'s mut self,
        input: &mut &'a [u8],
    ) -> Option<Result<&'s [u8], Error>> {
        if self.yielded_from_buf {
            self.buf.clear();
            self.yielded_from_buf = false;
        }
        loop {
            let bytes: &'a [u8] = input;
            if bytes.is_empty() {
                return None;
            }
            let lf = bytes.iter().position(|&b| b == b'\n');
            if self.skipping {
                let Some(end) = lf else {
                    *input = &[];
                    return None;
                };
                *input = bytes.get(end + 1..).unwrap_or(&[]);
                self.skipping = false;
                continue;
            }
            let (part, rest) = match lf {
                Some(end) => (
                    bytes.get(..end).unwrap_or(bytes),
                    bytes.get(end + 1..).unwrap_or(&[]),
                ),
                None => (bytes, &[][..]),
            };
            *input = rest;
            if self.buf.len().saturating_add(part.len()) > self.limit {
                self.buf.clear();
                // An unterminated part means the line goes on: drop the rest of it later.
                self.skipping = lf.is_none();
                return Some(Err(Error::LineTooLong));
            }
            if lf.is_none() {
                self.append(part);
                return None;
            }
            if self.buf.is_empty() {
                return Some(Ok(trim_cr(part)));
            }
            self.append(part);
            self.yielded_from_buf = true;
            return Some(Ok(trim_cr(&self.buf)));
        }
    }

    /// Ends the stream: returns the unterminated last line, if any (without a trailing CR), and
    /// empties the splitter. A line being skipped for length returns nothing.
    pub fn finish(&mut self) -> Option<&[u8]> {
        let pending = !self.yielded_from_buf && !self.skipping && !self.buf.is_empty();
        self.skipping = false;
        self.yielded_from_buf = true;
        if pending {
            Some(trim_cr(&self.buf))
        } else {
            None
        }
    }

    /// Bytes of an unfinished line held in the buffer.
    pub fn buffered(&self) -> usize {
        if self.yielded_from_buf {
            0
        } else {
            self.buf.len()
        }
    }

    /// The buffer's allocated capacity; never more than the limit.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends to the buffer; the caller has checked that the result fits in the limit.
    fn append(&mut self, part: &[u8]) {
        reserve_within(&mut self.buf, part.len(), self.limit);
        self.buf.extend_from_slice(part);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testutil::splittings;

    #[derive(Debug, PartialEq, Eq, Clone)]
    enum Item {
        Line(Vec<u8>),
        TooLong,
    }
    use Item::TooLong;

    fn line(text: &str) -> Item {
        Item::Line(text.as_bytes().to_vec())
    }

    /// Splits `pieces` with the given limit; returns the items and what `finish` handed back.
    fn split(pieces: &[&[u8]], limit: usize) -> (Vec<Item>, Option<Vec<u8>>) {
        let mut splitter = LineSplitter::new(limit);
        let mut items = Vec::new();
        for piece in pieces {
            let mut rest = *piece;
            while let Some(item) = splitter.next_line(&mut rest) {
                items.push(match item {
                    Ok(line) => Item::Line(line.to_vec()),
                    Err(Error::LineTooLong) => TooLong,
                    Err(e) => panic!("{e}"),
                });
            }
            assert!(rest.is_empty());
            assert!(splitter.capacity() <= limit);
            assert!(splitter.buffered() <= limit);
        }
        let last = splitter.finish().map(<[u8]>::to_vec);
        (items, last)
    }

    #[test]
    fn split_table() {
        /// (input, limit, items, what `finish` returns)
        type Row<'a> = (&'a [u8], usize, &'a [Item], Option<&'a [u8]>);
        let rows: &[Row] = &[
            (b"", 8, &[], None),
            (b"a\nb\n", 8, &[line("a"), line("b")], None),
            (b"a\r\nb\r\n", 8, &[line("a"), line("b")], None),
            (b"a\r\r\n", 8, &[line("a\r")], None),
            (b"\r\n\n\n", 8, &[line(""), line(""), line("")], None),
            (b"a\rb\n", 8, &[line("a\rb")], None),
            (b"abc", 8, &[], Some(b"abc")),
            (b"abc\r", 8, &[], Some(b"abc")),
            (b"x\nabc", 8, &[line("x")], Some(b"abc")),
            (
                "caf\u{e9} \u{1F433}\n".as_bytes(),
                16,
                &[line("caf\u{e9} \u{1F433}")],
                None,
            ),
            // The limit counts every byte before the LF, a CR included.
            (
                b"abc\nabcd\nxy\n",
                3,
                &[line("abc"), TooLong, line("xy")],
                None,
            ),
            (b"abc\r\nxy\r\n", 3, &[TooLong, line("xy")], None),
            (b"abcdefghij\nok\n", 3, &[TooLong, line("ok")], None),
            (
                b"abcdefghij\nklmnopq\nok\n",
                3,
                &[TooLong, TooLong, line("ok")],
                None,
            ),
            (b"abcdefghij", 3, &[TooLong], None),
            (b"abcdefghij\n", 3, &[TooLong], None),
            (b"abcd\nabc", 3, &[TooLong], Some(b"abc")),
            (b"\n\na\n", 0, &[line(""), line(""), TooLong], None),
        ];
        for (input, limit, items, last) in rows {
            let expected = (items.to_vec(), last.map(<[u8]>::to_vec));
            for pieces in splittings(input, 30) {
                assert_eq!(
                    split(&pieces, *limit),
                    expected,
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    /// Random streams of short lines against a whole-buffer reference, through every splitting.
    #[test]
    fn random_streams_match_reference() {
        fn reference(input: &[u8], limit: usize) -> (Vec<Item>, Option<Vec<u8>>) {
            let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            let last = parts.pop().unwrap();
            let mut items: Vec<Item> = parts
                .iter()
                .map(|p| {
                    if p.len() > limit {
                        TooLong
                    } else {
                        Item::Line(trim_cr(p).to_vec())
                    }
                })
                .collect();
            let finish = if last.len() > limit {
                items.push(TooLong);
                None
            } else {
                Some(trim_cr(last).to_vec()).filter(|_| !last.is_empty())
            };
            (items, finish)
        }
        let mut rng = crate::http::testutil::XorShift::new(5);
        for _ in 0..300 {
            let len = rng.below(40);
            let input: Vec<u8> = (0..len).map(|_| b"ab\r\n\n"[rng.below(5)]).collect();
            let limit = rng.below(8);
            let expected = reference(&input, limit);
            for pieces in splittings(&input, 10) {
                assert_eq!(split(&pieces, limit), expected, "{input:?} limit {limit}");
            }
        }
    }

    #[test]
    fn whole_lines_are_borrowed_from_the_input() {
        let input: &[u8] = b"{\"a\":1}\npartial";
        let mut splitter = LineSplitter::new(64);
        let mut rest = input;
        let first = splitter.next_line(&mut rest).unwrap().unwrap();
        assert_eq!(first.as_ptr(), input.as_ptr());
        assert_eq!(first, b"{\"a\":1}");
        assert_eq!(splitter.next_line(&mut rest), None);
        assert_eq!(splitter.buffered(), 7);
        // The rest of the partial line arrives: it is assembled in the buffer.
        let mut rest: &[u8] = b" line\nnext\n";
        assert_eq!(
            splitter.next_line(&mut rest),
            Some(Ok(&b"partial line"[..]))
        );
        let next = splitter.next_line(&mut rest).unwrap().unwrap();
        assert_eq!(next, b"next");
        assert_eq!(splitter.buffered(), 0);
        assert_eq!(splitter.finish(), None);
    }

    /// An event line of several MiB without a newline: reported once, memory stays under the limit,
    /// and the lines after it come through.
    #[test]
    fn huge_line_is_skipped_with_bounded_memory() {
        const LIMIT: usize = 1 << 20;
        let mut splitter = LineSplitter::new(LIMIT);
        let piece = vec![b'x'; 64 * 1024];
        let mut too_long = 0;
        for _ in 0..(5 * LIMIT / piece.len()) {
            let mut rest = &piece[..];
            while let Some(item) = splitter.next_line(&mut rest) {
                assert_eq!(item, Err(Error::LineTooLong));
                too_long += 1;
            }
            assert!(
                splitter.capacity() <= LIMIT,
                "capacity {}",
                splitter.capacity()
            );
        }
        assert_eq!(too_long, 1);
        let mut rest: &[u8] = b"xxx\n{\"Action\":\"start\"}\n";
        assert_eq!(
            splitter.next_line(&mut rest),
            Some(Ok(&b"{\"Action\":\"start\"}"[..]))
        );
        assert_eq!(splitter.next_line(&mut rest), None);

        // A line of exactly the limit, arriving in pieces, fits; one byte more (a CR) does not.
        let feed_limit = |splitter: &mut LineSplitter| {
            for _ in 0..LIMIT / piece.len() {
                assert_eq!(splitter.next_line(&mut &piece[..]), None);
            }
        };
        feed_limit(&mut splitter);
        assert_eq!(splitter.buffered(), LIMIT);
        assert_eq!(
            splitter.next_line(&mut &b"\r\n"[..]),
            Some(Err(Error::LineTooLong))
        );
        feed_limit(&mut splitter);
        assert_eq!(
            splitter.next_line(&mut &b"\n"[..]).unwrap().unwrap().len(),
            LIMIT
        );
        assert!(splitter.capacity() <= LIMIT);
    }
}
