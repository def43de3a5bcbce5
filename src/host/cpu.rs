//! `host_cpu` from /proc/loadavg, /proc/stat, /proc/uptime (kept open), /proc/cpuinfo and cpufreq
//! (read rarely by the caller: the speed they give changes little).
//!
//! Each parser fills only the fields it could read and leaves the others as they were (unknown, when the
//! caller starts from [`HostCpu::UNKNOWN`]). Kernel counters wider than the record's 32 bits are
//! truncated, so they wrap the way sFlow counters do.

use std::time::Instant;

use super::file::{Extent, FileBuf, PathBuilder};
use super::kept::KeptFile;
use super::parse::{fields, lines, parse_decimal, parse_u32, parse_u64, trim, value_of};
use super::Roots;
use crate::wire::HostCpu;

/// How much of /proc/cpuinfo is read: the first processor's block, which holds the first `cpu MHz`, is
/// well inside it, and the whole file of a large machine is hundreds of KiB.
const CPUINFO_PREFIX_BYTES: usize = 64 << 10;

/// The files read on every poll for `host_cpu`.
#[derive(Debug)]
pub(crate) struct CpuFiles {
    loadavg: KeptFile,
    stat: KeptFile,
    uptime: KeptFile,
}

impl CpuFiles {
    /// `<proc>/{loadavg,stat,uptime}`, opened on first read.
    pub(crate) fn new(roots: &Roots) -> CpuFiles {
        CpuFiles {
            loadavg: KeptFile::new(roots.proc.join("loadavg")),
            stat: KeptFile::new(roots.proc.join("stat")),
            uptime: KeptFile::new(roots.proc.join("uptime")),
        }
    }
}

/// `host_cpu` from `<proc>/{loadavg,stat,uptime}`, except `cpu_speed` (unknown; see
/// [`read_cpu_speed`]). Fields whose file is missing or malformed are unknown.
pub(crate) fn read_cpu(
    files: &mut FileBuf,
    cpu_files: &mut CpuFiles,
    ticks_per_second: u64,
    now: Instant,
) -> HostCpu {
    let mut cpu = HostCpu::UNKNOWN;
    if let Some(text) = cpu_files.loadavg.read(files, Extent::Whole, now) {
        parse_loadavg(text, &mut cpu);
    }
    if let Some(text) = cpu_files.stat.read(files, Extent::Whole, now) {
        parse_stat(text, ticks_per_second, &mut cpu);
    }
    if let Some(text) = cpu_files.uptime.read(files, Extent::Whole, now) {
        cpu.uptime = parse_uptime(text).unwrap_or(cpu.uptime);
    }
    cpu
}

/// The CPU speed in MHz from `<proc>/cpuinfo` or, when it has no `cpu MHz`, cpu0's cpufreq maximum
/// under `<sys>`; `None` when neither says. Read by path: the caller reads it rarely.
pub(crate) fn read_cpu_speed(
    files: &mut FileBuf,
    paths: &mut PathBuilder,
    roots: &Roots,
) -> Option<u32> {
    let cpuinfo = paths.join(&roots.proc, &[b"cpuinfo"]);
    files
        .read(cpuinfo, Extent::Prefix(CPUINFO_PREFIX_BYTES))
        .and_then(parse_cpuinfo_mhz)
        .or_else(|| {
            let max_freq = paths.join(
                &roots.sys,
                &[
                    b"devices",
                    b"system",
                    b"cpu",
                    b"cpu0",
                    b"cpufreq",
                    b"cpuinfo_max_freq",
                ],
            );
            files
                .read(max_freq, Extent::Prefix(64))
                .and_then(parse_cpufreq_khz)
        })
}

/// /proc/loadavg: `0.36 0.29 0.13 1/112 4321`, the three loads, then running/total scheduling entities.
pub(crate) fn parse_loadavg(text: &[u8], cpu: &mut HostCpu) {
    let mut f = fields(text);
    for load in [&mut cpu.load_one, &mut cpu.load_five, &mut cpu.load_fifteen] {
        if let Some(v) = f.next().and_then(parse_decimal) {
            *load = v as f32;
        }
    }
    let total = f
        .next()
        .and_then(|tasks| tasks.split(|&b| b == b'/').nth(1))
        .and_then(parse_u32);
    if let Some(total) = total {
        cpu.proc_total = total;
    }
}

