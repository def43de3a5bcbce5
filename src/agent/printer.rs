//! `--print`: every sample sent, as one JSON line on standard output, without ever blocking the loop.
//!
//! Standard output may be a terminal, a pipe to a slow reader, a file or a supervisor's socket. The
//! printer writes through its own non-blocking open file description (a re-open of
//! `/proc/self/fd/1`, so the shell's terminal is not switched to non-blocking), keeps what could not
//! be written yet in a bounded queue, and drops whole lines, counted and logged once, when the reader
//! falls [`QUEUE_LIMIT`] bytes behind.
//!
//! A socket cannot be re-opened that way, nor a pipe of another user: then the printer shares
//! standard output's description, which stays blocking, and writes at most [`SHARED_WRITE`] bytes
//! at a time and only when `poll` says there is room, so the write completes at once.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::rc::Rc;

use log::warn;

use crate::sys::Watched;

/// Most bytes waiting for standard output.
pub const QUEUE_LIMIT: usize = 1 << 20;

/// Largest write to a shared, blocking standard output: no more than `PIPE_BUF`, which a pipe or a
/// socket that polls writable takes whole.
pub const SHARED_WRITE: usize = 4096;

/// The JSON line printer.
pub struct Printer {
    out: Option<File>,
    watched: Option<Watched<File>>,
    queue: Vec<u8>,
    dropped_lines: u64,
    key: usize,
    poller: Rc<polling::Poller>,
    broken: bool,
    /// Writing through standard output's own (blocking) description.
    shared: bool,
}

impl Printer {
    /// A printer to standard output; readiness events use `key`.
    pub fn new(poller: &Rc<polling::Poller>, key: usize) -> io::Result<Printer> {
        let reopened = std::fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/proc/self/fd/1");
        let (out, shared) = match reopened {
            Ok(f) => (f, false),
            Err(_) => {
                use std::os::fd::AsFd;
                (File::from(io::stdout().as_fd().try_clone_to_owned()?), true)
            }
        };
        Ok(Printer {
            shared,
            out: Some(out),
            watched: None,
            queue: Vec::new(),
            dropped_lines: 0,
            key,
            poller: poller.clone(),
            broken: false,
        })
    }

    /// Queues one line (a newline is added) and writes what it can now.
    pub fn print(&mut self, line: &str) {
        if self.broken {
            return;
        }
        if self.queue.len() + line.len() + 1 > QUEUE_LIMIT {
            if self.dropped_lines == 0 {
                warn!("--print: standard output is not being read; dropping lines");
            }
            self.dropped_lines += 1;
            return;
        }
        self.queue.extend_from_slice(line.as_bytes());
        self.queue.push(b'\n');
        self.write_some();
    }

    /// Handles a writable event on standard output.
    pub fn on_writable(&mut self) {
        self.write_some();
    }

    fn write_some(&mut self) {
        while !self.queue.is_empty() {
            let file = match (&mut self.out, &mut self.watched) {
                (Some(f), _) => f,
                (None, Some(w)) => w.get_mut(),
                (None, None) => return,
            };
            let mut chunk = &self.queue[..];
            if self.shared {
                use std::os::fd::AsFd;
                if !crate::sys::is_writable_now(file.as_fd()) {
                    break;
                }
                chunk = &chunk[..chunk.len().min(SHARED_WRITE)];
            }
            match file.write(chunk) {
                Ok(0) => break,
                Ok(n) => {
                    self.queue.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    warn!("--print: standard output failed ({e}); printing stops");
                    self.broken = true;
                    self.queue = Vec::new();
                    return;
                }
            }
        }
        if self.queue.is_empty() {
            if let Some(w) = &self.watched {
                let _ = w.rearm(polling::Event::none(self.key));
            }
            return;
        }
        // Wait for the reader: register (once) or re-arm for writability.
        if let Some(file) = self.out.take() {
            match Watched::new(&self.poller, file, polling::Event::writable(self.key)) {
                Ok(w) => self.watched = Some(w),
                Err(e) => {
                    warn!("--print: cannot wait on standard output ({e}); printing stops");
                    self.broken = true;
                }
            }
        } else if let Some(w) = &self.watched {
            let _ = w.rearm(polling::Event::writable(self.key));
        }
    }

    /// Writes what is queued, for the exit path, as far as the reader takes it without blocking.
    pub fn finish(&mut self) {
        self.write_some();
    }
}
