//! Packet sampling faults on a real veth: GSO super-packets, an interface renamed while tapped,
//! and one deleted and made again under the same name (a new ifIndex) between two host polls.
//!
//! Needs root (netns, veth, CAP_NET_RAW); outside CI a test without it skips, saying why.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use flowparser_sflow::counter_records::CounterRecord as Counter;
use flowparser_sflow::flow_records::FlowRecord as Flow;
use flowparser_sflow::SflowSample;

use support::agent::{config_for, Agent};
use support::netns::VethNs;
use support::sflow::{decode, walk_flows, Collector};

/// A flow sample's data source index, frame length and sampled header.
type Sampled = (u32, u32, Vec<u8>);

/// Every flow sample's sampled header and data source index, and every port_name of data source
/// 0:`if_index`, read from the collector for `for_how_long`.
fn collect(
    collector: &Collector,
    if_index: u32,
    for_how_long: Duration,
) -> (Vec<Sampled>, Vec<String>) {
    let deadline = Instant::now() + for_how_long;
    let (mut flows, mut names) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let Some(d) = collector.recv(Duration::from_millis(100)) else {
            continue;
        };
        let walked = walk_flows(&d);
        let mut i = 0;
        for s in decode(&d).samples {
            match s {
                SflowSample::ExpandedFlow(f) => {
                    let index = walked[i].index;
                    i += 1;
                    if let Flow::RawPacketHeader(h) = &f.records[0] {
                        assert_eq!((h.header_protocol, h.stripped), (1, 4));
                        assert_eq!(h.header_length as usize, h.header.len());
                        flows.push((index, h.frame_length, h.header.clone()));
                    }
                }
                SflowSample::ExpandedCounter(c)
                    if c.source_id_type == 0 && c.source_id_index == if_index =>
                {
                    for r in &c.records {
                        if let Counter::PortName(p) = r {
                            names.push(p.name.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (flows, names)
}

#[test]
fn gso_super_packets_keep_their_whole_length() {
    let Some(veth) = VethNs::create("pg", 11) else {
        return;
    };
    // veth offloads TCP segmentation by default: the stack hands it super-packets of up to 64 KiB.
    let features = std::process::Command::new("ethtool")
        .args(["-k", &veth.host])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !features.is_empty() {
        assert!(
            features.contains("tcp-segmentation-offload: on"),
            "TSO on {}:\n{features}",
            veth.host
        );
    }
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
    );
    let agent = Agent::start("pcap-gso", &config, &[]);
    let if_index = veth.host_if_index();
    agent.wait_log(&format!("pcap {}: ifIndex {if_index}", veth.host));

    let listener = veth.peer_listener();
    let to = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    let mut stream = TcpStream::connect(to).unwrap();
    let chunk = vec![0x42u8; 1 << 20];
    for _ in 0..8 {
        stream.write_all(&chunk).unwrap();
    }
    drop(stream);
    assert_eq!(reader.join().unwrap(), 8 << 20);

    let (flows, _) = collect(&collector, if_index, Duration::from_secs(3));
    let mut largest = 0;
    let mut tcp = 0;
    for (index, frame_length, h) in &flows {
        assert_eq!(*index, if_index);
        if h.len() < 14 + 40 + 20 || h[12..14] != [0x86, 0xdd] || h[14 + 6] != 6 {
            continue; // not IPv6 TCP (a neighbour message)
        }
        tcp += 1;
        // The IPv6 payload length of a super-packet is its whole TCP segment: the frame is the
        // Ethernet and IPv6 headers, that payload and the FCS the agent counts in, exactly.
        let payload = u32::from(u16::from_be_bytes([h[14 + 4], h[14 + 5]]));
        assert_eq!(*frame_length, 14 + 40 + payload + 4, "frame_length");
        largest = largest.max(*frame_length);
    }
    assert!(tcp > 10, "{tcp} TCP samples of {}", flows.len());
    assert!(
        largest > 1500 + 14 + 4,
        "a super-packet larger than the MTU: largest frame {largest}"
    );
    assert!(largest <= 14 + 40 + 65535 + 4, "largest frame {largest}");
    assert!(support::process::is_running(agent.pid()));
}

#[test]
fn an_interface_renamed_while_tapped_stays_tapped_under_its_new_name() {
    let Some(veth) = VethNs::create("pr", 12) else {
        return;
    };
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
    );
    let agent = Agent::start("pcap-rename", &config, &[]);
    let if_index = veth.host_if_index();
    agent.wait_log(&format!("pcap {}: ifIndex {if_index}", veth.host));
    let new_name = format!("{}r", &veth.host[..veth.host.len() - 1]);
    let ok = std::process::Command::new("ip")
        .args(["link", "set", &veth.host, "name", &new_name])
        .status()
        .unwrap()
        .success();
    assert!(ok, "rename {} to {new_name}", veth.host);
    // Renamed back when the test ends, so that dropping the pair deletes it.
    struct Back<'a>(&'a str, &'a str);
    impl Drop for Back<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["link", "set", self.0, "name", self.1])
                .status();
        }
    }
    let _back = Back(&new_name, &veth.host);
    let renamed = format!("ifIndex {if_index} renamed {new_name}; still sampled");
    agent.wait_log(&renamed);

    let host = veth.host_socket();
    let peer = veth.peer_socket();
    for i in 0..20u8 {
        host.send_to(&[b'>', i], peer.local_addr().unwrap())
            .unwrap();
    }
    let (flows, names) = collect(&collector, if_index, Duration::from_secs(3));
    assert!(
        flows.iter().filter(|f| f.0 == if_index).count() >= 20,
        "samples of the renamed interface: {}",
        flows.len()
    );
    assert!(
        names.len() >= 2 && names.iter().rev().take(2).all(|n| *n == new_name),
        "port_name after the rename: {names:?}"
    );
    let log = agent.stderr();
    assert_eq!(log.matches(&renamed).count(), 1, "logged once:\n{log}");
    assert!(!log.contains("no such interface"), "{log}");
    assert!(!log.contains("tap closed"), "{log}");
}

#[test]
fn an_interface_deleted_and_made_again_between_two_polls_is_tapped_under_its_new_if_index() {
    let Some(veth) = VethNs::create("pd", 13) else {
        return;
    };
    let first = veth.host_if_index();
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
    );
    let agent = Agent::start("pcap-recreate", &config, &[]);
    let name = veth.host.clone();
    agent.wait_log(&format!("pcap {name}: ifIndex {first}, sampling 1 in 1"));
    // Traffic up to the deletion: the tap is busy (read on a timer) when its interface goes.
    let host = veth.host_socket();
    let peer = veth.peer_socket();
    for i in 0..200u8 {
        host.send_to(&[b'>', i], peer.local_addr().unwrap())
            .unwrap();
    }
    drop((host, peer));
    drop(veth);
    let Some(again) = VethNs::create("pd", 13) else {
        panic!("the pair could not be made again");
    };
    let second = again.host_if_index();
    assert_ne!(first, second);
    let opened = format!("pcap {name}: ifIndex {second}, sampling 1 in 1");
    agent.wait_log(&opened);
    let host = again.host_socket();
    let peer = again.peer_socket();
    for i in 0..20u8 {
        host.send_to(&[b'<', i], peer.local_addr().unwrap())
            .unwrap();
    }
    // A few more polls: nothing more is said.
    let (flows, names) = collect(&collector, second, Duration::from_secs(3));
    assert!(
        flows.iter().filter(|f| f.0 == second).count() >= 20,
        "samples under ifIndex {second}"
    );
    assert!(
        names.iter().all(|n| *n == name) && names.len() >= 2,
        "{names:?}"
    );
    let log = agent.stderr();
    assert_eq!(log.matches(&opened).count(), 1, "opened once:\n{log}");
    assert!(log.matches("no such interface").count() <= 1, "{log}");
    assert!(!log.contains("tap closed"), "{log}");
    assert!(support::process::is_running(agent.pid()));
}
