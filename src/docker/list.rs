//! Decoding the `/containers/json` list, as its body arrives.
//!
//! The body is a JSON array of container summaries. Only `Id`, `Names` and `State` are read; every other
//! field is skipped without being stored. The list is lenient per element: an element that is not an
//! object, or whose `Id`, `Names` or `State` is missing, malformed or of the wrong type, is skipped and
//! counted in [`ContainerList::malformed`], so one odd container does not hide the others. Elements
//! past the caller's cap are checked for syntax, not kept, and counted in [`ContainerList::over_cap`].
//! Only a body that is not a well-formed JSON array fails as a whole. Nothing here panics.
//!
//! [`ListDecoder`] is a push decoder: [`ListDecoder::feed`] takes the body in pieces split anywhere
//! (an element may straddle any number of pieces) and [`ListDecoder::finish`] gives the list at the
//! end of the body. It never holds the body: only the element being read, at most
//! [`LIST_ELEMENT_MAX`] bytes, and what is kept of each element (an id, a name of at most
//! [`NAME_MAX`] bytes, a state). An element longer than [`LIST_ELEMENT_MAX`] is skipped as
//! malformed; its strings and brackets are followed to find its end, but it is not otherwise checked.
//! So the memory of a list is about `cap × 100 bytes + LIST_ELEMENT_MAX`, whatever the engine sends.
//! [`decode_list`] is the same decoder fed a whole body at once.
//!
//! The decoder's own scanner finds where each element ends (brackets and strings, across pieces);
//! each complete element is then read on its own with serde_json, its strings borrowed from the
//! element's bytes, so the errors and their classes are serde_json's (see `json.rs`). An element
//! cut by the end of the body is [`DocError::Truncated`]; one followed by more bytes but
//! unfinished in itself is [`DocError::Syntax`].

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json::{bounded_string, from_slice, DocError, Loose, Text};
use super::state::ContainerState;
use super::NAME_MAX;
use crate::container::ContainerId;

/// Longest list element (one container summary) read, in bytes: Docker's summary of a container is
/// under 1 KiB plus its labels, mounts and networks, so this leaves room for thousands of labels.
pub const LIST_ELEMENT_MAX: usize = 1 << 20;

/// One running (or paused) container from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedContainer {
    /// `Id`.
    pub id: ContainerId,
    /// The container's own name from `Names`, without the leading `/`, cut to [`NAME_MAX`] bytes.
    /// Legacy link aliases (`/web/db`) are passed over for a plain name when there is one; empty when
    /// `Names` is missing or empty.
    pub name: String,
    /// `State` ([`ContainerState::Unknown`] when missing or unknown).
    pub state: ContainerState,
}

/// The decoded list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerList {
    /// The well-formed containers, in the engine's order, at most the cap.
    pub containers: Vec<ListedContainer>,
    /// Elements skipped because they were malformed or longer than [`LIST_ELEMENT_MAX`] (within the
    /// cap).
    pub malformed: usize,
    /// Elements skipped, unkept, because the cap was reached.
    pub over_cap: usize,
}

/// Decodes a whole `/containers/json` body, keeping at most `max_containers` containers.
pub fn decode_list(body: &[u8], max_containers: usize) -> Result<ContainerList, DocError> {
    let mut decoder = ListDecoder::new(max_containers);
    decoder.feed(body)?;
    decoder.finish()
}

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Before the opening `[`.
    Start,
    /// After `[`: the first element or `]`.
    First,
    /// After `,`: an element.
    Next,
    /// After an element: `,` or `]`.
    Between,
    /// Inside an element.
    Element(Scan),
    /// After `]`: only white space.
    End,
    /// Refused; every later call gives this error.
    Failed(DocError),
}

/// How the end of the element being read is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// An object or array: ends when its brackets balance (outside strings).
    Nested {
        depth: usize,
        in_string: bool,
        escaped: bool,
    },
    /// A string: ends at its closing quote.
    Text { escaped: bool },
    /// A number or literal: ends before the first byte that cannot belong to it.
    Scalar,
}

