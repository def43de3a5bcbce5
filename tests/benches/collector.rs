//! A collector for the agent benchmarks: a UDP socket on loopback read by its own thread, which
//! stamps every datagram with its arrival time the moment `recv` returns and walks it with the test
//! harness's structural walker (every record length checked against the structure table).
//!
//! The arrival log is shared: the benchmark reads it while the thread keeps receiving, so timing a
//! sample never depends on when the benchmark gets round to looking.
#![allow(dead_code)]

use std::collections::HashSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::sflow::walk;

/// One sample as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// When its datagram's `recv` returned.
    pub at: Instant,
    /// Data source class (2 host, 3 container).
    pub class: u32,
    /// Data source index.
    pub index: u32,
    /// Sample sequence number.
    pub sequence: u32,
    /// virt_cpu.state, for container samples.
    pub state: Option<u32>,
}

impl Arrival {
    /// A container sample (data source class 3).
    pub fn is_container(&self) -> bool {
        self.class == 3
    }

    /// A container's final sample (state exited or stopped).
    pub fn is_final(&self) -> bool {
        matches!(self.state, Some(4 | 5))
    }
}

#[derive(Default)]
struct Log {
    arrivals: Vec<Arrival>,
    datagrams: u64,
    /// Container samples seen, counted even when `keep` is off.
    container_samples: u64,
    /// Container samples carrying MIB-II groups (`mib2.containers = on`).
    container_mib2_samples: u64,
    host_samples: u64,
    /// Every container data source seen.
    sources: HashSet<u32>,
}

/// The collector and its receiving thread (stopped on drop).
pub struct Collector {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    /// Binds 127.0.0.1 on an ephemeral port and starts receiving. With `keep` off, samples are
    /// only counted (for runs with thousands of samples a second).
    pub fn start(keep: bool) -> Collector {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind the collector");
        let addr = socket.local_addr().expect("collector address");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let log = Arc::clone(&log);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || receive(socket, log, stop, keep))
        };
        Collector {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// Where the agent must send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Container samples received so far.
    pub fn container_samples(&self) -> u64 {
        self.lock().container_samples
    }

    /// Container samples with MIB-II groups (2007 to 2010) received so far.
    pub fn container_mib2_samples(&self) -> u64 {
        self.lock().container_mib2_samples
    }

    /// Host samples received so far.
    pub fn host_samples(&self) -> u64 {
        self.lock().host_samples
    }

    /// Datagrams received so far.
    pub fn datagrams(&self) -> u64 {
        self.lock().datagrams
    }

    /// The first kept sample of container data source 3:`index` that satisfies `wanted`.
    pub fn find(&self, index: u32, wanted: impl Fn(&Arrival) -> bool) -> Option<Arrival> {
        self.lock()
            .arrivals
            .iter()
            .find(|a| a.class == 3 && a.index == index && wanted(a))
            .copied()
    }

    /// Waits up to `timeout` for [`Collector::find`] to find one.
    pub fn wait(
        &self,
        index: u32,
        timeout: Duration,
        wanted: impl Fn(&Arrival) -> bool,
    ) -> Option<Arrival> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self.find(index, &wanted) {
                return Some(a);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The distinct container data sources seen so far.
    pub fn container_sources(&self) -> usize {
        self.lock().sources.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn receive(socket: UdpSocket, log: Arc<Mutex<Log>>, stop: Arc<AtomicBool>, keep: bool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(_) => continue, // timeout: look at `stop` again
        };
        let at = Instant::now();
        let (_, samples) = walk(&buf[..n]);
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        log.datagrams += 1;
        for s in samples {
            if s.class == 3 {
                log.container_samples += 1;
                if s.record(2010).is_some() {
                    log.container_mib2_samples += 1;
                }
                log.sources.insert(s.index);
            } else {
                log.host_samples += 1;
            }
            if keep {
                let state = s
                    .record(2101)
                    .and_then(|r| r.get(..4))
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                log.arrivals.push(Arrival {
                    at,
                    class: s.class,
                    index: s.index,
                    sequence: s.sequence,
                    state,
                });
            }
        }
    }
}
