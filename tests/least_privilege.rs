//! Least privilege: what the agent opens, and what it needs to run as an ordinary user.
//!
//! - It listens on nothing: every socket it holds (found through /proc/PID/fd and the kernel's
//!   tables in /proc/PID/net/) is a UDP socket connected to a configured collector from an
//!   ephemeral port, a UNIX client connection to the engine (connected, no bound name), or a
//!   netlink socket for reading interface addresses. No TCP, raw or packet socket, no listening
//!   UNIX socket, no UDP socket on a fixed port.
//! - As `nobody` (uid and gid 65534, no supplementary groups, no_new_privs, via util-linux's
//!   `setpriv`), with the default /proc and /sys, it sends complete host samples.
//! - As `nobody`, an engine socket it may not open (0660, another group) costs one clear log line
//!   and nothing else: host samples keep going. Given the socket's group (`--regid`), the same
//!   user tracks containers.
//! - No `unsafe` outside src/sys.rs, the one small module of libc wrappers.
//!
//! The privilege tests need root (to drop it) and, for the engine, a private Docker engine
//! (support::docker); without root outside CI they skip, as the engine tests do.

mod support;

use std::collections::HashSet;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::agent::{binary, config_for, temp_dir, Agent};
use support::containers::uuid_of;
use support::fake_engine::{FakeEngine, Script};
use support::sflow::{decode, decoded_samples, walk, Collector, Decoded};

/// uid and gid of `nobody` on Debian.
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------------------------------------
// The agent's sockets, from the kernel's tables.

/// One socket of the agent, as the kernel's tables show it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Socket {
    /// A TCP socket (any state): the agent should have none.
    Tcp { local: SocketAddr, state: u8 },
    /// A UDP socket; `remote` is set when it is connected.
    Udp {
        local: SocketAddr,
        remote: Option<SocketAddr>,
    },
    /// A UNIX socket: `listening` when it accepts connections, `connected` when it is a
    /// connected stream, `path` its bound name (empty for a client).
    Unix {
        listening: bool,
        connected: bool,
        path: String,
    },
    /// A netlink socket (route dumps for the interface table).
    Netlink,
    /// A raw or packet socket: the agent should have none.
    Raw { table: &'static str },
}

/// The socket inodes among `pid`'s open descriptors.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return inodes;
    };
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
            {
                inodes.insert(inode.parse().unwrap());
            }
        }
    }
    inodes
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6), as /proc/net/{tcp,udp}[6] write
/// them: each 32-bit word in host (little-endian) order.
fn proc_net_address(text: &str) -> SocketAddr {
    let (addr, port) = text.split_once(':').unwrap();
    let port = u16::from_str_radix(port, 16).unwrap();
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(&addr[8 * i..8 * i + 8], 16).unwrap())
        .collect();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let ip: IpAddr = match bytes.len() {
        4 => <[u8; 4]>::try_from(&bytes[..]).unwrap().into(),
        16 => <[u8; 16]>::try_from(&bytes[..]).unwrap().into(),
        n => panic!("an address of {n} bytes: {text}"),
    };
    SocketAddr::new(ip, port)
}

