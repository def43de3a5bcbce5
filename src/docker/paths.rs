//! Request targets (path and query) of the engine calls the agent makes.
//!
//! Every call except the ping carries the negotiated version prefix `/v{major}.{minor}`, because an
//! unversioned path is served at the engine's newest version and changes shape underneath the agent.
//! Query values are percent-encoded here (every byte outside RFC 3986's unreserved set), so the
//! results can be written into a request line as they are. Nothing here panics.

use std::fmt::Write as _;

use super::version::ApiVersion;
use crate::container::ContainerId;

/// The container actions the event subscription asks for, in filter order. `remove` is Podman's name
/// for Docker's `destroy`; Podman maps a `die` filter to its own `died`.
///
/// `died` is Podman's own name for `die`: Podman 4.3 matches the filter against it and drops `die`
/// events under a filter that names only `die` (it still reports them as `die`). Docker ignores
/// names it does not know.
pub const EVENT_ACTIONS: [&str; 14] = [
    "create", "start", "restart", "pause", "unpause", "die", "died", "stop", "kill", "oom",
    "rename", "update", "destroy", "remove",
];

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// `GET /_ping`, unversioned: it must work before a version is known.
pub fn ping_path() -> &'static str {
    "/_ping"
}

/// The list filter: the containers alive now, running or paused.
pub const LIST_FILTER: &str = r#"{"status":["running","paused"]}"#;

/// `/v{v}/containers/json?all=1&filters=…`: the running and paused containers, asked for by name.
///
/// The call's default ("running") differs between engines: Docker includes paused containers,
/// Podman 4.3 leaves them out. Both answer `all=1` with [`LIST_FILTER`] (percent-encoded) with
/// exactly the running and paused ones (checked against Docker 20.10 and Podman 4.3, API 1.24 and
/// 1.41), so a container paused before the agent starts is listed on either.
pub fn list_path(version: ApiVersion) -> String {
    let mut path = format!("/v{version}/containers/json?all=1&filters=");
    percent_encode_into(&mut path, LIST_FILTER);
    path
}

/// `/v{v}/containers/{id}/json`: one container's inspect document. The id is valid by its type.
pub fn inspect_path(version: ApiVersion, id: &ContainerId) -> String {
    format!("/v{version}/containers/{id}/json")
}

/// `/v{v}/events?since=…&filters=…`: the container event stream.
///
/// The filter is `{"type":{"container":true},"event":{…}}` with [`EVENT_ACTIONS`], the canonical
/// `map[string]map[string]bool` form both Docker and Podman accept, percent-encoded. `since` is
/// `(seconds, nanoseconds)` since the Unix epoch, written `seconds.nnnnnnnnn`; nanoseconds of a
/// second or more carry into the seconds (saturating), so the fraction always has nine digits.
pub fn events_path(version: ApiVersion, since: Option<(u64, u32)>) -> String {
    let mut path = format!("/v{version}/events?");
    if let Some((secs, nanos)) = since {
        let nanos = u64::from(nanos);
        let secs = secs.saturating_add(nanos / NANOS_PER_SEC);
        let _ = write!(path, "since={secs}.{:09}&", nanos % NANOS_PER_SEC);
    }
    path.push_str("filters=");
    percent_encode_into(&mut path, &event_filter_json());
    path
}

/// Splits an event's `timeNano` into the `(seconds, nanoseconds)` that [`events_path`] takes.
pub fn since_from_time_nano(time_nano: u64) -> (u64, u32) {
    let nanos = u32::try_from(time_nano % NANOS_PER_SEC).unwrap_or(0);
    (time_nano / NANOS_PER_SEC, nanos)
}

