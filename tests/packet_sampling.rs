//! Packet sampling on a real veth: `pcap { dev }` with real traffic into a namespace the test
//! makes, read back from the agent's UDP output with the independent decoder and by hand.
//!
//! Needs root (netns, veth, CAP_NET_RAW); outside CI a test without it skips, saying why.

mod support;

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use flowparser_sflow::counter_records::CounterRecord as Counter;
use flowparser_sflow::flow_records::FlowRecord as Flow;
use flowparser_sflow::SflowSample;

use support::agent::{config_for, Agent};
use support::netns::{decode_marked_frame, marked_payload, VethNs};
use support::sflow::{decode, walk_flows, Collector};

const MARK: &[u8; 12] = b"CSFLOWD-TEST";
const PAYLOAD: usize = 200;
const INTERNAL: u32 = 0x3FFF_FFFF;

fn payload(direction: u8, seq: u32) -> Vec<u8> {
    marked_payload(MARK, PAYLOAD, direction, seq)
}

/// What a sampled header holds: (src, dst, direction, seq).
fn decode_frame(h: &[u8]) -> (Ipv6Addr, Ipv6Addr, u8, u32) {
    decode_marked_frame(h, MARK, PAYLOAD)
}

#[test]
fn a_tapped_veth_sends_flow_samples_of_the_real_packets_and_its_port_counters() {
    let Some(veth) = VethNs::create("ps", 1) else {
        return;
    };
    let if_index = veth.host_if_index();
    let collector = Collector::bind();
    let rate = 10u32;
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = {rate} }}", veth.host),
    );
    let agent = Agent::start("pcap", &config, &[]);
    // Read the collector from the start, in the background: one datagram per wake-up at this
    // rate, more than a socket buffer holds if left unread.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let socket = collector.socket.try_clone().unwrap();
        std::thread::spawn(move || {
            let c = Collector { socket };
            let mut all: Vec<(Instant, Vec<u8>)> = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(d) = c.recv(Duration::from_millis(100)) {
                    all.push((Instant::now(), d));
                }
            }
            all
        })
    };
    agent.wait_log(&format!(
        "pcap {}: ifIndex {if_index}, sampling 1 in {rate}, headerBytes 128",
        veth.host
    ));

    let host = veth.host_socket();
    let peer = veth.peer_socket();
    let host_port = host.local_addr().unwrap();
    let peer_port = peer.local_addr().unwrap();
    let before = veth.host_packets();
    let per_direction = 1000u32;
    // Each packet is received before the next is sent: none is lost to a full socket buffer.
    let mut buf = [0u8; 512];
    for s in [&host, &peer] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    for seq in 0..per_direction {
        host.send_to(&payload(b'>', seq), peer_port).unwrap();
        assert_eq!(peer.recv(&mut buf).unwrap(), PAYLOAD);
        peer.send_to(&payload(b'<', seq), host_port).unwrap();
        assert_eq!(host.recv(&mut buf).unwrap(), PAYLOAD);
    }
    let after = veth.host_packets();
    let rx_bytes_after = veth.host_stat("rx_bytes");
    let tx_bytes_after = veth.host_stat("tx_bytes");
    let rx_packets_after = veth.host_stat("rx_packets");
    let tx_packets_after = veth.host_stat("tx_packets");
    let sent = after - before;
    // A nearly quiet link: the traffic, and perhaps a late MLD report of the link's setup.
    assert!(
        (2 * u64::from(per_direction)..=2 * u64::from(per_direction) + 5).contains(&sent),
        "{sent} packets on the link"
    );

    // Port counters: wait for two counter samples of the port after the traffic, then compare
    // the last with sysfs (the link is quiet).
    let quiet_since = Instant::now();
    std::thread::sleep(Duration::from_millis(3500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let datagrams = reader.join().unwrap();
    // Stray frames (a late MLD report) may follow the traffic: bounds use the count at the end.
    let end = veth.host_packets();
    let end_stats: Vec<u64> = [
        "rx_bytes",
        "tx_bytes",
        "rx_packets",
        "tx_packets",
        "rx_dropped",
    ]
    .iter()
    .map(|n| veth.host_stat(n))
    .collect();
    let mut flows = Vec::new();
    let mut decoded_flows = Vec::new();
    let mut counters = Vec::new();
    for (at, d) in &datagrams {
        flows.extend(walk_flows(d));
        for s in decode(d).samples {
            match s {
                SflowSample::ExpandedFlow(f) => decoded_flows.push(f),
                SflowSample::ExpandedCounter(c)
                    if c.source_id_type == 0
                        && c.source_id_index == if_index
                        && at.duration_since(quiet_since) > Duration::from_millis(1100) =>
                {
                    counters.push(c);
                }
                _ => {}
            }
        }
    }

    // Flow samples: all from this tap, at this rate, as many as the binomial law allows. A few
    // frames of the link's setup (MLD) may be sampled before the traffic: counted apart.
    assert_eq!(flows.len(), decoded_flows.len());
    let ours = decoded_flows
        .iter()
        .filter(|f| match &f.records[0] {
            Flow::RawPacketHeader(h) => h.header.windows(MARK.len()).any(|w| w == MARK),
            _ => false,
        })
        .count();
    assert!(
        flows.len() - ours <= 5,
        "{} stray samples",
        flows.len() - ours
    );
    let n = ours as f64;
    let mean = sent as f64 / f64::from(rate);
    let sd = (sent as f64 * (1.0 / f64::from(rate)) * (1.0 - 1.0 / f64::from(rate))).sqrt();
    assert!(
        (n - mean).abs() <= 6.0 * sd,
        "{n} samples of {sent} packets at 1 in {rate}: expected {mean} ± {}",
        6.0 * sd
    );
    let mut seen = HashSet::new();
    let mut last_pool = 0u64;
    for (i, (w, f)) in flows.iter().zip(&decoded_flows).enumerate() {
        assert_eq!((w.class, w.index), (0, if_index));
        assert_eq!((f.source_id_type, f.source_id_index), (0, if_index));
        assert_eq!(w.sequence, i as u32 + 1, "flow sequence numbers");
        assert_eq!(f.sampling_rate, rate);
        assert_eq!(f.drops, 0);
        let pool = u64::from(f.sample_pool);
        assert!(
            pool <= end && pool >= last_pool,
            "sample_pool {pool} above {end} or below {last_pool}"
        );
        last_pool = pool;
        assert_eq!(f.records.len(), 1);
        let Flow::RawPacketHeader(h) = &f.records[0] else {
            panic!("{:?}", f.records[0]);
        };
        if !h.header.windows(MARK.len()).any(|w| w == MARK) {
            continue; // a frame of the link's setup
        }
        assert!(pool >= before, "sample_pool {pool} below {before}");
        assert_eq!(h.header_protocol, 1, "Ethernet");
        let frame = 14 + 40 + 8 + PAYLOAD as u32;
        assert_eq!((h.frame_length, h.stripped), (frame + 4, 4));
        assert_eq!(h.header_length, 128, "cut to headerBytes");
        assert_eq!(h.header.len(), 128);
        let (src, dst, dir, seq) = decode_frame(&h.header);
        assert!(seq < per_direction);
        assert!(seen.insert((dir, seq)), "sampled twice: {dir} {seq}");
        match dir {
            b'>' => {
                assert_eq!((src, dst), (veth.host_addr, veth.peer_addr));
                assert_eq!(
                    (f.input_value, f.output_value),
                    (INTERNAL, if_index),
                    "sent"
                );
            }
            b'<' => {
                assert_eq!((src, dst), (veth.peer_addr, veth.host_addr));
                assert_eq!(
                    (f.input_value, f.output_value),
                    (if_index, INTERNAL),
                    "received"
                );
            }
            d => panic!("direction {d}"),
        }
    }
    // The pool is read once per batch of samples: the last one is close to the final count
    // (e^-20 odds of 20 rates' worth of packets after the last sample).
    assert!(
        last_pool + 20 * u64::from(rate) > after,
        "last sample_pool {last_pool}, interface packets {after}"
    );
    assert!(
        seen.iter().any(|(d, _)| *d == b'>') && seen.iter().any(|(d, _)| *d == b'<'),
        "both directions sampled"
    );

    assert!(
        counters.len() >= 2,
        "port counter samples after the traffic"
    );
    let c = counters.last().unwrap();
    let Counter::GenericInterface(g) = &c.records[0] else {
        panic!("{:?}", c.records[0]);
    };
    assert_eq!(
        (g.if_index, g.if_type, g.if_speed),
        (if_index, 6, 10_000_000_000)
    );
    assert_eq!(g.if_status, 3, "admin and oper up");
    // Exact when the link stayed quiet after the traffic; else between the two readings.
    let within = |what: &str, v: u64, at_after: u64, at_end: u64| {
        if end == after {
            assert_eq!(v, at_end, "{what}");
        } else {
            assert!(
                v >= at_after && v <= at_end,
                "{what}: {v} not in {at_after}..={at_end}"
            );
        }
    };
    within("ifInOctets", g.if_in_octets, rx_bytes_after, end_stats[0]);
    within("ifOutOctets", g.if_out_octets, tx_bytes_after, end_stats[1]);
    within(
        "ifIn packets",
        u64::from(g.if_in_ucast_pkts) + u64::from(g.if_in_multicast_pkts),
        rx_packets_after,
        end_stats[2],
    );
    within(
        "ifOutUcastPkts",
        u64::from(g.if_out_ucast_pkts),
        tx_packets_after,
        end_stats[3],
    );
    assert_eq!(u64::from(g.if_in_discards), end_stats[4]);
    let Counter::PortName(p) = &c.records[1] else {
        panic!("{:?}", c.records[1]);
    };
    assert_eq!(p.name, veth.host);
    drop(agent);
}

#[test]
fn without_cap_net_raw_one_warning_and_the_counters_go_on() {
    let Some(veth) = VethNs::create("pn", 2) else {
        return;
    };
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(setpriv) = setpriv else {
        assert!(!support::in_ci(), "CI: no setpriv");
        eprintln!("SKIPPED: no setpriv");
        return;
    };
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!(
            "  pcap {{ dev = {} }}\n  pcap {{ dev = {} sampling = 5 }}",
            veth.host, veth.host
        ),
    );
    let agent = Agent::start_wrapped(
        "pcap-nocap",
        &config,
        &[],
        &[
            setpriv,
            "--bounding-set=-net_raw",
            "--inh-caps=-net_raw",
            "--",
        ],
    );
    // The host's counter sample still arrives.
    let d = collector
        .recv_source(2, 1, Duration::from_secs(10))
        .expect("host counter sample");
    assert!(!d.is_empty());
    let log = agent.stderr();
    assert_eq!(
        log.matches("needs CAP_NET_RAW").count(),
        1,
        "one warning for both taps:\n{log}"
    );
}

