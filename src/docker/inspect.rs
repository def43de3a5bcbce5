//! Decoding one container's inspect document (`/containers/{id}/json`).
//!
//! Only the fields below are read (serde structs); the rest of the document (labels, env, mounts,
//! networks…) is skipped by serde_json without being stored. The decoder is strict, because an inspect answers a question about
//! one container: a missing field (or `null`) takes its default, but a field of the wrong type fails
//! the whole document. Nothing here panics.
//!
//! Limits: the name and hostname are display text, so they are cut to [`NAME_MAX`] bytes on a
//! character boundary; `CpusetCpus` has meaning, so one longer than [`CPUSET_MAX`] is refused
//! ([`DocError::TooLong`]). Negative `Memory`, `NanoCpus` and `CpuPeriod` mean "no limit / default"
//! and are read as 0; `CpuQuota` keeps its sign (-1 is cgroup v1's "unlimited").

use super::json::{bounded_string, from_slice, DocError, Object, Text};
use super::state::ContainerState;
use super::NAME_MAX;
use crate::container::ContainerId;

/// Longest accepted `HostConfig.CpusetCpus` (bytes); a list of every CPU of a 1024-CPU host written
/// one by one fits.
pub const CPUSET_MAX: usize = 4096;

/// Largest Linux pid (`PID_MAX_LIMIT`, 2²²). Larger values are not pids.
const PID_MAX: i64 = 1 << 22;

/// What the agent needs from one container's inspect document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspect {
    /// `Id`.
    pub id: ContainerId,
    /// `Name`, without the leading `/`.
    pub name: String,
    /// `Config.Hostname` (the short id by default; the host's name with `--network host`).
    pub hostname: String,
    /// `State.Status`.
    pub state: ContainerState,
    /// `State.Pid`: the main process in the host's pid namespace, 0 when not running.
    pub pid: u32,
    /// `HostConfig.Memory`: bytes, 0 = unlimited.
    pub memory_limit: u64,
    /// `HostConfig.NanoCpus`: 10⁻⁹ CPUs, 0 = unset.
    pub nano_cpus: u64,
    /// `HostConfig.CpuQuota`: µs per period, 0 = unset, -1 = unlimited.
    pub cpu_quota: i64,
    /// `HostConfig.CpuPeriod`: µs, 0 = the kernel default (100000).
    pub cpu_period: u64,
    /// `HostConfig.CpusetCpus`: e.g. `0-3,8`; empty = every CPU.
    pub cpuset_cpus: String,
}

/// The fields read from an inspect document (`None`: absent or `null`). Each at most once: serde
/// refuses a duplicated field ([`DocError::WrongType`]); a value of the wrong type fails the
/// document.
#[derive(serde::Deserialize)]
struct InspectDoc<'a> {
    #[serde(rename = "Id", borrow)]
    id: Option<Text<'a>>,
    #[serde(rename = "Name", borrow)]
    name: Option<Text<'a>>,
    #[serde(rename = "State", borrow)]
    state: Option<Object<StateDoc<'a>>>,
    #[serde(rename = "Config", borrow)]
    config: Option<Object<ConfigDoc<'a>>>,
    #[serde(rename = "HostConfig", borrow)]
    host_config: Option<Object<HostConfigDoc<'a>>>,
}

#[derive(serde::Deserialize)]
struct StateDoc<'a> {
    #[serde(rename = "Status", borrow)]
    status: Option<Text<'a>>,
    #[serde(rename = "Pid")]
    pid: Option<i64>,
}

#[derive(serde::Deserialize)]
struct ConfigDoc<'a> {
    #[serde(rename = "Hostname", borrow)]
    hostname: Option<Text<'a>>,
}

#[derive(serde::Deserialize)]
struct HostConfigDoc<'a> {
    #[serde(rename = "Memory")]
    memory: Option<i64>,
    #[serde(rename = "NanoCpus")]
    nano_cpus: Option<i64>,
    #[serde(rename = "CpuQuota")]
    cpu_quota: Option<i64>,
    #[serde(rename = "CpuPeriod")]
    cpu_period: Option<i64>,
    #[serde(rename = "CpusetCpus", borrow)]
    cpuset_cpus: Option<Text<'a>>,
}

/// A count that is meaningful only when positive: negative reads as 0.
fn non_negative(value: Option<i64>) -> u64 {
    value.and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
}

