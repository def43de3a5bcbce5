//! Finding and reading the configuration file.
//!
//! Reading is bounded: at most [`MAX_FILE_BYTES`] + 1 bytes are read, the extra byte only to tell an
//! oversized file. Only regular files are read, so a FIFO or device given by mistake cannot block startup.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigErrorKind};
use super::parse::{parse, Parsed};
use super::MAX_FILE_BYTES;

/// csflowd's own file name, preferred when present.
pub const OWN_FILE_NAME: &str = "csflowd.conf";
/// The reference agent's file name, read unchanged when csflowd has no file of its own.
pub const REFERENCE_FILE_NAME: &str = "hsflowd.conf";

/// The configuration file to read in directory `etc`: `csflowd.conf` if it exists, else `hsflowd.conf` if
/// it exists, else `None` (the caller then uses [`super::Config::default`]).
pub fn default_path(etc: &Path) -> Option<PathBuf> {
    [OWN_FILE_NAME, REFERENCE_FILE_NAME]
        .iter()
        .map(|name| etc.join(name))
        .find(|path| path.exists())
}

/// Reads and parses the file at `path`.
///
/// An unreadable file (missing, a directory, not a regular file, permission denied) is
/// [`ConfigErrorKind::Unreadable`] at line 0 with the system's reason as text; a file over [`MAX_FILE_BYTES`]
/// is [`ConfigErrorKind::FileTooLarge`] at line 0; bytes that are not UTF-8 are [`ConfigErrorKind::NotUtf8`]
/// at their line.
pub fn load(path: &Path) -> Result<Parsed, ConfigError> {
    let unreadable = |reason: &str| ConfigError::new(path, 0, ConfigErrorKind::Unreadable, reason);
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(&e.to_string()))?;
    if !metadata.is_file() {
        return Err(unreadable("not a regular file"));
    }
    let file = File::open(path).map_err(|e| unreadable(&e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(&e.to_string()))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ConfigError::new(path, 0, ConfigErrorKind::FileTooLarge, ""));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| not_utf8(path, &bytes, e.valid_up_to()))?;
    parse(text, path)
}

/// The error for the first invalid byte at `bad`: its 1-based line, and that line as text (invalid bytes
/// replaced) so the reader can find it.
fn not_utf8(path: &Path, bytes: &[u8], bad: usize) -> ConfigError {
    let before = bytes.get(..bad).unwrap_or(bytes);
    let newlines = before.iter().filter(|&&b| b == b'\n').count();
    let line = u32::try_from(newlines).map_or(u32::MAX, |n| n.saturating_add(1));
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let rest = bytes.get(start..).unwrap_or(&[]);
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let shown = String::from_utf8_lossy(rest.get(..end).unwrap_or(rest));
    ConfigError::new(path, line, ConfigErrorKind::NotUtf8, &shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_utf8_names_the_line_of_the_first_bad_byte() {
        let bytes: &[u8] = b"sflow {\n  polling = 3\xff0\n}\n";
        let e = not_utf8(Path::new("a.conf"), bytes, 21);
        assert_eq!(e.line, 2);
        assert_eq!(e.kind, ConfigErrorKind::NotUtf8);
        assert_eq!(e.text, "  polling = 3\u{fffd}0");
        let e = not_utf8(Path::new("a.conf"), b"\xc3", 0);
        assert_eq!((e.line, e.text.as_str()), (1, "\u{fffd}"));
    }
}