impl Scan {
    /// The scan of an element starting with `first`; `None` when no value starts so.
    fn starting_with(first: u8) -> Option<Scan> {
        match first {
            b'{' | b'[' => Some(Scan::Nested {
                depth: 0,
                in_string: false,
                escaped: false,
            }),
            b'"' => Some(Scan::Text { escaped: false }),
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => Some(Scan::Scalar),
            _ => None,
        }
    }

    /// How many bytes of `input` belong to the element, and whether it ends within them.
    fn advance(&mut self, input: &[u8], started: bool) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            match self {
                Scan::Nested {
                    depth,
                    in_string,
                    escaped,
                } => {
                    if *in_string {
                        if *escaped {
                            *escaped = false;
                        } else if b == b'\\' {
                            *escaped = true;
                        } else if b == b'"' {
                            *in_string = false;
                        }
                    } else {
                        match b {
                            b'"' => *in_string = true,
                            b'{' | b'[' => *depth += 1,
                            b'}' | b']' => {
                                *depth = depth.saturating_sub(1);
                                if *depth == 0 {
                                    return (i + 1, true);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Scan::Text { escaped } => {
                    if i == 0 && !started {
                        continue; // the opening quote
                    }
                    if *escaped {
                        *escaped = false;
                    } else if b == b'\\' {
                        *escaped = true;
                    } else if b == b'"' {
                        return (i + 1, true);
                    }
                }
                Scan::Scalar => {
                    if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) {
                        return (i, true);
                    }
                }
            }
        }
        (input.len(), false)
    }
}

/// A push decoder of a `/containers/json` body (see the module docs).
#[derive(Debug)]
pub struct ListDecoder {
    max_containers: usize,
    position: Position,
    /// The bytes of the element being read, while it fits in [`LIST_ELEMENT_MAX`].
    element: Vec<u8>,
    /// The element being read outgrew [`LIST_ELEMENT_MAX`]: its bytes are no longer kept.
    oversized: bool,
    list: ContainerList,
}

impl ListDecoder {
    /// A decoder keeping at most `max_containers` containers.
    pub fn new(max_containers: usize) -> Self {
        ListDecoder {
            max_containers,
            position: Position::Start,
            element: Vec::new(),
            oversized: false,
            list: ContainerList::default(),
        }
    }

    /// Takes the next piece of the body. `Ok(())`: all of it was consumed (more may follow, or the
    /// body may end). `Err`: the body is not a well-formed list; the decoder stays failed.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), DocError> {
        while !input.is_empty() {
            if let Err(e) = self.step(&mut input) {
                self.position = Position::Failed(e);
                self.element = Vec::new();
                return Err(e);
            }
        }
        match self.position {
            Position::Failed(e) => Err(e),
            _ => Ok(()),
        }
    }

    /// The list, at the end of the body.
    pub fn finish(mut self) -> Result<ContainerList, DocError> {
        match self.position {
            Position::End => Ok(self.list),
            Position::Failed(e) => Err(e),
            Position::Element(Scan::Scalar) => {
                // A number or literal cut by the end of the body: its own error first (`[1x`),
                // else the array is unfinished.
                self.element_done(false)?;
                Err(DocError::Truncated)
            }
            _ => Err(DocError::Truncated),
        }
    }

    /// Consumes some of `input` (at least one byte when it is not empty).
    fn step(&mut self, input: &mut &[u8]) -> Result<(), DocError> {
        let Some((&b, rest)) = input.split_first() else {
            return Ok(());
        };
        let blank = matches!(b, b' ' | b'\n' | b'\t' | b'\r');
        match self.position {
            Position::Failed(e) => return Err(e),
            _ if blank && !matches!(self.position, Position::Element(_)) => *input = rest,
            Position::Start => {
                *input = rest;
                self.position = match b {
                    b'[' => Position::First,
                    _ if Scan::starting_with(b).is_some() => return Err(DocError::WrongType),
                    _ => return Err(DocError::Syntax),
                };
            }
            Position::End => return Err(DocError::Syntax),
            Position::Between => {
                *input = rest;
                self.position = match b {
                    b',' => Position::Next,
                    b']' => Position::End,
                    _ => return Err(DocError::Syntax),
                };
            }
            Position::First if b == b']' => {
                *input = rest;
                self.position = Position::End;
            }
            Position::First | Position::Next => {
                let scan = Scan::starting_with(b).ok_or(DocError::Syntax)?;
                self.element.clear();
                self.oversized = false;
                self.position = Position::Element(scan);
            }
            Position::Element(mut scan) => {
                let started = !self.element.is_empty() || self.oversized;
                let (used, done) = scan.advance(input, started);
                let (part, rest) = input.split_at(used.min(input.len()));
                *input = rest;
                if !self.oversized {
                    if self.element.len() + part.len() > LIST_ELEMENT_MAX {
                        self.oversized = true;
                        self.element = Vec::new();
                    } else {
                        self.element.extend_from_slice(part);
                    }
                }
                self.position = Position::Element(scan);
                if done {
                    self.element_done(true)?;
                    self.position = Position::Between;
                }
            }
        }
        Ok(())
    }

    /// The element in `self.element` is complete. `delimited`: a byte after it was seen, so it
    /// cannot be cut short (an early end inside it is a syntax error, as the next byte shows).
    fn element_done(&mut self, delimited: bool) -> Result<(), DocError> {
        let seen = self.list.containers.len() + self.list.malformed;
        let outcome = if self.oversized {
            Ok(None)
        } else if seen >= self.max_containers {
            from_slice::<IgnoredAny>(&self.element).map(|_| None)
        } else {
            from_slice::<Entry<'_>>(&self.element).map(Some)
        };
        let entry = match outcome {
            Err(DocError::Truncated) if delimited => return Err(DocError::Syntax),
            Err(e) => return Err(e),
            Ok(entry) => entry,
        };
        if seen >= self.max_containers {
            self.list.over_cap += 1;
        } else {
            match entry.and_then(Entry::into_container) {
                Some(container) => self.list.containers.push(container),
                None => self.list.malformed += 1,
            }
        }
        self.oversized = false;
        if self.element.capacity() > 64 << 10 {
            self.element = Vec::new(); // a big element's buffer is not kept for the next ones
        } else {
            self.element.clear();
        }
        Ok(())
    }
}

/// One list element as read, before validation.
#[derive(Default)]
struct Entry<'a> {
    /// The element was not an object, or a field had the wrong type or appeared twice.
    malformed: bool,
    id: Option<Text<'a>>,
    name: Option<Text<'a>>,
    state: Option<Text<'a>>,
}

