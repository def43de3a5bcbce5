//! Parsers of single setting values: numbers, addresses, CIDRs, UUIDs, switches, paths and interface names.
//!
//! Each takes one word and returns the value or the [`ConfigErrorKind`] that refuses it; none panics.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::error::ConfigErrorKind;
use super::AgentCidr;

/// Longest path a UNIX socket address holds (`sun_path` is 108 bytes with its terminating NUL).
pub const MAX_SOCKET_PATH_BYTES: usize = 107;
/// Longest network interface name (Linux `IFNAMSIZ` is 16 with its terminating NUL).
pub const MAX_INTERFACE_NAME_BYTES: usize = 15;

/// A decimal number, optionally followed by `K`, `M` or `G` (x1000, x1000000, x1000000000), as the reference
/// agent accepts. Only digits are accepted: no sign, no `0x`; leading zeros are decimal.
///
/// Text that is not a number is [`ConfigErrorKind::MalformedNumber`]; a number above `u64` is
/// [`ConfigErrorKind::NumberOutOfRange`].
pub fn number(text: &str) -> Result<u64, ConfigErrorKind> {
    let (digits, multiplier) = match text.as_bytes().last() {
        Some(b'k' | b'K') => (&text[..text.len() - 1], 1_000),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 1_000_000),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 1_000_000_000),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigErrorKind::MalformedNumber);
    }
    let mut value: u64 = 0;
    for b in digits.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ConfigErrorKind::NumberOutOfRange)?;
    }
    value
        .checked_mul(multiplier)
        .ok_or(ConfigErrorKind::NumberOutOfRange)
}

/// A [`number`] within `min..=max`; outside it, `out_of_range`.
pub fn number_in(
    text: &str,
    min: u64,
    max: u64,
    out_of_range: ConfigErrorKind,
) -> Result<u64, ConfigErrorKind> {
    match number(text) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) | Err(ConfigErrorKind::NumberOutOfRange) => Err(out_of_range),
        Err(e) => Err(e),
    }
}

/// A numeric IPv4 or IPv6 address. A host name is [`ConfigErrorKind::HostName`], since csflowd never
/// resolves names; anything else is [`ConfigErrorKind::BadAddress`].
pub fn ip(text: &str) -> Result<IpAddr, ConfigErrorKind> {
    text.parse::<IpAddr>().map_err(|_| {
        if looks_like_host_name(text) {
            ConfigErrorKind::HostName
        } else {
            ConfigErrorKind::BadAddress
        }
    })
}

/// Letters, digits, `-`, `_` and `.`, with at least one letter: a name, not a mistyped address.
fn looks_like_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && text.bytes().any(|b| b.is_ascii_alphabetic())
}

/// An `agent.cidr` value: `[!]address/prefix`, where the prefix is a length (`10.0.0.0/8`) or a contiguous
/// netmask of the same family (`10.0.0.0/255.0.0.0`). Host bits are cleared, as the reference agent does;
/// the flag says whether there were any, so the caller can warn.
pub fn cidr(text: &str) -> Result<(AgentCidr, bool), ConfigErrorKind> {
    let (exclude, rest) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (addr, prefix) = rest.split_once('/').ok_or(ConfigErrorKind::BadCidr)?;
    let net: IpAddr = addr.parse().map_err(|_| ConfigErrorKind::BadCidr)?;
    let max_prefix: u8 = if net.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = if prefix.contains(['.', ':']) {
        netmask_prefix(net, prefix)?
    } else {
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigErrorKind::BadCidr);
        }
        prefix.parse().map_err(|_| ConfigErrorKind::BadCidr)?
    };
    if prefix > max_prefix {
        return Err(ConfigErrorKind::BadCidr);
    }
    let masked = mask(net, prefix);
    Ok((
        AgentCidr {
            net: masked,
            prefix,
            exclude,
        },
        masked != net,
    ))
}

/// The prefix length of a contiguous netmask written as an address of `net`'s family.
fn netmask_prefix(net: IpAddr, text: &str) -> Result<u8, ConfigErrorKind> {
    let bits: u128 = match (net, text.parse::<IpAddr>()) {
        (IpAddr::V4(_), Ok(IpAddr::V4(m))) => u128::from(u32::from(m)) << 96,
        (IpAddr::V6(_), Ok(IpAddr::V6(m))) => u128::from(m),
        _ => return Err(ConfigErrorKind::BadCidr),
    };
    let ones = bits.leading_ones();
    // Contiguous: nothing set after the leading ones.
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return Err(ConfigErrorKind::BadCidr);
    }
    u8::try_from(ones).map_err(|_| ConfigErrorKind::BadCidr)
}

/// `net` with every bit after the first `prefix` cleared.
fn mask(net: IpAddr, prefix: u8) -> IpAddr {
    fn keep(bits: u32, width: u32) -> u128 {
        if bits == 0 {
            0
        } else {
            (u128::MAX << (128 - bits)) >> (128 - width)
        }
    }
    match net {
        IpAddr::V4(a) => {
            let m = keep(u32::from(prefix), 32) as u32;
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & keep(u32::from(prefix), 128))),
    }
}

