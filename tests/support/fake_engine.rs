//! A stand-in container engine on a UNIX socket: Docker-like by default, with the faults a real
//! engine will not produce on demand (hangs, broken framing, bad JSON, version refusals, a socket
//! that refuses or is gone), selectable per endpoint and switchable while it runs.
//!
//! ```ignore
//! let engine = FakeEngine::start(Script::docker().container(id, "web", "running", pid));
//! engine.set_fault(Endpoint::Inspect, Fault::ServerError);
//! // ... point the agent at engine.socket() ...
//! engine.clear_faults();
//! engine.push_action("start", id);
//! ```
//!
//! **Default behaviour** (shapes and headers copied from the Docker 20.10 recordings in
//! tests/fixtures/recorded/):
//! - `GET /_ping` (also `/v1.xx/_ping`): 200 `OK` with an `Api-Version` header (configurable, or
//!   absent);
//! - `GET /v1.xx/events?...`: 200, `Transfer-Encoding: chunked`, and a stream that stays open; every
//!   event pushed with [`FakeEngine::push_event`] goes out as one chunk on every open stream. With
//!   `since=S[.N]` the stream first replays the pushed events (the last 256) whose `timeNano` is at
//!   or after S.N, as Docker does;
//! - `GET /v1.xx/containers/json`: the running, paused and restarting containers of the table;
//! - `GET /v1.xx/containers/{id}/json`: the inspect document of that container (by full id, unique id
//!   prefix or name), or 404 `{"message":"No such container: ..."}`;
//! - `GET /v1.xx/version`: a version document; anything else: 404 `page not found`;
//! - a path version above the advertised API version gets Docker's 400 "too new" JSON, one below
//!   the minimum (1.12 by default) Docker's 400 "too old" text/plain, whatever the endpoint;
//! - bodies of at most 2048 bytes carry `Content-Length`, bigger ones are chunked (one chunk and the
//!   `0` chunk), as Go's server does; an HTTP/1.0 request gets a close-delimited body; a request with
//!   `Connection: close` gets its connection closed after the answer, others are kept alive.
//!
//! Every request head is logged ([`FakeEngine::requests`] gives the request lines), every accepted
//! connection counted. [`FakeEngine::stop`] closes the listener and every connection and removes the
//! socket file; [`FakeEngine::restart`] serves again on the same path with the same table and
//! settings; [`FakeEngine::refuse`] leaves a socket file nobody listens on (connect gives
//! `ECONNREFUSED`); [`FakeEngine::remove_socket_file`] unlinks the path while the server keeps
//! serving the connections it has.
//!
//! Threads: one accept thread per serving period and one thread per connection, all blocking I/O
//! with short timeouts so that `stop()` ends every one of them promptly. Test code: it panics on
//! setup failures (cannot bind), never on what a client sends.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The date every response carries (a fixed one: nothing reads it).
const DATE: &str = "Wed, 25 Nov 2026 16:08:44 GMT";
/// Go's `bufferBeforeChunkingSize`: bigger bodies are chunked.
const CHUNKING_THRESHOLD: usize = 2048;
/// Request heads longer than this end the connection (Go allows 1 MiB; this is a test tool).
const REQUEST_HEAD_MAX: usize = 64 * 1024;
/// How many pushed events are kept for `since` replay (Docker's `eventsLimit`).
const EVENT_HISTORY: usize = 256;
/// Size of the event line (and other bodies) the [`Fault::HugeLine`] fault sends.
pub const HUGE_LINE_BYTES: usize = 8 * 1024 * 1024;
/// How often blocked server threads look at the clock and the engine's generation.
const TICK: Duration = Duration::from_millis(50);

/// The parts of the API a fault can be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/_ping`, versioned or not.
    Ping,
    /// `/version`.
    Version,
    /// `/events`.
    Events,
    /// `/containers/json`.
    List,
    /// `/containers/{id}/json`.
    Inspect,
    /// Any other path.
    Other,
}

/// What goes wrong with a request (or, for [`Fault::HangAfterAccept`] set for every endpoint, with
/// the connection before any request is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Never answer. Set for every endpoint ([`FakeEngine::set_fault_all`]), the connection is not
    /// even read; set for one endpoint, the request is read (and logged) first. The connection
    /// stays open until the client closes it or the engine stops.
    HangAfterAccept,
    /// Send the response head (the normal one; `Content-Length` or chunked), then nothing.
    HeadThenHang,
    /// A chunked 200 head, then a chunk size line that is not hex (`zz`), then nothing (the
    /// connection stays open: the client must notice the bad framing by itself).
    GarbageChunkSize,
    /// A chunked 200 head, then a chunk that declares 0x400 bytes but carries 0x100, then close.
    TruncatedChunk,
    /// The normal answer, chunked so that chunk boundaries fall inside UTF-8 sequences (after the
    /// first byte of each multi-byte character; in the middle of the body when it has none).
    /// Valid overall. Event streams split every event that way.
    SplitUtf8,
    /// A chunked 200 with [`HUGE_LINE_BYTES`] of body and no newline in it (an event line that
    /// never ends, or an 8 MiB document that is not JSON), in 64 KiB chunks; event streams then
    /// hang, other answers end properly.
    HugeLine,
    /// 200 with a body that is not JSON. Event streams send one broken event line, then carry on
    /// normally. Ping: an `Api-Version` header that is not a version (`1.4x`).
    InvalidJson,
    /// 200 with valid JSON of the wrong shape (an object where a list belongs, a list where an
    /// object belongs, fields of the wrong type). Event streams send two such lines, then carry on
    /// normally. Ping: `Api-Version: banana`.
    WrongShape,
    /// 400 JSON `{"message":"client version V is too new. Maximum supported API version is M"}`
    /// (V from the path, 1.52 for an unversioned one; M the advertised version, 1.41 without one).
    TooNew,
    /// 400 text/plain `client version V is too old. Minimum supported API version is 1.44, please
    /// upgrade your client to a newer version` (V as for [`Fault::TooNew`]).
    TooOld,
    /// 404 JSON (for inspect Docker's `No such container: <id>`, else `page not found`).
    NotFound,
    /// 500 JSON `{"message":"..."}`.
    ServerError,
    /// The normal answer as `HTTP/1.0 200 OK` without `Content-Length` or chunking, delimited by
    /// the close; an event stream sends bare lines and stays open.
    Http10,
    /// The normal head, then the body chunked with the connection closed in the middle of a
    /// chunk: one-shot answers send the first half of the body as a complete chunk and a quarter
    /// of a chunk declared for the rest; event streams carry the first pushed event normally and
    /// cut the second one in the middle of its chunk.
    CloseMidChunk,
    /// Hold the request (nothing sent) until this endpoint's fault is changed; then answer as the
    /// new setting says, with the document as it was when the request arrived (a list held while
    /// the test adds a container does not show it). For "answer late, when the test says so".
    Hold,
    /// Answer normally after this delay (the document as it was when the request arrived).
    Delay(Duration),
}

