//! A busy tap moves to a `TPACKET_V3` ring: `pcap { dev sampling = 1 }` on a real veth with a
//! paced stream both ways, read back from the agent's UDP output with the independent decoder.
//! Every packet sent is sampled once (or counted in the drops the kernel reports), across the
//! switch from the socket's queue to the ring.
//!
//! Needs root (netns, veth, CAP_NET_RAW); outside CI a test without it skips, saying why.

mod support;

use std::collections::HashSet;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use flowparser_sflow::flow_records::FlowRecord as Flow;
use flowparser_sflow::SflowSample;

use support::agent::{config_for, Agent};
use support::netns::{decode_marked_frame, marked_payload, VethNs};
use support::sflow::{decode, walk_flows, Collector};

const MARK: &[u8; 12] = b"CSFLOWD-RING";
const PAYLOAD: usize = 64;
const INTERNAL: u32 = 0x3FFF_FFFF;
const UPGRADED: &str = "KiB TPACKET_V3 ring from now on";

fn payload(direction: u8, seq: u32) -> Vec<u8> {
    marked_payload(MARK, PAYLOAD, direction, seq)
}

/// What a sampled header holds: (src, dst, direction, seq).
fn decode_frame(h: &[u8]) -> (Ipv6Addr, Ipv6Addr, u8, u32) {
    decode_marked_frame(h, MARK, PAYLOAD)
}