impl Entry<'_> {
    fn into_container(self) -> Option<ListedContainer> {
        if self.malformed {
            return None;
        }
        let id = ContainerId::parse(self.id?.as_str()).ok()?;
        let name = self.name.map_or_else(String::new, |name| {
            bounded_string(name.as_str().trim_start_matches('/'), NAME_MAX)
        });
        let state = self.state.map_or(ContainerState::Unknown, |s| {
            ContainerState::from_status(s.as_str())
        });
        Some(ListedContainer { id, name, state })
    }
}

impl<'de> Deserialize<'de> for Entry<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// Reads one element: a malformed one is an [`Entry`] marked so; only bad JSON is an error.
struct EntryVisitor;

impl EntryVisitor {
    fn not_an_object<'a>() -> Entry<'a> {
        Entry {
            malformed: true,
            ..Entry::default()
        }
    }
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a container summary")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry<'de>, A::Error> {
        let mut entry = Entry::default();
        let (mut seen_id, mut seen_names, mut seen_state) = (false, false, false);
        while let Some(key) = map.next_key::<Key>()? {
            let seen = match key {
                Key::Id => &mut seen_id,
                Key::Names => &mut seen_names,
                Key::State => &mut seen_state,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(seen, true) {
                entry.malformed = true; // a duplicated field: which one is true?
            }
            match key {
                Key::Names => match map.next_value::<Names<'de>>()? {
                    Names::Found(name) => entry.name = name,
                    Names::Malformed => entry.malformed = true,
                },
                _ => {
                    let text = match map.next_value::<Loose<'de>>()? {
                        Loose::Str(text) => Some(text),
                        Loose::Null if key == Key::State => None,
                        Loose::Null | Loose::Other => {
                            entry.malformed = true;
                            None
                        }
                    };
                    if key == Key::Id {
                        entry.id = text;
                    } else {
                        entry.state = text;
                    }
                }
            }
        }
        Ok(entry)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::not_an_object())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Entry<'de>, E> {
        Ok(Self::not_an_object())
    }
}