/// One container of the engine's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeContainer {
    /// 64 hex digits.
    pub id: String,
    /// The name without the leading `/` (the engine adds it).
    pub name: String,
    /// `State.Status`: running, paused, restarting, exited, created, dead.
    pub state: String,
    /// `State.Pid`.
    pub pid: u32,
    /// `Config.Hostname` (defaults to the first 12 hex digits of the id).
    pub hostname: String,
    /// Listed, but gone by the time it is inspected (inspect gives 404).
    pub vanishes: bool,
}

impl FakeContainer {
    /// A container with the default hostname.
    pub fn new(id: &str, name: &str, state: &str, pid: u32) -> FakeContainer {
        FakeContainer {
            id: id.to_string(),
            name: name.trim_start_matches('/').to_string(),
            state: state.to_string(),
            pid,
            hostname: id.get(..12).unwrap_or(id).to_string(),
            vanishes: false,
        }
    }

    fn listed(&self) -> bool {
        matches!(self.state.as_str(), "running" | "paused" | "restarting")
    }
}

/// The engine's initial settings.
#[derive(Debug, Clone)]
pub struct Script {
    /// The `Api-Version` header (and the highest version the paths accept); `None` = no header
    /// and every version above the minimum accepted.
    pub api_version: Option<String>,
    /// The lowest version the paths accept.
    pub min_api_version: String,
    /// The initial container table.
    pub containers: Vec<FakeContainer>,
    /// Faults per endpoint.
    pub faults: Vec<(Endpoint, Fault)>,
    /// A fault for every endpoint (a per-endpoint fault wins over it).
    pub fault_all: Option<Fault>,
}

impl Script {
    /// Docker 20.10: API 1.41, minimum 1.12, no containers, no faults.
    pub fn docker() -> Script {
        Script {
            api_version: Some("1.41".into()),
            min_api_version: "1.12".into(),
            containers: Vec::new(),
            faults: Vec::new(),
            fault_all: None,
        }
    }

    /// Sets the advertised API version (`None`: no `Api-Version` header).
    pub fn api_version(mut self, version: Option<&str>) -> Script {
        self.api_version = version.map(str::to_string);
        self
    }

    /// Adds a container to the initial table.
    pub fn container(mut self, id: &str, name: &str, state: &str, pid: u32) -> Script {
        self.containers
            .push(FakeContainer::new(id, name, state, pid));
        self
    }

    /// Adds a fault on one endpoint.
    pub fn fault(mut self, endpoint: Endpoint, fault: Fault) -> Script {
        self.faults.push((endpoint, fault));
        self
    }

    /// Sets a fault on every endpoint.
    pub fn fault_all(mut self, fault: Fault) -> Script {
        self.fault_all = Some(fault);
        self
    }
}

/// Mutable engine state, behind one lock.
struct State {
    api_version: Option<String>,
    min_api_version: String,
    containers: Vec<FakeContainer>,
    faults: HashMap<Endpoint, Fault>,
    fault_all: Option<Fault>,
    /// Every request head received, in order.
    heads: Vec<String>,
    connections: u64,
    /// Bumped by every stop: threads of an older generation end.
    generation: u64,
    serving: bool,
    next_id: u64,
    /// Open event streams: their queues of framed-later event lines.
    subscribers: HashMap<u64, VecDeque<Vec<u8>>>,
    /// Pushed events, for `since` replay: (timeNano, line).
    history: VecDeque<(u128, Vec<u8>)>,
    /// Clones of the open connections, to shut them down on stop.
    open: HashMap<u64, UnixStream>,
}

impl State {
    fn fault_for(&self, endpoint: Endpoint) -> Option<Fault> {
        self.faults.get(&endpoint).copied().or(self.fault_all)
    }
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking server thread must not take the test's engine down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn alive(&self, generation: u64) -> bool {
        self.lock().generation == generation
    }

    /// Waits up to `timeout` for a change notification; false when the engine stopped meanwhile.
    fn nap(&self, generation: u64, timeout: Duration) -> bool {
        let state = self.lock();
        if state.generation != generation {
            return false;
        }
        let (state, _) = self
            .changed
            .wait_timeout(state, timeout)
            .unwrap_or_else(|e| e.into_inner());
        state.generation == generation
    }
}

