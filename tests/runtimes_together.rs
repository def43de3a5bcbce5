//! Docker and containerd on one host: Docker's containers are also tasks of containerd's `moby`
//! namespace, and must be reported once, under the name Docker gives them. A private Docker runs
//! its containers on a private containerd (`dockerd --containerd SOCK`), which also runs a plain
//! `ctr` task. Also the embedded default (no configuration file), which tracks what it finds: the
//! same pair found that way is reported once too.
//!
//! Under CI these tests fail when an engine cannot start; elsewhere they skip, saying so.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::agent::{binary, config_for, temp_dir, Agent};
use support::containerd::task_container_id;
use support::containers::{ds_index_of, run, Watch, PROMPT};
use support::Engine;

fn docker_on(ctrd: &support::containerd::Containerd) -> Option<Engine> {
    match Engine::start_on_containerd(&ctrd.socket) {
        Ok(e) => Some(e),
        Err(reason) if support::in_ci() => panic!("CI: cannot start docker: {reason}"),
        Err(reason) => {
            support::containers::note(&format!(
                "SKIPPED: cannot start docker on containerd (not CI, so not failing): {reason}"
            ));
            None
        }
    }
}

#[test]
fn a_docker_container_that_is_also_a_containerd_task_is_reported_once() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let Some(docker) = docker_on(&ctrd) else {
        return;
    };
    let web = run(&docker, "web", &[], &["sleep", "300"]);
    assert!(
        ctrd.bundle("moby", &web.id).join("config.json").is_file(),
        "Docker's container is a task of containerd's moby namespace"
    );
    let plain = ctrd.run("plain", &[], &["sleep", "300"]);
    let mut watch = Watch::bind();
    let config = config_for(
        watch.addr(),
        &format!(
            "  docker {{ socket = {} }}\n  containerd {{ state = {} }}",
            docker.socket_path().display(),
            ctrd.state.display()
        ),
    );
    let agent = Agent::start("together", &config, &[]);
    let plain_index = ds_index_of(&task_container_id(&plain.ns, &plain.id));
    for index in [web.index, plain_index] {
        watch
            .wait(0, PROMPT, |s| s.is_of(index))
            .unwrap_or_else(|| panic!("no sample of 3:{index}\n{}", agent.stderr()));
    }
    watch.pump_for(Duration::from_millis(2500));
    let names: std::collections::BTreeSet<String> = watch
        .samples()
        .iter()
        .filter(|s| s.class == 3)
        .filter_map(|s| s.hostname.clone())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        ["web".to_string(), format!("k8s_plain__{}_u_a", plain.ns)].into();
    assert_eq!(names, expected, "{}", watch.recent(20));
    // One container data source each, and the host counts two containers.
    let host = watch
        .wait(0, PROMPT, |s| s.is_host())
        .expect("a host sample");
    assert_eq!(host.num_domains, Some(2));
}

#[test]
fn the_embedded_default_tracks_the_docker_socket_it_finds() {
    let Some(docker) = support::docker() else {
        return;
    };
    let web = run(&docker, "found", &[], &["sleep", "300"]);
    let mut watch = Watch::bind();
    let (got, log) = with_embedded_default(&docker, &mut watch, &[], |watch| {
        watch.wait(0, PROMPT, |s| s.is_of(web.index))
    });
    let sample = got.unwrap_or_else(|| panic!("no sample of the container\n{log}"));
    assert_eq!(sample.hostname.as_deref(), Some("found"));
    let line = format!(
        "no configuration file: tracking Docker ({})",
        docker.socket_path().display()
    );
    assert_eq!(log.matches(&line).count(), 1, "{log}");
}

/// The agent with no configuration file (`--etc-root` an empty directory), `DOCKER_HOST` naming
/// `docker`'s socket, plus `args`; its stderr, after `until` returned, and what `until` returned.
fn with_embedded_default<T>(
    docker: &Engine,
    watch: &mut Watch,
    args: &[&std::ffi::OsStr],
    until: impl FnOnce(&mut Watch) -> T,
) -> (T, String) {
    let etc = temp_dir("no-config");
    let stderr_path = etc.join("stderr.log");
    let mut child = Command::new(binary())
        .args(["-d", "--polling", "1", "--etc-root"])
        .arg(&etc)
        .arg("--collector")
        .arg(watch.addr().to_string())
        .args(args)
        .env(
            "DOCKER_HOST",
            format!("unix://{}", docker.socket_path().display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let got = until(watch);
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&etc);
    (got, log)
}

#[test]
fn the_embedded_default_with_docker_and_containerd_reports_each_container_once() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let Some(docker) = docker_on(&ctrd) else {
        return;
    };
    let web = run(&docker, "web", &[], &["sleep", "300"]);
    let plain = ctrd.run("plain", &[], &["sleep", "300"]);
    let plain_index = ds_index_of(&task_container_id(&plain.ns, &plain.id));
    let mut watch = Watch::bind();
    let state = ctrd.state.clone().into_os_string();
    let flag = std::ffi::OsStr::new("--containerd-state");
    let (host, log) = with_embedded_default(&docker, &mut watch, &[flag, &state], |watch| {
        for index in [web.index, plain_index] {
            watch.wait(0, PROMPT, |s| s.is_of(index))?;
        }
        watch.pump_for(Duration::from_millis(2500));
        let mark = watch.mark();
        watch.wait(mark, PROMPT, |s| s.is_host())
    });
    let host = host.unwrap_or_else(|| panic!("no sample of both containers\n{log}"));
    let line = format!(
        "no configuration file: tracking Docker ({}) and containerd ({})",
        docker.socket_path().display(),
        ctrd.state.display()
    );
    assert_eq!(log.matches(&line).count(), 1, "{log}");
    assert_eq!(
        log.matches("no configuration file: tracking").count(),
        1,
        "{log}"
    );
    // Each container is one data source, under one name: Docker's for Docker's container.
    let sources: std::collections::BTreeMap<u32, std::collections::BTreeSet<String>> = watch
        .samples()
        .iter()
        .filter(|s| s.class == 3)
        .fold(Default::default(), |mut m, s| {
            let name = s.hostname.clone().unwrap_or_default();
            m.entry(s.index).or_default().insert(name);
            m
        });
    let expected: std::collections::BTreeMap<u32, std::collections::BTreeSet<String>> = [
        (web.index, ["web".to_string()].into()),
        (plain_index, [format!("k8s_plain__{}_u_a", plain.ns)].into()),
    ]
    .into();
    assert_eq!(sources, expected, "{}", watch.recent(20));
    assert_eq!(host.num_domains, Some(2));
}