#[test]
fn a_tapped_veth_that_disappears_is_tapped_again_when_it_is_back_under_a_new_if_index() {
    let Some(veth) = VethNs::create("pv", 3) else {
        return;
    };
    let first = veth.host_if_index();
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
    );
    let agent = Agent::start("pcap-vanish", &config, &[]);
    agent.wait_log(&format!(
        "pcap {}: ifIndex {first}, sampling 1 in 1",
        veth.host
    ));
    let name = veth.host.clone();
    drop(veth);
    agent.wait_log(&format!("pcap {name}: no such interface"));
    let Some(again) = VethNs::create("pv", 3) else {
        panic!("the pair could not be made again");
    };
    let second = again.host_if_index();
    assert_ne!(first, second);
    agent.wait_log(&format!("pcap {name}: ifIndex {second}, sampling 1 in 1"));
    // Its samples and port counters come under the new ifIndex.
    let host = again.host_socket();
    let peer = again.peer_socket();
    host.send_to(b"CSFLOWD-TEST>back", peer.local_addr().unwrap())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut flow_seen = false;
    let mut port_seen = false;
    while Instant::now() < deadline && !(flow_seen && port_seen) {
        let Some(d) = collector.recv(Duration::from_millis(200)) else {
            continue;
        };
        for f in walk_flows(&d) {
            flow_seen |= f.index == second;
        }
        for s in decode(&d).samples {
            if let SflowSample::ExpandedCounter(c) = s {
                port_seen |= c.source_id_type == 0 && c.source_id_index == second;
            }
        }
    }
    assert!(flow_seen && port_seen, "samples under ifIndex {second}");
    assert!(
        support::process::is_running(agent.pid()),
        "the agent lives on"
    );
}

