//! Configuration: the reference agent's `hsflowd.conf` syntax, so an existing file works unchanged.
//!
//! The file is one `sflow { ... }` block. Words are separated by spaces, tabs, newlines, `=` and `;`; `{` and
//! `}` are tokens even when attached to a word; `#` starts a comment; keywords are case-insensitive; a word
//! in double quotes may hold separators (`""` is a quote). Inside `sflow { }`:
//!
//! | setting | value |
//! |---|---|
//! | `polling` (or `counterPollingInterval`) | seconds, `u32`, 0 = off |
//! | `datagramBytes` | 200..=8192 |
//! | `agentIP` | numeric IPv4 or IPv6 address |
//! | `agent` | interface name |
//! | `agent.cidr` | `[!]net/prefix` or `[!]net/netmask`, repeatable; host bits are cleared with a warning |
//! | `subAgentId` | `u32` |
//! | `uuid` | 8-4-4-4-12 or 32 hex digits |
//! | `collector { ip = ADDR udpport = PORT }` | repeatable; `ip` numeric and required, port 1..=65535 (6343) |
//! | `docker { hostname = on\|off socket = /path }` | switches take on/off/yes/no/true/false/1/0 |
//! | `docker { maxListBytes = N }` | 65536..=1073741824 |
//! | `docker { relist = SECONDS }` | 1..=3600 (120); read through [`relist_ms`] |
//! | `containerd { state = PATH }` | containerd's tasks, one data source each; PATH absolute (`/run/containerd`) |
//! | `k8s { state = PATH }` | Kubernetes pods from containerd's sandbox tasks, one data source each; the same `state` |
//! | `sampling` (or `packetSamplingRate`) | 1..=10000000: one packet in N (default 400) |
//! | `sampling.<speed>` | a rate for interfaces of that speed (`100M`, `1G`, `10G`: bits/s) |
//! | `sampling.bps_ratio` | rate = interface speed / ratio (at least 1); 0 = off |
//! | `headerBytes` | 1..=256 (128): bytes of each sampled packet sent |
//! | `pcap { dev = NAME sampling = N }` | repeatable: sample packets on interface NAME |
//! | `pcap { containers = on sampling = N }` | sample the host end of every container's veths |
//! | `pcap { ... ingress = on egress = on }` | which directions a tap samples (both off: error) |
//! | `nflog { group = G probability = P }` | read NFLOG group G (0..=65535), rate 1/P (0 < P <= 1) |
//! | `mib2.containers` | on/off (off): each container's sample carries its network namespace's MIB-II groups |
//! | `sampling.<app>`, `polling.<app>` | for application sub-agents, written to `hsflowd.auto` (`-o`) |
//!
//! Numbers are decimal digits with an optional `K`/`M`/`G` multiplier (as the reference agent reads them);
//! no sign, no hex. Settings the reference agent knows but csflowd does not implement (`psample { }`,
//! `pcap { speed dev.pattern }`, `dns-sd { }`, `collector { dev namespace }` ...) are skipped with one warning per keyword; unknown settings
//! with one warning each. A setting given twice keeps the last value, with a warning.
//!
//! Values start from [`Config::default`], except the collectors: the file's list replaces the default one,
//! and may be empty (with a warning: nothing will be sent).
//!
//! Contract: nothing here panics on any input. The file is at most [`MAX_FILE_BYTES`], a word at most
//! [`MAX_TOKEN_BYTES`], blocks nest at most [`MAX_DEPTH`] deep (so the recursive block skipper is bounded);
//! anything beyond is a [`ConfigError`]. At most [`MAX_WARNINGS`] warnings are kept (then one that counts
//! the rest). The first fatal problem ends the parse; warnings never do.

use std::net::IpAddr;
use std::path::PathBuf;

mod error;
mod file;
mod parse;
mod token;
mod value;

pub use error::{ConfigError, ConfigErrorKind, Warning, MAX_SHOWN_CHARS};
pub use file::{default_path, load, OWN_FILE_NAME, REFERENCE_FILE_NAME};
pub use parse::{parse, Parsed};
pub use value::{MAX_INTERFACE_NAME_BYTES, MAX_SOCKET_PATH_BYTES};

/// Checks a state directory as `containerd { state }` takes it, for the command line.
pub fn parse_state_path(text: &str) -> Option<PathBuf> {
    value::state_path(text).ok()
}

/// Parses a UUID as the file's `uuid` setting takes it (8-4-4-4-12 or 32 hexadecimal digits), for the
/// command line's `-u`.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    value::uuid(text).ok()
}

/// Largest configuration file, bytes.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Longest word (or quoted string) in a configuration file, bytes.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Deepest nesting of blocks; `sflow { }` is level 1.
pub const MAX_DEPTH: usize = 16;
/// Most warnings kept for one file; the rest are counted in one last warning.
pub const MAX_WARNINGS: usize = 100;

