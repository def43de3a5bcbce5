//! A generated /proc and /sys tree holding any number of containers, in the kernel's formats, laid
//! out as on this project's test machines (cgroup v1 hierarchies beside an empty unified one, the
//! cgroupfs driver: `/docker/<id>` in every controller), for the agent's `--proc-root`/`--sys-root`.
//!
//! Per container (process `pid`): `proc/<pid>/{cgroup,net/dev,net/snmp,ns/net}` (each in a network
//! namespace of its own),
//! `proc/<pid>/root/sys/class/net/eth0/{ifindex,address}` and, under `sys/fs/cgroup/<controller>/
//! docker/<id>/`, the nine counter and limit files the agent reads. The host's own files come from the
//! `complete` host fixture. Everything lives under one directory, removed on drop.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// The mountinfo of a hybrid host (v1 controllers and an empty unified hierarchy).
const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// One simulated container.
#[derive(Debug, Clone)]
pub struct SimContainer {
    /// 64 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its process, a directory under the tree's `proc`.
    pub pid: u32,
}

/// The generated tree.
pub struct FixtureTree {
    /// The tree's top: `proc`, `sys` and `etc` are under it.
    pub root: PathBuf,
    /// The containers, in creation order.
    pub containers: Vec<SimContainer>,
}

/// A tmpfs when there is one (the tree is 100,000+ small files), else the temporary directory.
pub fn scratch_parent() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && std::fs::metadata(shm).is_ok_and(|m| !m.permissions().readonly()) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

