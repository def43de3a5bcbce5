//! The agent: one thread, one [`polling::Poller`], one [`crate::timer::TimerWheel`].
//!
//! The loop waits until the earlier of the timer wheel's next deadline (polls fall on whole
//! seconds, [`POLL_SLOT_MS`]) and the engine client's (its requests' timeouts, reconnection, the
//! periodic re-list: the engine conversation keeps its own deadlines), or until a descriptor is
//! ready: the signalfd, the engine's connections, a collector socket, standard output. The engine
//! client's news goes to the container table, and the table's requests for descriptions back to the
//! engine, until neither has more. Before it waits again it sends what the wake-up queued. Nothing
//! in it blocks: sockets are non-blocking, files under /proc and /sys are small and local, and standard
//! output is written through a non-blocking queue.
//!
//! Signals arrive through a signalfd (the poller retries on EINTR, so a handler's flag would never wake
//! it): SIGTERM and SIGINT send what is queued and end [`run`]; SIGHUP re-reads the configuration and
//! applies it without losing sequence numbers, or keeps the running one and logs why.

mod adapter; // TEMPORARY adapter until the table takes container::News
mod containers;
mod engine;
mod exporter;
mod host_source;
mod keys;
mod printer;
mod slot_index;

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::cli::Overrides;
use crate::config::{self, Config, ConfigError};
use crate::host::{self, Roots};
use crate::rng;
use crate::sys::{self, SignalFd, Watched};
use crate::timer::{TimerId, TimerWheel};

use keys::Key;

use crate::docker::conversation::RELIST_MS;

pub use exporter::ExportStats;

/// Poll deadlines, the host's and every container's, fall on whole seconds of the agent's clock
/// (phases stay random at that resolution, spread over the polling interval): each wake-up polls
/// every data source due in that second at once and sends them in full datagrams, as the reference
/// agent's one-second tick does. On the benchmark machine a wake-up alone cost ~60 µs of CPU, five
/// times a container's whole sample, so they are what must be saved.
pub const POLL_SLOT_MS: u64 = 1000;

/// The default engine socket.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// What the timer wheel's timers stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    HostPoll,
    ContainerPoll(usize),
}

/// The largest container list accepted: `docker { maxListBytes }`, else [`engine::LIST_LIMIT`].
fn list_limit(config: &Config) -> usize {
    config
        .docker
        .as_ref()
        .and_then(|d| d.max_list_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(engine::LIST_LIMIT)
}

/// The engine socket to use when container tracking is on: `docker { socket }` (or
/// `--docker-socket`, which sets it), else `DOCKER_HOST=unix://PATH`, else [`DEFAULT_DOCKER_SOCKET`].
pub fn docker_socket(config: &Config) -> Option<PathBuf> {
    let docker = config.docker.as_ref()?;
    if let Some(s) = &docker.socket {
        return Some(s.clone());
    }
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        match host.strip_prefix("unix://") {
            Some(path) if path.starts_with('/') => return Some(PathBuf::from(path)),
            _ => warn!("DOCKER_HOST={host:?} is not unix:///PATH; using {DEFAULT_DOCKER_SOCKET}"),
        }
    }
    Some(PathBuf::from(DEFAULT_DOCKER_SOCKET))
}

/// How the agent was started: what it needs to (re)load its configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `-f FILE`; `None` searches `<etc>/csflowd.conf` then `<etc>/hsflowd.conf`.
    pub config_path: Option<PathBuf>,
    /// Command-line settings that override the file.
    pub overrides: Overrides,
    /// Where /proc, /sys and /etc are.
    pub roots: Roots,
    /// `--print`.
    pub print: bool,
}

/// A configuration ready to run, with what the file's parser had to say about it.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration, overrides applied.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Warnings, to be logged once.
    pub warnings: Vec<config::Warning>,
}

/// Reads the configuration the way the agent does at start and on SIGHUP.
pub fn load_config(settings: &Settings) -> Result<Loaded, ConfigError> {
    let file = match &settings.config_path {
        Some(p) => Some(p.clone()),
        None => config::default_path(&settings.roots.etc),
    };
    let (mut config, warnings) = match &file {
        Some(path) => {
            let parsed = config::load(path)?;
            (parsed.config, parsed.warnings)
        }
        None => (Config::default(), Vec::new()),
    };
    settings.overrides.apply(&mut config);
    Ok(Loaded {
        config,
        file,
        warnings,
    })
}

