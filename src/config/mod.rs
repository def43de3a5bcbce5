//! Configuration: the reference agent's `hsflowd.conf` syntax, so an existing file works unchanged.
//!
//! (skeleton: the parser is being written)

use std::net::IpAddr;
use std::path::PathBuf;

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
        }
    }
}