/// Every socket `pid` holds, read from the tables of its own network namespace. A socket opened
/// and closed while the tables were read (the agent's short-lived netlink dumps) is left out:
/// only inodes seen before and after the tables were read count.
fn sockets_of(pid: u32) -> Vec<Socket> {
    let before = socket_inodes(pid);
    let table = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/net/{name}")).unwrap();
    let tables: Vec<(&'static str, String)> = [
        "tcp", "tcp6", "udp", "udp6", "unix", "netlink", "raw", "raw6", "packet",
    ]
    .into_iter()
    .map(|name| (name, table(name)))
    .collect();
    let after = socket_inodes(pid);
    let wanted: HashSet<u64> = before.intersection(&after).copied().collect();
    let mut found: Vec<(u64, Socket)> = Vec::new();
    for (name, text) in &tables {
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let inode_field = match *name {
                "tcp" | "tcp6" | "udp" | "udp6" | "raw" | "raw6" => 9,
                "unix" => 6,
                "netlink" => 9,
                "packet" => 8,
                _ => unreachable!(),
            };
            let Some(inode) = fields.get(inode_field).and_then(|f| f.parse::<u64>().ok()) else {
                continue;
            };
            if !wanted.contains(&inode) {
                continue;
            }
            let socket = match *name {
                "tcp" | "tcp6" => Socket::Tcp {
                    local: proc_net_address(fields[1]),
                    state: u8::from_str_radix(fields[3], 16).unwrap(),
                },
                "udp" | "udp6" => {
                    let remote = proc_net_address(fields[2]);
                    Socket::Udp {
                        local: proc_net_address(fields[1]),
                        // TCP_ESTABLISHED (1) marks a connected UDP socket.
                        remote: (fields[3] == "01").then_some(remote),
                    }
                }
                "unix" => {
                    let flags = u32::from_str_radix(fields[3], 16).unwrap();
                    Socket::Unix {
                        // __SO_ACCEPTCON
                        listening: flags & 0x10000 != 0,
                        // SS_CONNECTED
                        connected: fields[5] == "03",
                        path: fields.get(7).unwrap_or(&"").to_string(),
                    }
                }
                "netlink" => Socket::Netlink,
                other => Socket::Raw { table: other },
            };
            found.push((inode, socket));
        }
    }
    let known: HashSet<u64> = found.iter().map(|(inode, _)| *inode).collect();
    let unknown: Vec<&u64> = wanted.difference(&known).collect();
    assert!(unknown.is_empty(), "sockets in no table: {unknown:?}");
    found.into_iter().map(|(_, socket)| socket).collect()
}

/// The ephemeral port range the kernel picks from for a bind to port 0.
fn ephemeral_ports() -> std::ops::RangeInclusive<u16> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut ports = text.split_whitespace().map(|p| p.parse::<u16>().unwrap());
    ports.next().unwrap()..=ports.next().unwrap()
}

/// Checks the least-privilege socket rule for `pid` and returns (UDP, UNIX) counts: UDP only
/// connected to one of `collectors` from an ephemeral port (its local address is the route's
/// source address once connected), UNIX only connected clients, nothing else but netlink.
fn assert_listens_on_nothing(pid: u32, collectors: &[SocketAddr]) -> (usize, usize) {
    let sockets = sockets_of(pid);
    let (mut udp, mut unix) = (0, 0);
    for socket in &sockets {
        match socket {
            Socket::Udp { local, remote } => {
                udp += 1;
                assert!(
                    remote.is_some_and(|r| collectors.contains(&r)),
                    "a UDP socket not connected to a collector: {socket:?} (collectors {collectors:?})"
                );
                assert!(
                    ephemeral_ports().contains(&local.port()),
                    "a UDP socket on a fixed port: {socket:?}"
                );
            }
            Socket::Unix {
                listening,
                connected,
                path,
            } => {
                unix += 1;
                assert!(!listening, "a listening UNIX socket: {socket:?}");
                assert!(
                    *connected,
                    "a UNIX socket that is not a connected client: {socket:?}"
                );
                assert!(
                    path.is_empty(),
                    "a UNIX socket with a bound name: {socket:?}"
                );
            }
            Socket::Netlink => {}
            Socket::Tcp { .. } | Socket::Raw { .. } => panic!("the agent holds {socket:?}"),
        }
    }
    support::containers::note(&format!("agent {pid} sockets: {sockets:?}"));
    (udp, unix)
}

// ---------------------------------------------------------------------------------------------
// The agent as another user.

