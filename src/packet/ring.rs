//! The packets of one `TPACKET_V3` ring block, read from its bytes: a sans-IO walker, so the
//! layout is tested on synthetic blocks and a corrupt block ends the walk instead of a read past
//! it.
//!
//! A block (linux/if_packet.h) starts with `tpacket_block_desc`: `num_pkts` at 12 and
//! `offset_to_first_pkt` at 16. Each packet starts with a `tpacket3_hdr` (`tp_next_offset` at 0,
//! `tp_sec` at 4, `tp_nsec` at 8, `tp_snaplen` at 12, `tp_len` at 16, `tp_mac` at 24), then at 48 the `sockaddr_ll` of the
//! packet (`sll_ifindex` at 4, `sll_pkttype` at 10), and its captured bytes at `tp_mac` from
//! the packet's start. Every offset and length is checked against the block; the first that does
//! not fit ends the block with a [`BlockError`]. Numbers are in the host's byte order.

use crate::sys::packet::PacketInfo;

const NUM_PKTS: usize = 12;
const FIRST_PKT: usize = 16;
/// `tpacket_block_desc` with its `tpacket_hdr_v1`.
const BLOCK_HEADER: usize = 48;
const NEXT: usize = 0;
const SEC: usize = 4;
const NSEC: usize = 8;
const SNAPLEN: usize = 12;
const LEN: usize = 16;
const MAC: usize = 24;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`: where the `sockaddr_ll` starts.
const SLL: usize = 48;
const SLL_IFINDEX: usize = SLL + 4;
const SLL_PKTTYPE: usize = SLL + 10;
/// The packet header and the address: what must fit in the block before anything is read.
const PACKET_HEADER: usize = SLL + 20;

/// Why a block's walk stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The block header says packets start outside the block, or a packet's header runs past it.
    HeaderPastBlock,
    /// A packet's captured bytes run past the block.
    DataPastBlock,
    /// A packet says the next one is at its own offset or before (it would loop).
    BadNext,
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BlockError::HeaderPastBlock => "a packet header past the block",
            BlockError::DataPastBlock => "packet bytes past the block",
            BlockError::BadNext => "a packet's next offset does not move forward",
        })
    }
}

fn u32_at(block: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(block.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(block: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(block.get(at..at + 2)?.try_into().ok()?))
}

/// The packets of a block, in order, each cut to `snap` bytes: what the kernel said of it and
/// its captured bytes. After an error the walk ends.
pub fn packets(block: &[u8], snap: usize) -> Packets<'_> {
    let left = u32_at(block, NUM_PKTS).unwrap_or(0);
    let offset = u32_at(block, FIRST_PKT).map_or(usize::MAX, |o| o as usize);
    Packets {
        block,
        snap,
        left,
        offset,
    }
}

/// Iterator of [`packets`].
#[derive(Debug)]
pub struct Packets<'a> {
    block: &'a [u8],
    snap: usize,
    left: u32,
    offset: usize,
}

impl<'a> Packets<'a> {
    fn next_packet(&mut self) -> Result<(PacketInfo, &'a [u8]), BlockError> {
        let at = self.offset;
        let block = self.block;
        if at < BLOCK_HEADER || at.saturating_add(PACKET_HEADER) > block.len() {
            return Err(BlockError::HeaderPastBlock);
        }
        let field = |off: usize| u32_at(block, at + off).ok_or(BlockError::HeaderPastBlock);
        let snaplen = field(SNAPLEN)? as usize;
        let original = field(LEN)?;
        let next = field(NEXT)? as usize;
        let mac = usize::from(u16_at(block, at + MAC).ok_or(BlockError::HeaderPastBlock)?);
        let start = at + mac;
        let bytes = block
            .get(start..start.saturating_add(snaplen))
            .filter(|_| mac >= PACKET_HEADER)
            .ok_or(BlockError::DataPastBlock)?;
        let if_index = field(SLL_IFINDEX)?;
        let time_ns = u64::from(field(SEC)?) * 1_000_000_000 + u64::from(field(NSEC)?);
        let pkttype = block.get(at + SLL_PKTTYPE).copied().unwrap_or(0);
        self.left -= 1;
        if self.left > 0 {
            if next == 0 {
                return Err(BlockError::BadNext);
            }
            self.offset = at.saturating_add(next);
        }
        let captured = snaplen.min(self.snap);
        Ok((
            PacketInfo {
                captured,
                original,
                pkttype,
                if_index,
                time_ns,
            },
            bytes.get(..captured).unwrap_or(bytes),
        ))
    }
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<(PacketInfo, &'a [u8]), BlockError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let r = self.next_packet();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of `size` bytes with `packets` (pkttype, original length, bytes) packed as the
    /// kernel packs them: each at a 16-aligned offset, its bytes at `tp_mac` 82 (as for Ethernet).
    fn block(size: usize, packets: &[(u8, u32, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; size];
        let put =
            |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        put(&mut b, 8, 1); // TP_STATUS_USER
        put(&mut b, NUM_PKTS, packets.len() as u32);
        put(&mut b, FIRST_PKT, BLOCK_HEADER as u32);
        let mut at = BLOCK_HEADER;
        for (i, (pkttype, len, bytes)) in packets.iter().enumerate() {
            let mac = 82usize;
            let next = (mac + bytes.len()).next_multiple_of(16);
            let last = i + 1 == packets.len();
            put(&mut b, at + NEXT, if last { 0 } else { next as u32 });
            put(&mut b, at + SEC, 1_800_000_000 + i as u32);
            put(&mut b, at + NSEC, 500);
            put(&mut b, at + SNAPLEN, bytes.len() as u32);
            put(&mut b, at + LEN, *len);
            b[at + MAC..at + MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            put(&mut b, at + SLL_IFINDEX, 7);
            b[at + SLL_PKTTYPE] = *pkttype;
            b[at + mac..at + mac + bytes.len()].copy_from_slice(bytes);
            at += next;
        }
        b
    }

    fn walk(b: &[u8], snap: usize) -> Vec<Result<(PacketInfo, Vec<u8>), BlockError>> {
        packets(b, snap)
            .map(|r| r.map(|(i, d)| (i, d.to_vec())))
            .collect()
    }

    #[test]
    fn a_block_of_three_packets() {
        let a = [0xaa; 128];
        let b = [0xbb; 60];
        let c = [0xcc; 128];
        let blk = block(4096, &[(4, 1514, &a), (0, 60, &b), (3, 9000, &c)]);
        // Golden bytes of the first packet's header, as the kernel lays it out (little-endian).
        if cfg!(target_endian = "little") {
            assert_eq!(blk[12..20], [3, 0, 0, 0, 48, 0, 0, 0], "num_pkts, first");
            assert_eq!(
                blk[48..76],
                [
                    224, 0, 0, 0, 0, 0xd2, 0x49, 0x6b, 0xf4, 1, 0, 0, 128, 0, 0, 0, 0xea, 5, 0, 0,
                    0, 0, 0, 0, 82, 0, 0, 0
                ]
            );
            assert_eq!(blk[96..108], [0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 4, 0]);
        }
        let got = walk(&blk, 128);
        let info = |captured, original, pkttype| PacketInfo {
            captured,
            original,
            pkttype,
            if_index: 7,
            time_ns: 0,
        };
        let at = |i: u64, p: PacketInfo| PacketInfo {
            time_ns: (1_800_000_000 + i) * 1_000_000_000 + 500,
            ..p
        };
        assert_eq!(
            got,
            vec![
                Ok((at(0, info(128, 1514, 4)), a.to_vec())),
                Ok((at(1, info(60, 60, 0)), b.to_vec())),
                Ok((at(2, info(128, 9000, 3)), c.to_vec())),
            ]
        );
        // A smaller snap cuts each packet.
        let got = walk(&blk, 64);
        assert_eq!(got[0], Ok((at(0, info(64, 1514, 4)), a[..64].to_vec())));
        assert_eq!(got[1], Ok((at(1, info(60, 60, 0)), b.to_vec())));
    }

    #[test]
    fn an_empty_block_has_no_packets() {
        assert!(walk(&block(4096, &[]), 128).is_empty());
        assert!(walk(&[], 128).is_empty());
    }

    #[test]
    fn a_corrupt_block_ends_the_walk_without_reading_past_it() {
        let p = [0x11; 128];
        let good = block(4096, &[(0, 200, &p), (0, 200, &p)]);
        let second = BLOCK_HEADER + 224;
        // The second packet's bytes run past the block.
        let mut b = good.clone();
        b[second + SNAPLEN..second + SNAPLEN + 4].copy_from_slice(&5000u32.to_ne_bytes());
        let got = walk(&b, 128);
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1], Err(BlockError::DataPastBlock));
        // The first packet's next offset points past the block.
        let mut b = good.clone();
        b[BLOCK_HEADER..BLOCK_HEADER + 4].copy_from_slice(&4090u32.to_ne_bytes());
        let got = walk(&b, 128);
        assert_eq!(got[1], Err(BlockError::HeaderPastBlock));
        // A next offset of 0 before the last packet would loop.
        let mut b = good.clone();
        b[BLOCK_HEADER..BLOCK_HEADER + 4].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(walk(&b, 128)[0], Err(BlockError::BadNext));
        // tp_mac pointing into the header itself.
        let mut b = good.clone();
        b[BLOCK_HEADER + MAC..BLOCK_HEADER + MAC + 2].copy_from_slice(&4u16.to_ne_bytes());
        assert_eq!(walk(&b, 128)[0], Err(BlockError::DataPastBlock));
        // The block says far more packets than it holds, or a first packet outside it.
        let mut b = good.clone();
        b[NUM_PKTS..NUM_PKTS + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let got = walk(&b, 128);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], Err(BlockError::BadNext));
        let mut b = good;
        b[FIRST_PKT..FIRST_PKT + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(walk(&b, 128), vec![Err(BlockError::HeaderPastBlock)]);
        // A block cut short: no panic.
        assert_eq!(walk(&block(4096, &[(0, 200, &p)])[..100], 128).len(), 1);
    }
}
