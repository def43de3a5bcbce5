//! What one task's bundle says, decoded and validated: `init.pid`, the few fields of `config.json`
//! (the OCI spec) the agent needs, the task's container id and the name it is reported under.
//!
//! Everything here comes from files other programs write: sizes are bounded by the caller
//! ([`CONFIG_MAX`], [`PID_MAX_BYTES`]), names are cut to [`NAME_MAX`] bytes and control characters
//! replaced, and nothing panics.

use serde::Deserialize;

use crate::container::{truncate_utf8, ContainerId, NAME_MAX};

use super::sha256::sha256;

/// Largest `config.json` read (bytes). containerd's are 3 to 30 KiB; a larger one is refused.
pub const CONFIG_MAX: usize = 1 << 20;
/// Largest `init.pid` read (bytes): a decimal pid and some white space.
pub const PID_MAX_BYTES: usize = 32;

/// The annotation that tells a Kubernetes sandbox (pause) task from a container.
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// The container id of task `id` in containerd namespace `ns`: the id itself when it is 64
/// lower-case hex digits (CRI and Docker ids, so a task keeps the id its cgroup and its runtime
/// show), else the SHA-256 of `<ns>/<id>` (a `ctr run` name such as `web1`; the namespace is part
/// of it because two namespaces may hold tasks of the same name).
pub fn task_id(ns: &str, id: &str) -> ContainerId {
    if let Ok(cid) = ContainerId::parse(id) {
        return cid;
    }
    let mut text = Vec::with_capacity(ns.len() + 1 + id.len());
    text.extend_from_slice(ns.as_bytes());
    text.push(b'/');
    text.extend_from_slice(id.as_bytes());
    ContainerId::from_bytes(sha256(&text))
}

/// Why an `init.pid` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidError {
    /// Not a decimal number between 1 and 2^22 (the kernel's largest pid).
    Garbage,
}

/// The pid in an `init.pid`: `Ok(None)` when the file is still empty (being written).
pub fn parse_init_pid(bytes: &[u8]) -> Result<Option<u32>, PidError> {
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > 7 || !text.iter().all(u8::is_ascii_digit) {
        return Err(PidError::Garbage);
    }
    let pid = text.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    if pid == 0 || pid > 1 << 22 {
        return Err(PidError::Garbage);
    }
    Ok(Some(pid))
}

#[derive(Deserialize, Default)]
struct RawSpec {
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    linux: Option<RawLinux>,
    #[serde(default)]
    annotations: Option<RawAnnotations>,
}

#[derive(Deserialize, Default)]
struct RawLinux {
    #[serde(default, rename = "cgroupsPath")]
    cgroups_path: Option<String>,
}

/// Only the annotations read; the others are skipped by the decoder without being kept.
#[derive(Deserialize, Default)]
struct RawAnnotations {
    #[serde(default, rename = "io.kubernetes.cri.container-type")]
    container_type: Option<String>,
    #[serde(default, rename = "io.kubernetes.cri.container-name")]
    container_name: Option<String>,
    #[serde(default, rename = "io.kubernetes.cri.sandbox-name")]
    sandbox_name: Option<String>,
    #[serde(default, rename = "io.kubernetes.cri.sandbox-namespace")]
    sandbox_namespace: Option<String>,
    #[serde(default, rename = "io.kubernetes.cri.sandbox-id")]
    sandbox_id: Option<String>,
}

/// Why a `config.json` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecError {
    /// Longer than [`CONFIG_MAX`].
    TooBig,
    /// Not JSON, truncated, or not the shape of an OCI spec.
    NotASpec,
}

impl SpecError {
    /// A static description.
    pub const fn message(self) -> &'static str {
        match self {
            SpecError::TooBig => "config.json is larger than 1 MiB",
            SpecError::NotASpec => "config.json is not an OCI spec (truncated or not JSON)",
        }
    }
}

