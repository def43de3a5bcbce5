//! The agent against a stand-in engine that misbehaves on demand (tests/support/fake_engine.rs):
//! hangs, broken HTTP framing, bad JSON, version refusals, a socket that refuses or is gone.
//!
//! For every fault the agent must stay up, keep sending its host sample (2:1) once a second, stay
//! small (RSS), stay idle (CPU time), keep its log short, and track containers again (3:N with the
//! container's name) once the engine is healthy. The behaviour checked is ISSUE3-SPEC.md's.
//!
//! The first tests (`fake_engine_*`) check the stand-in itself over raw HTTP, independently of the
//! agent. All bounds are generous (seconds): these machines are shared and noisy.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::fake_engine::{
    event_line, free_pid, split_inside_utf8, Endpoint, FakeEngine, Fault, Script, HUGE_LINE_BYTES,
};
use support::http;
use support::sflow::{walk, Collector, Walked};

// ---------------------------------------------------------------------------------------------
// Expected values, computed independently of the crate.

/// The data source index of a container per ISSUE3-SPEC: 100000 + FNV-1a-32 over the 16 UUID
/// bytes (the first 32 hex digits of the id), each byte XORed in sign-extended as a C `signed
/// char`, modulo 50000 (no probing: the tests choose ids whose indices differ).
fn ds_index(id: &str) -> u32 {
    let mut hash: u32 = 2_166_136_261;
    for i in 0..16 {
        let byte = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap();
        hash ^= byte as i8 as i32 as u32;
        hash = hash.wrapping_mul(16_777_619);
    }
    100_000 + hash % 50_000
}