/// Decodes an inspect document.
pub fn decode_inspect(body: &[u8]) -> Result<Inspect, DocError> {
    let Object(doc): Object<InspectDoc<'_>> = from_slice(body)?;
    let id_text = doc.id.ok_or(DocError::MissingId)?;
    let id = ContainerId::parse(id_text.as_str()).map_err(|_| DocError::BadId)?;
    let name = doc.name.map_or_else(String::new, |name| {
        bounded_string(name.as_str().trim_start_matches('/'), NAME_MAX)
    });
    let hostname = doc
        .config
        .and_then(|Object(config)| config.hostname)
        .map_or_else(String::new, |hostname| {
            bounded_string(hostname.as_str(), NAME_MAX)
        });

    let (state, pid) = match doc.state {
        Some(Object(StateDoc { status, pid })) => {
            let status = status.map_or(ContainerState::Unknown, |s| {
                ContainerState::from_status(s.as_str())
            });
            let pid = match pid.unwrap_or(0) {
                pid if pid < 0 => return Err(DocError::NegativePid),
                pid if pid > PID_MAX => return Err(DocError::PidOutOfRange),
                pid => u32::try_from(pid).map_err(|_| DocError::PidOutOfRange)?,
            };
            (status, pid)
        }
        None => (ContainerState::Unknown, 0),
    };

    let mut inspect = Inspect {
        id,
        name,
        hostname,
        state,
        pid,
        memory_limit: 0,
        nano_cpus: 0,
        cpu_quota: 0,
        cpu_period: 0,
        cpuset_cpus: String::new(),
    };
    if let Some(Object(host)) = doc.host_config {
        inspect.memory_limit = non_negative(host.memory);
        inspect.nano_cpus = non_negative(host.nano_cpus);
        inspect.cpu_quota = host.cpu_quota.unwrap_or(0);
        inspect.cpu_period = non_negative(host.cpu_period);
        if let Some(cpuset) = host.cpuset_cpus {
            if cpuset.as_str().len() > CPUSET_MAX {
                return Err(DocError::TooLong);
            }
            inspect.cpuset_cpus = cpuset.as_str().to_owned();
        }
    }
    Ok(inspect)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef";

    /// A Docker 20.10-shaped inspect document, with `state`, `pid` and `host` spliced in.
    fn docker_doc(state: &str, pid: &str, host: &str) -> String {
        format!(
            r#"{{"Id":"{ID}","Created":"2021-08-21T19:38:14.123456789Z","Path":"nginx","Args":["-g","daemon off;"],"State":{{"Status":"{state}","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":{pid},"ExitCode":0,"Error":"","StartedAt":"2021-08-21T19:38:15.461876391Z","FinishedAt":"0001-01-01T00:00:00Z"}},"Image":"sha256:dd34e67e3371dc2d1328790c3157ee42dfcae74afffd86b297459ed87a98c0fb","ResolvConfPath":"/var/lib/docker/containers/{ID}/resolv.conf","HostnamePath":"/var/lib/docker/containers/{ID}/hostname","LogPath":"","Name":"/web","RestartCount":0,"Driver":"overlay2","Platform":"linux","MountLabel":"","ProcessLabel":"","AppArmorProfile":"docker-default","ExecIDs":null,"HostConfig":{{"Binds":null,"NetworkMode":"default","PortBindings":{{}},"RestartPolicy":{{"Name":"no","MaximumRetryCount":0}},"CgroupParent":"",{host},"CpuShares":0,"MemoryReservation":0,"MemorySwap":-1,"PidsLimit":null,"Ulimits":null,"CpuCount":0}},"GraphDriver":{{"Data":{{"MergedDir":"/var/lib/docker/overlay2/x/merged"}},"Name":"overlay2"}},"Mounts":[],"Config":{{"Hostname":"7cdf88083368","Domainname":"","User":"","Env":["PATH=/usr/local/sbin:/usr/local/bin","NGINX_VERSION=1.21.1"],"Cmd":["nginx","-g","daemon off;"],"Image":"nginx","Labels":{{"maintainer":"NGINX Docker Maintainers"}},"StopSignal":"SIGQUIT"}},"NetworkSettings":{{"Bridge":"","Networks":{{"bridge":{{"IPAddress":"172.17.0.2","MacAddress":"02:42:ac:11:00:02"}}}}}}}}"#
        )
    }

    const LIMITS: &str =
        r#""Memory":268435456,"NanoCpus":1500000000,"CpuPeriod":0,"CpuQuota":0,"CpusetCpus":"0-1""#;

    #[test]
    fn docker_running_container() {
        let inspect = decode_inspect(docker_doc("running", "4242", LIMITS).as_bytes()).unwrap();
        assert_eq!(
            inspect,
            Inspect {
                id: ContainerId::parse(ID).unwrap(),
                name: "web".into(),
                hostname: "7cdf88083368".into(),
                state: ContainerState::Running,
                pid: 4242,
                memory_limit: 268_435_456,
                nano_cpus: 1_500_000_000,
                cpu_quota: 0,
                cpu_period: 0,
                cpuset_cpus: "0-1".into(),
            }
        );
    }

    #[test]
    fn docker_quota_and_unlimited_values() {
        let host = r#""Memory":-1,"NanoCpus":-5,"CpuPeriod":50000,"CpuQuota":-1,"CpusetCpus":"""#;
        let inspect = decode_inspect(docker_doc("paused", "17", host).as_bytes()).unwrap();
        assert_eq!(inspect.state, ContainerState::Paused);
        assert_eq!((inspect.memory_limit, inspect.nano_cpus), (0, 0));
        assert_eq!((inspect.cpu_quota, inspect.cpu_period), (-1, 50_000));
        assert_eq!(inspect.cpuset_cpus, "");
    }

    #[test]
    fn exited_container_has_pid_zero() {
        let inspect = decode_inspect(docker_doc("exited", "0", LIMITS).as_bytes()).unwrap();
        assert_eq!((inspect.state, inspect.pid), (ContainerState::Exited, 0));
        let inspect = decode_inspect(docker_doc("what", "null", LIMITS).as_bytes()).unwrap();
        assert_eq!((inspect.state, inspect.pid), (ContainerState::Unknown, 0));
    }

    #[test]
    fn podman_4_3_inspect() {
        let body = format!(
            r#"{{"Id":"{ID}","Created":"2023-11-14T22:13:20.1Z","Path":"sleep","Args":["1000"],"State":{{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":31337,"ExitCode":0,"Error":"","StartedAt":"2023-11-14T22:13:20.5Z","FinishedAt":"0001-01-01T00:00:00Z","Health":{{"Status":"","FailingStreak":0,"Log":null}}}},"Image":"sha256:abc","Name":"pm1","RestartCount":0,"Driver":"overlay","Platform":"linux","HostConfig":{{"Memory":0,"NanoCpus":0,"CpuPeriod":0,"CpuQuota":0,"CpusetCpus":"","CgroupParent":"","Devices":[],"Ulimits":[{{"Name":"RLIMIT_NOFILE","Soft":1048576,"Hard":1048576}}]}},"Config":{{"Hostname":"7cdf88083368","Env":["container=podman"],"Labels":null,"Annotations":{{"io.container.manager":"libpod"}}}},"NetworkSettings":{{"Networks":{{"podman":{{}}}}}}}}"#
        );
        let inspect = decode_inspect(body.as_bytes()).unwrap();
        assert_eq!(inspect.name, "pm1");
        assert_eq!(
            (inspect.state, inspect.pid),
            (ContainerState::Running, 31337)
        );
        assert_eq!(inspect.memory_limit, 0);
    }

    #[test]
    fn missing_sections_take_defaults() {
        let body = format!(r#"{{"Id":"{ID}"}}"#);
        let inspect = decode_inspect(body.as_bytes()).unwrap();
        assert_eq!(inspect.name, "");
        assert_eq!(inspect.hostname, "");
        assert_eq!(
            (inspect.state, inspect.pid, inspect.memory_limit),
            (ContainerState::Unknown, 0, 0)
        );
        let body =
            format!(r#"{{"Id":"{ID}","State":null,"Config":null,"HostConfig":null,"Name":null}}"#);
        assert!(decode_inspect(body.as_bytes()).is_ok());
    }

    #[test]
    fn display_text_is_cut_and_cpusets_are_bounded() {
        let long = "x".repeat(NAME_MAX + 10);
        let body = format!(
            r#"{{"Id":"{ID}","Name":"/{long}","Config":{{"Hostname":"{long}"}},"HostConfig":{{"CpusetCpus":"{}"}}}}"#,
            "0,".repeat(CPUSET_MAX / 2)
        );
        let inspect = decode_inspect(body.as_bytes()).unwrap();
        assert_eq!(
            (inspect.name.len(), inspect.hostname.len()),
            (NAME_MAX, NAME_MAX)
        );
        assert_eq!(inspect.cpuset_cpus.len(), CPUSET_MAX);
        let body = format!(
            r#"{{"Id":"{ID}","HostConfig":{{"CpusetCpus":"{}"}}}}"#,
            "0".repeat(CPUSET_MAX + 1)
        );
        assert_eq!(decode_inspect(body.as_bytes()), Err(DocError::TooLong));
    }

    #[test]
    fn hostile_documents_are_errors() {
        let cases: Vec<(String, DocError)> = vec![
            (String::new(), DocError::Truncated),
            ("[]".into(), DocError::WrongType),
            ("{}".into(), DocError::MissingId),
            (r#"{"Id":null}"#.into(), DocError::MissingId),
            (r#"{"Id":7}"#.into(), DocError::WrongType),
            (format!(r#"{{"Id":"{}"}}"#, &ID[..63]), DocError::BadId),
            (format!(r#"{{"Id":"{}"}}"#, "g".repeat(64)), DocError::BadId),
            (docker_doc("running", "-1", LIMITS), DocError::NegativePid),
            (
                docker_doc("running", "4194305", LIMITS),
                DocError::PidOutOfRange,
            ),
            (
                docker_doc("running", "9223372036854775807", LIMITS),
                DocError::PidOutOfRange,
            ),
            (
                docker_doc("running", "99999999999999999999", LIMITS),
                DocError::WrongType,
            ),
            (docker_doc("running", "12.5", LIMITS), DocError::WrongType),
            (docker_doc("running", "\"12\"", LIMITS), DocError::WrongType),
            (docker_doc("running", "1e999", LIMITS), DocError::Syntax),
            (
                docker_doc("running", "1", r#""Memory":18446744073709551616"#),
                DocError::WrongType,
            ),
            (
                docker_doc("running", "1", r#""Memory":"1g""#),
                DocError::WrongType,
            ),
            (
                docker_doc("running", "1", r#""CpusetCpus":[0,1]"#),
                DocError::WrongType,
            ),
            (
                format!(r#"{{"Id":"{ID}","State":"running"}}"#),
                DocError::WrongType,
            ),
            (
                format!(r#"{{"Id":"{ID}","State":["running",1]}}"#),
                DocError::WrongType,
            ),
            (format!(r#"["{ID}"]"#), DocError::WrongType),
            (
                format!(r#"{{"Id":"{ID}","Config":{{"Hostname":false}}}}"#),
                DocError::WrongType,
            ),
            (
                format!(r#"{{"Id":"{ID}","Name":"\udc00"}}"#),
                DocError::Syntax,
            ),
            (format!(r#"{{"Id":"{ID}"}}x"#), DocError::Syntax),
            (
                format!(r#"{{"Id":"{ID}","Id":"{ID}"}}"#),
                DocError::WrongType,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(decode_inspect(body.as_bytes()), Err(expected), "{body}");
        }
    }

    #[test]
    fn deep_nesting_never_overflows() {
        let depth = 200_000;
        let junk = format!("{}{}", "{\"a\":[".repeat(depth), "]}".repeat(depth));
        let body = format!(r#"{{"Id":"{ID}","GraphDriver":{junk},"Config":{{"Labels":{junk}}}}}"#);
        assert!(decode_inspect(body.as_bytes()).is_ok());
        // Unknown keys inside a section are skipped however deep they go.
        let body = format!(r#"{{"Id":"{ID}","State":{junk}}}"#);
        assert_eq!(
            decode_inspect(body.as_bytes()).unwrap().state,
            ContainerState::Unknown
        );
        let body = format!(r#"{{"Id":"{ID}","State":{{"Status":{junk}}}}}"#);
        assert_eq!(decode_inspect(body.as_bytes()), Err(DocError::WrongType));
        let body = "[".repeat(depth);
        assert!(decode_inspect(body.as_bytes()).is_err());
    }
}
