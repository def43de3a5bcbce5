//! A minimal [`log`] backend for daemon mode: one datagram per record to the local syslog socket
//! (`/dev/log`, as busybox syslogd and every other syslog daemon provide), never blocking.
//!
//! When no syslog daemon listens, records are dropped: a daemon has no terminal to fall back to.

use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

/// Where the local syslog daemon listens.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// The syslog logger.
#[derive(Debug)]
pub struct SyslogLogger {
    socket: Mutex<Option<UnixDatagram>>,
    level: log::LevelFilter,
}

/// Facility "daemon" (3), shifted as syslog wants it.
const FACILITY_DAEMON: u8 = 3 << 3;

fn severity(level: log::Level) -> u8 {
    match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    }
}

impl SyslogLogger {
    /// A logger for records at `level` and above.
    pub fn new(level: log::LevelFilter) -> SyslogLogger {
        SyslogLogger {
            socket: Mutex::new(None),
            level,
        }
    }

    /// Installs the logger as the global one.
    pub fn install(self) -> Result<(), log::SetLoggerError> {
        let level = self.level;
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(level);
        Ok(())
    }
}

impl log::Log for SyslogLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "<{}>csflowd[{}]: {}",
            FACILITY_DAEMON | severity(record.level()),
            std::process::id(),
            record.args()
        );
        let Ok(mut guard) = self.socket.lock() else {
            return;
        };
        if guard.is_none() {
            *guard = UnixDatagram::unbound()
                .ok()
                .filter(|s| s.set_nonblocking(true).is_ok() && s.connect(SYSLOG_SOCKET).is_ok());
        }
        if let Some(s) = guard.as_ref() {
            if s.send(line.as_bytes()).is_err() {
                // The daemon may have restarted: reconnect on the next record.
                *guard = None;
            }
        }
    }

    fn flush(&self) {}
}
