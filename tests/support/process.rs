//! Child processes with deadlines, and the clean-up of what a private engine leaves behind.
//!
//! Everything here acts only on processes this harness spawned (by their pid) and on paths under the
//! engine's own temporary directory.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How often a deadline loop looks at a child again.
const POLL: Duration = Duration::from_millis(50);

/// Runs `command` to completion, capturing its output, and kills it (SIGKILL) if it is still
/// running after `timeout`. An error says what ran and why it failed; a non-zero exit status is an
/// error too, with the command's stderr in the message.
pub fn run(command: &mut Command, timeout: Duration) -> Result<Output, String> {
    let what = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot spawn: {e}"))?;
    // The pipes are drained on their own threads so that a chatty child cannot block on a full
    // pipe while this thread waits for it to exit.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_until(&mut child, Instant::now() + timeout);
    let status = match status {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what}: still running after {timeout:?}, killed"));
        }
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what}: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The program and arguments of `command`, for error messages.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Waits for `child` to exit until `deadline`; `None` if it is still running then.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Stops a daemon this harness spawned: SIGTERM by pid, up to `grace` to exit, then SIGKILL.
/// Returns true when the daemon exited on SIGTERM.
pub fn terminate(child: &mut Child, grace: Duration) -> bool {
    if let Ok(Some(_)) = child.try_wait() {
        return true;
    }
    send_signal("TERM", child.id());
    if wait_until(child, Instant::now() + grace).is_some() {
        return true;
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Sends SIGKILL to a pid read from a pidfile that a daemon of ours wrote (for example the
/// containerd that dockerd started), if that file exists and holds a number.
pub fn kill_from_pidfile(pidfile: &Path) {
    let Ok(text) = std::fs::read_to_string(pidfile) else {
        return;
    };
    let Ok(pid) = text.trim().parse::<u32>() else {
        return;
    };
    send_signal("KILL", pid);
}

/// True when process `pid` exists and is not a zombie (state `Z`) or dead (`X`): a zombie still
/// answers `kill(pid, 0)`, which is how daemons check their pidfiles, but runs nothing.
pub fn is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S ...`: comm may hold spaces and parentheses, the state follows the last `)`.
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X"))
}

/// True when process `pid`'s command line contains `path` (to be sure a pid read from a file
/// is still the daemon of ours that wrote it).
pub fn cmdline_mentions(pid: u32, path: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let needle = path.as_os_str().as_encoded_bytes();
    !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle)
}

/// Sends a signal by pid. std can only send SIGKILL to its own children and the crate allows no
/// `unsafe` for libc::kill, so this runs busybox's `kill` (busybox-static is required for the test
/// image anyway, while procps' kill(1) is not in minimal Debian installs).
pub fn send_signal(signal: &str, pid: u32) {
    let _ = Command::new(super::BUSYBOX)
        .args(["kill", &format!("-{signal}"), &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Unmounts every mount point at or under `dir`, deepest first (lazily if a plain unmount fails),
/// so that the directory can then be removed.
pub fn unmount_under(dir: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    points.dedup();
    for point in points {
        let quiet = |args: &[&str]| {
            Command::new("umount")
                .args(args)
                .arg(&point)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !quiet(&[]) && !quiet(&["-l"]) {
            eprintln!("support: could not unmount {point}");
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_and_a_free_pid_is_not() {
        assert!(is_running(std::process::id()));
        // Above the kernel's maximum pid (4194304), so never a process.
        assert!(!is_running(4_194_305));
    }

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/odd\"), r"/odd\");
    }
}