/// Logs a loaded configuration's warnings and a one-line summary.
pub fn log_loaded(loaded: &Loaded) {
    for w in &loaded.warnings {
        warn!("{w}");
    }
    match &loaded.file {
        Some(f) => info!("configuration {}: {}", f.display(), summary(&loaded.config)),
        None => info!(
            "no configuration file; built-in defaults: {}",
            summary(&loaded.config)
        ),
    }
}

/// The settings in effect, in one line.
pub fn summary(c: &Config) -> String {
    let collectors: Vec<String> = c
        .collectors
        .iter()
        .map(|k| std::net::SocketAddr::new(k.ip, k.port).to_string())
        .collect();
    format!(
        "polling {} s, datagramBytes {}, subAgentId {}, collectors [{}]{}",
        c.polling,
        c.datagram_bytes,
        c.sub_agent_id,
        collectors.join(", "),
        if c.docker.is_some() {
            ", docker on"
        } else {
            ""
        }
    )
}

struct Agent {
    engine: Option<engine::EngineClient>,
    containers: containers::Containers,
    /// News the agent itself makes (a new engine on SIGHUP), handed over before the engine's.
    news: Vec<crate::container::News>,
    to_inspect: Vec<crate::docker::ContainerId>,
    settings: Settings,
    config: Config,
    poller: Rc<polling::Poller>,
    signals: Watched<SignalFd>,
    wheel: TimerWheel<Timer>,
    host_timer: Option<TimerId>,
    exporter: exporter::Exporter,
    printer: Option<printer::Printer>,
    host: host_source::HostSource,
    start: Instant,
    rng: rng::Rng,
    stop: bool,
}

/// Runs the agent until SIGTERM or SIGINT. The handled signals must not have been delivered to a
/// handler before (the signalfd is created here, blocking them).
pub fn run(settings: Settings, config: Config) -> io::Result<()> {
    // Each container's counter files stay open between polls, within this limit.
    match sys::raise_open_files_limit() {
        Ok(n) => debug!("open files limit {n}"),
        Err(e) => warn!("cannot raise the open files limit to its hard limit: {e}"),
    }
    let poller = Rc::new(polling::Poller::new()?);
    let signals = Watched::new(
        &poller,
        SignalFd::new()?,
        polling::Event::readable(Key::Signals.encode()),
    )?;
    let printer = if settings.print {
        Some(
            printer::Printer::new(&poller, Key::Stdout.encode()).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("--print: cannot open standard output: {e}"),
                )
            })?,
        )
    } else {
        None
    };
    let uuid = host_uuid(&config, &settings.roots);
    let agent_ip = agent_address(&config);
    let mut exporter = exporter::Exporter::new(
        &poller,
        agent_ip,
        config.sub_agent_id,
        config.datagram_bytes,
    );
    exporter.set_collectors(&config.collectors);
    if config.collectors.is_empty() {
        warn!("no collector is configured: nothing will be sent");
    }
    info!("agent address {agent_ip}");
    let host = host_source::HostSource::new(settings.roots.clone(), uuid);
    let engine = docker_socket(&config)
        .map(|path| engine::EngineClient::new(&poller, path, list_limit(&config), RELIST_MS));
    let use_hostname = config.docker.as_ref().is_some_and(|d| d.hostname);
    let mut agent = Agent {
        engine,
        containers: containers::Containers::new(settings.roots.clone(), use_hostname),
        news: Vec::new(),
        to_inspect: Vec::new(),
        settings,
        config,
        poller,
        signals,
        wheel: TimerWheel::new(),
        host_timer: None,
        exporter,
        printer,
        host,
        start: Instant::now(),
        rng: rng::Rng::new(),
        stop: false,
    };
    agent.schedule_host(true);
    let now = agent.now_ms();
    if let Some(e) = &mut agent.engine {
        info!("tracking containers through {}", e.socket().display());
        e.start(now);
    }
    agent.run_loop()
}