impl FixtureTree {
    /// Generates a tree with `count` containers under a fresh directory in `parent`.
    pub fn generate(parent: &Path, tag: &str, count: usize) -> FixtureTree {
        let root = parent.join(format!("csflowd-bench-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).expect("fixture root");
        let host = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/host/complete");
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(host.join("proc"))
            .arg(host.join("sys"))
            .arg(host.join("etc"))
            .arg(&root)
            .status()
            .expect("cp");
        assert!(copied.success(), "copying the host fixture");
        let proc = root.join("proc");
        write(&proc.join("1/mountinfo"), MOUNTINFO);
        link("net:[4026531840]", &proc.join("1/ns/net"));
        let cgroup = root.join("sys/fs/cgroup");
        fs::create_dir_all(cgroup.join("unified")).expect("unified");
        write(&cgroup.join("unified/cgroup.controllers"), "");
        let containers: Vec<SimContainer> = (0..count)
            .map(|i| SimContainer {
                id: container_id(i),
                name: format!("sim-{i}"),
                pid: 1_000_000 + i as u32,
            })
            .collect();
        for (i, c) in containers.iter().enumerate() {
            container_files(&root, i, c);
        }
        FixtureTree { root, containers }
    }

    /// `--proc-root`.
    pub fn proc(&self) -> PathBuf {
        self.root.join("proc")
    }

    /// `--sys-root`.
    pub fn sys(&self) -> PathBuf {
        self.root.join("sys")
    }

    /// `--etc-root`.
    pub fn etc(&self) -> PathBuf {
        self.root.join("etc")
    }
}

impl Drop for FixtureTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// A distinct, well-spread 64-hex id for container `i` (splitmix64 of the index, four times).
pub fn container_id(i: usize) -> String {
    let mut state = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5151_5151;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        next(),
        next(),
        next(),
        next()
    )
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("fixture directory");
    }
    fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn link(target: &str, path: &Path) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("fixture directory");
    }
    symlink(target, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn container_files(root: &Path, i: usize, c: &SimContainer) {
    let pid_dir = root.join("proc").join(c.pid.to_string());
    let cg = format!("/docker/{}", c.id);
    write(
        &pid_dir.join("cgroup"),
        &format!(
            "9:name=systemd:{cg}\n8:pids:{cg}\n7:blkio:{cg}\n6:freezer:{cg}\n5:devices:{cg}\n\
             4:memory:{cg}\n3:cpuset:{cg}\n2:cpuacct:{cg}\n1:cpu:{cg}\n0::{cg}\n"
        ),
    );
    let rx = 5_248_891 + i as u64 * 17;
    write(
        &pid_dir.join("net/dev"),
        &format!(
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n  \
             eth0: {rx}    3957    1    2    0     0          0         0   305489    2667    3    4    0     0       0          0\n"
        ),
    );
    write(&pid_dir.join("net/snmp"), &snmp_text(i));
    link(
        &format!("net:[{}]", 4_026_532_000u64 + i as u64),
        &pid_dir.join("ns/net"),
    );
    let eth0 = pid_dir.join("root/sys/class/net/eth0");
    write(&eth0.join("ifindex"), &format!("{}\n", 4 + i % 1000));
    write(
        &eth0.join("address"),
        &format!("02:42:ac:11:{:02x}:{:02x}\n", (i >> 8) & 0xff, i & 0xff),
    );
    let cgroup = root.join("sys/fs/cgroup");
    let dir = |controller: &str| cgroup.join(controller).join("docker").join(&c.id);
    let cpu = dir("cpu");
    write(&cpu.join("cpu.cfs_quota_us"), "50000\n");
    write(&cpu.join("cpu.cfs_period_us"), "100000\n");
    write(
        &dir("cpuacct").join("cpuacct.usage"),
        &format!("{}\n", 20_491_284 + i * 1000),
    );
    write(&dir("cpuset").join("cpuset.cpus"), "0-1\n");
    let memory = dir("memory");
    write(&memory.join("memory.usage_in_bytes"), "323584\n");
    write(
        &memory.join("memory.limit_in_bytes"),
        "9223372036854771712\n",
    );
    let blkio = dir("blkio");
    write(
        &blkio.join("blkio.throttle.io_service_bytes"),
        "254:0 Read 20975616\n254:0 Write 20971520\n254:0 Sync 41947136\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 41947136\nTotal 41947136\n",
    );
    write(
        &blkio.join("blkio.throttle.io_serviced"),
        "254:0 Read 21\n254:0 Write 20\n254:0 Sync 41\n254:0 Async 0\n254:0 Discard 0\n254:0 Total 41\nTotal 41\n",
    );
}

/// A `net/snmp` of Linux 6.x (IPv4 groups, 1.7 KB), its counters varied by container.
fn snmp_text(i: usize) -> String {
    format!(
        "Ip: Forwarding DefaultTTL InReceives InHdrErrors InAddrErrors ForwDatagrams InUnknownProtos InDiscards InDelivers OutRequests OutDiscards OutNoRoutes ReasmTimeout ReasmReqds ReasmOKs ReasmFails FragOKs FragFails FragCreates OutTransmits\n\
         Ip: 1 64 {a} 0 0 0 0 0 {a} {b} 0 0 0 0 0 0 0 0 0 {b}\n\
         Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps InTimestamps InTimestampReps InAddrMasks InAddrMaskReps OutMsgs OutErrors OutRateLimitGlobal OutRateLimitHost OutDestUnreachs OutTimeExcds OutParmProbs OutSrcQuenchs OutRedirects OutEchos OutEchoReps OutTimestamps OutTimestampReps OutAddrMasks OutAddrMaskReps\n\
         Icmp: 20 0 0 0 0 0 0 0 10 10 0 0 0 0 20 0 0 0 0 0 0 0 0 10 10 0 0 0 0\n\
         IcmpMsg: InType0 InType8 OutType0 OutType8\n\
         IcmpMsg: 10 10 10 10\n\
         Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
         Tcp: 1 200 120000 -1 {c} 3 0 0 1 {a} {b} 0 0 2 0\n\
         Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
         Udp: {c} 0 0 {c} 0 0 0 0 0\n\
         UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n\
         UdpLite: 0 0 0 0 0 0 0 0 0\n",
        a = 3957 + i,
        b = 2667 + i,
        c = 12 + i % 100
    )
}
