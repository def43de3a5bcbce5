//! The engine client: non-blocking HTTP/1.1 connections to the engine's UNIX socket, registered in
//! the agent's poller, and the conversation that keeps the container table true.
//!
//! The conversation:
//! 1. `GET /_ping` (unversioned); the version spoken is `min(Api-Version, AGENT_MAX)`.
//! 2. `GET /v{v}/events` (long-lived, filtered to containers, `since=` the last event seen after a
//!    reconnection); once its head is in, `GET /v{v}/containers/json`. Events that arrive before
//!    the list is answered are queued and handed out after it, so nothing is lost in between.
//! 3. `GET /v{v}/containers/{id}/json` on request (at most [`MAX_INSPECTS`] at once, the rest queued).
//! 4. When the events stream or a ping or list fails: every connection is closed, the agent is told,
//!    and the client retries with exponential backoff and jitter ([`BACKOFF_FIRST_MS`] to
//!    [`BACKOFF_MAX_MS`]). A 400 saying the version is too old or too new re-negotiates at once, once.
//!    The list is also taken again every [`RELIST_MS`], which doubles as a liveness check of an engine
//!    whose events stream went quiet.
//!
//! Contract: nothing here blocks. Sockets are non-blocking and connect never waits for `accept`;
//! every one-shot request has a [`REQUEST_TIMEOUT_MS`] deadline on the timer wheel; every buffer is
//! bounded (heads 64 KiB, one event line [`EVENT_LINE_LIMIT`], an inspect [`INSPECT_LIMIT`]); what is
//! over a bound is dropped with one log line and a resync by listing. The list is decoded as its
//! body arrives and never held whole: it keeps at most [`LIST_MAX_CONTAINERS`] containers (~100
//! bytes each) and one element of at most [`docker::LIST_ELEMENT_MAX`] bytes at a time, and the
//! body is refused past [`LIST_LIMIT`] bytes (`docker { maxListBytes }`), which bounds the work a
//! hostile engine can cause rather than memory.
//! One log line per state change of the connection, never a flood.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;

use log::{debug, info, warn};

use crate::docker::{
    self, negotiate, renegotiate, version_rejection, ApiVersion, ContainerId, ContainerList,
    DocError, Inspect, ListDecoder,
};
use crate::http::{self, Event as HttpEvent, LineSplitter, ResponseCollector, ResponseDecoder};
use crate::sys::{self, Watched};
use crate::timer::{TimerId, TimerWheel};

use super::keys::Key;
use super::Timer;

/// Deadline of a one-shot request (and of the events stream's head), milliseconds.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Most inspect requests in flight at once.
pub const MAX_INSPECTS: usize = 8;
/// Interval of the reconciling list, milliseconds.
pub const RELIST_MS: u64 = 120_000;
/// First reconnection delay, milliseconds.
pub const BACKOFF_FIRST_MS: u64 = 250;
/// Longest reconnection delay, milliseconds.
pub const BACKOFF_MAX_MS: u64 = 30_000;
/// Longest event line.
pub const EVENT_LINE_LIMIT: usize = 1 << 20;
/// Largest inspect document.
pub const INSPECT_LIMIT: usize = 1 << 20;
/// Largest ping or error body.
pub const SMALL_LIMIT: usize = 64 << 10;
/// Largest container list body, unless `docker { maxListBytes }` says otherwise. The body is
/// decoded as it arrives, so this bounds reading time, not memory: 65,536 containers of 4 KiB
/// each (dozens of labels and mounts) fit.
pub const LIST_LIMIT: usize = 256 << 20;
/// Most containers taken from one list.
pub const LIST_MAX_CONTAINERS: usize = 65_536;
/// Most events queued while the list is awaited; past it the queue is dropped and the list taken
/// again once this one is in.
pub const QUEUE_LIMIT: usize = 16_384;

/// What the engine client tells the agent.
#[derive(Debug)]
pub enum News {
    /// The running containers, as listed (after a (re)connection and every [`RELIST_MS`]).
    Listed(ContainerList),
    /// A container's inspect document.
    Inspected(Inspect),
    /// The engine does not know this container (inspect answered 404).
    Gone(ContainerId),
    /// An inspect could not be done (error or timeout); the container may be listed later.
    InspectFailed(ContainerId),
    /// A lifecycle event, in the engine's order.
    Event(docker::Event),
    /// The connection to the engine was lost; a reconnection is scheduled.
    Disconnected,
}

