//! Container identity in sFlow: the data source index (`dsIndex` of data source 3:N) and the hostname.
//!
//! The index follows the reference agent (hsflowd) exactly, so a collector that has seen both agents
//! keeps one history per container: `100000 + fnv1a32(uuid) % 50000`, then linear probing (+1,
//! wrapping inside 100000..=149999) past indices already taken. The same container (same UUID) gets the
//! same index after a restart as long as no other container took its slot meanwhile.
//!
//! The allocator is a 50000-bit occupancy map (6.25 KiB) and nothing else, whatever the number of
//! containers: the caller holds each container's index (the container table keeps it while it keeps
//! the container), allocates once per container and releases once. Allocation is O(slots / 64) in the
//! worst case, never a loop without end; nothing here panics.

use super::truncate_utf8;
use crate::wire::HOSTNAME_MAX;

/// The first container data source index.
pub const DS_INDEX_FIRST: u32 = 100_000;
/// The number of container data source indices.
pub const DS_INDEX_COUNT: u32 = 50_000;
/// The last container data source index.
pub const DS_INDEX_LAST: u32 = DS_INDEX_FIRST + DS_INDEX_COUNT - 1;

const FNV_OFFSET_BASIS: u32 = 2_166_136_261;
const FNV_PRIME: u32 = 16_777_619;
const WORDS: usize = DS_INDEX_COUNT.div_ceil(64) as usize;

/// FNV-1a, 32 bits, as the reference agent computes it: each byte is XORed in as a C `signed char`
/// promoted to 32 bits, so a byte `>= 0x80` is XORed as `0xFFFFFFxx`.
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(FNV_OFFSET_BASIS, |hash, &b| {
        let sign_extended = i32::from(b as i8) as u32;
        (hash ^ sign_extended).wrapping_mul(FNV_PRIME)
    })
}

/// The index a UUID hashes to, before any probing.
pub fn home_ds_index(uuid: &[u8; 16]) -> u32 {
    DS_INDEX_FIRST + fnv1a32(uuid) % DS_INDEX_COUNT
}

/// Hands out container data source indices (see the module documentation).
#[derive(Debug, Clone)]
pub struct DsIndexAllocator {
    /// Bit `i` set: index `DS_INDEX_FIRST + i` is taken.
    taken: Vec<u64>,
    /// Bits set.
    held: usize,
}

impl Default for DsIndexAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl DsIndexAllocator {
    /// An allocator with every index free.
    pub fn new() -> Self {
        DsIndexAllocator {
            taken: vec![0; WORDS],
            held: 0,
        }
    }

    /// A new index for the container of `uuid`: the first free one from its home index onwards
    /// (wrapping). `None` when all 50000 indices are taken. The caller keeps it until it releases it.
    pub fn allocate(&mut self, uuid: [u8; 16]) -> Option<u32> {
        let home = fnv1a32(&uuid) % DS_INDEX_COUNT;
        let slot = self.first_free_from(home)?;
        self.set_taken(slot, true);
        Some(DS_INDEX_FIRST + slot)
    }

    /// Frees `index`; false (and no change) when it was not held.
    pub fn release(&mut self, index: u32) -> bool {
        if !(DS_INDEX_FIRST..=DS_INDEX_LAST).contains(&index) {
            return false;
        }
        self.set_taken(index - DS_INDEX_FIRST, false)
    }

    /// How many indices are held.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether no index is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The first free slot (0-based) at or after `start`, wrapping once around the table.
    fn first_free_from(&self, start: u32) -> Option<u32> {
        if self.held >= DS_INDEX_COUNT as usize {
            return None;
        }
        let from_start = self.first_free_in(start, DS_INDEX_COUNT);
        from_start.or_else(|| self.first_free_in(0, start))
    }

