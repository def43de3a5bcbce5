//! `pcap { containers = on }` with real, private Docker and Podman engines: a container started with
//! `--network none` gets a veth the test moves into its namespace; the agent finds the host end
//! (no setns: the host's id for the container's namespace, and the veth whose link namespace is
//! it), taps it, and names the container in `extended_entities`. Then 50 containers come and go,
//! each with a veth, and the agent's descriptors end where they began.
//!
//! Needs root and the engine (see support): outside CI a test without them skips, saying why.

mod support;

use std::time::{Duration, Instant};

use flowparser_sflow::flow_records::FlowRecord as Flow;
use flowparser_sflow::SflowSample;

use support::agent::Agent;
use support::containers::uuid_of;
use support::netns::VethNs;
use support::sflow::{decode, walk, Collector};

const INTERNAL: u32 = 0x3FFF_FFFF;

/// No network but `lo`, and IPv6 left on for the veth the test adds (the engine turns it off).
const NET_NONE_WITH_IPV6: &[&str] = &[
    "--network",
    "none",
    "--sysctl",
    "net.ipv6.conf.all.disable_ipv6=0",
    "--sysctl",
    "net.ipv6.conf.default.disable_ipv6=0",
];

fn config(engine: &support::Engine, collector: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  collector {{ ip = {} udpport = {} }}\n  \
         docker {{ socket = \"{}\" }}\n  {extra}\n}}\n",
        collector.ip(),
        collector.port(),
        engine.socket_path().display()
    )
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The data source index of the container with this uuid, from its counter samples.
fn container_index(collector: &Collector, uuid: [u8; 16], timeout: Duration) -> u32 {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no counter sample of the container");
        let Some(d) = collector.recv(left) else {
            continue;
        };
        let (_, samples) = walk(&d);
        for s in samples {
            if s.class != 3 {
                continue;
            }
            if let Some(descr) = s.record(2000) {
                let len = u32::from_be_bytes(descr[0..4].try_into().unwrap()) as usize;
                let at = 4 + ((len + 3) & !3);
                if descr[at..at + 16] == uuid {
                    return s.index;
                }
            }
        }
    }
}

#[test]
fn a_docker_containers_veth_is_tapped_and_its_samples_name_the_container() {
    let Some(engine) = support::docker() else {
        return;
    };
    container_tap(&engine);
}

#[test]
fn a_podman_containers_veth_is_tapped_and_its_samples_name_the_container() {
    let Some(engine) = support::podman() else {
        return;
    };
    container_tap(&engine);
}

fn container_tap(engine: &support::Engine) {
    // Podman's run samples one direction: `egress = off` on the host end of the veth keeps what
    // the container sent (its own egress) and nothing it received.
    let both = engine.kind() == support::Kind::Docker;
    let collector = Collector::bind();
    let agent = Agent::start(
        "pcap-docker",
        &config(
            engine,
            collector.addr(),
            if both {
                "pcap { containers = on sampling = 4 }"
            } else {
                "pcap { containers = on sampling = 4 egress = off }"
            },
        ),
        &[],
    );
    let id = engine.run(NET_NONE_WITH_IPV6, &["sleep", "300"]);
    let pid = engine.inspect_pid(&id);
    let index = container_index(&collector, uuid_of(&id), Duration::from_secs(15));

    let fds_before = open_fds(agent.pid());
    // The veth comes after the container started: the agent finds it at a host poll.
    // Docker and Podman run side by side: their veths need names and subnets of their own.
    let (tag, subnet) = match engine.kind() {
        support::Kind::Docker => ("pd", 3),
        _ => ("pp", 4),
    };
    let veth = VethNs::into_process(tag, subnet, pid);
    let if_index = veth.host_if_index();
    let line = format!(
        "pcap {}: ifIndex {if_index}, sampling 1 in 4, headerBytes 128{} (container)",
        veth.host,
        if both { "" } else { ", ingress only" }
    );
    wait_until(&line, Duration::from_secs(10), || {
        agent.stderr().contains(&line)
    });

    let host = veth.host_socket();
    let peer = veth.peer_socket();
    let (host_port, peer_port) = (host.local_addr().unwrap(), peer.local_addr().unwrap());
    let mut buf = [0u8; 256];
    for s in [&host, &peer] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    let n = 400u32;
    for seq in 0..n {
        let mut p = b"CSFLOWD-TEST>".to_vec();
        p.extend_from_slice(&seq.to_be_bytes());
        host.send_to(&p, peer_port).unwrap();
        peer.recv(&mut buf).unwrap();
        p[12] = b'<';
        peer.send_to(&p, host_port).unwrap();
        host.recv(&mut buf).unwrap();
    }

    let container = (3u32, index);
    let none = (0u32, 0u32);
    let (mut into, mut out_of) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let Some(d) = collector.recv(Duration::from_millis(200)) else {
            continue;
        };
        for s in decode(&d).samples {
            let SflowSample::ExpandedFlow(f) = s else {
                continue;
            };
            assert_eq!((f.source_id_type, f.source_id_index), (0, if_index));
            assert_eq!(f.sampling_rate, 4);
            assert_eq!(f.records.len(), 2, "sampled_header and extended_entities");
            let Flow::RawPacketHeader(h) = &f.records[0] else {
                panic!("{:?}", f.records[0]);
            };
            let Flow::ExtendedEntities(e) = &f.records[1] else {
                panic!("{:?}", f.records[1]);
            };
            let (src, dst) = (
                (e.src_ds_class, e.src_ds_index),
                (e.dst_ds_class, e.dst_ds_index),
            );
            let Some(at) = h.header.windows(12).position(|w| w == b"CSFLOWD-TEST") else {
                continue; // a frame of the link's setup
            };
            match h.header[at + 12] {
                b'>' => {
                    assert_eq!((src, dst), (none, container), "into the container");
                    assert_eq!((f.input_value, f.output_value), (INTERNAL, if_index));
                    into += 1;
                }
                b'<' => {
                    assert_eq!((src, dst), (container, none), "out of the container");
                    assert_eq!((f.input_value, f.output_value), (if_index, INTERNAL));
                    out_of += 1;
                }
                other => panic!("direction {other}"),
            }
        }
    }
    // 400 packets each way at 1 in 4: 100 ± 8.7 expected; 6 standard deviations either side.
    assert!(
        (48..=152).contains(&out_of),
        "{out_of} samples out of the container"
    );
    if both {
        assert!(
            (48..=152).contains(&into),
            "{into} samples into the container"
        );
    } else {
        assert_eq!(
            into, 0,
            "egress = off: nothing sent into the container is sampled"
        );
    }
    // The test's socket in the container's namespace would keep it (and the veth) alive.
    drop((host, peer));
    engine.cli(&["rm", "-f", &id]);
    let pid = agent.pid();
    // The tap's descriptors close with the container (its counter files too, hence "at most").
    wait_until("the tap to close", Duration::from_secs(10), || {
        open_fds(pid) <= fds_before
    });
    drop(agent);
}