/// The summary fields the agent reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Id,
    Names,
    State,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "Id" => Key::Id,
                    "Names" => Key::Names,
                    "State" => Key::State,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// `Names`: the name to use, chosen while reading the array so that no vector of names is built.
enum Names<'a> {
    /// The first name without a second `/` (a plain name), else the first name; `None` for an empty
    /// array or `null`.
    Found(Option<Text<'a>>),
    /// Not an array of strings.
    Malformed,
}

impl<'de> Deserialize<'de> for Names<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NamesVisitor)
    }
}

struct NamesVisitor;

impl<'de> Visitor<'de> for NamesVisitor {
    type Value = Names<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Names<'de>, A::Error> {
        let mut first: Option<Text<'de>> = None;
        let mut plain: Option<Text<'de>> = None;
        let mut malformed = false;
        while let Some(item) = seq.next_element::<Loose<'de>>()? {
            match item {
                Loose::Str(name) => {
                    let is_plain = !name.as_str().trim_start_matches('/').contains('/');
                    if plain.is_none() && is_plain {
                        plain = Some(name);
                    } else if first.is_none() {
                        first = Some(name);
                    }
                }
                Loose::Null | Loose::Other => malformed = true,
            }
        }
        if malformed {
            Ok(Names::Malformed)
        } else {
            Ok(Names::Found(plain.or(first)))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Names<'de>, E> {
        Ok(Names::Found(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Names::Malformed)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Names<'de>, E> {
        Ok(Names::Malformed)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Names<'de>, E> {
        Ok(Names::Malformed)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Names<'de>, E> {
        Ok(Names::Malformed)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Names<'de>, E> {
        Ok(Names::Malformed)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Names<'de>, E> {
        Ok(Names::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_A: &str = "520af33257408650f8f67b2c496b528a0123456789abcdef0123456789abcdef";
    const ID_B: &str = "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef";

    fn id(text: &str) -> ContainerId {
        ContainerId::parse(text).unwrap()
    }

    fn summary(id: &str, names: &str, state: &str) -> String {
        format!(
            r#"{{"Id":"{id}","Names":{names},"Image":"nginx","ImageID":"sha256:abc","Command":"nginx -g 'daemon off;'","Created":1629574600,"Ports":[{{"PrivatePort":80,"Type":"tcp"}}],"Labels":{{"maintainer":"NGINX"}},"State":{state},"Status":"Up 2 minutes","HostConfig":{{"NetworkMode":"default"}},"NetworkSettings":{{"Networks":{{"bridge":{{"IPAddress":"172.17.0.2"}}}}}},"Mounts":[]}}"#
        )
    }

    #[test]
    fn docker_list() {
        let body = format!(
            "[{},{}]\n",
            summary(ID_A, r#"["/web"]"#, r#""running""#),
            summary(ID_B, r#"["/app/db","/db"]"#, r#""paused""#)
        );
        let list = decode_list(body.as_bytes(), 100).unwrap();
        assert_eq!(
            list,
            ContainerList {
                containers: vec![
                    ListedContainer {
                        id: id(ID_A),
                        name: "web".into(),
                        state: ContainerState::Running
                    },
                    ListedContainer {
                        id: id(ID_B),
                        name: "db".into(),
                        state: ContainerState::Paused
                    },
                ],
                malformed: 0,
                over_cap: 0,
            }
        );
    }

    #[test]
    fn podman_list_and_empty_list() {
        // Podman's compat list: names with the slash too, extra fields.
        let body = format!(
            r#"[{{"Id":"{ID_A}","Names":["/pm1"],"Image":"docker.io/library/alpine:latest","Command":"sleep 1000","Created":1700000000,"Ports":[],"Labels":{{}},"State":"running","Status":"Up 5 seconds","NetworkSettings":{{"Networks":{{"podman":{{}}}}}},"Mounts":[],"Name":"","Config":null,"NetworkingConfig":null,"Platform":null,"AdjustCPUShares":false}}]"#
        );
        let list = decode_list(body.as_bytes(), 10).unwrap();
        assert_eq!(list.containers.len(), 1);
        assert_eq!(list.containers[0].name, "pm1");
        assert_eq!(decode_list(b"[]", 10).unwrap(), ContainerList::default());
        assert_eq!(
            decode_list(b" [ ] \n", 0).unwrap(),
            ContainerList::default()
        );
    }

    #[test]
    fn malformed_elements_are_skipped_and_counted() {
        let body = format!(
            "[{},{},{},{},{},{},{},{},{},{},{}]",
            summary(ID_A, r#"["/good"]"#, r#""running""#),
            summary(&ID_A[..63], r#"["/short"]"#, r#""running""#),
            summary(&"x".repeat(64), r#"["/nonhex"]"#, r#""running""#),
            r#"{"Names":["/noid"],"State":"running"}"#,
            r#"{"Id":42,"Names":["/numid"]}"#,
            summary(ID_B, r#""/notarray""#, r#""running""#),
            summary(ID_B, r#"["/a",7]"#, r#""running""#),
            summary(ID_B, r#"["/a"]"#, "5"),
            "17",
            r#"[{"Id":"x"}]"#,
            summary(ID_B, "null", "null"),
        );
        let list = decode_list(body.as_bytes(), 100).unwrap();
        assert_eq!(list.malformed, 9);
        assert_eq!(list.over_cap, 0);
        assert_eq!(
            list.containers,
            vec![
                ListedContainer {
                    id: id(ID_A),
                    name: "good".into(),
                    state: ContainerState::Running
                },
                ListedContainer {
                    id: id(ID_B),
                    name: String::new(),
                    state: ContainerState::Unknown
                },
            ]
        );
    }

    #[test]
    fn duplicated_fields_make_an_element_malformed() {
        let body = format!(r#"[{{"Id":"{ID_A}","Id":"{ID_B}","Names":["/x"]}}]"#);
        let list = decode_list(body.as_bytes(), 10).unwrap();
        assert_eq!((list.containers.len(), list.malformed), (0, 1));
    }

    #[test]
    fn cap_is_enforced() {
        let one = summary(ID_A, r#"["/c"]"#, r#""running""#);
        let body = format!("[{}]", [one.as_str(); 7].join(","));
        let list = decode_list(body.as_bytes(), 3).unwrap();
        assert_eq!(
            (list.containers.len(), list.malformed, list.over_cap),
            (3, 0, 4)
        );
        // Malformed elements count against the cap, so the work done is bounded too.
        let body = format!("[1,2,{one},{one}]");
        let list = decode_list(body.as_bytes(), 3).unwrap();
        assert_eq!(
            (list.containers.len(), list.malformed, list.over_cap),
            (1, 2, 1)
        );
    }

    #[test]
    fn bad_documents_fail_as_a_whole() {
        assert_eq!(decode_list(b"", 10), Err(DocError::Truncated));
        assert_eq!(decode_list(b"{}", 10), Err(DocError::WrongType));
        assert_eq!(decode_list(b"null", 10), Err(DocError::WrongType));
        assert_eq!(decode_list(br#"[{"Id":"a"}"#, 10), Err(DocError::Truncated));
        assert_eq!(decode_list(b"[] []", 10), Err(DocError::Syntax));
        assert_eq!(
            decode_list(br#"[{"Id":"\ud800"}]"#, 10),
            Err(DocError::Syntax)
        );
        assert_eq!(decode_list(b"[\"\xff\"]", 10), Err(DocError::Syntax));
        // Even past the cap the rest must be well-formed JSON.
        let body = format!("[{},{{]", summary(ID_A, r#"["/c"]"#, r#""running""#));
        assert_eq!(decode_list(body.as_bytes(), 1), Err(DocError::Syntax));
    }

    #[test]
    fn deep_nesting_never_overflows() {
        let depth = 200_000;
        let junk = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let body = format!(r#"[{{"Id":"{ID_A}","Labels":{junk},"Names":["/n"]}},{junk}]"#);
        let list = decode_list(body.as_bytes(), 10).unwrap();
        assert_eq!((list.containers.len(), list.malformed), (1, 1));
        let body = format!(r#"[{{"Id":{junk}}}]"#);
        let list = decode_list(body.as_bytes(), 10).unwrap();
        assert_eq!(list.malformed, 1);
        let body = format!(r#"[{{"Names":[{junk}]}}]"#);
        let list = decode_list(body.as_bytes(), 10).unwrap();
        assert_eq!(list.malformed, 1);
    }

    /// The body of a recorded `/containers/json` answer.
    fn recorded_body(response: &[u8]) -> Vec<u8> {
        let mut collector = crate::http::ResponseCollector::new(1 << 20);
        assert_eq!(collector.feed(response), Ok(true));
        collector.take_body()
    }

    const RECORDINGS: [&[u8]; 2] = [
        include_bytes!("../../tests/fixtures/recorded/docker-containers-json-3.http"),
        include_bytes!("../../tests/fixtures/recorded/podman-containers-json-3.http"),
    ];

    /// Feeds `body` in the pieces `lengths` gives (cycled).
    fn decode_in_pieces(
        body: &[u8],
        cap: usize,
        mut lengths: impl FnMut() -> usize,
    ) -> Result<ContainerList, DocError> {
        let mut decoder = ListDecoder::new(cap);
        let mut rest = body;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(lengths().clamp(1, rest.len()));
            decoder.feed(piece)?;
            rest = tail;
        }
        decoder.finish()
    }

    #[test]
    fn recorded_lists_decode_the_same_at_every_split() {
        for recording in RECORDINGS {
            let body = recorded_body(recording);
            let whole = decode_list(&body, 100).unwrap();
            assert_eq!(
                whole.containers.len(),
                3,
                "{}",
                String::from_utf8_lossy(&body)
            );
            assert!(whole.containers.iter().all(|c| !c.name.is_empty()));
            for cap in [0, 1, 2, 100] {
                let expected = decode_list(&body, cap);
                for split in 0..=body.len() {
                    let mut decoder = ListDecoder::new(cap);
                    let (a, b) = body.split_at(split);
                    let got = decoder.feed(a).and_then(|()| decoder.feed(b));
                    assert_eq!(got.and_then(|()| decoder.finish()), expected, "{split}");
                }
                assert_eq!(decode_in_pieces(&body, cap, || 1), expected);
                let mut state = 0x2545_f491_4f6c_dd1du64 ^ cap as u64;
                for _ in 0..50 {
                    let random = decode_in_pieces(&body, cap, || {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state % 97) as usize
                    });
                    assert_eq!(random, expected);
                }
            }
        }
    }

    #[test]
    fn every_prefix_and_corruption_decodes_the_same_in_pieces() {
        // Errors too must not depend on where the body was cut.
        let body = recorded_body(RECORDINGS[0]);
        for end in 0..body.len() {
            let prefix = &body[..end];
            assert_eq!(
                decode_in_pieces(prefix, 2, || 1),
                decode_list(prefix, 2),
                "prefix of {end}"
            );
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut corrupt = body.clone();
            let at = (state % corrupt.len() as u64) as usize;
            corrupt[at] = b"{}[]\",:\\ 0ex\xff"[(state >> 32) as usize % 13];
            assert_eq!(
                decode_in_pieces(&corrupt, 2, || 1),
                decode_list(&corrupt, 2),
                "{}",
                String::from_utf8_lossy(&corrupt)
            );
        }
    }

    #[test]
    fn scalars_and_strings_straddling_pieces() {
        let body = br#"[1, -2.5e3 ,"s\"]" , true,null,{"Id":"x"}, [ "]" ] ]"#;
        let whole = decode_list(body, 100).unwrap();
        assert_eq!((whole.containers.len(), whole.malformed), (0, 7));
        assert_eq!(decode_in_pieces(body, 100, || 1), Ok(whole));
        assert_eq!(decode_list(b"[1", 10), Err(DocError::Truncated));
        assert_eq!(decode_list(b"[1x", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[1x]", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[nul", 10), Err(DocError::Truncated));
        assert_eq!(decode_list(b"[nul]", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[1,]", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[,1]", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[1 2]", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"[}", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"x", 10), Err(DocError::Syntax));
        assert_eq!(decode_list(b"\"x\"", 10), Err(DocError::WrongType));
    }

    #[test]
    fn a_failed_decoder_stays_failed() {
        let mut decoder = ListDecoder::new(10);
        assert_eq!(decoder.feed(b"[1x"), Ok(())); // "1x" could still be "1x…"
        assert_eq!(decoder.feed(b","), Err(DocError::Syntax));
        assert_eq!(decoder.feed(b"]"), Err(DocError::Syntax));
        assert_eq!(decoder.finish(), Err(DocError::Syntax));
    }

    #[test]
    fn oversized_elements_are_skipped_not_kept() {
        let labels: String = (0..LIST_ELEMENT_MAX / 16)
            .map(|i| format!(r#""label.{i:08}":"{}","#, "v".repeat(8)))
            .collect();
        let big = format!(r#"{{"Id":"{ID_A}","Labels":{{{labels}"x":"y"}},"Names":["/big"]}}"#);
        assert!(big.len() > LIST_ELEMENT_MAX);
        let small = summary(ID_B, r#"["/small"]"#, r#""running""#);
        let body = format!("[{big},{small}]");
        let list = decode_in_pieces(body.as_bytes(), 10, || 4096).unwrap();
        assert_eq!((list.containers.len(), list.malformed), (1, 1));
        assert_eq!(list.containers[0].name, "small");
        // Under the bound the same labels are fine.
        let labels: String = (0..1000)
            .map(|i| format!(r#""label.{i:08}":"{}","#, "v".repeat(64)))
            .collect();
        let body = format!(r#"[{{"Id":"{ID_A}","Labels":{{{labels}"x":"y"}},"Names":["/ok"]}}]"#);
        let list = decode_in_pieces(body.as_bytes(), 10, || 1000).unwrap();
        assert_eq!(list.containers.len(), 1);
    }

    #[test]
    fn ten_thousand_labelled_containers() {
        // Each element ~3 KiB (labels, mounts), 30 MiB in all, fed in 64 KiB reads.
        let labels: String = (0..60)
            .map(|i| format!(r#""com.example.label.{i}":"value-{i}-{}","#, "x".repeat(16)))
            .collect();
        let mounts = r#"[{"Type":"bind","Source":"/srv/data","Destination":"/data","Mode":"","RW":true,"Propagation":"rprivate"}]"#;
        let mut body = String::from("[");
        for n in 0..10_000u32 {
            if n > 0 {
                body.push(',');
            }
            let id = format!("{n:064x}");
            body.push_str(&format!(
                r#"{{"Id":"{id}","Names":["/c{n}"],"Labels":{{{labels}"last":""}},"Mounts":{mounts},"State":"running"}}"#
            ));
        }
        body.push(']');
        let list = decode_in_pieces(body.as_bytes(), 65_536, || 64 << 10).unwrap();
        assert_eq!((list.containers.len(), list.malformed), (10_000, 0));
        assert_eq!(list.containers[9_999].name, "c9999");
    }
}
