//! `mib2.containers = on` with real, private Docker and Podman engines: each container's sample
//! carries the MIB-II ip, icmp, tcp and udp groups (2007 to 2010) of its own network namespace.
//!
//! Container A has a namespace of its own (`--network none`: only `lo`), B shares it
//! (`--network container:A`), C is on the host's (`--network host`). The test pings A's loopback
//! from inside A (busybox `ping`, 10 echoes: 10 echo requests and 10 replies each way on `lo`) and
//! checks that A's and B's groups moved by at least that while their udp group stays apart from
//! the host's (the host's loopback carries the agent's datagrams to the collector, A's carries no
//! UDP); C carries no groups (documented: they would be the host's). A SIGHUP that turns the
//! option off leaves the records out, one that turns it on again brings them back, and the final
//! samples of B and A carry them. Every datagram is walked (each record's length against its
//! structure) and decoded by flowparser-sflow, whose ip, tcp and udp groups must agree with the
//! walk (its 2008 is skipped: see support/sflow.rs).
//!
//! Needs root and the engine (see support): outside CI a test without them skips, saying why.

mod support;

use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::containers::{ds_index_of, CONTAINER_TAGS, EXITED, RUNNING, STOPPED};
use support::sflow::{decode, decoded_samples, walk, Collector, Decoded};

/// Word positions in the groups (the structures' order, src/wire/mib2_records.rs).
const IP_IN_RECEIVES: usize = 2;
const IP_OUT_REQUESTS: usize = 9;
const ICMP_IN_ECHOS: usize = 7;
const ICMP_IN_ECHO_REPS: usize = 8;
const ICMP_OUT_ECHOS: usize = 19;
const ICMP_OUT_ECHO_REPS: usize = 20;
const UDP_IN_DATAGRAMS: usize = 0;

const PINGS: u32 = 10;

/// One counter sample as the test sees it.
#[derive(Debug, Clone)]
struct Got {
    datagram: usize,
    class: u32,
    index: u32,
    state: Option<u32>,
    tags: Vec<u32>,
    /// The words of 2007, 2008, 2009, 2010, when the sample has all four.
    groups: Option<[Vec<u32>; 4]>,
}

fn words(body: &[u8]) -> Vec<u32> {
    body.chunks(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect()
}

struct Rig {
    collector: Collector,
    got: Vec<Got>,
    datagrams: usize,
}

impl Rig {
    fn pump(&mut self, timeout: Duration) {
        let Some(d) = self.collector.recv(timeout) else {
            return;
        };
        let ordinal = self.datagrams;
        self.datagrams += 1;
        let (_, walked) = walk(&d);
        let decoded = decoded_samples(&decode(&d));
        assert_eq!(walked.len(), decoded.len());
        for (w, (class, index, sequence, records)) in walked.iter().zip(decoded) {
            assert_eq!((w.class, w.index, w.sequence), (class, index, sequence));
            let group = |tag| w.record(tag).map(words);
            let groups = match (group(2007), group(2008), group(2009), group(2010)) {
                (Some(ip), Some(icmp), Some(tcp), Some(udp)) => Some([ip, icmp, tcp, udp]),
                (None, None, None, None) => None,
                other => panic!("some MIB-II groups but not all: {other:?}"),
            };
            // The independent decoder agrees with the walk on every group it can read.
            for r in &records {
                let (tag, theirs) = match r {
                    Decoded::Mib2IpGroup(g) => (2007, format!("{g:?}")),
                    Decoded::Mib2TcpGroup(g) => (2009, format!("{g:?}")),
                    Decoded::Mib2UdpGroup(g) => (2010, format!("{g:?}")),
                    _ => continue,
                };
                let ours = w.record(tag).map(words).unwrap();
                // `Mib2IpGroup { ip_forwarding: 2, ... }`: the numbers after the name.
                let (_, fields) = theirs.split_once('{').unwrap();
                let numbers: Vec<u32> = fields
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().unwrap())
                    .collect();
                assert_eq!(numbers, ours, "record {tag}: decoder vs walk");
            }
            self.got.push(Got {
                datagram: ordinal,
                class,
                index,
                state: w.record(2101).map(|b| words(b)[0]),
                tags: w.tags(),
                groups,
            });
        }
    }

    /// The first sample at position `from` or later that `wanted` takes, within `timeout`.
    fn wait(
        &mut self,
        what: &str,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&Got) -> bool,
    ) -> Got {
        let deadline = Instant::now() + timeout;
        let mut next = from;
        loop {
            if let Some(g) = self.got[next.min(self.got.len())..]
                .iter()
                .find(|g| wanted(g))
            {
                return g.clone();
            }
            next = self.got.len();
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {what} within {timeout:?}"));
            self.pump(left);
        }
    }
}

