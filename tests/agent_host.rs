//! The agent as a user runs it: the real binary, its real UDP output on loopback, read with the
//! independent decoder and checked against this machine's own numbers.

mod support;

use std::time::{Duration, Instant};

use support::agent::{config_for, run_once, Agent};
use support::sflow::{decode, decoded_samples, walk, Collector, Decoded};

const UUID: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
];

fn meminfo_kb(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn cpu_count() -> u32 {
    let text = std::fs::read_to_string("/proc/stat").unwrap();
    text.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(|b| b.is_ascii_digit()))
        .count() as u32
}

fn proc_text(p: &str) -> String {
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

/// A column of /proc/net/snmp by name, as the kernel prints it (-1 as all ones).
fn snmp(group: &str, column: &str) -> u32 {
    let text = std::fs::read_to_string("/proc/net/snmp").unwrap();
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    let names = lines.next().unwrap();
    let values = lines.next().unwrap();
    let at = names.split_whitespace().position(|n| n == column).unwrap();
    let v: i64 = values.split_whitespace().nth(at).unwrap().parse().unwrap();
    v as u32
}

#[test]
fn host_sample_reaches_the_collector_with_this_machines_numbers() {
    let collector = Collector::bind();
    let agent = Agent::start("host", &config_for(collector.addr(), ""), &[]);
    let d = collector
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no datagram; stderr:\n{}", agent.stderr()));
    let (seq, walked) = walk(&d);
    assert_eq!(seq, 1, "first datagram sequence");
    assert_eq!(walked.len(), 1);
    let s = &walked[0];
    assert_eq!((s.class, s.index, s.sequence), (2, 1, 1));
    // Without a docker block, no virt_node.
    assert_eq!(
        s.tags(),
        vec![2000, 2001, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010]
    );

    let dg = decode(&d);
    assert_eq!(dg.version, 5);
    assert_eq!(dg.sub_agent_id, 100001);
    assert_eq!(format!("{:?}", dg.agent_address), "IPv4(192.0.2.1)");
    let samples = decoded_samples(&dg);
    let (_, _, _, records) = &samples[0];
    let mut seen = 0;
    for r in records {
        match r {
            Decoded::HostDescr(h) => {
                seen += 1;
                assert_eq!(h.hostname, proc_text("/proc/sys/kernel/hostname"));
                assert_eq!(h.os_release, proc_text("/proc/sys/kernel/osrelease"));
                assert_eq!(format!("{:?}", h.machine_type), "X86_64");
                assert_eq!(format!("{:?}", h.os_name), "Linux");
                let uuid = s.record(2000).unwrap();
                let p = (u32::from_be_bytes(uuid[0..4].try_into().unwrap()) as usize + 3) & !3;
                assert_eq!(&uuid[4 + p..20 + p], &UUID);
            }
            Decoded::HostMemory(m) => {
                seen += 1;
                assert_eq!(m.mem_total, meminfo_kb("MemTotal") * 1024);
                assert!(m.mem_free <= m.mem_total);
                assert_eq!(m.swap_total, meminfo_kb("SwapTotal") * 1024);
            }
            Decoded::HostCpu(c) => {
                seen += 1;
                assert_eq!(c.cpu_num, cpu_count());
                assert!(c.load_one >= 0.0 && c.load_one < 1000.0);
                assert!(c.uptime > 0 && c.uptime != u32::MAX);
                assert!(c.proc_total > 0 && c.proc_total != u32::MAX);
                assert!(c.cpu_idle > 0 && c.cpu_idle != u32::MAX);
            }
            Decoded::HostDiskIo(k) => {
                seen += 1;
                assert!(k.disk_total > 0 && k.disk_total != u64::MAX);
                assert!(k.disk_free <= k.disk_total);
                assert!(k.part_max_used <= 10000);
            }
            Decoded::HostNetIo(_) | Decoded::HostAdapters(_) => seen += 1,
            // MIB-II, from /proc/net/snmp by column name: the constants of this kernel.
            Decoded::Mib2IpGroup(ip) => {
                seen += 1;
                assert_eq!(ip.ip_default_ttl, snmp("Ip", "DefaultTTL"));
                assert_eq!(ip.ip_forwarding, snmp("Ip", "Forwarding"));
                assert!(ip.ip_in_receives > 0);
            }
            Decoded::Mib2TcpGroup(tcp) => {
                seen += 1;
                assert_eq!(
                    [
                        tcp.tcp_rto_algorithm,
                        tcp.tcp_rto_min,
                        tcp.tcp_rto_max,
                        tcp.tcp_max_conn
                    ],
                    [
                        snmp("Tcp", "RtoAlgorithm"),
                        snmp("Tcp", "RtoMin"),
                        snmp("Tcp", "RtoMax"),
                        snmp("Tcp", "MaxConn")
                    ]
                );
            }
            Decoded::Mib2UdpGroup(udp) => {
                seen += 1;
                assert!(udp.udp_out_datagrams > 0, "the agent itself sends UDP");
            }
            other => panic!("unexpected record {other:?}"),
        }
    }
    // 2008 is checked by length only (`walk`): the decoder cannot read it.
    assert_eq!(seen, 9);

    // The next poll one interval later carries the next sequence numbers.
    let t = Instant::now();
    let d2 = collector
        .recv(Duration::from_secs(5))
        .expect("second datagram");
    let (seq2, w2) = walk(&d2);
    assert_eq!((seq2, w2[0].sequence), (2, 2));
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[test]
fn docker_block_adds_virt_node() {
    let collector = Collector::bind();
    let _agent = Agent::start("vnode", &config_for(collector.addr(), "  docker { }"), &[]);
    let d = collector.recv(Duration::from_secs(10)).expect("datagram");
    let (_, w) = walk(&d);
    assert_eq!(
        w[0].tags(),
        vec![2000, 2001, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2100]
    );
    let dg = decode(&d);
    let samples = decoded_samples(&dg);
    let node = samples[0].3.iter().find_map(|r| match r {
        Decoded::VirtNode(n) => Some(n.clone()),
        _ => None,
    });
    let node = node.expect("virt_node");
    assert_eq!(node.num_domains, 0);
    assert_eq!(node.cpus, cpu_count());
    assert_eq!(node.memory, meminfo_kb("MemTotal") * 1024);
}

#[test]
fn ipv6_collector_and_agent_address() {
    let collector = Collector::bind_on("[::1]:0");
    let cfg = format!(
        "sflow {{ polling = 1 agentIP = 2001:db8::1 collector {{ ip = ::1 udpport = {} }} }}",
        collector.addr().port()
    );
    let _agent = Agent::start("v6", &cfg, &[]);
    let d = collector.recv(Duration::from_secs(10)).expect("datagram");
    walk(&d);
    assert_eq!(
        u32::from_be_bytes(d[4..8].try_into().unwrap()),
        2,
        "IPv6 agent address type"
    );
    let dg = decode(&d);
    assert_eq!(format!("{:?}", dg.agent_address), "IPv6(2001:db8::1)");
}

#[test]
fn every_collector_gets_every_datagram() {
    let a = Collector::bind();
    let b = Collector::bind();
    let cfg = format!(
        "sflow {{ polling = 1 collector {{ ip = 127.0.0.1 udpport = {} }} collector {{ ip = 127.0.0.1 udpport = {} }} }}",
        a.addr().port(),
        b.addr().port()
    );
    let _agent = Agent::start("two", &cfg, &[]);
    let da = a.recv(Duration::from_secs(10)).expect("a");
    let db = b.recv(Duration::from_secs(10)).expect("b");
    assert_eq!(da, db);
}

#[test]
fn sigterm_flushes_and_exits_zero_promptly() {
    let collector = Collector::bind();
    let mut agent = Agent::start("term", &config_for(collector.addr(), ""), &[]);
    collector.recv(Duration::from_secs(10)).expect("running");
    let t = Instant::now();
    agent.signal("TERM");
    let status = agent
        .wait_exit(Duration::from_secs(5))
        .expect("exit after SIGTERM");
    assert!(status.success(), "{status:?}");
    // Generous bound for a shared machine; the benchmark records the real figure.
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );

    let mut agent = Agent::start("int", &config_for(collector.addr(), ""), &[]);
    std::thread::sleep(Duration::from_millis(300));
    agent.signal("INT");
    assert!(agent
        .wait_exit(Duration::from_secs(5))
        .expect("exit after SIGINT")
        .success());
}

#[test]
fn sighup_swaps_collectors_and_keeps_sequences() {
    let a = Collector::bind();
    let b = Collector::bind();
    let agent = Agent::start("hup", &config_for(a.addr(), ""), &[]);
    a.recv(Duration::from_secs(10)).expect("first");
    let last = a.recv(Duration::from_secs(5)).expect("second");
    let (last_seq, last_w) = walk(&last);

    agent.rewrite_config(&config_for(b.addr(), ""));
    agent.signal("HUP");
    let d = b
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("nothing at the new collector; stderr:\n{}", agent.stderr()));
    let (seq, w) = walk(&d);
    assert!(
        seq > last_seq,
        "datagram sequence restarted: {seq} after {last_seq}"
    );
    assert!(
        w[0].sequence > last_w[0].sequence,
        "sample sequence restarted"
    );
    // The old collector stops receiving (allow one datagram in flight).
    let _ = a.recv(Duration::from_millis(200));
    assert!(
        a.recv(Duration::from_millis(2500)).is_none(),
        "old collector still receives"
    );

    // A broken file on SIGHUP: logged, the running configuration stays in force.
    agent.rewrite_config(
        "sflow {\n  polling = 1\n  collector { ip = 127.0.0.1 udpport = 99999 }\n}\n",
    );
    agent.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let d = b
        .recv(Duration::from_secs(5))
        .expect("still sending after a bad reload");
    let (seq2, _) = walk(&d);
    assert!(seq2 > seq);
    let err = agent.stderr();
    assert!(
        err.contains("csflowd.conf:3"),
        "the error names file and line:\n{err}"
    );
    assert!(err.contains("99999"), "the error quotes the text:\n{err}");
}

