//! The engine conversation as a state machine without I/O: bytes and times in, requests, deadlines
//! and container [`News`] out.
//!
//! The caller (the agent's engine client) owns the sockets and the clock. It feeds the conversation
//! what happened — [`Conversation::handle_bytes`], [`Conversation::handle_eof`],
//! [`Conversation::handle_io_error`], [`Conversation::handle_timeout`], the table's
//! [`Conversation::describe`] — with `now`, milliseconds of a monotonic clock, and asks what to do
//! next: [`Conversation::poll_transmit`] (open a connection in a slot and write a request, or close
//! a slot), [`Conversation::poll_timeout`] (the next deadline), [`Conversation::poll_news`] (what the
//! container table must hear). Nothing here reads a socket or a clock, and nothing panics on what
//! the engine sends.
//!
//! The conversation:
//! 1. `GET /_ping` (unversioned); the version spoken is `min(Api-Version, AGENT_MAX)`.
//! 2. `GET /v{v}/events` (long-lived, filtered to containers, `since=` the last event seen after a
//!    reconnection); once its head is in, `GET /v{v}/containers/json` for the running and paused
//!    containers ([`list_path`]). Events that arrive before the list is answered
//!    are held (at most [`QUEUE_LIMIT`]; past it they are dropped and the list taken again) and
//!    handed out after its [`News::Present`], so nothing is lost in between.
//! 3. `GET /v{v}/containers/{id}/json` for each [`Conversation::describe`] (at most
//!    [`MAX_INSPECTS`] at once, the rest queued).
//! 4. When the events stream or a ping or list fails: every connection is closed, [`News::Lost`] is
//!    handed out if the stream was up, and the conversation starts over after a backoff with jitter
//!    ([`BACKOFF_FIRST_MS`] doubling to [`BACKOFF_MAX_MS`], reset by a list read whole). A 400 saying
//!    the version is too old or too new negotiates again at once, once. The list is also taken
//!    again every `relist_ms`, which doubles as a liveness check of a quiet events stream.
//!
//! Contract: slots are small integers, reused; a [`Transmit::Close`] of a slot always comes before
//! the [`Transmit::Open`] that reuses it, and the caller must drop its connection on `Close` and
//! report nothing more for it. Input for a slot the conversation has closed is ignored. Every
//! one-shot request (and the events stream until its head) has a [`REQUEST_TIMEOUT_MS`] deadline;
//! every buffer is bounded (heads 64 KiB, one event line [`EVENT_LINE_LIMIT`], an inspect
//! [`INSPECT_LIMIT`], a ping or error body [`SMALL_LIMIT`]). The list is decoded as its body arrives
//! and never held whole: at most [`LIST_MAX_CONTAINERS`] containers and one element of at most
//! [`LIST_ELEMENT_MAX`](super::LIST_ELEMENT_MAX) bytes, the body refused past the caller's list
//! limit ([`LIST_LIMIT`] by default). Failures are a small `Copy` [`Failure`], logged once per
//! change of state (one line per new kind of failure, never a flood).
//!
//! News from Docker's words: `start`, `restart` → [`News::Started`]; `pause` → [`News::Paused`];
//! `unpause` → [`News::Resumed`]; `die` → [`News::Ended`] (exited); `stop` → [`News::Ended`]
//! (stopped); `kill`, `oom` → [`News::Ending`]; `rename` → [`News::Renamed`]; `update` →
//! [`News::LimitsChanged`]; `destroy`, `remove` → [`News::Removed`]; other actions say nothing. An
//! inspect answer is [`News::Described`] (`running` → running, `paused` → paused, `stopped` → ended
//! stopped, anything else → ended exited); a 404, a failure, a timeout or an answer about another
//! container is [`News::Undescribed`]. A `describe` while the events stream is not up is answered
//! [`News::Undescribed`] at once; one for an id already in flight is ignored.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use log::{debug, info, warn};

