//! Raw HTTP/1.1 over an engine's UNIX socket, for test tools: the bytes go out exactly as built
//! and come back exactly as the engine sent them (no decoding of any kind).
//!
//! This is deliberately independent of the crate's own HTTP client, so that recordings and
//! readiness checks do not depend on the code under test.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A GET request line and headers with CRLF line endings and `Host: localhost`.
/// With `close`, it asks the server to close the connection after the response
/// (`Connection: close`), so that the response ends at EOF.
pub fn get(path: &str, close: bool) -> Vec<u8> {
    let connection = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{connection}\r\n").into_bytes()
}

/// A POST without a body (`Content-Length: 0`), closing the connection after the response.
pub fn post(path: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The status code of a raw response (`HTTP/1.1 204 No Content` gives 204).
pub fn status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

/// Connects to `socket`, writes `request`, and returns every byte received until the server
/// closes the connection, no byte has arrived for `idle`, or `limit` has passed in total.
pub fn exchange(
    socket: &Path,
    request: &[u8],
    idle: Duration,
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let mut stream = UnixStream::connect(socket)?;
    stream.write_all(request)?;
    read_until_quiet(&mut stream, idle, limit)
}

/// Reads from `stream` until EOF, `idle` without a byte, or `limit` in total; returns what came.
pub fn read_until_quiet(
    stream: &mut UnixStream,
    idle: Duration,
    limit: Duration,
) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + limit;
    stream.set_read_timeout(Some(idle))?;
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(received)
}

/// Reads from `stream` until the end of the response head (`\r\n\r\n`) has arrived, or `limit`
/// passes; returns the bytes read so far (the head, and possibly the start of the body).
pub fn read_head(stream: &mut UnixStream, limit: Duration) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + limit;
    stream.set_read_timeout(Some(limit))?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") && Instant::now() < deadline {
        match stream.read(&mut buf)? {
            0 => break,
            n => received.extend_from_slice(&buf[..n]),
        }
    }
    Ok(received)
}

/// True when `GET /_ping` on `socket` answers 200 with the body `OK`.
pub fn ping(socket: &Path) -> bool {
    let timeout = Duration::from_secs(2);
    match exchange(socket, &get("/_ping", true), timeout, timeout) {
        Ok(response) => status(&response) == Some(200) && response.ends_with(b"\r\n\r\nOK"),
        Err(_) => false,
    }
}

/// The value of the first header called `name` (case-insensitively) in a raw response.
pub fn header<'a>(response: &'a [u8], name: &str) -> Option<&'a str> {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&response[..head_end]).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for query values such as
/// the JSON of an events filter.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(
            percent_encode(r#"{"type":{"container":true}}"#),
            "%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D"
        );
    }

    #[test]
    fn requests_use_crlf_and_host_localhost() {
        assert_eq!(
            get("/_ping", true),
            b"GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            get("/v1.41/events", false),
            b"GET /v1.41/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
        );
    }

    #[test]
    fn status_is_read_from_the_status_line() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(204));
        assert_eq!(status(b"garbage"), None);
    }

    #[test]
    fn header_lookup_ignores_case() {
        let response = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n\r\nOK";
        assert_eq!(header(response, "API-VERSION"), Some("1.41"));
        assert_eq!(header(response, "Server"), None);
    }
}