/// The stand-in engine. Dropping it stops it and removes its directory.
pub struct FakeEngine {
    shared: Arc<Shared>,
    dir: PathBuf,
    socket: PathBuf,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FakeEngine {
    /// Binds `docker.sock` in a fresh temporary directory and starts serving.
    pub fn start(script: Script) -> FakeEngine {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Short: a UNIX socket path must fit in 108 bytes.
        let dir = std::env::temp_dir().join(format!("csfe-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fake engine directory");
        let socket = dir.join("docker.sock");
        let state = State {
            api_version: script.api_version,
            min_api_version: script.min_api_version,
            containers: script.containers,
            faults: script.faults.into_iter().collect(),
            fault_all: script.fault_all,
            heads: Vec::new(),
            connections: 0,
            generation: 0,
            serving: false,
            next_id: 0,
            subscribers: HashMap::new(),
            history: VecDeque::new(),
            open: HashMap::new(),
        };
        let engine = FakeEngine {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                changed: Condvar::new(),
            }),
            dir,
            socket,
            threads: Arc::new(Mutex::new(Vec::new())),
        };
        engine.restart();
        engine
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// True while the engine accepts connections.
    pub fn serving(&self) -> bool {
        self.shared.lock().serving
    }

    /// Stops serving: closes the listener and every connection (event streams end), and removes
    /// the socket file. The table, faults and logs stay.
    pub fn stop(&self) {
        {
            let mut state = self.shared.lock();
            state.generation += 1;
            state.serving = false;
            state.subscribers.clear();
            for (_, stream) in state.open.drain() {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
        self.shared.changed.notify_all();
        let threads: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Serves again on the same path (stopping first if it is serving).
    pub fn restart(&self) {
        self.stop();
        let listener = UnixListener::bind(&self.socket).expect("bind the fake engine socket");
        listener.set_nonblocking(true).unwrap();
        let generation = {
            let mut state = self.shared.lock();
            state.serving = true;
            state.generation
        };
        let shared = Arc::clone(&self.shared);
        let threads = Arc::clone(&self.threads);
        let handle = std::thread::spawn(move || accept_loop(listener, shared, threads, generation));
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Stops, then leaves a socket file that nobody listens on: connecting gives `ECONNREFUSED`.
    pub fn refuse(&self) {
        self.stop();
        let listener = UnixListener::bind(&self.socket).expect("bind the refusing socket");
        drop(listener);
    }

    /// Unlinks the socket file; the server keeps running (connections it has stay up, new ones
    /// cannot reach it). [`FakeEngine::restart`] binds the path again.
    pub fn remove_socket_file(&self) {
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Sets the advertised API version (`None`: no `Api-Version` header).
    pub fn set_api_version(&self, version: Option<&str>) {
        self.shared.lock().api_version = version.map(str::to_string);
        self.shared.changed.notify_all();
    }

    /// Sets the lowest version the paths accept.
    pub fn set_min_api_version(&self, version: &str) {
        self.shared.lock().min_api_version = version.to_string();
        self.shared.changed.notify_all();
    }

    /// Sets the fault of one endpoint (it wins over the fault for all).
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().faults.insert(endpoint, fault);
        self.shared.changed.notify_all();
    }

    /// Removes the fault of one endpoint.
    pub fn clear_fault(&self, endpoint: Endpoint) {
        self.shared.lock().faults.remove(&endpoint);
        self.shared.changed.notify_all();
    }

    /// Sets the fault of every endpoint that has no fault of its own.
    pub fn set_fault_all(&self, fault: Fault) {
        self.shared.lock().fault_all = Some(fault);
        self.shared.changed.notify_all();
    }

    /// Removes every fault (per endpoint and for all). Requests already hanging keep hanging;
    /// held ones are answered.
    pub fn clear_faults(&self) {
        {
            let mut state = self.shared.lock();
            state.faults.clear();
            state.fault_all = None;
        }
        self.shared.changed.notify_all();
    }

    /// Adds (or replaces, by id) a container.
    pub fn add_container(&self, id: &str, name: &str, state: &str, pid: u32) {
        self.put(FakeContainer::new(id, name, state, pid));
    }

    /// Adds a container that is listed as running but whose inspect answers 404 (it vanished
    /// between the list and the inspect).
    pub fn add_vanishing_container(&self, id: &str, name: &str) {
        let mut c = FakeContainer::new(id, name, "running", 0);
        c.vanishes = true;
        self.put(c);
    }

    /// Adds or replaces a container (by id).
    pub fn put(&self, container: FakeContainer) {
        let mut state = self.shared.lock();
        state.containers.retain(|c| c.id != container.id);
        state.containers.push(container);
    }

    /// Changes a container's state and pid (e.g. `exited`, 0 before pushing its `die`).
    pub fn set_container_state(&self, id: &str, status: &str, pid: u32) {
        let mut state = self.shared.lock();
        if let Some(c) = state.containers.iter_mut().find(|c| c.id == id) {
            c.state = status.to_string();
            c.pid = pid;
        }
    }

    /// Removes a container from the table.
    pub fn remove_container(&self, id: &str) {
        self.shared.lock().containers.retain(|c| c.id != id);
    }

    /// The current table.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.shared.lock().containers.clone()
    }

    /// Queues one event line (a newline is added when missing) on every open event stream and
    /// keeps it for `since` replay. Returns the number of streams it was queued on.
    pub fn push_event(&self, line: &str) -> usize {
        let mut bytes = line.as_bytes().to_vec();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        let time_nano = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("timeNano").and_then(|t| t.as_u64()))
            .map(u128::from)
            .unwrap_or_else(now_nanos);
        let n = {
            let mut state = self.shared.lock();
            state.history.push_back((time_nano, bytes.clone()));
            while state.history.len() > EVENT_HISTORY {
                state.history.pop_front();
            }
            for queue in state.subscribers.values_mut() {
                queue.push_back(bytes.clone());
            }
            state.subscribers.len()
        };
        self.shared.changed.notify_all();
        n
    }

    /// Pushes a real-shaped event for a container of the table (its name from the table; an id
    /// not in the table gets the name `gone`). Returns what [`FakeEngine::push_event`] returns.
    pub fn push_action(&self, action: &str, id: &str) -> usize {
        let name = self
            .shared
            .lock()
            .containers
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "gone".into());
        self.push_event(&event_line(action, id, &name))
    }

    /// The number of event streams open now.
    pub fn event_streams(&self) -> usize {
        self.shared.lock().subscribers.len()
    }

    /// Every request line received so far (`GET /_ping HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .lock()
            .heads
            .iter()
            .map(|h| h.lines().next().unwrap_or("").to_string())
            .collect()
    }

    /// Every request head received so far, CRLFs included.
    pub fn request_heads(&self) -> Vec<String> {
        self.shared.lock().heads.clone()
    }

    /// The number of connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.lock().connections
    }

