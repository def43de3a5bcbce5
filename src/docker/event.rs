//! Decoding one line of the `/events` stream into an [`Event`].
//!
//! The caller splits the de-chunked stream on LF and hands each line (at most 1 MiB, which the caller
//! enforces) to [`decode_event`]. Both event shapes are read:
//!
//! - current: `Type`, `Action`, `Actor.ID`, `Actor.Attributes`, `time`, `timeNano` (all Docker versions,
//!   and the only fields from API 1.52 on);
//! - legacy: `status` (= Action) and `id` (= Actor.ID), back-filled below API 1.52 by Docker and by
//!   Podman; used only when the current field is absent.
//!
//! Only `Actor.Attributes.name`, `exitCode` and Podman's `containerExitCode` are kept; the other
//! attributes (every container label) are skipped by serde_json without being stored. A line without
//! `Type` is taken as a container event (the subscription filters on type=container). Other types
//! (`pod` from Podman, `network`, …) and blank lines give `Ok(None)`. Nothing here panics.

use super::json::{bounded_string, from_slice, DocError, Object, Text};
use super::NAME_MAX;
use crate::container::ContainerId;

/// What happened to a container, from the event's action.
///
/// Only the part of the action before `:` counts (`"exec_start: sh -c …"` is `exec_start`, which is
/// [`EventKind::Other`]). Podman's raw `died` is folded into [`EventKind::Die`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `create`.
    Create,
    /// `start`.
    Start,
    /// `restart`.
    Restart,
    /// `pause`.
    Pause,
    /// `unpause`.
    Unpause,
    /// `die` (and Podman's `died`): the main process exited.
    Die,
    /// `stop`.
    Stop,
    /// `kill`: a signal was sent (the container may live on).
    Kill,
    /// `oom`: the kernel OOM killer hit the container (Docker only).
    Oom,
    /// `rename`: `name` is the new name.
    Rename,
    /// `destroy` (Docker): the container was removed.
    Destroy,
    /// `remove` (Podman): the container was removed.
    Remove,
    /// `cleanup` (Podman): the runtime's resources were released after an exit.
    Cleanup,
    /// `update`: resource limits changed.
    Update,
    /// Any other action (attach, exec_*, health_status, top, …).
    Other,
}

impl EventKind {
    /// The kind named by an action string, ignoring any `:` suffix and surrounding blanks.
    pub fn from_action(action: &str) -> Self {
        let word = action.split(':').next().unwrap_or("").trim();
        match word {
            "create" => EventKind::Create,
            "start" => EventKind::Start,
            "restart" => EventKind::Restart,
            "pause" => EventKind::Pause,
            "unpause" => EventKind::Unpause,
            "die" | "died" => EventKind::Die,
            "stop" => EventKind::Stop,
            "kill" => EventKind::Kill,
            "oom" => EventKind::Oom,
            "rename" => EventKind::Rename,
            "destroy" => EventKind::Destroy,
            "remove" => EventKind::Remove,
            "cleanup" => EventKind::Cleanup,
            "update" => EventKind::Update,
            _ => EventKind::Other,
        }
    }
}

/// One container event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The container.
    pub id: ContainerId,
    /// `Actor.Attributes.name` (the new name for a rename), without a leading `/`, cut to
    /// [`NAME_MAX`] bytes on a character boundary.
    pub name: Option<String>,
    /// `timeNano`, else `time` × 10⁹; `None` when absent, negative or out of range.
    pub time_nano: Option<u64>,
    /// For [`EventKind::Die`] only: `Attributes.exitCode`, else Podman's `containerExitCode`, when it
    /// parses as an `i32`. On other events `exitCode` would just be a container label, so it is not read.
    pub exit_code: Option<i32>,
}

/// The fields read from an event line (`None`: absent or `null`). Each at most once: serde refuses
/// a duplicated field ([`DocError::WrongType`]); a value of the wrong type fails the line.
#[derive(serde::Deserialize)]
struct EventDoc<'a> {
    #[serde(rename = "Type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(rename = "Action", borrow)]
    action: Option<Text<'a>>,
    #[serde(rename = "Actor", borrow)]
    actor: Option<Object<ActorDoc<'a>>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    time: Option<i64>,
    #[serde(rename = "timeNano")]
    time_nano: Option<i64>,
}

#[derive(serde::Deserialize)]
struct ActorDoc<'a> {
    #[serde(rename = "ID", borrow)]
    id: Option<Text<'a>>,
    #[serde(rename = "Attributes", borrow)]
    attributes: Option<Object<AttributesDoc<'a>>>,
}

/// The few attributes the agent reads; serde skips every other key (the labels) without storing it.
#[derive(serde::Deserialize)]
struct AttributesDoc<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(rename = "exitCode", borrow)]
    exit_code: Option<Text<'a>>,
    #[serde(rename = "containerExitCode", borrow)]
    container_exit_code: Option<Text<'a>>,
}