/// The engine client's timers, carried in the agent's [`Timer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineTimer {
    /// Time to (re)connect.
    Retry,
    /// Time to list again.
    Relist,
    /// A request's deadline; the slot of its connection.
    Timeout(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Ping,
    Events,
    List,
    Inspect(ContainerId),
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Purpose::Ping => "ping",
            Purpose::Events => "events",
            Purpose::List => "container list",
            Purpose::Inspect(_) => "inspect",
        }
    }
}

enum Reader {
    /// A one-shot response, gathered whole.
    Collect(ResponseCollector),
    /// The container list: decoded as it arrives; a non-200 body is gathered for its message.
    List {
        decoder: ResponseDecoder,
        list: ListDecoder,
        error_body: Vec<u8>,
    },
    /// The events stream: de-chunked and split into lines; a non-200 body is gathered for its
    /// message.
    Stream {
        decoder: ResponseDecoder,
        lines: LineSplitter,
        status: u16,
        error_body: Vec<u8>,
    },
}

struct Conn {
    stream: Watched<UnixStream>,
    purpose: Purpose,
    request: Vec<u8>,
    written: usize,
    reader: Reader,
    timeout: Option<TimerId>,
    /// The version the request was made with.
    version: Option<ApiVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the retry timer.
    Idle,
    /// Ping sent.
    Pinging,
    /// Events stream requested, head not yet in.
    Subscribing,
    /// Events stream established.
    Streaming,
}

/// Why a conversation failed, for the one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure(String);

/// The engine client.
pub struct EngineClient {
    socket: PathBuf,
    list_limit: usize,
    poller: Rc<polling::Poller>,
    conns: Vec<Option<Conn>>,
    phase: Phase,
    version: Option<ApiVersion>,
    podman: bool,
    listing: bool,
    relist_after_list: bool,
    queued: VecDeque<docker::Event>,
    inspect_queue: VecDeque<ContainerId>,
    last_event_nano: Option<u64>,
    backoff_ms: u64,
    renegotiated: bool,
    retry_timer: Option<TimerId>,
    relist_timer: Option<TimerId>,
    last_failure: Option<Failure>,
    connected_once: bool,
    read_buf: Box<[u8; 64 << 10]>,
    rng: crate::rng::Rng,
    logged_bad_event: bool,
}

