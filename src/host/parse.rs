//! Small parsers over borrowed bytes for the text formats of /proc and /sys: lines, whitespace-separated
//! fields, decimal and hexadecimal numbers, `Key: value` lines.
//!
//! Every function returns `None` for input it does not understand (empty, non-digits, overflow) and never
//! panics or allocates.

/// The lines of a file, without their `\n`. A last line without `\n` is still a line (so a text
/// ending in `\n` ends with an empty one, as `split` gives them).
pub(crate) fn lines(text: &[u8]) -> Lines<'_> {
    Lines { rest: Some(text) }
}

/// The iterator of [`lines`]: it looks for each `\n` eight bytes at a time, since every counter file
/// of every container goes through it at each poll.
#[derive(Debug, Clone)]
pub(crate) struct Lines<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match find_newline(rest) {
            Some(at) => {
                self.rest = rest.get(at + 1..);
                rest.get(..at)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// The position of the first `\n`: whole 8-byte words tested at once (a byte of the word XORed with
/// `\n` is zero exactly where it held one; the lowest flagged byte is always a true one).
fn find_newline(text: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = text.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let Ok(bytes) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let x = u64::from_le_bytes(bytes) ^ NEWLINES;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| offset + i)
}

/// The fields of a line, separated by runs of spaces or tabs.
pub(crate) fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

/// The file's text without surrounding whitespace (files under /proc/sys end with `\n`).
pub(crate) fn trim(text: &[u8]) -> &[u8] {
    text.trim_ascii()
}

/// An unsigned decimal number of at least one digit; `None` on anything else or on overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        let d = char::from(b).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// An unsigned decimal number that must fit in 32 bits.
pub(crate) fn parse_u32(digits: &[u8]) -> Option<u32> {
    parse_u64(digits).and_then(|v| u32::try_from(v).ok())
}

/// An unsigned hexadecimal number, with or without a `0x` prefix (sysfs `flags` is written `0x1003`).
pub(crate) fn parse_hex_u32(text: &[u8]) -> Option<u32> {
    let digits = text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
        .unwrap_or(text);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        let d = char::from(b).to_digit(16)?;
        acc.checked_mul(16)?.checked_add(d)
    })
}

/// A non-negative decimal with an optional fraction, as /proc writes loads, uptimes and MHz
/// (`0.36`, `4198.52`, `2596.126`). Exponents, signs, `inf` and `nan` are refused.
pub(crate) fn parse_decimal(text: &[u8]) -> Option<f64> {
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (text.get(..dot)?, text.get(dot + 1..)?),
        None => (text, &b""[..]),
    };
    let digits_only = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if int.is_empty() || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    // Only digits and one dot are left, which the standard float parser reads exactly.
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// `value` of a `Key: value [unit]` line whose key is exactly `key` (as in /proc/meminfo and
/// /proc/cpuinfo, where the key may be followed by tabs before the colon).
pub(crate) fn value_of<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(key)?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let (pad, value) = rest.split_at(colon);
    if !pad.iter().all(|&b| b == b' ' || b == b'\t') {
        return None;
    }
    value.get(1..).map(trim)
}

/// A `xx:xx:xx:xx:xx:xx` MAC address as sysfs writes `address`.
pub(crate) fn parse_mac(text: &[u8]) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(|&b| b == b':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::try_from(parse_hex_u32(part)?).ok()?;
    }
    match parts.next() {
        None => Some(mac),
        Some(_) => None,
    }
}

