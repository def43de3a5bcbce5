//! `host_descr`: hostname and kernel release from /proc/sys/kernel, machine type from the build target.
//! The hostname is read on every poll (through a kept descriptor); the release by the caller, rarely.

use std::time::Instant;

use super::file::{Extent, FileBuf, PathBuilder};
use super::kept::KeptFile;
use super::parse::{lines, trim};
use super::Roots;
use crate::wire::machine_type;

/// Longest hostname or release file read (the kernel's own limit is 64 bytes).
const NAME_FILE_BYTES: usize = 256;

/// The `host_descr.machine_type` of a Rust target architecture (`std::env::consts::ARCH`).
pub fn machine_type_of(arch: &str) -> u32 {
    match arch {
        "x86_64" => machine_type::X86_64,
        "x86" => machine_type::X86,
        "arm" | "aarch64" => machine_type::ARM,
        _ => machine_type::OTHER,
    }
}

/// Replaces `hostname` with `<proc>/sys/kernel/hostname` (kept open: it can change at any time), or an
/// empty string when it is unreadable. Its capacity is reused.
pub(crate) fn read_hostname(
    files: &mut FileBuf,
    kept: &mut KeptFile,
    now: Instant,
    hostname: &mut String,
) {
    let text = kept.read(files, Extent::Prefix(NAME_FILE_BYTES), now);
    set_first_line(hostname, text.unwrap_or_default());
}

/// Replaces `os_release` with `<proc>/sys/kernel/osrelease`, or an empty string when it is
/// unreadable. Read by path: the caller reads it rarely.
pub(crate) fn read_os_release(
    files: &mut FileBuf,
    paths: &mut PathBuilder,
    roots: &Roots,
    os_release: &mut String,
) {
    let path = paths.join(&roots.proc, &[b"sys", b"kernel", b"osrelease"]);
    let text = files.read(path, Extent::Prefix(NAME_FILE_BYTES));
    set_first_line(os_release, text.unwrap_or_default());
}

/// `out` = the first line of `text`, trimmed; invalid UTF-8 becomes U+FFFD.
fn set_first_line(out: &mut String, text: &[u8]) {
    out.clear();
    let line = lines(text).next().map(trim).unwrap_or_default();
    out.push_str(&String::from_utf8_lossy(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_types() {
        assert_eq!(machine_type_of("x86_64"), 3);
        assert_eq!(machine_type_of("x86"), 2);
        assert_eq!(machine_type_of("aarch64"), 10);
        assert_eq!(machine_type_of("arm"), 10);
        assert_eq!(machine_type_of("riscv64"), 1);
    }

    #[test]
    fn first_line_trimmed() {
        let mut s = String::from("old value that is long");
        let cap = s.capacity();
        set_first_line(&mut s, b"  6.1.0-13-amd64 \nsecond\n");
        assert_eq!(s, "6.1.0-13-amd64");
        assert_eq!(s.capacity(), cap);
        set_first_line(&mut s, b"");
        assert_eq!(s, "");
        set_first_line(&mut s, b"h\xffst\n");
        assert_eq!(s, "h\u{fffd}st");
    }
}