#[test]
fn fifty_containers_with_veths_leave_the_descriptors_where_they_began() {
    let Some(engine) = support::docker() else {
        return;
    };
    let collector = Collector::bind();
    let agent = Agent::start(
        "pcap-churn",
        &config(&engine, collector.addr(), "pcap { containers = on }"),
        &[],
    );
    // Settled: the engine is connected and the first host sample is out.
    collector
        .recv_source(2, 1, Duration::from_secs(10))
        .expect("host sample");
    std::thread::sleep(Duration::from_millis(500));
    let before = open_fds(agent.pid());
    let mut opened = 0;
    for round in 0..5u16 {
        let mut batch = Vec::new();
        for i in 0..10u16 {
            let id = engine.run(NET_NONE_WITH_IPV6, &["sleep", "300"]);
            let pid = engine.inspect_pid(&id);
            let veth =
                VethNs::into_process(&format!("c{}", round * 10 + i), 10 + round * 10 + i, pid);
            batch.push((id, veth));
        }
        opened += 10;
        wait_until("ten more container taps", Duration::from_secs(20), || {
            agent.stderr().matches("(container)").count() >= opened
        });
        let during = open_fds(agent.pid());
        assert!(
            during >= before + 10 * 3,
            "{during} descriptors with ten taps open"
        );
        for (id, veth) in batch {
            engine.cli(&["rm", "-f", &id]);
            drop(veth);
        }
    }
    let pid = agent.pid();
    wait_until(
        "the descriptors to come back",
        Duration::from_secs(20),
        || open_fds(pid) <= before,
    );
    assert_eq!(open_fds(pid), before, "descriptors after 50 containers");
    while collector.recv(Duration::from_millis(10)).is_some() {}
}

/// Links the test makes in the host: deleted when dropped (also when the test fails).
struct HostLinks(Vec<String>);

impl Drop for HostLinks {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", l])
                .output();
        }
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn nsenter(pid: u32, args: &[&str]) -> String {
    let out = std::process::Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "--"])
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

/// A UDP socket bound to `addr` inside the network namespace of process `pid`.
fn socket_in(pid: u32, addr: std::net::SocketAddr) -> std::net::UdpSocket {
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        // SAFETY: a valid namespace descriptor; only this thread changes namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        std::net::UdpSocket::bind(addr).unwrap()
    })
    .join()
    .unwrap()
}

