//! The response head: parsed by `httparse` into a small owned [`ResponseHead`].
//!
//! [`parse_head`] looks at the caller's bytes, borrows nothing past its return and never allocates.
//! It reads only the first [`MAX_HEAD_LEN`] bytes and at most [`MAX_HEADERS`] fields; it keeps only what
//! the agent acts on: the status, the body framing, whether the connection closes, and the engine's
//! identity headers.

use core::fmt;

use super::Error;

/// The largest response head accepted, status line and empty line included.
pub const MAX_HEAD_LEN: usize = 64 * 1024;
/// The most header fields a response head may carry.
pub const MAX_HEADERS: usize = 64;
/// The longest header value kept in a [`ShortValue`].
pub const MAX_SHORT_VALUE: usize = 64;

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all: 1xx, 204 and 304 responses.
    NoBody,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything up to the peer closing the connection (no length given, as HTTP/1.0 servers do).
    UntilClose,
}

/// An engine API version, `major.minor` as in the `Api-Version` header (`1.41`).
///
/// Ordered by major then minor, so `min(server, ours)` does the negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// The part before the dot.
    pub major: u16,
    /// The part after the dot.
    pub minor: u16,
}

impl ApiVersion {
    /// The version `major.minor`.
    pub const fn new(major: u16, minor: u16) -> ApiVersion {
        ApiVersion { major, minor }
    }

    /// Parses `<digits>.<digits>` (each part at most 5 digits and within `u16`); nothing else is
    /// accepted, surrounding whitespace included.
    pub fn parse(text: &[u8]) -> Option<ApiVersion> {
        let dot = text.iter().position(|&b| b == b'.')?;
        let (major, minor) = (text.get(..dot)?, text.get(dot + 1..)?);
        Some(ApiVersion {
            major: parse_u16(major)?,
            minor: parse_u16(minor)?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

fn parse_u16(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u16, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u16::from(d - b'0'))
    })
}

/// A short printable-ASCII header value kept inline (no allocation), such as `Server`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortValue {
    len: u8,
    bytes: [u8; MAX_SHORT_VALUE],
}

