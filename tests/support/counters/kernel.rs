//! What the kernel says about a container, read by the test itself (independently of the agent's
//! readers): its cgroup v1 files and its network namespace's `net/dev` and sysfs.
//!
//! The cgroup directory is where the engine puts it (`/docker/<id>` or `/libpod_parent/libpod-<id>`
//! under each controller's hierarchy, see [`crate::support::Kind::cgroup_path`]); each controller's
//! hierarchy is found in `/proc/self/mountinfo` by its name among a `cgroup` mount's super options.
//! Only cgroup v1 is read here: this machine's controllers are bound to v1 (reference/testing.md),
//! and a machine without the v1 memory controller fails the test with that reason.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::Engine;

/// The host's capacity, which a container without a limit reports.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    /// `MemTotal` of /proc/meminfo, in bytes.
    pub mem_total: u64,
    /// The `cpuN` lines of /proc/stat (the online CPUs; `nproc` here).
    pub cpus: u32,
}

impl Host {
    /// Reads /proc/meminfo and /proc/stat.
    pub fn read() -> Host {
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kb: u64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("MemTotal in /proc/meminfo");
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let cpus = stat
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|key| {
                key.strip_prefix("cpu")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .count() as u32;
        assert!(cpus > 0, "no cpuN line in /proc/stat");
        Host {
            mem_total: kb * 1024,
            cpus,
        }
    }
}

/// The mount point of the cgroup v1 hierarchy holding `controller`.
pub fn v1_hierarchy(controller: &str) -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in mountinfo.lines() {
        // `id parent maj:min root mount-point options [optional...] - fstype source super-options`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right = right.split(' ');
        let (Some(fstype), Some(_source), Some(options)) =
            (right.next(), right.next(), right.next())
        else {
            continue;
        };
        if fstype == "cgroup" && options.split(',').any(|o| o == controller) {
            if let Some(point) = left.split(' ').nth(4) {
                return PathBuf::from(point);
            }
        }
    }
    panic!(
        "no cgroup v1 hierarchy with the {controller} controller in /proc/self/mountinfo: these \
         tests read cgroup v1 files, the layout of the machines they run on"
    );
}

/// The v1 files of one container's counters.
#[derive(Clone, Debug)]
pub struct CgroupFiles {
    pub cpuacct_usage: PathBuf,
    pub cfs_quota_us: PathBuf,
    pub cfs_period_us: PathBuf,
    pub cpuset_cpus: PathBuf,
    pub memory_usage: PathBuf,
    pub memory_limit: PathBuf,
    pub io_service_bytes: PathBuf,
    pub io_serviced: PathBuf,
}

impl CgroupFiles {
    /// The files of container `id` of `engine`.
    pub fn of(engine: &Engine, id: &str) -> CgroupFiles {
        let path = engine.cgroup_path(id);
        let dir = |controller: &str| {
            let mut dir = v1_hierarchy(controller);
            dir.push(path.trim_start_matches('/'));
            assert!(
                dir.is_dir(),
                "{}: the container's {controller} cgroup",
                dir.display()
            );
            dir
        };
        let (cpu, cpuacct, cpuset, memory, blkio) = (
            dir("cpu"),
            dir("cpuacct"),
            dir("cpuset"),
            dir("memory"),
            dir("blkio"),
        );
        CgroupFiles {
            cpuacct_usage: cpuacct.join("cpuacct.usage"),
            cfs_quota_us: cpu.join("cpu.cfs_quota_us"),
            cfs_period_us: cpu.join("cpu.cfs_period_us"),
            cpuset_cpus: cpuset.join("cpuset.cpus"),
            memory_usage: memory.join("memory.usage_in_bytes"),
            memory_limit: memory.join("memory.limit_in_bytes"),
            io_service_bytes: blkio.join("blkio.throttle.io_service_bytes"),
            io_serviced: blkio.join("blkio.throttle.io_serviced"),
        }
    }
}

/// Read and Write sums of a blkio.throttle file (every device's `maj:min Read N` line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadWrite {
    pub read: u64,
    pub write: u64,
}

/// Sums the `Read` and `Write` lines of a v1 blkio.throttle file; `Total`, `Sync`, `Async` and
/// `Discard` lines are not I/O of their own.
pub fn sum_blkio(text: &str) -> ReadWrite {
    let mut sum = ReadWrite::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_device, op, value] = fields[..] {
            let value: u64 = value
                .parse()
                .unwrap_or_else(|_| panic!("blkio line {line:?}"));
            match op {
                "Read" => sum.read += value,
                "Write" => sum.write += value,
                _ => {}
            }
        }
    }
    sum
}

/// One interface line of `/proc/<pid>/net/dev` (the fields the sFlow record carries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetDev {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_drop: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_drop: u64,
}

