//! The conversation driven in process with recorded engine answers, split wherever a socket could
//! split them, and an explicit clock. No socket, no process.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::docker::AGENT_MAX;

/// Containers of the recorded Docker list (docker-containers-json.http).
const DOCKER_A: &str = "d07b0022e9437f1aa2f4ebe6ded0984a60d2518174c9430f79635a7d38268488";
const DOCKER_B: &str = "89e807e62379a4fdcd63652410286b71a2b71625f3f4b47b30d3a74d3a269b22";
/// The container of docker-events-lifecycle.http.
const DOCKER_LIFE: &str = "bcdee2898939f0f6336e64442cddb8ebdb7d36d8eb516c8092d6534b4762e397";

fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn id(hex: &str) -> ContainerId {
    ContainerId::parse(hex).unwrap()
}

/// A test id from a number.
fn nid(n: u32) -> ContainerId {
    id(&format!("{n:064x}"))
}

/// Where the head of a recorded response ends.
fn head_len(response: &[u8]) -> usize {
    response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn ping(version: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nApi-Version: {version}\r\nContent-Length: 2\r\n\r\nOK").into_bytes()
}

const STREAM_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

fn event_line(action: &str, who: ContainerId, time_nano: u64) -> Vec<u8> {
    format!(
        r#"{{"Type":"container","Action":"{action}","Actor":{{"ID":"{who}","Attributes":{{"name":"n"}}}},"time":1,"timeNano":{time_nano}}}"#
    )
    .into_bytes()
    .into_iter()
    .chain(*b"\n")
    .collect()
}

fn response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn list_of(entries: &[(ContainerId, &str)]) -> Vec<u8> {
    let items: Vec<String> = entries
        .iter()
        .map(|(i, state)| format!(r#"{{"Id":"{i}","Names":["/c"],"State":"{state}"}}"#))
        .collect();
    response("200 OK", &format!("[{}]", items.join(",")))
}

#[derive(Debug, Clone, Copy)]
enum Split {
    Whole,
    At(usize),
    Bytes,
}

/// The caller's side: the open slots and their request paths, the clock.
struct Harness {
    c: Conversation,
    now: u64,
    open: BTreeMap<usize, String>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(Conversation::new(LIST_LIMIT, RELIST_MS, 7))
    }

    fn with(c: Conversation) -> Harness {
        let mut h = Harness {
            c,
            now: 1_000,
            open: BTreeMap::new(),
        };
        h.c.start(h.now);
        h.pump();
        h
    }

    /// Applies the transmits, checking the slot contract; returns the paths opened.
    fn pump(&mut self) -> Vec<String> {
        let mut opened = Vec::new();
        while let Some(t) = self.c.poll_transmit() {
            match t {
                Transmit::Open { conn, request } => {
                    let text = String::from_utf8(request).unwrap();
                    let path = text.split(' ').nth(1).unwrap().to_string();
                    assert!(text.ends_with("\r\n\r\n"));
                    assert!(
                        self.open.insert(conn, path.clone()).is_none(),
                        "slot {conn} opened twice"
                    );
                    opened.push(path);
                }
                Transmit::Close { conn } => {
                    assert!(self.open.remove(&conn).is_some(), "slot {conn} not open");
                }
            }
        }
        opened
    }

    fn slot(&self, prefix: &str) -> usize {
        self.find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} open: {:?}", self.open))
    }

    fn find(&self, prefix: &str) -> Option<usize> {
        self.open
            .iter()
            .find(|(_, p)| p.starts_with(prefix))
            .map(|(s, _)| *s)
    }

    fn feed(&mut self, slot: usize, bytes: &[u8], split: Split) {
        match split {
            Split::Whole => self.c.handle_bytes(slot, bytes, self.now),
            Split::At(k) => {
                self.c.handle_bytes(slot, &bytes[..k], self.now);
                self.c.handle_bytes(slot, &bytes[k..], self.now);
            }
            Split::Bytes => {
                for b in bytes {
                    self.c.handle_bytes(slot, std::slice::from_ref(b), self.now);
                }
            }
        }
        self.pump();
    }

    fn answer(&mut self, prefix: &str, bytes: &[u8]) {
        let slot = self.slot(prefix);
        self.feed(slot, bytes, Split::Whole);
    }

    fn eof(&mut self, prefix: &str) {
        let slot = self.slot(prefix);
        self.c.handle_eof(slot, self.now);
        self.pump();
    }

    fn news(&mut self) -> Vec<News> {
        std::iter::from_fn(|| self.c.poll_news()).collect()
    }

    /// Moves the clock to `at` and fires what is due.
    fn at(&mut self, at: u64) {
        self.now = at;
        if self.c.poll_timeout().is_some_and(|t| t <= at) {
            self.c.handle_timeout(at);
        }
        self.pump();
    }

    /// Moves the clock to the next deadline and fires it.
    fn next_deadline(&mut self) -> u64 {
        let t = self.c.poll_timeout().unwrap();
        assert!(t >= self.now);
        self.at(t);
        t
    }

    fn describe(&mut self, who: ContainerId) {
        self.c.describe(who, self.now);
        self.pump();
    }

    /// Ping (Docker's recorded answer), events head: the list is asked for.
    fn up(&mut self) {
        self.answer("/_ping", &fixture("recorded/docker-ping.http"));
        self.answer("/v1.41/events", STREAM_HEAD);
        self.slot("/v1.41/containers/json");
    }

    /// [`Harness::up`] and an empty list: streaming, nothing pending.
    fn streaming(&mut self) {
        self.up();
        self.answer("/v1.41/containers/json", &list_of(&[]));
        assert_eq!(self.news(), [News::Present(vec![])]);
    }
}

/// What docker-events-lifecycle.http says, in the table's words.
fn docker_lifecycle_news() -> Vec<News> {
    let life = id(DOCKER_LIFE);
    vec![
        News::Started(life),
        News::Paused(life),
        News::Resumed(life),
        News::Renamed(life, "csflowd-renamed".into()),
        News::Ending(life),
        News::Ending(life),
        News::Ended(life, EndState::Exited),
        News::Ended(life, EndState::Stopped),
        News::Removed(life),
    ]
}

/// ping → events (every event arriving while the list is awaited) → list → describe → inspect,
/// with one of the four answers split as told.
fn docker_conversation(split_of: usize, split: Split) -> Vec<News> {
    let answers = [
        fixture("recorded/docker-ping.http"),
        fixture("recorded/docker-events-lifecycle.http"),
        fixture("recorded/docker-containers-json.http"),
        fixture("recorded/docker-inspect.http"),
    ];
    let how = |i: usize| if i == split_of { split } else { Split::Whole };
    let mut h = Harness::new();
    assert_eq!(h.open.values().collect::<Vec<_>>(), ["/_ping"]);
    let s = h.slot("/_ping");
    h.feed(s, &answers[0], how(0));
    let s = h.slot("/v1.41/events?filters=");
    h.feed(s, &answers[1], how(1));
    let s = h.slot("/v1.41/containers/json?all=1&filters=");
    h.feed(s, &answers[2], how(2));
    assert_eq!(h.find("/v1.41/containers/json"), None);
    let mut news = h.news();
    h.describe(id(DOCKER_A));
    let s = h.slot(&format!("/v1.41/containers/{DOCKER_A}/json"));
    h.feed(s, &answers[3], how(3));
    news.extend(h.news());
    // Only the events stream is left open.
    assert_eq!(h.open.len(), 1);
    news
}

fn docker_expected() -> Vec<News> {
    let mut expected = vec![News::Present(vec![id(DOCKER_B), id(DOCKER_A)])];
    expected.extend(docker_lifecycle_news());
    expected.push(News::Described(Description {
        id: id(DOCKER_A),
        name: "csflowd-a".into(),
        hostname: "d07b0022e943".into(),
        pid: 0,
        presence: Presence::Running,
    }));
    expected
}

/// The pid of the recorded inspect, whatever it was.
fn with_recorded_pid(mut news: Vec<News>) -> Vec<News> {
    if let Some(News::Described(d)) = news.last_mut() {
        assert!(d.pid > 0);
        d.pid = 0;
    }
    news
}

#[test]
fn docker_conversation_whole_and_byte_by_byte() {
    let expected = docker_expected();
    for which in 0..4 {
        assert_eq!(
            with_recorded_pid(docker_conversation(which, Split::Whole)),
            expected
        );
        assert_eq!(
            with_recorded_pid(docker_conversation(which, Split::Bytes)),
            expected,
            "answer {which} byte by byte"
        );
    }
}

#[test]
fn docker_conversation_at_every_split_point() {
    let expected = docker_expected();
    let lens = [
        fixture("recorded/docker-ping.http").len(),
        fixture("recorded/docker-events-lifecycle.http").len(),
        fixture("recorded/docker-containers-json.http").len(),
        fixture("recorded/docker-inspect.http").len(),
    ];
    for (which, len) in lens.into_iter().enumerate() {
        for k in 0..=len {
            assert_eq!(
                with_recorded_pid(docker_conversation(which, Split::At(k))),
                expected,
                "answer {which} split at {k}"
            );
        }
    }
}

#[test]
fn podman_conversation() {
    for split in [Split::Whole, Split::Bytes] {
        let mut h = Harness::new();
        let s = h.slot("/_ping");
        h.feed(s, &fixture("recorded/podman-ping.http"), split);
        let s = h.slot("/v1.41/events");
        // The list is answered first this time: events then go out as they come.
        h.feed(s, STREAM_HEAD, split);
        let s = h.slot("/v1.41/containers/json");
        h.feed(s, &fixture("recorded/podman-containers-json.http"), split);
        let news = h.news();
        let [News::Present(ids)] = &news[..] else {
            panic!("{news:?}")
        };
        assert_eq!(ids.len(), 2);
        let events = fixture("recorded/podman-events-lifecycle.http");
        let s = h.slot("/v1.41/events");
        h.feed(s, &events[head_len(&events)..], split);
        let news = h.news();
        let life = match news.first() {
            Some(News::Started(life)) => *life,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            news,
            [
                News::Started(life),
                News::Paused(life),
                News::Resumed(life),
                News::Renamed(life, "csflowd-renamed".into()),
                News::Ended(life, EndState::Exited),
                News::Removed(life),
            ]
        );
        h.describe(ids[0]);
        let inspect = fixture("recorded/podman-inspect.http");
        let s = h.slot(&format!("/v1.41/containers/{}/json", ids[0]));
        h.feed(s, &inspect, split);
        // Podman's inspect answers about its first listed container? Either way: one answer.
        match &h.news()[..] {
            [News::Described(d)] => {
                assert_eq!(d.id, ids[0]);
                assert_eq!(d.presence, Presence::Running);
            }
            [News::Undescribed(u)] => assert_eq!(*u, ids[0]),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn events_after_the_list_go_out_at_once() {
    let mut h = Harness::new();
    h.up();
    h.answer(
        "/v1.41/containers/json",
        &fixture("recorded/docker-containers-json.http"),
    );
    assert_eq!(h.news().len(), 1);
    let events = fixture("recorded/docker-events-lifecycle.http");
    h.answer("/v1.41/events", &events[head_len(&events)..]);
    assert_eq!(h.news(), docker_lifecycle_news());
}

#[test]
fn events_before_the_list_wait_for_it() {
    let mut h = Harness::new();
    h.up();
    let a = nid(1);
    h.answer("/v1.41/events", &chunk(&event_line("start", a, 5)));
    h.answer("/v1.41/events", &chunk(&event_line("die", a, 6)));
    assert_eq!(h.news(), []);
    h.answer("/v1.41/containers/json", &list_of(&[(a, "running")]));
    assert_eq!(
        h.news(),
        [
            News::Present(vec![a]),
            News::Started(a),
            News::Ended(a, EndState::Exited)
        ]
    );
}

#[test]
fn the_list_keeps_running_and_paused_containers() {
    let mut h = Harness::new();
    h.up();
    let path = h.open[&h.slot("/v1.41/containers/json")].clone();
    assert!(path.contains("?all=1&filters="), "{path}");
    assert_eq!(path, crate::docker::list_path(ApiVersion::new(1, 41)));
    let (r, p, x, c) = (nid(1), nid(2), nid(3), nid(4));
    h.answer(
        "/v1.41/containers/json",
        &list_of(&[(r, "running"), (p, "paused"), (x, "exited"), (c, "created")]),
    );
    assert_eq!(h.news(), [News::Present(vec![r, p])]);
}

#[test]
fn backoff_grows_with_jitter_and_resets_after_a_list() {
    let mut h = Harness::new();
    let mut nominal = BACKOFF_FIRST_MS;
    for _ in 0..10 {
        let s = h.slot("/_ping");
        h.c.handle_io_error(s, IoFailure::Refused, h.now);
        h.pump();
        assert!(h.open.is_empty());
        let delay = h.c.poll_timeout().unwrap() - h.now;
        assert!(
            delay >= nominal - nominal / 4 && delay <= nominal + nominal / 4,
            "{delay} for {nominal}"
        );
        h.at(h.now + delay - 1);
        assert!(h.open.is_empty());
        h.at(h.now + 1);
        assert_eq!(h.open.values().collect::<Vec<_>>(), ["/_ping"]);
        nominal = (nominal * 2).min(BACKOFF_MAX_MS);
    }
    assert_eq!(nominal, BACKOFF_MAX_MS);
    h.streaming();
    // The stream ends: the table hears it, and the next try comes after the first delay again.
    h.eof("/v1.41/events");
    assert_eq!(h.news(), [News::Lost]);
    assert!(h.open.is_empty());
    let delay = h.c.poll_timeout().unwrap() - h.now;
    assert!((187..=375).contains(&delay), "{delay}");
}

#[test]
fn the_same_seed_gives_the_same_delays() {
    let delays = |seed| {
        let mut h = Harness::with(Conversation::new(LIST_LIMIT, RELIST_MS, seed));
        let mut out = Vec::new();
        for _ in 0..5 {
            let s = h.slot("/_ping");
            h.c.handle_io_error(s, IoFailure::NotFound, h.now);
            h.pump();
            let t = h.next_deadline();
            out.push(t);
        }
        out
    };
    assert_eq!(delays(3), delays(3));
}

#[test]
fn a_hung_ping_times_out() {
    let mut h = Harness::new();
    assert_eq!(h.c.poll_timeout(), Some(h.now + REQUEST_TIMEOUT_MS));
    h.at(h.now + REQUEST_TIMEOUT_MS - 1);
    assert_eq!(h.open.len(), 1);
    h.at(h.now + 1);
    assert!(h.open.is_empty());
    // Retried later.
    h.next_deadline();
    h.slot("/_ping");
}

#[test]
fn a_hung_events_head_times_out_but_a_quiet_stream_does_not() {
    let mut h = Harness::new();
    h.answer("/_ping", &fixture("recorded/docker-ping.http"));
    h.slot("/v1.41/events");
    h.at(h.now + REQUEST_TIMEOUT_MS);
    assert!(h.open.is_empty());
    assert_eq!(h.news(), []);
    h.next_deadline();
    h.streaming();
    // Only the re-list is due now, not the stream.
    assert_eq!(h.c.poll_timeout(), Some(h.now + RELIST_MS));
}

#[test]
fn a_hung_list_fails_the_conversation() {
    let mut h = Harness::new();
    h.up();
    h.at(h.now + REQUEST_TIMEOUT_MS);
    assert!(h.open.is_empty());
    assert_eq!(h.news(), [News::Lost]);
}

#[test]
fn a_hung_inspect_is_undescribed_and_the_next_goes() {
    let mut h = Harness::new();
    h.streaming();
    for n in 1..=(MAX_INSPECTS as u32 + 2) {
        h.describe(nid(n));
    }
    assert_eq!(h.open.len(), 1 + MAX_INSPECTS);
    // The same id again while in flight: nothing more.
    h.describe(nid(1));
    assert_eq!(h.open.len(), 1 + MAX_INSPECTS);
    h.at(h.now + REQUEST_TIMEOUT_MS);
    let news = h.news();
    assert_eq!(news.len(), MAX_INSPECTS);
    assert!(news.iter().all(|n| matches!(n, News::Undescribed(_))));
    // The two queued went out when the others timed out.
    assert_eq!(h.open.len(), 3);
    h.slot(&format!("/v1.41/containers/{}/json", nid(9)));
    h.slot(&format!("/v1.41/containers/{}/json", nid(10)));
}

#[test]
fn describe_when_not_streaming_is_undescribed_at_once() {
    let mut h = Harness::new();
    h.describe(nid(1));
    assert_eq!(h.news(), [News::Undescribed(nid(1))]);
    assert_eq!(h.open.len(), 1);
}

#[test]
fn inspect_answers() {
    let mut h = Harness::new();
    h.streaming();
    let (gone, broken, other, paused, stopped) = (nid(1), nid(2), nid(3), nid(4), nid(5));
    h.describe(gone);
    h.answer(
        &format!("/v1.41/containers/{gone}/json"),
        &fixture("recorded/docker-inspect-404.http"),
    );
    assert_eq!(h.news(), [News::Undescribed(gone)]);
    h.describe(broken);
    h.answer(
        &format!("/v1.41/containers/{broken}/json"),
        &response("500 Internal Server Error", r#"{"message":"boom"}"#),
    );
    assert_eq!(h.news(), [News::Undescribed(broken)]);
    // An answer about another container.
    h.describe(other);
    h.answer(
        &format!("/v1.41/containers/{other}/json"),
        &fixture("recorded/docker-inspect.http"),
    );
    assert_eq!(h.news(), [News::Undescribed(other)]);
    let doc = |who: ContainerId, status: &str| {
        response(
            "200 OK",
            &format!(
                r#"{{"Id":"{who}","Name":"/x","State":{{"Status":"{status}","Pid":0}},"Config":{{"Hostname":"h"}}}}"#
            ),
        )
    };
    h.describe(paused);
    h.answer(
        &format!("/v1.41/containers/{paused}/json"),
        &doc(paused, "paused"),
    );
    h.describe(stopped);
    h.answer(
        &format!("/v1.41/containers/{stopped}/json"),
        &doc(stopped, "exited"),
    );
    let presences: Vec<Presence> = h
        .news()
        .into_iter()
        .map(|n| match n {
            News::Described(d) => d.presence,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        presences,
        [Presence::Paused, Presence::Ended(EndState::Exited)]
    );
    // Only the stream is left; the conversation carries on.
    assert_eq!(h.open.len(), 1);
}

#[test]
fn an_inspect_that_cannot_connect_answers_the_queue_too() {
    let mut h = Harness::new();
    h.streaming();
    for n in 1..=(MAX_INSPECTS as u32 + 2) {
        h.describe(nid(n));
    }
    let s = h.slot(&format!("/v1.41/containers/{}/json", nid(1)));
    h.c.handle_io_error(s, IoFailure::NotAccepting, h.now);
    h.pump();
    let news = h.news();
    assert_eq!(
        news,
        [nid(1), nid(9), nid(10)].map(News::Undescribed).to_vec()
    );
    // A read failure of one inspect answers it alone and lets the queue go on.
    let s = h.slot(&format!("/v1.41/containers/{}/json", nid(2)));
    h.c.handle_io_error(s, IoFailure::Read, h.now);
    h.pump();
    assert_eq!(h.news(), [News::Undescribed(nid(2))]);
}

#[test]
fn lost_covers_the_inspects_in_flight() {
    let mut h = Harness::new();
    h.streaming();
    h.describe(nid(1));
    h.describe(nid(2));
    h.eof("/v1.41/events");
    assert_eq!(h.news(), [News::Lost]);
    assert!(h.open.is_empty());
}

#[test]
fn too_new_renegotiates_once() {
    let mut h = Harness::new();
    h.answer("/_ping", &ping("1.45"));
    h.slot("/v1.45/events");
    h.answer(
        "/v1.45/events",
        &fixture("recorded/docker-v1.99-containers-json.http"),
    );
    // The engine named 1.41: the stream is asked for again at once, without a ping.
    h.slot("/v1.41/events");
    assert_eq!(h.c.poll_timeout(), Some(h.now + REQUEST_TIMEOUT_MS));
    assert_eq!(h.news(), []);
    // A second refusal is a failure: backoff.
    h.answer(
        "/v1.41/events",
        &fixture("recorded/docker-v1.99-containers-json.http"),
    );
    assert!(h.open.is_empty());
    assert!(h.c.poll_timeout().unwrap() - h.now <= BACKOFF_FIRST_MS * 2);
}

#[test]
fn too_new_on_the_list_renegotiates_and_tells_the_table() {
    let mut h = Harness::new();
    h.answer("/_ping", &ping("1.45"));
    h.answer("/v1.45/events", STREAM_HEAD);
    h.answer(
        "/v1.45/containers/json",
        &fixture("recorded/docker-v1.99-containers-json.http"),
    );
    assert_eq!(h.news(), [News::Lost]);
    assert_eq!(h.open.len(), 1);
    h.slot("/v1.41/events");
}

#[test]
fn an_engine_too_old_is_refused() {
    let mut h = Harness::new();
    h.answer("/_ping", &ping("1.12"));
    assert!(h.open.is_empty());
    assert!(h.c.poll_timeout().is_some());
    let newest = AGENT_MAX.to_string();
    h.next_deadline();
    h.answer("/_ping", &ping(&newest));
    h.slot(&format!("/v{newest}/events"));
}

#[test]
fn failures_of_ping_events_and_list() {
    let server_error = response("500 Internal Server Error", r#"{"message":"boom"}"#);
    let not_found = response("404 Not Found", r#"{"message":"page not found"}"#);
    for answer in [&server_error, &not_found] {
        let mut h = Harness::new();
        h.answer("/_ping", answer);
        assert!(h.open.is_empty());
        assert_eq!(h.news(), []);

        let mut h = Harness::new();
        h.answer("/_ping", &fixture("recorded/docker-ping.http"));
        h.answer("/v1.41/events", answer);
        assert!(h.open.is_empty());
        assert_eq!(h.news(), []);

        let mut h = Harness::new();
        h.up();
        h.answer("/v1.41/containers/json", answer);
        assert!(h.open.is_empty());
        assert_eq!(h.news(), [News::Lost]);
        // And it comes back.
        h.next_deadline();
        h.streaming();
    }
}

#[test]
fn http10_close_delimited_answers() {
    let mut h = Harness::new();
    h.answer("/_ping", &fixture("http/docker-ping-http10.http"));
    h.answer("/v1.41/events", STREAM_HEAD);
    h.answer("/v1.41/containers/json", &list_of(&[]));
    h.news();
    let inspect = fixture("http/docker-inspect-http10.http");
    let body = &inspect[head_len(&inspect)..];
    let doc = crate::docker::decode_inspect(body).unwrap();
    for split in [Split::Whole, Split::Bytes] {
        h.describe(doc.id);
        let s = h.slot(&format!("/v1.41/containers/{}/json", doc.id));
        h.feed(s, &inspect, split);
        assert_eq!(h.news(), []);
        h.c.handle_eof(s, h.now);
        h.pump();
        match &h.news()[..] {
            [News::Described(d)] => assert_eq!(d.id, doc.id),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn garbage_chunk_size() {
    // On the events stream: the stream is given up.
    let mut h = Harness::new();
    h.streaming();
    h.answer("/v1.41/events", b"zz\r\n");
    assert_eq!(h.news(), [News::Lost]);
    assert!(h.open.is_empty());
    // On the list.
    let mut h = Harness::new();
    h.up();
    let mut list = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    list.extend_from_slice(b"zz\r\n");
    h.answer("/v1.41/containers/json", &list);
    assert_eq!(h.news(), [News::Lost]);
    // On an inspect: only that one.
    let mut h = Harness::new();
    h.streaming();
    h.describe(nid(1));
    h.answer(
        &format!("/v1.41/containers/{}/json", nid(1)),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert_eq!(h.news(), [News::Undescribed(nid(1))]);
    assert_eq!(h.open.len(), 1);
}

#[test]
fn connection_closed_mid_chunk() {
    let truncated = {
        let mut r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n".to_vec();
        r.extend_from_slice(&[b' '; 0x100]);
        r
    };
    let mut h = Harness::new();
    h.up();
    h.answer("/v1.41/containers/json", &truncated);
    h.eof("/v1.41/containers/json");
    assert_eq!(h.news(), [News::Lost]);
    assert!(h.open.is_empty());

    let mut h = Harness::new();
    h.streaming();
    h.describe(nid(1));
    let prefix = format!("/v1.41/containers/{}/json", nid(1));
    h.answer(&prefix, &truncated);
    h.eof(&prefix);
    assert_eq!(h.news(), [News::Undescribed(nid(1))]);

    // The events stream cut off in a chunk.
    h.answer("/v1.41/events", b"40\r\n{\"Type\"");
    h.eof("/v1.41/events");
    assert_eq!(h.news(), [News::Lost]);
}

#[test]
fn an_endless_line_is_cut_off_and_the_stream_resumed_since_the_last_event() {
    let mut h = Harness::new();
    h.streaming();
    let a = nid(1);
    let t = 1_795_622_925_274_100_412;
    h.answer("/v1.41/events", &chunk(&event_line("start", a, t)));
    assert_eq!(h.news(), [News::Started(a)]);
    let piece = chunk(&vec![b'x'; 64 << 10]);
    let mut fed = 0;
    while h.find("/v1.41/events").is_some() {
        assert!(fed <= 8 << 20, "an 8 MiB line was taken");
        h.answer("/v1.41/events", &piece);
        fed += 64 << 10;
    }
    assert!(fed > EVENT_LINE_LIMIT);
    assert_eq!(h.news(), [News::Lost]);
    h.next_deadline();
    h.answer("/_ping", &fixture("recorded/docker-ping.http"));
    let since = h.open[&h.slot("/v1.41/events")].clone();
    assert!(
        since.starts_with("/v1.41/events?since=1795622925.274100412&filters="),
        "{since}"
    );
}

#[test]
fn since_after_a_reconnection_is_the_latest_event() {
    let mut h = Harness::new();
    h.up();
    h.answer(
        "/v1.41/containers/json",
        &fixture("recorded/docker-containers-json.http"),
    );
    let events = fixture("recorded/docker-events-lifecycle.http");
    h.answer("/v1.41/events", &events[head_len(&events)..]);
    let text = String::from_utf8_lossy(&events);
    let latest = text
        .match_indices("\"timeNano\":")
        .map(|(i, m)| {
            let digits: String = text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().unwrap()
        })
        .max()
        .unwrap();
    h.eof("/v1.41/events");
    h.next_deadline();
    h.answer("/_ping", &fixture("recorded/docker-ping.http"));
    let path = h.open[&h.slot("/v1.41/events")].clone();
    let (s, n) = since_from_time_nano(latest);
    assert!(
        path.starts_with(&format!("/v1.41/events?since={s}.{n:09}&filters=")),
        "{path}"
    );
}

#[test]
fn an_unreadable_event_relists() {
    let mut h = Harness::new();
    h.streaming();
    h.answer("/v1.41/events", &chunk(b"{not json\n"));
    h.slot("/v1.41/containers/json");
    // A second one while listing asks for one more list after it, not two at once.
    h.answer("/v1.41/events", &chunk(b"[1,2]\n"));
    assert_eq!(h.open.len(), 2);
    h.answer("/v1.41/containers/json", &list_of(&[]));
    assert_eq!(h.news(), [News::Present(vec![])]);
    h.slot("/v1.41/containers/json");
    h.answer("/v1.41/containers/json", &list_of(&[]));
    assert_eq!(h.news(), [News::Present(vec![])]);
    assert_eq!(h.open.len(), 1);
}

#[test]
fn queue_overflow_drops_the_held_events_and_lists_again() {
    let mut h = Harness::new();
    h.up();
    let a = nid(1);
    let mut stream = Vec::new();
    for i in 0..=QUEUE_LIMIT as u64 {
        stream.extend(chunk(&event_line("start", a, i)));
    }
    // Two more after the overflow.
    stream.extend(chunk(&event_line("pause", a, 1 << 40)));
    stream.extend(chunk(&event_line("unpause", a, 1 << 41)));
    h.answer("/v1.41/events", &stream);
    assert_eq!(h.news(), []);
    h.answer("/v1.41/containers/json", &list_of(&[(a, "running")]));
    assert_eq!(
        h.news(),
        [News::Present(vec![a]), News::Paused(a), News::Resumed(a)]
    );
    // The list is taken again.
    h.slot("/v1.41/containers/json");
    h.answer("/v1.41/containers/json", &list_of(&[(a, "paused")]));
    assert_eq!(h.news(), [News::Present(vec![a])]);
}

#[test]
fn a_list_over_the_limit_fails() {
    let mut h = Harness::with(Conversation::new(1000, RELIST_MS, 1));
    h.up();
    let many: Vec<(ContainerId, &str)> = (1..=20).map(|n| (nid(n), "running")).collect();
    h.answer("/v1.41/containers/json", &list_of(&many));
    assert_eq!(h.news(), [News::Lost]);
    assert!(h.open.is_empty());
}

#[test]
fn the_list_is_taken_again_periodically() {
    let relist = 5_000;
    let mut h = Harness::with(Conversation::new(LIST_LIMIT, relist, 1));
    h.streaming();
    let listed = h.now;
    assert_eq!(h.c.poll_timeout(), Some(listed + relist));
    h.at(listed + relist - 1);
    assert_eq!(h.find("/v1.41/containers/json"), None);
    h.at(listed + relist);
    h.slot("/v1.41/containers/json");
    h.answer("/v1.41/containers/json", &list_of(&[(nid(1), "running")]));
    assert_eq!(h.news(), [News::Present(vec![nid(1)])]);
    assert_eq!(h.c.poll_timeout(), Some(listed + 2 * relist));
}

#[test]
fn input_for_a_closed_slot_is_ignored() {
    let mut h = Harness::new();
    h.c.handle_bytes(7, b"HTTP/1.1 200 OK\r\n\r\n", h.now);
    h.c.handle_eof(7, h.now);
    h.c.handle_io_error(7, IoFailure::Read, h.now);
    assert_eq!(h.pump(), Vec::<String>::new());
    assert_eq!(h.open.len(), 1);
}

#[test]
fn failures_display() {
    let f = Failure {
        request: Request::List,
        cause: Cause::Status(500),
    };
    assert_eq!(f.to_string(), "container list: status 500");
    let f = Failure {
        request: Request::Ping,
        cause: Cause::Io(IoFailure::Refused),
    };
    assert_eq!(f.to_string(), "ping: connection refused (nothing listens)");
    let f = Failure {
        request: Request::Events,
        cause: Cause::Http(http::Error::LineTooLong),
    };
    assert_eq!(f.to_string(), "events: event line over 1048576 bytes");
}

/// The conversation and the container table together, in process: the news the conversation hands
/// out goes to the table, the table's requests for descriptions come back as inspects answered by
/// `states` (a container missing from it answers 404). Returns the samples the table sent.
fn settle(
    h: &mut Harness,
    table: &mut crate::container::Table,
    states: &BTreeMap<ContainerId, &str>,
) -> Vec<crate::container::Sample> {
    use crate::container::Action;
    let mut samples = Vec::new();
    while let Some(news) = h.c.poll_news() {
        table.handle_news(news, h.now);
        while let Some(action) = table.poll_action() {
            match action {
                Action::Describe(who) => {
                    h.describe(who);
                    let path = format!("/v1.41/containers/{who}/json");
                    if h.find(&path).is_none() {
                        continue;
                    }
                    let answer = match states.get(&who) {
                        Some(status) => response(
                            "200 OK",
                            &format!(
                                r#"{{"Id":"{who}","Name":"/c{}","State":{{"Status":"{status}","Pid":{}}},"Config":{{"Hostname":"h"}}}}"#,
                                who.short().as_str(),
                                if *status == "exited" { 0 } else { 4242 }
                            ),
                        ),
                        None => fixture("recorded/docker-inspect-404.http"),
                    };
                    h.answer(&path, &answer);
                }
                Action::Sample(s) => samples.push(s),
                _ => {}
            }
        }
    }
    samples
}

/// Defect 6b, from the engine's bytes to the samples: the engine restarts without live-restore and
/// kills a paused container. Its `unpause`, `kill`, `die` and `stop` events may come before the old
/// stream closes or be replayed (`since=`) on the new one, before or after the new list: every
/// split and order gives exactly one final sample, and nothing of it after.
#[test]
fn an_engine_restart_under_a_paused_container_gives_one_final_sample_in_every_order() {
    use crate::container::{Sample, Table};
    use crate::schedule::Interval;
    // Ids that differ in their first 16 bytes, so their data source indices differ.
    let (frozen, other) = (id(&"f0".repeat(32)), id(&"07".repeat(32)));
    let actions = ["unpause", "kill", "die", "stop"];
    for before_close in 0..=actions.len() {
        for replay_before_list in [false, true] {
            let case = format!("{before_close} events before the close, replay before the list: {replay_before_list}");
            let mut h = Harness::new();
            let mut table = Table::new(Interval::from_secs(10), false, 3);
            let mut states = BTreeMap::from([(frozen, "running"), (other, "running")]);
            let mut samples: Vec<Sample> = Vec::new();
            h.up();
            h.answer(
                "/v1.41/containers/json",
                &list_of(&[(frozen, "running"), (other, "running")]),
            );
            samples.extend(settle(&mut h, &mut table, &states));
            let mut time = 1_795_000_000_000_000_000u64;
            let mut event = |h: &mut Harness, action: &str| {
                time += 1_000;
                h.answer("/v1.41/events", &chunk(&event_line(action, frozen, time)));
            };
            event(&mut h, "pause");
            states.insert(frozen, "paused");
            samples.extend(settle(&mut h, &mut table, &states));
            // The engine goes down: what it said before closing the stream.
            for action in &actions[..before_close] {
                event(&mut h, action);
            }
            states.insert(frozen, "exited");
            samples.extend(settle(&mut h, &mut table, &states));
            h.eof("/v1.41/events");
            samples.extend(settle(&mut h, &mut table, &states));
            // Back: ping, events head, the list asked for.
            h.next_deadline();
            h.answer("/_ping", &fixture("recorded/docker-ping.http"));
            h.answer("/v1.41/events", STREAM_HEAD);
            let replay = |h: &mut Harness, event: &mut dyn FnMut(&mut Harness, &str)| {
                for action in &actions[before_close..] {
                    event(h, action);
                }
            };
            if replay_before_list {
                replay(&mut h, &mut event);
            }
            h.answer("/v1.41/containers/json", &list_of(&[(other, "running")]));
            samples.extend(settle(&mut h, &mut table, &states));
            if !replay_before_list {
                replay(&mut h, &mut event);
            }
            samples.extend(settle(&mut h, &mut table, &states));

            let mine: Vec<&Sample> = samples.iter().filter(|s| s.uuid == frozen.uuid()).collect();
            assert_eq!(
                mine.iter().filter(|s| s.last).count(),
                1,
                "{case}: {mine:?}"
            );
            assert!(mine.last().is_some_and(|s| s.last), "{case}: after the end");
            assert_eq!(mine[0].sequence, 1, "{case}");
            assert_eq!(table.alive(), 1, "{case}: the other lives on");
        }
    }
}