impl ShortValue {
    /// Copies `value` if it is at most [`MAX_SHORT_VALUE`] bytes of printable ASCII (space included).
    pub fn new(value: &[u8]) -> Option<ShortValue> {
        let len = u8::try_from(value.len())
            .ok()
            .filter(|&n| usize::from(n) <= MAX_SHORT_VALUE)?;
        if !value.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; MAX_SHORT_VALUE];
        bytes.get_mut(..value.len())?.copy_from_slice(value);
        Some(ShortValue { len, bytes })
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Only printable ASCII is ever stored, so this never falls back.
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl fmt::Debug for ShortValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the agent keeps of a response head. Owned and `Copy`: it borrows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (100 to 999).
    pub status: u16,
    /// `x` in `HTTP/1.x`.
    pub minor_version: u8,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the server will close the connection after this response (`Connection: close`, an
    /// HTTP/1.0 response without `keep-alive`, or a body delimited by the close).
    pub connection_close: bool,
    /// The first `Api-Version` header, if present and well formed.
    pub api_version: Option<ApiVersion>,
    /// Whether a `Libpod-Api-Version` header is present: the server is Podman.
    pub libpod: bool,
    /// The `Server` header, if present and short (`Docker/20.10.24+dfsg1 (linux)`).
    pub server: Option<ShortValue>,
    /// The `Content-Type` header, if present and short.
    pub content_type: Option<ShortValue>,
}

impl ResponseHead {
    /// Whether this is an interim (1xx) response that a final response will follow. 101 is final:
    /// it switches protocols, which this client never asks for.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses a response head at the start of `buf`.
///
/// Returns `Ok(Some((head_len, head)))` when the head is complete (the body starts at `head_len`),
/// `Ok(None)` when more bytes are needed, or an error. Only `buf[..MAX_HEAD_LEN]` is ever examined:
/// a head still incomplete there is [`Error::HeadTooLarge`]. Bare-LF line ends are tolerated (as
/// `httparse` does). Never panics.
pub fn parse_head(buf: &[u8]) -> Result<Option<(usize, ResponseHead)>, Error> {
    let window = buf.get(..MAX_HEAD_LEN).unwrap_or(buf);
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let head_len = match response.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if window.len() >= MAX_HEAD_LEN => {
            return Err(Error::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(Error::TooManyHeaders),
        Err(_) => return Err(Error::BadHead),
    };
    let (Some(status @ 100..=999), Some(minor_version)) = (response.code, response.version) else {
        return Err(Error::BadHead);
    };
    let mut fields_seen = FieldSummary::default();
    for field in response.headers.iter() {
        fields_seen.add(field.name, field.value.trim_ascii())?;
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::NoBody
    } else if fields_seen.transfer_encoding {
        // RFC 9112 §6.3: Transfer-Encoding overrides any Content-Length.
        Framing::Chunked
    } else if let Some(n) = fields_seen.content_length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let connection_close = fields_seen.close
        || (minor_version == 0 && !fields_seen.keep_alive)
        || framing == Framing::UntilClose;
    let head = ResponseHead {
        status,
        minor_version,
        framing,
        connection_close,
        api_version: fields_seen.api_version,
        libpod: fields_seen.libpod,
        server: fields_seen.server,
        content_type: fields_seen.content_type,
    };
    Ok(Some((head_len, head)))
}

/// The header fields that matter, gathered one field at a time.
#[derive(Default)]
struct FieldSummary {
    content_length: Option<u64>,
    transfer_encoding: bool,
    close: bool,
    keep_alive: bool,
    api_version: Option<ApiVersion>,
    libpod: bool,
    server: Option<ShortValue>,
    content_type: Option<ShortValue>,
}

impl FieldSummary {
    fn add(&mut self, name: &str, value: &[u8]) -> Result<(), Error> {
        let is = |wanted: &str| name.eq_ignore_ascii_case(wanted);
        if is("content-length") {
            // A list of identical values is allowed (RFC 9110 §8.6); anything else is ambiguous.
            for item in list_items(value) {
                let n = parse_content_length(item).ok_or(Error::BadContentLength)?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(Error::BadContentLength);
                }
                self.content_length = Some(n);
            }
            if self.content_length.is_none() {
                return Err(Error::BadContentLength);
            }
        } else if is("transfer-encoding") {
            // Only a single `chunked` is understood: this client asks for no other coding.
            let mut codings = list_items(value);
            let only_chunked = codings
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
                && codings.next().is_none();
            if !only_chunked || self.transfer_encoding {
                return Err(Error::UnsupportedTransferEncoding);
            }
            self.transfer_encoding = true;
        } else if is("connection") {
            for option in list_items(value) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if is("api-version") {
            self.api_version = self.api_version.or_else(|| ApiVersion::parse(value));
        } else if is("libpod-api-version") {
            self.libpod = true;
        } else if is("server") {
            self.server = self.server.or_else(|| ShortValue::new(value));
        } else if is("content-type") {
            self.content_type = self.content_type.or_else(|| ShortValue::new(value));
        }
        Ok(())
    }
}

/// The non-empty, trimmed elements of a comma-separated header list.
fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

fn parse_content_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> ResponseHead {
        let (len, head) = parse_head(input).unwrap().expect("complete head");
        assert_eq!(len, input.len(), "the whole input is head");
        head
    }

    const PING: &[u8] = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\
        Cache-Control: no-cache, no-store, must-revalidate\r\nDocker-Experimental: false\r\n\
        Ostype: linux\r\nPragma: no-cache\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\
        Date: Wed, 25 Nov 2026 16:02:28 GMT\r\nContent-Length: 2\r\n\
        Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n";

    #[test]
    fn docker_ping_head() {
        let head = parse(PING);
        assert_eq!(head.status, 200);
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.framing, Framing::Length(2));
        assert!(head.connection_close);
        assert_eq!(
            head.api_version,
            Some(ApiVersion {
                major: 1,
                minor: 41
            })
        );
        assert!(!head.libpod);
        assert_eq!(
            head.server.unwrap().as_str(),
            "Docker/20.10.24+dfsg1 (linux)"
        );
        assert_eq!(
            head.content_type.unwrap().as_str(),
            "text/plain; charset=utf-8"
        );
        // The body's first byte is not part of the head.
        let mut with_body = PING.to_vec();
        with_body.extend_from_slice(b"OK");
        assert_eq!(parse_head(&with_body).unwrap().unwrap().0, PING.len());
    }

