//! The command line: options of the reference agent (`-d`, `-f`, `-p`, `-u`, `-v`) plus long options for the
//! common settings, which override the configuration file.
//!
//! Parsing never exits the process; it returns what to do, and the program decides.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::config::{self, Collector, Config, DEFAULT_COLLECTOR_PORT};

/// Settings given on the command line that override the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--collector`, repeatable: replaces the file's collectors.
    pub collectors: Vec<Collector>,
    /// `--polling`.
    pub polling: Option<u32>,
    /// `--agent-ip`.
    pub agent_ip: Option<IpAddr>,
    /// `--datagram-bytes`.
    pub datagram_bytes: Option<usize>,
    /// `--sub-agent-id`.
    pub sub_agent_id: Option<u32>,
    /// `-u`, `--uuid`.
    pub uuid: Option<[u8; 16]>,
    /// `--docker-socket`: track containers through this engine socket.
    pub docker_socket: Option<PathBuf>,
    /// `--containerd-state`: track containerd's tasks under this state directory.
    pub containerd_state: Option<PathBuf>,
}

impl Overrides {
    /// Applies the overrides to a configuration read from a file (or the default).
    pub fn apply(&self, config: &mut Config) {
        if !self.collectors.is_empty() {
            config.collectors = self.collectors.clone();
        }
        if let Some(v) = self.polling {
            config.polling = v;
        }
        if let Some(v) = self.agent_ip {
            config.agent_ip = Some(v);
        }
        if let Some(v) = self.datagram_bytes {
            config.datagram_bytes = v;
        }
        if let Some(v) = self.sub_agent_id {
            config.sub_agent_id = v;
        }
        if let Some(v) = self.uuid {
            config.uuid = Some(v);
        }
        if let Some(v) = &self.docker_socket {
            config.docker.get_or_insert_with(Default::default).socket = Some(v.clone());
        }
        if let Some(v) = &self.containerd_state {
            config.containerd.get_or_insert_with(Default::default).state = Some(v.clone());
        }
    }
}

/// Everything the command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `-f FILE`: the configuration file; `None` means the default search.
    pub config_path: Option<PathBuf>,
    /// Number of `-d` given: 0 runs as a daemon; 1 foreground, 2 debug, 3 trace.
    pub debug: u8,
    /// `-p FILE`: write the process id there.
    pub pid_file: Option<PathBuf>,
    /// `-o FILE`: write the settings for application sub-agents there (`hsflowd.auto`).
    pub output_file: Option<PathBuf>,
    /// `--print`: also write every sample sent as a JSON line on standard output.
    pub print: bool,
    /// `-t`, `--check`: check the configuration and exit.
    pub check: bool,
    /// `--proc-root`.
    pub proc_root: Option<PathBuf>,
    /// `--sys-root`.
    pub sys_root: Option<PathBuf>,
    /// `--etc-root`.
    pub etc_root: Option<PathBuf>,
    /// Overrides of file settings.
    pub overrides: Overrides,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run (or check) with these options.
    Run(Box<Options>),
    /// `-h`, `--help`.
    Help,
    /// `-v`, `--version`.
    Version,
}

/// A command-line error, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The `--help` text.
pub const HELP: &str = "\
Usage: csflowd [OPTIONS]

Exports sFlow v5 counter samples of this host and its containers over UDP, and packet
samples: pcap { dev } and pcap { containers = on } (CAP_NET_RAW; ingress = off or egress = off
samples one direction), nflog { group } (CAP_NET_ADMIN).

Options:
  -f FILE                 configuration file (default /etc/csflowd.conf, else /etc/hsflowd.conf,
                          else built-in: collector 127.0.0.1:6343, polling 30, and tracking
                          the Docker or Podman socket and containerd found on the host)
  -d                      stay in the foreground and log to stderr; -dd debug, -ddd trace
  -p FILE                 write the process id to FILE
  -o FILE                 write the settings for application sub-agents to FILE, as the
                          reference agent's /etc/hsflowd.auto (atomically, on every change)
  -u, --uuid UUID         the host's UUID (overrides the file's uuid)
  -t, --check             check the configuration, print the settings in effect, and exit
      --print             also write every sample sent as one JSON line on stdout
      --collector IP[:PORT]
                          send to this collector (repeatable; replaces the file's collectors;
                          an IPv6 address with a port is written [ADDR]:PORT; port 6343 by default)
      --polling SECONDS   seconds between samples of each data source (0 = off)
      --agent-ip IP       agent address put in every datagram
      --datagram-bytes N  largest datagram, 200..8192 bytes
      --sub-agent-id N    sFlow sub-agent id (default 100001)
      --docker-socket PATH
                          track containers through this Docker or Podman API socket (turns
                          tracking on, as a docker { } block does; default socket: DOCKER_HOST
                          if it is unix://PATH, else /var/run/docker.sock)
      --containerd-state DIR
                          track containerd's tasks through its state directory (turns tracking
                          on, as a containerd { } block does, and is the one the built-in
                          default tracks; default /run/containerd)
      --proc-root DIR     read /proc from DIR (for tests and diagnostics)
      --sys-root DIR      read /sys from DIR
      --etc-root DIR      look for the configuration file and machine-id in DIR
  -v, --version           print the version and exit
  -h, --help              print this help and exit