#[test]
fn jumbo_frames_keep_their_length_and_send_only_header_bytes() {
    let Some(veth) = VethNs::create("pj", 4) else {
        return;
    };
    for (ns, dev) in [(None, &veth.host), (Some(&veth.ns), &veth.peer)] {
        let mut c = std::process::Command::new("ip");
        if let Some(ns) = ns {
            c.args(["netns", "exec", ns, "ip"]);
        }
        let ok = c
            .args(["link", "set", dev, "mtu", "9000"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "mtu 9000 on {dev}");
    }
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!(
            "  headerBytes = 64\n  pcap {{ dev = {} sampling = 1 }}",
            veth.host
        ),
    );
    let agent = Agent::start("pcap-jumbo", &config, &[]);
    agent.wait_log("sampling 1 in 1, headerBytes 64");
    let host = veth.host_socket();
    let peer = veth.peer_socket();
    let mut payload = MARK.to_vec();
    payload.resize(8000, 0x77);
    host.send_to(&payload, peer.local_addr().unwrap()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "no sample of the jumbo frame");
        let Some(d) = collector.recv(Duration::from_millis(200)) else {
            continue;
        };
        let found = decode(&d).samples.into_iter().find_map(|s| match s {
            SflowSample::ExpandedFlow(f) => match &f.records[0] {
                Flow::RawPacketHeader(h) if h.frame_length > 8000 => Some(h.clone()),
                _ => None,
            },
            _ => None,
        });
        if let Some(h) = found {
            assert_eq!(
                h.frame_length,
                14 + 40 + 8 + 8000 + 4,
                "the whole frame, FCS included"
            );
            assert_eq!((h.stripped, h.header_length), (4, 64), "64 bytes sent");
            walk_flows(&d);
            break;
        }
    }
}

