//! A hand-written HTTP/1.1 client for the engine's UNIX socket: a request writer and push-style
//! response decoders. No sockets here: the event loop reads from its non-blocking socket and pushes
//! the bytes in, split wherever the reads happened to split them.
//!
//! The pieces, each usable alone:
//!
//! - [`write_get`] appends a `GET` request to a caller buffer; [`percent_encode_into`] encodes query
//!   values such as the events `filters` JSON.
//! - [`parse_head`] turns a response head into an owned [`ResponseHead`] (status, [`Framing`],
//!   `Api-Version`, Podman detection, `Server`), using `httparse`.
//! - [`BodyDecoder`] decodes a Content-Length, chunked or read-until-close body.
//! - [`ResponseDecoder`] chains the two over raw socket bytes, with a body limit;
//!   [`ResponseCollector`] gathers a whole one-shot response into a bounded buffer.
//! - [`LineSplitter`] cuts the de-chunked `/events` stream into lines with a bounded buffer.
//!
//! The events connection in miniature (a real loop feeds each socket read the same way):
//!
//! ```
//! use csflowd::http::{Event, LineSplitter, ResponseDecoder};
//!
//! let read: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
//!                     7\r\n{\"a\":1}\r\n3\r\n\n{}\r\n";
//! let mut response = ResponseDecoder::new(u64::MAX);
//! let mut lines = LineSplitter::new(1 << 20);
//! let mut seen = Vec::new();
//! let mut rest = read;
//! while let Some(event) = response.next(&mut rest)? {
//!     match event {
//!         Event::Head(head) => assert_eq!(head.status, 200),
//!         Event::Data(mut data) => {
//!             while let Some(line) = lines.next_line(&mut data) {
//!                 seen.push(line?.to_vec());
//!             }
//!         }
//!         Event::Done => break,
//!     }
//! }
//! assert_eq!(seen, [b"{\"a\":1}".to_vec()]); // `{}` waits for its LF
//! assert_eq!(lines.buffered(), 2);
//! # Ok::<(), csflowd::http::Error>(())
//! ```
//!
//! # Contracts shared by every decoder
//!
//! - **Push, cursor style.** A decoder takes `&mut &[u8]` and advances it past what it consumed,
//!   so the caller cannot lose track of bytes: it loops until the decoder returns `None`.
//! - **Partial is not an error.** `Ok(None)` / `None` means "all input consumed, feed me more" (or,
//!   once a message is complete, "nothing more to say"). Only a broken or over-limit message is an
//!   [`Error`], and a decoder that failed keeps returning the same error.
//! - **Zero copy where possible.** Body data and whole lines are handed out as slices of the
//!   caller's input; only a response head and a line spanning several reads are copied.
//! - **Bounded.** Heads: [`MAX_HEAD_LEN`] bytes and [`MAX_HEADERS`] fields. Chunks:
//!   [`MAX_CHUNK_SIZE`], extensions [`MAX_CHUNK_EXT_LEN`], trailers [`MAX_TRAILER_LEN`]. Bodies and
//!   lines: limits chosen by the caller. No buffer grows past its bound.
//! - **End of stream.** Each decoder's `eof` says whether a close at this point is a clean end (a
//!   read-until-close body) or [`Error::Truncated`].
//! - **No panics**, whatever the bytes: no `unwrap`, and no indexing or arithmetic that input can
//!   push out of range.

mod body;
mod error;
mod head;
mod lines;
mod request;
mod response;

pub use body::{BodyDecoder, MAX_CHUNK_EXT_LEN, MAX_CHUNK_SIZE, MAX_TRAILER_LEN};
pub use error::Error;
pub use head::{
    parse_head, ApiVersion, Framing, ResponseHead, ShortValue, MAX_HEADERS, MAX_HEAD_LEN,
    MAX_SHORT_VALUE,
};
pub use lines::LineSplitter;
pub use request::{percent_encode_into, write_get, USER_AGENT};
pub use response::{Event, ResponseCollector, ResponseDecoder, MAX_INTERIM_RESPONSES};

/// Makes room in `buf` for `additional` more bytes, growing it geometrically like `Vec` does, but
/// never allocating past `limit` when the bytes fit in it: a bounded buffer's memory stays bounded.
fn reserve_within(buf: &mut Vec<u8>, additional: usize, limit: usize) {
    /// The smallest allocation, so that short fragments do not reallocate byte by byte.
    const MIN_ALLOCATION: usize = 256;
    let needed = buf.len().saturating_add(additional);
    if needed <= buf.capacity() {
        return;
    }
    let doubled = buf.capacity().saturating_mul(2).max(MIN_ALLOCATION);
    let target = if doubled >= limit {
        limit.max(needed)
    } else {
        doubled.max(needed)
    };
    buf.reserve_exact(target.saturating_sub(buf.len()));
}

#[cfg(test)]
mod testutil;

#[cfg(test)]
mod tests {
    use super::reserve_within;

    /// (capacity before, length, additional, limit, capacity after)
    #[test]
    fn reserve_within_table() {
        let rows = [
            (0, 0, 1, 1 << 20, 256),
            (0, 0, 1, 10, 10),
            (0, 0, 300, 1 << 20, 300),
            (256, 256, 1, 1 << 20, 512),
            (512, 500, 100, 700, 700),
            (700, 700, 0, 700, 700),
            (0, 0, 0, 0, 0),
        ];
        for (before, len, additional, limit, after) in rows {
            let mut buf = Vec::with_capacity(before);
            buf.resize(len, 0u8);
            reserve_within(&mut buf, additional, limit);
            assert_eq!(buf.capacity(), after, "{before} {len} {additional} {limit}");
        }
    }
}