/// `setpriv` from util-linux, when installed.
fn setpriv() -> Option<PathBuf> {
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// True when the privilege tests can run (root and setpriv); otherwise says why (and fails in CI).
fn can_drop_privileges() -> bool {
    let why = if csflowd::sys::uid() != 0 {
        "not root"
    } else if setpriv().is_none() {
        "no setpriv (util-linux)"
    } else {
        return true;
    };
    assert!(
        !support::in_ci(),
        "CI: cannot run the privilege tests: {why}"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    false
}

/// The agent run as uid `nobody` and gid `gid`, no supplementary groups, no_new_privs.
struct Unprivileged {
    child: Child,
    dir: PathBuf,
    stderr: PathBuf,
}

impl Unprivileged {
    fn start(tag: &str, gid: u32, config: &str) -> Unprivileged {
        let dir = temp_dir(tag);
        // The directory and file are the test's (root's); nobody only reads them.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join("csflowd.conf");
        std::fs::write(&path, config).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stderr = dir.join("stderr.log");
        let child = Command::new(setpriv().unwrap())
            .arg(format!("--reuid={NOBODY}"))
            .arg(format!("--regid={gid}"))
            .args(["--clear-groups", "--no-new-privs", "--"])
            .arg(binary())
            .arg("-d")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Unprivileged { child, dir, stderr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The real and effective uid and gid of the running agent, from /proc.
    fn ids(&self) -> (String, String, String) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        };
        (field("Uid:"), field("Gid:"), field("Groups:"))
    }
}

impl Drop for Unprivileged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Samples.

/// Waits for the next datagram holding a sample of `class:index` (any index when `None`) that
/// satisfies `wanted`; returns its decoded records.
fn next_sample(
    collector: &Collector,
    timeout: Duration,
    wanted: impl Fn(u32, u32, &[Decoded]) -> bool,
) -> Option<Vec<Decoded>> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let datagram = collector.recv(left)?;
        walk(&datagram);
        for (class, index, _, records) in decoded_samples(&decode(&datagram)) {
            if wanted(class, index, &records) {
                return Some(records);
            }
        }
    }
}

/// virt_node.num_domains of a host sample's records.
fn num_domains(records: &[Decoded]) -> Option<u32> {
    records.iter().find_map(|r| match r {
        Decoded::VirtNode(node) => Some(node.num_domains),
        _ => None,
    })
}

fn meminfo_bytes(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn no_unsafe_outside_the_libc_wrappers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    assert!(
        lib.contains("#![deny(unsafe_code)]"),
        "src/lib.rs must deny unsafe code"
    );
    let mut pending = vec![src.clone()];
    let mut offenders = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path == src.join("sys.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let denies = code.contains("deny(unsafe_code)")
                    || code.contains("forbid(unsafe_code)")
                    || code.contains("deny(clippy::undocumented_unsafe_blocks)");
                if (code.contains("unsafe") && !denies) || code.contains("allow(unsafe_code)") {
                    offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unsafe outside src/sys.rs:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_agent_listens_on_no_socket() {
    // Two collectors (IPv4 and IPv6) and an engine with one container, so that every kind of
    // socket the agent uses is open when it is looked at: the collector sockets and the events
    // stream (a UNIX connection kept open).
    let v4 = Collector::bind();
    let v6 = Collector::bind_on("[::1]:0");
    let id = "5e1f0000aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55aa55";
    let engine =
        FakeEngine::start(Script::docker().container(id, "least", "running", std::process::id()));
    let config = format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  collector {{ ip = 127.0.0.1 udpport = {} }}\n  collector {{ ip = ::1 udpport = {} }}\n  docker {{ socket = {} }}\n}}\n",
        v4.addr().port(),
        v6.addr().port(),
        engine.socket().display()
    );
    let agent = Agent::start("sockets", &config, &[]);
    let uuid = uuid_of(id);
    let tracked = next_sample(&v4, Duration::from_secs(10), |class, _, records| {
        class == 3
            && records
                .iter()
                .any(|r| matches!(r, Decoded::HostDescr(d) if *d.uuid.as_bytes() == uuid))
    });
    assert!(
        tracked.is_some(),
        "the container was not reported\n{}",
        agent.stderr()
    );
    assert!(engine.event_streams() >= 1, "no events stream open");

    let (udp, unix) = assert_listens_on_nothing(agent.pid(), &[v4.addr(), v6.addr()]);
    assert_eq!(udp, 2, "one UDP socket per collector");
    assert!(unix >= 1, "the events stream's connection");
}

