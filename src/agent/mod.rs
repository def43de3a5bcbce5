//! The agent: one thread, one [`polling::Poller`], and the state machines it feeds.
//!
//! The loop owns every descriptor and the clock; the rules live below it. It waits until the next
//! deadline (the host's poll, the container table's next poll, the engine's and containerd's next
//! timers, a busy packet tap's next read; polls fall on the one grid of [`crate::schedule`]) or until
//! a descriptor is ready: the signalfd, the engine's connections, containerd's inotify and task
//! pidfds, the packet taps, a collector socket, standard output. It hands the news of the container
//! sources (containerd's, then the engine's) to the container table ([`crate::container::Table`])
//! and does what the table asks, in order: describe a container (its source), attach, read or drop
//! its counters and its taps (`container_counters.rs`, `taps.rs`), send a sample (the one sink,
//! `sink.rs`, for the collectors and `--print` alike). Before it waits again it sends what the
//! wake-up queued. Nothing in it blocks: sockets are non-blocking, files under /proc and /sys are
//! small and local, and standard output is written through a non-blocking queue.
//!
//! Signals arrive through a signalfd (the poller retries on EINTR, so a handler's flag would never wake
//! it): SIGTERM and SIGINT send what is queued and end [`run`]; SIGHUP re-reads the configuration and
//! applies it without losing sequence numbers, or keeps the running one and logs why.
//!
//! The files: `mod.rs` is the loop; `engine.rs` the engine's sockets; `containerd_source.rs`
//! containerd's descriptors (inotify, pidfds) around its task watcher; `discover.rs` which runtimes
//! the embedded default tracks; `container_counters.rs` reads each container's counters and maps them
//! to records; `host_source.rs` does the same for the host; `taps.rs` samples packets and sends the
//! tapped ports' counters; `sink.rs` takes every sample; `exporter.rs` packs samples into datagrams
//! and sends them; `printer.rs` writes `--print` lines without blocking; `auto_file.rs` writes
//! `hsflowd.auto`; `keys.rs` names the poller's keys.

mod auto_file;
mod container_counters;
mod container_mib2;
mod containerd_source;
mod discover;
mod engine;
mod exporter;
mod host_source;
mod keys;
mod printer;
mod sink;
mod taps;

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};

use crate::cli::Overrides;
use crate::config::{self, Config, ConfigError};
use crate::container::{Action, News, SourceId, Table};
use crate::host::{self, Roots};
use crate::rng::Rng;
use crate::schedule::Interval;
use crate::sys::{self, SignalFd, Watched};

use container_counters::ContainerCounterStore;
use keys::Key;
use sink::Sink;

pub use exporter::ExportStats;