/// Every interface of a `net/dev` text: (name, counters).
pub fn parse_net_dev(text: &str) -> Vec<(String, NetDev)> {
    text.lines()
        .skip(2)
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let v: Vec<u64> = rest
                .split_whitespace()
                .map(|f| {
                    f.parse()
                        .unwrap_or_else(|_| panic!("net/dev line {line:?}"))
                })
                .collect();
            assert!(v.len() >= 16, "net/dev line {line:?}");
            Some((
                name.trim().to_owned(),
                NetDev {
                    rx_bytes: v[0],
                    rx_packets: v[1],
                    rx_errs: v[2],
                    rx_drop: v[3],
                    tx_bytes: v[8],
                    tx_packets: v[9],
                    tx_errs: v[10],
                    tx_drop: v[11],
                },
            ))
        })
        .collect()
}

/// One interface of the container as its own sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub if_index: u32,
    pub mac: [u8; 6],
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
pub fn parse_mac(text: &str) -> [u8; 6] {
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap_or_else(|_| panic!("MAC {text:?}")))
        .collect();
    bytes
        .try_into()
        .unwrap_or_else(|_| panic!("MAC {text:?} is not 6 bytes"))
}

/// Everything read at one moment. `None` where a file could not be read (or parsed).
#[derive(Clone, Debug)]
pub struct Reading {
    pub at: Instant,
    /// cpuacct.usage, ns.
    pub cpu_ns: Option<u64>,
    /// cpu.cfs_quota_us (-1: none).
    pub quota_us: Option<i64>,
    /// cpu.cfs_period_us.
    pub period_us: Option<u64>,
    /// How many CPUs cpuset.cpus lists.
    pub cpuset_cpus: Option<u32>,
    /// memory.usage_in_bytes.
    pub memory: Option<u64>,
    /// memory.limit_in_bytes.
    pub memory_limit: Option<u64>,
    /// blkio.throttle.io_service_bytes.
    pub disk_bytes: Option<ReadWrite>,
    /// blkio.throttle.io_serviced.
    pub disk_requests: Option<ReadWrite>,
    /// `/proc/<pid>/net/dev` summed over every interface but `lo`.
    pub net: Option<NetDev>,
    /// The interfaces but `lo`, with the ifindex and MAC of `/proc/<pid>/root/sys/class/net`.
    pub interfaces: Option<Vec<Interface>>,
}

/// How many CPUs a cpuset list (`0-3,8,10-11`) names.
pub fn count_cpu_list(text: &str) -> u32 {
    text.trim()
        .split(',')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().unwrap(), b.parse().unwrap());
                b - a + 1
            }
            None => {
                part.parse::<u32>().unwrap();
                1
            }
        })
        .sum()
}

fn read_number<T: std::str::FromStr>(path: &Path) -> Option<T> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Reads one container's files, over and over, keeping what it read with the time it read it: the
/// agent reads at some moment before its datagram arrives, and a counter that moves must lie
/// between what was read before that moment and what was read after the datagram.
pub struct Probe {
    pub files: CgroupFiles,
    /// The container's first process (host pid namespace).
    pub pid: u32,
    /// True when the container shares the host's network namespace.
    pub host_network: bool,
    history: VecDeque<Reading>,
}

/// How much history a probe keeps beyond what a sample's window needs.
const KEEP: Duration = Duration::from_secs(6);