/// The filter document, before encoding.
fn event_filter_json() -> String {
    let mut json = String::from(r#"{"type":{"container":true},"event":{"#);
    for (i, action) in EVENT_ACTIONS.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(json, r#""{action}":true"#);
    }
    json.push_str("}}");
    json
}

/// Appends `text` with every byte outside `A-Z a-z 0-9 - . _ ~` written as `%XX`.
fn percent_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V152: ApiVersion = ApiVersion::new(1, 52);

    /// Decodes `%XX` back, to check the filter against its JSON.
    fn percent_decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn simple_paths() {
        assert_eq!(ping_path(), "/_ping");
        assert_eq!(
            list_path(ApiVersion::new(1, 41)),
            "/v1.41/containers/json?all=1&filters=%7B%22status%22%3A%5B%22running%22%2C%22paused%22%5D%7D"
        );
        let id =
            ContainerId::parse("7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef")
                .unwrap();
        assert_eq!(
            inspect_path(V152, &id),
            "/v1.52/containers/7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef/json"
        );
    }

    #[test]
    fn list_path_asks_for_running_and_paused() {
        let path = list_path(V152);
        let encoded = path
            .strip_prefix("/v1.52/containers/json?all=1&filters=")
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&percent_decode(encoded)).unwrap();
        assert_eq!(json, serde_json::json!({"status": ["running", "paused"]}));
        assert!(path.bytes().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn events_path_golden() {
        let path = events_path(V152, None);
        assert_eq!(
            path,
            "/v1.52/events?filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%2C%22event%22%3A%7B\
             %22create%22%3Atrue%2C%22start%22%3Atrue%2C%22restart%22%3Atrue%2C%22pause%22%3Atrue%2C\
             %22unpause%22%3Atrue%2C%22die%22%3Atrue%2C%22died%22%3Atrue%2C%22stop%22%3Atrue%2C%22kill%22%3Atrue%2C\
             %22oom%22%3Atrue%2C%22rename%22%3Atrue%2C%22update%22%3Atrue%2C%22destroy%22%3Atrue%2C\
             %22remove%22%3Atrue%7D%7D"
        );
        // Nothing that needs quoting in a request line.
        assert!(path.bytes().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn events_filter_is_the_canonical_json() {
        let path = events_path(ApiVersion::new(1, 41), None);
        let encoded = path.strip_prefix("/v1.41/events?filters=").unwrap();
        let json: serde_json::Value = serde_json::from_str(&percent_decode(encoded)).unwrap();
        assert_eq!(json["type"], serde_json::json!({"container": true}));
        let events = json["event"].as_object().unwrap();
        assert_eq!(events.len(), EVENT_ACTIONS.len());
        for action in EVENT_ACTIONS {
            assert_eq!(events[action], serde_json::Value::Bool(true), "{action}");
        }
    }

    #[test]
    fn since_has_nine_fraction_digits() {
        let path = events_path(V152, Some((1_629_574_695, 515_050_031)));
        assert!(path.starts_with("/v1.52/events?since=1629574695.515050031&filters=%7B"));
        let path = events_path(V152, Some((1_629_574_695, 7)));
        assert!(path.starts_with("/v1.52/events?since=1629574695.000000007&filters="));
        let path = events_path(V152, Some((0, 0)));
        assert!(path.starts_with("/v1.52/events?since=0.000000000&filters="));
        // Out-of-range nanoseconds carry; the largest seconds saturate.
        let path = events_path(V152, Some((5, 2_500_000_000)));
        assert!(path.starts_with("/v1.52/events?since=7.500000000&filters="));
        let path = events_path(V152, Some((u64::MAX, u32::MAX)));
        assert!(path.starts_with(&format!("/v1.52/events?since={}.294967295&", u64::MAX)));
    }

    #[test]
    fn since_from_time_nano_splits() {
        assert_eq!(
            since_from_time_nano(1_629_574_695_515_050_031),
            (1_629_574_695, 515_050_031)
        );
        assert_eq!(since_from_time_nano(0), (0, 0));
        assert_eq!(
            since_from_time_nano(u64::MAX),
            (18_446_744_073, 709_551_615)
        );
    }

    #[test]
    fn percent_encoder() {
        let mut out = String::new();
        percent_encode_into(&mut out, "aZ09-._~ {}\"[]:,/%é");
        assert_eq!(out, "aZ09-._~%20%7B%7D%22%5B%5D%3A%2C%2F%25%C3%A9");
    }
}