/// A UUID: 8-4-4-4-12 hex digits, or 32 hex digits; either case.
pub fn uuid(text: &str) -> Result<[u8; 16], ConfigErrorKind> {
    let bytes = text.as_bytes();
    let hyphenated =
        bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes.get(i) == Some(&b'-'));
    if !(hyphenated || bytes.len() == 32) {
        return Err(ConfigErrorKind::BadUuid);
    }
    let mut digits = bytes.iter().copied().filter(|&b| !hyphenated || b != b'-');
    let mut out = [0u8; 16];
    for byte in out.iter_mut() {
        let hi = digits
            .next()
            .and_then(hex)
            .ok_or(ConfigErrorKind::BadUuid)?;
        let lo = digits
            .next()
            .and_then(hex)
            .ok_or(ConfigErrorKind::BadUuid)?;
        *byte = hi << 4 | lo;
    }
    if digits.next().is_some() {
        return Err(ConfigErrorKind::BadUuid);
    }
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A switch: on, yes, true, 1 or off, no, false, 0, in any case.
pub fn switch(text: &str) -> Result<bool, ConfigErrorKind> {
    const ON: [&str; 4] = ["on", "yes", "true", "1"];
    const OFF: [&str; 4] = ["off", "no", "false", "0"];
    if ON.iter().any(|w| w.eq_ignore_ascii_case(text)) {
        Ok(true)
    } else if OFF.iter().any(|w| w.eq_ignore_ascii_case(text)) {
        Ok(false)
    } else {
        Err(ConfigErrorKind::BadSwitch)
    }
}

/// The Docker engine's socket: an absolute path that fits a UNIX socket address, with no NUL.
pub fn socket_path(text: &str) -> Result<PathBuf, ConfigErrorKind> {
    if !text.starts_with('/') || text.len() > MAX_SOCKET_PATH_BYTES || text.contains('\0') {
        return Err(ConfigErrorKind::BadSocketPath);
    }
    Ok(PathBuf::from(text))
}

/// A runtime's state directory (`containerd { state = PATH }`): absolute, at most 4095 bytes, no
/// NUL, no `..` component.
pub fn state_path(text: &str) -> Result<PathBuf, ConfigErrorKind> {
    if !text.starts_with('/')
        || text.len() > 4095
        || text.contains('\0')
        || text.split('/').any(|c| c == "..")
    {
        return Err(ConfigErrorKind::BadStatePath);
    }
    Ok(PathBuf::from(text))
}