/// Exactly 32 hex digits, with `-` separators anywhere ignored (a UUID's text form or a machine-id).
pub(crate) fn parse_hex_16(text: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for &b in text.iter().filter(|&&b| b != b'-') {
        let d = char::from(b).to_digit(16)?;
        let byte = out.get_mut(nibbles / 2)?;
        *byte = (*byte << 4) | d as u8;
        nibbles += 1;
    }
    (nibbles == 32).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_split_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut text = Vec::new();
        for _ in 0..20_000 {
            text.clear();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 40) as usize;
            for k in 0..len {
                let r = state.rotate_left(k as u32 * 7);
                text.push(if r.is_multiple_of(5) {
                    b'\n'
                } else {
                    b'a' + (r % 3) as u8
                });
            }
            let ours: Vec<&[u8]> = lines(&text).collect();
            let reference: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            assert_eq!(ours, reference, "{:?}", String::from_utf8_lossy(&text));
        }
        assert_eq!(lines(b"").collect::<Vec<_>>(), vec![&b""[..]]);
        assert_eq!(find_newline(b"0123456789\n"), Some(10));
        assert_eq!(find_newline(b"01234567\x8a\n"), Some(9));
    }

    #[test]
    fn decimal_integers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b" 1"), None);
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
    }

    #[test]
    fn hex_integers() {
        assert_eq!(parse_hex_u32(b"0x1003"), Some(0x1003));
        assert_eq!(parse_hex_u32(b"1003"), Some(0x1003));
        assert_eq!(parse_hex_u32(b"0XfF"), Some(0xff));
        assert_eq!(parse_hex_u32(b"0x"), None);
        assert_eq!(parse_hex_u32(b"0x1g"), None);
        assert_eq!(parse_hex_u32(b"0x100000000"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"0.36"), Some(0.36));
        assert_eq!(parse_decimal(b"4198.52"), Some(4198.52));
        assert_eq!(parse_decimal(b"12"), Some(12.0));
        assert_eq!(parse_decimal(b"12."), Some(12.0));
        for bad in [
            &b""[..],
            b".5",
            b"1e3",
            b"-1.0",
            b"inf",
            b"nan",
            b"1.2.3",
            b"1,5",
        ] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn key_values() {
        assert_eq!(
            value_of(b"MemTotal:       24684084 kB", b"MemTotal"),
            Some(&b"24684084 kB"[..])
        );
        assert_eq!(
            value_of(b"cpu MHz\t\t: 2596.126", b"cpu MHz"),
            Some(&b"2596.126"[..])
        );
        assert_eq!(value_of(b"MemTotalX: 1 kB", b"MemTotal"), None);
        assert_eq!(value_of(b"MemTotal 1 kB", b"MemTotal"), None);
        assert_eq!(value_of(b"MemTotal:", b"MemTotal"), Some(&b""[..]));
    }

    #[test]
    fn lines_and_fields() {
        let text = b"a b\n\tc  d \nlast";
        let got: Vec<Vec<&[u8]>> = lines(text).map(|l| fields(l).collect()).collect();
        assert_eq!(
            got,
            vec![
                vec![&b"a"[..], b"b"],
                vec![&b"c"[..], b"d"],
                vec![&b"last"[..]]
            ]
        );
        assert_eq!(trim(b"  6.1.0-13-amd64\n"), b"6.1.0-13-amd64");
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac(b"02:fc:00:00:00:01"), Some([2, 0xfc, 0, 0, 0, 1]));
        assert_eq!(parse_mac(b"02:FC:00:00:00:01"), Some([2, 0xfc, 0, 0, 0, 1]));
        for bad in [
            &b""[..],
            b"02:fc:00:00:00",
            b"02:fc:00:00:00:01:02",
            b"2:fc:00:00:00:01",
            b"02:fc:00:00:00:0g",
            // InfiniBand's 20-byte hardware address is not a MAC.
            b"80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0f:a1:b2",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sixteen_hex_bytes() {
        let uuid = parse_hex_16(b"734ad5c2-bbfd-597e-b34a-d5c2bbfd097e").unwrap();
        assert_eq!(uuid[0], 0x73);
        assert_eq!(uuid[15], 0x7e);
        assert_eq!(
            parse_hex_16(b"3d1219c7c4c5404aaa1f6d2a48adfda4"),
            Some([
                0x3d, 0x12, 0x19, 0xc7, 0xc4, 0xc5, 0x40, 0x4a, 0xaa, 0x1f, 0x6d, 0x2a, 0x48, 0xad,
                0xfd, 0xa4
            ])
        );
        assert_eq!(parse_hex_16(b"3d1219c7c4c5404aaa1f6d2a48adfda"), None);
        assert_eq!(parse_hex_16(b"3d1219c7c4c5404aaa1f6d2a48adfda400"), None);
        assert_eq!(parse_hex_16(b"3d1219c7c4c5404aaa1f6d2a48adfdaz"), None);
    }
}