/// /proc/stat: the aggregate `cpu` line (times in clock ticks), the count of `cpuN` lines, the interrupt
/// and context-switch totals and `procs_running`.
pub(crate) fn parse_stat(text: &[u8], ticks_per_second: u64, cpu: &mut HostCpu) {
    let mut cpus = 0u32;
    for line in lines(text) {
        let mut f = fields(line);
        let Some(key) = f.next() else { continue };
        match key {
            b"cpu" => {
                // user nice system idle iowait irq softirq steal guest guest_nice; older kernels
                // stop earlier, and the missing times stay unknown.
                let times = [
                    &mut cpu.cpu_user,
                    &mut cpu.cpu_nice,
                    &mut cpu.cpu_system,
                    &mut cpu.cpu_idle,
                    &mut cpu.cpu_wio,
                    &mut cpu.cpu_intr,
                    &mut cpu.cpu_sintr,
                    &mut cpu.cpu_steal,
                    &mut cpu.cpu_guest,
                    &mut cpu.cpu_guest_nice,
                ];
                for (slot, field) in times.into_iter().zip(&mut f) {
                    if let Some(ticks) = parse_u64(field) {
                        *slot = ticks_to_ms(ticks, ticks_per_second);
                    }
                }
            }
            b"intr" => {
                if let Some(total) = f.next().and_then(parse_u64) {
                    cpu.interrupts = total as u32;
                }
            }
            b"ctxt" => {
                if let Some(total) = f.next().and_then(parse_u64) {
                    cpu.contexts = total as u32;
                }
            }
            b"procs_running" => {
                if let Some(n) = f.next().and_then(parse_u32) {
                    cpu.proc_run = n;
                }
            }
            _ => {
                let is_one_cpu = key
                    .strip_prefix(b"cpu")
                    .is_some_and(|n| parse_u32(n).is_some());
                if is_one_cpu {
                    cpus = cpus.saturating_add(1);
                }
            }
        }
    }
    if cpus > 0 {
        cpu.cpu_num = cpus;
    }
}

/// Clock ticks to milliseconds, truncated to 32 bits (the record's counters wrap).
fn ticks_to_ms(ticks: u64, ticks_per_second: u64) -> u32 {
    let ms = u128::from(ticks) * 1000 / u128::from(ticks_per_second.max(1));
    ms as u32
}

/// /proc/uptime: `4198.52 8241.69`, whole seconds since boot.
pub(crate) fn parse_uptime(text: &[u8]) -> Option<u32> {
    let secs = fields(text).next().and_then(parse_decimal)?;
    (secs < f64::from(u32::MAX)).then_some(secs as u32)
}

/// The first `cpu MHz` of /proc/cpuinfo, rounded (x86 writes it; most ARM kernels do not).
pub(crate) fn parse_cpuinfo_mhz(text: &[u8]) -> Option<u32> {
    let mhz = lines(text)
        .find_map(|line| value_of(line, b"cpu MHz"))
        .and_then(parse_decimal)?;
    let rounded = mhz.round();
    (rounded <= f64::from(u32::MAX)).then_some(rounded as u32)
}