fn with_groups(tags: &[u32]) -> Vec<u32> {
    let mut t: Vec<u32> = tags.iter().copied().chain(2007..=2010).collect();
    t.sort();
    t
}

fn config(engine: &support::Engine, collector: std::net::SocketAddr, on: bool) -> String {
    let switch = if on { "on" } else { "off" };
    config_for(
        collector,
        &format!(
            "  docker {{ socket = \"{}\" }}\n  mib2.containers = {switch}",
            engine.socket_path().display()
        ),
    )
}

#[test]
fn docker_containers_carry_their_own_namespaces_mib2_groups() {
    let Some(engine) = support::docker() else {
        return;
    };
    namespace_groups(&engine);
}

#[test]
fn podman_containers_carry_their_own_namespaces_mib2_groups() {
    let Some(engine) = support::podman() else {
        return;
    };
    namespace_groups(&engine);
}

fn namespace_groups(engine: &support::Engine) {
    let mut rig = Rig {
        collector: Collector::bind(),
        got: Vec::new(),
        datagrams: 0,
    };
    let agent = Agent::start("mib2", &config(engine, rig.collector.addr(), true), &[]);
    let a = engine.run(&["--network", "none"], &["sleep", "300"]);
    let b = engine.run(&["--network", &format!("container:{a}")], &["sleep", "300"]);
    let c = engine.run(&["--network", "host"], &["sleep", "300"]);
    let (ia, ib, ic) = (ds_index_of(&a), ds_index_of(&b), ds_index_of(&c));
    let prompt = Duration::from_secs(15);
    let of = |i: u32| move |g: &Got| (g.class, g.index) == (3, i) && g.state == Some(RUNNING);

    for i in [ia, ib] {
        let g = rig.wait("a sample of A or B", 0, prompt, of(i));
        assert_eq!(g.tags, with_groups(&CONTAINER_TAGS), "3:{i}: records");
    }
    let g = rig.wait("a sample of C", 0, prompt, of(ic));
    assert_eq!(
        g.tags, CONTAINER_TAGS,
        "C, on the host's network, carries none"
    );

    let before = rig
        .wait("A before", rig.got.len(), prompt, of(ia))
        .groups
        .unwrap();
    engine.cli(&[
        "exec",
        &a,
        "ping",
        "-c",
        &PINGS.to_string(),
        "-i",
        "0.1",
        "127.0.0.1",
    ]);
    // A sample read after the pings: two polls later.
    let mark = rig.got.len();
    rig.wait("A after", mark, prompt, of(ia));
    let after_a = rig.wait("A after", rig.got.len(), prompt, of(ia));
    let after = after_a.groups.clone().unwrap();
    let moved =
        |g: &[Vec<u32>; 4], group: usize, at: usize| g[group][at].wrapping_sub(before[group][at]);
    for (what, group, at, least) in [
        ("ip InReceives", 0, IP_IN_RECEIVES, 2 * PINGS),
        ("ip OutRequests", 0, IP_OUT_REQUESTS, 2 * PINGS),
        ("icmp InEchos", 1, ICMP_IN_ECHOS, PINGS),
        ("icmp OutEchos", 1, ICMP_OUT_ECHOS, PINGS),
        ("icmp InEchoReps", 1, ICMP_IN_ECHO_REPS, PINGS),
        ("icmp OutEchoReps", 1, ICMP_OUT_ECHO_REPS, PINGS),
    ] {
        let d = moved(&after, group, at);
        assert!(
            (least..least + 1000).contains(&d),
            "A's {what} moved by {d}, not at least {least}"
        );
    }
    // B is in A's namespace: the same counters, at least as far along.
    let read_after = after_a.datagram;
    let after_b = rig
        .wait("B after", mark, prompt, move |g| {
            of(ib)(g) && g.datagram >= read_after
        })
        .groups
        .unwrap();
    assert!(
        after_b[1][ICMP_IN_ECHOS] >= before[1][ICMP_IN_ECHOS] + PINGS,
        "B's icmp InEchos"
    );
    // The host's udp group counts the agent's datagrams on the host's loopback; A's none.
    let host = rig.wait("a host sample", mark, prompt, |g| {
        (g.class, g.index) == (2, 1)
    });
    let host_groups = host.groups.unwrap();
    assert!(
        host_groups[3][UDP_IN_DATAGRAMS] >= rig.datagrams as u32,
        "host udp InDatagrams {} < {} datagrams",
        host_groups[3][UDP_IN_DATAGRAMS],
        rig.datagrams
    );
    assert_ne!(after[3], host_groups[3], "A's udp group is not the host's");
    assert!(
        after[3][UDP_IN_DATAGRAMS] < 10,
        "A carries no UDP: {:?}",
        after[3]
    );

    // Off by SIGHUP: no groups; on again: back, for containers attached before.
    let hup = |on: bool, rig: &mut Rig| {
        agent.rewrite_config(&config(engine, rig.collector.addr(), on));
        let reloads = agent.stderr().matches("configuration reloaded").count();
        agent.signal("HUP");
        let deadline = Instant::now() + prompt;
        while agent.stderr().matches("configuration reloaded").count() == reloads {
            assert!(Instant::now() < deadline, "no reload\n{}", agent.stderr());
            rig.pump(Duration::from_millis(100));
        }
        // Datagrams sent before the reload may still wait in the socket: skip one more poll.
        let seen = rig.datagrams;
        rig.wait("a datagram after the reload", rig.got.len(), prompt, |g| {
            g.datagram > seen
        });
        rig.datagrams
    };
    let reloaded = hup(false, &mut rig);
    for i in [ia, ib] {
        let g = rig.wait("a sample after off", rig.got.len(), prompt, move |g| {
            of(i)(g) && g.datagram >= reloaded
        });
        assert_eq!(g.tags, CONTAINER_TAGS, "3:{i} with mib2.containers = off");
    }
    let reloaded = hup(true, &mut rig);
    let g = rig.wait("a sample after on", rig.got.len(), prompt, move |g| {
        of(ia)(g) && g.datagram >= reloaded
    });
    assert!(
        g.groups.unwrap()[1][ICMP_IN_ECHOS] >= after[1][ICMP_IN_ECHOS],
        "A's groups again"
    );

    // Final samples carry the groups: B's (A still runs), then A's, its namespace gone.
    let ended = |i: u32| {
        move |g: &Got| (g.class, g.index) == (3, i) && matches!(g.state, Some(EXITED | STOPPED))
    };
    for (id, i) in [(&b, ib), (&a, ia)] {
        let mark = rig.got.len();
        engine.cli(&["rm", "-f", id]);
        let last = rig.wait("a final sample", mark, prompt, ended(i));
        assert_eq!(
            last.tags,
            with_groups(&CONTAINER_TAGS),
            "final sample of 3:{i}"
        );
        let g = last.groups.unwrap();
        assert!(
            g[1][ICMP_IN_ECHOS] >= after[1][ICMP_IN_ECHOS],
            "final sample of 3:{i}: {g:?}"
        );
    }
    engine.cli(&["rm", "-f", &c]);
    drop(agent);
}
