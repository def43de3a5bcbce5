//! Runs the csflowd binary for a test: a private configuration file, stdout and stderr captured, and
//! the process stopped by its own pid when the test ends (also when it fails).
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: the static release binary when `make test` names it, else Cargo's build.
pub fn binary() -> PathBuf {
    match std::env::var_os("CSFLOWD_STATIC_BIN") {
        Some(p) if Path::new(&p).exists() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_csflowd")),
    }
}

/// A fresh private directory for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("csflowd-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Agent {
    pub child: Child,
    pub dir: PathBuf,
    pub config: PathBuf,
    stderr_path: PathBuf,
}

impl Agent {
    /// Starts `csflowd -d -f <dir>/csflowd.conf <args>` with `config` as the file's text.
    pub fn start(tag: &str, config: &str, args: &[&str]) -> Agent {
        let dir = temp_dir(tag);
        let path = dir.join("csflowd.conf");
        std::fs::write(&path, config).unwrap();
        Self::start_with(dir, path, args)
    }

    pub fn start_with(dir: PathBuf, config: PathBuf, args: &[&str]) -> Agent {
        Self::start_under(dir, config, args, &[])
    }

    /// Like [`Agent::start`], the agent run by `wrapper` (a command and its arguments, such as
    /// `prlimit --nofile=300:300`).
    pub fn start_wrapped(tag: &str, config: &str, args: &[&str], wrapper: &[&str]) -> Agent {
        let dir = temp_dir(tag);
        let path = dir.join("csflowd.conf");
        std::fs::write(&path, config).unwrap();
        Self::start_under(dir, path, args, wrapper)
    }

    fn start_under(dir: PathBuf, config: PathBuf, args: &[&str], wrapper: &[&str]) -> Agent {
        let stderr_path = dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(binary());
                c
            }
            None => Command::new(binary()),
        };
        let child = command
            .arg(std::env::var("CSFLOWD_TEST_LOG").unwrap_or_else(|_| "-d".into()))
            .arg("-f")
            .arg(&config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Agent {
            child,
            dir,
            config,
            stderr_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (TERM, HUP, INT, KILL) to this agent's pid.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{sig}");
    }

    pub fn rewrite_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// Waits for the agent to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the agent's log says `needle`, at most 10 s (fails the test past that).
    pub fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Everything the agent wrote on stdout, once it has exited.
    pub fn stdout_after_exit(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut s).unwrap();
        }
        s
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the binary to completion with these arguments; returns (status, stdout, stderr).
pub fn run_once(args: &[&str], timeout: Duration) -> (ExitStatus, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("csflowd {args:?} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A configuration file for one collector on loopback.
pub fn config_for(collector: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "sflow {{\n  polling = 1\n  agentIP = 192.0.2.1\n  uuid = 01234567-89ab-cdef-0123-456789abcdef\n  collector {{ ip = {} udpport = {} }}\n{extra}\n}}\n",
        collector.ip(),
        collector.port()
    )
}
