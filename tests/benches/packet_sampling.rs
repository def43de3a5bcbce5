//! Packet sampling: what a tap costs the agent and the traffic.
//!
//! A veth pair into a namespace the benchmark makes (IPv6 ULA, a quiet link), a UDP sender in this
//! process on the host end and a receiver in the namespace, the static agent tapping the host end,
//! and a loopback collector in a thread of its own that stamps nothing and counts: flow samples,
//! their sequence gaps and the largest `drops`, and the `uptime` of every datagram carrying the
//! host's counter sample.
//!
//! - **CPU per sampled packet**: `sampling = 1` and 20,000 packets a second for 10 s (bursts of 200
//!   every 10 ms), so 20,000 samples a second; the agent's CPU (`schedstat`) over the window divided
//!   by the flow samples received in it, then the same less a window of the idle agent (its host
//!   and port polls). Five repeats, each with two collectors in turn: one blocked in `recv` (woken
//!   by every datagram, a wake-up the agent's `sendto` pays for on loopback) and one that drains
//!   its socket every 10 ms (wakes no one, as a collector on another machine would not; the
//!   loopback delivery still runs in the agent's `sendto`). With `CSFLOWD_BASELINE_BIN` (another
//!   build, say main's) both binaries alternate in the same run. Loss: samples received against
//!   packets sent, sequence gaps, and the kernel's `drops`.
//! - **Counter-poll lateness** in the same windows (polling 1 s): polls fall on whole seconds of the
//!   agent's uptime, so the `uptime` of the datagram holding the host sample, modulo 1000 ms, is how
//!   late the poll went out (its reading and encoding included).
//! - **RSS with 100 tapped veths**: 100 pairs (one namespace holds every peer), 100 `pcap { dev }`
//!   blocks at 1 in 400, some traffic on each, `VmHWM` after 5 s.
//! - **What the tap costs the traffic**: a sender blasting 64-byte UDP payloads over the veth for
//!   2 s, with no agent, with a default tap at 1 in 400, and with an `egress = off` tap, in turn,
//!   five rounds: packets/s counted by the receiver, and the sender thread's CPU per packet sent
//!   (the veth's delivery, and the clone a tap costs, run in the sender's context).

#[path = "common.rs"]
mod common;
#[allow(unused_imports)]
#[path = "../support/mod.rs"]
mod support;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{median, report, section, spread, Verdict};
use support::netns::VethNs;

/// What the collector thread saw.
#[derive(Default)]
struct Seen {
    flow_samples: AtomicU64,
    gaps: AtomicU64,
    max_drops: AtomicU64,
    datagrams: AtomicU64,
    /// `uptime` (ms) of each datagram holding the host sample.
    host_uptimes: Mutex<Vec<u32>>,
}

fn be32(d: &[u8], at: usize) -> u32 {
    d.get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap()))
}

struct Collector {
    addr: std::net::SocketAddr,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How the collector thread reads its socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reading {
    /// Blocked in `recv`: each datagram wakes it, and on loopback the agent's `sendto` pays for
    /// that wake-up (and is often preempted by the woken thread on this 2-vCPU VM).
    Woken,
    /// Drains the socket every 10 ms without waiting: the agent's `sendto` still delivers into
    /// the socket (the loopback receive path), but wakes no one, as a remote collector would not.
    Timed,
}

impl Collector {
    fn start() -> Collector {
        Collector::start_reading(Reading::Woken)
    }