/// A 64-hex container id, different for every (seed, n).
fn container_id(seed: &str, n: u32) -> String {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes().chain(n.to_le_bytes()) {
        x = (x ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut id = String::new();
    for _ in 0..4 {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        id.push_str(&format!("{:016x}", x.wrapping_mul(0x2545_f491_4f6c_dd1d)));
    }
    id
}

/// Two container ids for a test, with different indices.
fn two_ids(seed: &str) -> (String, String) {
    let a = container_id(seed, 1);
    let mut n = 2;
    loop {
        let b = container_id(seed, n);
        if ds_index(&a) != ds_index(&b) {
            return (a, b);
        }
        n += 1;
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

/// The hostname of a sample's host_descr (2000) record.
fn hostname(sample: &Walked) -> String {
    let r = sample.record(2000).expect("host_descr");
    let len = be32(r, 0) as usize;
    String::from_utf8_lossy(&r[4..4 + len]).into_owned()
}

/// The virt_cpu (2101) state of a sample.
fn virt_state(sample: &Walked) -> u32 {
    be32(sample.record(2101).expect("virt_cpu"), 0)
}

// ---------------------------------------------------------------------------------------------
// The agent under observation.

const POLL_GAP_MAX: Duration = Duration::from_millis(3500);
const RSS_MAX_KB: u64 = 32 * 1024;
/// Clock ticks (USER_HZ, 100 per second on Linux) of CPU a faulty engine may cost in the window.
const CPU_MAX_TICKS: u64 = 50;
const LOG_LINES_MAX: usize = 50;
const WINDOW: Duration = Duration::from_secs(5);
/// How long tracking may take to resume: the agent's timeout (10 s) plus its backoff (≤ ~30 s).
const RESUME: Duration = Duration::from_secs(45);

/// A sample and when it arrived.
struct Seen {
    at: Instant,
    sample: Walked,
}

fn config(collector: &Collector, engine: &FakeEngine) -> String {
    config_for(
        collector.addr(),
        &format!("  docker {{ socket = {} }}", engine.socket().display()),
    )
}

fn start_agent(tag: &str, collector: &Collector, engine: &FakeEngine) -> Agent {
    let agent = Agent::start(tag, &config(collector, engine), &[]);
    let first = collector.recv(Duration::from_secs(10));
    assert!(
        first.is_some(),
        "no datagram from the agent; stderr:\n{}",
        agent.stderr()
    );
    agent
}

/// Every sample that arrives within `span`.
fn collect(collector: &Collector, span: Duration) -> Vec<Seen> {
    let end = Instant::now() + span;
    let mut seen = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Some(d) = collector.recv(left) else { break };
        let at = Instant::now();
        let (_, samples) = walk(&d);
        seen.extend(samples.into_iter().map(|sample| Seen { at, sample }));
    }
    seen
}

/// Waits for a sample of container `id` whose hostname is `name`; fails the test after `timeout`.
fn expect_tracked(
    collector: &Collector,
    agent: &Agent,
    engine: &FakeEngine,
    id: &str,
    name: &str,
    timeout: Duration,
) -> Walked {
    let index = ds_index(id);
    let end = Instant::now() + timeout;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        let Some(d) = collector.recv(left) else { break };
        let (_, samples) = walk(&d);
        if let Some(s) = samples
            .into_iter()
            .find(|s| s.class == 3 && s.index == index && hostname(s) == name)
        {
            return s;
        }
    }
    panic!(
        "no sample 3:{index} named {name:?} within {timeout:?}\nrequests: {:#?}\nstderr:\n{}",
        engine.requests(),
        agent.stderr()
    );
}

fn proc_status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after "pid (comm) ": the first is field 3 (state); utime and stime are 14 and 15.
    let rest = &text[text.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Watches the agent for `WINDOW` while the engine misbehaves: it stays alive, keeps polling the
/// host on schedule, stays small and idle, and does not flood its log. Returns what it sent.
fn assert_healthy_during_fault(agent: &mut Agent, collector: &Collector, what: &str) -> Vec<Seen> {
    let pid = agent.pid();
    let log_before = agent.stderr().lines().count();
    let cpu_before = cpu_ticks(pid);
    let start = Instant::now();
    let seen = collect(collector, WINDOW);
    let end = Instant::now();
    let cpu = cpu_ticks(pid) - cpu_before;
    let rss = proc_status_kb(pid, "VmRSS:");
    let stderr = agent.stderr();
    let log_lines = stderr.lines().count() - log_before;

    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "{what}: the agent exited; stderr:\n{stderr}"
    );
    let mut times = vec![start];
    times.extend(
        seen.iter()
            .filter(|s| (s.sample.class, s.sample.index) == (2, 1))
            .map(|s| s.at),
    );
    times.push(end);
    let worst = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap();
    assert!(
        worst <= POLL_GAP_MAX,
        "{what}: {worst:?} without a host sample; stderr:\n{stderr}"
    );
    assert!(
        cpu <= CPU_MAX_TICKS,
        "{what}: {cpu} ticks of CPU in {WINDOW:?} (busy loop?); stderr:\n{stderr}"
    );
    assert!(rss < RSS_MAX_KB, "{what}: VmRSS {rss} kB");
    assert!(
        log_lines < LOG_LINES_MAX,
        "{what}: {log_lines} log lines in {WINDOW:?}:\n{stderr}"
    );
    seen
}

/// The common shape of a fault test: the engine has container A and misbehaves as `inject` says
/// before the agent starts; the agent is watched through the fault; then `heal` makes the engine
/// healthy, container B starts (table + `start` event), and B must be reported as 3:N with its
/// name. Returns the engine, collector and agent (for further checks) and the ids of A and B.
fn fault_case(
    tag: &str,
    inject: impl FnOnce(&FakeEngine),
    heal: impl FnOnce(&FakeEngine),
) -> (FakeEngine, Collector, Agent, String, String) {
    let (a, b) = two_ids(tag);
    let engine = FakeEngine::start(Script::docker().container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    inject(&engine);
    let collector = Collector::bind();
    let mut agent = start_agent(tag, &collector, &engine);
    assert_healthy_during_fault(&mut agent, &collector, tag);

    heal(&engine);
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    engine.push_action("start", &b);
    expect_tracked(&collector, &agent, &engine, &b, "csflowd-b", RESUME);
    (engine, collector, agent, a, b)
}

fn clear(engine: &FakeEngine) {
    engine.clear_faults();
}

fn clear_and_restart(engine: &FakeEngine) {
    engine.clear_faults();
    engine.restart();
}

// ---------------------------------------------------------------------------------------------
// The agent against each fault.

#[test]
fn agent_survives_an_engine_that_accepts_and_never_answers() {
    fault_case("hang", |e| e.set_fault_all(Fault::HangAfterAccept), clear);
}

#[test]
fn agent_survives_answers_that_stop_after_the_head() {
    fault_case(
        "headhang",
        |e| e.set_fault_all(Fault::HeadThenHang),
        clear_and_restart,
    );
}

#[test]
fn agent_survives_a_list_that_stops_after_the_head() {
    // The list times out (10 s) while the event stream is fine.
    fault_case(
        "listhang",
        |e| e.set_fault(Endpoint::List, Fault::HeadThenHang),
        clear,
    );
}

#[test]
fn agent_survives_an_inspect_that_never_answers() {
    fault_case(
        "inspecthang",
        |e| e.set_fault(Endpoint::Inspect, Fault::HangAfterAccept),
        clear,
    );
}

#[test]
fn agent_survives_a_garbage_chunk_size_in_the_event_stream() {
    fault_case(
        "evgarbage",
        |e| e.set_fault(Endpoint::Events, Fault::GarbageChunkSize),
        clear,
    );
}

#[test]
fn agent_survives_a_garbage_chunk_size_in_inspect_and_list() {
    fault_case(
        "garbage",
        |e| {
            e.set_fault(Endpoint::Inspect, Fault::GarbageChunkSize);
            e.set_fault(Endpoint::List, Fault::GarbageChunkSize);
        },
        clear,
    );
}

#[test]
fn agent_survives_a_truncated_chunk_in_the_event_stream() {
    fault_case(
        "evtrunc",
        |e| e.set_fault(Endpoint::Events, Fault::TruncatedChunk),
        clear,
    );
}

#[test]
fn agent_survives_truncated_chunks_in_list_and_inspect() {
    fault_case(
        "trunc",
        |e| {
            e.set_fault(Endpoint::List, Fault::TruncatedChunk);
            e.set_fault(Endpoint::Inspect, Fault::TruncatedChunk);
        },
        clear,
    );
}

#[test]
fn agent_chunks_split_inside_utf8_sequences_are_reassembled() {
    // Valid overall: tracking works during the "fault", and the names come out whole.
    let (a, b) = two_ids("utf8");
    let engine = FakeEngine::start(
        Script::docker()
            .container(
                &a,
                "csflowd-caf\u{e9}-\u{2615}",
                "running",
                std::process::id(),
            )
            .fault_all(Fault::SplitUtf8),
    );
    let collector = Collector::bind();
    let mut agent = start_agent("utf8", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-caf\u{e9}-\u{2615}",
        Duration::from_secs(15),
    );
    engine.add_container(&b, "csflowd-\u{1f433}", "running", std::process::id());
    assert!(engine.push_action("start", &b) >= 1, "no event stream open");
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-\u{1f433}",
        Duration::from_secs(10),
    );
    assert_healthy_during_fault(&mut agent, &collector, "utf8");
}

#[test]
fn agent_survives_an_event_line_of_8_mib_without_newline() {
    let (_engine, _collector, agent, _, _) = fault_case(
        "hugeline",
        |e| e.set_fault(Endpoint::Events, Fault::HugeLine),
        clear,
    );
    // The agent caps a line at 1 MiB and closes the connection, saying so (once per occurrence,
    // not once per chunk).
    assert!(
        agent.stderr().lines().count() < LOG_LINES_MAX,
        "{}",
        agent.stderr()
    );
}

#[test]
fn agent_survives_8_mib_list_and_inspect_bodies() {
    fault_case(
        "hugebody",
        |e| {
            e.set_fault(Endpoint::List, Fault::HugeLine);
            e.set_fault(Endpoint::Inspect, Fault::HugeLine);
        },
        clear,
    );
}

#[test]
fn agent_survives_an_invalid_json_event() {
    fault_case(
        "evjson",
        |e| e.set_fault(Endpoint::Events, Fault::InvalidJson),
        clear,
    );
}

#[test]
fn agent_survives_invalid_json_documents() {
    fault_case(
        "docjson",
        |e| {
            e.set_fault(Endpoint::List, Fault::InvalidJson);
            e.set_fault(Endpoint::Inspect, Fault::InvalidJson);
        },
        clear,
    );
}

#[test]
fn agent_survives_event_json_of_the_wrong_shape() {
    fault_case(
        "evshape",
        |e| e.set_fault(Endpoint::Events, Fault::WrongShape),
        clear,
    );
}

#[test]
fn agent_survives_documents_of_the_wrong_shape() {
    fault_case(
        "docshape",
        |e| {
            e.set_fault(Endpoint::List, Fault::WrongShape);
            e.set_fault(Endpoint::Inspect, Fault::WrongShape);
        },
        clear,
    );
}

#[test]
fn agent_survives_a_ping_whose_api_version_is_not_a_version() {
    fault_case(
        "pingshape",
        |e| e.set_fault(Endpoint::Ping, Fault::WrongShape),
        clear,
    );
}

#[test]
fn agent_survives_too_new_refusals_everywhere() {
    fault_case("toonew", |e| e.set_fault_all(Fault::TooNew), clear);
}

#[test]
fn agent_survives_text_plain_too_old_refusals() {
    // Docker's own refusal: every versioned path is below the engine's minimum.
    fault_case(
        "tooold",
        |e| e.set_min_api_version("1.44"),
        |e| e.set_min_api_version("1.12"),
    );
}

#[test]
fn agent_survives_404_on_every_endpoint() {
    fault_case("notfound", |e| e.set_fault_all(Fault::NotFound), clear);
}

#[test]
fn agent_survives_500_on_every_endpoint() {
    fault_case("servererr", |e| e.set_fault_all(Fault::ServerError), clear);
}

#[test]
fn agent_survives_500_on_inspect_only() {
    fault_case(
        "inspect500",
        |e| e.set_fault(Endpoint::Inspect, Fault::ServerError),
        clear,
    );
}

#[test]
fn agent_reads_http10_close_delimited_answers() {
    // Legal HTTP: tracking works during the "fault", the event stream included.
    let (a, b) = two_ids("http10");
    let engine = FakeEngine::start(
        Script::docker()
            .container(&a, "csflowd-a", "running", std::process::id())
            .fault_all(Fault::Http10),
    );
    let collector = Collector::bind();
    let mut agent = start_agent("http10", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    engine.push_action("start", &b);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(15),
    );
    assert_healthy_during_fault(&mut agent, &collector, "http10");
}

#[test]
fn agent_survives_connections_closed_mid_chunk() {
    fault_case(
        "midchunk",
        |e| {
            e.set_fault(Endpoint::List, Fault::CloseMidChunk);
            e.set_fault(Endpoint::Inspect, Fault::CloseMidChunk);
        },
        clear,
    );
}

#[test]
fn agent_survives_an_event_stream_closed_mid_chunk() {
    // The stream carries one event whole, then closes in the middle of the next one's chunk.
    let (a, b) = two_ids("evmidchunk");
    let engine = FakeEngine::start(
        Script::docker()
            .container(&a, "csflowd-a", "running", std::process::id())
            .fault(Endpoint::Events, Fault::CloseMidChunk),
    );
    let collector = Collector::bind();
    let mut agent = start_agent("evmidchunk", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    assert!(engine.push_action("start", &b) >= 1, "no event stream open");
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(10),
    );
    engine.set_container_state(&b, "paused", std::process::id());
    engine.push_action("pause", &b);
    assert_healthy_during_fault(&mut agent, &collector, "event stream closed mid-chunk");

    // Healthy again: the pause cut off by the close is not lost (the agent resubscribes with
    // `since`, or re-lists and inspects), and new containers are found.
    engine.clear_faults();
    let end = Instant::now() + RESUME;
    loop {
        let s = expect_tracked(&collector, &agent, &engine, &b, "csflowd-b", RESUME);
        if virt_state(&s) == 3 {
            break;
        }
        assert!(
            Instant::now() < end,
            "no paused sample after pause; stderr:\n{}",
            agent.stderr()
        );
    }
    let c = container_id("evmidchunk", 99);
    engine.add_container(&c, "csflowd-c", "running", std::process::id());
    engine.push_action("start", &c);
    expect_tracked(&collector, &agent, &engine, &c, "csflowd-c", RESUME);
}

#[test]
fn agent_idles_while_the_socket_refuses_and_resumes_with_the_same_index() {
    let (a, b) = two_ids("refuse");
    let engine = FakeEngine::start(Script::docker().container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    let collector = Collector::bind();
    let mut agent = start_agent("refuse", &collector, &engine);
    let before = expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );

    engine.refuse();
    assert!(engine.socket().exists(), "the refusing socket file stays");
    assert_healthy_during_fault(&mut agent, &collector, "refusing socket");

    engine.restart();
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    expect_tracked(&collector, &agent, &engine, &b, "csflowd-b", RESUME);
    // A kept running through the outage: same index (3:N), its sequence continues.
    let after = expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(10),
    );
    assert!(
        after.sequence > before.sequence,
        "sequence of A restarted: {} after {}",
        after.sequence,
        before.sequence
    );
}

#[test]
fn agent_idles_while_the_socket_is_missing() {
    let (a, b) = two_ids("missing");
    let engine = FakeEngine::start(Script::docker().container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    // The agent starts before the engine exists.
    engine.stop();
    assert!(!engine.socket().exists());
    let collector = Collector::bind();
    let mut agent = start_agent("missing", &collector, &engine);
    assert_healthy_during_fault(&mut agent, &collector, "missing socket");

    engine.restart();
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    expect_tracked(&collector, &agent, &engine, &a, "csflowd-a", RESUME);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(10),
    );
}

#[test]
fn agent_survives_a_pid_that_does_not_exist() {
    let (_engine, _collector, _agent, _a, _b) = fault_case(
        "nopid",
        |e| {
            let (_, ghost) = two_ids("nopid-ghost");
            e.add_container(&ghost, "csflowd-nopid", "running", free_pid());
        },
        clear,
    );
}

#[test]
fn agent_container_gone_between_list_and_inspect_is_not_reported() {
    let (a, gone) = two_ids("vanish");
    let engine = FakeEngine::start(Script::docker().container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    engine.add_vanishing_container(&gone, "csflowd-gone");
    let collector = Collector::bind();
    let mut agent = start_agent("vanish", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    assert!(
        engine.wait_for_request(&format!("/containers/{gone}/json"), Duration::from_secs(10)),
        "the listed container was never inspected: {:#?}",
        engine.requests()
    );
    let seen = assert_healthy_during_fault(&mut agent, &collector, "vanished container");
    let gone_index = ds_index(&gone);
    assert!(
        !seen
            .iter()
            .any(|s| s.sample.class == 3 && s.sample.index == gone_index),
        "a sample for the container that vanished"
    );
    assert!(
        seen.iter()
            .any(|s| s.sample.class == 3 && s.sample.index == ds_index(&a)),
        "A is no longer reported"
    );
}

#[test]
fn agent_a_too_new_refusal_makes_the_agent_renegotiate() {
    let (a, b) = two_ids("renego");
    let engine = FakeEngine::start(Script::docker().api_version(Some("1.45")).container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    let collector = Collector::bind();
    let agent = start_agent("renego", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    assert!(engine
        .requests()
        .iter()
        .any(|r| r.contains("/v1.45/events")));

    // The engine is now an older one: /v1.45/ paths get Docker's 400 "too new".
    engine.set_api_version(Some("1.41"));
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    assert!(engine.push_action("start", &b) >= 1, "no event stream open");
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(15),
    );

    let requests = engine.requests();
    let refused = requests
        .iter()
        .position(|r| r.contains(&format!("/v1.45/containers/{b}/json")))
        .unwrap_or_else(|| panic!("B was not inspected at 1.45 first: {requests:#?}"));
    // Renegotiating means either pinging again or taking the version the refusal names; either
    // way the next requests use 1.41 and 1.45 is never used again.
    let lower = requests[refused..]
        .iter()
        .position(|r| r.contains("/v1.41/"))
        .map(|i| i + refused)
        .unwrap_or_else(|| panic!("nothing at /v1.41/ after the refusal: {requests:#?}"));
    assert!(
        requests[refused + 1..lower]
            .iter()
            .all(|r| r.contains("/_ping") || !r.contains("/v1.45/")),
        "1.45 used again before renegotiating: {requests:#?}"
    );
    assert!(
        requests[lower..].iter().all(|r| !r.contains("/v1.45/")),
        "1.45 used again after renegotiating: {requests:#?}"
    );
}

#[test]
fn agent_a_ping_without_api_version_means_1_24() {
    let (a, _) = two_ids("noversion");
    let engine = FakeEngine::start(Script::docker().api_version(None).container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    let collector = Collector::bind();
    let agent = start_agent("noversion", &collector, &engine);
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    let requests = engine.requests();
    assert!(requests.iter().any(|r| r.starts_with("GET /v1.24/events?")));
    assert!(requests
        .iter()
        .any(|r| r.starts_with("GET /v1.24/containers/json")));
    for r in &requests {
        // (An unversioned `GET /version` to learn the version another way is allowed too.)
        assert!(
            r.starts_with("GET /_ping ")
                || r.starts_with("GET /version ")
                || r.starts_with("GET /v1.24/"),
            "{r} (all: {requests:#?})"
        );
    }
}

#[test]
fn agent_refuses_an_engine_older_than_1_24_and_retries_later() {
    let (a, _) = two_ids("tooold-engine");
    let engine = FakeEngine::start(Script::docker().api_version(Some("1.20")).container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    let collector = Collector::bind();
    let mut agent = start_agent("tooold-engine", &collector, &engine);
    assert_healthy_during_fault(&mut agent, &collector, "engine API 1.20");
    let requests = engine.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("GET /_ping ")),
        "{requests:#?}"
    );
    assert!(
        requests.iter().all(|r| !r.contains("/containers/")),
        "talked to an engine below 1.24: {requests:#?}"
    );
    // The engine is upgraded: the agent's next try goes through.
    engine.set_api_version(Some("1.41"));
    expect_tracked(&collector, &agent, &engine, &a, "csflowd-a", RESUME);
}

#[test]
fn agent_events_that_arrive_before_the_list_are_replayed_after_it() {
    let (a, b) = two_ids("replay");
    let engine = FakeEngine::start(
        Script::docker()
            .container(&a, "csflowd-a", "running", std::process::id())
            .fault(Endpoint::List, Fault::Hold),
    );
    let collector = Collector::bind();
    let agent = start_agent("replay", &collector, &engine);
    assert!(
        engine.wait_until(Duration::from_secs(15), |e| e.event_streams() >= 1
            && e.requests().iter().any(|r| r.contains("/containers/json"))),
        "the agent did not subscribe and list: {:#?}\n{}",
        engine.requests(),
        agent.stderr()
    );
    // B starts after the engine made its (held) list: only the event tells about it.
    engine.add_container(&b, "csflowd-b", "running", std::process::id());
    assert!(engine.push_action("start", &b) >= 1);
    std::thread::sleep(Duration::from_millis(500));
    engine.clear_fault(Endpoint::List);

    expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(15),
    );
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(10),
    );
    // B stays tracked: reconciling with a list that does not show it did not retire it.
    let first = expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(5),
    );
    let later = expect_tracked(
        &collector,
        &agent,
        &engine,
        &b,
        "csflowd-b",
        Duration::from_secs(5),
    );
    assert!(later.sequence > first.sequence);
}

#[test]
fn agent_die_gives_exactly_one_final_sample() {
    let (a, _) = two_ids("die");
    let engine = FakeEngine::start(Script::docker().container(
        &a,
        "csflowd-a",
        "running",
        std::process::id(),
    ));
    let collector = Collector::bind();
    let agent = start_agent("die", &collector, &engine);
    let running = expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(15),
    );
    assert_eq!(virt_state(&running), 1, "running");
    expect_tracked(
        &collector,
        &agent,
        &engine,
        &a,
        "csflowd-a",
        Duration::from_secs(5),
    );

    engine.set_container_state(&a, "exited", 0);
    let pushed = Instant::now();
    assert!(engine.push_action("die", &a) >= 1);
    let seen = collect(&collector, Duration::from_secs(5));
    let index = ds_index(&a);
    let mine: Vec<&Seen> = seen
        .iter()
        .filter(|s| s.sample.class == 3 && s.sample.index == index)
        .collect();
    let finals: Vec<&&Seen> = mine.iter().filter(|s| virt_state(&s.sample) == 4).collect();
    assert_eq!(
        finals.len(),
        1,
        "final samples (state 4): {:?}; stderr:\n{}",
        mine.iter()
            .map(|s| (s.sample.sequence, virt_state(&s.sample)))
            .collect::<Vec<_>>(),
        agent.stderr()
    );
    let last = mine.last().unwrap();
    assert_eq!(virt_state(&last.sample), 4, "a sample after the final one");
    assert!(
        last.sample.sequence > running.sequence,
        "sequence continues"
    );
    assert!(
        last.at.duration_since(pushed) < Duration::from_secs(3),
        "the final sample is sent at once"
    );
    assert!(agent_alive(&agent));
}