/// The default engine socket.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The largest container list accepted: `docker { maxListBytes }`, else [`engine::LIST_LIMIT`].
fn list_limit(config: &Config) -> usize {
    config
        .docker
        .as_ref()
        .and_then(|d| d.max_list_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(engine::LIST_LIMIT)
}

/// The client of the engine at `path`, with the configuration's bounds and re-list interval.
fn engine_client(
    poller: &Rc<polling::Poller>,
    path: PathBuf,
    config: &Config,
) -> engine::EngineClient {
    engine::EngineClient::new(poller, path, list_limit(config), config::relist_ms(config))
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
    /// `-o FILE`: write `hsflowd.auto` there.
    pub output_file: Option<PathBuf>,
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
    /// Without a file: the container runtimes found and tracked, in words.
    pub found: Option<String>,
}

/// Reads the configuration the way the agent does at start and on SIGHUP.
pub fn load_config(settings: &Settings) -> Result<Loaded, ConfigError> {
    let file = match &settings.config_path {
        Some(p) => Some(p.clone()),
        None => config::default_path(&settings.roots.etc),
    };
    let mut found = None;
    let (mut config, warnings) = match &file {
        Some(path) => {
            let parsed = config::load(path)?;
            (parsed.config, parsed.warnings)
        }
        None => {
            // The embedded default tracks the runtimes it finds.
            let mut config = Config::default();
            let state = settings.overrides.containerd_state.as_deref();
            let runtimes = discover::discover_here(state);
            runtimes.apply(&mut config);
            found = Some(runtimes.describe());
            (config, Vec::new())
        }
    };
    settings.overrides.apply(&mut config);
    Ok(Loaded {
        config,
        file,
        warnings,
        found,
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
    if let Some(found) = &loaded.found {
        info!("no configuration file: {found}");
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
        "polling {} s, datagramBytes {}, subAgentId {}, collectors [{}]{}{}{}{}",
        c.polling,
        c.datagram_bytes,
        c.sub_agent_id,
        collectors.join(", "),
        if c.docker.is_some() {
            ", docker on"
        } else {
            ""
        },
        if c.containerd.is_some() {
            ", containerd on"
        } else {
            ""
        },
        if c.k8s.is_some() { ", k8s on" } else { "" },
        if c.mib2_containers {
            ", mib2.containers on"
        } else {
            ""
        }
    )
}

struct Agent {
    engine: Option<engine::EngineClient>,
    /// News the agent itself makes (a new engine on SIGHUP), handed over before the engine's.
    news: Vec<News>,
    /// containerd's tasks, when followed.
    containerd: Option<containerd_source::ContainerdSource>,
    /// containerd's news, waiting for the table.
    containerd_news: Vec<News>,
    table: Table,
    counters: ContainerCounterStore,
    settings: Settings,
    config: Config,
    /// `polling`, computed once per configuration; `None`: polling is off.
    interval: Option<Interval>,
    poller: Rc<polling::Poller>,
    signals: Watched<SignalFd>,
    /// The host's next poll, on its grid.
    host_due: Option<u64>,
    sink: Sink,
    /// Packet sampling sockets (`pcap { dev }`).
    taps: taps::Taps,
    /// `-o FILE`: `hsflowd.auto`.
    auto: Option<auto_file::AutoFile>,
    host: host_source::HostSource,
    start: Instant,
    rng: Rng,
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
    let engine = docker_socket(&config).map(|path| engine_client(&poller, path, &config));
    let use_hostname = config.docker.as_ref().is_some_and(|d| d.hostname);
    let interval = Interval::from_secs(config.polling);
    let mut rng = Rng::new();
    let table = Table::new(interval, use_hostname, rng.next_u64());
    let containerd = containerd_source(&poller, &config, &settings.roots);
    let taps = taps::Taps::open(&poller, &config, settings.roots.clone());
    let mut auto = settings.output_file.clone().map(auto_file::AutoFile::new);
    if let Some(a) = &mut auto {
        a.update(
            &config,
            agent_ip,
            &auto_file::hostname(&settings.roots.proc),
        );
    }
    let mut agent = Agent {
        engine,
        news: Vec::new(),
        containerd,
        containerd_news: Vec::new(),
        table,
        counters: ContainerCounterStore::new(settings.roots.clone()),
        settings,
        config,
        interval,
        poller,
        signals,
        host_due: None,
        sink: Sink { exporter, printer },
        taps,
        auto,
        host,
        start: Instant::now(),
        rng,
        stop: false,
    };
    agent.counters.set_mib2(agent.config.mib2_containers);
    let now = agent.now_ms();
    agent.schedule_host(now);
    if let Some(e) = &mut agent.engine {
        info!("tracking containers through {}", e.socket().display());
        e.start(now);
    }
    if let Some(c) = &mut agent.containerd {
        c.start(now, &mut agent.containerd_news);
        agent.handle_news(now);
    }
    agent.run_loop()
}

/// The containerd source `containerd { }` (containers) and `k8s { }` (pods) ask for, if it can be
/// set up; the state directory is `containerd { state }`, else `k8s { state }`. containerd's `moby`
/// namespace holds a tracked Docker engine's containers: left out, they are reported once, by the
/// engine.
fn containerd_source(
    poller: &Rc<polling::Poller>,
    config: &Config,
    roots: &Roots,
) -> Option<containerd_source::ContainerdSource> {
    let report = crate::containerd::Report {
        containers: config.containerd.is_some(),
        pods: config.k8s.is_some(),
    };
    let state = config
        .containerd
        .as_ref()
        .or(config.k8s.as_ref())?
        .state_dir();
    let skip: &[&str] = if config.docker.is_some() {
        &["moby"]
    } else {
        &[]
    };
    match containerd_source::ContainerdSource::new(poller, &state, skip, report, roots) {
        Ok(c) => Some(c),
        Err(e) => {
            error!("containerd: cannot follow {}: {e}", state.display());
            None
        }
    }
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

    /// Puts the host's polls on a new grid: its first at a random whole second within one interval.
    fn schedule_host(&mut self, now: u64) {
        self.host_due = self.interval.map(|i| i.first(now, self.rng.below(i.ms())));
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let mut events = polling::Events::new();
        while !self.stop {
            let now = self.now_ms();
            self.on_time(now);
            // What this wake-up queued (the polls' samples, and those of the news handled at the
            // end of the last iteration) goes out now, before the loop sleeps.
            self.sink.exporter.flush(now);
            let next = [
                self.host_due,
                self.table.poll_timeout(),
                self.engine.as_ref().and_then(|e| e.next_deadline()),
                self.containerd.as_ref().and_then(|c| c.next_deadline()),
                self.taps.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = next.map(|d| Duration::from_millis(d.saturating_sub(self.now_ms())));
            events.clear();
            self.poller.wait(&mut events, timeout)?;
            for ev in events.iter() {
                match Key::decode(ev.key) {
                    Some(Key::Signals) => self.on_signals(),
                    Some(Key::Stdout) => {
                        if let Some(p) = &mut self.sink.printer {
                            p.on_writable();
                        }
                    }
                    Some(Key::Collector(i)) => {
                        let now = self.now_ms();
                        self.sink.exporter.on_socket_event(i, now);
                    }
                    Some(Key::Tap(i)) => {
                        let now = self.now_ms();
                        self.taps.on_ready(i, &mut self.sink, now);
                    }
                    Some(Key::Nflog) => {
                        let now = self.now_ms();
                        self.taps.on_nflog(&mut self.sink, now);
                    }
                    Some(Key::Engine(slot)) => {
                        let now = self.now_ms();
                        if let Some(e) = &mut self.engine {
                            e.on_ready(slot, now);
                        }
                        self.handle_news(now);
                    }
                    Some(Key::Inotify) => {
                        let now = self.now_ms();
                        if let Some(c) = &mut self.containerd {
                            c.on_inotify(now, &mut self.containerd_news);
                        }
                        self.handle_news(now);
                    }
                    Some(Key::TaskExit(token)) => {
                        let now = self.now_ms();
                        if let Some(c) = &mut self.containerd {
                            c.on_exit(token, &mut self.containerd_news);
                        }
                        self.handle_news(now);
                    }
                    None => debug!("event for unknown key {}", ev.key),
                }
            }
        }
        let now = self.now_ms();
        self.sink.exporter.flush(now);
        if let Some(p) = &mut self.sink.printer {
            p.finish();
        }
        let s = self.sink.exporter.stats();
        info!(
            "stopping: {} samples in {} datagrams sent, {} send failures, {} collector errors",
            s.samples, s.datagrams, s.send_failures, s.refusals
        );
        Ok(())
    }

    /// Everything due at `now`: the host's poll, the engine's and containerd's timers, the
    /// containers' polls, the busy taps.
    fn on_time(&mut self, now: u64) {
        if let (Some(due), Some(interval)) = (self.host_due, self.interval) {
            if due <= now {
                self.poll_host(now);
                self.host_due = Some(interval.next(due, now));
            }
        }
        if let Some(e) = &mut self.engine {
            if e.next_deadline().is_some_and(|d| d <= now) {
                e.on_timeout(now);
            }
        }
        if let Some(c) = &mut self.containerd {
            c.on_timeout(now, &mut self.containerd_news);
            self.handle_news(now);
        }
        self.table.handle_timeout(now);
        self.take_actions(now);
        self.handle_news(now);
        self.taps.on_time(now, &mut self.sink);
    }

    fn poll_host(&mut self, now: u64) {
        if self.config.agent_ip.is_none() {
            let agent = agent_address(&self.config);
            if agent != self.sink.exporter.agent() {
                info!("agent address {} -> {agent}", self.sink.exporter.agent());
                if let Some(a) = &mut self.auto {
                    a.update(
                        &self.config,
                        agent,
                        &auto_file::hostname(&self.settings.roots.proc),
                    );
                }
            }
            self.sink.exporter.reconfigure(
                agent,
                self.config.sub_agent_id,
                self.config.datagram_bytes,
                now,
            );
        }
        let tracking = self.config.docker.is_some() || self.containerd.is_some();
        let domains = tracking.then(|| self.table.alive());
        self.host.sample(domains, &mut self.sink, now);
        self.taps.poll(&self.poller, &mut self.sink, now);
    }

    /// Hands containerd's news, the agent's own, then the engine's, to the container table and
    /// takes its actions, one piece of news at a time, until none has anything left (a source may
    /// answer a description at once).
    fn handle_news(&mut self, now: u64) {
        loop {
            // containerd's news first, all of them: they never wait on anything.
            if !self.containerd_news.is_empty() {
                for news in std::mem::take(&mut self.containerd_news) {
                    self.table.handle_news_from(SourceId::CONTAINERD, news, now);
                    self.take_actions(now);
                }
                continue;
            }
            let news = if self.news.is_empty() {
                self.engine.as_mut().and_then(|e| e.poll_news())
            } else {
                Some(self.news.remove(0))
            };
            let Some(news) = news else { return };
            self.table.handle_news(news, now);
            self.take_actions(now);
        }
    }

    /// Does what the container table asks, in order.
    fn take_actions(&mut self, now: u64) {
        while let Some(action) = self.table.poll_action() {
            match action {
                Action::Describe(id) if self.table.source_of(&id) == Some(SourceId::CONTAINERD) => {
                    match &mut self.containerd {
                        Some(c) => c.describe(id, &mut self.containerd_news),
                        None => self.containerd_news.push(News::Undescribed(id)),
                    }
                }
                Action::Describe(id) => match &mut self.engine {
                    Some(e) => e.describe(id, now),
                    None => self.news.push(News::Undescribed(id)),
                },
                Action::Attach { slot, pid }
                    if self.containerd.as_ref().is_some_and(|c| c.is_pod_pid(pid)) =>
                {
                    self.counters.attach_pod(slot, pid, now);
                    self.taps.attach(&self.poller, slot, pid);
                }
                Action::Attach { slot, pid } => {
                    self.counters.attach(slot, pid, now);
                    self.taps.attach(&self.poller, slot, pid);
                }
                Action::RefreshLimits { slot } => self.counters.refresh_limits(slot, now),
                Action::ReadNow { slot } => self.counters.read_now(slot, self.host.part().capacity),
                Action::Drop { slot } => {
                    self.counters.drop_slot(slot);
                    self.taps.detach(slot);
                }
                Action::Sample(mut sample) => {
                    if let Some(c) = self.containerd.as_mut().filter(|_| !sample.last) {
                        // containerd sends no pause events: its tasks' freezers are read here.
                        let task = self.table.id_in_slot_of(sample.slot, SourceId::CONTAINERD);
                        if let Some(paused) = task.and_then(|id| c.paused_at_sample(&id)) {
                            self.table.paused_at_sample(&mut sample, paused);
                        }
                    }
                    let adapters = self.counters.adapters(sample.slot);
                    self.taps
                        .sampled(sample.slot, sample.index, sample.last, adapters);
                    let sink = &mut self.sink;
                    let sent = self
                        .counters
                        .sample(&sample, self.host.part(), now, |s| sink.send(s, now));
                    if !sent {
                        self.table.unsent(&sample);
                    }
                }
            }
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
        self.sink
            .exporter
            .reconfigure(agent, new.sub_agent_id, new.datagram_bytes, now);
        self.sink.exporter.set_collectors(&new.collectors);
        if new.uuid != self.config.uuid {
            self.host.set_uuid(host_uuid(&new, &self.settings.roots));
        }
        let polling_changed = new.polling != self.config.polling;
        let socket = docker_socket(&new);
        let engine_changed = socket.as_deref() != self.engine.as_ref().map(|e| e.socket());
        let (old_containerd, old_k8s) =
            (self.config.containerd.is_some(), self.config.k8s.is_some());
        let taps_changed = taps::Taps::changed(&self.config, &new);
        self.counters.set_mib2(new.mib2_containers);
        self.config = new;
        if taps_changed {
            self.taps.close_all();
            self.taps = taps::Taps::open(&self.poller, &self.config, self.settings.roots.clone());
        }
        if polling_changed {
            self.interval = Interval::from_secs(self.config.polling);
            self.schedule_host(now);
            self.table.set_interval(self.interval, now);
        }
        if engine_changed {
            // A new engine (or none): containers of the old one end; the new one is listed afresh.
            self.engine = None;
            self.news.push(News::Lost);
            self.news.push(News::Present(Vec::new()));
            self.handle_news(now);
            if let Some(path) = socket {
                info!("tracking containers through {}", path.display());
                let mut e = engine_client(&self.poller, path, &self.config);
                e.start(now);
                self.engine = Some(e);
            }
        }
        let containerd_changed = self
            .config
            .containerd
            .as_ref()
            .or(self.config.k8s.as_ref())
            .map(|c| c.state_dir())
            != self
                .containerd
                .as_ref()
                .map(|c| c.root().parent().map(Path::to_path_buf).unwrap_or_default());
        let report_changed = (old_containerd, old_k8s)
            != (self.config.containerd.is_some(), self.config.k8s.is_some());
        if containerd_changed || engine_changed || report_changed {
            // containerd's tasks end and are found afresh (its skipped namespaces may change with
            // the engine).
            self.containerd = None;
            self.containerd_news.push(News::Lost);
            self.containerd_news.push(News::Present(Vec::new()));
            self.handle_news(now);
            self.containerd = containerd_source(&self.poller, &self.config, &self.settings.roots);
            if let Some(c) = &mut self.containerd {
                c.start(now, &mut self.containerd_news);
            }
            self.handle_news(now);
        }
        if let Some(a) = &mut self.auto {
            let proc_root = &self.settings.roots.proc;
            a.update(&self.config, agent, &auto_file::hostname(proc_root));
        }
        info!("SIGHUP: configuration reloaded");
    }
}

/// Writes the process id to `path` (for `-p`).
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    std::fs::write(path, format!("{}\n", std::process::id()))
}
