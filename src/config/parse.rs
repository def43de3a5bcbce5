//! The grammar: one `sflow { ... }` block holding settings, `collector { }`, `docker { }` and
//! `pcap { }` blocks.
//!
//! Every setting takes exactly one value (the next word), as in the reference agent. Settings the reference
//! agent knows but csflowd does not implement are skipped (a block with its balanced braces) with one
//! warning per keyword; unknown settings are skipped the same way with one warning per occurrence. The
//! first fatal problem stops the parse.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use super::error::{quote, ConfigError, ConfigErrorKind, Warning};
use super::token::{Located, Token, TokenError, Tokenizer};
use super::RuntimeConfig;
use super::{
    value, AppSetting, Collector, Config, Directions, Nflog, Pcap, PcapContainers,
    DEFAULT_COLLECTOR_PORT, MAX_DATAGRAM_BYTES, MAX_DEPTH, MAX_FILE_BYTES, MAX_HEADER_BYTES,
    MAX_RELIST_SECONDS, MAX_SAMPLING_RATE, MAX_WARNINGS, MIN_DATAGRAM_BYTES, MIN_RELIST_SECONDS,
};

/// A configuration read from a file, with the remarks made while reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The configuration: [`Config::default`] overridden by the file, whose collectors replace the default.
    pub config: Config,
    /// Every warning, in file order (a warning about a repeated ignored keyword sits at its first line).
    pub warnings: Vec<Warning>,
}

/// Settings and blocks of the reference agent's `sflow { }` level that csflowd accepts and ignores
/// (lower case; from hsflowd 2.1.25's token table and parser).
const IGNORED_IN_SFLOW: &[&str] = &[
    // packet sampling and its sources
    "samplingdirection",
    "epcap",
    "psample",
    "nfloggroup",
    "nflogprobability",
    "ulog",
    "uloggroup",
    "ulogprobability",
    "dropmon",
    // collector discovery and other outputs
    "dns-sd",
    "dnssd",
    "dnssd_domain",
    "json",
    "jsonport",
    "jsonfifo",
    // other virtualisation, containers and platforms
    "kvm",
    "xen",
    "xen.update.dominfo",
    "xen.dsk",
    "systemd",
    "dbus",
    "nvml",
    "tcp",
    "cumulus",
    "dent",
    "ovs",
    "os10",
    "opx",
    "sonic",
    "eapi",
    "nlroute",
    "vpp",
    // agent housekeeping
    "modules",
    "loopback",
    "refreshadaptors",
    "checkadaptors",
    "refreshvms",
    "forgetvms",
];

/// Prefixes of settings csflowd accepts and ignores (none today).
const IGNORED_PREFIXES_IN_SFLOW: &[&str] = &[];

/// `collector { }` settings of the reference agent that csflowd accepts and ignores.
const IGNORED_IN_COLLECTOR: &[&str] = &["dev", "namespace"];

/// `pcap { }` settings of the reference agent that csflowd accepts and ignores.
const IGNORED_IN_PCAP: &[&str] = &["dev.pattern", "speed", "promisc", "vport", "dynamic"];

/// `docker { }` settings of the reference agent that csflowd accepts and ignores.
const IGNORED_IN_DOCKER: &[&str] = &["refreshvms", "forgetvms", "marktraffic"];

/// Settings that hold one value, for the "set again" warning.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    Polling,
    DatagramBytes,
    AgentIp,
    Agent,
    SubAgentId,
    Uuid,
    DockerHostname,
    DockerSocket,
    DockerMaxListBytes,
    DockerRelist,
    ContainerdState,
    K8sState,
    Sampling,
    BpsRatio,
    HeaderBytes,
    Mib2Containers,
}

const SCALAR_COUNT: usize = 16;

/// `containerd { }` and `k8s { }` settings of the reference agent that csflowd accepts and ignores.
const IGNORED_IN_RUNTIME: &[&str] = &["unixsock", "marktraffic", "eof", "refreshvms", "forgetvms"];

/// Parses configuration text; `file` only names it in errors and warnings.
///
/// Text longer than [`MAX_FILE_BYTES`] is refused whole ([`ConfigErrorKind::FileTooLarge`], line 0). A
/// leading UTF-8 byte-order mark is ignored.
pub fn parse(text: &str, file: &Path) -> Result<Parsed, ConfigError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(ConfigError::new(file, 0, ConfigErrorKind::FileTooLarge, ""));
    }
    // A byte-order mark left by an editor is not text outside the sflow block.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser::new(text, file);
    parser.top_level()?;
    Ok(parser.finish())
}

/// A keyword csflowd ignores, seen at least once.
struct Ignored {
    /// Index of its warning in `Parser::warnings`, if it was kept.
    warning: Option<usize>,
    count: u32,
}

struct Parser<'a, 'f> {
    tokens: Tokenizer<'a>,
    peeked: Option<Located<'a>>,
    file: &'f Path,
    config: Config,
    warnings: Vec<Warning>,
    /// Ignored keywords by lower-case name (with a context prefix for nested blocks).
    ignored: HashMap<String, Ignored>,
    /// The line each scalar setting was last set on.
    last_set: [Option<u32>; SCALAR_COUNT],
    /// Warnings dropped past [`MAX_WARNINGS`].
    suppressed: u32,
}

impl<'a, 'f> Parser<'a, 'f> {
    fn new(text: &'a str, file: &'f Path) -> Self {
        Parser {
            tokens: Tokenizer::new(text),
            peeked: None,
            file,
            config: Config {
                collectors: Vec::new(),
                ..Config::default()
            },
            warnings: Vec::new(),
            ignored: HashMap::new(),
            last_set: [None; SCALAR_COUNT],
            suppressed: 0,
        }
    }

    fn finish(mut self) -> Parsed {
        for ignored in self.ignored.values() {
            if ignored.count > 1 {
                if let Some(w) = ignored.warning.and_then(|i| self.warnings.get_mut(i)) {
                    w.message
                        .push_str(&format!(" ({} times, first on this line)", ignored.count));
                }
            }
        }
        if self.suppressed > 0 {
            let line = self.tokens.line();
            let message = format!("{} more warnings not shown", self.suppressed);
            self.push_warning(line, message);
        }
        Parsed {
            config: self.config,
            warnings: self.warnings,
        }
    }

    fn error(&self, line: u32, kind: ConfigErrorKind, text: &str) -> ConfigError {
        ConfigError::new(self.file, line, kind, text)
    }

    /// Adds a warning unless [`MAX_WARNINGS`] are already kept; returns its index when kept.
    fn warn(&mut self, line: u32, message: String) -> Option<usize> {
        if self.warnings.len() >= MAX_WARNINGS {
            self.suppressed = self.suppressed.saturating_add(1);
            return None;
        }
        self.push_warning(line, message);
        Some(self.warnings.len() - 1)
    }