    /// Waits up to `timeout` for `done(self)` to hold; true if it did.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&FakeEngine) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` for a request line containing `needle`; true if one came.
    pub fn wait_for_request(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_until(timeout, |e| e.requests().iter().any(|r| r.contains(needle)))
    }
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real-shaped container event (Docker 20.10's form: the legacy `status`/`id`/`from` fields as
/// well), `timeNano` = now. `die` carries `exitCode` 0, `kill` `signal` 15.
pub fn event_line(action: &str, id: &str, name: &str) -> String {
    let nanos = now_nanos();
    let name = json_string(name.trim_start_matches('/'));
    let extra = match action {
        "die" => r#""exitCode":"0","#,
        "kill" => r#""signal":"15","#,
        _ => "",
    };
    format!(
        concat!(
            r#"{{"status":"{a}","id":"{id}","from":"test/busybox:1","Type":"container","Action":"{a}","#,
            r#""Actor":{{"ID":"{id}","Attributes":{{{extra}"image":"test/busybox:1","name":{name}}}}},"#,
            r#""scope":"local","time":{s},"timeNano":{ns}}}"#
        ),
        a = action,
        id = id,
        extra = extra,
        name = name,
        s = nanos / 1_000_000_000,
        ns = nanos
    )
}

/// A pid that no process has now: the highest free one below `pid_max` (the kernel hands pids out
/// upwards from the last one, so this stays free for the length of a test).
pub fn free_pid() -> u32 {
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(32768);
    (2..max)
        .rev()
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .expect("a free pid")
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn accept_loop(
    listener: UnixListener,
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    generation: u64,
) {
    while shared.alive(generation) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let id = {
                    let mut state = shared.lock();
                    state.connections += 1;
                    state.next_id += 1;
                    if let Ok(clone) = stream.try_clone() {
                        let id = state.next_id;
                        state.open.insert(id, clone);
                    }
                    state.next_id
                };
                let shared = Arc::clone(&shared);
                let handle = std::thread::spawn(move || {
                    let mut conn = Conn {
                        stream,
                        shared: Arc::clone(&shared),
                        generation,
                        id,
                        pending: Vec::new(),
                    };
                    conn.serve();
                    let _ = conn.stream.shutdown(std::net::Shutdown::Both);
                    let mut state = shared.lock();
                    state.open.remove(&id);
                    state.subscribers.remove(&id);
                });
                threads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(handle);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// A parsed request: what the engine needs from it.
#[derive(Debug, Clone)]
struct Request {
    endpoint: Endpoint,
    /// The path's API version text (`1.41`), if versioned.
    version: Option<String>,
    /// The container reference of an inspect.
    container: Option<String>,
    /// The `since` query value of an events request.
    since: Option<String>,
    close: bool,
    http10: bool,
}

/// A response to send: status line, headers (without framing ones) and body.
struct Response {
    status: &'static str,
    content_type: &'static str,
    extra_headers: Vec<(String, String)>,
    /// An `Api-Version` value to send instead of the advertised one (for bad pings).
    api_version_override: Option<String>,
    body: Vec<u8>,
}

/// How an event stream frames the events it delivers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamMode {
    Normal,
    SplitUtf8,
    Http10,
    CloseMidChunk,
}

struct Conn {
    stream: UnixStream,
    shared: Arc<Shared>,
    generation: u64,
    id: u64,
    /// Bytes read past the last request head.
    pending: Vec<u8>,
}

impl Conn {
    fn alive(&self) -> bool {
        self.shared.alive(self.generation)
    }

    fn serve(&mut self) {
        if self.shared.lock().fault_all == Some(Fault::HangAfterAccept) {
            self.idle_until_closed();
            return;
        }
        loop {
            let Some(head) = self.read_head() else { return };
            let Some(request) = parse_request(&head) else {
                let _ = self.stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
                );
                return;
            };
            if !self.answer(&request) {
                return;
            }
        }
    }

    /// Reads one request head (logged); `None` at EOF, on error, on an oversize head or on stop.
    fn read_head(&mut self) -> Option<String> {
        let _ = self.stream.set_read_timeout(Some(TICK));
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = find(&self.pending, b"\r\n\r\n") {
                let head: Vec<u8> = self.pending.drain(..end + 4).collect();
                let head = String::from_utf8_lossy(&head).into_owned();
                self.shared.lock().heads.push(head.clone());
                return Some(head);
            }
            if self.pending.len() > REQUEST_HEAD_MAX || !self.alive() {
                return None;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => return None,
            }
        }
    }

    /// Sends nothing more; returns when the client closes, on error or on stop.
    fn idle_until_closed(&mut self) {
        let _ = self.stream.set_read_timeout(Some(TICK));
        let mut buf = [0u8; 4096];
        while self.alive() {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(_) => return,
            }
        }
    }

    /// Writes all of `data`, giving up on error or stop. False when it could not.
    fn send(&mut self, data: &[u8]) -> bool {
        let _ = self.stream.set_write_timeout(Some(TICK));
        let mut rest = data;
        while !rest.is_empty() {
            if !self.alive() {
                return false;
            }
            match self.stream.write(rest) {
                Ok(0) => return false,
                Ok(n) => rest = &rest[n..],
                Err(e) if is_timeout(&e) => {}
                Err(_) => return false,
            }
        }
        true
    }

    fn send_chunk(&mut self, data: &[u8]) -> bool {
        let mut framed = format!("{:x}\r\n", data.len()).into_bytes();
        framed.extend_from_slice(data);
        framed.extend_from_slice(b"\r\n");
        self.send(&framed)
    }

