//! Container ids: the engine's 64-hex-digit container identifier, validated once and stored inline,
//! decoded.
//!
//! Only the canonical form is accepted: exactly 64 characters of `0-9a-f`. Upper-case hex is refused
//! rather than folded, for two reasons: the engines never send it (moby validates ids against
//! `^[a-f0-9]{64}$`, Podman generates the same form), so upper case marks a document that is not what it
//! claims to be; and with one accepted spelling, two ids are equal exactly when their texts are equal.
//! Nothing here panics.

use std::fmt;

/// Number of hex digits in a container id.
pub const ID_HEX_LEN: usize = 64;
/// Number of hex digits in a short id (`docker ps` style).
pub const SHORT_ID_LEN: usize = 12;

/// Why a text is not a container id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// The text is not exactly 64 bytes long.
    WrongLength,
    /// The text has a byte outside `0-9a-f` (upper-case hex included).
    NotLowercaseHex,
}

impl IdError {
    /// A static description of the error.
    pub const fn message(self) -> &'static str {
        match self {
            IdError::WrongLength => "container id is not 64 hex digits long",
            IdError::NotLowercaseHex => "container id has a byte outside lower-case hex",
        }
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for IdError {}

/// A validated container id: 64 lower-case hex digits, stored as the 32 bytes they spell.
///
/// The agent keeps one per container, in its table and in every queue of requests, so the decoded
/// form halves what they cost; the text is written back on demand ([`ContainerId::text`],
/// [`ContainerId::short`], `Display`) without allocating. Ordering and equality are those of the text
/// (lower-case hex sorts as its nibbles do); the type is `Copy`, `Eq`, `Ord` and `Hash`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId([u8; ID_HEX_LEN / 2]);

impl ContainerId {
    /// Validates `text` as a container id (see the module documentation for the accepted form).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::from_ascii(text.as_bytes())
    }

    /// Validates raw bytes as a container id.
    pub fn from_ascii(bytes: &[u8]) -> Result<Self, IdError> {
        if bytes.len() != ID_HEX_LEN {
            return Err(IdError::WrongLength);
        }
        let mut id = [0u8; ID_HEX_LEN / 2];
        for (byte, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
            match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(high), Some(low)) => *byte = (high << 4) | low,
                _ => return Err(IdError::NotLowercaseHex),
            }
        }
        Ok(ContainerId(id))
    }

    /// The id whose 64 hex digits spell these 32 bytes (containerd task names that are not ids are
    /// hashed into one).
    pub const fn from_bytes(bytes: [u8; ID_HEX_LEN / 2]) -> Self {
        ContainerId(bytes)
    }

    /// The 64 hex digits.
    pub fn text(&self) -> IdText<ID_HEX_LEN> {
        self.hex()
    }

    /// The first 12 hex digits, as `docker ps` shows them.
    pub fn short(&self) -> IdText<SHORT_ID_LEN> {
        self.hex()
    }

    /// The container's UUID as the reference agent forms it: the first 32 hex digits decoded into 16
    /// bytes (`7cdf880833688538ce27ba6b98501fce…` gives `7c df 88 08 … 1f ce`).
    pub fn uuid(&self) -> [u8; 16] {
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&self.0[..16]);
        uuid
    }

    /// The first `N` hex digits.
    fn hex<const N: usize>(&self) -> IdText<N> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'0'; N];
        for (i, digit) in text.iter_mut().enumerate() {
            let byte = self.0.get(i / 2).copied().unwrap_or(0);
            let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0xf };
            *digit = DIGITS[usize::from(nibble)];
        }
        IdText(text)
    }
}

/// Hex digits of an id, written on the stack: [`ContainerId::text`] and [`ContainerId::short`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdText<const N: usize>([u8; N]);

impl<const N: usize> IdText<N> {
    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written, so this cannot fail; the fallback keeps it
        // panic-free.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl<const N: usize> std::ops::Deref for IdText<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Display for IdText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for IdText<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The value of one lower-case hex digit.
fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl fmt::Debug for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContainerId({})", self.text())
    }
}

impl std::str::FromStr for ContainerId {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_and_renders_the_canonical_form() {
        let id = ContainerId::parse(ID).unwrap();
        assert_eq!(id.text().as_str(), ID);
        assert_eq!(id.to_string(), ID);
        assert_eq!(format!("{id:?}"), format!("ContainerId({ID})"));
        assert_eq!(&*id.short(), "7cdf88083368");
        assert_eq!(std::mem::size_of::<ContainerId>(), 32);
        assert_eq!(ID.parse::<ContainerId>().unwrap(), id);
    }

    #[test]
    fn uuid_is_the_first_sixteen_bytes() {
        let id = ContainerId::parse(ID).unwrap();
        assert_eq!(
            id.uuid(),
            [
                0x7c, 0xdf, 0x88, 0x08, 0x33, 0x68, 0x85, 0x38, 0xce, 0x27, 0xba, 0x6b, 0x98, 0x50,
                0x1f, 0xce
            ]
        );
    }

    #[test]
    fn refuses_wrong_lengths() {
        assert_eq!(ContainerId::parse(""), Err(IdError::WrongLength));
        assert_eq!(ContainerId::parse(&ID[..63]), Err(IdError::WrongLength));
        assert_eq!(
            ContainerId::parse(&format!("{ID}0")),
            Err(IdError::WrongLength)
        );
        assert_eq!(ContainerId::parse(&ID[..12]), Err(IdError::WrongLength));
    }

    #[test]
    fn refuses_non_hex_and_upper_case() {
        let upper = ID.to_ascii_uppercase();
        assert_eq!(ContainerId::parse(&upper), Err(IdError::NotLowercaseHex));
        let mut bad = ID.to_string();
        bad.replace_range(10..11, "g");
        assert_eq!(ContainerId::parse(&bad), Err(IdError::NotLowercaseHex));
        // 64 bytes, but a multi-byte character among them.
        let mut bad = ID[..62].to_string();
        bad.push('é');
        assert_eq!(bad.len(), 64);
        assert_eq!(ContainerId::parse(&bad), Err(IdError::NotLowercaseHex));
        assert_eq!(
            ContainerId::from_ascii(&[0xff; 64]),
            Err(IdError::NotLowercaseHex)
        );
    }

    #[test]
    fn orders_as_its_text() {
        let mut ids: Vec<String> = (0..50u64)
            .map(|i| format!("{:064x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
            .collect();
        let mut parsed: Vec<ContainerId> = ids.iter().map(|t| t.parse().unwrap()).collect();
        ids.sort();
        parsed.sort();
        let back: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(back, ids);
    }

    #[test]
    fn is_copy_and_hashable() {
        let id = ContainerId::parse(ID).unwrap();
        let copy = id;
        let mut set = std::collections::HashSet::new();
        set.insert(id);
        assert!(set.contains(&copy));
    }
}
