//! Scenario tests of the configuration parser on whole files under tests/fixtures/config/.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use csflowd::config::{
    default_path, load, parse, relist_ms, AgentCidr, Collector, Config, ConfigErrorKind,
    DockerConfig, Parsed, Pcap, Sampling, MAX_FILE_BYTES, MAX_TOKEN_BYTES,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn load_ok(name: &str) -> Parsed {
    match load(&fixture(name)) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{e}"),
    }
}

/// Every warning as "LINE: MESSAGE".
fn warnings(parsed: &Parsed) -> Vec<String> {
    parsed
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.line, w.message))
        .collect()
}

fn collector(ip: &str, port: u16) -> Collector {
    Collector {
        ip: ip.parse().unwrap(),
        port,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A directory of its own under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("csflowd-config-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_real_reference_agent_file_loads_with_warnings_for_what_csflowd_ignores() {
    let parsed = load_ok("hsflowd-real.conf");
    assert_eq!(
        parsed.config,
        Config {
            polling: 20,
            datagram_bytes: 1400,
            agent_ip: None,
            agent_device: None,
            agent_cidrs: vec![
                AgentCidr {
                    net: ip("10.20.0.0"),
                    prefix: 16,
                    exclude: false
                },
                AgentCidr {
                    net: ip("10.20.99.0"),
                    prefix: 24,
                    exclude: true
                },
            ],
            sub_agent_id: 100001,
            uuid: None,
            collectors: vec![
                collector("10.20.0.5", 6343),
                collector("2001:db8:20::5", 6344)
            ],
            docker: Some(DockerConfig {
                hostname: true,
                socket: None,
                max_list_bytes: None,
                relist: None,
            }),
            containerd: None,
            k8s: None,
            sampling: Sampling {
                rate: Some(400),
                by_speed: vec![(100_000_000, 100), (10_000_000_000, 10000)],
                bps_ratio: None,
                header_bytes: 128,
            },
            pcap: vec![Pcap {
                dev: "docker0".into(),
                sampling: None,
                directions: csflowd::config::Directions::default(),
            }],
            pcap_containers: None,
            nflog: Some(csflowd::config::Nflog {
                group: 5,
                rate: 400,
            }),
            apps: vec![csflowd::config::AppSetting {
                name: "http".into(),
                sampling: Some(50),
                polling: None,
            }],
            mib2_containers: false,
        }
    );
    assert_eq!(
        warnings(&parsed),
        [
            "23: \"DNS-SD\" is not implemented by csflowd: ignored",
            "27: \"speed\" in pcap is not implemented by csflowd: ignored",
            "27: pcap without dev: no interface to sample, ignored",
            "29: \"psample\" is not implemented by csflowd: ignored",
            "30: \"dropmon\" is not implemented by csflowd: ignored",
            "31: \"json\" is not implemented by csflowd: ignored",
            "32: \"tcp\" is not implemented by csflowd: ignored",
            "33: \"systemd\" is not implemented by csflowd: ignored",
            "36: \"markTraffic\" in docker is not implemented by csflowd: ignored",
        ]
    );
    let shown = parsed.warnings[0].to_string();
    assert!(shown.ends_with("tests/fixtures/config/hsflowd-real.conf:23: \"DNS-SD\" is not implemented by csflowd: ignored"));
}

#[test]
fn crlf_line_endings() {
    let bytes = std::fs::read(fixture("crlf.conf")).unwrap();
    assert!(
        bytes.windows(2).any(|w| w == b"\r\n"),
        "the fixture lost its CRLF line endings"
    );
    let parsed = load_ok("crlf.conf");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.config.polling, 15);
    assert_eq!(parsed.config.collectors, [collector("192.0.2.10", 6343)]);
    assert_eq!(
        parsed.config.docker,
        Some(DockerConfig {
            hostname: false,
            socket: Some(PathBuf::from("/run/docker.sock")),
            max_list_bytes: None,
            relist: None,
        })
    );
    assert_eq!(
        parsed.config.uuid,
        Some([
            0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
            0xde, 0xf0
        ])
    );
    // Lines still count right: a bad value on line 3 of a CRLF file is reported on line 3.
    let e = parse("sflow {\r\n\r\n polling = x\r\n}\r\n", Path::new("c.conf")).unwrap_err();
    assert_eq!((e.line, e.kind), (3, ConfigErrorKind::MalformedNumber));
}

#[test]
fn comments_everywhere() {
    let parsed = load_ok("comments.conf");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.config.polling, 25);
    assert_eq!(parsed.config.collectors, [collector("198.51.100.2", 7000)]);
    assert_eq!(parsed.config.agent_device.as_deref(), Some("eth1"));
}

#[test]
fn braces_attached_to_words() {
    let parsed = load_ok("attached-braces.conf");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(
        parsed.config.collectors,
        [collector("127.0.0.1", 6343), collector("127.0.0.2", 6400)]
    );
    assert_eq!(
        parsed.config.docker,
        Some(DockerConfig {
            hostname: false,
            socket: None,
            max_list_bytes: None,
            relist: None,
        })
    );
    assert_eq!(parsed.config.polling, 10);
    assert_eq!(parsed.config.datagram_bytes, 1500);
}

