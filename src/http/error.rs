//! The one error type of the HTTP layer.

use core::fmt;

/// Why an HTTP exchange failed. Small and `Copy`: the event loop logs it once and drops the connection.
///
/// "Need more input" is never an error; every variant here is final for the message (the decoders
/// that return one keep returning it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A request path held a byte that may not appear raw in a request-target.
    BadRequestPath,
    /// The response head did not end within [`MAX_HEAD_LEN`](super::MAX_HEAD_LEN) bytes.
    HeadTooLarge,
    /// The response head had more than [`MAX_HEADERS`](super::MAX_HEADERS) header fields.
    TooManyHeaders,
    /// The status line or a header field was malformed.
    BadHead,
    /// `Content-Length` was not a decimal number, or several of them disagreed.
    BadContentLength,
    /// `Transfer-Encoding` named something other than a single `chunked`.
    UnsupportedTransferEncoding,
    /// A chunk-size line was malformed (no hex digit, more than 16 of them, a bad byte, a bare LF
    /// or an over-long extension).
    BadChunkSize,
    /// A chunk announced more than [`MAX_CHUNK_SIZE`](super::MAX_CHUNK_SIZE) bytes.
    ChunkTooLarge,
    /// A chunk's data was not followed by CRLF.
    BadChunkTerminator,
    /// The trailer section after the last chunk was malformed or too long.
    BadTrailer,
    /// The body exceeded the limit the caller set.
    BodyTooLarge,
    /// A line of the event stream exceeded the splitter's limit (its bytes are skipped).
    LineTooLong,
    /// The peer closed the connection before the message was complete.
    Truncated,
}

impl Error {
    /// A short static description, the same text [`Display`](fmt::Display) writes.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::BadRequestPath => "request path contains a byte not allowed in a request-target",
            Error::HeadTooLarge => "response head too large",
            Error::TooManyHeaders => "too many response header fields",
            Error::BadHead => "malformed response head",
            Error::BadContentLength => "invalid or conflicting Content-Length",
            Error::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
            Error::BadChunkSize => "malformed chunk-size line",
            Error::ChunkTooLarge => "chunk size over the limit",
            Error::BadChunkTerminator => "chunk data not followed by CRLF",
            Error::BadTrailer => "malformed or oversized chunked trailer",
            Error::BodyTooLarge => "response body over the limit",
            Error::LineTooLong => "event line over the limit",
            Error::Truncated => "connection closed before the end of the message",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}