/// A network interface name as Linux accepts it: 1 to 15 bytes, no `/`, no whitespace or control
/// character, not `.` or `..`.
pub fn interface(text: &str) -> Result<String, ConfigErrorKind> {
    let valid = !text.is_empty()
        && text.len() <= MAX_INTERFACE_NAME_BYTES
        && text != "."
        && text != ".."
        && !text
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control());
    if valid {
        Ok(text.to_string())
    } else {
        Err(ConfigErrorKind::BadInterface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConfigErrorKind::*;

    #[test]
    fn numbers_are_decimal_with_optional_multiplier() {
        assert_eq!(number("0"), Ok(0));
        assert_eq!(number("030"), Ok(30));
        assert_eq!(number("1400"), Ok(1400));
        assert_eq!(number("8k"), Ok(8000));
        assert_eq!(number("2M"), Ok(2_000_000));
        assert_eq!(number("1G"), Ok(1_000_000_000));
        assert_eq!(number("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(number("18446744073709551616"), Err(NumberOutOfRange));
        assert_eq!(number("18446744073709551615K"), Err(NumberOutOfRange));
        for bad in ["", "K", "-1", "+1", "0x10", "1.5", "12a", "1KK", " 1", "١"] {
            assert_eq!(number(bad), Err(MalformedNumber), "{bad:?}");
        }
    }

    #[test]
    fn number_in_maps_range_and_overflow_to_the_callers_kind() {
        assert_eq!(number_in("6343", 1, 65535, PortOutOfRange), Ok(6343));
        assert_eq!(
            number_in("0", 1, 65535, PortOutOfRange),
            Err(PortOutOfRange)
        );
        assert_eq!(
            number_in("70000", 1, 65535, PortOutOfRange),
            Err(PortOutOfRange)
        );
        assert_eq!(
            number_in("99999999999999999999999", 1, 65535, PortOutOfRange),
            Err(PortOutOfRange)
        );
        assert_eq!(
            number_in("x", 1, 65535, PortOutOfRange),
            Err(MalformedNumber)
        );
    }

    #[test]
    fn addresses_are_numeric_only() {
        assert_eq!(ip("192.0.2.1"), Ok(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(
            ip("2001:db8::1"),
            "2001:db8::1".parse().map_err(|_| BadAddress)
        );
        assert_eq!(ip("::ffff:10.0.0.1").map(|a| a.is_ipv6()), Ok(true));
        assert_eq!(ip("collector.example.com"), Err(HostName));
        assert_eq!(ip("localhost"), Err(HostName));
        for bad in [
            "10.0.0.300",
            "10.0.0",
            "010.0.0.1",
            "fe80::1%eth0",
            "[::1]",
            "",
            "::g",
        ] {
            assert_eq!(ip(bad), Err(BadAddress), "{bad:?}");
        }
    }

    #[test]
    fn cidrs_with_length_or_netmask_and_exclusion() {
        let (c, host_bits) = cidr("10.0.0.0/8").unwrap();
        assert_eq!(
            c,
            AgentCidr {
                net: IpAddr::from([10, 0, 0, 0]),
                prefix: 8,
                exclude: false
            }
        );
        assert!(!host_bits);
        let (c, _) = cidr("!fd00::/8").unwrap();
        assert!(c.exclude);
        assert_eq!(c.net, "fd00::".parse::<IpAddr>().unwrap());
        assert_eq!(c.prefix, 8);
        let (c, _) = cidr("172.16.0.0/255.240.0.0").unwrap();
        assert_eq!(c.prefix, 12);
        assert_eq!(cidr("0.0.0.0/0").unwrap().0.prefix, 0);
        assert_eq!(cidr("::/0").unwrap().0.prefix, 0);
        assert_eq!(cidr("::1/128").unwrap().0.prefix, 128);
        assert_eq!(cidr("1.2.3.4/32").unwrap().0.prefix, 32);
        assert_eq!(cidr("0.0.0.0/0.0.0.0").unwrap().0.prefix, 0);
    }

    #[test]
    fn cidr_host_bits_are_cleared_and_reported() {
        let (c, host_bits) = cidr("10.1.2.3/8").unwrap();
        assert_eq!(c.net, IpAddr::from([10, 0, 0, 0]));
        assert!(host_bits);
        let (c, host_bits) = cidr("2001:db8::1/32").unwrap();
        assert_eq!(c.net, "2001:db8::".parse::<IpAddr>().unwrap());
        assert!(host_bits);
    }

    #[test]
    fn bad_cidrs() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/0008",
            "10.0.0.0/255.0.255.0",
            "10.0.0.0/ffff::",
            "net/8",
            "!!10.0.0.0/8",
            "/8",
            "10.0.0.0/8/8",
        ] {
            assert_eq!(cidr(bad).map(|c| c.0), Err(BadCidr), "{bad:?}");
        }
    }

    #[test]
    fn uuids_hyphenated_or_plain() {
        let want = [
            0x7c, 0xdf, 0x88, 0x08, 0x33, 0x68, 0x85, 0x38, 0xce, 0x27, 0xba, 0x6b, 0x98, 0x50,
            0x1f, 0xce,
        ];
        assert_eq!(uuid("7cdf8808-3368-8538-ce27-ba6b98501fce"), Ok(want));
        assert_eq!(uuid("7CDF8808-3368-8538-CE27-BA6B98501FCE"), Ok(want));
        assert_eq!(uuid("7cdf880833688538ce27ba6b98501fce"), Ok(want));
        for bad in [
            "",
            "7cdf8808-3368-8538-ce27-ba6b98501fc",
            "7cdf8808-3368-8538-ce27-ba6b98501fcg",
            "7cdf88083-368-8538-ce27-ba6b98501fce",
            "7cdf880833688538ce27ba6b98501fc",
            "7cdf880833688538ce27ba6b98501fce0",
            "7cdf8808-3368-8538-ce27ba6b98501fce",
            "-cdf880833688538ce27ba6b98501fce",
            "+7cdf8808-3368-8538-ce27-ba6b98501fc",
        ] {
            assert_eq!(uuid(bad), Err(BadUuid), "{bad:?}");
        }
    }

    #[test]
    fn switches() {
        for on in ["on", "ON", "yes", "True", "1"] {
            assert_eq!(switch(on), Ok(true));
        }
        for off in ["off", "No", "FALSE", "0"] {
            assert_eq!(switch(off), Ok(false));
        }
        for bad in ["", "2", "enabled", "onn"] {
            assert_eq!(switch(bad), Err(BadSwitch));
        }
    }

    #[test]
    fn socket_paths() {
        assert_eq!(
            socket_path("/run/docker.sock"),
            Ok(PathBuf::from("/run/docker.sock"))
        );
        assert!(socket_path(&format!("/{}", "s".repeat(106))).is_ok());
        assert_eq!(
            socket_path(&format!("/{}", "s".repeat(107))),
            Err(BadSocketPath)
        );
        assert_eq!(socket_path("docker.sock"), Err(BadSocketPath));
        assert_eq!(socket_path("unix:///run/docker.sock"), Err(BadSocketPath));
        assert_eq!(socket_path("/a\0b"), Err(BadSocketPath));
    }

    #[test]
    fn interface_names() {
        assert_eq!(interface("eth0"), Ok("eth0".to_string()));
        assert_eq!(interface("eth0:1"), Ok("eth0:1".to_string()));
        assert!(interface("enp0s31f6.1234").is_ok());
        for bad in ["", ".", "..", "a/b", "sixteen-bytes-xx", "a\u{1}"] {
            assert_eq!(interface(bad), Err(BadInterface), "{bad:?}");
        }
    }
}