/// What the agent takes from a task's OCI spec, validated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    /// `hostname`, cleaned.
    pub hostname: String,
    /// `linux.cgroupsPath`, as written (empty when absent).
    pub cgroups_path: String,
    /// `io.kubernetes.cri.container-type`.
    pub container_type: String,
    /// `io.kubernetes.cri.container-name`.
    pub container_name: String,
    /// `io.kubernetes.cri.sandbox-name`.
    pub sandbox_name: String,
    /// `io.kubernetes.cri.sandbox-namespace`.
    pub sandbox_namespace: String,
    /// `io.kubernetes.cri.sandbox-id`.
    pub sandbox_id: String,
}

impl Spec {
    /// Decodes a `config.json`'s bytes (at most [`CONFIG_MAX`]).
    pub fn parse(bytes: &[u8]) -> Result<Spec, SpecError> {
        if bytes.len() > CONFIG_MAX {
            return Err(SpecError::TooBig);
        }
        // An object: serde would also take a struct from an array of its fields.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(SpecError::NotASpec);
        }
        let raw: RawSpec = serde_json::from_slice(bytes).map_err(|_| SpecError::NotASpec)?;
        let a = raw.annotations.unwrap_or_default();
        let path = raw.linux.and_then(|l| l.cgroups_path).unwrap_or_default();
        Ok(Spec {
            hostname: clean(raw.hostname.as_deref().unwrap_or("")),
            // A path is kept whole or not at all: it is compared, never shown.
            cgroups_path: if path.len() <= 4096 && !path.contains('\0') {
                path
            } else {
                String::new()
            },
            container_type: clean(a.container_type.as_deref().unwrap_or("")),
            container_name: clean(a.container_name.as_deref().unwrap_or("")),
            sandbox_name: clean(a.sandbox_name.as_deref().unwrap_or("")),
            sandbox_namespace: clean(a.sandbox_namespace.as_deref().unwrap_or("")),
            sandbox_id: clean(a.sandbox_id.as_deref().unwrap_or("")),
        })
    }

    /// A Kubernetes sandbox (pause) task: not reported as a container.
    pub fn is_sandbox(&self) -> bool {
        self.container_type == "sandbox"
    }

    /// The name the reference agent's containerd module reports a task under:
    /// `k8s_<container>_<pod>_<namespace>_u_a`, where `<container>` is the CRI container name
    /// (else the task id), `<pod>` the sandbox name (else the spec's hostname), `<namespace>` the
    /// sandbox namespace (else the containerd namespace); the container part is left empty when
    /// it repeats the pod's name. Cut to [`NAME_MAX`] bytes.
    pub fn container_name(&self, ns: &str, task: &str) -> String {
        let container = if self.container_name.is_empty() {
            task
        } else {
            &self.container_name
        };
        let pod = if self.sandbox_name.is_empty() {
            &self.hostname
        } else {
            &self.sandbox_name
        };
        let container = if container == pod { "" } else { container };
        let namespace = if self.sandbox_namespace.is_empty() {
            ns
        } else {
            &self.sandbox_namespace
        };
        clean(&format!("k8s_{container}_{pod}_{namespace}_u_a"))
    }

    /// The name the reference agent's k8s module reports a pod under: `k8s__<pod>_<namespace>_u_a`
    /// (`<pod>` the sandbox name, else the hostname; `<namespace>` as for a container).
    pub fn pod_name(&self, ns: &str) -> String {
        let pod = if self.sandbox_name.is_empty() {
            &self.hostname
        } else {
            &self.sandbox_name
        };
        let namespace = if self.sandbox_namespace.is_empty() {
            ns
        } else {
            &self.sandbox_namespace
        };
        clean(&format!("k8s__{pod}_{namespace}_u_a"))
    }
}

