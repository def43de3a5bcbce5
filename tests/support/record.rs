//! Records the exact bytes a real engine sends for the requests the agent makes, as fixtures for
//! the decoder tests (`tests/fixtures/recorded/`). Run by the ignored test `record_engine_http` in
//! tests/engine_smoke.rs.
//!
//! One-shot requests carry `Connection: close`, so each file is one complete response ending at
//! EOF. Event streams are requested without it (a long-lived HTTP/1.1 stream); the scenario's CLI
//! commands run while the stream is open, and reading stops after [`QUIET`] without a byte, so
//! those files end without the terminating `0` chunk, exactly as a live stream looks.

use std::fmt::Write as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{http, Engine, Kind};

/// The API version the agent speaks to both engines.
const VERSION: &str = "v1.41";
/// The events stream is cut after this long without a byte.
const QUIET: Duration = Duration::from_secs(3);
/// No single recording may take longer than this.
const LIMIT: Duration = Duration::from_secs(60);
/// An id that no container has.
const MISSING_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// One saved file: its name, the request that produced it, and what it shows.
pub struct Recorded {
    /// File name under the output directory.
    pub file: String,
    /// The request line that was sent.
    pub request: String,
    /// What the recording shows.
    pub what: String,
}

/// Records every fixture for `engine` into `out`; returns what was saved, in order.
pub fn record_engine(engine: &Engine, out: &Path) -> Vec<Recorded> {
    let mut saved = Vec::new();
    let mut one_shot = |name: &str, path: &str, what: &str| {
        let response = http::exchange(engine.socket_path(), &http::get(path, true), LIMIT, LIMIT)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        saved.push(save(engine, out, name, path, what, &response));
    };
    one_shot("ping", "/_ping", "unversioned ping");
    one_shot("version", &format!("/{VERSION}/version"), "engine version");

    let a = engine.run(&["--name", "csflowd-a"], &["sleep", "300"]);
    let b = engine.run(
        &["--name", "csflowd-b", "--label", "team=flow"],
        &["sleep", "300"],
    );
    one_shot(
        "containers-json",
        &format!("/{VERSION}/containers/json"),
        "list with two running containers, csflowd-a and csflowd-b (label team=flow)",
    );
    one_shot(
        "inspect",
        &format!("/{VERSION}/containers/{a}/json"),
        "inspect of the running container csflowd-a",
    );
    one_shot(
        "inspect-404",
        &format!("/{VERSION}/containers/{MISSING_ID}/json"),
        "inspect of an id that does not exist",
    );
    for (name, path, what) in [
        (
            "v1.99-ping",
            "/v1.99/_ping",
            "ping at a version newer than the engine's",
        ),
        (
            "v1.99-containers-json",
            "/v1.99/containers/json",
            "list at a version newer than the engine's",
        ),
        (
            "v1.12-containers-json",
            "/v1.12/containers/json",
            "list at 1.12, Docker 20.10's minimum",
        ),
        (
            "v1.11-containers-json",
            "/v1.11/containers/json",
            "list at 1.11, below Docker 20.10's minimum",
        ),
    ] {
        one_shot(name, path, what);
    }
    // Labels like these (compose's, image metadata) make a list outgrow the 2048 bytes Go's
    // net/http buffers before it switches from Content-Length to chunked framing.
    let description = format!(
        "org.opencontainers.image.description={}",
        "padding ".repeat(80)
    );
    let c = engine.run(
        &[
            "--name",
            "csflowd-c",
            "--label",
            "com.docker.compose.project=csflowd-recording",
            "--label",
            "com.docker.compose.service=web",
            "--label",
            "com.docker.compose.project.working_dir=/srv/csflowd/recording",
            "--label",
            "com.docker.compose.project.config_files=/srv/csflowd/recording/compose.yaml",
            "--label",
            &description,
        ],
        &["sleep", "300"],
    );
    one_shot(
        "containers-json-3",
        &format!("/{VERSION}/containers/json"),
        "list with three running containers, the third (csflowd-c) with long labels",
    );
    engine.cli(&["rm", "--force", &a, &b, &c]);

    saved.push(record_events(
        engine,
        out,
        "events-lifecycle",
        "run -d --name csflowd-life sleep 300; pause; unpause; rename to csflowd-renamed; \
         stop -t 1; rm",
        |engine| {
            let id = engine.run(&["--name", "csflowd-life"], &["sleep", "300"]);
            engine.cli(&["pause", &id]);
            engine.cli(&["unpause", &id]);
            engine.cli(&["rename", &id, "csflowd-renamed"]);
            engine.cli(&["stop", "-t", "1", &id]);
            engine.cli(&["rm", &id]);
        },
    ));
    saved.push(record_events(
        engine,
        out,
        "events-graceful-stop",
        "run -d --name csflowd-term sh -c 'trap \"exit 0\" TERM; while :; do sleep 0.1; done'; \
         stop -t 10 (exits 0 on SIGTERM); rm",
        |engine| {
            let script = "trap 'exit 0' TERM; while :; do sleep 0.1; done";
            let id = engine.run(&["--name", "csflowd-term"], &["sh", "-c", script]);
            engine.cli(&["stop", "-t", "10", &id]);
            engine.cli(&["rm", &id]);
        },
    ));
    saved.push(record_events(
        engine,
        out,
        "events-api-stop",
        "run -d --name csflowd-stop sleep 300; `POST /v1.41/containers/<id>/stop?t=1` on the \
         API socket (not the CLI); rm",
        |engine| {
            let id = engine.run(&["--name", "csflowd-stop"], &["sleep", "300"]);
            let path = format!("/{VERSION}/containers/{id}/stop?t=1");
            let response =
                http::exchange(engine.socket_path(), &http::post(&path), LIMIT, LIMIT).unwrap();
            assert_eq!(
                http::status(&response),
                Some(204),
                "POST {path}: {}",
                String::from_utf8_lossy(&response)
            );
            engine.cli(&["rm", &id]);
        },
    ));
    saved.push(record_events(
        engine,
        out,
        "events-kill",
        "run -d --name csflowd-kill sleep 300; kill (SIGKILL); rm",
        |engine| {
            let id = engine.run(&["--name", "csflowd-kill"], &["sleep", "300"]);
            engine.cli(&["kill", &id]);
            engine.cli(&["rm", &id]);
        },
    ));
    saved.push(record_events(
        engine,
        out,
        "events-exit",
        "run -d --name csflowd-exit sh -c 'sleep 1; exit 3'; wait; rm (exits by itself, code 3)",
        |engine| {
            let id = engine.run(
                &["--name", "csflowd-exit"],
                &["sh", "-c", "sleep 1; exit 3"],
            );
            engine.cli(&["wait", &id]);
            engine.cli(&["rm", &id]);
        },
    ));
    saved
}