#[test]
fn keywords_in_any_case() {
    let parsed = load_ok("mixed-case.conf");
    let c = &parsed.config;
    assert_eq!(c.polling, 40);
    assert_eq!(c.datagram_bytes, 1200);
    assert_eq!(c.agent_ip, Some(ip("192.0.2.1")));
    assert_eq!(c.sub_agent_id, 5);
    assert_eq!(c.agent_cidrs.len(), 1);
    assert_eq!(c.uuid.map(|u| u[0]), Some(0x7c));
    assert_eq!(c.collectors, [collector("192.0.2.2", 6343)]);
    assert_eq!(
        c.docker,
        Some(DockerConfig {
            hostname: true,
            socket: Some(PathBuf::from("/var/run/docker.sock")),
            max_list_bytes: None,
            relist: None,
        })
    );
    assert_eq!(c.sampling.rate, Some(100));
    assert!(warnings(&parsed).is_empty(), "{:?}", warnings(&parsed));
}

#[test]
fn ipv6_and_several_collectors() {
    let parsed = load_ok("ipv6-collectors.conf");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.config.agent_ip, Some(ip("2001:db8::1")));
    assert_eq!(
        parsed.config.collectors,
        [
            collector("::1", 6343),
            collector("2001:db8::99", 16343),
            collector("::ffff:192.0.2.7", 6343)
        ]
    );
}

#[test]
fn a_file_without_collectors_is_valid_and_says_nothing_will_be_sent() {
    let parsed = load_ok("no-collector.conf");
    assert!(parsed.config.collectors.is_empty());
    assert_eq!(parsed.config.polling, 30);
    assert_eq!(
        warnings(&parsed),
        ["1: no collector configured: nothing will be sent"]
    );
}

#[test]
fn every_bad_file_names_line_text_and_kind() {
    use ConfigErrorKind::*;
    let cases: &[(&str, u32, &str, ConfigErrorKind)] = &[
        ("malformed-number.conf", 3, "3O", MalformedNumber),
        ("number-out-of-range.conf", 4, "9000", NumberOutOfRange),
        ("bad-address.conf", 2, "10.0.0.256", BadAddress),
        (
            "collector-host-name.conf",
            3,
            "collector.example.com",
            HostName,
        ),
        (
            "bad-uuid.conf",
            3,
            "7cdf8808-3368-8538-ce27-ba6b98501fcz",
            BadUuid,
        ),
        ("bad-cidr.conf", 3, "fd00::/129", BadCidr),
        ("port-out-of-range.conf", 4, "70000", PortOutOfRange),
        ("unclosed-block.conf", 3, "pcap", UnclosedBlock),
        ("unclosed-sflow.conf", 3, "sflow", UnclosedBlock),
        ("stray-close.conf", 5, "}", UnmatchedClose),
        ("stray-close-first.conf", 2, "}", UnmatchedClose),
        ("value-missing-at-eof.conf", 3, "polling", MissingValue),
        ("text-before-sflow.conf", 1, "polling", OutsideSflow),
        ("text-after-sflow.conf", 3, "collector", OutsideSflow),
        (
            "collector-without-ip.conf",
            3,
            "collector",
            CollectorWithoutIp,
        ),
        ("bad-switch.conf", 3, "enabled", BadSwitch),
        ("pcap-no-direction.conf", 4, "ingress = off", NoDirection),
        ("too-deep.conf", 18, "level17", TooDeep),
        ("not-utf8.conf", 3, "  agent = caf\u{fffd}", NotUtf8),
        ("relist-out-of-range.conf", 4, "7200", NumberOutOfRange),
        ("relist-zero.conf", 2, "0", NumberOutOfRange),
        ("relist-malformed.conf", 3, "2min", MalformedNumber),
    ];
    for &(name, line, text, kind) in cases {
        let path = fixture(&format!("bad/{name}"));
        let e = match load(&path) {
            Ok(parsed) => panic!("{name} loaded: {:?}", parsed.config),
            Err(e) => e,
        };
        assert_eq!(
            (e.line, e.text.as_str(), e.kind),
            (line, text, kind),
            "{name}: {e}"
        );
        assert_eq!(e.file, path);
    }
}

#[test]
fn error_display_reads_file_line_reason_and_quoted_text() {
    let path = fixture("bad/port-out-of-range.conf");
    let e = load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}:4: port out of range: \"70000\"", path.display())
    );
    let e = load(&fixture("bad/collector-host-name.conf")).unwrap_err();
    assert!(e.to_string().ends_with(
        ":3: a host name, not a numeric IP address (csflowd never resolves names): \"collector.example.com\""
    ));
}