    /// The first free slot in `start..end`.
    fn first_free_in(&self, start: u32, end: u32) -> Option<u32> {
        let mut slot = start;
        while slot < end {
            let word = self
                .taken
                .get((slot / 64) as usize)
                .copied()
                .unwrap_or(u64::MAX);
            let free = !word >> (slot % 64); // bit 0 = `slot`
            if free != 0 {
                let found = slot + free.trailing_zeros();
                return (found < end).then_some(found);
            }
            slot = (slot / 64 + 1) * 64; // the whole rest of this word is taken
        }
        None
    }

    /// Marks `slot` taken or free; false when it already was.
    fn set_taken(&mut self, slot: u32, taken: bool) -> bool {
        let Some(word) = self.taken.get_mut((slot / 64) as usize) else {
            return false;
        };
        let bit = 1u64 << (slot % 64);
        if (*word & bit != 0) == taken {
            return false;
        }
        if taken {
            *word |= bit;
            self.held += 1;
        } else {
            *word &= !bit;
            self.held -= 1;
        }
        true
    }
}

/// The hostname a container is reported under: its name, or `name.<short id>` when another tracked
/// container has the same name (`duplicate`), cut to [`HOSTNAME_MAX`] (64) bytes on a character
/// boundary.
pub fn display_name(name: &str, short_id: &str, duplicate: bool) -> String {
    let mut out = String::new();
    write_display_name(&mut out, name, short_id, duplicate);
    out
}