    fn start_reading(reading: Reading) -> Collector {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_rcvbuf(&socket, 8 << 20);
        match reading {
            Reading::Woken => socket
                .set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap(),
            Reading::Timed => socket.set_nonblocking(true).unwrap(),
        }
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                let mut last_seq: Option<u32> = None;
                while !stop.load(Ordering::Relaxed) {
                    let Ok(n) = socket.recv(&mut buf) else {
                        if reading == Reading::Timed {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        continue;
                    };
                    let d = &buf[..n];
                    seen.datagrams.fetch_add(1, Ordering::Relaxed);
                    let uptime = be32(d, 20);
                    let mut off = 28;
                    for _ in 0..be32(d, 24) {
                        let (tag, len) = (be32(d, off), be32(d, off + 4) as usize);
                        let body = off + 8;
                        if tag == 3 {
                            seen.flow_samples.fetch_add(1, Ordering::Relaxed);
                            let seq = be32(d, body);
                            if let Some(l) = last_seq {
                                if seq != l.wrapping_add(1) {
                                    seen.gaps.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            last_seq = Some(seq);
                            seen.max_drops
                                .fetch_max(u64::from(be32(d, body + 20)), Ordering::Relaxed);
                        } else if tag == 4 && be32(d, body + 4) == 2 && be32(d, body + 8) == 1 {
                            seen.host_uptimes.lock().unwrap().push(uptime);
                        }
                        off = body + len;
                    }
                }
            })
        };
        Collector {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn set_rcvbuf(socket: &UdpSocket, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: one c_int option value that outlives the call.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const i32).cast(),
            4,
        );
    }
}

fn start_agent(bin: &std::path::Path, dir: &std::path::Path, conf: &str) -> Child {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("csflowd.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-d")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn config(collector: std::net::SocketAddr, pcap: &str) -> String {
    format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  collector {{ ip = {} udpport = {} }}\n{pcap}\n}}\n",
        collector.ip(),
        collector.port()
    )
}

/// Sends `pps` packets a second for `secs` seconds (bursts every 10 ms); returns the count sent.
fn paced(sender: &UdpSocket, to: std::net::SocketAddr, pps: u64, secs: u64) -> u64 {
    let payload = [0x5au8; 64];
    let per_tick = pps / 100;
    let start = Instant::now();
    let mut sent = 0;
    for tick in 0..secs * 100 {
        for _ in 0..per_tick {
            if sender.send_to(&payload, to).is_ok() {
                sent += 1;
            }
        }
        let next = start + Duration::from_millis(10 * (tick + 1));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    sent
}

/// Drains `socket` in a thread until `stop`; returns the count received.
fn drain(socket: UdpSocket, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        set_rcvbuf(&socket, 8 << 20);
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            if socket.recv(&mut buf).is_ok() {
                n += 1;
            }
        }
        n
    })
}