use super::{
    decode_event, decode_inspect, events_path, inspect_path, list_path, negotiate, ping_path,
    renegotiate, since_from_time_nano, version_rejection, ApiVersion, ContainerState, DocError,
    EventKind, Inspect, ListDecoder, VersionError,
};
use crate::container::{
    truncate_utf8, ContainerId, Description, EndState, News, Presence, NAME_MAX,
};
use crate::http::{self, Event as HttpEvent, LineSplitter, ResponseCollector, ResponseDecoder};
use crate::rng::Rng;

/// Deadline of a one-shot request (and of the events stream's head), milliseconds.
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// Most inspect requests in flight at once.
pub const MAX_INSPECTS: usize = 8;
/// Default interval of the reconciling list, milliseconds.
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
/// Most events held while the list is awaited; past it they are dropped and the list taken again
/// once this one is in.
pub const QUEUE_LIMIT: usize = 16_384;

/// What the caller must do with its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a new connection to the engine in slot `conn` and write `request` on it.
    Open {
        /// The slot.
        conn: usize,
        /// The whole request.
        request: Vec<u8>,
    },
    /// Close the connection in slot `conn` (if it is still open).
    Close {
        /// The slot.
        conn: usize,
    },
}

/// An I/O failure the caller reports for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoFailure {
    /// Connecting: the socket does not exist.
    NotFound,
    /// Connecting: nothing listens on the socket.
    Refused,
    /// Connecting: the engine does not accept connections now (its backlog is full).
    NotAccepting,
    /// Connecting: permission denied on the socket.
    PermissionDenied,
    /// Connecting failed otherwise.
    Connect,
    /// Writing the request failed.
    Write,
    /// Reading the response failed.
    Read,
}

impl IoFailure {
    /// The failure of a `connect` that returned an error of this kind.
    pub fn connect(kind: io::ErrorKind) -> IoFailure {
        match kind {
            io::ErrorKind::NotFound => IoFailure::NotFound,
            io::ErrorKind::ConnectionRefused => IoFailure::Refused,
            io::ErrorKind::WouldBlock => IoFailure::NotAccepting,
            io::ErrorKind::PermissionDenied => IoFailure::PermissionDenied,
            _ => IoFailure::Connect,
        }
    }

    /// Whether connecting failed (the engine takes no connection now).
    pub const fn is_connect(self) -> bool {
        !matches!(self, IoFailure::Write | IoFailure::Read)
    }

    /// A static description.
    pub const fn message(self) -> &'static str {
        match self {
            IoFailure::NotFound => "the socket does not exist",
            IoFailure::Refused => "connection refused (nothing listens)",
            IoFailure::NotAccepting => "the engine is not accepting connections",
            IoFailure::PermissionDenied => "permission denied on the socket",
            IoFailure::Connect => "cannot connect",
            IoFailure::Write => "sending the request failed",
            IoFailure::Read => "reading failed",
        }
    }
}

impl fmt::Display for IoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// Which request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `/_ping`.
    Ping,
    /// `/events`.
    Events,
    /// `/containers/json`.
    List,
    /// `/containers/{id}/json`.
    Inspect,
}