    /// Answers one request; true when the connection may carry another one.
    fn answer(&mut self, request: &Request) -> bool {
        // The answer is computed when the request arrives: a held or delayed answer carries the
        // table as it was then (an engine that listed, then was slow to send).
        let normal = self.normal_response(request);
        let fault = loop {
            let fault = self.shared.lock().fault_for(request.endpoint);
            match fault {
                Some(Fault::Hold) => {
                    if !self.shared.nap(self.generation, TICK) {
                        return false;
                    }
                }
                Some(Fault::Delay(d)) => {
                    let until = Instant::now() + d;
                    while Instant::now() < until {
                        if !self.shared.nap(self.generation, TICK) {
                            return false;
                        }
                    }
                    break None;
                }
                other => break other,
            }
        };
        if request.endpoint == Endpoint::Events && fault_keeps_stream(fault) {
            return self.event_stream(request, fault);
        }
        let Some(fault) = fault else {
            return self.send_response(request, &normal);
        };
        match fault {
            Fault::HangAfterAccept => {
                self.idle_until_closed();
                false
            }
            Fault::HeadThenHang => {
                let framing = if request.endpoint == Endpoint::Events {
                    Framing::Chunked
                } else {
                    Framing::Length(normal.body.len())
                };
                let head = self.head(request, &normal, framing);
                if self.send(&head) {
                    self.idle_until_closed();
                }
                false
            }
            Fault::GarbageChunkSize => {
                let head = self.head(request, &normal, Framing::Chunked);
                if self.send(&head) && self.send(b"zz\r\n{\"Id\":\"") {
                    self.idle_until_closed();
                }
                false
            }
            Fault::TruncatedChunk => {
                let head = self.head(request, &normal, Framing::Chunked);
                let mut data = b"400\r\n".to_vec();
                data.extend_from_slice(&[b' '; 0x100]);
                self.send(&head);
                self.send(&data);
                false
            }
            Fault::SplitUtf8 => {
                let head = self.head(request, &normal, Framing::Chunked);
                if !self.send(&head) {
                    return false;
                }
                for piece in split_inside_utf8(&normal.body) {
                    if !self.send_chunk(piece) {
                        return false;
                    }
                }
                self.send(b"0\r\n\r\n") && !request.close
            }
            Fault::HugeLine => {
                let response = Response {
                    status: "200 OK",
                    content_type: "application/json",
                    extra_headers: Vec::new(),
                    api_version_override: None,
                    body: Vec::new(),
                };
                let head = self.head(request, &response, Framing::Chunked);
                if !self.send(&head) || !self.send_huge_line() {
                    return false;
                }
                self.send(b"0\r\n\r\n") && !request.close
            }
            Fault::InvalidJson | Fault::WrongShape => {
                let response = self.bad_document(request, fault, normal);
                self.send_response(request, &response)
            }
            Fault::TooNew | Fault::TooOld | Fault::NotFound | Fault::ServerError => {
                let response = self.error_response(request, fault);
                self.send_response(request, &response)
            }
            Fault::Http10 => {
                let mut head = self.head(request, &normal, Framing::UntilClose);
                head.splice(..8, b"HTTP/1.0".iter().copied());
                if self.send(&head) {
                    self.send(&normal.body);
                }
                false
            }
            Fault::CloseMidChunk => {
                let head = self.head(request, &normal, Framing::Chunked);
                let body = &normal.body;
                let half = body.len() / 2;
                if !self.send(&head) || !self.send_chunk(&body[..half]) {
                    return false;
                }
                let rest = &body[half..];
                let mut cut = format!("{:x}\r\n", rest.len()).into_bytes();
                cut.extend_from_slice(&rest[..rest.len() / 4]);
                self.send(&cut);
                false
            }
            Fault::Hold | Fault::Delay(_) => unreachable!("resolved above"),
        }
    }

    fn send_huge_line(&mut self) -> bool {
        let mut line = br#"{"Type":"container","Action":"start","Actor":{"ID":""#.to_vec();
        line.resize(64 * 1024, b'a');
        if !self.send_chunk(&line) {
            return false;
        }
        let filler = vec![b'a'; 64 * 1024];
        for _ in 1..HUGE_LINE_BYTES / filler.len() {
            if !self.send_chunk(&filler) {
                return false;
            }
        }
        true
    }

    /// The answer without any fault (version refusals included).
    fn normal_response(&self, request: &Request) -> Response {
        let state = self.shared.lock();
        if let Some(v) = &request.version {
            if let (Some(asked), Some(max)) = (
                parse_version(v),
                state.api_version.as_deref().and_then(parse_version),
            ) {
                if asked > max {
                    return too_new(v, state.api_version.as_deref());
                }
            }
            if let (Some(asked), Some(min)) =
                (parse_version(v), parse_version(&state.min_api_version))
            {
                if asked < min {
                    return too_old(v, &state.min_api_version);
                }
            }
        }
        match request.endpoint {
            Endpoint::Ping => Response {
                status: "200 OK",
                content_type: "text/plain; charset=utf-8",
                extra_headers: vec![
                    ("Builder-Version".into(), "".into()),
                    (
                        "Cache-Control".into(),
                        "no-cache, no-store, must-revalidate".into(),
                    ),
                    ("Pragma".into(), "no-cache".into()),
                ],
                api_version_override: None,
                body: b"OK".to_vec(),
            },
            Endpoint::Version => json_ok(version_body(
                state.api_version.as_deref().unwrap_or("1.24"),
                &state.min_api_version,
            )),
            Endpoint::Events => json_ok(Vec::new()),
            Endpoint::List => {
                let items: Vec<String> = state
                    .containers
                    .iter()
                    .filter(|c| c.listed())
                    .map(list_item)
                    .collect();
                json_ok(format!("[{}]\n", items.join(",")).into_bytes())
            }
            Endpoint::Inspect => {
                let reference = request.container.clone().unwrap_or_default();
                match find_container(&state.containers, &reference) {
                    Some(c) if !c.vanishes => json_ok(inspect_body(c).into_bytes()),
                    _ => no_such_container(&reference),
                }
            }
            Endpoint::Other => not_found_page(),
        }
    }