/// Default UDP port of an sFlow collector.
pub const DEFAULT_COLLECTOR_PORT: u16 = 6343;
/// Default polling interval, seconds.
pub const DEFAULT_POLLING: u32 = 30;
/// Default largest datagram, bytes of UDP payload.
pub const DEFAULT_DATAGRAM_BYTES: usize = 1400;
/// Smallest accepted `datagramBytes`.
pub const MIN_DATAGRAM_BYTES: usize = 200;
/// Largest accepted `datagramBytes`.
pub const MAX_DATAGRAM_BYTES: usize = 8192;
/// Default sub-agent id: the reference agent's value when it exports counters only.
pub const DEFAULT_SUB_AGENT_ID: u32 = 100001;

/// Where datagrams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collector {
    /// Collector address.
    pub ip: IpAddr,
    /// Collector UDP port.
    pub port: u16,
}

/// One `agent.cidr` entry: prefer (or, with `!`, avoid) agent addresses in this network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentCidr {
    /// Network address.
    pub net: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// `!` given: exclude this network.
    pub exclude: bool,
}

/// The `docker { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DockerConfig {
    /// `hostname = on`: report the container's own hostname instead of its name.
    pub hostname: bool,
    /// `socket = PATH`: the engine's UNIX socket.
    pub socket: Option<PathBuf>,
    /// `maxListBytes = N`: the largest container list accepted from the engine (default 256M). It
    /// bounds the reading work, not memory: the list is decoded as it arrives.
    pub max_list_bytes: Option<u64>,
    /// `relist = SECONDS`: how often the whole container list is asked for again, to reconcile
    /// with the events stream (default [`DEFAULT_RELIST_SECONDS`]); read it through [`relist_ms`].
    pub relist: Option<u32>,
}

/// The `containerd { }` and `k8s { }` blocks: containerd's state directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuntimeConfig {
    /// `state = PATH`: containerd's state directory (default [`DEFAULT_CONTAINERD_STATE`]).
    pub state: Option<PathBuf>,
}

impl RuntimeConfig {
    /// The state directory: `state`, else [`DEFAULT_CONTAINERD_STATE`].
    pub fn state_dir(&self) -> PathBuf {
        self.state
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTAINERD_STATE))
    }
}

/// containerd's default state directory.
pub const DEFAULT_CONTAINERD_STATE: &str = "/run/containerd";

/// Default `docker { relist }`, seconds.
pub const DEFAULT_RELIST_SECONDS: u32 = 120;
/// Smallest accepted `docker { relist }`, seconds.
pub const MIN_RELIST_SECONDS: u32 = 1;
/// Largest accepted `docker { relist }`, seconds.
pub const MAX_RELIST_SECONDS: u32 = 3600;

/// The interval of the reconciling container list in milliseconds: `docker { relist }`, else
/// [`DEFAULT_RELIST_SECONDS`] (also without a `docker { }` block).
pub fn relist_ms(config: &Config) -> u64 {
    let seconds = config
        .docker
        .as_ref()
        .and_then(|d| d.relist)
        .unwrap_or(DEFAULT_RELIST_SECONDS);
    u64::from(seconds) * 1000
}

/// Default sampling rate: one packet in 400 (the reference agent's `SFL_DEFAULT_SAMPLING_RATE`).
pub const DEFAULT_SAMPLING_RATE: u32 = 400;
/// Largest sampling rate.
pub const MAX_SAMPLING_RATE: u32 = 10_000_000;
/// Default `headerBytes`.
pub const DEFAULT_HEADER_BYTES: u32 = 128;
/// Largest `headerBytes`.
pub const MAX_HEADER_BYTES: u32 = 256;

/// The packet sampling settings of the `sflow { }` level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sampling {
    /// `sampling = N`.
    pub rate: Option<u32>,
    /// `sampling.<speed> = N`: (speed in bits/s, rate), in file order.
    pub by_speed: Vec<(u64, u32)>,
    /// `sampling.bps_ratio = R`; 0 turns it off.
    pub bps_ratio: Option<u32>,
    /// `headerBytes`: bytes of each sampled packet sent.
    pub header_bytes: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            rate: None,
            by_speed: Vec::new(),
            bps_ratio: None,
            header_bytes: DEFAULT_HEADER_BYTES,
        }
    }
}

impl Sampling {
    /// The rate for an interface of `speed` bits/s (if known) tapped by a `pcap { }` block whose
    /// own `sampling` is `own`, by the reference agent's precedence: the block's own rate, then
    /// `sampling.<speed>`, then `sampling.bps_ratio`, then `sampling`, then
    /// [`DEFAULT_SAMPLING_RATE`]. Always within 1..=[`MAX_SAMPLING_RATE`].
    pub fn rate_for(&self, own: Option<u32>, speed: Option<u64>) -> u32 {
        let by_speed = || {
            let speed = speed?;
            self.by_speed
                .iter()
                .rev()
                .find(|(s, _)| *s == speed)
                .map(|(_, r)| *r)
        };
        let by_ratio = || {
            let ratio = self.bps_ratio.filter(|r| *r > 0)?;
            let speed = speed.filter(|s| *s > 0)?;
            Some(u32::try_from(speed / u64::from(ratio)).unwrap_or(u32::MAX))
        };
        own.or_else(by_speed)
            .or_else(by_ratio)
            .or(self.rate)
            .unwrap_or(DEFAULT_SAMPLING_RATE)
            .clamp(1, MAX_SAMPLING_RATE)
    }
}

