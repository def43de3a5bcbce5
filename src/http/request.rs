//! The request writer: one `GET` per call, appended to a caller-owned buffer.
//!
//! The agent only ever sends `GET` without a body, so a request is its head alone. The caller checks
//! nothing: [`write_get`] validates the path and writes nothing at all when it refuses it.

use super::Error;

/// The `User-Agent` the agent announces: `csflowd/<crate version>`.
pub const USER_AGENT: &str = concat!("csflowd/", env!("CARGO_PKG_VERSION"));

/// Appends a complete `GET` request head for `path_and_query` to `out`.
///
/// The head is `GET <path> HTTP/1.1`, then `Host: localhost` (HTTP/1.1 requires a Host and the engine
/// rejects a socket path there), `User-Agent`, `Accept: application/json`, `Connection: close` when
/// `close` is set (one request per connection), and the empty line.
///
/// `path_and_query` must start with `/` and hold only visible ASCII other than `#`: anything else
/// (CR, LF, space, controls, DEL, non-ASCII) could split or corrupt the request, so it is refused
/// with [`Error::BadRequestPath`] and `out` is left untouched. Encode query values with
/// [`percent_encode_into`] first.
pub fn write_get(out: &mut Vec<u8>, path_and_query: &str, close: bool) -> Result<(), Error> {
    if !is_request_target(path_and_query) {
        return Err(Error::BadRequestPath);
    }
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ");
    out.extend_from_slice(USER_AGENT.as_bytes());
    out.extend_from_slice(b"\r\nAccept: application/json\r\n");
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// An origin-form request-target as this client sends it: `/` then visible ASCII, no fragment.
fn is_request_target(target: &str) -> bool {
    target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

/// Appends `value` to `out` percent-encoded for use as one query value (or key).
///
/// Only the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) stay as they are; every other
/// byte of the UTF-8 text, including `{ } " [ ] : , & = + / ?` and space, becomes `%XX` with upper-case
/// hex. The result is therefore always accepted by [`write_get`].
pub fn percent_encode_into(out: &mut String, value: &str) {
    let hex = |nibble: u8| {
        char::from_digit(u32::from(nibble), 16)
            .unwrap_or('0')
            .to_ascii_uppercase()
    };
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(hex(b >> 4));
            out.push(hex(b & 0x0f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_head_golden_bytes() {
        let mut out = b"previous".to_vec();
        write_get(&mut out, "/v1.41/containers/json?all=true", true).unwrap();
        let expected = format!(
            "previousGET /v1.41/containers/json?all=true HTTP/1.1\r\nHost: localhost\r\n\
             User-Agent: csflowd/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);

        let mut out = Vec::new();
        write_get(&mut out, "/_ping", false).unwrap();
        let expected = format!(
            "GET /_ping HTTP/1.1\r\nHost: localhost\r\nUser-Agent: csflowd/{}\r\n\
             Accept: application/json\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn bad_paths_are_refused_and_write_nothing() {
        for path in [
            "",
            "v1.41/_ping",
            "/_ping HTTP/1.1\r\nX: y",
            "/a b",
            "/a\rb",
            "/a\nb",
            "/a\tb",
            "/a\0b",
            "/a\x7fb",
            "/caf\u{e9}",
            "/a#frag",
            "http://localhost/_ping",
        ] {
            let mut out = b"keep".to_vec();
            assert_eq!(
                write_get(&mut out, path, true),
                Err(Error::BadRequestPath),
                "{path:?}"
            );
            assert_eq!(out, b"keep", "{path:?}");
        }
        let mut out = Vec::new();
        write_get(&mut out, "/", true).unwrap();
        write_get(
            &mut out,
            "/v1.41/events?since=1795622554.106992891&x=%7B%7D",
            true,
        )
        .unwrap();
    }

    #[test]
    fn percent_encoding_table() {
        for (value, encoded) in [
            ("", ""),
            ("container", "container"),
            ("AZaz09-._~", "AZaz09-._~"),
            (
                r#"{"type":{"container":true},"event":{"start":true,"die":true}}"#,
                "%7B%22type%22%3A%7B%22container%22%3Atrue%7D%2C%22event%22%3A%7B%22start%22%3A\
                 true%2C%22die%22%3Atrue%7D%7D",
            ),
            (
                r#"{"type":["container"]}"#,
                "%7B%22type%22%3A%5B%22container%22%5D%7D",
            ),
            ("a b&c=d+e/f?g#h%", "a%20b%26c%3Dd%2Be%2Ff%3Fg%23h%25"),
            ("\r\n\t\0\x7f", "%0D%0A%09%00%7F"),
            ("caf\u{e9}", "caf%C3%A9"),
            ("\u{1F433}", "%F0%9F%90%B3"),
        ] {
            let mut out = String::from("q=");
            percent_encode_into(&mut out, value);
            assert_eq!(out, format!("q={encoded}"), "{value:?}");
            assert!(is_request_target(&format!("/e?{out}")));
        }
    }

    /// Every byte value that can occur in UTF-8 text round-trips through the encoding.
    #[test]
    fn percent_encoding_round_trips() {
        let text: String = (0u32..0x800).filter_map(char::from_u32).collect();
        let mut encoded = String::new();
        percent_encode_into(&mut encoded, &text);
        let bytes = encoded.as_bytes();
        let mut decoded = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                decoded.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
        assert_eq!(decoded, text.as_bytes());
    }
}
