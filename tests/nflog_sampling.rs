//! `nflog { group probability }`: an `ip6tables -m statistic ... -j NFLOG` rule inside a namespace
//! the test makes, the agent run in that namespace (`ip netns exec`) reading the group, real UDP
//! traffic into the namespace, and the agent's output read on the namespace's loopback with the
//! independent decoder and by hand.
//!
//! Needs root (netns, ip6tables, CAP_NET_ADMIN); outside CI a test without it skips, saying why.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use flowparser_sflow::flow_records::FlowRecord as Flow;
use flowparser_sflow::SflowSample;

use support::agent::Agent;
use support::netns::VethNs;
use support::sflow::{decode, walk_flows, Collector};

const MARK: &[u8] = b"CSFLOWD-NFLOG";
const INTERNAL: u32 = 0x3FFF_FFFF;

fn in_ns(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn an_nflog_rule_in_a_namespace_gives_flow_samples_of_its_packets() {
    let Some(veth) = VethNs::create("nf", 50) else {
        return;
    };
    if Command::new("ip6tables").arg("-V").output().is_err() {
        assert!(!support::in_ci(), "CI: no ip6tables");
        eprintln!("SKIPPED: no ip6tables");
        return;
    }
    let group = 20 + std::process::id() % 1000;
    let peer = veth.peer_socket();
    let port = peer.local_addr().unwrap().port().to_string();
    in_ns(
        &veth.ns,
        &[
            "ip6tables",
            "-A",
            "INPUT",
            "-p",
            "udp",
            "--dport",
            &port,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.25",
            "-j",
            "NFLOG",
            "--nflog-group",
            &group.to_string(),
        ],
    );
    let peer_if_index: u32 = in_ns(
        &veth.ns,
        &["cat", &format!("/sys/class/net/{}/ifindex", veth.peer)],
    )
    .parse()
    .unwrap();

    // The collector on the namespace's own loopback, where the agent runs.
    let collector = Collector {
        socket: veth.socket_in_ns("127.0.0.1:0"),
    };
    let config = format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  collector {{ ip = 127.0.0.1 udpport = {} }}\n  \
         nflog {{ group = {group} probability = 0.25 }}\n}}\n",
        collector.addr().port()
    );
    let agent = Agent::start_wrapped("nflog", &config, &[], &["ip", "netns", "exec", &veth.ns]);
    let line = format!("nflog group {group}: sampling 1 in 4");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent.stderr().contains(&line) {
        assert!(
            Instant::now() < deadline,
            "no {line:?}:\n{}",
            agent.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let host = veth.host_socket();
    let n = 400u32;
    let mut buf = [0u8; 256];
    peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for seq in 0..n {
        let mut p = MARK.to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        host.send_to(&p, peer.local_addr().unwrap()).unwrap();
        peer.recv(&mut buf).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    // What the rule logged, by its own counter.
    let rules = in_ns(&veth.ns, &["ip6tables", "-L", "INPUT", "-v", "-n", "-x"]);
    let logged: u64 = rules
        .lines()
        .find(|l| l.contains("NFLOG"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .unwrap();

    let mut samples = Vec::new();
    while let Some(d) = collector.recv(Duration::from_millis(1500)) {
        let walked = walk_flows(&d);
        let mut flows = decode(&d)
            .samples
            .into_iter()
            .filter_map(|s| match s {
                SflowSample::ExpandedFlow(f) => Some(f),
                _ => None,
            })
            .collect::<Vec<_>>();
        assert_eq!(walked.len(), flows.len());
        samples.append(&mut flows);
        if samples.len() as u64 >= logged {
            break;
        }
    }
    assert_eq!(
        samples.len() as u64,
        logged,
        "one flow sample per logged packet"
    );
    // 400 at 1 in 4: 100 ± 8.7 expected, 6 standard deviations either side.
    assert!((48..=152).contains(&logged), "{logged} logged");
    let mut seen = std::collections::HashSet::new();
    for (i, f) in samples.iter().enumerate() {
        assert_eq!((f.source_id_type, f.source_id_index), (0, peer_if_index));
        assert_eq!(f.sequence_number, i as u32 + 1);
        assert_eq!((f.sampling_rate, f.drops), (4, 0));
        assert_eq!(
            f.sample_pool,
            4 * (i as u32 + 1),
            "estimated: rate per sample"
        );
        assert_eq!((f.input_value, f.output_value), (peer_if_index, INTERNAL));
        let Flow::RawPacketHeader(h) = &f.records[0] else {
            panic!("{:?}", f.records[0]);
        };
        assert_eq!(h.header_protocol, 12, "IPv6");
        assert_eq!(
            (h.frame_length, h.stripped),
            (40 + 8 + MARK.len() as u32 + 4, 0)
        );
        let udp = &h.header[40..];
        assert_eq!(&udp[8..8 + MARK.len()], MARK);
        let seq = u32::from_be_bytes(udp[8 + MARK.len()..12 + MARK.len()].try_into().unwrap());
        assert!(seq < n && seen.insert(seq), "packet {seq}");
    }
    drop(agent);
}
