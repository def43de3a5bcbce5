//! `/proc/net/snmp` (the host's, or `/proc/<pid>/net/snmp` for a container's namespace) into the
//! four MIB-II groups of the Host sFlow IP extension.
//!
//! The file is pairs of lines, a header naming the columns and a line of values, each starting
//! with the group (`Ip:`, `Icmp:`, `Tcp:`, `Udp:`). Counters are found by the column names the
//! kernel prints, never by position, so a kernel that adds or moves a column (`OutTransmits`,
//! `InCsumErrors`, `OutRateLimitGlobal` were added over the years) is read right; a column the
//! kernel lacks is unknown (all ones). Values are taken modulo 2^32 (sFlow's counters are 32
//! bits and wrap); `-1` (`Tcp: MaxConn`, dynamic) is sent as all ones, as the reference agent does.
//! Nothing here allocates or panics.

use crate::wire::{Mib2, Mib2Icmp, Mib2Ip, Mib2Tcp, Mib2Udp};

/// Fills `out` (every counter reset to unknown first) from the text of a `net/snmp` file.
pub fn parse_snmp(text: &[u8], out: &mut Mib2) {
    *out = Mib2::UNKNOWN;
    let mut lines = text.split(|&b| b == b'\n');
    while let Some(header) = lines.next() {
        let Some(values) = lines.next() else { break };
        let (Some((group, names)), Some((group2, numbers))) =
            (split_group(header), split_group(values))
        else {
            continue;
        };
        if group != group2 {
            continue;
        }
        match group {
            b"Ip" => fill(names, numbers, &Mib2Ip::FIELDS, &mut out.ip.0),
            b"Icmp" => fill(names, numbers, &Mib2Icmp::FIELDS, &mut out.icmp.0),
            b"Tcp" => fill(names, numbers, &Mib2Tcp::FIELDS, &mut out.tcp.0),
            b"Udp" => fill(names, numbers, &Mib2Udp::FIELDS, &mut out.udp.0),
            _ => {}
        }
    }
}

/// `Group: rest` into (`Group`, `rest`).
fn split_group(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((line.get(..colon)?, line.get(colon + 1..)?))
}

fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

/// Sets each of `out` whose name in `fields` is a column of `names` to that column of `numbers`.
fn fill(names: &[u8], numbers: &[u8], fields: &[&str], out: &mut [u32]) {
    // The kernel prints the columns in the structure's order, give or take the ones it added: each
    // name is looked for from just after the last one found, and only then before it (per
    // container and poll with `mib2.containers`, so a linear pass, not a quadratic one).
    let mut next = 0;
    for (name, number) in words(names).zip(words(numbers)) {
        let is = |f: &&str| f.as_bytes() == name;
        let after = fields.get(next..).unwrap_or_default();
        let Some(i) = after
            .iter()
            .position(is)
            .map(|i| i + next)
            .or_else(|| fields.get(..next)?.iter().position(is))
        else {
            continue;
        };
        next = i + 1;
        if let (Some(slot), Some(v)) = (out.get_mut(i), parse_counter(number)) {
            *slot = v;
        }
    }
}

/// A decimal counter, possibly negative, modulo 2^32.
fn parse_counter(word: &[u8]) -> Option<u32> {
    let (negative, digits) = match word.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, word),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
    }
    let v = v as u32;
    Some(if negative { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::UNKNOWN_U32;

    const KERNEL_6_18: &[u8] = b"Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits
Ip: 2 64 50617 1 2 3 4 5 50617 48155 6 7 8 9 10 11 12 13 14 48155
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps
Icmp: 67 1 99 66 2 3 4 5 6 7 8 98 9 10 66 11 97 96 12 13 14 15 16 17 18 19 20 21 22
IcmpMsg: InType3 OutType3
IcmpMsg: 67 66
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 21 2 0 7 0 5582 3128 0 0 14 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 44675 66 52 44969 52 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 1 2 3 4 5 6 7 8 9
";

    #[test]
    fn columns_are_found_by_name() {
        let mut m = Mib2::UNKNOWN;
        parse_snmp(KERNEL_6_18, &mut m);
        assert_eq!(
            m.ip.0,
            [2, 64, 50617, 1, 2, 3, 4, 5, 50617, 48155, 6, 7, 8, 9, 10, 11, 12, 13, 14]
        );
        // InCsumErrors, InTimestampReps and the rate limits are not in the structure.
        assert_eq!(
            m.icmp.0,
            [
                67, 1, 66, 2, 3, 4, 5, 6, 7, 8, 9, 10, 66, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                21, 22
            ]
        );
        assert_eq!(
            m.tcp.0,
            [
                1,
                200,
                120000,
                UNKNOWN_U32,
                21,
                2,
                0,
                7,
                0,
                5582,
                3128,
                0,
                0,
                14,
                0
            ]
        );
        assert_eq!(m.udp.0, [44675, 66, 52, 44969, 52, 0, 0], "not UdpLite's");
    }

    #[test]
    fn columns_out_of_order_are_found() {
        let mut m = Mib2::UNKNOWN;
        parse_snmp(
            b"Udp: OutDatagrams Extra InDatagrams SndbufErrors NoPorts\nUdp: 4 9 1 6 2\n",
            &mut m,
        );
        assert_eq!(&m.udp.0[..6], &[1, 2, UNKNOWN_U32, 4, UNKNOWN_U32, 6]);
    }

    #[test]
    fn an_older_kernel_lacks_columns_and_bad_text_is_unknown() {
        let old = b"Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts\nTcp: 1 200 120000 -1 5 6 7 8 9 10 11 12 13 14\nUdp: InDatagrams NoPorts\nUdp: 4294967301 x\n";
        let mut m = Mib2::UNKNOWN;
        parse_snmp(old, &mut m);
        assert_eq!(m.tcp.0[14], UNKNOWN_U32, "no InCsumErrors column");
        assert_eq!(m.tcp.0[13], 14);
        assert_eq!(m.udp.0[0], 5, "modulo 2^32");
        assert_eq!(m.udp.0[1], UNKNOWN_U32, "not a number");
        assert_eq!(m.ip, Mib2Ip::UNKNOWN);
        for cut in 0..KERNEL_6_18.len() {
            parse_snmp(&KERNEL_6_18[..cut], &mut m);
        }
        parse_snmp(b"Ip: a\nTcp: 1\n:\n\n", &mut m);
        assert_eq!(m, Mib2::UNKNOWN);
    }
}