/// `text` cut to [`NAME_MAX`] bytes, control characters replaced by `?`.
pub fn clean(text: &str) -> String {
    let cut = truncate_utf8(text, NAME_MAX);
    cut.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Whether a `/proc/<pid>/cgroup` text puts the process in the cgroup `cgroups_path` names: the
/// cgroupfs form (`/ns/id`, `/kubepods/besteffort/pod<uid>/<id>`) is a path some line holds, or a
/// sub-cgroup of it; the systemd form (`slice:prefix:name`) is `.../prefix-name.scope`. An empty
/// path (the runtime's default) is not checked.
pub fn in_cgroup(proc_cgroup: &[u8], cgroups_path: &str) -> bool {
    if cgroups_path.is_empty() {
        return true;
    }
    let wanted_scope;
    let (path, is_scope) = if cgroups_path.starts_with('/') {
        (cgroups_path.trim_end_matches('/'), false)
    } else {
        let mut parts = cgroups_path.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_slice), Some(prefix), Some(name)) => {
                wanted_scope = if prefix.is_empty() {
                    format!("/{name}.scope")
                } else {
                    format!("/{prefix}-{name}.scope")
                };
                (wanted_scope.as_str(), true)
            }
            _ => return false,
        }
    };
    proc_cgroup.split(|&b| b == b'\n').any(|line| {
        let mut fields = line.splitn(3, |&b| b == b':');
        let (Some(_), Some(_), Some(p)) = (fields.next(), fields.next(), fields.next()) else {
            return false;
        };
        let p = p.strip_suffix(b" (deleted)").unwrap_or(p);
        if is_scope {
            // Ends with the scope, or holds it as a directory (a sub-cgroup of it).
            p.ends_with(path.as_bytes())
                || p.windows(path.len() + 1)
                    .any(|w| w.starts_with(path.as_bytes()) && w.last() == Some(&b'/'))
        } else {
            p == path.as_bytes()
                || (p.starts_with(path.as_bytes()) && p.get(path.len()) == Some(&b'/'))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRI: &str = r#"{"ociVersion":"1.0.2","hostname":"web-7d9",
        "process":{"args":["nginx"]},
        "linux":{"cgroupsPath":"/kubepods/besteffort/pod1234/0123","namespaces":[]},
        "annotations":{"io.kubernetes.cri.container-type":"container",
            "io.kubernetes.cri.container-name":"nginx",
            "io.kubernetes.cri.sandbox-name":"web-7d9",
            "io.kubernetes.cri.sandbox-namespace":"shop",
            "io.kubernetes.cri.sandbox-id":"abcd",
            "other":"x"}}"#;

    /// `printf default/web1 | sha256sum`
    const SHA_DEFAULT_WEB1: &str =
        "84e4c3cf014b34ef11bcbcb516f86d8098428b38d0d2b5de370e8e12306f8808";

    #[test]
    fn ids_are_kept_when_hex_and_hashed_otherwise() {
        let hex = "7cdf880833688538ce27ba6b98501fce0123456789abcdef0123456789abcdef";
        assert_eq!(task_id("k8s.io", hex).to_string(), hex);
        assert_eq!(task_id("moby", hex).to_string(), hex);
        let a = task_id("default", "web1");
        assert_eq!(a, task_id("default", "web1"));
        assert_ne!(a, task_id("other", "web1"));
        assert_ne!(a, task_id("default", "web2"));
        // sha256("default/web1")
        assert_eq!(a.to_string(), SHA_DEFAULT_WEB1);
        // Upper-case hex is not an id: hashed.
        assert_ne!(task_id("k8s.io", &hex.to_uppercase()).to_string(), hex);
    }

    #[test]
    fn init_pids() {
        assert_eq!(parse_init_pid(b"21984"), Ok(Some(21984)));
        assert_eq!(parse_init_pid(b"42\n"), Ok(Some(42)));
        assert_eq!(parse_init_pid(b""), Ok(None));
        assert_eq!(parse_init_pid(b"  \n"), Ok(None));
        for bad in [
            &b"0"[..],
            b"-1",
            b"12a",
            b"99999999",
            b"4194305",
            b"\xff\xfe",
            b"1 2",
        ] {
            assert_eq!(parse_init_pid(bad), Err(PidError::Garbage), "{bad:?}");
        }
        assert_eq!(parse_init_pid(b"4194304"), Ok(Some(4_194_304)));
    }

    #[test]
    fn a_cri_spec_and_its_names() {
        let s = Spec::parse(CRI.as_bytes()).unwrap();
        assert_eq!(s.hostname, "web-7d9");
        assert_eq!(s.cgroups_path, "/kubepods/besteffort/pod1234/0123");
        assert!(!s.is_sandbox());
        assert_eq!(
            s.container_name("k8s.io", "0123"),
            "k8s_nginx_web-7d9_shop_u_a"
        );
        assert_eq!(s.pod_name("k8s.io"), "k8s__web-7d9_shop_u_a");
        let sandbox = CRI.replace(r#"type":"container""#, r#"type":"sandbox""#);
        assert!(Spec::parse(sandbox.as_bytes()).unwrap().is_sandbox());
        // The container part is dropped when it repeats the pod's name.
        let same = CRI.replace(r#"name":"nginx""#, r#"name":"web-7d9""#);
        let s = Spec::parse(same.as_bytes()).unwrap();
        assert_eq!(s.container_name("k8s.io", "0123"), "k8s__web-7d9_shop_u_a");
    }

    #[test]
    fn a_plain_ctr_spec_is_named_by_task_and_namespace() {
        let s =
            Spec::parse(br#"{"ociVersion":"1.0.2","linux":{"cgroupsPath":"/probe/t1"}}"#).unwrap();
        assert_eq!(s.container_name("probe", "t1"), "k8s_t1__probe_u_a");
        let s = Spec::parse(br#"{"hostname":"box"}"#).unwrap();
        assert_eq!(s.cgroups_path, "");
        assert_eq!(s.container_name("ns", "t1"), "k8s_t1_box_ns_u_a");
    }

    #[test]
    fn bad_specs_are_refused() {
        assert_eq!(Spec::parse(b""), Err(SpecError::NotASpec));
        assert_eq!(
            Spec::parse(&CRI.as_bytes()[..100]),
            Err(SpecError::NotASpec)
        );
        assert_eq!(Spec::parse(b"not json"), Err(SpecError::NotASpec));
        assert_eq!(Spec::parse(b"[1,2]"), Err(SpecError::NotASpec));
        assert_eq!(Spec::parse(b"[]"), Err(SpecError::NotASpec));
        assert_eq!(Spec::parse(b" {} "), Ok(Spec::default()));
        assert_eq!(Spec::parse(br#"{"hostname":5}"#), Err(SpecError::NotASpec));
        assert_eq!(
            Spec::parse(br#"{"annotations":{"io.kubernetes.cri.container-name":{"a":1}}}"#),
            Err(SpecError::NotASpec)
        );
        let huge = vec![b' '; CONFIG_MAX + 1];
        assert_eq!(Spec::parse(&huge), Err(SpecError::TooBig));
    }

    #[test]
    fn names_are_bounded_and_cleaned() {
        let long = format!(r#"{{"hostname":"{}\u0007x"}}"#, "h".repeat(300));
        let s = Spec::parse(long.as_bytes()).unwrap();
        assert_eq!(s.hostname.len(), NAME_MAX);
        let s = Spec::parse(br#"{"hostname":"a\nb"}"#).unwrap();
        assert_eq!(s.hostname, "a?b");
        assert!(s.container_name("ns", &"t".repeat(400)).len() <= NAME_MAX);
    }

    #[test]
    fn cgroup_membership() {
        let v1 = b"9:name=systemd:/probe/t1\n4:memory:/probe/t1\n0::/probe/t1\n";
        assert!(in_cgroup(v1, "/probe/t1"));
        assert!(in_cgroup(v1, "/probe/t1/"));
        assert!(!in_cgroup(v1, "/probe/t"));
        assert!(!in_cgroup(v1, "/probe/t10"));
        assert!(!in_cgroup(v1, "/other/t1"));
        assert!(in_cgroup(v1, ""));
        assert!(in_cgroup(b"0::/probe/t1/sub\n", "/probe/t1"));
        assert!(in_cgroup(b"4:memory:/probe/t1 (deleted)\n", "/probe/t1"));
        let systemd = b"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-abc.scope\n";
        assert!(in_cgroup(
            systemd,
            "kubepods-besteffort-pod12.slice:cri-containerd:abc"
        ));
        assert!(!in_cgroup(
            systemd,
            "kubepods-besteffort-pod12.slice:cri-containerd:ab"
        ));
        assert!(!in_cgroup(systemd, "nonsense"));
        assert!(!in_cgroup(b"garbage", "/probe/t1"));
        assert!(!in_cgroup(b"", "/probe/t1"));
    }
}
