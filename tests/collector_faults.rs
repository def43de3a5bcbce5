//! Collector problems, with the real binary on loopback: a collector port where nothing listens
//! (every datagram draws an ICMP port unreachable, which the kernel hands to the agent's connected
//! UDP socket as a pending error), a collector that appears later, and SIGHUP swapping collectors
//! (tests/agent_host.rs covers an IPv4-to-IPv4 swap and a bad reload; here: to IPv6, to two
//! collectors and back to one).
//!
//! What must hold: a refusing collector costs no CPU (compared with an agent whose collector
//! listens, run at the same time), is logged once rather than per datagram, and loses no state:
//! the datagram and sample sequence numbers go on counting while nothing listens, and whoever
//! listens later receives the next ones. One refusing collector does not disturb another.

mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::sflow::{decode, walk, Collector};

/// How long an agent's CPU time is measured.
const WINDOW: Duration = Duration::from_secs(5);
/// Extra CPU a refusing collector may cost over the baseline in [`WINDOW`], in clock ticks
/// (USER_HZ = 100 per second): 0.1 s of CPU in 5 s. A busy loop on the socket's pending error
/// would burn the whole window (about 500).
const EXTRA_TICKS_MAX: u64 = 10;

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // `pid (comm) state ppid ...`: utime and stime are fields 14 and 15, the 12th and 13th after
    // the state, which follows the last `)`.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A UDP port on 127.0.0.1 where nothing listens (bound, read, and released).
fn dead_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (datagram sequence, host sample sequence) of a datagram holding the host sample.
fn sequences(datagram: &[u8]) -> (u32, u32) {
    let (sequence, samples) = walk(datagram);
    decode(datagram);
    let host = samples
        .iter()
        .find(|s| (s.class, s.index) == (2, 1))
        .expect("a host sample");
    (sequence, host.sequence)
}

fn config_with(collectors: &[std::net::SocketAddr]) -> String {
    let blocks: String = collectors
        .iter()
        .map(|c| format!("  collector {{ ip = {} udpport = {} }}\n", c.ip(), c.port()))
        .collect();
    format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  uuid = 01234567-89ab-cdef-0123-456789abcdef\n{blocks}}}\n"
    )
}