fn agent_alive(agent: &Agent) -> bool {
    Path::new(&format!("/proc/{}", agent.pid())).exists()
}

// ---------------------------------------------------------------------------------------------
// The stand-in itself, over raw HTTP (no agent).

const T: Duration = Duration::from_secs(2);

/// Decodes a chunked body: (data, saw the terminating 0 chunk). Panics on bad framing.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap();
        body = &body[eol + 2..];
        if size == 0 {
            return (out, true);
        }
        if body.len() < size + 2 {
            out.extend_from_slice(&body[..body.len().min(size)]);
            return (out, false);
        }
        out.extend_from_slice(&body[..size]);
        assert_eq!(&body[size..size + 2], b"\r\n");
        body = &body[size + 2..];
    }
}

/// The chunks of a chunked body, as sent.
fn chunks(mut body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap();
        body = &body[eol + 2..];
        if size == 0 || body.len() < size + 2 {
            break;
        }
        out.push(body[..size].to_vec());
        body = &body[size + 2..];
    }
    out
}

fn split_response(r: &[u8]) -> (&[u8], &[u8]) {
    let end = r.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    (&r[..end], &r[end..])
}

fn get(engine: &FakeEngine, path: &str) -> Vec<u8> {
    http::exchange(
        engine.socket(),
        &http::get(path, true),
        T,
        Duration::from_secs(10),
    )
    .unwrap()
}