    fn bad_document(&self, request: &Request, fault: Fault, normal: Response) -> Response {
        let invalid = fault == Fault::InvalidJson;
        match request.endpoint {
            Endpoint::Ping => {
                let mut r = normal;
                let version = if invalid { "1.4x" } else { "banana" };
                r.api_version_override = Some(version.into());
                r
            }
            Endpoint::List if !invalid => json_ok(
                br#"{"Id":"not a list","Names":"/x","State":7}
"#
                .to_vec(),
            ),
            Endpoint::Inspect if !invalid => json_ok(
                br#"[{"Id":42,"Name":["x"],"State":"running","Config":null}]
"#
                .to_vec(),
            ),
            _ if !invalid => json_ok(b"[1,2,3]\n".to_vec()),
            _ => json_ok(br#"{"Id":"0123","State":{"Status":"running","Pid":12 ,}"#.to_vec()),
        }
    }

    fn error_response(&self, request: &Request, fault: Fault) -> Response {
        let state = self.shared.lock();
        let asked = request.version.clone().unwrap_or_else(|| "1.52".into());
        match fault {
            Fault::TooNew => too_new(&asked, state.api_version.as_deref()),
            Fault::TooOld => too_old(&asked, "1.44"),
            Fault::NotFound if request.endpoint == Endpoint::Inspect => {
                no_such_container(request.container.as_deref().unwrap_or(""))
            }
            Fault::NotFound => not_found_page(),
            _ => Response {
                status: "500 Internal Server Error",
                content_type: "application/json",
                extra_headers: Vec::new(),
                api_version_override: None,
                body: b"{\"message\":\"fake engine: injected internal error\"}\n".to_vec(),
            },
        }
    }

    /// A response head with the engine's headers and the given framing.
    fn head(&self, request: &Request, response: &Response, framing: Framing) -> Vec<u8> {
        let api_version = self.shared.lock().api_version.clone();
        let mut head = format!("HTTP/1.1 {}\r\n", response.status);
        if let Some(v) = response.api_version_override.clone().or(api_version) {
            head.push_str(&format!("Api-Version: {v}\r\n"));
        }
        for (k, v) in &response.extra_headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Type: {}\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nDate: {DATE}\r\n",
            response.content_type
        ));
        match framing {
            Framing::Length(n) => head.push_str(&format!("Content-Length: {n}\r\n")),
            Framing::Chunked => {}
            Framing::UntilClose => {}
        }
        if request.close || framing == Framing::UntilClose {
            head.push_str("Connection: close\r\n");
        }
        if framing == Framing::Chunked {
            head.push_str("Transfer-Encoding: chunked\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    /// Sends a whole response the way Go frames it; true when the connection stays usable.
    fn send_response(&mut self, request: &Request, response: &Response) -> bool {
        if request.http10 {
            let mut head = self.head(request, response, Framing::UntilClose);
            head.splice(..8, b"HTTP/1.0".iter().copied());
            self.send(&head);
            self.send(&response.body);
            return false;
        }
        if response.body.len() <= CHUNKING_THRESHOLD {
            let mut data = self.head(request, response, Framing::Length(response.body.len()));
            data.extend_from_slice(&response.body);
            self.send(&data) && !request.close
        } else {
            let head = self.head(request, response, Framing::Chunked);
            self.send(&head)
                && self.send_chunk(&response.body)
                && self.send(b"0\r\n\r\n")
                && !request.close
        }
    }

    /// Serves an event stream (no fault, or a fault that keeps it open). Returns false: the
    /// connection ends with the stream.
    fn event_stream(&mut self, request: &Request, fault: Option<Fault>) -> bool {
        let normal = self.normal_response(request);
        if normal.status != "200 OK" {
            return self.send_response(request, &normal);
        }
        let content_type = match request.version.as_deref().and_then(parse_version) {
            Some(v) if v >= (1, 52) => "application/jsonl",
            _ => "application/json",
        };
        let response = Response {
            status: "200 OK",
            content_type,
            extra_headers: Vec::new(),
            api_version_override: None,
            body: Vec::new(),
        };
        let mode = match fault {
            Some(Fault::SplitUtf8) => StreamMode::SplitUtf8,
            Some(Fault::Http10) => StreamMode::Http10,
            Some(Fault::CloseMidChunk) => StreamMode::CloseMidChunk,
            _ => StreamMode::Normal,
        };
        // Subscribe before the head goes out, so that no event pushed after the client saw the
        // head is missed; replay what `since` asks for first.
        {
            let since = request.since.as_deref().and_then(parse_since);
            let mut state = self.shared.lock();
            let replay: VecDeque<Vec<u8>> = match since {
                Some(since) => state
                    .history
                    .iter()
                    .filter(|(t, _)| *t >= since)
                    .map(|(_, line)| line.clone())
                    .collect(),
                None => VecDeque::new(),
            };
            state.subscribers.insert(self.id, replay);
        }
        let head = if mode == StreamMode::Http10 {
            let mut head = self.head(request, &response, Framing::UntilClose);
            head.splice(..8, b"HTTP/1.0".iter().copied());
            head
        } else {
            self.head(request, &response, Framing::Chunked)
        };
        if !self.send(&head) {
            return false;
        }
        if matches!(
            fault,
            Some(Fault::GarbageChunkSize | Fault::TruncatedChunk | Fault::HugeLine)
        ) {
            // These streams never deliver: do not count them as subscribers.
            self.shared.lock().subscribers.remove(&self.id);
        }
        match fault {
            Some(Fault::GarbageChunkSize) => {
                if self.send(b"zz\r\n{\"Type\":\"container\"") {
                    self.idle_until_closed();
                }
                return false;
            }
            Some(Fault::TruncatedChunk) => {
                let mut data = b"400\r\n{\"Type\":\"container\",\"Action\":\"start\"".to_vec();
                data.resize(5 + 0x100, b' ');
                self.send(&data);
                return false;
            }
            Some(Fault::HugeLine) => {
                if self.send_huge_line() {
                    self.idle_until_closed();
                }
                return false;
            }
            Some(Fault::InvalidJson) => {
                let bad = b"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\n";
                if !self.send_chunk(bad) {
                    return false;
                }
            }
            Some(Fault::WrongShape) => {
                let a =
                    b"{\"Type\":[\"container\"],\"Action\":42,\"Actor\":\"x\",\"time\":\"soon\"}\n";
                if !self.send_chunk(a) || !self.send_chunk(b"[1,2,3]\n") {
                    return false;
                }
            }
            _ => {}
        }
        self.deliver_events(mode);
        false
    }

    /// Sends queued events until the client goes, a write fails or the engine stops.
    fn deliver_events(&mut self, mode: StreamMode) {
        let mut delivered = 0usize;
        let _ = self.stream.set_read_timeout(Some(Duration::from_millis(1)));
        let mut scratch = [0u8; 1024];
        loop {
            let next = {
                let mut state = self.shared.lock();
                if state.generation != self.generation {
                    return;
                }
                match state.subscribers.get_mut(&self.id) {
                    Some(queue) => queue.pop_front(),
                    None => return,
                }
            };
            let Some(line) = next else {
                // Nothing to send: notice a client that went away, then wait for a push.
                match self.stream.read(&mut scratch) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => return,
                }
                if !self.shared.nap(self.generation, TICK) {
                    return;
                }
                continue;
            };
            let ok = match mode {
                StreamMode::Normal => self.send_chunk(&line),
                StreamMode::Http10 => self.send(&line),
                StreamMode::SplitUtf8 => {
                    let pieces: Vec<Vec<u8>> = split_inside_utf8(&line)
                        .into_iter()
                        .map(<[u8]>::to_vec)
                        .collect();
                    pieces.iter().all(|p| self.send_chunk(p))
                }
                StreamMode::CloseMidChunk if delivered == 0 => self.send_chunk(&line),
                StreamMode::CloseMidChunk => {
                    let mut cut = format!("{:x}\r\n", line.len()).into_bytes();
                    cut.extend_from_slice(&line[..line.len() / 2]);
                    self.send(&cut);
                    return;
                }
            };
            if !ok {
                return;
            }
            delivered += 1;
        }
    }
}

/// Faults that an event stream serves as a (possibly broken) stream rather than as a one-shot
/// answer.
fn fault_keeps_stream(fault: Option<Fault>) -> bool {
    matches!(
        fault,
        None | Some(
            Fault::SplitUtf8
                | Fault::Http10
                | Fault::CloseMidChunk
                | Fault::GarbageChunkSize
                | Fault::TruncatedChunk
                | Fault::HugeLine
                | Fault::InvalidJson
                | Fault::WrongShape
        )
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

fn json_ok(body: Vec<u8>) -> Response {
    Response {
        status: "200 OK",
        content_type: "application/json",
        extra_headers: Vec::new(),
        api_version_override: None,
        body,
    }
}

fn too_new(asked: &str, max: Option<&str>) -> Response {
    Response {
        status: "400 Bad Request",
        content_type: "application/json",
        extra_headers: Vec::new(),
        api_version_override: None,
        body: format!(
            "{{\"message\":\"client version {asked} is too new. Maximum supported API version is {}\"}}\n",
            max.unwrap_or("1.41")
        )
        .into_bytes(),
    }
}

fn too_old(asked: &str, min: &str) -> Response {
    Response {
        status: "400 Bad Request",
        content_type: "text/plain; charset=utf-8",
        extra_headers: vec![("X-Content-Type-Options".into(), "nosniff".into())],
        api_version_override: None,
        body: format!(
            "client version {asked} is too old. Minimum supported API version is {min}, please upgrade your client to a newer version\n"
        )
        .into_bytes(),
    }
}

fn no_such_container(reference: &str) -> Response {
    Response {
        status: "404 Not Found",
        content_type: "application/json",
        extra_headers: Vec::new(),
        api_version_override: None,
        body: format!(
            "{{\"message\":{}}}\n",
            json_string(&format!("No such container: {reference}"))
        )
        .into_bytes(),
    }
}

fn not_found_page() -> Response {
    Response {
        status: "404 Not Found",
        content_type: "application/json",
        extra_headers: Vec::new(),
        api_version_override: None,
        body: b"{\"message\":\"page not found\"}\n".to_vec(),
    }
}

fn find_container<'a>(table: &'a [FakeContainer], reference: &str) -> Option<&'a FakeContainer> {
    if reference.is_empty() {
        return None;
    }
    if let Some(c) = table
        .iter()
        .find(|c| c.id == reference || c.name == reference.trim_start_matches('/'))
    {
        return Some(c);
    }
    let mut by_prefix = table.iter().filter(|c| c.id.starts_with(reference));
    match (by_prefix.next(), by_prefix.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// One `/containers/json` element, shaped like Docker 20.10's.
fn list_item(c: &FakeContainer) -> String {
    format!(
        concat!(
            r#"{{"Id":"{id}","Names":[{name}],"Image":"test/busybox:1","#,
            r#""ImageID":"sha256:84f013b1aeddb3eab145ff342d60b940b72d7e7cabe17820608d1c24acc94543","#,
            r#""Command":"sleep 300","Created":1795622924,"Ports":[],"Labels":{{"team":"flow"}},"#,
            r#""State":"{state}","Status":"Up 2 seconds","HostConfig":{{"NetworkMode":"default"}},"#,
            r#""NetworkSettings":{{"Networks":{{"bridge":{{"IPAMConfig":null,"Links":null,"Aliases":null,"#,
            r#""NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"#,
            r#""IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","#,
            r#""DriverOpts":null}}}}}},"Mounts":[]}}"#
        ),
        id = c.id,
        name = json_string(&format!("/{}", c.name)),
        state = c.state,
    )
}

/// A `/containers/{id}/json` document, shaped like Docker 20.10's (label with non-ASCII text
/// included, so that every inspect body has multi-byte UTF-8 in it).
fn inspect_body(c: &FakeContainer) -> String {
    let running = matches!(c.state.as_str(), "running" | "paused" | "restarting");
    let paused = c.state == "paused";
    let root = "/tmp/csflowd-fake/root/containers";
    format!(
        concat!(
            r#"{{"Id":"{id}","Created":"2026-11-25T16:08:44.650098494Z","Path":"sleep","Args":["300"],"#,
            r#""State":{{"Status":"{state}","Running":{running},"Paused":{paused},"Restarting":false,"#,
            r#""OOMKilled":false,"Dead":false,"Pid":{pid},"ExitCode":0,"Error":"","#,
            r#""StartedAt":"2026-11-25T16:08:44.754313969Z","FinishedAt":"0001-01-01T00:00:00Z"}},"#,
            r#""Image":"sha256:84f013b1aeddb3eab145ff342d60b940b72d7e7cabe17820608d1c24acc94543","#,
            r#""ResolvConfPath":"{root}/{id}/resolv.conf","HostnamePath":"{root}/{id}/hostname","#,
            r#""HostsPath":"{root}/{id}/hosts","LogPath":"{root}/{id}/{id}-json.log","#,
            r#""Name":{name},"RestartCount":0,"Driver":"overlay2","Platform":"linux","#,
            r#""MountLabel":"","ProcessLabel":"","AppArmorProfile":"","ExecIDs":null,"#,
            r#""HostConfig":{{"Binds":null,"NetworkMode":"default","PortBindings":{{}},"#,
            r#""RestartPolicy":{{"Name":"no","MaximumRetryCount":0}},"AutoRemove":false,"#,
            r#""CgroupnsMode":"host","Dns":[],"IpcMode":"private","Cgroup":"","Links":null,"#,
            r#""OomScoreAdj":0,"PidMode":"","Privileged":false,"ShmSize":67108864,"Runtime":"runc","#,
            r#""ConsoleSize":[0,0],"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"#,
            r#""CgroupParent":"","BlkioWeight":0,"CpuPeriod":0,"CpuQuota":0,"CpusetCpus":"","#,
            r#""CpusetMems":"","MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"#,
            r#""PidsLimit":null,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"#,
            r#""MaskedPaths":["/proc/asound","/proc/acpi"],"ReadonlyPaths":["/proc/bus","/proc/fs"]}},"#,
            r#""GraphDriver":{{"Data":{{"MergedDir":"/tmp/csflowd-fake/root/overlay2/{short}/merged"}},"#,
            r#""Name":"overlay2"}},"Mounts":[],"#,
            r#""Config":{{"Hostname":{hostname},"Domainname":"","User":"","AttachStdin":false,"#,
            r#""AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"#,
            r#""StdinOnce":false,"Env":null,"Cmd":["sleep","300"],"Image":"test/busybox:1","#,
            r#""Volumes":null,"WorkingDir":"","Entrypoint":null,"NetworkDisabled":true,"#,
            r#""OnBuild":null,"Labels":{{"note":"café ☕ 🐳"}}}},"#,
            r#""NetworkSettings":{{"Bridge":"","SandboxID":"","HairpinMode":false,"Ports":{{}},"#,
            r#""SandboxKey":"","Networks":{{}}}}}}"#,
            "\n"
        ),
        id = c.id,
        short = c.id.get(..12).unwrap_or(&c.id),
        state = c.state,
        running = running,
        paused = paused,
        pid = c.pid,
        root = root,
        name = json_string(&format!("/{}", c.name)),
        hostname = json_string(&c.hostname),
    )
}

fn version_body(api: &str, min: &str) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"Platform":{{"Name":""}},"Components":[{{"Name":"Engine","Version":"20.10.24+dfsg1","#,
            r#""Details":{{"ApiVersion":"{api}","Arch":"amd64","MinAPIVersion":"{min}","Os":"linux"}}}}],"#,
            r#""Version":"20.10.24+dfsg1","ApiVersion":"{api}","MinAPIVersion":"{min}","#,
            r#""GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","#,
            r#""KernelVersion":"6.18.44","BuildTime":"2026-05-07T21:09:36.000000000+00:00"}}"#,
            "\n"
        ),
        api = api,
        min = min
    )
    .into_bytes()
}

/// Parses a request head; `None` when it is not `METHOD TARGET HTTP/1.x`.
fn parse_request(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut words = lines.next()?.split(' ');
    let (_method, target, proto) = (words.next()?, words.next()?, words.next()?);
    let http10 = match proto {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return None,
    };
    let close = lines.any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close")
        })
    });
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (version, rest) = match path.strip_prefix("/v").and_then(|p| p.split_once('/')) {
        Some((v, rest)) if parse_version(v).is_some() => (Some(v.to_string()), format!("/{rest}")),
        _ => (None, path.to_string()),
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let (endpoint, container) = match segments.as_slice() {
        ["_ping"] => (Endpoint::Ping, None),
        ["version"] => (Endpoint::Version, None),
        ["events"] => (Endpoint::Events, None),
        ["containers", "json"] => (Endpoint::List, None),
        ["containers", id, "json"] => (Endpoint::Inspect, Some(id.to_string())),
        _ => (Endpoint::Other, None),
    };
    let since = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .map(str::to_string);
    Some(Request {
        endpoint,
        version,
        container,
        since,
        close,
        http10,
    })
}

/// `1.41` → (1, 41).
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    if major.is_empty() || minor.is_empty() {
        return None;
    }
    if !major
        .bytes()
        .chain(minor.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A `since` value (`S` or `S.NNN`, the fraction padded or cut to 9 digits) in nanoseconds.
fn parse_since(text: &str) -> Option<u128> {
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: u128 = secs.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    Some(secs * 1_000_000_000 + digits.parse::<u128>().ok()?)
}

/// Splits `data` after the first byte of every multi-byte UTF-8 sequence (in the middle when there
/// is none). The pieces concatenate to `data`; none is empty.
pub fn split_inside_utf8(data: &[u8]) -> Vec<&[u8]> {
    let mut cuts: Vec<usize> = data
        .iter()
        .enumerate()
        .filter(|(i, &b)| b >= 0xC0 && i + 1 < data.len())
        .map(|(i, _)| i + 1)
        .collect();
    if cuts.is_empty() && data.len() > 1 {
        cuts.push(data.len() / 2);
    }
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        pieces.push(&data[start..cut]);
        start = cut;
    }
    if start < data.len() {
        pieces.push(&data[start..]);
    }
    pieces
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