impl EngineClient {
    /// A client for the engine at `socket`, its connections under [`Key::Engine`] (at most
    /// `MAX_INSPECTS + 3` at once). Call [`EngineClient::start`] to connect.
    pub fn new(poller: &Rc<polling::Poller>, socket: PathBuf, list_limit: usize) -> EngineClient {
        EngineClient {
            socket,
            list_limit,
            poller: poller.clone(),
            conns: Vec::new(),
            phase: Phase::Idle,
            version: None,
            podman: false,
            listing: false,
            relist_after_list: false,
            queued: VecDeque::new(),
            inspect_queue: VecDeque::new(),
            last_event_nano: None,
            backoff_ms: BACKOFF_FIRST_MS,
            renegotiated: false,
            retry_timer: None,
            relist_timer: None,
            last_failure: None,
            connected_once: false,
            read_buf: Box::new([0; 64 << 10]),
            rng: crate::rng::Rng::new(),
            logged_bad_event: false,
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Starts the conversation now.
    pub fn start(&mut self, wheel: &mut TimerWheel<Timer>, now: u64) {
        self.connect(wheel, now);
    }

    /// Asks for a container's inspect document; the answer comes as [`News::Inspected`],
    /// [`News::Gone`] or [`News::InspectFailed`]. Ignored while disconnected (the list after the
    /// reconnection covers it).
    pub fn inspect(
        &mut self,
        id: ContainerId,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        if self.phase != Phase::Streaming {
            news.push(News::InspectFailed(id));
            return;
        }
        // One in flight already answers it. The queue is not searched (at start-up it holds every
        // container): the table asks once per container and its life, and a second answer for the
        // same process changes nothing.
        let busy = self
            .conns
            .iter()
            .flatten()
            .any(|c| c.purpose == Purpose::Inspect(id));
        if busy {
            return;
        }
        self.inspect_queue.push_back(id);
        self.pump_inspects(wheel, now, news);
    }

    fn pump_inspects(&mut self, wheel: &mut TimerWheel<Timer>, now: u64, news: &mut Vec<News>) {
        let Some(version) = self.version else { return };
        while self.in_flight_inspects() < MAX_INSPECTS {
            let Some(id) = self.inspect_queue.pop_front() else {
                return;
            };
            let path = docker::inspect_path(version, &id);
            if let Err(f) = self.open(Purpose::Inspect(id), &path, Some(version), wheel, now) {
                debug!("engine: inspect {}: {}", id.short(), f.0);
                // The engine cannot take a connection now: these wait for the next list.
                news.push(News::InspectFailed(id));
                news.extend(self.inspect_queue.drain(..).map(News::InspectFailed));
                return;
            }
        }
    }

    fn in_flight_inspects(&self) -> usize {
        self.conns
            .iter()
            .flatten()
            .filter(|c| matches!(c.purpose, Purpose::Inspect(_)))
            .count()
    }

    /// `ms` give or take a quarter, so that many agents do not retry in step.
    fn jitter(&mut self, ms: u64) -> u64 {
        ms - ms / 4 + self.rng.below(ms / 2 + 1)
    }

    fn connect(&mut self, wheel: &mut TimerWheel<Timer>, now: u64) {
        if let Some(t) = self.retry_timer.take() {
            wheel.cancel(t);
        }
        self.phase = Phase::Pinging;
        if let Err(f) = self.open(Purpose::Ping, docker::ping_path(), None, wheel, now) {
            self.fail(f, wheel, now, &mut Vec::new());
        }
    }

    /// Opens one connection and queues its request.
    fn open(
        &mut self,
        purpose: Purpose,
        path: &str,
        version: Option<ApiVersion>,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
    ) -> Result<(), Failure> {
        let mut request = Vec::with_capacity(path.len() + 128);
        let close = purpose != Purpose::Events;
        http::write_get(&mut request, path, close)
            .map_err(|e| Failure(format!("{}: {e}", purpose.name())))?;
        let slot = match self.conns.iter().position(Option::is_none) {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let key = Key::Engine(slot).encode();
        let stream = sys::connect_unix(&self.socket).map_err(|e| Failure(connect_reason(&e)))?;
        let stream = Watched::new(&self.poller, stream, polling::Event::writable(key))
            .map_err(|e| Failure(format!("cannot watch the engine socket: {e}")))?;
        let reader = match purpose {
            Purpose::Events => Reader::Stream {
                decoder: ResponseDecoder::new(u64::MAX),
                lines: LineSplitter::new(EVENT_LINE_LIMIT),
                status: 0,
                error_body: Vec::new(),
            },
            Purpose::List => Reader::List {
                decoder: ResponseDecoder::new(self.list_limit as u64),
                list: ListDecoder::new(LIST_MAX_CONTAINERS),
                error_body: Vec::new(),
            },
            Purpose::Inspect(_) => Reader::Collect(ResponseCollector::new(INSPECT_LIMIT)),
            Purpose::Ping => Reader::Collect(ResponseCollector::new(SMALL_LIMIT)),
        };
        let timeout = Some(wheel.insert(
            now + REQUEST_TIMEOUT_MS,
            Timer::Engine(EngineTimer::Timeout(slot)),
        ));
        self.conns[slot] = Some(Conn {
            stream,
            purpose,
            request,
            written: 0,
            reader,
            timeout,
            version,
        });
        Ok(())
    }

    fn close(&mut self, slot: usize, wheel: &mut TimerWheel<Timer>) -> Option<Conn> {
        let conn = self.conns.get_mut(slot)?.take()?;
        if let Some(t) = conn.timeout {
            wheel.cancel(t);
        }
        Some(conn)
    }

    fn close_all(&mut self, wheel: &mut TimerWheel<Timer>) {
        for slot in 0..self.conns.len() {
            self.close(slot, wheel);
        }
    }

    /// A failure of the conversation: close everything, tell the agent, retry later.
    fn fail(&mut self, f: Failure, wheel: &mut TimerWheel<Timer>, now: u64, news: &mut Vec<News>) {
        self.close_all(wheel);
        let was_streaming = self.phase == Phase::Streaming || self.phase == Phase::Subscribing;
        self.phase = Phase::Idle;
        self.listing = false;
        self.queued.clear();
        self.inspect_queue.clear();
        if let Some(t) = self.relist_timer.take() {
            wheel.cancel(t);
        }
        let delay = self.jitter(self.backoff_ms);
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        if self.last_failure.as_ref() != Some(&f) || was_streaming {
            warn!(
                "engine {}: {}; retrying in {} ms (further failures of this kind are not logged)",
                self.socket.display(),
                f.0,
                delay
            );
        } else {
            debug!(
                "engine {}: {}; retrying in {delay} ms",
                self.socket.display(),
                f.0
            );
        }
        self.last_failure = Some(f);
        if was_streaming {
            news.push(News::Disconnected);
        }
        if let Some(t) = self.retry_timer.take() {
            wheel.cancel(t);
        }
        self.retry_timer = Some(wheel.insert(now + delay, Timer::Engine(EngineTimer::Retry)));
    }

    /// A timer of this client fired.
    pub fn on_timer(
        &mut self,
        id: TimerId,
        t: EngineTimer,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        match t {
            EngineTimer::Retry => {
                if self.retry_timer == Some(id) {
                    self.retry_timer = None;
                    self.connect(wheel, now);
                }
            }
            EngineTimer::Relist => {
                if self.relist_timer == Some(id) {
                    self.relist_timer = None;
                    self.start_list(wheel, now, news);
                }
            }
            EngineTimer::Timeout(slot) => {
                let Some(conn) = self.conns.get(slot).and_then(Option::as_ref) else {
                    return;
                };
                if conn.timeout != Some(id) {
                    return;
                }
                let purpose = conn.purpose;
                self.close(slot, wheel);
                self.after_failed_request(
                    purpose,
                    Failure(format!("{} timed out", purpose.name())),
                    wheel,
                    now,
                    news,
                );
            }
        }
    }

    fn start_list(&mut self, wheel: &mut TimerWheel<Timer>, now: u64, news: &mut Vec<News>) {
        if self.phase != Phase::Streaming {
            return;
        }
        if self.listing {
            self.relist_after_list = true;
            return;
        }
        let Some(v) = self.version else { return };
        match self.open(Purpose::List, &docker::list_path(v), Some(v), wheel, now) {
            Ok(()) => self.listing = true,
            Err(f) => self.fail(f, wheel, now, news),
        }
    }

    fn after_failed_request(
        &mut self,
        purpose: Purpose,
        f: Failure,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        match purpose {
            Purpose::Inspect(id) => {
                debug!("engine: inspect {}: {}", id.short(), f.0);
                news.push(News::InspectFailed(id));
                self.pump_inspects(wheel, now, news);
            }
            _ => self.fail(f, wheel, now, news),
        }
    }

    /// A readiness event on one of this client's keys.
    pub fn on_event(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let key = Key::Engine(slot).encode();
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // Write what is left of the request.
        while conn.written < conn.request.len() {
            match conn.stream.get().write(&conn.request[conn.written..]) {
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = conn.stream.rearm(polling::Event::writable(key));
                    return;
                }
                Err(e) => {
                    let purpose = conn.purpose;
                    self.close(slot, wheel);
                    let f = Failure(format!(
                        "{}: sending the request failed: {e}",
                        purpose.name()
                    ));
                    self.after_failed_request(purpose, f, wheel, now, news);
                    return;
                }
            }
        }
        // Read what arrived.
        loop {
            let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            let n = match conn.stream.get().read(&mut self.read_buf[..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = conn.stream.rearm(polling::Event::readable(key));
                    return;
                }
                Err(e) => {
                    let purpose = conn.purpose;
                    self.close(slot, wheel);
                    let f = Failure(format!("{}: reading failed: {e}", purpose.name()));
                    self.after_failed_request(purpose, f, wheel, now, news);
                    return;
                }
            };
            if n == 0 {
                self.on_eof(slot, wheel, now, news);
                return;
            }
            if !self.on_bytes(slot, n, wheel, now, news) {
                return;
            }
        }
    }

    /// Feeds `read_buf[..n]` to the connection in `slot`. Returns whether it is still open.
    fn on_bytes(
        &mut self,
        slot: usize,
        n: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) -> bool {
        let Some(mut conn) = self.conns.get_mut(slot).and_then(Option::take) else {
            return false;
        };
        let input = &self.read_buf[..n];
        let outcome = match &mut conn.reader {
            Reader::Collect(c) => match c.feed(input) {
                Ok(true) => Outcome::Complete,
                Ok(false) => Outcome::More,
                Err(e) => Outcome::Failed(Failure(format!("{}: {e}", conn.purpose.name()))),
            },
            Reader::List {
                decoder,
                list,
                error_body,
            } => feed_list(decoder, list, error_body, input),
            Reader::Stream {
                decoder,
                lines,
                status,
                error_body,
            } => {
                let mut input = input;
                let mut outcome = Outcome::More;
                let mut lines_out: Vec<Result<Vec<u8>, http::Error>> = Vec::new();
                loop {
                    match decoder.next(&mut input) {
                        Ok(Some(HttpEvent::Head(h))) => {
                            *status = h.status;
                            if h.status == 200 {
                                outcome = Outcome::Head;
                            }
                        }
                        Ok(Some(HttpEvent::Data(mut d))) => {
                            if *status != 200 {
                                let room = SMALL_LIMIT.saturating_sub(error_body.len());
                                error_body.extend_from_slice(&d[..d.len().min(room)]);
                                continue;
                            }
                            while let Some(line) = lines.next_line(&mut d) {
                                lines_out.push(line.map(<[u8]>::to_vec));
                            }
                        }
                        Ok(Some(HttpEvent::Done)) => {
                            outcome = Outcome::Ended;
                            break;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            outcome = Outcome::Failed(Failure(format!("events: {e}")));
                            break;
                        }
                    }
                }
                // Lines are handled after the borrow of the connection ends.
                self.conns[slot] = Some(conn);
                let head_now = outcome == Outcome::Head;
                if head_now {
                    self.on_events_head(slot, wheel, now, news);
                }
                for line in lines_out {
                    self.on_event_line(line, wheel, now, news);
                }
                let Some(conn) = self.conns.get_mut(slot).and_then(Option::take) else {
                    return false;
                };
                match outcome {
                    Outcome::Head | Outcome::More => {
                        self.conns[slot] = Some(conn);
                        return true;
                    }
                    other => {
                        self.conns[slot] = Some(conn);
                        self.finish_stream(slot, other, wheel, now, news);
                        return false;
                    }
                }
            }
        };
        self.conns[slot] = Some(conn);
        match outcome {
            Outcome::More => true,
            Outcome::Complete => {
                self.complete(slot, wheel, now, news);
                false
            }
            Outcome::Failed(f) => {
                let purpose = self.conns[slot].as_ref().map(|c| c.purpose);
                self.close(slot, wheel);
                if let Some(p) = purpose {
                    self.after_failed_request(p, f, wheel, now, news);
                }
                false
            }
            Outcome::Head | Outcome::Ended => true,
        }
    }

    fn on_eof(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        match &mut conn.reader {
            Reader::Collect(c) => match c.eof() {
                Ok(()) => self.complete(slot, wheel, now, news),
                Err(e) => {
                    let purpose = conn.purpose;
                    self.close(slot, wheel);
                    let f = Failure(format!("{}: connection closed early ({e})", purpose.name()));
                    self.after_failed_request(purpose, f, wheel, now, news);
                }
            },
            Reader::List { decoder, .. } => match decoder.eof() {
                Ok(()) => self.complete(slot, wheel, now, news),
                Err(e) => {
                    let purpose = conn.purpose;
                    self.close(slot, wheel);
                    let f = Failure(format!("{}: connection closed early ({e})", purpose.name()));
                    self.after_failed_request(purpose, f, wheel, now, news);
                }
            },
            Reader::Stream { .. } => self.finish_stream(slot, Outcome::Ended, wheel, now, news),
        }
    }

    /// The events stream ended, failed or was refused.
    fn finish_stream(
        &mut self,
        slot: usize,
        outcome: Outcome,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let Some(conn) = self.close(slot, wheel) else {
            return;
        };
        if let Reader::Stream {
            status, error_body, ..
        } = &conn.reader
        {
            if *status != 200 && *status != 0 {
                if self.maybe_renegotiate(*status, error_body, conn.version, wheel, now, news) {
                    return;
                }
                let f = Failure(format!("events: status {} {}", status, excerpt(error_body)));
                self.fail(f, wheel, now, news);
                return;
            }
        }
        let f = match outcome {
            Outcome::Failed(f) => f,
            _ => Failure("the events stream ended".into()),
        };
        self.fail(f, wheel, now, news);
    }

    /// A 400 saying the version is too old or too new: take the version the engine names (or ping
    /// again) and start over at once, once. Returns whether it did.
    fn maybe_renegotiate(
        &mut self,
        status: u16,
        body: &[u8],
        tried: Option<ApiVersion>,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) -> bool {
        let (Some(rejection), Some(tried)) = (version_rejection(status, body), tried) else {
            return false;
        };
        if self.renegotiated {
            return false;
        }
        self.renegotiated = true;
        info!(
            "engine {}: API {tried} refused ({rejection:?}); negotiating again",
            self.socket.display()
        );
        let was_streaming = matches!(self.phase, Phase::Streaming | Phase::Subscribing);
        self.close_all(wheel);
        self.listing = false;
        self.queued.clear();
        self.inspect_queue.clear();
        if was_streaming {
            news.push(News::Disconnected);
        }
        match renegotiate(rejection, tried) {
            Ok(Some(v)) => {
                self.version = Some(v);
                self.subscribe(wheel, now, news);
            }
            Ok(None) => self.connect(wheel, now),
            Err(e) => self.fail(
                Failure(format!("no common API version: {e}")),
                wheel,
                now,
                news,
            ),
        }
        true
    }

    fn subscribe(&mut self, wheel: &mut TimerWheel<Timer>, now: u64, news: &mut Vec<News>) {
        let Some(v) = self.version else { return };
        self.phase = Phase::Subscribing;
        let since = self.last_event_nano.map(docker::since_from_time_nano);
        let path = docker::events_path(v, since);
        if let Err(f) = self.open(Purpose::Events, &path, Some(v), wheel, now) {
            self.fail(f, wheel, now, news);
        }
    }

    fn on_events_head(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        // The stream is open: it has no deadline from now on (quiet streams are normal).
        if let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) {
            if let Some(t) = conn.timeout.take() {
                wheel.cancel(t);
            }
        }
        self.phase = Phase::Streaming;
        self.start_list(wheel, now, news);
    }

    fn on_event_line(
        &mut self,
        line: Result<Vec<u8>, http::Error>,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                // An over-long line: close the stream (it may never end), reconnect with `since=`
                // and list again, so nothing after it is lost.
                let f = Failure(format!("events: {e} (over {EVENT_LINE_LIMIT} bytes)"));
                self.fail(f, wheel, now, news);
                return;
            }
        };
        match docker::decode_event(&line) {
            Ok(Some(ev)) => {
                if let Some(t) = ev.time_nano {
                    self.last_event_nano = Some(self.last_event_nano.map_or(t, |l| l.max(t)));
                }
                if self.listing {
                    if self.queued.len() >= QUEUE_LIMIT {
                        self.queued.clear();
                        self.relist_after_list = true;
                    } else {
                        self.queued.push_back(ev);
                    }
                } else {
                    news.push(News::Event(ev));
                }
            }
            Ok(None) => {}
            Err(e) => {
                if !self.logged_bad_event {
                    self.logged_bad_event = true;
                    warn!("engine: an event could not be read ({e}); listing containers to resync");
                }
                self.start_list(wheel, now, news);
            }
        }
    }

    /// A one-shot response is complete.
    fn complete(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let Some(mut conn) = self.close(slot, wheel) else {
            return;
        };
        let (head, body, list) = match &mut conn.reader {
            Reader::Collect(c) => match c.head().copied() {
                Some(head) => (head, c.take_body(), None),
                None => return,
            },
            Reader::List {
                decoder,
                list,
                error_body,
            } => match decoder.head().copied() {
                Some(head) => {
                    let list = std::mem::replace(list, ListDecoder::new(0));
                    (head, std::mem::take(error_body), Some(list))
                }
                None => return,
            },
            Reader::Stream { .. } => return,
        };
        if head.status == 400
            && self.maybe_renegotiate(head.status, &body, conn.version, wheel, now, news)
        {
            return;
        }
        match conn.purpose {
            Purpose::Ping => {
                if head.status != 200 {
                    let f = Failure(format!("ping: status {} {}", head.status, excerpt(&body)));
                    self.fail(f, wheel, now, news);
                    return;
                }
                match negotiate(head.api_version) {
                    Ok(v) => {
                        if self.version != Some(v)
                            || self.podman != head.libpod
                            || !self.connected_once
                        {
                            info!(
                                "engine {}: {} API {} (engine offers {})",
                                self.socket.display(),
                                if head.libpod { "Podman" } else { "Docker" },
                                v,
                                head.api_version
                                    .map_or("none".to_string(), |a| a.to_string())
                            );
                        }
                        self.version = Some(v);
                        self.podman = head.libpod;
                        self.subscribe(wheel, now, news);
                    }
                    Err(e) => self.fail(Failure(format!("unusable engine: {e}")), wheel, now, news),
                }
            }
            Purpose::List => {
                self.listing = false;
                if head.status != 200 {
                    let f = Failure(format!(
                        "container list: status {} {}",
                        head.status,
                        excerpt(&body)
                    ));
                    self.fail(f, wheel, now, news);
                    return;
                }
                let decoded = list.map_or(Err(DocError::Truncated), ListDecoder::finish);
                match decoded {
                    Ok(list) => {
                        if list.malformed > 0 || list.over_cap > 0 {
                            warn!(
                                "engine: container list had {} malformed and {} excess entries",
                                list.malformed, list.over_cap
                            );
                        }
                        if !self.connected_once || self.last_failure.is_some() {
                            info!(
                                "engine {}: tracking {} running containers",
                                self.socket.display(),
                                list.containers.len()
                            );
                        }
                        self.connected_once = true;
                        self.last_failure = None;
                        self.backoff_ms = BACKOFF_FIRST_MS;
                        self.renegotiated = false;
                        news.push(News::Listed(list));
                        news.extend(self.queued.drain(..).map(News::Event));
                    }
                    Err(e) => {
                        warn!("engine: the container list could not be read ({e})");
                        self.queued.clear();
                    }
                }
                if std::mem::take(&mut self.relist_after_list) {
                    self.start_list(wheel, now, news);
                }
                if let Some(t) = self.relist_timer.take() {
                    wheel.cancel(t);
                }
                self.relist_timer =
                    Some(wheel.insert(now + RELIST_MS, Timer::Engine(EngineTimer::Relist)));
            }
            Purpose::Inspect(id) => {
                match head.status {
                    200 => match docker::decode_inspect(&body) {
                        Ok(doc) if doc.id == id => news.push(News::Inspected(doc)),
                        Ok(_) => {
                            debug!("engine: inspect of {} answered for another id", id.short());
                            news.push(News::InspectFailed(id));
                        }
                        Err(e) => {
                            debug!("engine: inspect of {}: {e}", id.short());
                            news.push(News::InspectFailed(id));
                        }
                    },
                    404 => news.push(News::Gone(id)),
                    s => {
                        debug!(
                            "engine: inspect of {}: status {s} {}",
                            id.short(),
                            excerpt(&body)
                        );
                        news.push(News::InspectFailed(id));
                    }
                }
                self.pump_inspects(wheel, now, news);
            }
            Purpose::Events => {}
        }
    }
}