#[test]
fn broken_configurations_stop_the_agent_with_status_78() {
    let collector = Collector::bind();
    let port = collector.addr().port();
    let dir = support::agent::temp_dir("bad");
    let good = format!("collector {{ ip = 127.0.0.1 udpport = {port} }}");
    // (file text, line the message must name, text it must quote)
    let cases: Vec<(String, &str, &str)> = vec![
        (format!("sflow {{\npolling = abc\n{good}\n}}\n"), "2", "abc"),
        (
            format!("sflow {{\ndatagramBytes = 100\n{good}\n}}\n"),
            "2",
            "100",
        ),
        (
            format!("sflow {{\nagentIP = 300.1.1.1\n{good}\n}}\n"),
            "2",
            "300.1.1.1",
        ),
        (
            format!("sflow {{\n{good}\ncollector {{ ip = 127.0.0.1 udpport = 70000 }}\n}}\n"),
            "3",
            "70000",
        ),
        (
            format!("sflow {{\n{good}\ncollector {{ ip = 127.0.0.1 udpport = 6343\n"),
            "3",
            "collector",
        ),
        (format!("sflow {{\n{good}\n}}\n}}\n"), "4", "}"),
        (
            format!("sflow {{\n{good}\npcap {{ dev = lo ingress = off\negress = off }}\n}}\n"),
            "4",
            "egress = off",
        ),
    ];
    for (i, (text, line, quoted)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.conf"));
        std::fs::write(&path, text).unwrap();
        let (status, _out, err) = run_once(
            &["-d", "-f", path.to_str().unwrap()],
            Duration::from_secs(10),
        );
        assert_eq!(status.code(), Some(78), "{text}: {status:?} {err}");
        let expect = format!("{}:{line}", path.display());
        assert!(err.contains(&expect), "{text}: no {expect} in {err}");
        assert!(err.contains(quoted), "{text}: no {quoted:?} in {err}");
        assert_eq!(err.lines().count(), 1, "one message: {err}");
    }
    assert!(
        collector.recv(Duration::from_millis(500)).is_none(),
        "a broken configuration sent something"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reference_agent_configuration_loads_with_warnings() {
    let collector = Collector::bind();
    let cfg = format!(
        "# an hsflowd.conf\nsflow {{\n  polling = 1\n  psample {{ group = 5 }}\n  dns-sd {{ domain = .example.com }}\n  frobnicate = 3\n  collector {{ ip = 127.0.0.1 udpport = {} }}\n}}\n",
        collector.addr().port()
    );
    let agent = Agent::start("ref", &cfg, &[]);
    collector
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no datagram; stderr:\n{}", agent.stderr()));
    let err = agent.stderr();
    assert!(err.contains(":4:") && err.contains("psample"), "{err}");
    assert!(err.contains(":6:") && err.contains("frobnicate"), "{err}");
}

#[test]
fn check_option_validates_and_exits() {
    let dir = support::agent::temp_dir("check");
    let good = dir.join("good.conf");
    std::fs::write(&good, "sflow { polling = 7 collector { ip = 127.0.0.1 } }").unwrap();
    let (status, out, _) = run_once(
        &["-t", "-f", good.to_str().unwrap()],
        Duration::from_secs(10),
    );
    assert!(status.success());
    assert!(
        out.contains("polling 7") && out.contains("127.0.0.1:6343"),
        "{out}"
    );
    let (status, _, err) = run_once(&["--polling", "x"], Duration::from_secs(10));
    assert_eq!(status.code(), Some(64), "{err}");
    let (status, out, _) = run_once(&["--help"], Duration::from_secs(10));
    assert!(status.success() && out.contains("--collector"));
    let (status, out, _) = run_once(&["-v"], Duration::from_secs(10));
    assert!(status.success() && out.starts_with("csflowd "));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn print_writes_each_sample_as_a_json_line() {
    let collector = Collector::bind();
    let mut agent = Agent::start("print", &config_for(collector.addr(), ""), &["--print"]);
    collector.recv(Duration::from_secs(10)).expect("one");
    collector.recv(Duration::from_secs(5)).expect("two");
    agent.signal("TERM");
    assert!(agent
        .wait_exit(Duration::from_secs(5))
        .expect("exit")
        .success());
    let out = agent.stdout_after_exit();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "{out}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert_eq!(v["source"], "2:1", "{l}");
    }
}

#[test]
fn fixture_roots_with_missing_files_send_unknown_values() {
    let collector = Collector::bind();
    let dir = support::agent::temp_dir("empty-roots");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = empty.to_str().unwrap();
    let agent = Agent::start(
        "roots",
        &config_for(collector.addr(), ""),
        &["--proc-root", e, "--sys-root", e],
    );
    let d = collector
        .recv(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no datagram; stderr:\n{}", agent.stderr()));
    let (_, w) = walk(&d);
    let mem = w[0].record(2004).unwrap();
    assert!(
        mem[..56].iter().all(|&b| b == 0xff),
        "unknown memory counters are all ones: {mem:02x?}"
    );
    let cpu = w[0].record(2003).unwrap();
    assert_eq!(&cpu[0..4], &(-1.0f32).to_be_bytes(), "unknown load is -1.0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn static_release_binary_is_small_and_has_no_interpreter() {
    let Some(path) = std::env::var_os("CSFLOWD_STATIC_BIN") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run this through make test"
        );
        eprintln!("CSFLOWD_STATIC_BIN not set (run make test): skipped");
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    eprintln!(
        "{}: {} bytes",
        std::path::Path::new(&path).display(),
        bytes.len()
    );
    assert!(bytes.len() < 1_000_000, "binary is {} bytes", bytes.len());
    assert_eq!(&bytes[..4], b"\x7fELF");
    // Program headers: no PT_INTERP (3) and no PT_DYNAMIC with needed libraries means static.
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let phentsize = u16::from_le_bytes(bytes[0x36..0x38].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[0x38..0x3a].try_into().unwrap()) as usize;
    for i in 0..phnum {
        let p_type = u32::from_le_bytes(
            bytes[phoff + i * phentsize..phoff + i * phentsize + 4]
                .try_into()
                .unwrap(),
        );
        assert_ne!(p_type, 3, "PT_INTERP: dynamically linked");
    }
    // No section names survive stripping except the essentials: .symtab must be gone.
    assert!(!bytes.windows(8).any(|w| w == b".symtab\0"), "not stripped");
}

/// Polling 2 s, as a new user would try it: the host sample goes out every 2 s by the agent's own
/// clock (the datagram's uptime), every time, for 13 s. Each poll is one interval after the last
/// deadline, whatever the lateness of the wake-up, so the uptimes step by 2,000 ms give or take
/// the sending delay of one wake-up; the grid never slides to 3 s (it did: uptimes 1000, 4000,
/// 6000, 9003, 12000).
#[test]
fn host_samples_keep_their_grid_at_polling_two() {
    let collector = Collector::bind();
    let cfg = format!(
        "sflow {{ polling = 2 agentIP = 192.0.2.1 collector {{ ip = 127.0.0.1 udpport = {} }} }}",
        collector.addr().port()
    );
    let _agent = Agent::start("grid", &cfg, &[]);
    let mut uptimes = Vec::new();
    let began = Instant::now();
    while uptimes.len() < 7 && began.elapsed() < Duration::from_secs(30) {
        if let Some(d) = collector.recv_source(2, 1, Duration::from_secs(5)) {
            // The uptime follows the agent address (IPv4 here) and the sub-agent id and sequence.
            uptimes.push(u32::from_be_bytes(d[20..24].try_into().unwrap()));
        }
    }
    assert_eq!(uptimes.len(), 7, "host samples: {uptimes:?}");
    for pair in uptimes.windows(2) {
        let step = pair[1] - pair[0];
        assert!(
            (1500..=2500).contains(&step),
            "host samples at uptimes {uptimes:?}: a step of {step} ms"
        );
    }
    // And on the grid of the first: no step's lateness carries into the next.
    let first = uptimes[0];
    for (k, &u) in uptimes.iter().enumerate() {
        let due = first + 2000 * k as u32;
        assert!(
            u + 500 >= due && u <= due + 500,
            "host samples at uptimes {uptimes:?}: poll {k} off its grid"
        );
    }
}