/// The body of a whole response, de-chunked when chunked.
fn body_of(r: &[u8]) -> Vec<u8> {
    let (head, body) = split_response(r);
    if http::header(head, "Transfer-Encoding") == Some("chunked") {
        let (data, complete) = dechunk(body);
        assert!(complete, "chunked body not terminated");
        data
    } else {
        if let Some(n) = http::header(head, "Content-Length") {
            assert_eq!(n.parse::<usize>().unwrap(), body.len());
        }
        body.to_vec()
    }
}

fn json_of(r: &[u8]) -> serde_json::Value {
    serde_json::from_slice(&body_of(r)).unwrap()
}

/// Opens an event stream and reads its head (and whatever came with it: concatenate before
/// splitting).
fn open_events(engine: &FakeEngine, query: &str) -> (UnixStream, Vec<u8>) {
    let mut s = UnixStream::connect(engine.socket()).unwrap();
    s.write_all(&http::get(&format!("/v1.41/events{query}"), false))
        .unwrap();
    let head = http::read_head(&mut s, T).unwrap();
    (s, head)
}

#[test]
fn expected_ds_index_matches_the_reference_agents_pairs() {
    // From a real hsflowd run (shared/reference/hsflowd-docker.md); the id's tail does not matter.
    for (uuid, want) in [
        ("520af33257408650f8f67b2c496b528a", 108628),
        ("7cdf880833688538ce27ba6b98501fce", 120727),
        ("1277bddbd14cae70e34c84571d15c03d", 101786),
        ("d049a4af8e4d059a61cf45146e3cf3d3", 133704),
    ] {
        assert_eq!(
            ds_index(&format!("{uuid}{}", "0".repeat(32))),
            want,
            "{uuid}"
        );
    }
}