fn host_uuid(config: &Config, roots: &Roots) -> [u8; 16] {
    if let Some(u) = config.uuid {
        return u;
    }
    match host::host_uuid(roots) {
        Some(u) => u,
        None => {
            warn!("no host UUID (no uuid setting, DMI product_uuid or machine-id): sending zeros");
            [0; 16]
        }
    }
}

fn agent_address(config: &Config) -> IpAddr {
    if let Some(ip) = config.agent_ip {
        return ip;
    }
    let addrs = sys::interface_addresses().unwrap_or_else(|e| {
        warn!("cannot list interface addresses: {e}");
        Vec::new()
    });
    let cidrs: Vec<host::CidrRule> = config
        .agent_cidrs
        .iter()
        .map(|c| host::CidrRule {
            net: c.net,
            prefix: c.prefix,
            exclude: c.exclude,
        })
        .collect();
    host::choose_agent_address(None, config.agent_device.as_deref(), &cidrs, &addrs)
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

impl Agent {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Arms the host poll timer: at a random phase within one interval when `fresh`, else one interval
    /// after the previous deadline (or from now, when the loop fell more than an interval behind).
    fn schedule_host(&mut self, fresh: bool) {
        let previous = self.host_timer.take().and_then(|id| {
            let d = self.wheel.deadline(id);
            self.wheel.cancel(id);
            d
        });
        if self.config.polling == 0 {
            return;
        }
        let interval = u64::from(self.config.polling) * 1000;
        let now = self.now_ms();
        let deadline = match previous {
            Some(prev) if !fresh && prev + interval > now => prev + interval,
            _ if fresh => (now + self.rng.below(interval)).div_ceil(POLL_SLOT_MS) * POLL_SLOT_MS,
            _ => (now + interval).div_ceil(POLL_SLOT_MS) * POLL_SLOT_MS,
        };
        self.host_timer = Some(self.wheel.insert(deadline, Timer::HostPoll));
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let mut events = polling::Events::new();
        while !self.stop {
            let now = self.now_ms();
            while let Some((id, timer)) = self.wheel.pop_expired(now) {
                self.on_timer(id, timer, now);
            }
            if let Some(e) = &mut self.engine {
                if e.next_deadline().is_some_and(|d| d <= now) {
                    e.on_timeout(now);
                    self.handle_news(now);
                }
            }
            // What this wake-up queued (the timers' samples, and the news of the events handled
            // at the end of the last iteration) goes out now, before the loop sleeps.
            self.exporter.flush(now);
            let engine_deadline = self.engine.as_ref().and_then(|e| e.next_deadline());
            let timeout = [self.wheel.next_deadline(), engine_deadline]
                .into_iter()
                .flatten()
                .min()
                .map(|d| Duration::from_millis(d.saturating_sub(self.now_ms())));
            events.clear();
            self.poller.wait(&mut events, timeout)?;
            for ev in events.iter() {
                match Key::decode(ev.key) {
                    Some(Key::Signals) => self.on_signals(),
                    Some(Key::Stdout) => {
                        if let Some(p) = &mut self.printer {
                            p.on_writable();
                        }
                    }
                    Some(Key::Collector(i)) => {
                        let now = self.now_ms();
                        self.exporter.on_socket_event(i, now);
                    }
                    Some(Key::Engine(slot)) => {
                        let now = self.now_ms();
                        if let Some(e) = &mut self.engine {
                            e.on_ready(slot, now);
                        }
                        self.handle_news(now);
                    }
                    None => debug!("event for unknown key {}", ev.key),
                }
            }
        }
        let now = self.now_ms();
        self.exporter.flush(now);
        if let Some(p) = &mut self.printer {
            p.finish();
        }
        let s = self.exporter.stats();
        info!(
            "stopping: {} samples in {} datagrams sent, {} send failures, {} collector errors",
            s.samples, s.datagrams, s.send_failures, s.refusals
        );
        Ok(())
    }

    fn on_timer(&mut self, id: TimerId, timer: Timer, now: u64) {
        match timer {
            Timer::HostPoll => {
                if self.host_timer == Some(id) {
                    if self.config.agent_ip.is_none() {
                        let agent = agent_address(&self.config);
                        if agent != self.exporter.agent() {
                            info!("agent address {} -> {agent}", self.exporter.agent());
                        }
                        self.exporter.reconfigure(
                            agent,
                            self.config.sub_agent_id,
                            self.config.datagram_bytes,
                            now,
                        );
                    }
                    let domains = self.config.docker.as_ref().map(|_| self.containers.alive());
                    self.host.sample(
                        domains,
                        &mut self.exporter,
                        self.printer.as_mut(),
                        self.config.datagram_bytes,
                        now,
                    );
                    self.schedule_host(false);
                }
            }
            Timer::ContainerPoll(slot) => {
                let polling = u64::from(self.config.polling) * 1000;
                let mut out = containers::Out::new(
                    &mut self.exporter,
                    self.printer.as_mut(),
                    &self.host,
                    now,
                );
                self.containers
                    .on_poll(slot, id, &mut self.wheel, polling, &mut out);
            }
        }
    }

    /// Hands the agent's own news, then the engine client's, to the container table, and the
    /// table's requests for descriptions back, until there is no more news.
    fn handle_news(&mut self, now: u64) {
        let polling = u64::from(self.config.polling) * 1000;
        loop {
            let news = if self.news.is_empty() {
                self.engine.as_mut().and_then(|e| e.poll_news())
            } else {
                Some(self.news.remove(0))
            };
            let Some(news) = news else { return };
            let mut out =
                containers::Out::new(&mut self.exporter, self.printer.as_mut(), &self.host, now);
            self.containers.on_news(
                adapter::from_neutral(news), // TEMPORARY adapter until the table takes container::News
                &mut self.wheel,
                polling,
                &mut out,
                &mut self.to_inspect,
            );
            if let Some(e) = &mut self.engine {
                for id in self.to_inspect.drain(..) {
                    e.describe(id, now);
                }
            }
            self.to_inspect.clear();
        }
    }

    fn on_signals(&mut self) {
        loop {
            match self.signals.get().read() {
                Ok(Some(sig)) if sig == libc::SIGTERM || sig == libc::SIGINT => {
                    info!("signal {sig}: flushing and exiting");
                    self.stop = true;
                }
                Ok(Some(sig)) if sig == libc::SIGHUP => self.reload(),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    error!("reading signals failed: {e}");
                    break;
                }
            }
        }
        if let Err(e) = self
            .signals
            .rearm(polling::Event::readable(Key::Signals.encode()))
        {
            error!("cannot re-arm the signal descriptor: {e}");
        }
    }

    fn reload(&mut self) {
        let loaded = match load_config(&self.settings) {
            Ok(l) => l,
            Err(e) => {
                error!("SIGHUP: configuration not reloaded, the running one stays in force: {e}");
                return;
            }
        };
        log_loaded(&loaded);
        let new = loaded.config;
        let now = self.now_ms();
        let agent = agent_address(&new);
        self.exporter
            .reconfigure(agent, new.sub_agent_id, new.datagram_bytes, now);
        self.exporter.set_collectors(&new.collectors);
        if new.uuid != self.config.uuid {
            self.host.set_uuid(host_uuid(&new, &self.settings.roots));
        }
        let polling_changed = new.polling != self.config.polling;
        let socket = docker_socket(&new);
        let engine_changed = socket.as_deref() != self.engine.as_ref().map(|e| e.socket());
        self.config = new;
        if polling_changed {
            self.schedule_host(true);
            let polling = u64::from(self.config.polling) * 1000;
            self.containers
                .reschedule_all(&mut self.wheel, polling, now);
        }
        if engine_changed {
            // A new engine (or none): containers of the old one end; the new one is listed afresh.
            self.engine = None;
            self.news.push(crate::container::News::Lost);
            self.news.push(crate::container::News::Present(Vec::new()));
            self.handle_news(now);
            if let Some(path) = socket {
                info!("tracking containers through {}", path.display());
                let mut e = engine::EngineClient::new(
                    &self.poller,
                    path,
                    list_limit(&self.config),
                    RELIST_MS,
                );
                e.start(now);
                self.engine = Some(e);
            }
        }
        info!("SIGHUP: configuration reloaded");
    }
}

/// Writes the process id to `path` (for `-p`).
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}