impl Probe {
    /// A probe of container `id` of `engine`; reads once.
    pub fn new(engine: &Engine, id: &str) -> Probe {
        let pid = engine.inspect_pid(id);
        assert!(pid > 0, "container {id} is not running");
        let ns = |p: &str| std::fs::read_link(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let host_network = ns(&format!("/proc/{pid}/ns/net")) == ns("/proc/self/ns/net");
        let mut probe = Probe {
            files: CgroupFiles::of(engine, id),
            pid,
            host_network,
            history: VecDeque::new(),
        };
        probe.tick();
        probe
    }

    /// Reads every file now, keeps the reading and returns it.
    pub fn tick(&mut self) -> Reading {
        let reading = self.read_now();
        while self.history.len() > 2 && self.history[1].at + KEEP + super::LAG < reading.at {
            self.history.pop_front();
        }
        self.history.push_back(reading.clone());
        reading
    }

    /// The readings from the last one taken at or before `start` on (`None` when the history
    /// begins after `start`).
    pub fn window_from_before(&self, start: Instant) -> Option<Vec<Reading>> {
        let first = self.history.iter().rposition(|r| r.at <= start)?;
        Some(self.history.iter().skip(first).cloned().collect())
    }

    /// The readings taken at or after `start`.
    pub fn window_since(&self, start: Instant) -> Vec<Reading> {
        self.history
            .iter()
            .filter(|r| r.at >= start)
            .cloned()
            .collect()
    }

    /// The newest reading.
    pub fn last(&self) -> &Reading {
        self.history.back().expect("a probe reads at creation")
    }

    fn read_now(&self) -> Reading {
        let f = &self.files;
        let text = |p: &Path| std::fs::read_to_string(p).ok();
        let net_dev = text(Path::new(&format!("/proc/{}/net/dev", self.pid)));
        let lines = net_dev.as_deref().map(parse_net_dev);
        let net = lines.as_ref().map(|lines| {
            lines
                .iter()
                .filter(|(name, _)| name != "lo")
                .fold(NetDev::default(), |sum, (_, c)| NetDev {
                    rx_bytes: sum.rx_bytes + c.rx_bytes,
                    rx_packets: sum.rx_packets + c.rx_packets,
                    rx_errs: sum.rx_errs + c.rx_errs,
                    rx_drop: sum.rx_drop + c.rx_drop,
                    tx_bytes: sum.tx_bytes + c.tx_bytes,
                    tx_packets: sum.tx_packets + c.tx_packets,
                    tx_errs: sum.tx_errs + c.tx_errs,
                    tx_drop: sum.tx_drop + c.tx_drop,
                })
        });
        let interfaces = lines.as_ref().and_then(|lines| {
            let class = format!("/proc/{}/root/sys/class/net", self.pid);
            lines
                .iter()
                .filter(|(name, _)| name != "lo")
                .map(|(name, _)| {
                    Some(Interface {
                        name: name.clone(),
                        if_index: read_number(Path::new(&format!("{class}/{name}/ifindex")))?,
                        mac: parse_mac(&text(Path::new(&format!("{class}/{name}/address")))?),
                    })
                })
                .collect::<Option<Vec<Interface>>>()
        });
        Reading {
            at: Instant::now(),
            cpu_ns: read_number(&f.cpuacct_usage),
            quota_us: read_number(&f.cfs_quota_us),
            period_us: read_number(&f.cfs_period_us),
            cpuset_cpus: text(&f.cpuset_cpus).map(|t| count_cpu_list(&t)),
            memory: read_number(&f.memory_usage),
            memory_limit: read_number(&f.memory_limit),
            disk_bytes: text(&f.io_service_bytes).map(|t| sum_blkio(&t)),
            disk_requests: text(&f.io_serviced).map(|t| sum_blkio(&t)),
            net,
            interfaces,
        }
    }
}

/// The whole disk holding `path`'s file system, as Docker's `--device-*-bps` wants it
/// (`/dev/vda`), and its `major:minor` as the blkio files print it. Found from the file's device
/// number and `/sys/dev/block` (a partition is replaced by its disk: throttle rules apply to
/// disks), or, when the file system has no block device number of its own (btrfs, overlay), from
/// the device named as the source of its mount in /proc/self/mountinfo.
pub fn disk_of(path: &Path) -> (PathBuf, String) {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).unwrap().dev();
    let mut sys = PathBuf::from(format!("/sys/dev/block/{}", major_minor(dev)));
    if !sys.exists() {
        let source = mount_source(path);
        let rdev = std::fs::metadata(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()))
            .rdev();
        sys = PathBuf::from(format!("/sys/dev/block/{}", major_minor(rdev)));
    }
    let mut sys = std::fs::canonicalize(&sys).unwrap_or_else(|e| panic!("{}: {e}", sys.display()));
    if sys.join("partition").exists() {
        sys.pop();
    }
    let uevent = std::fs::read_to_string(sys.join("uevent")).unwrap();
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .unwrap_or_else(|| panic!("no DEVNAME in {}/uevent", sys.display()));
    let numbers = std::fs::read_to_string(sys.join("dev")).unwrap();
    (Path::new("/dev").join(name), numbers.trim().to_owned())
}

/// glibc's encoding of a device number.
fn major_minor(dev: u64) -> String {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    format!("{major}:{minor}")
}

/// The source device of the mount holding `path` (the longest mount point that contains it).
fn mount_source(path: &Path) -> PathBuf {
    let path = std::fs::canonicalize(path).unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let source = right.split(' ').nth(1)?;
            (path.starts_with(point) && source.starts_with("/dev/"))
                .then(|| (point.len(), PathBuf::from(source)))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, source)| source)
        .unwrap_or_else(|| panic!("no block device mount holds {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(count_cpu_list("0-3,8,10-11\n"), 7);
        assert_eq!(count_cpu_list("0\n"), 1);
        assert_eq!(
            sum_blkio("254:0 Read 10\n254:0 Write 4\n254:0 Total 14\n8:0 Read 1\nTotal 15\n"),
            ReadWrite { read: 11, write: 4 }
        );
        assert_eq!(major_minor(0xfe00), "254:0");
        assert_eq!(
            parse_mac("22:ec:e3:ef:0d:ce\n"),
            [0x22, 0xec, 0xe3, 0xef, 0x0d, 0xce]
        );
    }
}