#[test]
fn oversized_file_and_overlong_word_are_refused() {
    let dir = TempDir::new("sizes");
    let big = dir.0.join("big.conf");
    let mut text = String::from("sflow { collector { ip = 127.0.0.1 } }\n");
    text.push_str(&"#".repeat(MAX_FILE_BYTES + 1 - text.len()));
    std::fs::write(&big, &text).unwrap();
    let e = load(&big).unwrap_err();
    assert_eq!(
        (e.line, e.kind, e.text.as_str()),
        (0, ConfigErrorKind::FileTooLarge, "")
    );
    // Exactly the limit is fine.
    text.pop();
    std::fs::write(&big, &text).unwrap();
    assert!(load(&big).is_ok());

    let long = dir.0.join("long.conf");
    let word = "a".repeat(MAX_TOKEN_BYTES + 1);
    std::fs::write(&long, format!("sflow {{\n\n  agent = {word}\n}}\n")).unwrap();
    let e = load(&long).unwrap_err();
    assert_eq!((e.line, e.kind), (3, ConfigErrorKind::TokenTooLong));
    assert_eq!(e.text, format!("{}...", "a".repeat(80)));
    assert!(e.to_string().len() < 200);
}

#[test]
fn unreadable_files_report_line_zero_and_the_reason() {
    let dir = TempDir::new("unreadable");
    let missing = dir.0.join("missing.conf");
    let e = load(&missing).unwrap_err();
    assert_eq!((e.line, e.kind), (0, ConfigErrorKind::Unreadable));
    assert!(e.text.contains("No such file or directory"), "{}", e.text);
    let e = load(&dir.0).unwrap_err();
    assert_eq!((e.line, e.kind), (0, ConfigErrorKind::Unreadable));
    assert_eq!(e.text, "not a regular file");
}

#[test]
fn default_path_prefers_csflowd_conf_then_hsflowd_conf() {
    let dir = TempDir::new("etc");
    assert_eq!(default_path(&dir.0), None);
    std::fs::write(dir.0.join("hsflowd.conf"), "sflow { }").unwrap();
    assert_eq!(default_path(&dir.0), Some(dir.0.join("hsflowd.conf")));
    std::fs::write(dir.0.join("csflowd.conf"), "sflow { }").unwrap();
    assert_eq!(default_path(&dir.0), Some(dir.0.join("csflowd.conf")));
}

#[test]
fn docker_relist_from_a_file_and_its_default() {
    let parsed = load_ok("docker-relist.conf");
    assert_eq!(warnings(&parsed), Vec::<String>::new());
    assert_eq!(
        parsed.config.docker,
        Some(DockerConfig {
            socket: Some("/run/podman/podman.sock".into()),
            relist: Some(300),
            ..DockerConfig::default()
        })
    );
    assert_eq!(relist_ms(&parsed.config), 300_000);
    // Without the setting, or without a docker block: two minutes.
    assert_eq!(relist_ms(&load_ok("mixed-case.conf").config), 120_000);
    assert_eq!(relist_ms(&Config::default()), 120_000);
    let e = load(&fixture("bad/relist-out-of-range.conf")).unwrap_err();
    assert!(
        e.to_string().ends_with(":4: number out of range: \"7200\""),
        "{e}"
    );
}

#[test]
fn values_absent_from_the_file_keep_their_defaults() {
    let parsed = parse(
        "sflow { collector { ip = 192.0.2.1 } }",
        Path::new("x.conf"),
    )
    .unwrap();
    assert_eq!(
        parsed.config,
        Config {
            collectors: vec![collector("192.0.2.1", 6343)],
            ..Config::default()
        }
    );
}

#[test]
fn mutated_files_never_panic() {
    // Deterministic xorshift: the same mutations on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const INSERTS: &[&str] = &[
        "{",
        "}",
        "\"",
        "#",
        "\n",
        "=",
        "!",
        "/",
        ":",
        "é",
        "\0",
        "99999999999",
        "collector",
        "sflow",
        "\r\n",
    ];
    let seeds = [
        "hsflowd-real.conf",
        "comments.conf",
        "attached-braces.conf",
        "mixed-case.conf",
        "ipv6-collectors.conf",
    ];
    for seed in seeds {
        let original = std::fs::read_to_string(fixture(seed)).unwrap();
        for _ in 0..2000 {
            let mut text = original.clone();
            for _ in 0..(next() % 4 + 1) {
                let mut at = (next() % (text.len() as u64 + 1)) as usize;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                if next() % 2 == 0 {
                    let insert = INSERTS[(next() % INSERTS.len() as u64) as usize];
                    text.insert_str(at, insert);
                } else if let Some(c) = text[at..].chars().next() {
                    text.replace_range(at..at + c.len_utf8(), "");
                }
            }
            // Either outcome is fine; displaying it must not panic either.
            match parse(&text, Path::new("m.conf")) {
                Ok(parsed) => parsed.warnings.iter().for_each(|w| drop(w.to_string())),
                Err(e) => drop(e.to_string()),
            }
        }
    }
}