impl Request {
    /// Its name in a log line.
    pub const fn name(self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Events => "events",
            Request::List => "container list",
            Request::Inspect => "inspect",
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The engine answered with this status.
    Status(u16),
    /// The connection closed before the answer was complete.
    ClosedEarly,
    /// The answer broke HTTP, or a bound (a line, a body) was passed.
    Http(http::Error),
    /// The events stream ended.
    StreamEnded,
    /// No answer within [`REQUEST_TIMEOUT_MS`].
    TimedOut,
    /// The connection failed.
    Io(IoFailure),
    /// The engine and the agent have no API version in common.
    NoCommonVersion(VersionError),
    /// A document could not be read.
    Document(DocError),
    /// An inspect answered about another container.
    OtherContainer,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Status(s) => write!(f, "status {s}"),
            Cause::ClosedEarly => f.write_str("connection closed early"),
            Cause::Http(http::Error::LineTooLong) => {
                write!(f, "event line over {EVENT_LINE_LIMIT} bytes")
            }
            Cause::Http(e) => write!(f, "{e}"),
            Cause::StreamEnded => f.write_str("the stream ended"),
            Cause::TimedOut => f.write_str("timed out"),
            Cause::Io(e) => write!(f, "{e}"),
            Cause::NoCommonVersion(e) => write!(f, "no common API version: {e}"),
            Cause::Document(e) => write!(f, "{e}"),
            Cause::OtherContainer => f.write_str("answered about another container"),
        }
    }
}

/// A failed request: what and why. Small and `Copy`; logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The request.
    pub request: Request,
    /// Why.
    pub cause: Cause,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.request.name(), self.cause)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Ping,
    Events,
    List,
    Inspect(ContainerId),
}

impl Purpose {
    fn request(self) -> Request {
        match self {
            Purpose::Ping => Request::Ping,
            Purpose::Events => Request::Events,
            Purpose::List => Request::List,
            Purpose::Inspect(_) => Request::Inspect,
        }
    }

    fn failure(self, cause: Cause) -> Failure {
        Failure {
            request: self.request(),
            cause,
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
    purpose: Purpose,
    reader: Reader,
    deadline: Option<u64>,
    /// The version the request was made with.
    version: Option<ApiVersion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting to (re)connect.
    Idle,
    /// Ping sent.
    Pinging,
    /// Events stream requested, head not yet in.
    Subscribing,
    /// Events stream established.
    Streaming,
}

/// How one read left a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    More,
    Complete,
    Ended,
    Failed(Failure),
}

/// The engine conversation (see the module docs).
pub struct Conversation {
    label: String,
    list_limit: usize,
    relist_ms: u64,
    conns: Vec<Option<Conn>>,
    transmits: VecDeque<Transmit>,
    news: VecDeque<News>,
    phase: Phase,
    version: Option<ApiVersion>,
    podman: bool,
    listing: bool,
    relist_after_list: bool,
    /// News of events that arrived while the list was awaited.
    held: VecDeque<News>,
    inspect_queue: VecDeque<ContainerId>,
    last_event_nano: Option<u64>,
    backoff_ms: u64,
    renegotiated: bool,
    retry_at: Option<u64>,
    relist_at: Option<u64>,
    last_failure: Option<Failure>,
    connected_once: bool,
    rng: Rng,
    logged_bad_event: bool,
}

impl Conversation {
    /// A conversation that refuses list bodies over `list_limit` bytes, lists again every
    /// `relist_ms`, and draws its reconnection jitter from `seed`. Call [`Conversation::start`].
    pub fn new(list_limit: usize, relist_ms: u64, seed: u64) -> Conversation {
        Conversation {
            label: String::from("engine"),
            list_limit,
            relist_ms,
            conns: Vec::new(),
            transmits: VecDeque::new(),
            news: VecDeque::new(),
            phase: Phase::Idle,
            version: None,
            podman: false,
            listing: false,
            relist_after_list: false,
            held: VecDeque::new(),
            inspect_queue: VecDeque::new(),
            last_event_nano: None,
            backoff_ms: BACKOFF_FIRST_MS,
            renegotiated: false,
            retry_at: None,
            relist_at: None,
            last_failure: None,
            connected_once: false,
            rng: Rng::from_seed(seed),
            logged_bad_event: false,
        }
    }

    /// Names the engine in log lines (`engine /run/docker.sock: ...`).
    pub fn set_label(&mut self, label: &str) {
        self.label = format!("engine {label}");
    }

    /// Starts the conversation now: a ping.
    pub fn start(&mut self, now: u64) {
        self.connect(now);
    }