#[test]
fn as_nobody_the_agent_sends_complete_host_samples() {
    if !can_drop_privileges() {
        return;
    }
    let collector = Collector::bind();
    let agent = Unprivileged::start("nobody-host", NOBODY, &config_for(collector.addr(), ""));
    let records = next_sample(&collector, Duration::from_secs(10), |class, index, _| {
        (class, index) == (2, 1)
    })
    .unwrap_or_else(|| panic!("no host sample from nobody\n{}", agent.stderr()));
    let (uid, gid, groups) = agent.ids();
    assert_eq!(uid, format!("{NOBODY} {NOBODY}"), "real and effective uid");
    assert_eq!(gid, format!("{NOBODY} {NOBODY}"), "real and effective gid");
    assert_eq!(groups, "", "supplementary groups");

    // What root would read is readable by nobody too: /proc and /sys are world-readable.
    let mut seen = 0;
    for record in &records {
        match record {
            Decoded::HostMemory(m) => {
                seen += 1;
                assert_eq!(m.mem_total, meminfo_bytes("MemTotal"), "mem_total");
                assert_ne!(m.mem_free, u64::MAX, "mem_free unknown");
            }
            Decoded::HostCpu(c) => {
                seen += 1;
                assert!(c.cpu_num > 0 && c.cpu_num != u32::MAX, "cpu_num");
                assert!(c.uptime > 0 && c.uptime != u32::MAX, "uptime");
                assert!(c.proc_total > 0 && c.proc_total != u32::MAX, "proc_total");
            }
            Decoded::HostDiskIo(d) => {
                seen += 1;
                assert!(d.disk_total > 0 && d.disk_total != u64::MAX, "disk_total");
            }
            Decoded::HostNetIo(n) => {
                seen += 1;
                assert_ne!(n.bytes_in, u64::MAX, "bytes_in unknown");
            }
            Decoded::HostDescr(h) => {
                seen += 1;
                assert!(!h.hostname.is_empty(), "hostname");
            }
            _ => {}
        }
    }
    assert_eq!(seen, 5, "records read: {records:?}");
    let (udp, unix) = assert_listens_on_nothing(agent.pid(), &[collector.addr()]);
    assert_eq!((udp, unix), (1, 0));
    let log = agent.stderr();
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "warnings as nobody:\n{log}"
    );
}

