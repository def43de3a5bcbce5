//! The agent address put in every datagram header.
//!
//! In order: the configured address; else the best address of the configured device; else the best
//! address of the up, non-loopback interfaces that the CIDR rules allow; else a loopback address. "Best"
//! ranks IPv4 global addresses over IPv6 global ones over link-local ones; ties go to the first rule an
//! address matches, then to the order of the address list (the kernel's interface order), so the choice
//! is the same for the same inputs.

use std::net::IpAddr;

use crate::sys::{InterfaceAddress, IFF_LOOPBACK, IFF_UP};

/// One address rule (`agent.cidr` of the configuration): prefer addresses in a network or, when
/// `exclude` is set, never use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CidrRule {
    /// Network address; bits past the prefix are ignored.
    pub net: IpAddr,
    /// Prefix length in bits (clamped to the family's width).
    pub prefix: u8,
    /// Never choose an address in this network.
    pub exclude: bool,
}

impl CidrRule {
    /// Whether `addr` is in this network (never across address families).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.net, addr) {
            (IpAddr::V4(net), IpAddr::V4(a)) => prefix_matches(
                u128::from(u32::from(net)),
                u128::from(u32::from(a)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                prefix_matches(u128::from(net), u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// Whether the leading `prefix` of `width` bits of `a` and `b` agree.
fn prefix_matches(a: u128, b: u128, width: u32, prefix: u8) -> bool {
    let prefix = u32::from(prefix).min(width);
    let shift = width - prefix;
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

/// Chooses the agent address (see the module docs); `None` only when `agent_ip` is unset and `addrs`
/// offers nothing usable at all.
pub fn choose_agent_address(
    agent_ip: Option<IpAddr>,
    device: Option<&str>,
    cidrs: &[CidrRule],
    addrs: &[InterfaceAddress],
) -> Option<IpAddr> {
    if agent_ip.is_some() {
        return agent_ip;
    }
    if let Some(device) = device {
        let on_device = addrs.iter().filter(|a| a.name == device);
        if let Some(best) = best_by_rank(on_device, |_| Some(0)) {
            return Some(best);
        }
    }
    let has_includes = cidrs.iter().any(|c| !c.exclude);
    let rule_index = |addr: IpAddr| -> Option<usize> {
        if cidrs.iter().any(|c| c.exclude && c.contains(addr)) {
            return None;
        }
        if !has_includes {
            return Some(0);
        }
        cidrs.iter().position(|c| !c.exclude && c.contains(addr))
    };
    let candidates = addrs
        .iter()
        .filter(|a| a.flags & IFF_UP != 0 && a.flags & IFF_LOOPBACK == 0 && rank(a.addr).is_some());
    if let Some(best) = best_by_rank(candidates, rule_index) {
        return Some(best);
    }
    // Nothing else: a loopback address, IPv4 first.
    addrs
        .iter()
        .map(|a| a.addr)
        .filter(IpAddr::is_loopback)
        .min_by_key(|addr| addr.is_ipv6())
}

/// The candidate with the lowest (rule index, rank), first in list order on ties.
fn best_by_rank<'a>(
    candidates: impl Iterator<Item = &'a InterfaceAddress>,
    rule_index: impl Fn(IpAddr) -> Option<usize>,
) -> Option<IpAddr> {
    candidates
        .filter_map(|a| Some(((rule_index(a.addr)?, rank(a.addr)?), a.addr)))
        .min_by_key(|&(key, _)| key)
        .map(|(_, addr)| addr)
}

/// Preference of an address as an agent address (lower is better); `None` for addresses that cannot
/// identify the agent (loopback, unspecified, multicast).
fn rank(addr: IpAddr) -> Option<u8> {
    if addr.is_loopback() || addr.is_unspecified() || addr.is_multicast() {
        return None;
    }
    Some(match addr {
        IpAddr::V4(a) if a.is_link_local() => 2,
        IpAddr::V4(_) => 0,
        IpAddr::V6(a) if a.is_unicast_link_local() => 2,
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => return None,
        IpAddr::V6(_) => 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: u32 = IFF_UP;

    fn ifa(name: &str, addr: &str, flags: u32) -> InterfaceAddress {
        InterfaceAddress {
            name: name.to_string(),
            addr: addr.parse().unwrap(),
            flags,
        }
    }

    fn rule(cidr: &str, exclude: bool) -> CidrRule {
        let (net, prefix) = cidr.split_once('/').unwrap();
        CidrRule {
            net: net.parse().unwrap(),
            prefix: prefix.parse().unwrap(),
            exclude,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn host() -> Vec<InterfaceAddress> {
        vec![
            ifa("lo", "127.0.0.1", UP | IFF_LOOPBACK),
            ifa("lo", "::1", UP | IFF_LOOPBACK),
            ifa("eth0", "fe80::fc:ff:fe00:1", UP),
            ifa("eth0", "2001:db8::10", UP),
            ifa("eth0", "192.0.2.2", UP),
            ifa("eth1", "10.1.2.3", UP),
            ifa("docker0", "172.17.0.1", UP),
            ifa("eth2", "198.51.100.7", 0),
        ]
    }

    #[test]
    fn configured_address_wins() {
        let got = choose_agent_address(Some(ip("203.0.113.9")), Some("eth1"), &[], &host());
        assert_eq!(got, Some(ip("203.0.113.9")));
    }

    #[test]
    fn device_address() {
        assert_eq!(
            choose_agent_address(None, Some("eth1"), &[], &host()),
            Some(ip("10.1.2.3"))
        );
        // IPv4 before the IPv6 addresses listed earlier on the same device.
        assert_eq!(
            choose_agent_address(None, Some("eth0"), &[], &host()),
            Some(ip("192.0.2.2"))
        );
        // A device that is down is still used when named explicitly.
        assert_eq!(
            choose_agent_address(None, Some("eth2"), &[], &host()),
            Some(ip("198.51.100.7"))
        );
        // An unknown device falls through to the automatic choice.
        assert_eq!(
            choose_agent_address(None, Some("wlan9"), &[], &host()),
            Some(ip("192.0.2.2"))
        );
    }

    #[test]
    fn automatic_choice_prefers_ipv4_then_ipv6_then_link_local() {
        assert_eq!(
            choose_agent_address(None, None, &[], &host()),
            Some(ip("192.0.2.2"))
        );
        let v6_only = vec![
            ifa("lo", "::1", UP | IFF_LOOPBACK),
            ifa("eth0", "fe80::1", UP),
            ifa("eth0", "fd00::2", UP),
        ];
        assert_eq!(
            choose_agent_address(None, None, &[], &v6_only),
            Some(ip("fd00::2"))
        );
        let link_local = vec![ifa("eth0", "fe80::1", UP), ifa("eth1", "169.254.3.4", UP)];
        assert_eq!(
            choose_agent_address(None, None, &[], &link_local),
            Some(ip("fe80::1"))
        );
    }

    #[test]
    fn cidr_rules() {
        let rules = [rule("10.0.0.0/8", false)];
        assert_eq!(
            choose_agent_address(None, None, &rules, &host()),
            Some(ip("10.1.2.3"))
        );
        // Rule order beats family rank.
        let rules = [rule("2001:db8::/32", false), rule("192.0.2.0/24", false)];
        assert_eq!(
            choose_agent_address(None, None, &rules, &host()),
            Some(ip("2001:db8::10"))
        );
        // Excludes alone: everything else stays allowed.
        let rules = [rule("192.0.2.0/24", true)];
        assert_eq!(
            choose_agent_address(None, None, &rules, &host()),
            Some(ip("10.1.2.3"))
        );
        // An exclude beats an include.
        let rules = [rule("10.0.0.0/8", false), rule("10.1.0.0/16", true)];
        assert_eq!(
            choose_agent_address(None, None, &rules, &host()),
            Some(ip("127.0.0.1"))
        );
        // Nothing matches, and the down interface is never chosen automatically.
        let rules = [rule("198.51.100.0/24", false)];
        assert_eq!(
            choose_agent_address(None, None, &rules, &host()),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn loopback_is_the_last_resort() {
        let only_lo = vec![
            ifa("lo", "::1", UP | IFF_LOOPBACK),
            ifa("lo", "127.0.0.1", UP | IFF_LOOPBACK),
        ];
        assert_eq!(
            choose_agent_address(None, None, &[], &only_lo),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            choose_agent_address(None, None, &[], &only_lo[..1]),
            Some(ip("::1"))
        );
        assert_eq!(choose_agent_address(None, None, &[], &[]), None);
    }

    #[test]
    fn deterministic_on_ties() {
        let addrs = vec![ifa("eth0", "192.0.2.2", UP), ifa("eth1", "10.1.2.3", UP)];
        let mut reversed = addrs.clone();
        reversed.reverse();
        assert_eq!(
            choose_agent_address(None, None, &[], &addrs),
            Some(ip("192.0.2.2"))
        );
        assert_eq!(
            choose_agent_address(None, None, &[], &reversed),
            Some(ip("10.1.2.3"))
        );
    }

    #[test]
    fn cidr_matching() {
        assert!(rule("10.0.0.0/8", false).contains(ip("10.255.0.1")));
        assert!(!rule("10.0.0.0/8", false).contains(ip("11.0.0.1")));
        assert!(rule("0.0.0.0/0", false).contains(ip("203.0.113.1")));
        assert!(rule("192.0.2.7/32", false).contains(ip("192.0.2.7")));
        assert!(!rule("192.0.2.7/32", false).contains(ip("192.0.2.8")));
        // Too long a prefix is clamped; families never match each other.
        assert!(rule("192.0.2.7/99", false).contains(ip("192.0.2.7")));
        assert!(!rule("0.0.0.0/0", false).contains(ip("::1")));
        assert!(rule("fd00::/8", false).contains(ip("fd12::1")));
        assert!(rule("::/0", false).contains(ip("2001:db8::1")));
        assert!(!rule("fd00::/8", false).contains(ip("fe80::1")));
    }
}