/// cpufreq's `cpuinfo_max_freq` (kHz) in MHz, rounded.
pub(crate) fn parse_cpufreq_khz(text: &[u8]) -> Option<u32> {
    let khz = parse_u64(trim(text))?;
    u32::try_from(khz.saturating_add(500) / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &[u8] = b"cpu  4310 0 2621 69044 1405 0 49 12 0 0
cpu0 1637 0 1000 35968 97 0 13 4 0 0
cpu1 2672 0 1620 33075 1307 0 35 8 0 0
intr 160903 0 0 0 0 1 1 14
ctxt 335900
btime 1795622023
processes 6750
procs_running 2
procs_blocked 0
softirq 106872 0 9967 4 6921 45966 0 50 22372 0 21592
";

    #[test]
    fn loadavg() {
        let mut cpu = HostCpu::UNKNOWN;
        parse_loadavg(b"0.36 0.29 0.13 1/112 4321\n", &mut cpu);
        assert_eq!(
            (cpu.load_one, cpu.load_five, cpu.load_fifteen),
            (0.36, 0.29, 0.13)
        );
        assert_eq!(cpu.proc_total, 112);
        assert_eq!(cpu.proc_run, HostCpu::UNKNOWN.proc_run);
    }

    #[test]
    fn loadavg_garbage_leaves_unknown() {
        for text in [&b""[..], b"x y z", b"0.1 0.2", b"\xff\xfe"] {
            let mut cpu = HostCpu::UNKNOWN;
            parse_loadavg(text, &mut cpu);
            assert_eq!(cpu.load_fifteen, -1.0, "{text:?}");
            assert_eq!(cpu.proc_total, u32::MAX, "{text:?}");
        }
        for text in [
            &b"0.1 0.2 0.3 12"[..],
            b"0.1 0.2 0.3 1/",
            b"0.1 0.2 0.3 1/x",
        ] {
            let mut cpu = HostCpu::UNKNOWN;
            parse_loadavg(text, &mut cpu);
            assert_eq!(cpu.load_fifteen, 0.3, "{text:?}");
            assert_eq!(cpu.proc_total, u32::MAX, "{text:?}");
        }
        let mut cpu = HostCpu::UNKNOWN;
        parse_loadavg(b"0.1 bad 0.3", &mut cpu);
        assert_eq!(
            (cpu.load_one, cpu.load_five, cpu.load_fifteen),
            (0.1, -1.0, 0.3)
        );
    }

    #[test]
    fn stat_at_100_hz() {
        let mut cpu = HostCpu::UNKNOWN;
        parse_stat(STAT, 100, &mut cpu);
        assert_eq!(cpu.cpu_user, 43100);
        assert_eq!(cpu.cpu_nice, 0);
        assert_eq!(cpu.cpu_system, 26210);
        assert_eq!(cpu.cpu_idle, 690440);
        assert_eq!(cpu.cpu_wio, 14050);
        assert_eq!(cpu.cpu_intr, 0);
        assert_eq!(cpu.cpu_sintr, 490);
        assert_eq!(cpu.cpu_steal, 120);
        assert_eq!(cpu.cpu_guest, 0);
        assert_eq!(cpu.cpu_guest_nice, 0);
        assert_eq!(cpu.cpu_num, 2);
        assert_eq!(cpu.interrupts, 160903);
        assert_eq!(cpu.contexts, 335900);
        assert_eq!(cpu.proc_run, 2);
    }

    #[test]
    fn stat_times_follow_the_tick_rate_and_wrap() {
        let mut cpu = HostCpu::UNKNOWN;
        parse_stat(b"cpu 3 0 0 0\n", 300, &mut cpu);
        assert_eq!(cpu.cpu_user, 10);
        // An old kernel without steal/guest: those stay unknown.
        assert_eq!(cpu.cpu_wio, u32::MAX);
        assert_eq!(cpu.cpu_guest_nice, u32::MAX);
        // No cpuN lines: the count is unknown, not zero.
        assert_eq!(cpu.cpu_num, u32::MAX);

        let mut cpu = HostCpu::UNKNOWN;
        // 2^32 ms + 5 ms at 1000 Hz wraps to 5.
        parse_stat(
            b"cpu 4294967301\nintr 4294967297 0\nctxt 4294967298\n",
            1000,
            &mut cpu,
        );
        assert_eq!(cpu.cpu_user, 5);
        assert_eq!(cpu.interrupts, 1);
        assert_eq!(cpu.contexts, 2);
        // A zero tick rate does not divide by zero.
        parse_stat(b"cpu 1\n", 0, &mut cpu);
        assert_eq!(cpu.cpu_user, 1000);
    }

    #[test]
    fn stat_garbage_leaves_unknown() {
        let mut cpu = HostCpu::UNKNOWN;
        parse_stat(
            b"cpu x y\ncpux 1\ncpu 1\nintr\nctxt -3\nprocs_running",
            100,
            &mut cpu,
        );
        assert_eq!(cpu.cpu_nice, u32::MAX);
        assert_eq!(cpu.cpu_num, u32::MAX);
        assert_eq!(cpu.interrupts, u32::MAX);
        assert_eq!(cpu.contexts, u32::MAX);
        assert_eq!(cpu.proc_run, u32::MAX);
    }

    #[test]
    fn uptime() {
        assert_eq!(parse_uptime(b"4198.52 8241.69\n"), Some(4198));
        assert_eq!(parse_uptime(b"7\n"), Some(7));
        assert_eq!(parse_uptime(b"99999999999.0 1"), None);
        assert_eq!(parse_uptime(b""), None);
        assert_eq!(parse_uptime(b"-1 2"), None);
    }

    #[test]
    fn cpu_speed() {
        let info = b"processor\t: 0\nvendor_id\t: GenuineIntel\ncpu MHz\t\t: 2596.126\n\n\
processor\t: 1\ncpu MHz\t\t: 1200.000\n";
        assert_eq!(parse_cpuinfo_mhz(info), Some(2596));
        assert_eq!(parse_cpuinfo_mhz(b"cpu MHz\t\t: 2599.5\n"), Some(2600));
        assert_eq!(
            parse_cpuinfo_mhz(b"processor\t: 0\nBogoMIPS\t: 50.00\n"),
            None
        );
        assert_eq!(parse_cpuinfo_mhz(b"cpu MHz\t\t: fast\n"), None);
        assert_eq!(parse_cpufreq_khz(b"2600000\n"), Some(2600));
        assert_eq!(parse_cpufreq_khz(b"1799999\n"), Some(1800));
        assert_eq!(parse_cpufreq_khz(b"lots\n"), None);
    }
}
