//! Smoke tests of the test harness itself: a private Docker and a private Podman start, run a
//! container in the expected cgroup, and clean up. Also home of the ignored recorder of the
//! fixtures in tests/fixtures/recorded/.

mod support;

use support::Engine;

/// Runs `sleep 30` and checks that its process sits in the engine's cgroup for it; then tears the
/// engine down (the container still running), reporting how long that took.
fn container_lands_in_its_cgroup(engine: Engine) {
    eprintln!(
        "{} {}: ready in {:?} after spawn, busybox image imported in {:?} ({})",
        engine.kind().name(),
        engine.server_version(),
        engine.startup_time(),
        engine.import_time(),
        engine.dir().display()
    );
    let id = engine.run(&[], &["sleep", "30"]);
    let pid = engine.inspect_pid(&id);
    assert_ne!(pid, 0, "container {id} has no pid");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let expected = engine.cgroup_path(&id);
    // Lines are `hierarchy-id:controllers:path`; v1 has one per hierarchy, v2 just `0::path`.
    assert!(
        cgroups
            .lines()
            .any(|line| line.splitn(3, ':').nth(2) == Some(expected.as_str())),
        "no cgroup line with {expected} in /proc/{pid}/cgroup:\n{cgroups}"
    );
    let name = engine.kind().name();
    let began = std::time::Instant::now();
    drop(engine);
    eprintln!("{name}: torn down in {:?}", began.elapsed());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container process {pid} outlived its engine"
    );
}

#[test]
fn docker_container_lands_in_its_cgroup() {
    let Some(docker) = support::docker() else {
        return;
    };
    container_lands_in_its_cgroup(docker);
}

#[test]
fn podman_container_lands_in_its_cgroup() {
    let Some(podman) = support::podman() else {
        return;
    };
    container_lands_in_its_cgroup(podman);
}

/// Rewrites tests/fixtures/recorded/ from both engines:
/// `cargo test --test engine_smoke -- --ignored record_engine_http`.
#[test]
#[ignore = "rewrites the committed recordings; run by hand"]
fn record_engine_http() {
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded");
    std::fs::create_dir_all(&out).unwrap();
    let docker = support::docker().expect("recording needs Docker");
    let podman = support::podman().expect("recording needs Podman");
    let docker_files = support::record::record_engine(&docker, &out);
    let podman_files = support::record::record_engine(&podman, &out);
    let readme = support::record::readme(&[(&docker, docker_files), (&podman, podman_files)]);
    std::fs::write(out.join("README.md"), readme).unwrap();
}