#[test]
fn traffic_between_two_containers_on_a_bridge_names_both_in_2210() {
    let Some(engine) = support::docker() else {
        return;
    };
    let collector = Collector::bind();
    let agent = Agent::start(
        "pcap-bridge",
        &config(
            &engine,
            collector.addr(),
            "pcap { containers = on sampling = 1 }",
        ),
        &[],
    );
    let ids = [
        engine.run(NET_NONE_WITH_IPV6, &["sleep", "300"]),
        engine.run(NET_NONE_WITH_IPV6, &["sleep", "300"]),
    ];
    let pids = [engine.inspect_pid(&ids[0]), engine.inspect_pid(&ids[1])];
    let index = [
        container_index(&collector, uuid_of(&ids[0]), Duration::from_secs(15)),
        container_index(&collector, uuid_of(&ids[1]), Duration::from_secs(15)),
    ];

    // A bridge of the test's own, each container's veth a port of it, one subnet.
    let id = std::process::id() % 100_000;
    let bridge = format!("cfbr{id}");
    let hosts = [format!("cfba{id}h"), format!("cfbb{id}h")];
    let peers = [format!("cfba{id}n"), format!("cfbb{id}n")];
    let _links = HostLinks(vec![hosts[0].clone(), hosts[1].clone(), bridge.clone()]);
    ip(&["link", "add", &bridge, "type", "bridge"]);
    ip(&["link", "set", &bridge, "addrgenmode", "none"]);
    ip(&["link", "set", &bridge, "up"]);
    let addrs: [std::net::Ipv6Addr; 2] = [
        "fd00:cf:77::a".parse().unwrap(),
        "fd00:cf:77::b".parse().unwrap(),
    ];
    let mut macs = Vec::new();
    for i in 0..2 {
        ip(&[
            "link", "add", &hosts[i], "type", "veth", "peer", "name", &peers[i],
        ]);
        ip(&["link", "set", &peers[i], "netns", &pids[i].to_string()]);
        ip(&["link", "set", &hosts[i], "addrgenmode", "none"]);
        ip(&["link", "set", &hosts[i], "master", &bridge]);
        ip(&["link", "set", &hosts[i], "up"]);
        nsenter(
            pids[i],
            &["ip", "link", "set", &peers[i], "addrgenmode", "none"],
        );
        nsenter(
            pids[i],
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/64", addrs[i]),
                "dev",
                &peers[i],
                "nodad",
            ],
        );
        nsenter(pids[i], &["ip", "link", "set", &peers[i], "up"]);
        let mac = nsenter(pids[i], &["ip", "-br", "link", "show", "dev", &peers[i]]);
        macs.push(mac.split_whitespace().nth(2).unwrap().to_string());
    }
    for i in 0..2 {
        let j = 1 - i;
        nsenter(
            pids[i],
            &[
                "ip",
                "neigh",
                "replace",
                &addrs[j].to_string(),
                "lladdr",
                &macs[j],
                "dev",
                &peers[i],
                "nud",
                "permanent",
            ],
        );
    }
    let if_index = |name: &str| -> u32 {
        std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let taps = [if_index(&hosts[0]), if_index(&hosts[1])];

    // A sends to B until both taps have sampled an A -> B frame naming both containers (the
    // agent learns B's MAC from B's counters at its next poll).
    let a = socket_in(pids[0], std::net::SocketAddr::from((addrs[0], 0)));
    let b = socket_in(pids[1], std::net::SocketAddr::from((addrs[1], 0)));
    let to = b.local_addr().unwrap();
    let want = ((3u32, index[0]), (3u32, index[1]));
    let mut named = [false, false];
    let deadline = Instant::now() + Duration::from_secs(15);
    while named != [true, true] {
        assert!(
            Instant::now() < deadline,
            "samples naming both containers: {named:?} (taps {taps:?}, containers {index:?})"
        );
        a.send_to(b"CSFLOWD-TEST-AB", to).unwrap();
        while let Some(d) = collector.recv(Duration::from_millis(50)) {
            walk(&d);
            for s in decode(&d).samples {
                let SflowSample::ExpandedFlow(f) = s else {
                    continue;
                };
                let Flow::RawPacketHeader(h) = &f.records[0] else {
                    continue;
                };
                if !h.header.windows(15).any(|w| w == b"CSFLOWD-TEST-AB") {
                    continue;
                }
                let Some(Flow::ExtendedEntities(e)) = f.records.get(1) else {
                    panic!("a frame between two containers without 2210: {f:?}");
                };
                let got = (
                    (e.src_ds_class, e.src_ds_index),
                    (e.dst_ds_class, e.dst_ds_index),
                );
                if let Some(t) = taps.iter().position(|&t| t == f.source_id_index) {
                    named[t] |= got == want;
                }
            }
        }
    }
    drop((a, b));
    for id in &ids {
        engine.cli(&["rm", "-f", id]);
    }
    drop(agent);
}