/// Decodes one event line (one JSON object; surrounding white space, such as the LF, is allowed).
///
/// `Ok(None)`: a blank line or an event whose `Type` is not `container`. `Err`: the line is not a
/// well-formed container event (see [`DocError`]).
pub fn decode_event(line: &[u8]) -> Result<Option<Event>, DocError> {
    if line.trim_ascii().is_empty() {
        return Ok(None);
    }
    let Object(doc): Object<EventDoc<'_>> = from_slice(line)?;
    if let Some(kind) = &doc.kind {
        if kind.as_str() != "container" {
            return Ok(None);
        }
    }
    let (actor_id, attributes) = match doc.actor {
        Some(Object(actor)) => (actor.id, actor.attributes.map(|Object(a)| a)),
        None => (None, None),
    };
    let action = doc.action.or(doc.status).ok_or(DocError::MissingAction)?;
    let kind = EventKind::from_action(action.as_str());
    let id_text = actor_id.or(doc.id).ok_or(DocError::MissingId)?;
    let id = ContainerId::parse(id_text.as_str()).map_err(|_| DocError::BadId)?;

    let time_nano = match doc.time_nano {
        Some(nanos) => u64::try_from(nanos).ok(),
        None => doc
            .time
            .and_then(|secs| u64::try_from(secs).ok())
            .and_then(|secs| secs.checked_mul(1_000_000_000)),
    };

    let (name, exit_code) = match attributes {
        Some(attributes) => {
            let name = attributes
                .name
                .map(|name| bounded_string(name.as_str().trim_start_matches('/'), NAME_MAX));
            let exit_code = if kind == EventKind::Die {
                let parsed = |text: Option<Text<'_>>| text.and_then(|t| t.as_str().parse().ok());
                parsed(attributes.exit_code).or_else(|| parsed(attributes.container_exit_code))
            } else {
                None
            };
            (name, exit_code)
        }
        None => (None, None),
    };

    Ok(Some(Event {
        kind,
        id,
        name,
        time_nano,
        exit_code,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef";

    fn id() -> ContainerId {
        ContainerId::parse(ID).unwrap()
    }

    fn decode(line: &str) -> Result<Option<Event>, DocError> {
        decode_event(line.as_bytes())
    }

    #[test]
    fn docker_29_event_without_legacy_fields() {
        // API 1.52 shape: no status/id/from; labels among the attributes.
        let line = format!(
            r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"com.docker.compose.project":"shop","com.docker.compose.service":"web","image":"nginx:1.27","name":"shop-web-1","org.opencontainers.image.version":"1.27.0"}}}},"scope":"local","time":1761820000,"timeNano":1761820000123456789}}