#[test]
fn fake_engine_pings_like_docker() {
    let engine = FakeEngine::start(Script::docker());
    assert!(http::ping(engine.socket()));
    let r = get(&engine, "/_ping");
    assert_eq!(http::status(&r), Some(200));
    assert_eq!(http::header(&r, "api-version"), Some("1.41"));
    assert_eq!(http::header(&r, "Content-Length"), Some("2"));
    assert_eq!(http::header(&r, "Connection"), Some("close"));

    engine.set_api_version(None);
    let r = get(&engine, "/_ping");
    assert_eq!(http::status(&r), Some(200));
    assert_eq!(http::header(&r, "Api-Version"), None);

    engine.set_api_version(Some("1.45"));
    assert_eq!(
        http::header(&get(&engine, "/v1.45/_ping"), "Api-Version"),
        Some("1.45")
    );
    assert_eq!(engine.requests().len(), 4);
    assert_eq!(engine.requests()[0], "GET /_ping HTTP/1.1");
    assert_eq!(engine.connections(), 4, "one connection per request");
}

#[test]
fn fake_engine_lists_and_inspects_its_table() {
    let (a, b) = two_ids("table");
    let (g, _) = two_ids("table-ghost");
    let engine = FakeEngine::start(
        Script::docker()
            .container(&a, "csflowd-a", "running", 1234)
            .container(&b, "csflowd-b", "exited", 0),
    );
    engine.add_vanishing_container(&g, "csflowd-ghost");
    engine.add_container(&container_id("x", 9), "csflowd-p", "paused", 99);

    let list = json_of(&get(&engine, "/v1.41/containers/json"));
    let list = list.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["Id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![a.as_str(), g.as_str(), container_id("x", 9).as_str()]
    );
    assert_eq!(list[0]["Names"][0], "/csflowd-a");
    assert_eq!(list[0]["State"], "running");
    assert_eq!(list[2]["State"], "paused");

    let r = get(&engine, &format!("/v1.41/containers/{a}/json"));
    assert_eq!(http::status(&r), Some(200));
    assert_eq!(
        http::header(&r, "Transfer-Encoding"),
        Some("chunked"),
        "a big inspect is chunked, as Go does"
    );
    let doc = json_of(&r);
    assert_eq!(doc["Id"], a.as_str());
    assert_eq!(doc["Name"], "/csflowd-a");
    assert_eq!(doc["State"]["Status"], "running");
    assert_eq!(doc["State"]["Pid"], 1234);
    assert_eq!(doc["Config"]["Hostname"], &a[..12]);
    // By short id and by name too.
    assert_eq!(
        json_of(&get(
            &engine,
            &format!("/v1.41/containers/{}/json", &a[..12])
        ))["Id"],
        a.as_str()
    );
    assert_eq!(
        json_of(&get(&engine, "/v1.41/containers/csflowd-b/json"))["State"]["Status"],
        "exited"
    );

    for missing in [g.clone(), "0123456789abcdef".repeat(4)] {
        let r = get(&engine, &format!("/v1.41/containers/{missing}/json"));
        assert_eq!(http::status(&r), Some(404));
        assert_eq!(
            json_of(&r)["message"],
            format!("No such container: {missing}").as_str()
        );
    }
    engine.remove_container(&a);
    assert_eq!(
        http::status(&get(&engine, &format!("/v1.41/containers/{a}/json"))),
        Some(404)
    );
    assert_eq!(
        http::status(&get(&engine, "/v1.41/nothing/here")),
        Some(404)
    );
    let v = json_of(&get(&engine, "/v1.41/version"));
    assert_eq!(v["ApiVersion"], "1.41");
}

