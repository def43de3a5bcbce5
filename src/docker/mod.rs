//! The engine conversation, without I/O: what to ask the Docker Engine API (or Podman's compatible API)
//! and how to read its answers, plus container identity in sFlow.
//!
//! - [`Conversation`] ([`conversation`]): the whole conversation as a state machine — bytes, EOFs,
//!   I/O failures and the time in; [`Transmit`]s (open a connection and write a request, close
//!   one), one deadline and engine-neutral [`crate::container::News`] out. It reads no socket and
//!   no clock; the agent's engine client owns the sockets;
//! - [`ApiVersion`]: API versions, negotiation from the ping's `Api-Version`, and recognising a
//!   "too old / too new" refusal ([`negotiate`], [`version_rejection`], [`renegotiate`]);
//! - request targets: [`ping_path`], [`events_path`], [`list_path`] (running and paused containers,
//!   asked for by name: [`LIST_FILTER`]), [`inspect_path`];
//! - [`ContainerId`]: a validated 64-hex id, `Copy`, with its short form and UUID;
//! - documents: [`decode_event`] (one `/events` line), [`ListDecoder`] / [`decode_list`]
//!   (`/containers/json`, pushed in pieces or whole),
//!   [`decode_inspect`] (`/containers/{id}/json`), with [`ContainerState`];
//! - identity: [`DsIndexAllocator`] (the `3:N` data source index) and [`display_name`].
//!
//! Contract: everything from the engine is untrusted. No function here panics on any input; every
//! decoder returns a small `Copy` error ([`DocError`]) for malformed input, and every stored string is
//! bounded ([`NAME_MAX`], [`CPUSET_MAX`]). Decoders read only the fields the agent uses and skip the
//! rest (label maps included) without storing it; strings are borrowed from the input while decoding
//! when they contain no escapes. Input sizes are bounded by the caller (an event line at most 1 MiB,
//! an inspect body by the HTTP layer's limit) or here (a list element at most [`LIST_ELEMENT_MAX`];
//! the list is never held whole). Documents are read with serde and serde_json into structs of the
//! fields used; values skipped are skipped without recursion at any depth, and the few levels a
//! decoder descends into are within serde_json's recursion limit: see `json.rs` for the contract.

pub mod conversation;
mod event;
mod inspect;
mod json;
mod list;
mod paths;
mod state;
mod version;

pub use crate::container::{
    display_name, fnv1a32, home_ds_index, write_display_name, DsIndexAllocator, DS_INDEX_COUNT,
    DS_INDEX_FIRST, DS_INDEX_LAST,
};
pub use crate::container::{ContainerId, IdError, ID_HEX_LEN, SHORT_ID_LEN};
pub use conversation::{Conversation, IoFailure, Transmit};
pub use event::{decode_event, Event, EventKind};
pub use inspect::{decode_inspect, Inspect, CPUSET_MAX};
pub use json::DocError;
pub use list::{decode_list, ContainerList, ListDecoder, ListedContainer, LIST_ELEMENT_MAX};
pub use paths::{
    events_path, inspect_path, list_path, ping_path, since_from_time_nano, EVENT_ACTIONS,
    LIST_FILTER,
};
pub use state::ContainerState;
pub use version::{
    negotiate, renegotiate, version_rejection, ApiVersion, VersionError, VersionRejection,
    AGENT_MAX, AGENT_MIN,
};

/// Longest container name or hostname kept from an engine document (bytes).
pub use crate::container::NAME_MAX;
