//! A Kubernetes-like pod on a real, private containerd: a sandbox task and two containers that
//! join its network namespace, with the CRI annotations and a `kubepods` cgroup path, as the CRI
//! plugin would make them. Under `containerd { }` each container is reported (the sandbox is not);
//! under `k8s { }` the pod is, with the counters of the pod's cgroup; with `mib2.containers = on`
//! the pod and its containers share one `net/snmp` read and descriptor.
//!
//! Under CI this test fails when containerd cannot start; elsewhere it skips, saying so.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::containerd::{v1_dir, Containerd, Task};
use support::containers::ds_index_of;
use support::sflow::{walk, Collector};

const CRI: &str = "io.kubernetes.cri";

/// What was last received of each container data source: (hostname, state, cpu_time_ms).
fn collect(collector: &Collector, span: Duration) -> HashMap<u32, (String, u32, u32)> {
    let mut seen = HashMap::new();
    let deadline = Instant::now() + span;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Some(d) = collector.recv(left) else { break };
        for s in walk(&d).1 {
            if s.class != 3 {
                continue;
            }
            let descr = s.record(2000).expect("host_descr");
            let len = u32::from_be_bytes(descr[0..4].try_into().unwrap()) as usize;
            let name = String::from_utf8_lossy(&descr[4..4 + len]).into_owned();
            let cpu = s.record(2101).expect("virt_cpu");
            let state = u32::from_be_bytes(cpu[0..4].try_into().unwrap());
            let ms = u32::from_be_bytes(cpu[4..8].try_into().unwrap());
            seen.insert(s.index, (name, state, ms));
        }
    }
    seen
}

struct Pod {
    uid: String,
    sandbox: Task,
    app: Task,
    sidecar: Task,
}

/// A CRI-like id: 64 hex digits, whose first 32 (the UUID, which the data source index hashes)
/// differ from one tag to the next.
fn hex_id(tag: u64) -> String {
    let spread = tag.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(std::process::id());
    format!("{spread:016x}{:048x}", tag)
}

fn start_pod(ctrd: &Containerd) -> Pod {
    let uid = format!("csf{}", std::process::id());
    let pod_cgroup = format!("/kubepods/besteffort/pod{uid}");
    ctrd.extra_cgroups.borrow_mut().push(pod_cgroup.clone());
    let annotations = |kind: &str, name: &str| {
        vec![
            format!("{CRI}.container-type={kind}"),
            format!("{CRI}.container-name={name}"),
            format!("{CRI}.sandbox-name=web"),
            format!("{CRI}.sandbox-namespace=shop"),
        ]
    };
    let run = |id: &str, kind: &str, name: &str, extra: &[String], cmd: &[&str]| {
        let mut flags = vec!["--cgroup".to_string(), format!("{pod_cgroup}/{id}")];
        for a in annotations(kind, name) {
            flags.push("--annotation".into());
            flags.push(a);
        }
        flags.extend_from_slice(extra);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        ctrd.run(id, &flags, cmd)
    };
    let sandbox = run(&hex_id(1), "sandbox", "POD", &[], &["sleep", "300"]);
    let netns = vec![
        "--with-ns".to_string(),
        format!("network:/proc/{}/ns/net", sandbox.pid),
    ];
    let app = run(
        &hex_id(2),
        "container",
        "app",
        &netns,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 300",
        ],
    );
    let sidecar = run(
        &hex_id(3),
        "container",
        "sidecar",
        &netns,
        &["sleep", "300"],
    );
    Pod {
        uid,
        sandbox,
        app,
        sidecar,
    }
}