/// Opens an events stream (type=container), runs `scenario`, and saves the stream's bytes.
fn record_events(
    engine: &Engine,
    out: &Path,
    name: &str,
    what: &str,
    scenario: impl FnOnce(&Engine),
) -> Recorded {
    let filters = http::percent_encode(r#"{"type":{"container":true}}"#);
    let path = format!("/{VERSION}/events?filters={filters}");
    let mut stream = UnixStream::connect(engine.socket_path()).unwrap();
    std::io::Write::write_all(&mut stream, &http::get(&path, false)).unwrap();
    // The engine sends the head at once; waiting for it ensures the subscription exists
    // before the scenario makes events.
    let mut response = http::read_head(&mut stream, LIMIT).unwrap();
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "events: {}",
        String::from_utf8_lossy(&response)
    );
    scenario(engine);
    response.extend(http::read_until_quiet(&mut stream, QUIET, LIMIT).unwrap());
    save(engine, out, name, &path, what, &response)
}

fn save(
    engine: &Engine,
    out: &Path,
    name: &str,
    path: &str,
    what: &str,
    response: &[u8],
) -> Recorded {
    let file = format!("{}-{name}.http", engine.kind().name());
    std::fs::write(out.join(&file), response).unwrap();
    let status = response
        .split(|&b| b == b'\r')
        .next()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let actions = actions(response);
    let what = if actions.is_empty() {
        format!("{what} → `{status}`")
    } else {
        format!("{what} → `{status}`, actions: {}", actions.join(", "))
    };
    Recorded {
        file,
        request: format!("GET {path}"),
        what,
    }
}

/// The `Action` of each event in a recorded stream, in order (a plain scan: the engines send
/// one event per chunk, so no field is split by chunk framing).
fn actions(response: &[u8]) -> Vec<String> {
    const KEY: &str = r#""Action":""#;
    let text = String::from_utf8_lossy(response);
    text.split(KEY)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The README of the recordings directory: where, when and from what they came, and a table of
/// the files.
pub fn readme(engines: &[(&Engine, Vec<Recorded>)]) -> String {
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut text = String::new();
    let _ = write!(
        text,
        "# Recorded engine HTTP responses\n\n\
         Raw bytes received on the engines' UNIX sockets, exactly as sent (status line, headers, \
         body, chunk framing), recorded on {date} (kernel {}, cgroup v1, cgroupfs driver) by\n\n\
         ```\ncargo test --test engine_smoke -- --ignored record_engine_http\n```\n\n\
         (tests/support/record.rs; it rewrites every file here, this README included). \
         Requests were `GET <path> HTTP/1.1` with CRLF line endings and `Host: localhost`; \
         one-shot requests also sent `Connection: close` (each file is one whole response, ending \
         at EOF). Event streams were requested without it, with \
         `filters={{\"type\":{{\"container\":true}}}}` percent-encoded, while the scenario ran \
         through the engine's CLI; reading stopped after {} s without a byte, so those files \
         end without a terminating `0` chunk. Container ids, names of the form `csflowd-*`, \
         times and paths differ from one recording to the next: tests must read them from the \
         recording.\n",
        kernel.trim(),
        QUIET.as_secs()
    );
    for (engine, saved) in engines {
        let title = match engine.kind() {
            Kind::Docker => "Docker",
            Kind::Podman => "Podman",
        };
        let _ = write!(
            text,
            "\n## {title} {}\n\n| file | request | what |\n|---|---|---|\n",
            engine.server_version()
        );
        for recorded in saved {
            let _ = writeln!(
                text,
                "| {} | `{}` | {} |",
                recorded.file, recorded.request, recorded.what
            );
        }
    }
    text
}
