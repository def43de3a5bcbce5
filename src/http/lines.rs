//! The line splitter for the events stream: de-chunked bytes in, complete LF-terminated lines out.
//!
//! [`LineSplitter::next_line`] takes a cursor (`&mut &[u8]`) over body bytes and advances it:
//!
//! - `Some(Ok(line))`: one complete line, without its LF and without one trailing CR. A line that
//!   lies wholly in the input is borrowed from it (no copy); one that spans several inputs is
//!   assembled in the splitter's buffer. Empty lines are yielded too.
//! - `Some(Err(Error::LineTooLong))`: a line longer than the limit. It is reported once, as soon as
//!   its length is known to exceed the limit; its bytes are dropped up to and including its LF and
//!   splitting resumes with the next line.
//! - `None`: all input was consumed; an unfinished line (if any) is kept for the next call.
//!
//! Memory is bounded by the limit given to [`LineSplitter::new`]: the buffer's capacity never
//! exceeds it, whatever the input. [`finish`](LineSplitter::finish) hands out an unterminated last
//! line when the stream ends. Nothing here panics.

use super::Error;

/// The smallest buffer allocation, so that short fragments do not reallocate byte by byte.
const MIN_BUFFER: usize = 256;

/// Splits a byte stream on LF with a bounded line length. See the [module docs](self).
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
        LineSplitter { buf: Vec::new(), limit, skipping: false, yielded_from_buf: false }
    }

    /// The next complete line of `input`, advancing it. See the [module docs](self).
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
                Some(end) => (bytes.get(..end).unwrap_or(bytes), bytes.get(end + 1..).unwrap_or(&[])),
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

    /// Appends to the buffer, growing it geometrically but never past the limit. The caller has
    /// checked that the result fits in the limit.
    fn append(&mut self, part: &[u8]) {
        let needed = self.buf.len().saturating_add(part.len());
        if needed > self.buf.capacity() {
            let target = self.buf.capacity().saturating_mul(2).max(MIN_BUFFER).max(needed);
            let target = target.min(self.limit).max(needed);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(part);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}