"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(
            event,
            Event {
                kind: EventKind::Start,
                id: id(),
                name: Some("shop-web-1".into()),
                time_nano: Some(1_761_820_000_123_456_789),
                exit_code: None,
            }
        );
    }

    #[test]
    fn docker_20_10_die_event_with_legacy_fields() {
        let line = format!(
            r#"{{"status":"die","id":"{ID}","from":"nginx:latest","Type":"container","Action":"die","Actor":{{"ID":"{ID}","Attributes":{{"exitCode":"137","execDuration":"12","image":"nginx:latest","name":"web"}}}},"scope":"local","time":1629574695,"timeNano":1629574695515050031}}"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(event.kind, EventKind::Die);
        assert_eq!(event.id, id());
        assert_eq!(event.name.as_deref(), Some("web"));
        assert_eq!(event.exit_code, Some(137));
        assert_eq!(event.time_nano, Some(1_629_574_695_515_050_031));
    }

    #[test]
    fn docker_rename_and_exec_suffix() {
        let line = format!(
            r#"{{"Type":"container","Action":"rename","Actor":{{"ID":"{ID}","Attributes":{{"image":"alpine","name":"new","oldName":"/old"}}}},"scope":"local","time":1,"timeNano":1000000001}}"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(
            (event.kind, event.name.as_deref()),
            (EventKind::Rename, Some("new"))
        );
        let line = format!(
            r#"{{"Type":"container","Action":"exec_start: sh -c 'echo a:b'","Actor":{{"ID":"{ID}","Attributes":{{"execID":"abc","name":"web"}}}},"time":1,"timeNano":1}}"#
        );
        assert_eq!(decode(&line).unwrap().unwrap().kind, EventKind::Other);
        let line = format!(
            r#"{{"Type":"container","Action":"health_status: healthy","Actor":{{"ID":"{ID}"}}}}"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(
            (event.kind, event.name, event.time_nano),
            (EventKind::Other, None, None)
        );
    }

    #[test]
    fn podman_4_3_events() {
        // Podman sends the legacy fields too; its die carries both exit codes.
        let stop = format!(
            r#"{{"status":"stop","id":"{ID}","from":"docker.io/library/alpine:latest","Type":"container","Action":"stop","Actor":{{"ID":"{ID}","Attributes":{{"containerExitCode":"0","image":"docker.io/library/alpine:latest","name":"pm1","podId":""}}}},"scope":"local","time":1700000000,"timeNano":1700000000111111111}}"#
        );
        let event = decode(&stop).unwrap().unwrap();
        assert_eq!((event.kind, event.exit_code), (EventKind::Stop, None));
        let die = format!(
            r#"{{"status":"die","id":"{ID}","from":"docker.io/library/alpine:latest","Type":"container","Action":"die","Actor":{{"ID":"{ID}","Attributes":{{"containerExitCode":"143","exitCode":"143","image":"docker.io/library/alpine:latest","name":"pm1","podId":""}}}},"scope":"local","time":1700000000,"timeNano":1700000000222222222}}"#
        );
        let event = decode(&die).unwrap().unwrap();
        assert_eq!((event.kind, event.exit_code), (EventKind::Die, Some(143)));
        for (action, kind) in [
            ("cleanup", EventKind::Cleanup),
            ("remove", EventKind::Remove),
            ("died", EventKind::Die),
            ("init", EventKind::Other),
        ] {
            let line = format!(
                r#"{{"status":"{action}","id":"{ID}","from":"alpine","Type":"container","Action":"{action}","Actor":{{"ID":"{ID}","Attributes":{{"containerExitCode":"2","image":"alpine","name":"pm1"}}}},"scope":"local","time":1700000000,"timeNano":1700000000333333333}}"#
            );
            let event = decode(&line).unwrap().unwrap();
            assert_eq!(event.kind, kind, "{action}");
            // Raw died has only containerExitCode.
            let expected_exit = (kind == EventKind::Die).then_some(2);
            assert_eq!(event.exit_code, expected_exit, "{action}");
        }
    }

    #[test]
    fn other_types_are_ignored() {
        let pod = format!(
            r#"{{"status":"create","id":"{ID}","from":"","Type":"pod","Action":"create","Actor":{{"ID":"{ID}","Attributes":{{"image":"","name":"mypod"}}}},"scope":"local","time":1700000000,"timeNano":1700000000000000000}}"#
        );
        assert_eq!(decode(&pod), Ok(None));
        // A network event's actor is not a container id: ignored before the id is checked.
        let network = r#"{"Type":"network","Action":"connect","Actor":{"ID":"e0f1","Attributes":{"container":"x","name":"bridge","type":"bridge"}},"scope":"local","time":1,"timeNano":1}"#;
        assert_eq!(decode(network), Ok(None));
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode(" \r\n"), Ok(None));
    }

    #[test]
    fn legacy_only_event() {
        let line = format!(r#"{{"status":"start","id":"{ID}","from":"alpine","time":1700000000}}"#);
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(event.kind, EventKind::Start);
        assert_eq!(event.id, id());
        assert_eq!(event.name, None);
        assert_eq!(event.time_nano, Some(1_700_000_000_000_000_000));
    }

    #[test]
    fn current_fields_win_over_legacy_ones() {
        let other = "0".repeat(64);
        let line = format!(
            r#"{{"status":"stop","id":"{other}","Type":"container","Action":"start","Actor":{{"ID":"{ID}"}}}}"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!((event.kind, event.id), (EventKind::Start, id()));
    }

    #[test]
    fn exit_code_is_read_only_on_die() {
        // A label called exitCode on a start event is not an exit code.
        let line = format!(
            r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"exitCode":"5","name":"x"}}}}}}"#
        );
        assert_eq!(decode(&line).unwrap().unwrap().exit_code, None);
        // Unparseable or out-of-range codes are dropped, not errors.
        for code in ["", "abc", "99999999999", "1.5"] {
            let line = format!(
                r#"{{"Type":"container","Action":"die","Actor":{{"ID":"{ID}","Attributes":{{"exitCode":"{code}"}}}}}}"#
            );
            assert_eq!(decode(&line).unwrap().unwrap().exit_code, None, "{code:?}");
        }
        let line = format!(
            r#"{{"Type":"container","Action":"die","Actor":{{"ID":"{ID}","Attributes":{{"exitCode":"-1"}}}}}}"#
        );
        assert_eq!(decode(&line).unwrap().unwrap().exit_code, Some(-1));
    }

    #[test]
    fn odd_times() {
        let with = |time: &str| {
            let line = format!(
                r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}"}},{time}}}"#
            );
            decode(&line)
        };
        assert_eq!(with(r#""time":-5"#).unwrap().unwrap().time_nano, None);
        assert_eq!(with(r#""timeNano":-5"#).unwrap().unwrap().time_nano, None);
        assert_eq!(
            with(r#""time":9223372036854775807"#)
                .unwrap()
                .unwrap()
                .time_nano,
            None
        );
        assert_eq!(
            with(r#""time":3,"timeNano":null"#)
                .unwrap()
                .unwrap()
                .time_nano,
            Some(3_000_000_000)
        );
        assert_eq!(with(r#""timeNano":1e3"#), Err(DocError::WrongType));
        assert_eq!(with(r#""timeNano":"1""#), Err(DocError::WrongType));
        assert_eq!(
            with(r#""timeNano":18446744073709551616"#),
            Err(DocError::WrongType)
        );
    }

    #[test]
    fn long_names_are_cut() {
        let long = "é".repeat(300);
        let line = format!(
            r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"name":"/{long}"}}}}}}"#
        );
        let name = decode(&line).unwrap().unwrap().name.unwrap();
        assert!(name.len() <= NAME_MAX && name.len() >= NAME_MAX - 1);
        assert!(name.starts_with('é'));
    }

    #[test]
    fn large_label_sets_are_skipped() {
        let mut labels = String::new();
        for i in 0..5000 {
            labels.push_str(&format!(r#""label.{i}":"{}","#, "v".repeat(20)));
        }
        let line = format!(
            r#"{{"Type":"container","Action":"stop","Actor":{{"ID":"{ID}","Attributes":{{{labels}"name":"big"}}}}}}"#
        );
        let event = decode(&line).unwrap().unwrap();
        assert_eq!(event.name.as_deref(), Some("big"));
    }

    #[test]
    fn hostile_lines_are_errors() {
        let cases: Vec<(String, DocError)> = vec![
            ("{".into(), DocError::Truncated),
            ("[]".into(), DocError::WrongType),
            ("\"container\"".into(), DocError::WrongType),
            ("{}".into(), DocError::MissingAction),
            (
                r#"{"Type":"container","Action":"start"}"#.into(),
                DocError::MissingId,
            ),
            (
                r#"{"Type":"container","Action":"start","Actor":{}}"#.into(),
                DocError::MissingId,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{}"}}}}"#,
                    &ID[..63]
                ),
                DocError::BadId,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{}"}}}}"#,
                    "z".repeat(64)
                ),
                DocError::BadId,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{}"}}}}"#,
                    ID.to_ascii_uppercase()
                ),
                DocError::BadId,
            ),
            (r#"{"Type":7,"Action":"start"}"#.into(), DocError::WrongType),
            (
                format!(r#"["container","start",{{"ID":"{ID}"}},null,null,1,1]"#),
                DocError::WrongType,
            ),
            (
                format!(r#"{{"Type":"container","Action":"start","Actor":["{ID}",null]}}"#),
                DocError::WrongType,
            ),
            (
                r#"{"Type":"container","Action":["start"]}"#.into(),
                DocError::WrongType,
            ),
            (
                r#"{"Type":"container","Action":"start","Actor":"x"}"#.into(),
                DocError::WrongType,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":[]}}}}"#
                ),
                DocError::WrongType,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"name":5}}}}}}"#
                ),
                DocError::WrongType,
            ),
            (
                format!(
                    r#"{{"Type":"container","Action":"start","Action":"stop","Actor":{{"ID":"{ID}"}}}}"#
                ),
                DocError::WrongType,
            ),
            (
                format!(r#"{{"Type":"container","Action":"st\ud800art","Actor":{{"ID":"{ID}"}}}}"#),
                DocError::Syntax,
            ),
            (
                format!(r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}"}}}} {{}}"#),
                DocError::Syntax,
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(decode(&line), Err(expected), "{line}");
        }
        // Raw invalid UTF-8 inside a string.
        let mut raw = format!(
            r#"{{"Type":"container","Action":"start","Actor":{{"ID":"{ID}","Attributes":{{"name":""#
        )
        .into_bytes();
        raw.extend_from_slice(b"\xff\xfe\"}}}");
        assert_eq!(decode_event(&raw), Err(DocError::Syntax));
    }

    #[test]
    fn deep_nesting_never_overflows() {
        // Junk nested far deeper than any stack allows, in a skipped field and in a read one.
        let depth = 200_000;
        let junk = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let line = format!(
            r#"{{"Type":"container","Action":"start","junk":{junk},"Actor":{{"ID":"{ID}","Attributes":{{"deep":{junk}}}}}}}"#
        );
        assert!(decode(&line).unwrap().is_some());
        let line = format!(r#"{{"Type":"container","Action":{junk}}}"#);
        assert!(decode(&line).is_err());
        let open = "{\"a\":".repeat(depth);
        assert_eq!(decode(&open), Err(DocError::Truncated));
    }
}