/// Warnings in the agent's log that mention collector port `port`.
fn warnings_about(agent: &Agent, port: u16) -> Vec<String> {
    agent
        .stderr()
        .lines()
        .filter(|l| l.starts_with("WARN") && l.contains(&format!(":{port}")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_refusing_collector_costs_no_cpu_and_loses_no_state() {
    // The baseline: the same agent, its collector listening, measured over the same window.
    let listening = Collector::bind();
    let baseline = Agent::start("cpu-base", &config_for(listening.addr(), ""), &[]);
    let port = dead_port();
    let dead = format!("127.0.0.1:{port}").parse().unwrap();
    let refused = Agent::start("cpu-refused", &config_for(dead, ""), &[]);
    listening
        .recv(Duration::from_secs(10))
        .expect("the baseline agent sends");
    // Both past their start-up; the refused one has had ICMP errors for a while.
    std::thread::sleep(Duration::from_secs(2));

    let (base_before, refused_before) = (cpu_ticks(baseline.pid()), cpu_ticks(refused.pid()));
    let began = Instant::now();
    std::thread::sleep(WINDOW);
    let base_ticks = cpu_ticks(baseline.pid()) - base_before;
    let refused_ticks = cpu_ticks(refused.pid()) - refused_before;
    let took = began.elapsed();
    support::containers::note(&format!(
        "collector refusing: {refused_ticks} ticks of CPU in {took:?}, baseline {base_ticks} ticks"
    ));
    assert!(
        refused_ticks <= base_ticks + EXTRA_TICKS_MAX,
        "a refusing collector cost {refused_ticks} ticks in {took:?} (baseline {base_ticks})\n{}",
        refused.stderr()
    );
    // No flood: at most one warning, though about 7 datagrams were refused by now. (That there
    // is exactly one is `a_refusing_collector_is_logged_once`, ignored until the agent logs it.)
    let warnings = warnings_about(&refused, port);
    assert!(
        warnings.len() <= 1,
        "warnings about the refusing collector: {warnings:?}"
    );

    // A collector appears on that port: the next datagrams reach it, sequences going on from
    // where they were (about one per second since the start), not from 1.
    let late = Collector::bind_on(&format!("127.0.0.1:{port}"));
    let datagram = late
        .recv(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("nothing reached the late collector\n{}", refused.stderr()));
    let (datagram_sequence, host_sequence) = sequences(&datagram);
    assert!(
        datagram_sequence >= 6 && host_sequence >= 6,
        "sequences restarted: datagram {datagram_sequence}, host sample {host_sequence}"
    );
    let next = late
        .recv(Duration::from_secs(5))
        .expect("the next datagram");
    assert_eq!(
        sequences(&next),
        (datagram_sequence + 1, host_sequence + 1),
        "the datagram after"
    );
    let log = refused.stderr();
    assert!(
        !log.contains("ERROR") && !log.contains("panic"),
        "unexpected errors:\n{log}"
    );
}

#[test]
fn a_refusing_collector_does_not_disturb_a_listening_one() {
    let good = Collector::bind();
    let port = dead_port();
    let dead = format!("127.0.0.1:{port}").parse().unwrap();
    // The refusing collector first, so that its error is met before every send to the good one.
    let agent = Agent::start("one-refused", &config_with(&[dead, good.addr()]), &[]);
    let first = good
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no datagram\n{}", agent.stderr()));
    let (mut last, _) = sequences(&first);
    for _ in 0..4 {
        let datagram = good
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("the good collector stopped receiving\n{}", agent.stderr()));
        let (sequence, _) = sequences(&datagram);
        assert_eq!(
            sequence,
            last + 1,
            "a datagram to the good collector went missing"
        );
        last = sequence;
    }
    assert!(
        warnings_about(&agent, port).len() <= 1,
        "{}",
        agent.stderr()
    );
}

/// The operator is told once, clearly, that a collector refuses (the ICMP error comes out of the
/// socket's `recv`, between sends that succeed).
#[test]
fn a_refusing_collector_is_logged_once() {
    let port = dead_port();
    let dead = format!("127.0.0.1:{port}").parse().unwrap();
    let agent = Agent::start("refused-log", &config_for(dead, ""), &[]);
    std::thread::sleep(Duration::from_secs(4));
    let warnings = warnings_about(&agent, port);
    assert_eq!(
        warnings.len(),
        1,
        "warnings: {warnings:?}\n{}",
        agent.stderr()
    );
    assert!(
        warnings[0].to_lowercase().contains("refused"),
        "the warning does not say the collector refuses: {}",
        warnings[0]
    );
}

#[test]
fn sighup_swaps_to_ipv6_then_to_two_collectors_then_back_to_one() {
    let v4 = Collector::bind();
    let v6 = Collector::bind_on("[::1]:0");
    let other = Collector::bind();
    let agent = Agent::start("hup-v6", &config_with(&[v4.addr()]), &[]);
    let first = v4
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no datagram\n{}", agent.stderr()));
    let (mut datagram_last, mut host_last) = sequences(&first);

    // To an IPv6 collector only.
    agent.rewrite_config(&config_with(&[v6.addr()]));
    agent.signal("HUP");
    let datagram = v6
        .recv(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("nothing at [::1]\n{}", agent.stderr()));
    let (d, h) = sequences(&datagram);
    assert!(
        d > datagram_last && h > host_last,
        "sequences restarted at the IPv6 collector: ({d}, {h}) after ({datagram_last}, {host_last})"
    );
    (datagram_last, host_last) = (d, h);
    // The IPv4 collector is no longer sent to (one datagram may have been on its way).
    let _ = v4.recv(Duration::from_millis(200));
    assert!(
        v4.recv(Duration::from_millis(2500)).is_none(),
        "the old IPv4 collector still receives"
    );

    // To two collectors, the IPv6 one kept: both get the same datagrams, sequences go on.
    agent.rewrite_config(&config_with(&[v6.addr(), other.addr()]));
    agent.signal("HUP");
    let at_other = other
        .recv(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("nothing at the added collector\n{}", agent.stderr()));
    let (d, h) = sequences(&at_other);
    assert!(
        d > datagram_last && h > host_last,
        "sequences after the second reload"
    );
    // The IPv6 collector got that same datagram (after the ones before the reload).
    let same = loop {
        let datagram = v6
            .recv(Duration::from_secs(5))
            .expect("the IPv6 collector stopped receiving");
        if sequences(&datagram).0 >= d {
            break datagram;
        }
    };
    assert_eq!(same, at_other, "the two collectors got different datagrams");
    for _ in 0..2 {
        let a = other.recv(Duration::from_secs(3)).expect("added collector");
        let b = v6.recv(Duration::from_secs(3)).expect("IPv6 collector");
        assert_eq!(a, b, "the two collectors got different datagrams");
    }

    // Back to one: the dropped collector falls silent, the kept one goes on without a gap.
    agent.rewrite_config(&config_with(&[other.addr()]));
    let before_reload = sequences(&other.recv(Duration::from_secs(3)).expect("before")).0;
    agent.signal("HUP");
    let mut last = before_reload;
    for _ in 0..3 {
        let (sequence, _) = sequences(&other.recv(Duration::from_secs(3)).expect("kept"));
        assert_eq!(sequence, last + 1, "the kept collector missed a datagram");
        last = sequence;
    }
    while let Some(datagram) = v6.recv(Duration::from_millis(100)) {
        // What was sent before the reload may still be queued here.
        assert!(
            sequences(&datagram).0 <= before_reload + 1,
            "the dropped collector still receives"
        );
    }
    assert!(
        v6.recv(Duration::from_millis(2500)).is_none(),
        "the dropped IPv6 collector still receives"
    );
    let log = agent.stderr();
    assert!(!log.contains("ERROR"), "unexpected errors:\n{log}");
}
