//! Parsers of the cgroup interface files' values, over borrowed bytes.
//!
//! Each returns `None` for text it does not understand (empty, non-digits, overflow, a malformed line that
//! would make a sum wrong) and never panics or allocates. Sums over devices wrap at 64 bits; the caller cuts
//! them to the record's widths.

use crate::host::parse::{fields, lines, parse_u64, trim};

/// A limit as the kernel writes it: a value, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit<T> {
    /// No limit (`max`, `-1`, or a value so large it cannot be a real limit).
    Unlimited,
    /// A limit.
    Limited(T),
}

/// A memory limit at or above this many bytes (4 EiB) is "no limit". The v1 memory controller writes its
/// "unlimited" as the largest page-aligned value of a signed 64-bit counter (9223372036854771712 with 4 KiB
/// pages, a little different with larger pages), and v2 writes `max`; no machine has 4 EiB of memory.
pub(crate) const MEMORY_UNLIMITED_FROM: u64 = 1 << 62;

/// Most CPUs counted in a cpuset list, so a hostile `0-18446744073709551615` stays a sane number.
pub(crate) const MAX_CPUS: u64 = 1 << 20;

/// A single-value file (`cpuacct.usage`, `memory.current`, `memory.usage_in_bytes`): one unsigned decimal.
pub(crate) fn parse_single_u64(text: &[u8]) -> Option<u64> {
    parse_u64(trim(text))
}

/// A signed decimal (`cpu.cfs_quota_us` writes `-1` for "no quota").
fn parse_i64(text: &[u8]) -> Option<i64> {
    match text.strip_prefix(b"-") {
        Some(digits) => parse_u64(digits)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        None => parse_u64(text).and_then(|v| i64::try_from(v).ok()),
    }
}

/// The value of `key` in a flat-keyed file (`cpu.stat`: `usage_usec 685108406` lines).
pub(crate) fn flat_keyed_value(text: &[u8], key: &[u8]) -> Option<u64> {
    lines(text).find_map(|line| {
        let mut f = fields(line);
        if f.next()? != key {
            return None;
        }
        let value = parse_u64(f.next()?)?;
        f.next().is_none().then_some(value)
    })
}

/// CPU bandwidth as a number of CPUs, rounded up (a quota of 1.5 CPUs may keep two CPUs busy at once).
/// `None` for a zero period or quota, which the kernel refuses and so cannot be real.
fn cpus_of_quota(quota_us: u64, period_us: u64) -> Option<u32> {
    if quota_us == 0 || period_us == 0 {
        return None;
    }
    Some(u32::try_from(quota_us.div_ceil(period_us)).unwrap_or(u32::MAX))
}

/// v2 `cpu.max`: `$MAX $PERIOD`, where `$MAX` is `max` for no limit (`max 100000`, `150000 100000`).
/// A lone `max` is accepted too. The limit is in CPUs, rounded up.
pub(crate) fn parse_cpu_max(text: &[u8]) -> Option<Limit<u32>> {
    let mut f = fields(text);
    let max = f.next()?;
    let period = f.next();
    if f.next().is_some() {
        return None;
    }
    if max == b"max" {
        return match period {
            None => Some(Limit::Unlimited),
            Some(p) => parse_u64(p).map(|_| Limit::Unlimited),
        };
    }
    let quota = parse_u64(max)?;
    let period = parse_u64(period?)?;
    cpus_of_quota(quota, period).map(Limit::Limited)
}

/// v1 `cpu.cfs_quota_us`: microseconds per period, or `-1` for no quota.
pub(crate) fn parse_cfs_quota_us(text: &[u8]) -> Option<Limit<u64>> {
    match parse_i64(trim(text))? {
        -1 => Some(Limit::Unlimited),
        quota => u64::try_from(quota).ok().map(Limit::Limited),
    }
}

/// A v1 quota in microseconds with its `cpu.cfs_period_us` text, in CPUs, rounded up.
pub(crate) fn cfs_quota_cpus(quota_us: u64, period: &[u8]) -> Option<u32> {
    cpus_of_quota(quota_us, parse_single_u64(period)?)
}

