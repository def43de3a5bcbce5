//! A one-file userland for test images: a tarball of `bin/busybox` (from Debian's `busybox-static`)
//! with a symlink for every applet, imported into an engine without any registry.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{process, BUSYBOX};

/// Builds `<dir>/busybox.tar` (a root file system with `/bin/<applet>` for every applet and an
/// empty `/tmp`) and returns its path. Fails when busybox is missing or dynamically linked (the
/// image has no libc, so only the static build works).
pub fn busybox_tar(dir: &Path) -> Result<PathBuf, String> {
    let binary = std::fs::read(BUSYBOX)
        .map_err(|e| format!("{BUSYBOX}: {e} (install the busybox-static package)"))?;
    if has_interpreter(&binary) {
        return Err(format!(
            "{BUSYBOX} is dynamically linked: install busybox-static instead of busybox"
        ));
    }
    let rootfs = dir.join("busybox-rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    std::fs::create_dir_all(rootfs.join("tmp")).map_err(|e| format!("rootfs tmp: {e}"))?;
    std::fs::write(bin.join("busybox"), &binary).map_err(|e| format!("copy busybox: {e}"))?;
    std::fs::set_permissions(
        bin.join("busybox"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| format!("chmod busybox: {e}"))?;
    let list = process::run(Command::new(BUSYBOX).arg("--list"), Duration::from_secs(10))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        // `[` and `[[` are applets too; anything with a slash would escape bin/.
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        std::os::unix::fs::symlink("busybox", bin.join(applet))
            .map_err(|e| format!("symlink {applet}: {e}"))?;
    }
    let tar = dir.join("busybox.tar");
    process::run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        Duration::from_secs(30),
    )?;
    Ok(tar)
}

/// True when an ELF file has a PT_INTERP program header, i.e. needs a dynamic loader.
fn has_interpreter(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    let u16_at = |at: usize| {
        elf.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        elf.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |at: usize| {
        elf.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    // Only 64-bit little-endian ELF is expected here (x86-64, aarch64); anything else is
    // treated as "cannot tell" and left for the engine to reject.
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    (0..usize::from(phnum)).any(|i| {
        let at = phoff as usize + i * usize::from(phentsize);
        u32_at(at) == Some(PT_INTERP)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_executable_has_an_interpreter() {
        // /bin/sh is dynamically linked on every Debian system.
        let sh = std::fs::read("/bin/sh").unwrap();
        assert!(has_interpreter(&sh));
        assert!(!has_interpreter(b"not an elf"));
    }
}
