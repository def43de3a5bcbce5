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
//! - **No panics**, whatever the bytes: no `unwrap`, no unchecked indexing, no arithmetic overflow.

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

#[cfg(test)]
mod testutil;