fn main() {
    let bin = common::require_static_binary();
    let Some(veth) = VethNs::create("bn", 40) else {
        eprintln!("packet sampling benchmarks need root (netns, veth)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("csflowd-bench-pcap-{}", std::process::id()));
    cpu_and_lateness(&bin, &dir, &veth);
    traffic_cost(&bin, &dir, &veth);
    tcp_traffic_cost(&bin, &dir, &veth);
    drop(veth);
    rss_with_100_taps(&bin, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What one window of 20,000 samples/s gave.
struct CpuRun {
    per_sample: f64,
    net_per_sample: f64,
    late: Vec<f64>,
    sent: u64,
    samples: u64,
    gaps: u64,
    drops: u64,
}

fn cpu_run(
    bin: &std::path::Path,
    dir: &std::path::Path,
    veth: &VethNs,
    reading: Reading,
) -> CpuRun {
    const PPS: u64 = 20_000;
    const SECS: u64 = 10;
    let collector = Collector::start_reading(reading);
    let agent = start_agent(
        bin,
        dir,
        &config(
            collector.addr,
            &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
        ),
    );
    let pid = agent.id();
    let sender = veth.host_socket();
    let receiver = veth.peer_socket();
    let to = receiver.local_addr().unwrap();
    let stop_rx = Arc::new(AtomicBool::new(false));
    let rx = drain(receiver, stop_rx.clone());

    // The idle agent: host and port polls only.
    let idle_cpu0 = common::process_cpu_ns(pid).unwrap();
    let idle_t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let idle_ns_per_s =
        (common::process_cpu_ns(pid).unwrap() - idle_cpu0) as f64 / idle_t0.elapsed().as_secs_f64();

    let uptimes_before = collector.seen.host_uptimes.lock().unwrap().len();
    let samples0 = collector.seen.flow_samples.load(Ordering::Relaxed);
    let cpu0 = common::process_cpu_ns(pid).unwrap();
    let t0 = Instant::now();
    let sent = paced(&sender, to, PPS, SECS);
    // The samples of the last burst reach the collector.
    std::thread::sleep(Duration::from_millis(300));
    let cpu = common::process_cpu_ns(pid).unwrap() - cpu0;
    let secs = t0.elapsed().as_secs_f64();
    let samples = collector.seen.flow_samples.load(Ordering::Relaxed) - samples0;
    stop_rx.store(true, Ordering::Relaxed);
    let _ = rx.join();
    let uptimes = collector.seen.host_uptimes.lock().unwrap().clone();
    let mut late: Vec<f64> = uptimes[uptimes_before..]
        .iter()
        .map(|u| f64::from(u % 1000))
        .collect();
    late.sort_by(|a, b| a.partial_cmp(b).unwrap());
    stop(agent);
    CpuRun {
        per_sample: cpu as f64 / samples as f64 / 1000.0,
        net_per_sample: (cpu as f64 - idle_ns_per_s * secs) / samples as f64 / 1000.0,
        late,
        sent,
        samples,
        gaps: collector.seen.gaps.load(Ordering::Relaxed),
        drops: collector.seen.max_drops.load(Ordering::Relaxed),
    }
}

/// The binaries measured: this tree's, and `CSFLOWD_BASELINE_BIN` (another build, say main's)
/// when set, alternated in one run.
fn binaries(bin: &std::path::Path) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut bins = vec![("this build", bin.to_path_buf())];
    if let Some(base) = std::env::var_os("CSFLOWD_BASELINE_BIN") {
        bins.push(("baseline", base.into()));
    }
    bins
}

fn cpu_and_lateness(bin: &std::path::Path, dir: &std::path::Path, veth: &VethNs) {
    section("CPU per sampled packet at 20,000 samples/s, loss, counter-poll lateness");
    let bins = binaries(bin);
    let readings = [Reading::Woken, Reading::Timed];
    // (binary, reading) -> µs per sample, and the same net of the idle agent.
    let mut per_sample = vec![vec![Vec::new(); readings.len()]; bins.len()];
    let mut net = per_sample.clone();
    let (mut lost, mut gaps, mut drops, mut sent_all, mut got_all) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut late_all: Vec<f64> = Vec::new();
    for repeat in 0..5 {
        for (b, (label, path)) in bins.iter().enumerate() {
            for (r, &reading) in readings.iter().enumerate() {
                let run = cpu_run(path, &dir.join(format!("cpu{repeat}{b}{r}")), veth, reading);
                eprintln!(
                    "    repeat {repeat}, {label}, collector {reading:?}: {} sent, {} samples, \
                     {:.2} µs/sample ({:.2} net of idle), host polls late by {:?} ms",
                    run.sent, run.samples, run.per_sample, run.net_per_sample, run.late
                );
                per_sample[b][r].push(run.per_sample);
                net[b][r].push(run.net_per_sample);
                if b == 0 {
                    late_all.extend(&run.late);
                    sent_all += run.sent;
                    got_all += run.samples;
                    lost += run.sent.saturating_sub(run.samples);
                    gaps += run.gaps;
                    drops = drops.max(run.drops);
                }
            }
        }
    }
    for (b, (label, _)) in bins.iter().enumerate() {
        for (r, reading) in readings.iter().enumerate() {
            let what = match reading {
                Reading::Woken => "collector woken per datagram",
                Reading::Timed => "collector draining every 10 ms",
            };
            let v = &per_sample[b][r];
            report(
                &format!(
                    "agent CPU per sampled packet, 20,000 samples/s, all included ({label}, {what})"
                ),
                &format!(
                    "{:.2} µs ({}); {:.2} net of the idle agent",
                    median(v),
                    spread(v, 2),
                    median(&net[b][r])
                ),
                "<= 2 µs",
                Verdict::of(median(v) <= 2.0),
            );
        }
    }
    report(
        "samples lost in user space at 20,000/s (sent - received; sequence gaps; kernel drops)",
        &format!("{lost} of {sent_all} ({got_all} received); {gaps}; {drops}"),
        "0",
        Verdict::of(lost == 0 && gaps == 0 && drops == 0),
    );
    late_all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p99 = late_all
        .get(((late_all.len() as f64 * 0.99).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or(f64::NAN);
    report(
        "counter-poll lateness p99 while sampling 20,000/s (host sample's uptime mod 1 s)",
        &format!(
            "{p99:.0} ms over {} polls (median {:.0} ms, max {:.0} ms)",
            late_all.len(),
            median(&late_all),
            late_all.last().copied().unwrap_or(f64::NAN)
        ),
        "<= 10 ms",
        Verdict::of(p99 <= 10.0),
    );
}

/// CPU time of the calling thread, ns.
fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec the call writes.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The three ways a sender runs in [`traffic_cost`] and [`tcp_traffic_cost`].
const TAP_KINDS: [(&str, Option<&str>); 3] = [
    ("no agent", None),
    ("default tap (both directions)", Some("")),
    ("egress = off tap (received only)", Some(" egress = off")),
];

/// Runs `send` (2 s; returns a rate and a cost) five rounds, in each with no agent, a default
/// tap and an `egress = off` tap at 1 in 400 in turn, and reports the medians of both figures
/// against the no-agent run's.
fn compare_taps(
    bin: &std::path::Path,
    dir: &std::path::Path,
    veth: &VethNs,
    what: &str,
    units: (&str, &str, usize),
    send: impl Fn() -> (f64, f64),
) {
    let (rate_unit, cost_unit, rate_digits) = units;
    let mut rate = vec![Vec::new(); TAP_KINDS.len()];
    let mut cost = vec![Vec::new(); TAP_KINDS.len()];
    for round in 0..5 {
        for (k, (label, extra)) in TAP_KINDS.iter().enumerate() {
            let running = extra.map(|extra| {
                let collector = Collector::start();
                let agent = start_agent(
                    bin,
                    &dir.join(format!("cost{round}{k}")),
                    &config(
                        collector.addr,
                        &format!("  pcap {{ dev = {} sampling = 400{extra} }}", veth.host),
                    ),
                );
                (collector, agent)
            });
            let (r, c) = send();
            if let Some((_collector, agent)) = running {
                stop(agent);
            }
            eprintln!(
                "    round {round}, {label}: {r:.rate_digits$} {rate_unit}, {c:.0} {cost_unit}"
            );
            rate[k].push(r);
            cost[k].push(c);
        }
    }
    for (k, (label, _)) in TAP_KINDS.iter().enumerate() {
        let vs = |v: &Vec<f64>, base: &Vec<f64>| {
            if k == 0 {
                String::new()
            } else {
                format!(", {:+.1} %", (median(v) / median(base) - 1.0) * 100.0)
            }
        };
        report(
            &format!("{what}, {label}: {rate_unit}"),
            &format!(
                "{:.rate_digits$} ({}){}",
                median(&rate[k]),
                spread(&rate[k], rate_digits),
                vs(&rate[k], &rate[0])
            ),
            "within noise",
            Verdict::Info,
        );
        report(
            &format!("  the same, {cost_unit}"),
            &format!(
                "{:.0} ({}){}",
                median(&cost[k]),
                spread(&cost[k], 0),
                vs(&cost[k], &cost[0])
            ),
            "within noise",
            Verdict::Info,
        );
    }
}

fn traffic_cost(bin: &std::path::Path, dir: &std::path::Path, veth: &VethNs) {
    section("what a tap costs the traffic: no agent, a default tap, an egress = off tap");
    // Packets/s received, and the sender thread's CPU per packet sent: a veth delivers in the
    // sender's context (its softirq runs as the send returns), so the clone an AF_PACKET socket
    // costs lands there; CPU per packet is steadier than packets/s on a shared 2-vCPU machine.
    let blast = || -> (f64, f64) {
        let sender = veth.host_socket();
        let receiver = veth.peer_socket();
        let to = receiver.local_addr().unwrap();
        let stop_rx = Arc::new(AtomicBool::new(false));
        let rx = drain(receiver, stop_rx.clone());
        let payload = [0x5au8; 64];
        let mut sent = 0u64;
        let cpu0 = thread_cpu_ns();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(2) {
            for _ in 0..256 {
                if sender.send_to(&payload, to).is_ok() {
                    sent += 1;
                }
            }
        }
        let cpu = thread_cpu_ns() - cpu0;
        let elapsed = t0.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(100));
        stop_rx.store(true, Ordering::Relaxed);
        (
            rx.join().unwrap() as f64 / elapsed,
            cpu as f64 / sent.max(1) as f64,
        )
    };
    compare_taps(
        bin,
        dir,
        veth,
        "sender over the veth (64-byte UDP, 1 in 400)",
        ("packets/s", "ns of sender CPU per packet sent", 0),
        blast,
    );
}

/// The same three ways, with one TCP stream instead of small datagrams: the kernel hands the
/// veth 64 KiB GSO packets, so a tap's per-packet clone and filter are spread over ~45 segments'
/// worth of bytes (what bulk transfers between containers look like).
fn tcp_traffic_cost(bin: &std::path::Path, dir: &std::path::Path, veth: &VethNs) {
    use std::io::{Read, Write};
    section("what a tap costs one TCP stream: no agent, a default tap, an egress = off tap");
    let stream = || -> (f64, f64) {
        let listener = veth.peer_listener();
        let to = listener.local_addr().unwrap();
        let rx = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let mut n = 0u64;
            while let Ok(k) = conn.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            n
        });
        let mut tx = std::net::TcpStream::connect(to).unwrap();
        let chunk = vec![0x5au8; 1 << 16];
        let cpu0 = thread_cpu_ns();
        let t0 = Instant::now();
        let mut sent = 0u64;
        while t0.elapsed() < Duration::from_secs(2) {
            tx.write_all(&chunk).unwrap();
            sent += chunk.len() as u64;
        }
        let cpu = thread_cpu_ns() - cpu0;
        let elapsed = t0.elapsed().as_secs_f64();
        drop(tx);
        let received = rx.join().unwrap();
        (
            received as f64 * 8.0 / elapsed / 1e9,
            cpu as f64 / (sent.max(1) as f64 / (1 << 20) as f64) / 1e3,
        )
    };
    compare_taps(
        bin,
        dir,
        veth,
        "one TCP stream over the veth (1 in 400)",
        ("Gbit/s", "µs of sender CPU per MiB sent", 2),
        stream,
    );
}

fn rss_with_100_taps(bin: &std::path::Path, dir: &std::path::Path) {
    section("peak RSS with 100 tapped veths");
    let id = std::process::id() % 100_000;
    let ns = format!("csfl-bench100-{id}");
    let batch = dir.join("links.batch");
    std::fs::create_dir_all(dir).unwrap();
    let mut text = format!("netns add {ns}\n");
    for i in 0..100 {
        text.push_str(&format!(
            "link add cft{i}x{id} type veth peer name cft{i}y{id}\nlink set cft{i}y{id} netns {ns}\nlink set cft{i}x{id} addrgenmode none\nlink set cft{i}x{id} up\n"
        ));
    }
    std::fs::write(&batch, text).unwrap();
    let ok = Command::new("ip")
        .arg("-batch")
        .arg(&batch)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        let collector = Collector::start();
        let pcap: String = (0..100)
            .map(|i| format!("  pcap {{ dev = cft{i}x{id} sampling = 400 }}\n"))
            .collect();
        let agent = start_agent(bin, &dir.join("rss"), &config(collector.addr, &pcap));
        std::thread::sleep(Duration::from_secs(4));
        let hwm = common::status_kib(agent.id(), "VmHWM").unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{}/fd", agent.id()))
            .map(|d| d.count())
            .unwrap_or(0);
        let log = std::fs::read_to_string(dir.join("rss/stderr.log")).unwrap_or_default();
        let taps = log.matches("sampling 1 in 400").count();
        stop(agent);
        report(
            "peak RSS (VmHWM), 100 tapped veths",
            &format!(
                "{} ({taps} taps open, {fds} descriptors)",
                common::mib_of_kib(hwm as f64)
            ),
            "<= 2 MiB",
            Verdict::of(hwm <= 2048 && taps == 100),
        );
    } else {
        eprintln!("    could not create the veths");
    }
    let mut cleanup = String::new();
    for i in 0..100 {
        cleanup.push_str(&format!("link del cft{i}x{id}\n"));
    }
    cleanup.push_str(&format!("netns del {ns}\n"));
    std::fs::write(&batch, cleanup).unwrap();
    let _ = Command::new("ip")
        .arg("-force")
        .arg("-batch")
        .arg(&batch)
        .status();
}