/// Feeds socket bytes to the list's response decoder and its body to the list decoder. The list is
/// complete at the end of the body, or as soon as its JSON is refused (the rest is not read).
fn feed_list(
    decoder: &mut ResponseDecoder,
    list: &mut ListDecoder,
    error_body: &mut Vec<u8>,
    mut input: &[u8],
) -> Outcome {
    loop {
        match decoder.next(&mut input) {
            Ok(Some(HttpEvent::Head(_))) => {}
            Ok(Some(HttpEvent::Data(data))) => {
                if decoder.head().is_some_and(|h| h.status == 200) {
                    if list.feed(data).is_err() {
                        return Outcome::Complete;
                    }
                } else {
                    let room = SMALL_LIMIT.saturating_sub(error_body.len());
                    error_body.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Ok(Some(HttpEvent::Done)) => return Outcome::Complete,
            Ok(None) => return Outcome::More,
            Err(e) => return Outcome::Failed(Failure(format!("container list: {e}"))),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    More,
    Head,
    Complete,
    Ended,
    Failed(Failure),
}

fn connect_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "the socket does not exist".into(),
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens)".into(),
        io::ErrorKind::WouldBlock => "the engine is not accepting connections".into(),
        io::ErrorKind::PermissionDenied => "permission denied on the socket".into(),
        _ => format!("cannot connect: {e}"),
    }
}

/// The start of an error body, printable, for one log line.
fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(&body[..body.len().min(160)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.trim().to_string()
}

// TEMPORARY adapter, until the sans-IO conversation produces `container::News` itself: the
// engine's own news in the table's engine-neutral words.
impl EngineClient {
    /// A readiness event on connection `slot`.
    pub fn on_ready(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        out: &mut Vec<crate::container::News>,
    ) {
        let mut news = Vec::new();
        self.on_event(slot, wheel, now, &mut news);
        neutral(news, out);
    }

    /// One of the client's timers fired.
    pub fn on_deadline(
        &mut self,
        id: TimerId,
        timer: EngineTimer,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        out: &mut Vec<crate::container::News>,
    ) {
        let mut news = Vec::new();
        self.on_timer(id, timer, wheel, now, &mut news);
        neutral(news, out);
    }

    /// The table asks for a container's description.
    pub fn describe(
        &mut self,
        id: ContainerId,
        wheel: &mut TimerWheel<Timer>,
        now: u64,
        out: &mut Vec<crate::container::News>,
    ) {
        let mut news = Vec::new();
        self.inspect(id, wheel, now, &mut news);
        neutral(news, out);
    }
}

fn neutral(news: Vec<News>, out: &mut Vec<crate::container::News>) {
    use crate::container::{Description, EndState, News as N, Presence};
    use crate::docker::{ContainerState, EventKind};
    for n in news {
        out.push(match n {
            News::Listed(list) => N::Present(
                list.containers
                    .iter()
                    .filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Paused))
                    .map(|c| c.id)
                    .collect(),
            ),
            News::Inspected(doc) => N::Described(Description {
                id: doc.id,
                name: doc.name,
                hostname: doc.hostname,
                pid: doc.pid,
                presence: match doc.state {
                    ContainerState::Running => Presence::Running,
                    ContainerState::Paused => Presence::Paused,
                    ContainerState::Stopped => Presence::Ended(EndState::Stopped),
                    _ => Presence::Ended(EndState::Exited),
                },
            }),
            News::Gone(id) | News::InspectFailed(id) => N::Undescribed(id),
            News::Disconnected => N::Lost,
            News::Event(ev) => match ev.kind {
                EventKind::Start | EventKind::Restart => N::Started(ev.id),
                EventKind::Pause => N::Paused(ev.id),
                EventKind::Unpause => N::Resumed(ev.id),
                EventKind::Die => N::Ended(ev.id, EndState::Exited),
                EventKind::Stop => N::Ended(ev.id, EndState::Stopped),
                EventKind::Kill | EventKind::Oom => N::Ending(ev.id),
                EventKind::Update => N::LimitsChanged(ev.id),
                EventKind::Rename => match ev.name {
                    Some(name) => N::Renamed(ev.id, name),
                    None => continue,
                },
                EventKind::Destroy | EventKind::Remove => N::Removed(ev.id),
                _ => continue,
            },
        });
    }
}
