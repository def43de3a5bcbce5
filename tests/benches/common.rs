//! What every benchmark program shares: medians, the results file that `make bench` turns into one
//! table, and the kernel's account of a process's CPU time and memory.
//!
//! Each program prints its figures as it goes and appends one row per figure to the results file
//! (`$BENCH_RESULTS`, else `target/bench-results.tsv`): `figure<TAB>measured<TAB>target<TAB>verdict`.
//! Figures are medians over repeats; targets are never asserted (these machines are shared and
//! noisy): a missed target is reported as `MISSED`, never as a failure.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The static release binary that `make build` produces, which every agent benchmark runs.
pub fn static_binary() -> PathBuf {
    match std::env::var_os("CSFLOWD_STATIC_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/x86_64-unknown-linux-musl/release/csflowd"),
    }
}

/// The static binary, or a message saying to run `make build` first.
pub fn require_static_binary() -> PathBuf {
    let bin = static_binary();
    if !bin.exists() {
        panic!(
            "{} is missing: run `make bench` (it runs `make build` first)",
            bin.display()
        );
    }
    bin
}

fn results_path() -> PathBuf {
    match std::env::var_os("BENCH_RESULTS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-results.tsv"),
    }
}

/// Whether a figure meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The target is met.
    Met,
    /// The target is missed.
    Missed,
    /// No target: a figure for comparison.
    Info,
}

impl Verdict {
    /// Met when `ok`, else missed.
    pub fn of(ok: bool) -> Verdict {
        if ok {
            Verdict::Met
        } else {
            Verdict::Missed
        }
    }

    fn text(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "MISSED",
            Verdict::Info => "-",
        }
    }
}

/// Prints a figure and appends it to the results file.
pub fn report(figure: &str, measured: &str, target: &str, verdict: Verdict) {
    let line = format!("{figure}\t{measured}\t{target}\t{}", verdict.text());
    eprintln!(
        "  {figure}: {measured} (target {target}: {})",
        verdict.text()
    );
    let path = results_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path);
    match file {
        Ok(mut f) => {
            let _ = writeln!(f, "{line}");
        }
        Err(e) => eprintln!("cannot append to {}: {e}", path.display()),
    }
}

/// A heading on stderr, so a long run shows where it is.
pub fn section(title: &str) {
    eprintln!("\n== {title}");
}

/// The median of `values` (the mean of the two middle ones for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `min / median / max` of `values` with `digits` decimals, for the detail lines.
pub fn spread(values: &[f64], digits: usize) -> String {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    match (v.first(), v.last()) {
        (Some(lo), Some(hi)) => format!(
            "min {lo:.digits$} / median {:.digits$} / max {hi:.digits$} over {}",
            median(&v),
            v.len()
        ),
        _ => "no values".into(),
    }
}

/// CPU time of a single-threaded process in nanoseconds: the first field of
/// `/proc/<pid>/schedstat` (the scheduler's `sum_exec_runtime`, exact to the nanosecond). For a
/// multi-threaded process it counts the main thread only: use [`process_cpu_ns`] there.
pub fn thread_cpu_ns(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (ns).
pub fn own_thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// CPU time (user + system) of a whole process, every thread included, also the threads that
/// ended: `utime + stime` of `/proc/<pid>/stat`, in nanoseconds (clock-tick resolution, 10 ms).
pub fn process_cpu_ns(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces; the fields after the last `)` start with
    // the state (field 3); utime and stime are fields 14 and 15.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let tick_ns = 1_000_000_000 / csflowd::sys::clock_ticks_per_second().max(1);
    Some((utime + stime) * tick_ns)
}

/// CPU time of every thread of a process now alive, in nanoseconds: the sum of the first field of
/// `/proc/<pid>/task/*/schedstat`. Exact, but blind to threads that ended (fine for long-lived
/// daemons such as Go programs, whose threads stay).
pub fn tasks_cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for task in tasks.flatten() {
        let path = task.path().join("schedstat");
        if let Some(ns) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += ns;
        }
    }
    Some(total)
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`, ...), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The number of threads of a process (`Threads:` in its status).
pub fn threads(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Waits until `done()` holds, checking every 20 ms, at most `timeout`; true if it did.
pub fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bytes as KiB with one decimal.
pub fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// KiB as MiB with two decimals.
pub fn mib_of_kib(kib: f64) -> String {
    format!("{:.2} MiB", kib / 1024.0)
}
