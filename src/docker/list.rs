//! Decoding the `/containers/json` list.
//!
//! The body is a JSON array of container summaries. Only `Id`, `Names` and `State` are read; every other
//! field is skipped without being stored. The list is lenient per element: an element that is not an
//! object, or whose `Id`, `Names` or `State` is missing, malformed or of the wrong type, is skipped and
//! counted in [`ContainerList::malformed`], so one odd container does not hide the others. Elements
//! past the caller's cap are skipped and counted in [`ContainerList::over_cap`]. Only a body that is
//! not a well-formed JSON array fails as a whole. Nothing here panics.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::id::ContainerId;
use super::json::{bounded_string, DocError, Loose, Text};
use super::state::ContainerState;
use super::NAME_MAX;

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
    /// Elements skipped because they were malformed (within the cap).
    pub malformed: usize,
    /// Elements skipped, unread, because the cap was reached.
    pub over_cap: usize,
}

/// Decodes a `/containers/json` body, keeping at most `max_containers` containers.
pub fn decode_list(body: &[u8], max_containers: usize) -> Result<ContainerList, DocError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let list = deserializer.deserialize_seq(ListVisitor { max_containers })?;
    deserializer.end()?;
    Ok(list)
}

struct ListVisitor {
    max_containers: usize,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = ContainerList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of containers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ContainerList, A::Error> {
        let mut list = ContainerList::default();
        loop {
            let seen = list.containers.len() + list.malformed;
            if seen >= self.max_containers {
                break;
            }
            match seq.next_element::<Entry<'de>>()? {
                None => return Ok(list),
                Some(entry) => match entry.into_container() {
                    Some(container) => list.containers.push(container),
                    None => list.malformed += 1,
                },
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            list.over_cap += 1;
        }
        Ok(list)
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
                Key::Id | Key::State => {
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
                Key::Names => match map.next_value::<Names<'de>>()? {
                    Names::Found(name) => entry.name = name,
                    Names::Malformed => entry.malformed = true,
                },
                Key::Other => {}
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
}