/// One `pcap { }` block: sample the packets of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcap {
    /// `dev = NAME`.
    pub dev: String,
    /// `sampling = N`: this interface's own rate.
    pub sampling: Option<u32>,
    /// `ingress = on|off`, `egress = on|off`.
    pub directions: Directions,
}

/// Which packets of a tapped interface are sampled, as seen from that interface: those it received
/// (`ingress`), those sent on it (`egress`), or both (the default). Never neither: the parser
/// refuses that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directions {
    /// `ingress = on`: packets the interface received.
    pub ingress: bool,
    /// `egress = on`: packets sent on the interface.
    pub egress: bool,
}

impl Default for Directions {
    fn default() -> Self {
        Directions {
            ingress: true,
            egress: true,
        }
    }
}

/// `pcap { containers = on }`: sample the host end of every tracked container's interfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcapContainers {
    /// `sampling = N` of that block: the containers' own rate.
    pub sampling: Option<u32>,
    /// `ingress`, `egress` of that block, as seen from the host end of each veth.
    pub directions: Directions,
}

/// `nflog { group = G probability = P }`: read the packets an NFLOG rule logs to group G.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nflog {
    /// The log group.
    pub group: u16,
    /// One in `rate` (1/P, rounded): the rule's probability, as a sampling rate.
    pub rate: u32,
}

/// `sampling.<application> = N` and `polling.<application> = S`: settings for the application
/// sub-agents that read `hsflowd.auto` (such as `sampling.http` for Apache's mod_sflow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSetting {
    /// The application's name (as written, lower case).
    pub name: String,
    /// `sampling.<name>`.
    pub sampling: Option<u32>,
    /// `polling.<name>`.
    pub polling: Option<u32>,
}

/// A complete, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Seconds between counter samples of one data source; 0 turns polling off.
    pub polling: u32,
    /// Largest datagram (UDP payload bytes), 200..=8192.
    pub datagram_bytes: usize,
    /// `agentIP`: the agent address put in every datagram.
    pub agent_ip: Option<IpAddr>,
    /// `agent`: take the agent address from this interface.
    pub agent_device: Option<String>,
    /// `agent.cidr`, in file order.
    pub agent_cidrs: Vec<AgentCidr>,
    /// `subAgentId`.
    pub sub_agent_id: u32,
    /// `uuid`: the host's UUID.
    pub uuid: Option<[u8; 16]>,
    /// Every `collector { }` block, in file order.
    pub collectors: Vec<Collector>,
    /// The `docker { }` block, when present.
    pub docker: Option<DockerConfig>,
    /// The `containerd { }` block, when present.
    pub containerd: Option<RuntimeConfig>,
    /// The `k8s { }` block, when present.
    pub k8s: Option<RuntimeConfig>,
    /// Packet sampling settings.
    pub sampling: Sampling,
    /// Every `pcap { }` block with a `dev`, in file order.
    pub pcap: Vec<Pcap>,
    /// A `pcap { containers = on }` block, when present.
    pub pcap_containers: Option<PcapContainers>,
    /// The `nflog { }` block, when present.
    pub nflog: Option<Nflog>,
    /// `sampling.<app>` and `polling.<app>`, in file order of their first setting.
    pub apps: Vec<AppSetting>,
    /// `mib2.containers = on`: each container's sample carries the MIB-II groups (2007 to 2010) of
    /// its own network namespace. Off by default: the kernel writes the whole `net/snmp` text at
    /// every read, which costs more than all of a container's other counters.
    pub mib2_containers: bool,
}

impl Default for Config {
    /// The embedded default: one collector at 127.0.0.1:6343, polling every 30 s.
    fn default() -> Self {
        Config {
            polling: DEFAULT_POLLING,
            datagram_bytes: DEFAULT_DATAGRAM_BYTES,
            agent_ip: None,
            agent_device: None,
            agent_cidrs: Vec::new(),
            sub_agent_id: DEFAULT_SUB_AGENT_ID,
            uuid: None,
            collectors: vec![Collector {
                ip: IpAddr::from([127, 0, 0, 1]),
                port: DEFAULT_COLLECTOR_PORT,
            }],
            docker: None,
            containerd: None,
            k8s: None,
            sampling: Sampling::default(),
            pcap: Vec::new(),
            pcap_containers: None,
            nflog: None,
            apps: Vec::new(),
            mib2_containers: false,
        }
    }
}