    /// Adds a warning past the cap too: for the few that must never be lost.
    fn push_warning(&mut self, line: u32, message: String) {
        self.warnings.push(Warning {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn next(&mut self) -> Result<Option<Located<'a>>, ConfigError> {
        if let Some(token) = self.peeked.take() {
            return Ok(Some(token));
        }
        self.tokens
            .next_token()
            .map_err(|TokenError { kind, line, text }| self.error(line, kind, text))
    }

    fn peek(&mut self) -> Result<Option<&Located<'a>>, ConfigError> {
        if self.peeked.is_none() {
            self.peeked = self.next()?;
        }
        Ok(self.peeked.as_ref())
    }

    /// The file: exactly one `sflow { }` block and nothing else.
    fn top_level(&mut self) -> Result<(), ConfigError> {
        let mut seen_sflow = false;
        while let Some(Located { token, line }) = self.next()? {
            match token {
                Token::Close => return Err(self.error(line, ConfigErrorKind::UnmatchedClose, "}")),
                Token::Word(word) if !seen_sflow && word.eq_ignore_ascii_case("sflow") => {
                    let open_line = self.open_block(&word, line, 1)?;
                    self.sflow(line, open_line)?;
                    seen_sflow = true;
                }
                Token::Word(word) => {
                    return Err(self.error(line, ConfigErrorKind::OutsideSflow, &word))
                }
                Token::Open => return Err(self.error(line, ConfigErrorKind::OutsideSflow, "{")),
            }
        }
        if seen_sflow {
            Ok(())
        } else {
            Err(self.error(self.tokens.line(), ConfigErrorKind::NoSflowBlock, ""))
        }
    }

    /// The body of `sflow {`, up to and including its `}`.
    fn sflow(&mut self, sflow_line: u32, open_line: u32) -> Result<(), ConfigError> {
        const DEPTH: usize = 1;
        loop {
            let (word, line) = match self.next()? {
                None => return Err(self.error(open_line, ConfigErrorKind::UnclosedBlock, "sflow")),
                Some(Located {
                    token: Token::Close,
                    ..
                }) => break,
                Some(Located {
                    token: Token::Open,
                    line,
                }) => return Err(self.error(line, ConfigErrorKind::UnexpectedOpen, "{")),
                Some(Located {
                    token: Token::Word(word),
                    line,
                }) => (word, line),
            };
            let key = word.to_ascii_lowercase();
            match key.as_str() {
                "polling" | "counterpollinginterval" => {
                    let polling = self.u32_value(&word, line, 0, u32::MAX)?;
                    self.mark_set(Scalar::Polling, &word, line);
                    self.config.polling = polling;
                }
                "datagrambytes" => {
                    let bytes = self.u32_value(
                        &word,
                        line,
                        MIN_DATAGRAM_BYTES as u32,
                        MAX_DATAGRAM_BYTES as u32,
                    )?;
                    self.mark_set(Scalar::DatagramBytes, &word, line);
                    self.config.datagram_bytes = bytes as usize;
                }
                "agentip" => {
                    let ip = self.ip_value(&word, line)?;
                    self.mark_set(Scalar::AgentIp, &word, line);
                    self.config.agent_ip = Some(ip);
                }
                "agent" => {
                    let (text, at) = self.value(&word, line)?;
                    let device = value::interface(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::Agent, &word, line);
                    self.config.agent_device = Some(device);
                }
                "agent.cidr" => {
                    let (text, at) = self.value(&word, line)?;
                    let (cidr, host_bits) =
                        value::cidr(&text).map_err(|k| self.error(at, k, &text))?;
                    if host_bits {
                        self.warn(
                            at,
                            format!(
                                "agent.cidr {} has host bits set: using {}/{}",
                                quote(&text),
                                cidr.net,
                                cidr.prefix
                            ),
                        );
                    }
                    self.config.agent_cidrs.push(cidr);
                }
                "subagentid" => {
                    let id = self.u32_value(&word, line, 0, u32::MAX)?;
                    self.mark_set(Scalar::SubAgentId, &word, line);
                    self.config.sub_agent_id = id;
                }
                "uuid" => {
                    let (text, at) = self.value(&word, line)?;
                    let uuid = value::uuid(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::Uuid, &word, line);
                    self.config.uuid = Some(uuid);
                }
                "collector" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    self.collector(line, open)?;
                }
                "docker" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    self.docker(open)?;
                }
                "containerd" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    let block = self.config.containerd.take().unwrap_or_default();
                    let block = self.runtime("containerd", Scalar::ContainerdState, block, open)?;
                    self.config.containerd = Some(block);
                }
                "k8s" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    let block = self.config.k8s.take().unwrap_or_default();
                    let block = self.runtime("k8s", Scalar::K8sState, block, open)?;
                    self.config.k8s = Some(block);
                }
                "sampling" | "packetsamplingrate" => {
                    let rate = self.u32_value(&word, line, 1, MAX_SAMPLING_RATE)?;
                    self.mark_set(Scalar::Sampling, &word, line);
                    self.config.sampling.rate = Some(rate);
                }
                "sampling.bps_ratio" => {
                    let ratio = self.u32_value(&word, line, 0, u32::MAX)?;
                    self.mark_set(Scalar::BpsRatio, &word, line);
                    self.config.sampling.bps_ratio = Some(ratio);
                }
                "headerbytes" => {
                    let n = self.u32_value(&word, line, 1, MAX_HEADER_BYTES)?;
                    self.mark_set(Scalar::HeaderBytes, &word, line);
                    self.config.sampling.header_bytes = n;
                }
                "mib2.containers" => {
                    let (text, at) = self.value(&word, line)?;
                    let on = value::switch(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::Mib2Containers, &word, line);
                    self.config.mib2_containers = on;
                }
                _ if key
                    .strip_prefix("sampling.")
                    .is_some_and(|speed| value::number(speed).is_ok()) =>
                {
                    let speed = key
                        .strip_prefix("sampling.")
                        .and_then(|s| value::number(s).ok())
                        .unwrap_or(0);
                    let rate = self.u32_value(&word, line, 1, MAX_SAMPLING_RATE)?;
                    self.config.sampling.by_speed.push((speed, rate));
                }
                "pcap" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    self.pcap(line, open)?;
                }
                _ if key.starts_with("sampling.") || key.starts_with("polling.") => {
                    // `sampling.<app>` / `polling.<app>`: for the application sub-agents.
                    let (kind, name) = key.split_once('.').unwrap_or_default();
                    let n = if kind == "sampling" {
                        self.u32_value(&word, line, 1, MAX_SAMPLING_RATE)?
                    } else {
                        self.u32_value(&word, line, 0, u32::MAX)?
                    };
                    let app = match self.config.apps.iter().position(|a| a.name == name) {
                        Some(i) => &mut self.config.apps[i],
                        None => {
                            self.config.apps.push(AppSetting {
                                name: name.to_string(),
                                sampling: None,
                                polling: None,
                            });
                            let last = self.config.apps.len() - 1;
                            &mut self.config.apps[last]
                        }
                    };
                    if kind == "sampling" {
                        app.sampling = Some(n);
                    } else {
                        app.polling = Some(n);
                    }
                }
                "nflog" => {
                    let open = self.open_block(&word, line, DEPTH + 1)?;
                    self.nflog(line, open)?;
                }
                _ if IGNORED_IN_SFLOW.contains(&key.as_str())
                    || IGNORED_PREFIXES_IN_SFLOW.iter().any(|p| key.starts_with(p)) =>
                {
                    self.ignore(key, &word, "", line);
                    self.skip_item(&word, DEPTH)?;
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in sflow: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        if self.config.collectors.is_empty() {
            self.push_warning(
                sflow_line,
                "no collector configured: nothing will be sent".to_string(),
            );
        }
        Ok(())
    }

    /// The next setting of a block opened on `open_line`: its keyword and line, or `None` at the
    /// block's `}`. The end of the file or a `{` where a keyword belongs is an error.
    fn next_key(
        &mut self,
        open_line: u32,
        block: &str,
    ) -> Result<Option<(Cow<'a, str>, u32)>, ConfigError> {
        match self.next()? {
            None => Err(self.error(open_line, ConfigErrorKind::UnclosedBlock, block)),
            Some(Located {
                token: Token::Close,
                ..
            }) => Ok(None),
            Some(Located {
                token: Token::Open,
                line,
            }) => Err(self.error(line, ConfigErrorKind::UnexpectedOpen, "{")),
            Some(Located {
                token: Token::Word(word),
                line,
            }) => Ok(Some((word, line))),
        }
    }

    /// The body of `collector {`, up to and including its `}`.
    fn collector(&mut self, keyword_line: u32, open_line: u32) -> Result<(), ConfigError> {
        const DEPTH: usize = 2;
        let mut ip: Option<(IpAddr, u32)> = None;
        let mut port: Option<(u16, u32)> = None;
        while let Some((word, line)) = self.next_key(open_line, "collector")? {
            let key = word.to_ascii_lowercase();
            match key.as_str() {
                "ip" => {
                    let addr = self.ip_value(&word, line)?;
                    if let Some((_, previous)) = ip {
                        self.warn_set_again(&word, line, previous);
                    }
                    ip = Some((addr, line));
                }
                "udpport" => {
                    let (text, at) = self.value(&word, line)?;
                    let number = value::number_in(&text, 1, 65535, ConfigErrorKind::PortOutOfRange)
                        .map_err(|k| self.error(at, k, &text))?;
                    let number = u16::try_from(number)
                        .map_err(|_| self.error(at, ConfigErrorKind::PortOutOfRange, &text))?;
                    if let Some((_, previous)) = port {
                        self.warn_set_again(&word, line, previous);
                    }
                    port = Some((number, line));
                }
                _ if IGNORED_IN_COLLECTOR.contains(&key.as_str()) => {
                    self.ignore(format!("collector.{key}"), &word, " in collector", line);
                    self.skip_item(&word, DEPTH)?;
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in collector: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        let Some((ip, _)) = ip else {
            return Err(self.error(
                keyword_line,
                ConfigErrorKind::CollectorWithoutIp,
                "collector",
            ));
        };
        self.config.collectors.push(Collector {
            ip,
            port: port.map_or(DEFAULT_COLLECTOR_PORT, |(p, _)| p),
        });
        Ok(())
    }

    /// The body of `docker {`, up to and including its `}`. Several blocks merge into one.
    fn docker(&mut self, open_line: u32) -> Result<(), ConfigError> {
        const DEPTH: usize = 2;
        let mut docker = self.config.docker.take().unwrap_or_default();
        while let Some((word, line)) = self.next_key(open_line, "docker")? {
            let key = word.to_ascii_lowercase();
            match key.as_str() {
                "hostname" => {
                    let (text, at) = self.value(&word, line)?;
                    let on = value::switch(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::DockerHostname, &word, line);
                    docker.hostname = on;
                }
                "socket" => {
                    let (text, at) = self.value(&word, line)?;
                    let path = value::socket_path(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::DockerSocket, &word, line);
                    docker.socket = Some(path);
                }
                "maxlistbytes" => {
                    let (text, at) = self.value(&word, line)?;
                    let n = value::number_in(
                        &text,
                        64 << 10,
                        1 << 30,
                        ConfigErrorKind::NumberOutOfRange,
                    )
                    .map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::DockerMaxListBytes, &word, line);
                    docker.max_list_bytes = Some(n);
                }
                "relist" => {
                    let (text, at) = self.value(&word, line)?;
                    let n = value::number_in(
                        &text,
                        u64::from(MIN_RELIST_SECONDS),
                        u64::from(MAX_RELIST_SECONDS),
                        ConfigErrorKind::NumberOutOfRange,
                    )
                    .map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(Scalar::DockerRelist, &word, line);
                    docker.relist = u32::try_from(n).ok();
                }
                _ if IGNORED_IN_DOCKER.contains(&key.as_str()) => {
                    self.ignore(format!("docker.{key}"), &word, " in docker", line);
                    self.skip_item(&word, DEPTH)?;
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in docker: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        self.config.docker = Some(docker);
        Ok(())
    }

    /// The body of `containerd {` or `k8s {` (`name`), up to and including its `}`, into `block`.
    fn runtime(
        &mut self,
        name: &str,
        state_scalar: Scalar,
        mut block: RuntimeConfig,
        open_line: u32,
    ) -> Result<RuntimeConfig, ConfigError> {
        const DEPTH: usize = 2;
        while let Some((word, line)) = self.next_key(open_line, name)? {
            let key = word.to_ascii_lowercase();
            match key.as_str() {
                "state" => {
                    let (text, at) = self.value(&word, line)?;
                    let path = value::state_path(&text).map_err(|k| self.error(at, k, &text))?;
                    self.mark_set(state_scalar, &word, line);
                    block.state = Some(path);
                }
                _ if IGNORED_IN_RUNTIME.contains(&key.as_str()) => {
                    self.ignore(format!("{name}.{key}"), &word, &format!(" in {name}"), line);
                    self.skip_item(&word, DEPTH)?;
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in {name}: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        Ok(block)
    }

    /// The body of `pcap {`, up to and including its `}`. A block without `dev` samples nothing
    /// (csflowd picks no interface by speed or pattern), with a warning.
    fn pcap(&mut self, keyword_line: u32, open_line: u32) -> Result<(), ConfigError> {
        const DEPTH: usize = 2;
        let mut dev: Option<String> = None;
        let mut sampling: Option<u32> = None;
        let mut containers = false;
        let mut directions = Directions::default();
        // Where the last direction switch was: the error points at it if both are off.
        let mut last_direction: Option<(u32, String)> = None;
        while let Some((word, line)) = self.next_key(open_line, "pcap")? {
            let key = word.to_ascii_lowercase();
            match key.as_str() {
                "dev" => {
                    let (text, at) = self.value(&word, line)?;
                    let name = value::interface(&text).map_err(|k| self.error(at, k, &text))?;
                    if dev.is_some() {
                        self.warn(
                            line,
                            "\"dev\" set again in pcap: the last value wins".into(),
                        );
                    }
                    dev = Some(name);
                }
                "sampling" => {
                    sampling = Some(self.u32_value(&word, line, 1, MAX_SAMPLING_RATE)?);
                }
                "containers" => {
                    let (text, at) = self.value(&word, line)?;
                    containers = value::switch(&text).map_err(|k| self.error(at, k, &text))?;
                }
                "ingress" | "egress" => {
                    let (text, at) = self.value(&word, line)?;
                    let on = value::switch(&text).map_err(|k| self.error(at, k, &text))?;
                    if key == "ingress" {
                        directions.ingress = on;
                    } else {
                        directions.egress = on;
                    }
                    last_direction = Some((at, format!("{word} = {text}")));
                }
                _ if IGNORED_IN_PCAP.contains(&key.as_str()) => {
                    self.ignore(format!("pcap.{key}"), &word, " in pcap", line);
                    self.skip_item(&word, DEPTH)?;
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in pcap: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        if !directions.ingress && !directions.egress {
            let (at, text) = last_direction.unwrap_or((keyword_line, String::new()));
            return Err(self.error(at, ConfigErrorKind::NoDirection, &text));
        }
        if containers {
            if self.config.pcap_containers.is_some() {
                self.warn(
                    keyword_line,
                    "pcap { containers = on } given again: the last block wins".into(),
                );
            }
            self.config.pcap_containers = Some(PcapContainers {
                sampling,
                directions,
            });
        }
        match dev {
            Some(dev) => self.config.pcap.push(Pcap {
                dev,
                sampling,
                directions,
            }),
            None if containers => {}
            None => {
                self.warn(
                    keyword_line,
                    "pcap without dev: no interface to sample, ignored".into(),
                );
            }
        }
        Ok(())
    }

    /// The body of `nflog {`, up to and including its `}`.
    fn nflog(&mut self, keyword_line: u32, open_line: u32) -> Result<(), ConfigError> {
        const DEPTH: usize = 2;
        let mut group: Option<u16> = None;
        let mut rate: Option<u32> = None;
        while let Some((word, line)) = self.next_key(open_line, "nflog")? {
            match word.to_ascii_lowercase().as_str() {
                "group" => {
                    let g = self.u32_value(&word, line, 0, u32::from(u16::MAX))?;
                    group = u16::try_from(g).ok();
                }
                "probability" => {
                    let (text, at) = self.value(&word, line)?;
                    let r = crate::packet::nflog::rate_of_probability(&text)
                        .ok_or_else(|| self.error(at, ConfigErrorKind::NumberOutOfRange, &text))?;
                    rate = Some(r);
                }
                _ => {
                    self.warn(
                        line,
                        format!("unknown setting {} in nflog: skipped", quote(&word)),
                    );
                    self.skip_item(&word, DEPTH)?;
                }
            }
        }
        match group {
            Some(group) => {
                if rate.is_none() {
                    self.warn(
                        keyword_line,
                        "nflog without probability: samples are reported at rate 1".into(),
                    );
                }
                self.config.nflog = Some(Nflog {
                    group,
                    rate: rate.unwrap_or(1),
                });
            }
            None => {
                self.warn(keyword_line, "nflog without group: ignored".into());
            }
        }
        Ok(())
    }

    /// Consumes the `{` after a block name, which opens a block at `depth`; returns the `{`'s line.
    fn open_block(&mut self, name: &str, line: u32, depth: usize) -> Result<u32, ConfigError> {
        match self.next()? {
            Some(Located {
                token: Token::Open,
                line: open_line,
            }) => {
                self.check_depth(depth, open_line, name)?;
                Ok(open_line)
            }
            _ => Err(self.error(line, ConfigErrorKind::ExpectedOpen, name)),
        }
    }

    fn check_depth(&self, depth: usize, line: u32, name: &str) -> Result<(), ConfigError> {
        if depth > MAX_DEPTH {
            Err(self.error(line, ConfigErrorKind::TooDeep, name))
        } else {
            Ok(())
        }
    }

    /// The value after `keyword` (on `line`), and the value's own line.
    fn value(&mut self, keyword: &str, line: u32) -> Result<(Cow<'a, str>, u32), ConfigError> {
        match self.next()? {
            Some(Located {
                token: Token::Word(value),
                line,
            }) => Ok((value, line)),
            _ => Err(self.error(line, ConfigErrorKind::MissingValue, keyword)),
        }
    }

    fn u32_value(
        &mut self,
        keyword: &str,
        line: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        let (text, at) = self.value(keyword, line)?;
        let out_of_range = ConfigErrorKind::NumberOutOfRange;
        value::number_in(&text, u64::from(min), u64::from(max), out_of_range)
            .and_then(|n| u32::try_from(n).map_err(|_| out_of_range))
            .map_err(|k| self.error(at, k, &text))
    }

    fn ip_value(&mut self, keyword: &str, line: u32) -> Result<IpAddr, ConfigError> {
        let (text, at) = self.value(keyword, line)?;
        value::ip(&text).map_err(|k| self.error(at, k, &text))
    }

    /// Skips what follows an ignored or unknown `keyword` in a block at `depth`: a block, a value, or nothing
    /// when a `}` or the end of the file comes next (the enclosing block reports the latter).
    fn skip_item(&mut self, keyword: &str, depth: usize) -> Result<(), ConfigError> {
        match self.peek()? {
            Some(Located {
                token: Token::Open,
                line,
            }) => {
                let open_line = *line;
                self.peeked = None;
                self.check_depth(depth + 1, open_line, keyword)?;
                self.skip_block(keyword, open_line, depth + 1)
            }
            Some(Located {
                token: Token::Word(_),
                ..
            }) => {
                self.peeked = None;
                Ok(())
            }
            Some(Located {
                token: Token::Close,
                ..
            })
            | None => Ok(()),
        }
    }

    /// Skips the rest of a block at `depth` named `name`, whose `{` is on `open_line`, with any blocks inside.
    fn skip_block(&mut self, name: &str, open_line: u32, depth: usize) -> Result<(), ConfigError> {
        let mut last_word: Cow<'a, str> = Cow::Borrowed("{");
        loop {
            match self.next()? {
                None => return Err(self.error(open_line, ConfigErrorKind::UnclosedBlock, name)),
                Some(Located {
                    token: Token::Close,
                    ..
                }) => return Ok(()),
                Some(Located {
                    token: Token::Open,
                    line,
                }) => {
                    self.check_depth(depth + 1, line, &last_word)?;
                    self.skip_block(&last_word, line, depth + 1)?;
                    last_word = Cow::Borrowed("{");
                }
                Some(Located {
                    token: Token::Word(word),
                    ..
                }) => last_word = word,
            }
        }
    }

    /// Notes that a scalar setting was given on `line`, warning when it had been given before.
    fn mark_set(&mut self, scalar: Scalar, keyword: &str, line: u32) {
        let slot = scalar as usize;
        if let Some(previous) = self.last_set.get(slot).copied().flatten() {
            self.warn_set_again(keyword, line, previous);
        }
        if let Some(entry) = self.last_set.get_mut(slot) {
            *entry = Some(line);
        }
    }

    fn warn_set_again(&mut self, keyword: &str, line: u32, previous: u32) {
        self.warn(
            line,
            format!(
                "{} set again (previously on line {previous}): the last value wins",
                quote(keyword)
            ),
        );
    }

    /// Records a keyword csflowd does not implement: one warning for its first occurrence, counted after.
    fn ignore(&mut self, key: String, keyword: &str, context: &str, line: u32) {
        if let Some(ignored) = self.ignored.get_mut(&key) {
            ignored.count = ignored.count.saturating_add(1);
            return;
        }
        let warning = self.warn(
            line,
            format!(
                "{}{context} is not implemented by csflowd: ignored",
                quote(keyword)
            ),
        );
        self.ignored.insert(key, Ignored { warning, count: 1 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AgentCidr, DockerConfig, RuntimeConfig};
    use std::path::PathBuf;
    use ConfigErrorKind::*;

    fn ok(text: &str) -> Parsed {
        match parse(text, Path::new("t.conf")) {
            Ok(parsed) => parsed,
            Err(e) => panic!("{e}"),
        }
    }

    fn config(text: &str) -> Config {
        ok(text).config
    }

    fn messages(text: &str) -> Vec<String> {
        ok(text).warnings.iter().map(|w| w.to_string()).collect()
    }

    fn fail(text: &str) -> (u32, ConfigErrorKind, String) {
        let e = parse(text, Path::new("t.conf")).unwrap_err();
        (e.line, e.kind, e.text)
    }

    fn collector(ip: &str, port: u16) -> Collector {
        Collector {
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn empty_block_gives_defaults_without_collectors() {
        let parsed = ok("sflow { }");
        assert_eq!(
            parsed.config,
            Config {
                collectors: Vec::new(),
                ..Config::default()
            }
        );
        assert_eq!(
            parsed.warnings,
            [Warning {
                file: PathBuf::from("t.conf"),
                line: 1,
                message: "no collector configured: nothing will be sent".into()
            }]
        );
    }

    #[test]
    fn polling() {
        assert_eq!(config("sflow { polling = 10 }").polling, 10);
        assert_eq!(config("sflow { polling 0 }").polling, 0);
        assert_eq!(config("sflow { POLLING=4294967295 }").polling, u32::MAX);
        assert_eq!(config("sflow { counterPollingInterval = 20 }").polling, 20);
        assert_eq!(
            fail("sflow {\npolling = 4294967296 }"),
            (2, NumberOutOfRange, "4294967296".into())
        );
        assert_eq!(
            fail("sflow { polling = ten }"),
            (1, MalformedNumber, "ten".into())
        );
    }

    #[test]
    fn datagram_bytes() {
        assert_eq!(config("sflow { datagramBytes = 200 }").datagram_bytes, 200);
        assert_eq!(
            config("sflow { datagrambytes = 8192 }").datagram_bytes,
            8192
        );
        assert_eq!(config("sflow { datagramBytes = 8K }").datagram_bytes, 8000);
        assert_eq!(
            fail("sflow { datagramBytes = 199 }"),
            (1, NumberOutOfRange, "199".into())
        );
        assert_eq!(
            fail("sflow { datagramBytes = 8193 }"),
            (1, NumberOutOfRange, "8193".into())
        );
    }

    #[test]
    fn agent_ip_and_device() {
        let c = config("sflow { agentIP = 192.0.2.1 agent = eth0 }");
        assert_eq!(c.agent_ip, Some(IpAddr::from([192, 0, 2, 1])));
        assert_eq!(c.agent_device.as_deref(), Some("eth0"));
        let c = config("sflow { AGENTIP = 2001:db8::5 }");
        assert_eq!(c.agent_ip, "2001:db8::5".parse().ok());
        assert_eq!(
            fail("sflow { agentIP = host.example }"),
            (1, HostName, "host.example".into())
        );
        assert_eq!(
            fail("sflow { agentIP = 1.2.3 }"),
            (1, BadAddress, "1.2.3".into())
        );
        assert_eq!(
            fail("sflow { agent = averyverylongname0 }"),
            (1, BadInterface, "averyverylongname0".into())
        );
    }

    #[test]
    fn agent_cidrs_repeat_in_order() {
        let parsed =
            ok("sflow { agent.cidr = 10.0.0.0/8 agent.cidr = !fd00::/8 agent.CIDR=10.1.2.3/16 }");
        assert_eq!(
            parsed.config.agent_cidrs,
            [
                AgentCidr {
                    net: IpAddr::from([10, 0, 0, 0]),
                    prefix: 8,
                    exclude: false
                },
                AgentCidr {
                    net: "fd00::".parse().unwrap(),
                    prefix: 8,
                    exclude: true
                },
                AgentCidr {
                    net: IpAddr::from([10, 1, 0, 0]),
                    prefix: 16,
                    exclude: false
                },
            ]
        );
        assert!(parsed.warnings[0]
            .message
            .contains("\"10.1.2.3/16\" has host bits set: using 10.1.0.0/16"));
        assert_eq!(
            fail("sflow { agent.cidr = 10.0.0.0/40 }"),
            (1, BadCidr, "10.0.0.0/40".into())
        );
    }

    #[test]
    fn sub_agent_id_and_uuid() {
        let c = config("sflow { subAgentId = 7 uuid = 00112233-4455-6677-8899-aabbccddeeff }");
        assert_eq!(c.sub_agent_id, 7);
        assert_eq!(
            c.uuid,
            Some([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ])
        );
        assert_eq!(
            fail("sflow { subagentid = -1 }"),
            (1, MalformedNumber, "-1".into())
        );
        assert_eq!(fail("sflow { uuid = 1234 }"), (1, BadUuid, "1234".into()));
    }

    #[test]
    fn collectors_replace_the_default_in_file_order() {
        let c = config(
            "sflow { collector { ip = 10.0.0.1 } collector { udpport = 6000 ip = ::1 } \
             collector{ip=127.0.0.1 UDPPort=6343} }",
        );
        assert_eq!(
            c.collectors,
            [
                collector("10.0.0.1", 6343),
                collector("::1", 6000),
                collector("127.0.0.1", 6343)
            ]
        );
    }

    #[test]
    fn collector_errors() {
        assert_eq!(
            fail("sflow {\n collector {\n udpport = 6343 }\n}"),
            (2, CollectorWithoutIp, "collector".into())
        );
        assert_eq!(
            fail("sflow { collector { ip = 1.2.3.4 udpport = 70000 } }"),
            (1, PortOutOfRange, "70000".into())
        );
        assert_eq!(
            fail("sflow { collector { ip = 1.2.3.4 udpport = 0 } }"),
            (1, PortOutOfRange, "0".into())
        );
        assert_eq!(
            fail("sflow { collector { ip = 1.2.3.4 udpport = x } }"),
            (1, MalformedNumber, "x".into())
        );
        assert_eq!(
            fail("sflow { collector { ip = sflow.example.com } }"),
            (1, HostName, "sflow.example.com".into())
        );
        assert_eq!(
            fail("sflow { collector ip = 1.2.3.4 }"),
            (1, ExpectedOpen, "collector".into())
        );
        assert_eq!(
            fail("sflow { collector { { } } }"),
            (1, UnexpectedOpen, "{".into())
        );
        assert_eq!(
            fail("sflow { collector { ip = 1.2.3.4 "),
            (1, UnclosedBlock, "collector".into())
        );
    }

    #[test]
    fn collector_dev_and_namespace_are_accepted_with_a_warning() {
        let parsed = ok("sflow { collector { ip = 1.2.3.4 dev = eth0 namespace = ns1 } }");
        assert_eq!(parsed.config.collectors, [collector("1.2.3.4", 6343)]);
        assert_eq!(
            parsed
                .warnings
                .iter()
                .map(|w| w.message.as_str())
                .collect::<Vec<_>>(),
            [
                "\"dev\" in collector is not implemented by csflowd: ignored",
                "\"namespace\" in collector is not implemented by csflowd: ignored"
            ]
        );
    }

    #[test]
    fn collector_repeated_ip_warns_last_wins() {
        let parsed = ok("sflow { collector {\n ip = 1.2.3.4\n ip = 5.6.7.8 } }");
        assert_eq!(parsed.config.collectors, [collector("5.6.7.8", 6343)]);
        assert_eq!(
            parsed.warnings[0].to_string(),
            "t.conf:3: \"ip\" set again (previously on line 2): the last value wins"
        );
    }

    #[test]
    fn docker_block() {
        let c = config("sflow { docker { } }");
        assert_eq!(c.docker, Some(DockerConfig::default()));
        assert_eq!(config("sflow { }").docker, None);
        let c = config("sflow { docker { maxListBytes = 64M } }");
        assert_eq!(c.docker.and_then(|d| d.max_list_bytes), Some(64_000_000));
        assert_eq!(
            fail("sflow { docker { maxListBytes = 100 } }").1,
            ConfigErrorKind::NumberOutOfRange
        );
        assert_eq!(
            fail("sflow { docker { maxListBytes = 2G } }").1,
            ConfigErrorKind::NumberOutOfRange
        );
        let c = config("sflow { docker { hostname = on socket = /run/user/1000/docker.sock } }");
        assert_eq!(
            c.docker,
            Some(DockerConfig {
                hostname: true,
                socket: Some("/run/user/1000/docker.sock".into()),
                max_list_bytes: None,
                relist: None,
            })
        );
        for (word, want) in [
            ("yes", true),
            ("TRUE", true),
            ("1", true),
            ("off", false),
            ("no", false),
            ("false", false),
            ("0", false),
        ] {
            let c = config(&format!("sflow {{ docker {{ hostname = {word} }} }}"));
            assert_eq!(c.docker.map(|d| d.hostname), Some(want), "{word}");
        }
        assert_eq!(
            fail("sflow { docker { hostname = maybe } }"),
            (1, BadSwitch, "maybe".into())
        );
        assert_eq!(
            fail("sflow { docker { socket = docker.sock } }"),
            (1, BadSocketPath, "docker.sock".into())
        );
    }

    #[test]
    fn docker_relist() {
        use crate::config::relist_ms;
        assert_eq!(relist_ms(&Config::default()), 120_000);
        assert_eq!(relist_ms(&config("sflow { docker { } }")), 120_000);
        let c = config("sflow { docker { relist = 30 } }");
        assert_eq!(c.docker.as_ref().and_then(|d| d.relist), Some(30));
        assert_eq!(relist_ms(&c), 30_000);
        assert_eq!(relist_ms(&config("sflow { docker { RELIST = 1 } }")), 1000);
        assert_eq!(
            relist_ms(&config("sflow { docker { relist = 3600 } }")),
            3_600_000
        );
        assert_eq!(
            relist_ms(&config("sflow { docker { relist = 1K } }")),
            1_000_000
        );
        for bad in ["0", "3601", "4K", "99999999999999999999"] {
            assert_eq!(
                fail(&format!("sflow {{\n docker {{ relist = {bad} }} }}")),
                (2, NumberOutOfRange, bad.into()),
                "{bad}"
            );
        }
        for bad in ["-5", "2m", "ten", "0x10"] {
            let (line, _, text) = fail(&format!("sflow {{ docker {{ relist = {bad} }} }}"));
            assert_eq!((line, text), (1, bad.to_string()), "{bad}");
        }
        let parsed = ok("sflow { docker { relist = 10\n relist = 20 } }");
        assert_eq!(
            parsed.config.docker.and_then(|d| d.relist),
            Some(20),
            "the last value wins"
        );
        assert_eq!(
            parsed.warnings[0].to_string(),
            "t.conf:2: \"relist\" set again (previously on line 1): the last value wins"
        );
    }

    #[test]
    fn docker_blocks_merge_and_other_keys_warn() {
        let parsed = ok("sflow { docker { hostname = on } docker {\n markTraffic = on\n colour = blue\n hostname = off } }");
        assert_eq!(
            parsed.config.docker,
            Some(DockerConfig {
                hostname: false,
                socket: None,
                max_list_bytes: None,
                relist: None,
            })
        );
        let m: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            m,
            [
                "t.conf:2: \"markTraffic\" in docker is not implemented by csflowd: ignored",
                "t.conf:3: unknown setting \"colour\" in docker: skipped",
                "t.conf:4: \"hostname\" set again (previously on line 1): the last value wins",
                "t.conf:1: no collector configured: nothing will be sent",
            ]
        );
    }

    #[test]
    fn duplicate_scalars_last_wins_with_a_warning() {
        let parsed = ok("sflow {\n polling = 10\n collector { ip = 1.1.1.1 }\n Polling = 20\n counterPollingInterval = 5 }");
        assert_eq!(parsed.config.polling, 5);
        let m: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            m,
            [
                "t.conf:4: \"Polling\" set again (previously on line 2): the last value wins",
                "t.conf:5: \"counterPollingInterval\" set again (previously on line 4): the last value wins",
            ]
        );
    }

    #[test]
    fn ignored_keywords_warn_once_each_and_skip_their_value_or_block() {
        let text =
            "sflow {\n sampling = 400\n pcap { dev = eth0 }\n pcap { dev = eth1 speed=1G- }\n \
                    sampling.http = 100\n SAMPLING = 1000\n collector { ip = 1.2.3.4 }\n \
                    dns-sd { domain = .example.com }\n psample { group = 1 egress = on }\n }";
        let parsed = ok(text);
        assert_eq!(parsed.config.collectors, [collector("1.2.3.4", 6343)]);
        assert_eq!(parsed.config.polling, 30);
        let m: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(
            m,
            [
                "t.conf:4: \"speed\" in pcap is not implemented by csflowd: ignored",
                "t.conf:6: \"SAMPLING\" set again (previously on line 2): the last value wins",
                "t.conf:8: \"dns-sd\" is not implemented by csflowd: ignored",
                "t.conf:9: \"psample\" is not implemented by csflowd: ignored",
            ]
        );
        assert_eq!(parsed.config.sampling.rate, Some(1000));
        assert_eq!(parsed.config.pcap.len(), 2);
        assert_eq!(
            parsed.config.apps,
            [AppSetting {
                name: "http".into(),
                sampling: Some(100),
                polling: None
            }]
        );
    }

    #[test]
    fn packet_sampling_settings() {
        let c = config(
            "sflow { sampling = 1000 sampling.10G = 5000 sampling.1G=200 sampling.bps_ratio = 0 \
             headerBytes = 64 pcap { dev = veth1 sampling = 10 } pcap { DEV = eth0 } }",
        );
        assert_eq!(c.sampling.rate, Some(1000));
        assert_eq!(
            c.sampling.by_speed,
            [(10_000_000_000, 5000), (1_000_000_000, 200)]
        );
        assert_eq!(c.sampling.bps_ratio, Some(0));
        assert_eq!(c.sampling.header_bytes, 64);
        assert_eq!(
            c.pcap,
            [
                Pcap {
                    dev: "veth1".into(),
                    sampling: Some(10),
                    directions: Directions::default(),
                },
                Pcap {
                    dev: "eth0".into(),
                    sampling: None,
                    directions: Directions::default(),
                }
            ]
        );
        // Precedence: the block's own rate, sampling.<speed>, bps_ratio, sampling, 400.
        let s = &c.sampling;
        assert_eq!(s.rate_for(Some(10), Some(10_000_000_000)), 10);
        assert_eq!(s.rate_for(None, Some(10_000_000_000)), 5000);
        assert_eq!(s.rate_for(None, Some(1_000_000_000)), 200);
        assert_eq!(s.rate_for(None, Some(100_000_000)), 1000, "ratio 0 is off");
        assert_eq!(s.rate_for(None, None), 1000);
        let mut s = s.clone();
        s.bps_ratio = Some(1_000_000);
        assert_eq!(s.rate_for(None, Some(100_000_000)), 100);
        assert_eq!(s.rate_for(None, Some(1)), 1, "at least 1");
        assert_eq!(
            crate::config::Sampling::default().rate_for(None, Some(10_000_000_000)),
            400
        );
        assert_eq!(config("sflow { }").sampling.header_bytes, 128);
        for bad in [
            "headerBytes = 257",
            "headerBytes = 0",
            "sampling = 0",
            "sampling = 10000001",
        ] {
            let (_, kind, _) = fail(&format!("sflow {{ {bad} }}"));
            assert_eq!(kind, NumberOutOfRange, "{bad}");
        }
        let c = config("sflow { pcap { containers = on sampling = 50 } }");
        assert!(c.pcap.is_empty());
        assert_eq!(
            c.pcap_containers,
            Some(crate::config::PcapContainers {
                sampling: Some(50),
                directions: Directions::default(),
            })
        );
        assert_eq!(
            config("sflow { pcap { containers = off } }").pcap_containers,
            None
        );
        assert!(!config("sflow { }").mib2_containers, "off by default");
        assert!(config("sflow { MIB2.Containers = on }").mib2_containers);
        assert!(!config("sflow { mib2.containers = on\n mib2.containers = off }").mib2_containers);
        assert_eq!(
            fail("sflow {\n mib2.containers = sometimes }"),
            (2, BadSwitch, "sometimes".into())
        );
        let e = parse("sflow { mib2.containers = x }", Path::new("/etc/c.conf")).unwrap_err();
        assert!(e.to_string().contains("/etc/c.conf:1"), "{e}");
        let c = config("sflow { nflog { group = 5 probability = 0.0025 } }");
        assert_eq!(
            c.nflog,
            Some(Nflog {
                group: 5,
                rate: 400
            })
        );
        for bad in ["probability = 0", "probability = 2", "group = 65536"] {
            let (_, kind, _) = fail(&format!("sflow {{ nflog {{ group = 1 {bad} }} }}"));
            assert_eq!(kind, NumberOutOfRange, "{bad}");
        }
        // One direction per block; both off is an error naming the line and the setting.
        let c = config(
            "sflow { pcap { dev = a egress = off } pcap { dev = b INGRESS = no egress = on } \
             pcap { containers = on ingress = off } }",
        );
        let only = |ingress, egress| Directions { ingress, egress };
        assert_eq!(c.pcap[0].directions, only(true, false));
        assert_eq!(c.pcap[1].directions, only(false, true));
        assert_eq!(
            c.pcap_containers.map(|p| p.directions),
            Some(only(false, true))
        );
        assert_eq!(
            fail("sflow {\n pcap { dev = a\n ingress = off\n egress = off } }"),
            (4, NoDirection, "egress = off".into())
        );
        assert_eq!(
            fail("sflow { pcap { containers = on egress = 0 ingress = false } }"),
            (1, NoDirection, "ingress = false".into())
        );
        assert_eq!(
            fail("sflow { pcap { dev = a egress = maybe } }"),
            (1, BadSwitch, "maybe".into())
        );
        let parsed = ok("sflow {\n pcap { sampling = 5 } }");
        assert!(parsed.config.pcap.is_empty());
        assert_eq!(
            parsed.warnings[0].to_string(),
            "t.conf:2: pcap without dev: no interface to sample, ignored"
        );
    }

    #[test]
    fn unknown_keywords_warn_each_time_and_skip_value_or_block() {
        let text = "sflow {\n colour = blue\n colour = red\n gadget { a { b = c } d = e }\n \
                    collector { ip = 1.2.3.4 }\n lonely }";
        let m = messages(text);
        assert_eq!(
            m,
            [
                "t.conf:2: unknown setting \"colour\" in sflow: skipped",
                "t.conf:3: unknown setting \"colour\" in sflow: skipped",
                "t.conf:4: unknown setting \"gadget\" in sflow: skipped",
                "t.conf:6: unknown setting \"lonely\" in sflow: skipped",
            ]
        );
        assert_eq!(config(text).collectors, [collector("1.2.3.4", 6343)]);
    }

    #[test]
    fn structure_errors() {
        assert_eq!(fail(""), (1, NoSflowBlock, "".into()));
        assert_eq!(fail("# nothing\n\n"), (3, NoSflowBlock, "".into()));
        assert_eq!(fail("polling = 30"), (1, OutsideSflow, "polling".into()));
        assert_eq!(
            fail("sflow { }\nsflow { }"),
            (2, OutsideSflow, "sflow".into())
        );
        assert_eq!(fail("sflow { }\n{"), (2, OutsideSflow, "{".into()));
        assert_eq!(fail("sflow { }\n\n}"), (3, UnmatchedClose, "}".into()));
        assert_eq!(fail("sflow polling"), (1, ExpectedOpen, "sflow".into()));
        assert_eq!(fail("sflow"), (1, ExpectedOpen, "sflow".into()));
        assert_eq!(
            fail("sflow {\n\n polling = 30\n"),
            (1, UnclosedBlock, "sflow".into())
        );
        assert_eq!(
            fail("sflow {\n pcap {\n dev = eth0\n"),
            (2, UnclosedBlock, "pcap".into())
        );
        assert_eq!(
            fail("sflow {\n x {\n port {\n"),
            (3, UnclosedBlock, "port".into())
        );
        assert_eq!(fail("sflow { { } }"), (1, UnexpectedOpen, "{".into()));
        assert_eq!(
            fail("sflow { polling }"),
            (1, MissingValue, "polling".into())
        );
        assert_eq!(
            fail("sflow {\n polling"),
            (2, MissingValue, "polling".into())
        );
        assert_eq!(
            fail("sflow { polling { } }"),
            (1, MissingValue, "polling".into())
        );
    }

    #[test]
    fn nesting_deeper_than_16_fails_at_the_17th_brace() {
        // sflow is level 1; 15 more nested blocks reach 16.
        let ok_text = format!("sflow {{ {}{} }}", "a { ".repeat(15), "} ".repeat(15));
        assert!(parse(&ok_text, Path::new("t.conf")).is_ok());
        let deep = format!("sflow {{\n{}{} }}", "a {\n".repeat(16), "}\n".repeat(16));
        assert_eq!(fail(&deep), (17, TooDeep, "a".into()));
        let bare = format!("sflow {{ x {} }}", "{ ".repeat(40));
        assert_eq!(fail(&bare).1, TooDeep);
    }

    #[test]
    fn case_insensitive_keywords() {
        let c = config("SFLOW { COLLECTOR { IP = 1.2.3.4 UDPPORT = 1 } DOCKER { HOSTNAME = ON } DataGramBytes = 300 }");
        assert_eq!(c.collectors, [collector("1.2.3.4", 1)]);
        assert_eq!(c.docker.map(|d| d.hostname), Some(true));
        assert_eq!(c.datagram_bytes, 300);
    }

    #[test]
    fn oversized_text_is_refused_before_parsing() {
        let mut text = String::from("sflow { }");
        text.push_str(&" ".repeat(MAX_FILE_BYTES + 1 - text.len()));
        assert_eq!(fail(&text), (0, FileTooLarge, "".into()));
        text.pop();
        assert!(parse(&text, Path::new("t.conf")).is_ok());
    }

    #[test]
    fn token_errors_carry_the_file() {
        let e = parse("sflow { \"open }", Path::new("/x/y.conf")).unwrap_err();
        assert_eq!(e.file, PathBuf::from("/x/y.conf"));
        assert_eq!(e.kind, UnterminatedQuote);
    }

    #[test]
    fn warnings_are_capped_but_the_no_collector_one_is_kept() {
        let text = format!("sflow {{\n{}}}", "junk = 1\n".repeat(MAX_WARNINGS + 50));
        let parsed = ok(&text);
        assert_eq!(parsed.warnings.len(), MAX_WARNINGS + 2);
        let last: Vec<String> = parsed.warnings[MAX_WARNINGS..]
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(
            last,
            [
                "t.conf:1: no collector configured: nothing will be sent",
                "t.conf:152: 50 more warnings not shown"
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        assert_eq!(config("\u{feff}sflow { polling = 5 }").polling, 5);
        assert_eq!(
            fail("sflow { }\u{feff}"),
            (1, OutsideSflow, "\u{feff}".into())
        );
    }

    #[test]
    fn quoted_values_are_words() {
        let c = config("sflow { docker { socket = \"/run/my docker.sock\" } pcap { dev.pattern = \"veth{1,2}\" } }");
        assert_eq!(
            c.docker.and_then(|d| d.socket),
            Some(PathBuf::from("/run/my docker.sock"))
        );
    }

    #[test]
    fn containerd_and_k8s_blocks() {
        let c = config("sflow { containerd { } }");
        assert_eq!(c.containerd, Some(RuntimeConfig::default()));
        assert_eq!(
            c.containerd.map(|r| r.state_dir()),
            Some(PathBuf::from("/run/containerd"))
        );
        assert_eq!(config("sflow { }").containerd, None);
        let c = config("sflow { containerd { state = /tmp/c/state } k8s { state = /run/k } }");
        assert_eq!(
            c.containerd.map(|r| r.state_dir()),
            Some(PathBuf::from("/tmp/c/state"))
        );
        assert_eq!(c.k8s.and_then(|r| r.state), Some(PathBuf::from("/run/k")));
        for bad in ["relative", "/a/../b", "/"] {
            let text = format!("sflow {{ containerd {{ state = {bad} }} }}");
            if bad == "/" {
                assert!(config(&text).containerd.is_some());
            } else {
                assert_eq!(fail(&text).1, ConfigErrorKind::BadStatePath, "{bad}");
            }
        }
    }

    #[test]
    fn runtime_blocks_ignore_the_reference_agents_other_settings() {
        let parsed = ok("sflow { containerd { markTraffic = on unixsock = /x colour = blue } }");
        assert_eq!(parsed.config.containerd, Some(RuntimeConfig::default()));
        let w: Vec<String> = parsed
            .warnings
            .iter()
            .map(|w| w.to_string())
            .filter(|w| w.contains("containerd"))
            .collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w
            .iter()
            .any(|w| w.contains("markTraffic") && w.contains("in containerd")));
        assert!(w
            .iter()
            .any(|w| w.contains("unknown setting \"colour\" in containerd")));
    }
}