Signals: SIGTERM and SIGINT flush and exit; SIGHUP re-reads the configuration.
Exit status: 0 success, 64 bad command line, 78 bad configuration, 1 other failure.
";

fn number<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, UsageError> {
    v.parse::<T>()
        .map_err(|_| UsageError(format!("{opt}: not a valid number: {v:?}")))
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT`.
pub fn parse_collector(v: &str) -> Result<Collector, UsageError> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(Collector {
            ip,
            port: DEFAULT_COLLECTOR_PORT,
        });
    }
    match v.parse::<SocketAddr>() {
        Ok(sa) if sa.port() != 0 => Ok(Collector {
            ip: sa.ip(),
            port: sa.port(),
        }),
        Ok(_) => Err(UsageError(format!("--collector: port out of range: {v:?}"))),
        Err(_) => Err(UsageError(format!(
            "--collector: not IP, IP:PORT or [IPv6]:PORT: {v:?}"
        ))),
    }
}

/// Parses the arguments that follow the program name.
pub fn parse<I, S>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut opts = Options::default();
    let mut args = args.into_iter().map(Into::into).peekable();
    while let Some(arg) = args.next() {
        // Split "--name=value" and "-fVALUE" forms into option and inline value.
        let (name, inline): (String, Option<String>) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (format!("--{n}"), Some(v.to_string())),
                None => (arg.clone(), None),
            }
        } else if arg.starts_with('-') && arg.len() > 1 && arg.bytes().skip(1).all(|b| b == b'd') {
            opts.debug = opts.debug.saturating_add((arg.len() - 1) as u8).min(3);
            continue;
        } else if arg.starts_with('-') && arg.len() > 2 && arg.is_char_boundary(2) {
            (arg[..2].to_string(), Some(arg[2..].to_string()))
        } else {
            (arg.clone(), None)
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .ok_or_else(|| UsageError(format!("{name}: needs a value"))),
            }
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-v" | "--version" => return Ok(Command::Version),
            "-f" | "--config" => opts.config_path = Some(PathBuf::from(value(&name)?)),
            "-p" | "--pidfile" => opts.pid_file = Some(PathBuf::from(value(&name)?)),
            "-o" | "--output" => opts.output_file = Some(PathBuf::from(value(&name)?)),
            "-u" | "--uuid" => {
                let v = value(&name)?;
                let uuid = config::parse_uuid(&v)
                    .ok_or_else(|| UsageError(format!("{name}: not a UUID: {v:?}")))?;
                opts.overrides.uuid = Some(uuid);
            }
            "-t" | "--check" if inline.is_none() => opts.check = true,
            "--print" if inline.is_none() => opts.print = true,
            "--collector" => {
                let c = parse_collector(&value(&name)?)?;
                opts.overrides.collectors.push(c);
            }
            "--polling" => opts.overrides.polling = Some(number(&name, &value(&name)?)?),
            "--agent-ip" => {
                let v = value(&name)?;
                let ip = v
                    .parse()
                    .map_err(|_| UsageError(format!("{name}: not an IP address: {v:?}")))?;
                opts.overrides.agent_ip = Some(ip);
            }
            "--datagram-bytes" => {
                let n: usize = number(&name, &value(&name)?)?;
                if !(config::MIN_DATAGRAM_BYTES..=config::MAX_DATAGRAM_BYTES).contains(&n) {
                    return Err(UsageError(format!(
                        "{name}: {n} is out of range {}..{}",
                        config::MIN_DATAGRAM_BYTES,
                        config::MAX_DATAGRAM_BYTES
                    )));
                }
                opts.overrides.datagram_bytes = Some(n);
            }
            "--sub-agent-id" => opts.overrides.sub_agent_id = Some(number(&name, &value(&name)?)?),
            "--docker-socket" => {
                let v = value(&name)?;
                if !v.starts_with('/') {
                    return Err(UsageError(format!("{name}: not an absolute path: {v:?}")));
                }
                opts.overrides.docker_socket = Some(PathBuf::from(v));
            }
            "--containerd-state" => {
                let v = value(&name)?;
                let path = config::parse_state_path(&v).ok_or_else(|| {
                    UsageError(format!("{name}: not an absolute path without '..': {v:?}"))
                })?;
                opts.overrides.containerd_state = Some(path);
            }
            "--proc-root" => opts.proc_root = Some(PathBuf::from(value(&name)?)),
            "--sys-root" => opts.sys_root = Some(PathBuf::from(value(&name)?)),
            "--etc-root" => opts.etc_root = Some(PathBuf::from(value(&name)?)),
            _ => return Err(UsageError(format!("unknown option {arg:?} (see --help)"))),
        }
    }
    Ok(Command::Run(Box::new(opts)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse(args.iter().copied()) {
            Ok(Command::Run(o)) => *o,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    #[test]
    fn reference_agent_options() {
        let o = run(&["-dd", "-f", "/x.conf", "-p/run/c.pid"]);
        assert_eq!(o.debug, 2);
        assert_eq!(o.config_path, Some(PathBuf::from("/x.conf")));
        assert_eq!(o.pid_file, Some(PathBuf::from("/run/c.pid")));
        assert_eq!(
            run(&["-o", "/etc/hsflowd.auto"]).output_file,
            Some(PathBuf::from("/etc/hsflowd.auto"))
        );
        assert_eq!(run(&["-d", "-d", "-ddd"]).debug, 3);
        assert_eq!(parse(["-v"]), Ok(Command::Version));
        assert_eq!(parse(["--help"]), Ok(Command::Help));
    }

    #[test]
    fn long_options_with_both_value_forms() {
        let o = run(&[
            "--collector",
            "127.0.0.1",
            "--collector=[::1]:7000",
            "--collector=10.0.0.1:9",
            "--polling=5",
            "--agent-ip",
            "192.0.2.1",
            "--datagram-bytes",
            "8192",
            "--sub-agent-id=7",
            "--docker-socket=/run/podman/podman.sock",
            "--print",
            "--check",
        ]);
        let ov = &o.overrides;
        assert_eq!(ov.collectors.len(), 3);
        assert_eq!(ov.collectors[0].port, 6343);
        assert_eq!(
            ov.collectors[1],
            Collector {
                ip: "::1".parse().unwrap(),
                port: 7000
            }
        );
        assert_eq!(ov.polling, Some(5));
        assert_eq!(ov.agent_ip, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(ov.datagram_bytes, Some(8192));
        assert_eq!(ov.sub_agent_id, Some(7));
        assert_eq!(
            ov.docker_socket,
            Some(PathBuf::from("/run/podman/podman.sock"))
        );
        assert!(o.print && o.check);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--polling", "x"][..],
            &["--polling"],
            &["--collector", "example.com"],
            &["--collector", "127.0.0.1:0"],
            &["--collector", "127.0.0.1:70000"],
            &["--datagram-bytes", "100"],
            &["--agent-ip", "1.2.3"],
            &["-u", "not-a-uuid"],
            &["--bogus"],
            &["stray"],
            &["--print=yes"],
            &["--docker-socket", "relative.sock"],
            &["--containerd-state", "run/containerd"],
            &["--containerd-state", "/run/../x"],
        ] {
            assert!(parse(bad.iter().copied()).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overrides_apply_over_the_file() {
        let mut c = Config::default();
        let o = run(&["--collector", "[::1]:9999", "--polling", "0"]);
        o.overrides.apply(&mut c);
        assert_eq!(
            c.collectors,
            vec![Collector {
                ip: "::1".parse().unwrap(),
                port: 9999
            }]
        );
        assert_eq!(c.polling, 0);
        assert_eq!(c.datagram_bytes, config::DEFAULT_DATAGRAM_BYTES);
        assert_eq!(c.docker, None);
        let o = run(&["--docker-socket", "/x.sock"]);
        o.overrides.apply(&mut c);
        assert_eq!(
            c.docker.clone().and_then(|d| d.socket),
            Some(PathBuf::from("/x.sock"))
        );
        assert_eq!(c.containerd, None);
        let o = run(&["--containerd-state", "/tmp/state"]);
        o.overrides.apply(&mut c);
        assert_eq!(
            c.containerd.map(|r| r.state_dir()),
            Some(PathBuf::from("/tmp/state"))
        );
    }
}