#[test]
fn as_nobody_the_engine_socket_needs_its_group() {
    if !can_drop_privileges() {
        return;
    }
    let Some(docker) = support::docker() else {
        return;
    };
    let socket = docker.socket_path().to_path_buf();
    // The socket as a packaged engine leaves it: owned by root, read-write for its group only.
    // dockerd gives it the `docker` group when that exists, else root's: then a group of its
    // own, so that the test never hands nobody gid 0.
    let mut gid = std::fs::metadata(&socket).unwrap().gid();
    if gid == 0 {
        gid = 4711;
        std::os::unix::fs::chown(&socket, Some(0), Some(gid)).unwrap();
    }
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
    let id = docker.run(&["--name", "csf-least"], &["sleep", "300"]);
    let uuid = uuid_of(&id);
    let is_ours = |class: u32, records: &[Decoded]| {
        class == 3
            && records
                .iter()
                .any(|r| matches!(r, Decoded::HostDescr(d) if *d.uuid.as_bytes() == uuid))
    };
    let config = |collector: &Collector| {
        config_for(
            collector.addr(),
            &format!("  docker {{ socket = {} }}", socket.display()),
        )
    };

    // Without the group: one clear permission error, host samples go on, no container.
    let denied_collector = Collector::bind();
    let denied = Unprivileged::start("nobody-denied", NOBODY, &config(&denied_collector));
    let began = Instant::now();
    let mut host_samples = 0;
    while began.elapsed() < Duration::from_secs(6) {
        let Some(records) = next_sample(
            &denied_collector,
            Duration::from_secs(3),
            |class, _, records| {
                assert!(
                    !is_ours(class, records),
                    "nobody without the group tracked the container"
                );
                class == 2
            },
        ) else {
            panic!(
                "host samples stopped without the socket's group\n{}",
                denied.stderr()
            );
        };
        assert_eq!(
            num_domains(&records),
            Some(0),
            "num_domains without the engine"
        );
        host_samples += 1;
    }
    assert!(host_samples >= 4, "{host_samples} host samples in 6 s");
    let log = denied.stderr();
    let denials: Vec<&str> = log
        .lines()
        .filter(|l| l.to_lowercase().contains("permission denied"))
        .collect();
    assert_eq!(
        denials.len(),
        1,
        "permission errors logged: {denials:?}\n{log}"
    );
    assert!(
        denials[0].contains(&socket.display().to_string()),
        "the error names the socket: {}",
        denials[0]
    );
    assert!(!log.contains("ERROR"), "an error-level line:\n{log}");
    support::containers::note(&format!("as nobody without the group: {}", denials[0]));

    // With the socket's group: the same user tracks the container.
    let allowed_collector = Collector::bind();
    let allowed = Unprivileged::start("nobody-group", gid, &config(&allowed_collector));
    let records = next_sample(
        &allowed_collector,
        Duration::from_secs(15),
        |class, _, records| is_ours(class, records),
    )
    .unwrap_or_else(|| {
        panic!(
            "nobody with gid {gid} did not report the container\n{}",
            allowed.stderr()
        )
    });
    let (_, agent_gid, groups) = allowed.ids();
    assert_eq!(agent_gid, format!("{gid} {gid}"));
    assert_eq!(groups, "");
    let state = records.iter().find_map(|r| match r {
        Decoded::VirtCpu(cpu) => Some(format!("{:?}", cpu.state)),
        _ => None,
    });
    assert_eq!(state.as_deref(), Some("Running"), "{records:?}");
    // Which container counters an unprivileged agent can read, for the record.
    let unknown: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let text = format!("{r:?}");
            (text.contains("18446744073709551615") || text.contains("4294967295"))
                .then(|| text.split('(').next().unwrap().to_owned())
        })
        .collect();
    support::containers::note(&format!(
        "as nobody with the socket's group: container records with unknown counters: {unknown:?}"
    ));
    let (udp, unix) = assert_listens_on_nothing(allowed.pid(), &[allowed_collector.addr()]);
    assert_eq!(udp, 1);
    assert!(unix >= 1, "the events stream's connection");
}

/// `--print` writes to whatever standard output the agent was given: a supervisor's socket
/// (systemd's `StandardOutput=journal` is a UNIX socket) or a pipe created by another user (root's
/// shell piping into an agent run as nobody).
/// The printer cannot re-open those through `/proc/self/fd/1` (ENXIO, EACCES), so it shares
/// standard output and writes only what poll says fits.
#[test]
fn print_works_when_standard_output_is_a_socket() {
    use std::io::Read as _;
    let collector = Collector::bind();
    let dir = temp_dir("print-socket");
    let path = dir.join("csflowd.conf");
    std::fs::write(&path, config_for(collector.addr(), "")).unwrap();
    let (mut reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut child = Command::new(binary())
        .arg("-d")
        .arg("-f")
        .arg(&path)
        .arg("--print")
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(writer)))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut line = [0u8; 64];
    let read = reader.read(&mut line);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let n = read.unwrap_or_else(|e| panic!("nothing printed ({e}):\n{stderr}"));
    assert!(n > 0, "the agent closed its standard output:\n{stderr}");
    assert!(
        line[..n].starts_with(b"{\""),
        "{:?}",
        String::from_utf8_lossy(&line[..n])
    );
}