#[test]
fn a_pod_is_reported_per_container_and_per_pod() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let pod = start_pod(&ctrd);
    // The containers share the sandbox's network namespace.
    let ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(ns(pod.app.pid), ns(pod.sandbox.pid));
    assert_eq!(ns(pod.sidecar.pid), ns(pod.sandbox.pid));
    let pod_index = ds_index_of(&pod.sandbox.id);
    let app_index = ds_index_of(&pod.app.id);
    let sidecar_index = ds_index_of(&pod.sidecar.id);

    // containerd { } alone: the two containers, not the sandbox.
    let collector = Collector::bind();
    let state = ctrd.state.display().to_string();
    let config = config_for(
        collector.addr(),
        &format!("  containerd {{ state = {state} }}"),
    );
    let agent = Agent::start("k8s-containers", &config, &[]);
    let seen = collect(&collector, Duration::from_millis(3500));
    drop(agent);
    assert_eq!(
        seen.get(&app_index).map(|s| s.0.as_str()),
        Some("k8s_app_web_shop_u_a"),
        "{seen:?}"
    );
    assert_eq!(
        seen.get(&sidecar_index).map(|s| s.0.as_str()),
        Some("k8s_sidecar_web_shop_u_a")
    );
    assert!(
        !seen.contains_key(&pod_index),
        "the sandbox is not a container"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");

    // Wait until the app's loop is over: the pod's cgroup's usage stands still.
    let usage =
        v1_dir("cpuacct", &format!("/kubepods/besteffort/pod{}", pod.uid)).join("cpuacct.usage");
    let mut last = support::read_u64(&usage);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = support::read_u64(&usage);
        if now == last {
            break;
        }
        assert!(Instant::now() < deadline, "the pod still burns CPU");
        last = now;
    }

    // k8s { } too: the pod as well, with its cgroup's counters (all its containers').
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  containerd {{ state = {state} }}\n  k8s {{ }}"),
    );
    let agent = Agent::start("k8s-pods", &config, &[]);
    let seen = collect(&collector, Duration::from_millis(3500));
    let (name, state_code, cpu_ms) = seen
        .get(&pod_index)
        .cloned()
        .unwrap_or_else(|| panic!("no pod sample: {seen:?}\n{}", agent.stderr()));
    assert_eq!(name, "k8s__web_shop_u_a");
    assert_eq!(state_code, 1);
    assert_eq!(
        u64::from(cpu_ms),
        support::read_u64(&usage) / 1_000_000,
        "pod cpu_time"
    );
    let app_ms = support::read_u64(
        &v1_dir(
            "cpuacct",
            &format!("/kubepods/besteffort/pod{}/{}", pod.uid, pod.app.id),
        )
        .join("cpuacct.usage"),
    ) / 1_000_000;
    assert!(u64::from(cpu_ms) >= app_ms, "the pod counts its containers");
    assert_eq!(seen.len(), 3, "{seen:?}");

    // mib2.containers = on: the pod and its two containers are in one network namespace, read
    // through one descriptor, and carry the same MIB-II groups.
    drop(agent);
    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  containerd {{ state = {state} }}\n  k8s {{ }}\n  mib2.containers = on"),
    );
    let agent = Agent::start("k8s-mib2", &config, &[]);
    let mut groups: HashMap<u32, Vec<Vec<u8>>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_millis(3500);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Some(d) = collector.recv(left) else { break };
        for s in walk(&d).1 {
            if s.class == 3 {
                let g: Vec<Vec<u8>> = (2007..=2010)
                    .map(|t| s.record(t).expect("MIB-II group").to_vec())
                    .collect();
                groups.insert(s.index, g);
            }
        }
    }
    assert_eq!(groups.len(), 3, "{:?}", groups.keys());
    assert_eq!(groups[&app_index], groups[&pod_index], "app and pod");
    assert_eq!(
        groups[&sidecar_index], groups[&pod_index],
        "sidecar and pod"
    );
    let snmp_descriptors = std::fs::read_dir(format!("/proc/{}/fd", agent.pid()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .filter(|l| l.ends_with("net/snmp"))
        .collect::<Vec<_>>();
    // The host's own /proc/net/snmp (the agent's namespace) and the pod's.
    let own = std::path::PathBuf::from(format!("/proc/{}/net/snmp", agent.pid()));
    assert_eq!(
        snmp_descriptors.iter().filter(|l| **l != own).count(),
        1,
        "one net/snmp for the pod's namespace: {snmp_descriptors:?}"
    );

    // k8s { } alone: the pod only.
    drop(agent);
    let collector = Collector::bind();
    let config = config_for(collector.addr(), &format!("  k8s {{ state = {state} }}"));
    let agent = Agent::start("k8s-only", &config, &[]);
    let seen = collect(&collector, Duration::from_millis(3500));
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        [pod_index],
        "{seen:?}\n{}",
        agent.stderr()
    );

    // The pod ends with its sandbox: one final sample.
    ctrd.kill(&pod.sandbox);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut finals = 0;
    while Instant::now() < deadline {
        let Some(d) = collector.recv(Duration::from_millis(200)) else {
            continue;
        };
        for s in walk(&d).1 {
            if (s.class, s.index) == (3, pod_index) {
                let cpu = s.record(2101).unwrap();
                if u32::from_be_bytes(cpu[0..4].try_into().unwrap()) == 4 {
                    finals += 1;
                }
            }
        }
    }
    assert_eq!(finals, 1);
}