/// [`display_name`] into `out`, replacing what it held: no allocation once `out` has grown to the
/// longest name.
pub fn write_display_name(out: &mut String, name: &str, short_id: &str, duplicate: bool) {
    out.clear();
    out.push_str(name);
    if duplicate {
        out.push('.');
        out.push_str(short_id);
    }
    let kept = truncate_utf8(out, HOSTNAME_MAX).len();
    out.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    fn uuid(text: &str) -> [u8; 16] {
        let hex: String = text.chars().filter(|&c| c != '-').collect();
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// A distinct UUID per counter value.
    fn counter_uuid(n: u32) -> [u8; 16] {
        let mut out = [0xa5u8; 16];
        out[..4].copy_from_slice(&n.to_be_bytes());
        out
    }

    /// A UUID, different from `avoid`, whose home index is `home`.
    fn uuid_with_home(home: u32, avoid: &[[u8; 16]]) -> [u8; 16] {
        (0u32..)
            .map(counter_uuid)
            .find(|u| home_ds_index(u) == home && !avoid.contains(u))
            .unwrap()
    }

    #[test]
    fn fnv_reference_values() {
        // Standard FNV-1a-32 test vectors (ASCII only, where sign extension does not matter).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
        // A high byte is XORed sign-extended: differs from the unsigned variant.
        let unsigned = (FNV_OFFSET_BASIS ^ 0x80).wrapping_mul(FNV_PRIME);
        let signed = (FNV_OFFSET_BASIS ^ 0xffff_ff80).wrapping_mul(FNV_PRIME);
        assert_eq!(fnv1a32(&[0x80]), signed);
        assert_ne!(signed, unsigned);
    }

    #[test]
    fn known_pairs_from_the_reference_agent() {
        let pairs = [
            ("520af332-5740-8650-f8f6-7b2c496b528a", 108_628),
            ("7cdf8808-3368-8538-ce27-ba6b98501fce", 120_727),
            ("1277bddb-d14c-ae70-e34c-84571d15c03d", 101_786),
            ("d049a4af-8e4d-059a-61cf-45146e3cf3d3", 133_704),
        ];
        let mut allocator = DsIndexAllocator::new();
        for (text, index) in pairs {
            assert_eq!(home_ds_index(&uuid(text)), index, "{text}");
            assert_eq!(allocator.allocate(uuid(text)), Some(index), "{text}");
        }
        assert_eq!(allocator.len(), 4);
    }

    #[test]
    fn known_pair_from_a_container_id() {
        let id = crate::docker::ContainerId::parse(
            "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(DsIndexAllocator::new().allocate(id.uuid()), Some(120_727));
    }

    #[test]
    fn home_index_and_release() {
        let mut allocator = DsIndexAllocator::new();
        let a = uuid("7cdf8808-3368-8538-ce27-ba6b98501fce");
        assert_eq!(allocator.allocate(a), Some(120_727));
        assert_eq!(allocator.len(), 1);
        assert!(allocator.release(120_727));
        assert!(!allocator.release(120_727));
        assert!(allocator.is_empty());
        // Indices outside the range, or never handed out, are ignored.
        assert!(!allocator.release(0));
        assert!(!allocator.release(u32::MAX));
        assert!(!allocator.release(DS_INDEX_LAST + 1));
        assert!(allocator.is_empty());
        // Forgotten and seen again, the container is back at its home index.
        assert_eq!(allocator.allocate(a), Some(120_727));
    }

    #[test]
    fn collision_probes_to_the_next_free_index() {
        let mut allocator = DsIndexAllocator::new();
        let a = uuid("7cdf8808-3368-8538-ce27-ba6b98501fce");
        let b = uuid_with_home(120_727, &[a]);
        let c = uuid_with_home(120_728, &[a, b]);
        assert_eq!(allocator.allocate(a), Some(120_727));
        assert_eq!(allocator.allocate(b), Some(120_728));
        assert_eq!(allocator.allocate(c), Some(120_729)); // its home was taken by b
                                                          // Freeing a's slot lets a newcomer with that home have it.
        assert!(allocator.release(120_727));
        let d = uuid_with_home(120_727, &[a, b, c]);
        assert_eq!(allocator.allocate(d), Some(120_727));
    }

    #[test]
    fn probing_wraps_inside_the_range() {
        let mut allocator = DsIndexAllocator::new();
        let a = uuid_with_home(DS_INDEX_LAST, &[]);
        let b = uuid_with_home(DS_INDEX_LAST, &[a]);
        assert_eq!(allocator.allocate(a), Some(DS_INDEX_LAST));
        assert_eq!(allocator.allocate(b), Some(DS_INDEX_FIRST));
        let c = uuid_with_home(DS_INDEX_LAST, &[a, b]);
        assert_eq!(allocator.allocate(c), Some(DS_INDEX_FIRST + 1));
    }

    #[test]
    fn full_table_gives_none() {
        let mut allocator = DsIndexAllocator::new();
        let mut seen = std::collections::HashSet::new();
        for n in 0..DS_INDEX_COUNT {
            let index = allocator.allocate(counter_uuid(n)).unwrap();
            assert!((DS_INDEX_FIRST..=DS_INDEX_LAST).contains(&index));
            assert!(seen.insert(index), "index {index} handed out twice");
        }
        assert_eq!(allocator.len(), DS_INDEX_COUNT as usize);
        assert_eq!(allocator.allocate(counter_uuid(DS_INDEX_COUNT)), None);
        // One free slot anywhere is found, whatever the newcomer's home.
        assert!(allocator.release(DS_INDEX_FIRST + 12_345));
        assert_eq!(
            allocator.allocate(counter_uuid(DS_INDEX_COUNT + 1)),
            Some(DS_INDEX_FIRST + 12_345)
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("web", "7cdf88083368", false), "web");
        assert_eq!(
            display_name("web", "7cdf88083368", true),
            "web.7cdf88083368"
        );
        let long = "n".repeat(70);
        assert_eq!(display_name(&long, "7cdf88083368", false).len(), 64);
        let cut = display_name(&"n".repeat(60), "7cdf88083368", true);
        assert_eq!(cut, format!("{}.7cd", "n".repeat(60)));
        // A multi-byte character straddling byte 64 is dropped whole.
        let name = format!("{}é", "n".repeat(63));
        assert_eq!(display_name(&name, "x", false), "n".repeat(63));
        assert_eq!(display_name("", "7cdf88083368", true), ".7cdf88083368");
    }
}