#[test]
fn fake_engine_refuses_versions_like_docker() {
    let engine = FakeEngine::start(Script::docker());
    let r = get(&engine, "/v1.99/containers/json");
    assert_eq!(http::status(&r), Some(400));
    assert_eq!(http::header(&r, "Api-Version"), Some("1.41"));
    assert_eq!(
        json_of(&r)["message"],
        "client version 1.99 is too new. Maximum supported API version is 1.41"
    );
    let r = get(&engine, "/v1.11/containers/json");
    assert_eq!(http::status(&r), Some(400));
    assert!(http::header(&r, "Content-Type")
        .unwrap()
        .starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&body_of(&r)).starts_with(
        "client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade"
    ));
    let r = get(&engine, "/v1.99/events");
    assert_eq!(http::status(&r), Some(400), "events are refused too");
    // Without an advertised version, any version above the minimum goes.
    engine.set_api_version(None);
    assert_eq!(
        http::status(&get(&engine, "/v1.99/containers/json")),
        Some(200)
    );
    assert_eq!(
        http::status(&get(&engine, "/v1.24/containers/json")),
        Some(200)
    );
}

#[test]
fn fake_engine_streams_pushed_events_and_replays_since() {
    let (a, _) = two_ids("stream");
    let engine = FakeEngine::start(Script::docker().container(&a, "csflowd-a", "running", 1));
    let (mut s, head) = open_events(&engine, "?filters=%7B%7D");
    assert_eq!(http::status(&head), Some(200));
    assert_eq!(http::header(&head, "Transfer-Encoding"), Some("chunked"));
    assert_eq!(http::header(&head, "Connection"), None);
    assert!(engine.wait_until(T, |e| e.event_streams() == 1));
    assert_eq!(engine.push_action("start", &a), 1);
    let got = http::read_until_quiet(&mut s, Duration::from_millis(300), T).unwrap();
    let all = [head.clone(), got].concat();
    let (_, body) = split_response(&all);
    let (data, done) = dechunk(body);
    assert!(!done, "the stream stays open");
    let event: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert!(data.ends_with(b"\n"));
    assert_eq!(event["Action"], "start");
    assert_eq!(event["Actor"]["ID"], a.as_str());
    assert_eq!(event["Actor"]["Attributes"]["name"], "csflowd-a");
    assert_eq!(chunks(body).len(), 1, "one event, one chunk");

    // since=0 replays what was pushed; a later since does not.
    let (mut s2, head2) = open_events(&engine, "?since=0");
    let replay = http::read_until_quiet(&mut s2, Duration::from_millis(300), T).unwrap();
    let replay = [head2, replay].concat();
    assert!(String::from_utf8_lossy(split_response(&replay).1).contains("\"Action\":\"start\""));
    let (mut s3, head3) = open_events(&engine, "?since=99999999999.5");
    let none = http::read_until_quiet(&mut s3, Duration::from_millis(300), T).unwrap();
    let none = [head3, none].concat();
    let none = split_response(&none).1;
    assert!(none.is_empty(), "{}", String::from_utf8_lossy(none));

    // Stopping ends every stream.
    engine.stop();
    let rest = http::read_until_quiet(&mut s, T, T).unwrap();
    assert!(rest.is_empty());
    assert_eq!(s.read(&mut [0u8; 8]).unwrap(), 0, "EOF after stop");
}

/// One `GET` of the list endpoint under a fault: everything received until quiet/EOF.
fn list_under(engine: &FakeEngine, fault: Fault) -> Vec<u8> {
    engine.set_fault(Endpoint::List, fault);
    http::exchange(
        engine.socket(),
        &http::get("/v1.41/containers/json", true),
        Duration::from_millis(500),
        Duration::from_secs(20),
    )
    .unwrap()
}