    /// The next thing to do with the connections, in order.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The earliest deadline: call [`Conversation::handle_timeout`] when it has passed.
    pub fn poll_timeout(&self) -> Option<u64> {
        let conns = self.conns.iter().flatten().filter_map(|c| c.deadline).min();
        [conns, self.retry_at, self.relist_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next piece of news for the container table, in order.
    pub fn poll_news(&mut self) -> Option<News> {
        self.news.pop_front()
    }

    /// The table asks for a description of `id`: answered later with [`News::Described`] or
    /// [`News::Undescribed`] (at once when the events stream is not up); ignored when one is in
    /// flight already.
    pub fn describe(&mut self, id: ContainerId, now: u64) {
        if self.phase != Phase::Streaming {
            self.news.push_back(News::Undescribed(id));
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
        self.pump_inspects(now);
    }

    /// Bytes read from the connection in slot `conn`.
    pub fn handle_bytes(&mut self, conn: usize, bytes: &[u8], now: u64) {
        let slot = conn;
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        let outcome = match &mut c.reader {
            Reader::Collect(collector) => match collector.feed(bytes) {
                Ok(true) => Outcome::Complete,
                Ok(false) => Outcome::More,
                Err(e) => Outcome::Failed(c.purpose.failure(Cause::Http(e))),
            },
            Reader::List {
                decoder,
                list,
                error_body,
            } => feed_list(decoder, list, error_body, bytes),
            Reader::Stream {
                decoder,
                lines,
                status,
                error_body,
            } => {
                let (outcome, head, lines_out) =
                    feed_stream(decoder, lines, status, error_body, bytes);
                // Lines are handled once the connection is back in its slot.
                self.conns[slot] = Some(c);
                if head {
                    self.on_events_head(slot, now);
                }
                for line in lines_out {
                    if !self.is_events(slot) {
                        return;
                    }
                    self.on_event_line(line, now);
                }
                if outcome != Outcome::More && self.is_events(slot) {
                    self.finish_stream(slot, outcome, now);
                }
                return;
            }
        };
        self.conns[slot] = Some(c);
        match outcome {
            Outcome::More | Outcome::Ended => {}
            Outcome::Complete => self.complete(slot, now),
            Outcome::Failed(f) => self.request_failed(slot, f, now),
        }
    }

    /// The engine closed the connection in slot `conn`.
    pub fn handle_eof(&mut self, conn: usize, now: u64) {
        let slot = conn;
        let Some(c) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let purpose = c.purpose;
        let end = match &mut c.reader {
            Reader::Collect(collector) => collector.eof(),
            Reader::List { decoder, .. } => decoder.eof(),
            Reader::Stream { .. } => {
                self.finish_stream(slot, Outcome::Ended, now);
                return;
            }
        };
        match end {
            Ok(()) => self.complete(slot, now),
            Err(_) => self.request_failed(slot, purpose.failure(Cause::ClosedEarly), now),
        }
    }

    /// Connecting, writing or reading failed for the connection in slot `conn`.
    pub fn handle_io_error(&mut self, conn: usize, error: IoFailure, now: u64) {
        let Some(purpose) = self.purpose(conn) else {
            return;
        };
        if let (Purpose::Inspect(id), true) = (purpose, error.is_connect()) {
            // The engine cannot take a connection now: these wait for the next list.
            self.close(conn);
            debug!("{}: inspect {}: {error}", self.label, id.short());
            self.news.push_back(News::Undescribed(id));
            let queued = self.inspect_queue.drain(..).map(News::Undescribed);
            self.news.extend(queued);
            return;
        }
        self.request_failed(conn, purpose.failure(Cause::Io(error)), now);
    }

    /// Time has passed: every deadline at or before `now` takes effect.
    pub fn handle_timeout(&mut self, now: u64) {
        for slot in 0..self.conns.len() {
            let due = self.conns[slot]
                .as_ref()
                .and_then(|c| c.deadline)
                .is_some_and(|d| d <= now);
            if due {
                if let Some(purpose) = self.purpose(slot) {
                    self.request_failed(slot, purpose.failure(Cause::TimedOut), now);
                }
            }
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            self.connect(now);
        }
        if self.relist_at.is_some_and(|t| t <= now) {
            self.relist_at = None;
            self.start_list(now);
        }
    }

    fn purpose(&self, slot: usize) -> Option<Purpose> {
        self.conns.get(slot)?.as_ref().map(|c| c.purpose)
    }

    fn is_events(&self, slot: usize) -> bool {
        self.purpose(slot) == Some(Purpose::Events)
    }

    fn pump_inspects(&mut self, now: u64) {
        let Some(version) = self.version else { return };
        while self.in_flight_inspects() < MAX_INSPECTS {
            let Some(id) = self.inspect_queue.pop_front() else {
                return;
            };
            let path = inspect_path(version, &id);
            if let Err(f) = self.open(Purpose::Inspect(id), &path, Some(version), now) {
                debug!("{}: inspect {}: {f}", self.label, id.short());
                self.news.push_back(News::Undescribed(id));
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

    fn connect(&mut self, now: u64) {
        self.retry_at = None;
        self.phase = Phase::Pinging;
        if let Err(f) = self.open(Purpose::Ping, ping_path(), None, now) {
            self.fail(f, "", now);
        }
    }

    /// Takes a free slot for a request and asks the caller to open it.
    fn open(
        &mut self,
        purpose: Purpose,
        path: &str,
        version: Option<ApiVersion>,
        now: u64,
    ) -> Result<(), Failure> {
        let mut request = Vec::with_capacity(path.len() + 128);
        let close = purpose != Purpose::Events;
        http::write_get(&mut request, path, close).map_err(|e| purpose.failure(Cause::Http(e)))?;
        let slot = match self.conns.iter().position(Option::is_none) {
            Some(s) => s,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
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
        self.conns[slot] = Some(Conn {
            purpose,
            reader,
            deadline: Some(now.saturating_add(REQUEST_TIMEOUT_MS)),
            version,
        });
        self.transmits.push_back(Transmit::Open {
            conn: slot,
            request,
        });
        Ok(())
    }

    fn close(&mut self, slot: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(slot)?.take()?;
        self.transmits.push_back(Transmit::Close { conn: slot });
        Some(conn)
    }

    fn close_all(&mut self) {
        for slot in 0..self.conns.len() {
            self.close(slot);
        }
    }

    /// Forgets everything of the current connection to the engine; [`News::Lost`] if the stream
    /// was up.
    fn reset(&mut self) {
        self.close_all();
        if self.phase == Phase::Streaming {
            self.news.push_back(News::Lost);
        }
        self.phase = Phase::Idle;
        self.listing = false;
        self.relist_after_list = false;
        self.held.clear();
        self.inspect_queue.clear();
        self.relist_at = None;
    }

    /// A failure of the conversation: close everything, tell the table, retry later.
    fn fail(&mut self, f: Failure, detail: &str, now: u64) {
        // A stream that was up and went down is news even if it failed the same way last time;
        // the same refusal at every retry is not.
        let was_up = self.phase == Phase::Streaming;
        self.reset();
        let delay = self.jitter(self.backoff_ms);
        self.backoff_ms = (self.backoff_ms * 2).min(BACKOFF_MAX_MS);
        let sep = if detail.is_empty() { "" } else { " " };
        if self.last_failure != Some(f) || was_up {
            warn!(
                "{}: {f}{sep}{detail}; retrying in {delay} ms (further failures of this kind are not logged)",
                self.label
            );
        } else {
            debug!("{}: {f}{sep}{detail}; retrying in {delay} ms", self.label);
        }
        self.last_failure = Some(f);
        self.retry_at = Some(now.saturating_add(delay));
    }

    /// A request in `slot` failed: an inspect is answered [`News::Undescribed`], anything else
    /// fails the conversation.
    fn request_failed(&mut self, slot: usize, f: Failure, now: u64) {
        let Some(conn) = self.close(slot) else { return };
        match conn.purpose {
            Purpose::Inspect(id) => {
                debug!("{}: inspect {}: {}", self.label, id.short(), f.cause);
                self.news.push_back(News::Undescribed(id));
                self.pump_inspects(now);
            }
            _ => self.fail(f, "", now),
        }
    }

    fn start_list(&mut self, now: u64) {
        if self.phase != Phase::Streaming {
            return;
        }
        if self.listing {
            self.relist_after_list = true;
            return;
        }
        let Some(v) = self.version else { return };
        match self.open(Purpose::List, &list_path(v), Some(v), now) {
            Ok(()) => self.listing = true,
            Err(f) => self.fail(f, "", now),
        }
    }

    /// The events stream ended, failed or was refused.
    fn finish_stream(&mut self, slot: usize, outcome: Outcome, now: u64) {
        let Some(conn) = self.close(slot) else {
            return;
        };
        if let Reader::Stream {
            status, error_body, ..
        } = &conn.reader
        {
            if *status != 200 && *status != 0 {
                if self.maybe_renegotiate(*status, error_body, conn.version, now) {
                    return;
                }
                let f = Purpose::Events.failure(Cause::Status(*status));
                self.fail(f, &excerpt(error_body), now);
                return;
            }
            let cause = match outcome {
                Outcome::Failed(f) => f.cause,
                _ if *status == 0 => Cause::ClosedEarly,
                _ => Cause::StreamEnded,
            };
            self.fail(Purpose::Events.failure(cause), "", now);
        }
    }

    /// A 400 saying the version is too old or too new: take the version the engine names (or ping
    /// again) and start over at once, once. Returns whether it did.
    fn maybe_renegotiate(
        &mut self,
        status: u16,
        body: &[u8],
        tried: Option<ApiVersion>,
        now: u64,
    ) -> bool {
        let (Some(rejection), Some(tried)) = (version_rejection(status, body), tried) else {
            return false;
        };
        if self.renegotiated {
            return false;
        }
        self.renegotiated = true;
        info!(
            "{}: API {tried} refused ({rejection:?}); negotiating again",
            self.label
        );
        self.reset();
        match renegotiate(rejection, tried) {
            Ok(Some(v)) => {
                self.version = Some(v);
                self.subscribe(now);
            }
            Ok(None) => self.connect(now),
            Err(e) => self.fail(Purpose::Ping.failure(Cause::NoCommonVersion(e)), "", now),
        }
        true
    }

    fn subscribe(&mut self, now: u64) {
        let Some(v) = self.version else { return };
        self.phase = Phase::Subscribing;
        let since = self.last_event_nano.map(since_from_time_nano);
        let path = events_path(v, since);
        if let Err(f) = self.open(Purpose::Events, &path, Some(v), now) {
            self.fail(f, "", now);
        }
    }

    fn on_events_head(&mut self, slot: usize, now: u64) {
        // The stream is open: it has no deadline from now on (quiet streams are normal).
        if let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) {
            conn.deadline = None;
        }
        self.phase = Phase::Streaming;
        self.start_list(now);
    }

    fn on_event_line(&mut self, line: Result<Vec<u8>, http::Error>, now: u64) {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                // An over-long line: close the stream (it may never end), reconnect with `since=`
                // and list again, so nothing after it is lost.
                self.fail(Purpose::Events.failure(Cause::Http(e)), "", now);
                return;
            }
        };
        match decode_event(&line) {
            Ok(Some(ev)) => {
                if let Some(t) = ev.time_nano {
                    self.last_event_nano = Some(self.last_event_nano.map_or(t, |l| l.max(t)));
                }
                let Some(news) = event_news(ev.kind, ev.id, ev.name) else {
                    return;
                };
                if !self.listing {
                    self.news.push_back(news);
                } else if self.held.len() >= QUEUE_LIMIT {
                    self.held.clear();
                    self.relist_after_list = true;
                } else {
                    self.held.push_back(news);
                }
            }
            Ok(None) => {}
            Err(e) => {
                if !self.logged_bad_event {
                    self.logged_bad_event = true;
                    warn!(
                        "{}: an event could not be read ({e}); listing containers to resync",
                        self.label
                    );
                }
                self.start_list(now);
            }
        }
    }

    /// A one-shot response is complete.
    fn complete(&mut self, slot: usize, now: u64) {
        let Some(mut conn) = self.close(slot) else {
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
        if head.status == 400 && self.maybe_renegotiate(head.status, &body, conn.version, now) {
            return;
        }
        match conn.purpose {
            Purpose::Ping => self.on_ping_answer(head, &body, now),
            Purpose::List => self.on_list_answer(head.status, &body, list, now),
            Purpose::Inspect(id) => self.on_inspect_answer(id, head.status, &body, now),
            Purpose::Events => {}
        }
    }

    /// The ping answered: speak the version negotiated, subscribe to the events.
    fn on_ping_answer(&mut self, head: crate::http::ResponseHead, body: &[u8], now: u64) {
        if head.status != 200 {
            let f = Purpose::Ping.failure(Cause::Status(head.status));
            self.fail(f, &excerpt(body), now);
            return;
        }
        match negotiate(head.api_version) {
            Ok(v) => {
                if self.version != Some(v) || self.podman != head.libpod || !self.connected_once {
                    info!(
                        "{}: {} API {} (engine offers {})",
                        self.label,
                        if head.libpod { "Podman" } else { "Docker" },
                        v,
                        head.api_version
                            .map_or("none".to_string(), |a| a.to_string())
                    );
                }
                self.version = Some(v);
                self.podman = head.libpod;
                self.subscribe(now);
            }
            Err(e) => {
                self.fail(Purpose::Ping.failure(Cause::NoCommonVersion(e)), "", now);
            }
        }
    }

    /// The list answered: the population, then the events held while it was awaited.
    fn on_list_answer(&mut self, status: u16, body: &[u8], list: Option<ListDecoder>, now: u64) {
        self.listing = false;
        if status != 200 {
            let f = Purpose::List.failure(Cause::Status(status));
            self.fail(f, &excerpt(body), now);
            return;
        }
        match list.map_or(Err(DocError::Truncated), ListDecoder::finish) {
            Ok(list) => {
                if list.malformed > 0 || list.over_cap > 0 {
                    warn!(
                        "{}: container list had {} malformed and {} excess entries",
                        self.label, list.malformed, list.over_cap
                    );
                }
                let alive: Vec<ContainerId> = list
                    .containers
                    .iter()
                    .filter(|c| matches!(c.state, ContainerState::Running | ContainerState::Paused))
                    .map(|c| c.id)
                    .collect();
                if !self.connected_once || self.last_failure.is_some() {
                    info!(
                        "{}: tracking {} running or paused containers",
                        self.label,
                        alive.len()
                    );
                }
                self.connected_once = true;
                self.last_failure = None;
                self.backoff_ms = BACKOFF_FIRST_MS;
                self.renegotiated = false;
                self.news.push_back(News::Present(alive));
                let held = std::mem::take(&mut self.held);
                self.news.extend(held);
            }
            Err(e) => {
                warn!("{}: the container list could not be read ({e})", self.label);
                self.held.clear();
            }
        }
        if std::mem::take(&mut self.relist_after_list) {
            self.start_list(now);
        }
        self.relist_at = Some(now.saturating_add(self.relist_ms));
    }

    /// An inspect answered: the container described, or not; the next inspect goes.
    fn on_inspect_answer(&mut self, id: ContainerId, status: u16, body: &[u8], now: u64) {
        let answer = match status {
            200 => match decode_inspect(body) {
                Ok(doc) if doc.id == id => Ok(description(doc)),
                Ok(_) => Err(Cause::OtherContainer),
                Err(e) => Err(Cause::Document(e)),
            },
            s => Err(Cause::Status(s)),
        };
        match answer {
            Ok(d) => self.news.push_back(News::Described(d)),
            Err(cause) => {
                if cause != Cause::Status(404) {
                    debug!(
                        "{}: inspect of {}: {cause} {}",
                        self.label,
                        id.short(),
                        excerpt(body)
                    );
                }
                self.news.push_back(News::Undescribed(id));
            }
        }
        self.pump_inspects(now);
    }
}

/// The news an event carries, if any.
fn event_news(kind: EventKind, id: ContainerId, name: Option<String>) -> Option<News> {
    Some(match kind {
        EventKind::Start | EventKind::Restart => News::Started(id),
        EventKind::Pause => News::Paused(id),
        EventKind::Unpause => News::Resumed(id),
        EventKind::Die => News::Ended(id, EndState::Exited),
        EventKind::Stop => News::Ended(id, EndState::Stopped),
        EventKind::Kill | EventKind::Oom => News::Ending(id),
        EventKind::Rename => News::Renamed(id, bounded(name?)),
        EventKind::Update => News::LimitsChanged(id),
        EventKind::Destroy | EventKind::Remove => News::Removed(id),
        EventKind::Create | EventKind::Cleanup | EventKind::Other => return None,
    })
}

/// A container's description from its inspect document.
fn description(doc: Inspect) -> Description {
    let presence = match doc.state {
        ContainerState::Running => Presence::Running,
        ContainerState::Paused => Presence::Paused,
        ContainerState::Stopped => Presence::Ended(EndState::Stopped),
        _ => Presence::Ended(EndState::Exited),
    };
    Description {
        id: doc.id,
        name: bounded(doc.name),
        hostname: bounded(doc.hostname),
        pid: doc.pid,
        presence,
    }
}

fn bounded(mut text: String) -> String {
    let len = truncate_utf8(&text, NAME_MAX).len();
    text.truncate(len);
    text
}

/// Feeds bytes to the events stream's decoders. Returns how the stream stands, whether a 200 head
/// came in, and the lines (or line errors) found, in order.
fn feed_stream(
    decoder: &mut ResponseDecoder,
    lines: &mut LineSplitter,
    status: &mut u16,
    error_body: &mut Vec<u8>,
    mut input: &[u8],
) -> (Outcome, bool, Vec<Result<Vec<u8>, http::Error>>) {
    let mut head = false;
    let mut out = Vec::new();
    let outcome = loop {
        match decoder.next(&mut input) {
            Ok(Some(HttpEvent::Head(h))) => {
                *status = h.status;
                head = h.status == 200;
            }
            Ok(Some(HttpEvent::Data(mut d))) => {
                if *status != 200 {
                    let room = SMALL_LIMIT.saturating_sub(error_body.len());
                    error_body.extend_from_slice(&d[..d.len().min(room)]);
                    continue;
                }
                while let Some(line) = lines.next_line(&mut d) {
                    let failed = line.is_err();
                    out.push(line.map(<[u8]>::to_vec));
                    if failed {
                        // The stream is given up: nothing after this line is read.
                        return (Outcome::More, head, out);
                    }
                }
            }
            Ok(Some(HttpEvent::Done)) => break Outcome::Ended,
            Ok(None) => break Outcome::More,
            Err(e) => break Outcome::Failed(Purpose::Events.failure(Cause::Http(e))),
        }
    };
    (outcome, head, out)
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
            Err(e) => return Outcome::Failed(Purpose::List.failure(Cause::Http(e))),
        }
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

#[cfg(test)]
mod tests;
