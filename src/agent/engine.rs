//! The engine client: the sockets of the engine conversation, and nothing else.
//!
//! Every rule of the conversation (what to ask, how to read the answers, backoff, timeouts, bounds,
//! logging) lives in [`docker::Conversation`], which touches no socket and no clock. This shell
//! owns its non-blocking `UnixStream`s, one per slot the conversation names, registered in the
//! agent's poller under [`Key::Engine`]`(slot)`. It connects and writes the request of each
//! [`Transmit::Open`], drops the stream of each [`Transmit::Close`], reads what arrives into one
//! 64 KiB buffer and hands it in ([`Conversation::handle_bytes`], `handle_eof`,
//! `handle_io_error`), and passes the loop's clock through.
//!
//! Contract: nothing here blocks. `connect` never waits for `accept` (a full backlog is reported
//! as a connect failure); reads and writes stop at `WouldBlock` and re-arm the one-shot interest.
//! The loop calls [`EngineClient::on_ready`] for a poller event of [`Key::Engine`], and
//! [`EngineClient::on_timeout`] once its clock reaches [`EngineClient::next_deadline`] (the engine
//! has no timer on the agent's wheel); after either, and after [`EngineClient::describe`], it
//! drains [`EngineClient::poll_news`]. A poller event for a slot that was closed and reused in the
//! meantime is harmless: the new stream is written or read until `WouldBlock`.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use log::debug;

use crate::container::{ContainerId, News};
use crate::docker::{Conversation, IoFailure, Transmit};
use crate::sys::{self, Watched};

use super::keys::Key;

pub use crate::docker::conversation::LIST_LIMIT;

/// One open connection.
struct Stream {
    stream: Watched<UnixStream>,
    request: Vec<u8>,
    written: usize,
    /// Which opening of the slot this is.
    serial: u64,
}

/// The engine client.
pub struct EngineClient {
    socket: PathBuf,
    poller: Rc<polling::Poller>,
    conversation: Conversation,
    streams: Vec<Option<Stream>>,
    /// Openings so far: a read loop stops when its slot holds another stream.
    openings: u64,
    read_buf: Box<[u8; 64 << 10]>,
}

impl EngineClient {
    /// A client for the engine at `socket` (list bodies up to `list_limit` bytes, a re-list every
    /// `relist_ms`). Call [`EngineClient::start`] to connect.
    pub fn new(
        poller: &Rc<polling::Poller>,
        socket: PathBuf,
        list_limit: usize,
        relist_ms: u64,
    ) -> EngineClient {
        let mut conversation = Conversation::new(list_limit, relist_ms, sys::random_u64());
        conversation.set_label(&socket.display().to_string());
        EngineClient {
            socket,
            poller: poller.clone(),
            conversation,
            streams: Vec::new(),
            openings: 0,
            read_buf: Box::new([0; 64 << 10]),
        }
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts the conversation now.
    pub fn start(&mut self, now: u64) {
        self.conversation.start(now);
        self.transmit(now);
    }

    /// The table asks for a container's description; the answer comes through
    /// [`EngineClient::poll_news`].
    pub fn describe(&mut self, id: ContainerId, now: u64) {
        self.conversation.describe(id, now);
        self.transmit(now);
    }

    /// The next news for the container table.
    pub fn poll_news(&mut self) -> Option<News> {
        self.conversation.poll_news()
    }

    /// When [`EngineClient::on_timeout`] is due.
    pub fn next_deadline(&self) -> Option<u64> {
        self.conversation.poll_timeout()
    }

    /// The loop's clock reached [`EngineClient::next_deadline`].
    pub fn on_timeout(&mut self, now: u64) {
        self.conversation.handle_timeout(now);
        self.transmit(now);
    }

    /// Carries out what the conversation asked for.
    fn transmit(&mut self, now: u64) {
        while let Some(t) = self.conversation.poll_transmit() {
            match t {
                Transmit::Close { conn } => {
                    if let Some(s) = self.streams.get_mut(conn) {
                        *s = None;
                    }
                }
                Transmit::Open { conn, request } => {
                    if let Err(failure) = self.open(conn, request) {
                        self.conversation.handle_io_error(conn, failure, now);
                    }
                }
            }
        }
    }

    fn open(&mut self, slot: usize, request: Vec<u8>) -> Result<(), IoFailure> {
        if self.streams.len() <= slot {
            self.streams.resize_with(slot + 1, || None);
        }
        self.streams[slot] = None;
        let stream = sys::connect_unix(&self.socket).map_err(|e| {
            debug!("engine {}: connect: {e}", self.socket.display());
            IoFailure::connect(e.kind())
        })?;
        let interest = polling::Event::writable(Key::Engine(slot).encode());
        let stream = Watched::new(&self.poller, stream, interest).map_err(|e| {
            debug!(
                "engine {}: cannot watch the socket: {e}",
                self.socket.display()
            );
            IoFailure::Connect
        })?;
        self.openings += 1;
        self.streams[slot] = Some(Stream {
            stream,
            request,
            written: 0,
            serial: self.openings,
        });
        Ok(())
    }

    /// A readiness event for [`Key::Engine`]`(slot)`.
    pub fn on_ready(&mut self, slot: usize, now: u64) {
        let key = Key::Engine(slot).encode();
        let Some(s) = self.streams.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // Write what is left of the request.
        while s.written < s.request.len() {
            match s.stream.get().write(&s.request[s.written..]) {
                Ok(n) => s.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = s.stream.rearm(polling::Event::writable(key));
                    return;
                }
                Err(e) => {
                    debug!("engine {}: write: {e}", self.socket.display());
                    self.conversation
                        .handle_io_error(slot, IoFailure::Write, now);
                    self.transmit(now);
                    return;
                }
            }
        }
        // Read what arrived, until the socket has no more or the slot changes hands.
        let serial = s.serial;
        loop {
            let Some(s) = self
                .streams
                .get_mut(slot)
                .and_then(Option::as_mut)
                .filter(|s| s.serial == serial)
            else {
                return;
            };
            match s.stream.get().read(&mut self.read_buf[..]) {
                Ok(0) => {
                    self.conversation.handle_eof(slot, now);
                    self.transmit(now);
                    return;
                }
                Ok(n) => {
                    let bytes = self.read_buf.get(..n).unwrap_or_default();
                    self.conversation.handle_bytes(slot, bytes, now);
                    self.transmit(now);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = s.stream.rearm(polling::Event::readable(key));
                    return;
                }
                Err(e) => {
                    debug!("engine {}: read: {e}", self.socket.display());
                    self.conversation
                        .handle_io_error(slot, IoFailure::Read, now);
                    self.transmit(now);
                    return;
                }
            }
        }
    }
}