#[test]
fn fake_engine_one_shot_faults_look_as_documented() {
    let (a, _) = two_ids("oneshot");
    let engine =
        FakeEngine::start(Script::docker().container(&a, "csflowd-caf\u{e9}", "running", 1));
    let normal = body_of(&get(&engine, "/v1.41/containers/json"));

    assert!(list_under(&engine, Fault::HangAfterAccept).is_empty());
    let r = list_under(&engine, Fault::HeadThenHang);
    let (head, body) = split_response(&r);
    assert_eq!(
        http::header(head, "Content-Length"),
        Some(normal.len().to_string().as_str())
    );
    assert!(body.is_empty());

    let r = list_under(&engine, Fault::GarbageChunkSize);
    assert!(split_response(&r).1.starts_with(b"zz\r\n"));

    let r = list_under(&engine, Fault::TruncatedChunk);
    let body = split_response(&r).1;
    assert!(body.starts_with(b"400\r\n") && body.len() == 5 + 0x100);

    let r = list_under(&engine, Fault::SplitUtf8);
    assert_eq!(body_of(&r), normal, "valid overall");
    let pieces = chunks(split_response(&r).1);
    assert!(pieces.len() >= 2);
    assert!(
        pieces.iter().any(|p| std::str::from_utf8(p).is_err()),
        "a chunk boundary inside a UTF-8 sequence"
    );

    let r = list_under(&engine, Fault::HugeLine);
    let body = body_of(&r);
    assert_eq!(body.len(), HUGE_LINE_BYTES);
    assert!(!body.contains(&b'\n'));

    let r = list_under(&engine, Fault::InvalidJson);
    assert_eq!(http::status(&r), Some(200));
    assert!(serde_json::from_slice::<serde_json::Value>(&body_of(&r)).is_err());

    let r = list_under(&engine, Fault::WrongShape);
    assert!(json_of(&r).is_object(), "an object where the list belongs");

    let r = list_under(&engine, Fault::TooNew);
    assert_eq!(http::status(&r), Some(400));
    assert_eq!(
        json_of(&r)["message"],
        "client version 1.41 is too new. Maximum supported API version is 1.41"
    );
    let r = list_under(&engine, Fault::TooOld);
    assert_eq!(http::status(&r), Some(400));
    assert!(String::from_utf8_lossy(&body_of(&r)).contains("is too old"));
    assert_eq!(
        http::status(&list_under(&engine, Fault::NotFound)),
        Some(404)
    );
    assert_eq!(
        http::status(&list_under(&engine, Fault::ServerError)),
        Some(500)
    );

    let r = list_under(&engine, Fault::Http10);
    assert!(r.starts_with(b"HTTP/1.0 200 OK\r\n"));
    assert_eq!(http::header(&r, "Content-Length"), None);
    assert_eq!(http::header(&r, "Transfer-Encoding"), None);
    assert_eq!(split_response(&r).1, &normal[..]);

    let r = list_under(&engine, Fault::CloseMidChunk);
    let (data, done) = dechunk(split_response(&r).1);
    assert!(!done);
    assert!(data.len() > normal.len() / 2 && data.len() < normal.len());

    let t = Instant::now();
    let r = list_under(&engine, Fault::Delay(Duration::from_millis(300)));
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(body_of(&r), normal);

    // Faults on one endpoint leave the others alone; a fault for all reaches every one.
    assert!(http::ping(engine.socket()));
    engine.clear_faults();
    engine.set_fault_all(Fault::ServerError);
    assert_eq!(http::status(&get(&engine, "/_ping")), Some(500));
    engine.set_fault(Endpoint::Ping, Fault::WrongShape);
    assert_eq!(
        http::header(&get(&engine, "/_ping"), "Api-Version"),
        Some("banana")
    );
    engine.clear_faults();
    assert_eq!(body_of(&get(&engine, "/v1.41/containers/json")), normal);
}

#[test]
fn fake_engine_hang_for_all_reads_nothing_and_hold_answers_when_released() {
    let (a, b) = two_ids("hold");
    let engine = FakeEngine::start(Script::docker().fault_all(Fault::HangAfterAccept));
    let r = http::exchange(
        engine.socket(),
        &http::get("/_ping", true),
        Duration::from_millis(500),
        T,
    )
    .unwrap();
    assert!(r.is_empty());
    assert!(
        engine.requests().is_empty(),
        "hang after accept reads nothing"
    );
    assert_eq!(engine.connections(), 1);

    engine.clear_faults();
    engine.add_container(&a, "csflowd-a", "running", 1);
    engine.set_fault(Endpoint::List, Fault::Hold);
    let socket = engine.socket().to_path_buf();
    let held = std::thread::spawn(move || {
        http::exchange(
            &socket,
            &http::get("/v1.41/containers/json", true),
            Duration::from_secs(10),
            Duration::from_secs(10),
        )
        .unwrap()
    });
    assert!(engine.wait_for_request("/containers/json", T));
    // Added after the request came: the held answer does not show it.
    engine.add_container(&b, "csflowd-b", "running", 2);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!held.is_finished());
    engine.clear_fault(Endpoint::List);
    let r = held.join().unwrap();
    let list = json_of(&r);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Id"], a.as_str());
}

