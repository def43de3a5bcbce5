//! The host's UUID for `host_descr`: the firmware's system UUID, else one derived from the machine-id.
//!
//! The machine-id is not sent as is: systemd documents it as confidential, not to be exposed on the
//! network, and asks applications for an application-specific hash of it instead. So the fallback is a
//! name-based UUID (version 5, RFC 9562: SHA-1 of the namespace and a name) with the machine-id as the
//! namespace and `csflowd` as the name: stable for the host, unique per host, and the machine-id cannot
//! be read back from it. (The reference agent also hashes the machine-id rather than sending it.)

use std::path::Path;

use super::file::{Extent, FileBuf};
use super::parse::{parse_hex_16, trim};
use super::Roots;

/// The name hashed with the machine-id.
const UUID_NAME: &[u8] = b"csflowd";

/// `<sys>/class/dmi/id/product_uuid` when readable and neither all zeros nor all ones, else a UUID
/// derived from `<etc>/machine-id`, else `None`. Reading the DMI file needs root.
pub fn host_uuid(roots: &Roots) -> Option<[u8; 16]> {
    let mut files = FileBuf::default();
    let mut read_hex = |path: &Path| {
        let text = files.read(path, Extent::Prefix(128))?;
        parse_hex_16(trim(text)).filter(is_meaningful)
    };
    read_hex(&roots.sys.join("class/dmi/id/product_uuid"))
        .or_else(|| read_hex(&roots.etc.join("machine-id")).map(|id| uuid_v5(&id, UUID_NAME)))
}

/// Firmware and images use all zeros or all ones for "not set".
fn is_meaningful(id: &[u8; 16]) -> bool {
    *id != [0; 16] && *id != [0xff; 16]
}

/// A version 5 (SHA-1, name-based) UUID of `name` in `namespace`.
pub fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> [u8; 16] {
    let mut sha = Sha1::new();
    sha.update(namespace);
    sha.update(name);
    let digest = sha.finish();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id[6] = (id[6] & 0x0f) | 0x50;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

/// SHA-1 (FIPS 180-4), used only to derive the UUID above, never for security.
struct Sha1 {
    state: [u32; 5],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

impl Sha1 {
    fn new() -> Self {
        Sha1 {
            state: [
                0x6745_2301,
                0xefcd_ab89,
                0x98ba_dcfe,
                0x1032_5476,
                0xc3d2_e1f0,
            ],
            block: [0; 64],
            block_len: 0,
            total_len: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        for &b in data {
            self.push_byte(b);
        }
    }

    fn push_byte(&mut self, b: u8) {
        if let Some(slot) = self.block.get_mut(self.block_len) {
            *slot = b;
        }
        self.block_len += 1;
        if self.block_len == 64 {
            compress(&mut self.state, &self.block);
            self.block_len = 0;
        }
    }

    fn finish(mut self) -> [u8; 20] {
        let bit_len = self.total_len.wrapping_mul(8);
        self.push_byte(0x80);
        while self.block_len != 56 {
            self.push_byte(0);
        }
        for b in bit_len.to_be_bytes() {
            self.push_byte(b);
        }
        let mut out = [0u8; 20];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 80];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    for (i, &wi) in w.iter().enumerate() {
        let (f, k) = match i {
            0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
            20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
            _ => (b ^ c ^ d, 0xca62_c1d6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(wi);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sha1(data: &[u8]) -> String {
        let mut s = Sha1::new();
        s.update(data);
        hex(&s.finish())
    }

    #[test]
    fn sha1_known_answers() {
        assert_eq!(sha1(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(
            sha1(&[b'a'; 1000]),
            "291e9a6c66994949b57ba5e650361e98fc36b1ba"
        );
        // Padding edges: 55 bytes fit one block, 56 need a second, 64 fill one exactly.
        assert_eq!(
            sha1(&[b'x'; 55]),
            "cef734ba81a024479e09eb5a75b6ddae62e6abf1"
        );
        assert_eq!(
            sha1(&[b'x'; 56]),
            "901305367c259952f4e7af8323f480d59f81335b"
        );
        assert_eq!(
            sha1(&[b'x'; 64]),
            "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163"
        );
    }

    #[test]
    fn uuid_v5_matches_rfc_9562() {
        // The DNS namespace of RFC 9562 and a name whose v5 UUID is widely published.
        let dns = parse_hex_16(b"6ba7b810-9dad-11d1-80b4-00c04fd430c8").unwrap();
        assert_eq!(
            hex(&uuid_v5(&dns, b"python.org")),
            "886313e13b8a53729b900c9aee199e5d"
        );
    }

    #[test]
    fn machine_id_is_hashed_not_sent() {
        let id = parse_hex_16(b"3d1219c7c4c5404aaa1f6d2a48adfda4").unwrap();
        assert_eq!(
            hex(&uuid_v5(&id, UUID_NAME)),
            "cf981c44b9bf527a9914840050b7892a"
        );
    }

    #[test]
    fn placeholder_uuids_are_refused() {
        assert!(!is_meaningful(&[0; 16]));
        assert!(!is_meaningful(&[0xff; 16]));
        assert!(is_meaningful(&[1; 16]));
    }
}