#[test]
fn egress_off_samples_only_what_the_interface_received() {
    one_direction("pe", 5, "egress = off");
}

#[test]
fn ingress_off_samples_only_what_was_sent_on_the_interface() {
    one_direction("pi", 6, "ingress = off");
}

/// Traffic both ways over a veth tapped in one direction: samples of that direction only, as many
/// as the binomial law allows, their pool that direction's packet count.
fn one_direction(tag: &str, subnet: u16, setting: &str) {
    let Some(veth) = VethNs::create(tag, subnet) else {
        return;
    };
    let ingress = setting == "egress = off";
    let (counter, only, want_dir) = if ingress {
        ("rx_packets", "ingress only", b'<')
    } else {
        ("tx_packets", "egress only", b'>')
    };
    let if_index = veth.host_if_index();
    let collector = Collector::bind();
    let rate = 4u32;
    let config = config_for(
        collector.addr(),
        &format!(
            "  pcap {{ dev = {} sampling = {rate} {setting} }}",
            veth.host
        ),
    );
    let agent = Agent::start(&format!("pcap-{tag}"), &config, &[]);
    agent.wait_log(&format!(
        "pcap {}: ifIndex {if_index}, sampling 1 in {rate}, headerBytes 128, {only}",
        veth.host
    ));
    let host = veth.host_socket();
    let peer = veth.peer_socket();
    let (host_port, peer_port) = (host.local_addr().unwrap(), peer.local_addr().unwrap());
    let before = veth.host_stat(counter);
    let per_direction = 1000u32;
    let mut buf = [0u8; 512];
    for s in [&host, &peer] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    for seq in 0..per_direction {
        host.send_to(&payload(b'>', seq), peer_port).unwrap();
        assert_eq!(peer.recv(&mut buf).unwrap(), PAYLOAD);
        peer.send_to(&payload(b'<', seq), host_port).unwrap();
        assert_eq!(host.recv(&mut buf).unwrap(), PAYLOAD);
    }
    let received = veth.host_stat(counter) - before;
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Some(d) = collector.recv(Duration::from_millis(100)) {
            samples.extend(decode(&d).samples.into_iter().filter_map(|s| match s {
                SflowSample::ExpandedFlow(f) => Some(f),
                _ => None,
            }));
        }
    }
    let end = veth.host_stat(counter);
    let mut ours = 0u32;
    for f in &samples {
        assert_eq!((f.source_id_index, f.sampling_rate), (if_index, rate));
        let ports = if ingress {
            (if_index, INTERNAL)
        } else {
            (INTERNAL, if_index)
        };
        assert_eq!((f.input_value, f.output_value), ports, "{setting}");
        // The pool counts that direction's packets only.
        let pool = u64::from(f.sample_pool);
        assert!(pool <= end, "pool {pool} above {counter} {end}");
        let Flow::RawPacketHeader(h) = &f.records[0] else {
            panic!("{:?}", f.records[0]);
        };
        if h.header.windows(MARK.len()).any(|w| w == MARK) {
            let (src, dst, dir, _) = decode_frame(&h.header);
            assert_eq!(dir, want_dir, "{setting}");
            let ends = if ingress {
                (veth.peer_addr, veth.host_addr)
            } else {
                (veth.host_addr, veth.peer_addr)
            };
            assert_eq!((src, dst), ends);
            ours += 1;
        }
    }
    let p = 1.0 / f64::from(rate);
    let mean = received as f64 * p;
    let sd = (received as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (f64::from(ours) - mean).abs() <= 6.0 * sd,
        "{ours} samples of {received} packets ({counter}) at 1 in {rate}: expected {mean} ± {}",
        6.0 * sd
    );
    assert!(samples.len() as u32 - ours <= 5, "stray samples");
    drop(agent);
}