#[test]
fn a_busy_tap_moves_to_a_ring_without_losing_or_repeating_a_sample() {
    let Some(veth) = VethNs::create("rg", 61) else {
        return;
    };
    let if_index = veth.host_if_index();
    let collector = Collector::bind();
    // Room for the whole stream's datagrams if the reader falls behind (root may force it).
    let size: libc::c_int = 32 << 20;
    // SAFETY: the option value is one c_int that outlives the call.
    unsafe {
        libc::setsockopt(
            collector.socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let config = config_for(
        collector.addr(),
        &format!("  pcap {{ dev = {} sampling = 1 }}", veth.host),
    );
    let agent = Agent::start("ring", &config, &[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let socket = collector.socket.try_clone().unwrap();
        std::thread::spawn(move || {
            let c = Collector { socket };
            let mut all = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(d) = c.recv(Duration::from_millis(100)) {
                    all.push(d);
                }
            }
            all
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !agent
        .stderr()
        .contains(&format!("pcap {}: ifIndex", veth.host))
    {
        assert!(Instant::now() < deadline, "no tap:\n{}", agent.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }

    // 100 packets each way every 10 ms for 1.5 s: 20,000 samples a second, busy from the first
    // wake-ups. Nobody reads the UDP sockets: the tap sees each packet before a socket would.
    let host = veth.host_socket();
    let peer = veth.peer_socket();
    let host_port = host.local_addr().unwrap();
    let peer_port = peer.local_addr().unwrap();
    let before = veth.host_packets();
    let (bursts, burst) = (150u32, 100u32);
    let start = Instant::now();
    let mut seq = 0u32;
    for b in 0..bursts {
        for _ in 0..burst {
            host.send_to(&payload(b'>', seq), peer_port).unwrap();
            peer.send_to(&payload(b'<', seq), host_port).unwrap();
            seq += 1;
        }
        let next = start + Duration::from_millis(10 * u64::from(b + 1));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let per_direction = seq;
    let after = veth.host_packets();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let datagrams = reader.join().unwrap();
    let end = veth.host_packets();
    let log = agent.stderr();
    drop(agent);

    assert_eq!(
        log.matches(UPGRADED).count(),
        1,
        "upgraded once, logged once:\n{log}"
    );
    assert!(!log.contains("corrupt"), "{log}");
    // With CSFLOWD_TEST_LOG=-dd: how many packets both sockets took at the switch.
    for line in log.lines().filter(|l| l.contains("at the switch")) {
        eprintln!("{line}");
    }

    let mut flows = Vec::new();
    let mut decoded = Vec::new();
    for d in &datagrams {
        flows.extend(walk_flows(d));
        for s in decode(d).samples {
            if let SflowSample::ExpandedFlow(f) = s {
                decoded.push(f);
            }
        }
    }
    assert_eq!(flows.len(), decoded.len());
    let mut seen = HashSet::new();
    let mut last_pool = 0u64;
    let mut drops = 0u32;
    for (i, (w, f)) in flows.iter().zip(&decoded).enumerate() {
        assert_eq!((w.class, w.index), (0, if_index));
        assert_eq!(
            w.sequence,
            i as u32 + 1,
            "flow sequence numbers have no gap"
        );
        assert_eq!(f.sampling_rate, 1);
        assert!(f.drops >= drops, "drops only grow");
        drops = f.drops;
        let pool = u64::from(f.sample_pool);
        assert!(
            pool >= last_pool && pool <= end,
            "sample_pool {pool} below {last_pool} or above {end}"
        );
        last_pool = pool;
        let Flow::RawPacketHeader(h) = &f.records[0] else {
            panic!("{:?}", f.records[0]);
        };
        if !h.header.windows(MARK.len()).any(|w| w == MARK) {
            continue; // a frame of the link's setup (MLD)
        }
        let ours = seen.len() as u64 + 1;
        assert!(
            pool >= before + ours,
            "sample {ours}: pool {pool} below the interface's {before} + {ours}"
        );
        assert_eq!(h.frame_length, (14 + 40 + 8 + PAYLOAD + 4) as u32);
        let (src, dst, dir, seq) = decode_frame(&h.header);
        assert!(seq < per_direction, "a packet that was sent");
        assert!(
            seen.insert((dir, seq)),
            "sampled twice: {} {seq}",
            dir as char
        );
        match dir {
            b'>' => {
                assert_eq!((src, dst), (veth.host_addr, veth.peer_addr));
                assert_eq!((f.input_value, f.output_value), (INTERNAL, if_index));
            }
            b'<' => {
                assert_eq!((src, dst), (veth.peer_addr, veth.host_addr));
                assert_eq!((f.input_value, f.output_value), (if_index, INTERNAL));
            }
            d => panic!("direction {d}"),
        }
    }
    let sent = 2 * u64::from(per_direction);
    assert!(
        after - before >= sent,
        "{} packets on the link",
        after - before
    );
    let got = seen.len() as u64;
    eprintln!("{got} samples of {sent} packets, {drops} drops reported");
    assert!(
        got <= sent && got + u64::from(drops) >= sent,
        "{got} samples of {sent} packets, {drops} drops reported"
    );
    assert!(
        last_pool + 1000 > after,
        "last sample_pool {last_pool}, interface packets {after}"
    );
}

#[test]
fn past_four_rings_a_busy_tap_stays_on_its_queue_said_once() {
    let mut veths = Vec::new();
    for i in 0..5u16 {
        let Some(v) = VethNs::create(&format!("rb{i}"), 62 + i) else {
            return;
        };
        veths.push(v);
    }
    let collector = Collector::bind();
    let taps: String = veths
        .iter()
        .map(|v| format!("  pcap {{ dev = {} sampling = 1 }}\n", v.host))
        .collect();
    let agent = Agent::start("ringb", &config_for(collector.addr(), &taps), &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.stderr().matches("sampling 1 in 1").count() < veths.len() {
        assert!(Instant::now() < deadline, "taps:\n{}", agent.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The collector is not read: its queue overflows, which costs the agent nothing.
    let pairs: Vec<_> = veths
        .iter()
        .map(|v| {
            let peer = v.peer_socket();
            (v.host_socket(), peer.local_addr().unwrap(), peer)
        })
        .collect();
    // 100 packets per tap every 10 ms for 1 s: 10,000 samples a second each, every tap busy.
    let start = Instant::now();
    for b in 0..100u32 {
        for (host, to, _) in &pairs {
            for seq in 0..100 {
                host.send_to(&payload(b'>', seq), to).unwrap();
            }
        }
        let next = start + Duration::from_millis(10 * u64::from(b + 1));
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let log = agent.stderr();
    drop(agent);
    assert_eq!(log.matches(UPGRADED).count(), 4, "{log}");
    assert_eq!(
        log.matches("taps already have a ring").count(),
        1,
        "said once: {log}"
    );
}