/// The number of CPUs in a cpu list (`0-3,6,8-9` is 7), as v1 `cpuset.cpus` and v2 `cpuset.cpus.effective`
/// write it; an empty list is 0 (a v1 cpuset nobody configured). At most [`MAX_CPUS`].
pub(crate) fn count_cpu_list(text: &[u8]) -> Option<u32> {
    let text = trim(text);
    if text.is_empty() {
        return Some(0);
    }
    let mut count = 0u64;
    for item in text.split(|&b| b == b',') {
        let (first, last) = match item.iter().position(|&b| b == b'-') {
            Some(dash) => (
                parse_u64(item.get(..dash)?)?,
                parse_u64(item.get(dash + 1..)?)?,
            ),
            None => {
                let cpu = parse_u64(item)?;
                (cpu, cpu)
            }
        };
        if last < first {
            return None;
        }
        count = count
            .saturating_add((last - first).saturating_add(1))
            .min(MAX_CPUS);
    }
    u32::try_from(count).ok()
}

/// A memory limit: v1 `memory.limit_in_bytes` (a number; "none" is a huge one) or v2 `memory.max`
/// (a number or `max`). A value of [`MEMORY_UNLIMITED_FROM`] or more is no limit.
pub(crate) fn parse_memory_limit(text: &[u8]) -> Option<Limit<u64>> {
    let text = trim(text);
    if text == b"max" {
        return Some(Limit::Unlimited);
    }
    let bytes = parse_u64(text)?;
    Some(if bytes >= MEMORY_UNLIMITED_FROM {
        Limit::Unlimited
    } else {
        Limit::Limited(bytes)
    })
}

/// Read and write figures summed over devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReadWrite {
    pub read: u64,
    pub write: u64,
}

/// v1 `blkio.throttle.io_service_bytes` or `blkio.throttle.io_serviced`: `MAJ:MIN Op N` lines with Op one
/// of Read, Write, Sync, Async, Discard, Total, then a last `Total N`. Read and Write (in any case) are
/// summed over devices; the other operations count the same I/O again by another split and are skipped,
/// as is the summary line. An empty file, or one with only `Total 0`, is zero.
pub(crate) fn sum_blkio(text: &[u8]) -> Option<ReadWrite> {
    let mut sum = ReadWrite::default();
    for line in lines(text) {
        let mut f = fields(line);
        let (Some(device), Some(op), Some(value)) = (f.next(), f.next(), f.next()) else {
            continue; // blank, or the `Total N` summary
        };
        if f.next().is_some() || !device.contains(&b':') {
            return None;
        }
        let target = if op.eq_ignore_ascii_case(b"read") {
            &mut sum.read
        } else if op.eq_ignore_ascii_case(b"write") {
            &mut sum.write
        } else {
            continue;
        };
        *target = target.wrapping_add(parse_u64(value)?);
    }
    Some(sum)
}