#[test]
fn fake_engine_event_stream_faults_look_as_documented() {
    let (a, _) = two_ids("evfaults");
    let engine =
        FakeEngine::start(Script::docker().container(&a, "csflowd-\u{e9}t\u{e9}", "running", 1));
    let line = event_line("start", &a, "csflowd-\u{e9}t\u{e9}");

    // Split inside UTF-8: the event arrives whole once de-chunked.
    engine.set_fault(Endpoint::Events, Fault::SplitUtf8);
    let (mut s, head) = open_events(&engine, "");
    assert!(engine.wait_until(T, |e| e.event_streams() == 1));
    engine.push_event(&line);
    let got = http::read_until_quiet(&mut s, Duration::from_millis(300), T).unwrap();
    let body = &[head, got].concat();
    let body = split_response(body).1;
    assert_eq!(dechunk(body).0, format!("{line}\n").into_bytes());
    assert!(chunks(body).iter().any(|c| std::str::from_utf8(c).is_err()));
    drop(s);
    assert!(
        engine.wait_until(T, |e| e.event_streams() == 0),
        "a closed client unsubscribes"
    );

    // HTTP/1.0: bare lines.
    engine.set_fault(Endpoint::Events, Fault::Http10);
    let (mut s, head) = open_events(&engine, "");
    assert!(head.starts_with(b"HTTP/1.0 200 OK"));
    assert!(engine.wait_until(T, |e| e.event_streams() == 1));
    engine.push_event(&line);
    let got = http::read_until_quiet(&mut s, Duration::from_millis(300), T).unwrap();
    assert!([head, got]
        .concat()
        .ends_with(format!("\r\n\r\n{line}\n").as_bytes()));
    drop(s);

    // Close mid-chunk: the first event whole, the second cut, then EOF.
    engine.set_fault(Endpoint::Events, Fault::CloseMidChunk);
    let (mut s, head) = open_events(&engine, "");
    assert!(engine.wait_until(T, |e| e.event_streams() == 1));
    engine.push_event(&line);
    engine.push_event(&line);
    let got = http::read_until_quiet(&mut s, T, T).unwrap();
    let all = [head, got].concat();
    let (data, done) = dechunk(split_response(&all).1);
    assert!(!done);
    let with_newline = line.len() + 1;
    assert_eq!(data.len(), with_newline + with_newline / 2);

    // Invalid JSON, wrong shape: bad lines first, then the stream carries on.
    for (fault, bad_lines) in [(Fault::InvalidJson, 1), (Fault::WrongShape, 2)] {
        engine.set_fault(Endpoint::Events, fault);
        let (mut s, head) = open_events(&engine, "");
        assert!(engine.wait_until(T, |e| e.event_streams() == 1));
        engine.push_event(&line);
        let got = http::read_until_quiet(&mut s, Duration::from_millis(300), T).unwrap();
        let all = [head, got].concat();
        let (data, _) = dechunk(split_response(&all).1);
        let lines: Vec<&[u8]> = data
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), bad_lines + 1, "{fault:?}");
        for bad in &lines[..bad_lines] {
            let parsed = serde_json::from_slice::<serde_json::Value>(bad);
            match fault {
                Fault::InvalidJson => assert!(parsed.is_err()),
                _ => assert!(parsed.unwrap().get("Action").is_none_or(|a| !a.is_string())),
            }
        }
        assert_eq!(lines[bad_lines], line.as_bytes());
        drop(s);
        assert!(engine.wait_until(T, |e| e.event_streams() == 0));
    }

    // 8 MiB without a newline, and the stream is not counted as a subscriber.
    engine.set_fault(Endpoint::Events, Fault::HugeLine);
    let (mut s, head) = open_events(&engine, "");
    let got = http::read_until_quiet(&mut s, Duration::from_millis(500), Duration::from_secs(20))
        .unwrap();
    let all = [head, got].concat();
    let (data, done) = dechunk(split_response(&all).1);
    assert!(!done);
    assert_eq!(data.len(), HUGE_LINE_BYTES);
    assert!(!data.contains(&b'\n'));
    assert_eq!(engine.event_streams(), 0);

    // Garbage chunk size and truncated chunk right after the head.
    engine.set_fault(Endpoint::Events, Fault::GarbageChunkSize);
    let (mut s, head) = open_events(&engine, "");
    let got = http::read_until_quiet(&mut s, Duration::from_millis(300), T).unwrap();
    let all = [head, got].concat();
    assert!(split_response(&all).1.starts_with(b"zz\r\n"));
    engine.set_fault(Endpoint::Events, Fault::TruncatedChunk);
    let (mut s, head) = open_events(&engine, "");
    let got = http::read_until_quiet(&mut s, T, T).unwrap();
    let all = [head, got].concat();
    let body = split_response(&all).1;
    assert!(body.starts_with(b"400\r\n") && body.len() == 5 + 0x100);

    // Head then hang: a chunked head, nothing else.
    engine.set_fault(Endpoint::Events, Fault::HeadThenHang);
    let (mut s, head) = open_events(&engine, "");
    assert_eq!(http::header(&head, "Transfer-Encoding"), Some("chunked"));
    engine.push_event(&line);
    assert!(
        http::read_until_quiet(&mut s, Duration::from_millis(300), T)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn fake_engine_stops_refuses_and_restarts_on_the_same_path() {
    let engine = FakeEngine::start(Script::docker());
    let socket = engine.socket().to_path_buf();
    let (mut stream, _) = open_events(&engine, "");
    assert!(engine.wait_until(T, |e| e.event_streams() == 1));

    // The file unlinked: new connections fail, the open stream carries on.
    engine.remove_socket_file();
    assert_eq!(
        UnixStream::connect(&socket).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(
        engine.push_event(r#"{"Type":"container","Action":"start"}"#),
        1
    );
    assert!(
        !http::read_until_quiet(&mut stream, Duration::from_millis(300), T)
            .unwrap()
            .is_empty()
    );

    engine.stop();
    assert!(!engine.serving());
    assert_eq!(stream.read(&mut [0u8; 8]).unwrap(), 0, "EOF on stop");
    assert!(!socket.exists());

    engine.restart();
    assert!(engine.serving());
    assert!(http::ping(&socket));

    engine.refuse();
    assert!(socket.exists());
    assert_eq!(
        UnixStream::connect(&socket).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    engine.restart();
    assert!(http::ping(&socket));
    assert!(engine.connections() >= 3);
}

#[test]
fn fake_engine_keeps_connections_alive_without_connection_close() {
    let engine = FakeEngine::start(Script::docker());
    let mut s = UnixStream::connect(engine.socket()).unwrap();
    s.write_all(&http::get("/_ping", false)).unwrap();
    s.write_all(&http::get("/v1.41/containers/json", true))
        .unwrap();
    let r = http::read_until_quiet(&mut s, T, T).unwrap();
    let text = String::from_utf8_lossy(&r);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.ends_with("[]\n"));
    assert_eq!(engine.connections(), 1);
    assert_eq!(engine.requests().len(), 2);
}

#[test]
fn fake_engine_split_inside_utf8_cuts_inside_sequences_only_and_loses_nothing() {
    let text = "a\u{e9}b\u{2615}\u{1f433}";
    let pieces = split_inside_utf8(text.as_bytes());
    assert_eq!(pieces.concat(), text.as_bytes());
    assert_eq!(pieces.len(), 4);
    assert!(pieces[..3].iter().all(|p| std::str::from_utf8(p).is_err()));
    assert_eq!(split_inside_utf8(b"abcd"), vec![&b"ab"[..], &b"cd"[..]]);
}
