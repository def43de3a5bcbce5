//! Containers, whatever runtime runs them: their identity in sFlow and what a source of containers
//! tells the agent about them.
//!
//! - [`ContainerId`]: a validated 64-hex id, `Copy`, with its short form and UUID;
//! - identity: [`DsIndexAllocator`] (the `3:N` data source index) and [`display_name`];
//! - [`Table`]: the container table, a state machine from news and time to [`Action`]s;
//! - [`News`]: what any source (the Docker or Podman engine conversation today, containerd's task
//!   directories tomorrow) tells the container table, in words of no engine in particular.
//!
//! Nothing here reads a file or a socket, and nothing panics.

mod id;
mod identity;
mod news;
mod slot_index;
mod table;

pub use id::{ContainerId, IdError, ID_HEX_LEN, SHORT_ID_LEN};
pub use identity::{
    display_name, fnv1a32, home_ds_index, write_display_name, DsIndexAllocator, DS_INDEX_COUNT,
    DS_INDEX_FIRST, DS_INDEX_LAST,
};
pub use news::{Description, EndState, News, Presence, NAME_MAX};
pub use slot_index::SlotIndex;
pub use table::{
    Action, Sample, SampleName, SourceId, Table, MAX_ENDED, STATE_PAUSED, STATE_RUNNING,
};

/// The longest prefix of `text` that fits in `max` bytes and ends on a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1; // stops at 0 at the latest, which is always a boundary
    }
    text.get(..end).unwrap_or("")
}