/// v2 `io.stat` figures summed over devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct IoStat {
    pub bytes: ReadWrite,
    pub ios: ReadWrite,
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N` lines, summed over devices.
/// Keys other than the four used are skipped (the kernel may add more); an empty file (no I/O yet) is zero.
pub(crate) fn sum_io_stat(text: &[u8]) -> Option<IoStat> {
    let mut sum = IoStat::default();
    for line in lines(text) {
        let mut f = fields(line);
        let Some(device) = f.next() else {
            continue;
        };
        if !device.contains(&b':') {
            return None;
        }
        for pair in f {
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
            let target = match key {
                b"rbytes" => &mut sum.bytes.read,
                b"wbytes" => &mut sum.bytes.write,
                b"rios" => &mut sum.ios.read,
                b"wios" => &mut sum.ios.write,
                _ => continue,
            };
            *target = target.wrapping_add(parse_u64(value)?);
        }
    }
    Some(sum)
}

/// The controller names of `cgroup.subtree_control` or `cgroup.controllers` (`cpuset cpu io memory pids`).
pub(crate) fn controller_names(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    fields(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values() {
        assert_eq!(parse_single_u64(b"695474044183\n"), Some(695474044183));
        assert_eq!(parse_single_u64(b"18446744073709551615\n"), Some(u64::MAX));
        assert_eq!(parse_single_u64(b"18446744073709551616\n"), None);
        assert_eq!(parse_single_u64(b""), None);
        assert_eq!(parse_single_u64(b"\n"), None);
        assert_eq!(parse_single_u64(b"12 13\n"), None);
        assert_eq!(parse_single_u64(b"-1\n"), None);
    }

    #[test]
    fn signed_values() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"50000"), Some(50000));
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"--1"), None);
        assert_eq!(parse_i64(b"9223372036854775808"), None);
    }

    #[test]
    fn cpu_stat_usage() {
        let text =
            b"usage_usec 685108406\nuser_usec 523372379\nsystem_usec 161736026\nnr_periods 0\n";
        assert_eq!(flat_keyed_value(text, b"usage_usec"), Some(685108406));
        assert_eq!(flat_keyed_value(text, b"system_usec"), Some(161736026));
        assert_eq!(flat_keyed_value(text, b"usage"), None);
        assert_eq!(flat_keyed_value(b"usage_usec x\n", b"usage_usec"), None);
        assert_eq!(flat_keyed_value(b"usage_usec 1 2\n", b"usage_usec"), None);
        assert_eq!(flat_keyed_value(b"", b"usage_usec"), None);
    }

    #[test]
    fn cpu_max() {
        assert_eq!(parse_cpu_max(b"max 100000\n"), Some(Limit::Unlimited));
        assert_eq!(parse_cpu_max(b"max\n"), Some(Limit::Unlimited));
        assert_eq!(parse_cpu_max(b"150000 100000\n"), Some(Limit::Limited(2)));
        assert_eq!(parse_cpu_max(b"50000 100000\n"), Some(Limit::Limited(1)));
        assert_eq!(parse_cpu_max(b"200000 100000\n"), Some(Limit::Limited(2)));
        assert_eq!(parse_cpu_max(b"1000 1000\n"), Some(Limit::Limited(1)));
        assert_eq!(
            parse_cpu_max(b"18446744073709551615 1\n"),
            Some(Limit::Limited(u32::MAX))
        );
        for bad in [
            &b""[..],
            b"150000",
            b"0 100000",
            b"150000 0",
            b"max x",
            b"150000 100000 1",
            b"-1 100000",
        ] {
            assert_eq!(parse_cpu_max(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cfs_quota() {
        assert_eq!(parse_cfs_quota_us(b"-1\n"), Some(Limit::Unlimited));
        assert_eq!(
            parse_cfs_quota_us(b"150000\n"),
            Some(Limit::Limited(150000))
        );
        assert_eq!(parse_cfs_quota_us(b"-2\n"), None);
        assert_eq!(parse_cfs_quota_us(b""), None);
        assert_eq!(parse_cfs_quota_us(b"x\n"), None);
        assert_eq!(cfs_quota_cpus(150000, b"100000\n"), Some(2));
        assert_eq!(cfs_quota_cpus(50000, b"100000\n"), Some(1));
        assert_eq!(cfs_quota_cpus(0, b"100000\n"), None);
        assert_eq!(cfs_quota_cpus(50000, b"0\n"), None);
        assert_eq!(cfs_quota_cpus(50000, b""), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list(b"0-3,6,8-9\n"), Some(7));
        assert_eq!(count_cpu_list(b"0-1\n"), Some(2));
        assert_eq!(count_cpu_list(b"5\n"), Some(1));
        assert_eq!(count_cpu_list(b"\n"), Some(0));
        assert_eq!(count_cpu_list(b""), Some(0));
        assert_eq!(
            count_cpu_list(b"0-18446744073709551615"),
            Some(MAX_CPUS as u32)
        );
        for bad in [
            &b"3-1"[..],
            b"0-",
            b"-3",
            b"0,,1",
            b"0-3,",
            b"a",
            b"0-7:2/4",
            b"0 1",
        ] {
            assert_eq!(count_cpu_list(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn memory_limits() {
        assert_eq!(parse_memory_limit(b"max\n"), Some(Limit::Unlimited));
        assert_eq!(
            parse_memory_limit(b"9223372036854771712\n"),
            Some(Limit::Unlimited)
        );
        // 64 KiB pages give another "unlimited".
        assert_eq!(
            parse_memory_limit(b"9223372036854710272\n"),
            Some(Limit::Unlimited)
        );
        assert_eq!(
            parse_memory_limit(b"18446744073709551615\n"),
            Some(Limit::Unlimited)
        );
        assert_eq!(
            parse_memory_limit(b"67108864\n"),
            Some(Limit::Limited(64 << 20))
        );
        assert_eq!(parse_memory_limit(b"0\n"), Some(Limit::Limited(0)));
        assert_eq!(parse_memory_limit(b""), None);
        assert_eq!(parse_memory_limit(b"max max\n"), None);
        assert_eq!(parse_memory_limit(b"-1\n"), None);
    }

    #[test]
    fn blkio_sums() {
        let text = b"254:0 Read 20975616
254:0 Write 20971520
254:0 Sync 41947136
254:0 Async 0
254:0 Discard 0
254:0 Total 41947136
8:16 read 4096
8:16 WRITE 8192
8:16 Total 12288
Total 41959424
";
        assert_eq!(
            sum_blkio(text),
            Some(ReadWrite {
                read: 20975616 + 4096,
                write: 20971520 + 8192,
            })
        );
        assert_eq!(sum_blkio(b"Total 0\n"), Some(ReadWrite::default()));
        assert_eq!(sum_blkio(b""), Some(ReadWrite::default()));
        // A malformed figure in a counted line would make the sum wrong.
        assert_eq!(sum_blkio(b"8:0 Read x\n"), None);
        assert_eq!(sum_blkio(b"8:0 Read 1 2\n"), None);
        assert_eq!(sum_blkio(b"junk Read 1\n"), None);
        // Operations not counted may hold anything.
        assert_eq!(
            sum_blkio(b"8:0 Sync x\n8:0 Read 3\n"),
            Some(ReadWrite { read: 3, write: 0 })
        );
        // Sums wrap rather than fail.
        assert_eq!(
            sum_blkio(b"8:0 Read 18446744073709551615\n8:1 Read 2\n"),
            Some(ReadWrite { read: 1, write: 0 })
        );
    }

    #[test]
    fn io_stat_sums() {
        let text = b"8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021
";
        assert_eq!(
            sum_io_stat(text),
            Some(IoStat {
                bytes: ReadWrite {
                    read: 1459200 + 90430464,
                    write: 314773504 + 299008000,
                },
                ios: ReadWrite {
                    read: 192 + 8950,
                    write: 353 + 1252,
                },
            })
        );
        assert_eq!(sum_io_stat(b""), Some(IoStat::default()));
        assert_eq!(
            sum_io_stat(b"8:0 rbytes=5 newkey=x\n"),
            Some(IoStat {
                bytes: ReadWrite { read: 5, write: 0 },
                ios: ReadWrite::default(),
            })
        );
        for bad in [
            &b"8:0 rbytes=x\n"[..],
            b"8:0 rbytes\n",
            b"rbytes=1\n",
            b"8:0 rios=-1\n",
        ] {
            assert_eq!(sum_io_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn controller_lists() {
        let names: Vec<&[u8]> = controller_names(b"cpuset cpu io memory pids\n").collect();
        assert_eq!(names, [&b"cpuset"[..], b"cpu", b"io", b"memory", b"pids"]);
        assert_eq!(controller_names(b"\n").count(), 0);
    }
}