    #[test]
    fn podman_ping_head() {
        let head = parse(
            b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nBuilder-Version: \r\nBuildkit-Version: \r\n\
              Cache-Control: no-cache\r\nDocker-Experimental: true\r\nLibpod-Api-Version: 4.3.1\r\n\
              Libpod-Buildah-Version: 1.28.2\r\nPragma: no-cache\r\nServer: Libpod/4.3.1 (linux)\r\n\
              X-Reference-Id: 0xc000014f50\r\nDate: Wed, 25 Nov 2026 16:03:15 GMT\r\n\
              Content-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n",
        );
        assert!(head.libpod);
        assert_eq!(
            head.api_version,
            Some(ApiVersion {
                major: 1,
                minor: 41
            })
        );
        assert_eq!(head.server.unwrap().as_str(), "Libpod/4.3.1 (linux)");
    }

    /// (head, status, minor version, framing, connection_close)
    #[test]
    fn framing_table() {
        use Framing::*;
        let rows: &[(&[u8], u16, u8, Framing, bool)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                200,
                1,
                Length(0),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 792\r\n\r\n",
                200,
                1,
                Length(792),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length:  7 \r\n\r\n",
                200,
                1,
                Length(7),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n",
                200,
                1,
                Length(7),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n",
                200,
                1,
                Length(7),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n",
                200,
                1,
                Length(u64::MAX),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                200,
                1,
                Chunked,
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n",
                200,
                1,
                Chunked,
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                200,
                1,
                Chunked,
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                200,
                1,
                Chunked,
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n",
                200,
                1,
                UntilClose,
                true,
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", 200, 1, UntilClose, true),
            (b"HTTP/1.0 200 OK\r\n\r\n", 200, 0, UntilClose, true),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n",
                200,
                0,
                Length(2),
                true,
            ),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n",
                200,
                0,
                Length(2),
                false,
            ),
            (
                b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
                204,
                1,
                NoBody,
                false,
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
                304,
                1,
                NoBody,
                false,
            ),
            (b"HTTP/1.1 100 Continue\r\n\r\n", 100, 1, NoBody, false),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                101,
                1,
                NoBody,
                false,
            ),
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 40\r\n\r\n",
                404,
                1,
                Length(40),
                false,
            ),
            (
                b"HTTP/1.1 500\r\nContent-Length: 1\r\n\r\n",
                500,
                1,
                Length(1),
                false,
            ),
            (
                b"HTTP/1.1 200 OK\nContent-Length: 3\n\n",
                200,
                1,
                Length(3),
                false,
            ),
        ];
        for &(input, status, minor, framing, close) in rows {
            let head = parse(input);
            let text = String::from_utf8_lossy(input);
            assert_eq!(head.status, status, "{text}");
            assert_eq!(head.minor_version, minor, "{text}");
            assert_eq!(head.framing, framing, "{text}");
            assert_eq!(head.connection_close, close, "{text}");
        }
    }

    #[test]
    fn error_table() {
        let rows: &[(&[u8], Error)] = &[
            (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", Error::BadContentLength),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Error::UnsupportedTransferEncoding),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Error::UnsupportedTransferEncoding),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Error::UnsupportedTransferEncoding),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                Error::UnsupportedTransferEncoding,
            ),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", Error::UnsupportedTransferEncoding),
            (b"HTTP/2 200 OK\r\n\r\n", Error::BadHead),
            (b"HTTP/1.2 200 OK\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 2000 OK\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 20 OK\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 099 Low\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 abc OK\r\n\r\n", Error::BadHead),
            (b"http/1.1 200 OK\r\n\r\n", Error::BadHead),
            (b"ICY 200 OK\r\n\r\n", Error::BadHead),
            (b"SSH-2.0-OpenSSH_9.2\r\n", Error::BadHead),
            (b"{\"message\":\"page not found\"}\n", Error::BadHead),
            (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", Error::BadHead),
            (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", Error::BadHead),
            (b"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", Error::BadHead),
        ];
        for &(input, error) in rows {
            assert_eq!(
                parse_head(input),
                Err(error),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn partial_heads_need_more() {
        for end in 0..PING.len() {
            assert_eq!(parse_head(&PING[..end]), Ok(None), "cut at {end}");
        }
    }

    #[test]
    fn header_count_limit() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            input.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        assert_eq!(parse(&input).status, 200);
        input.truncate(input.len() - 2);
        input.extend_from_slice(b"X-one-more: v\r\n\r\n");
        assert_eq!(parse_head(&input), Err(Error::TooManyHeaders));
    }

    #[test]
    fn head_length_limit() {
        let mut input = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        let filler = MAX_HEAD_LEN - input.len() - 4;
        input.resize(input.len() + filler, b'a');
        input.extend_from_slice(b"\r\n\r\n");
        assert_eq!(input.len(), MAX_HEAD_LEN);
        assert_eq!(parse(&input).status, 200);
        // One byte more and the empty line falls outside the window.
        input.insert(30, b'a');
        assert_eq!(parse_head(&input), Err(Error::HeadTooLarge));
        assert_eq!(parse_head(&input[..MAX_HEAD_LEN]), Err(Error::HeadTooLarge));
        assert_eq!(parse_head(&input[..MAX_HEAD_LEN - 1]), Ok(None));
    }

    #[test]
    fn identity_headers() {
        let head = parse(
            b"HTTP/1.1 200 OK\r\nAPI-VERSION: 1.44\r\napi-version: 1.99\r\nlibpod-api-version: 5.0\r\n\
              SERVER: Docker/29.1.0 (linux)\r\n\r\n",
        );
        assert_eq!(
            head.api_version,
            Some(ApiVersion {
                major: 1,
                minor: 44
            })
        );
        assert!(head.libpod);
        assert_eq!(head.server.unwrap().as_str(), "Docker/29.1.0 (linux)");
        // A server name too long or not plain ASCII is dropped, not truncated.
        let long = format!(
            "HTTP/1.1 200 OK\r\nServer: {}\r\n\r\n",
            "x".repeat(MAX_SHORT_VALUE + 1)
        );
        assert_eq!(parse(long.as_bytes()).server, None);
        let exact = format!(
            "HTTP/1.1 200 OK\r\nServer: {}\r\n\r\n",
            "x".repeat(MAX_SHORT_VALUE)
        );
        assert_eq!(
            parse(exact.as_bytes()).server.unwrap().as_str().len(),
            MAX_SHORT_VALUE
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nServer: caf\xc3\xa9\r\n\r\n").server,
            None
        );
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nServer:\r\n\r\n")
                .server
                .unwrap()
                .as_str(),
            ""
        );
    }

    #[test]
    fn api_version_table() {
        let v = |major, minor| Some(ApiVersion { major, minor });
        let rows: &[(&[u8], Option<ApiVersion>)] = &[
            (b"1.41", v(1, 41)),
            (b"1.4", v(1, 4)),
            (b"1.040", v(1, 40)),
            (b"2.0", v(2, 0)),
            (b"65535.65535", v(65535, 65535)),
            (b"65536.1", None),
            (b"1.000001", None),
            (b"1", None),
            (b"1.", None),
            (b".41", None),
            (b"1.41.0", None),
            (b"1,41", None),
            (b"v1.41", None),
            (b"1.-1", None),
            (b" 1.41", None),
            (b"", None),
        ];
        for &(text, expected) in rows {
            assert_eq!(
                ApiVersion::parse(text),
                expected,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(
            ApiVersion {
                major: 1,
                minor: 41
            } < ApiVersion {
                major: 1,
                minor: 140
            }
        );
        assert!(
            ApiVersion {
                major: 1,
                minor: 99
            } < ApiVersion { major: 2, minor: 0 }
        );
        assert_eq!(ApiVersion { major: 1, minor: 4 }.to_string(), "1.4");
        // A malformed header counts as absent.
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\nApi-Version: latest\r\n\r\n").api_version,
            None
        );
    }

    #[test]
    fn interim_statuses() {
        for (status, interim) in [
            (100, true),
            (102, true),
            (103, true),
            (199, true),
            (101, false),
            (200, false),
        ] {
            let input = format!("HTTP/1.1 {status} X\r\n\r\n");
            assert_eq!(parse(input.as_bytes()).is_interim(), interim, "{status}");
        }
    }
}
