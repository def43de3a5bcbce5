//! Fatal errors and non-fatal warnings of the configuration parser.
//!
//! Both name the file and the line (1-based; 0 for problems with the whole file, such as an unreadable or
//! oversized one). The offending text an error carries is cut to [`MAX_SHOWN_CHARS`] characters when it is
//! stored, and its control characters are escaped when it is displayed, so a hostile file cannot flood or
//! garble a log line.

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest excerpt of offending text kept in an error or quoted in a warning, in characters.
pub const MAX_SHOWN_CHARS: usize = 80;

/// Why a configuration file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// The file could not be opened or read; the error's text is the system's reason.
    Unreadable,
    /// The file is larger than [`super::MAX_FILE_BYTES`].
    FileTooLarge,
    /// The file is not valid UTF-8.
    NotUtf8,
    /// One word (or quoted string) is longer than [`super::MAX_TOKEN_BYTES`].
    TokenTooLong,
    /// A quoted string is not closed on its own line.
    UnterminatedQuote,
    /// Blocks are nested deeper than [`super::MAX_DEPTH`].
    TooDeep,
    /// A block is still open at the end of the file; the line is where it opened.
    UnclosedBlock,
    /// A `}` closes nothing.
    UnmatchedClose,
    /// A `{` stands where a setting name belongs.
    UnexpectedOpen,
    /// A block name (`sflow`, `collector`, `docker`) is not followed by `{`.
    ExpectedOpen,
    /// Something other than the one `sflow { ... }` block is at the top level of the file.
    OutsideSflow,
    /// The file has no `sflow { ... }` block at all.
    NoSflowBlock,
    /// A setting has no value: it is followed by a brace or by the end of the file.
    MissingValue,
    /// A value that must be a decimal number is not one.
    MalformedNumber,
    /// A number is outside the range its setting accepts.
    NumberOutOfRange,
    /// A collector's `udpport` is outside 1..=65535.
    PortOutOfRange,
    /// A value that must be an IP address is not one.
    BadAddress,
    /// An address is a host name; csflowd never resolves names because it never blocks.
    HostName,
    /// A `uuid` is neither 8-4-4-4-12 hex digits nor 32 hex digits.
    BadUuid,
    /// An `agent.cidr` is not `[!]address/prefix`.
    BadCidr,
    /// A switch is not one of on, off, yes, no, true, false, 1, 0.
    BadSwitch,
    /// The Docker socket is not an absolute path that fits a UNIX socket address.
    BadSocketPath,
    /// A runtime's state directory is not an absolute path of at most 4095 bytes.
    BadStatePath,
    /// `agent` is not a possible network interface name.
    BadInterface,
    /// A `collector { }` block has no `ip`.
    CollectorWithoutIp,
    /// A `pcap { }` block turns off both `ingress` and `egress`: it would sample nothing.
    NoDirection,
}

impl ConfigErrorKind {
    /// A short, fixed description of this kind of error.
    pub const fn description(self) -> &'static str {
        match self {
            ConfigErrorKind::Unreadable => "cannot read file",
            ConfigErrorKind::FileTooLarge => "file larger than 1 MiB",
            ConfigErrorKind::NotUtf8 => "not valid UTF-8",
            ConfigErrorKind::TokenTooLong => "word longer than 1024 bytes",
            ConfigErrorKind::UnterminatedQuote => "quoted string not closed on its line",
            ConfigErrorKind::TooDeep => "blocks nested deeper than 16",
            ConfigErrorKind::UnclosedBlock => "block opened here is never closed",
            ConfigErrorKind::UnmatchedClose => "'}' without a matching '{'",
            ConfigErrorKind::UnexpectedOpen => "'{' where a setting name was expected",
            ConfigErrorKind::ExpectedOpen => "expected '{' after the block name",
            ConfigErrorKind::OutsideSflow => "text outside the sflow { } block",
            ConfigErrorKind::NoSflowBlock => "no sflow { } block",
            ConfigErrorKind::MissingValue => "missing value",
            ConfigErrorKind::MalformedNumber => "malformed number",
            ConfigErrorKind::NumberOutOfRange => "number out of range",
            ConfigErrorKind::PortOutOfRange => "port out of range",
            ConfigErrorKind::BadAddress => "bad IP address",
            ConfigErrorKind::HostName => {
                "a host name, not a numeric IP address (csflowd never resolves names)"
            }
            ConfigErrorKind::BadUuid => "bad uuid",
            ConfigErrorKind::BadCidr => "bad CIDR",
            ConfigErrorKind::BadSwitch => "expected on or off",
            ConfigErrorKind::BadSocketPath => {
                "socket must be an absolute path of at most 107 bytes"
            }
            ConfigErrorKind::BadStatePath => "state must be an absolute path of at most 4095 bytes",
            ConfigErrorKind::BadInterface => "bad interface name",
            ConfigErrorKind::CollectorWithoutIp => "collector without ip",
            ConfigErrorKind::NoDirection => "pcap with ingress and egress both off samples nothing",
        }
    }
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A fatal problem with a configuration file: the agent must not start with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given to [`super::parse`] or [`super::load`].
    pub file: PathBuf,
    /// 1-based line; 0 when the problem is with the file as a whole.
    pub line: u32,
    /// The offending text (a word, a value, an I/O error's message), cut to [`MAX_SHOWN_CHARS`] characters.
    pub text: String,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

impl ConfigError {
    /// An error of `kind` at `line` of `file`, keeping an excerpt of `text`.
    pub(crate) fn new(file: &Path, line: u32, kind: ConfigErrorKind, text: &str) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            text: excerpt(text),
            kind,
        }
    }
}

impl fmt::Display for ConfigError {
    /// `FILE:LINE: REASON: "TEXT"`, or `FILE:LINE: REASON` when there is no text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)?;
        if !self.text.is_empty() {
            write!(f, ": {}", Quoted(&self.text))?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A non-fatal remark about a configuration file: something accepted but ignored, or overridden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, as given to [`super::parse`] or [`super::load`].
    pub file: PathBuf,
    /// 1-based line the remark is about.
    pub line: u32,
    /// What happened, with any quoted file text already cut and escaped.
    pub message: String,
}

impl fmt::Display for Warning {
    /// `FILE:LINE: MESSAGE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// At most [`MAX_SHOWN_CHARS`] characters of `text`, with "..." appended when some were cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => {
            let mut shown = String::with_capacity(cut + 3);
            shown.push_str(&text[..cut]);
            shown.push_str("...");
            shown
        }
    }
}

/// Displays text between double quotes, escaping quotes, backslashes and control characters.
pub(crate) struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c.is_control() || c == '"' || c == '\\' {
                write!(f, "{}", c.escape_debug())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        f.write_str("\"")
    }
}

/// File text quoted for a warning message: cut like an error's text, then quoted and escaped.
pub(crate) fn quote(text: &str) -> String {
    Quoted(&excerpt(text)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_file_line_reason_text() {
        let e = ConfigError::new(
            Path::new("/etc/csflowd.conf"),
            12,
            ConfigErrorKind::PortOutOfRange,
            "70000",
        );
        assert_eq!(
            e.to_string(),
            "/etc/csflowd.conf:12: port out of range: \"70000\""
        );
    }

    #[test]
    fn display_without_text_has_no_quotes() {
        let e = ConfigError::new(Path::new("a.conf"), 0, ConfigErrorKind::FileTooLarge, "");
        assert_eq!(e.to_string(), "a.conf:0: file larger than 1 MiB");
    }

    #[test]
    fn control_characters_quotes_and_backslashes_are_escaped() {
        let e = ConfigError::new(
            Path::new("a.conf"),
            1,
            ConfigErrorKind::BadAddress,
            "a\u{1b}[2J\"\\\0\t",
        );
        assert_eq!(
            e.to_string(),
            "a.conf:1: bad IP address: \"a\\u{1b}[2J\\\"\\\\\\0\\t\""
        );
    }

    #[test]
    fn long_text_is_cut_to_80_characters() {
        let long = "é".repeat(200);
        let e = ConfigError::new(Path::new("a.conf"), 3, ConfigErrorKind::BadUuid, &long);
        assert_eq!(e.text.chars().count(), MAX_SHOWN_CHARS + 3);
        assert!(e.text.ends_with("é..."));
        assert_eq!(excerpt("short"), "short");
        assert_eq!(excerpt(&"x".repeat(80)), "x".repeat(80));
    }

    #[test]
    fn warning_display() {
        let w = Warning {
            file: PathBuf::from("/etc/hsflowd.conf"),
            line: 4,
            message: format!("unknown setting {} in sflow: skipped", quote("foo\n")),
        };
        assert_eq!(
            w.to_string(),
            "/etc/hsflowd.conf:4: unknown setting \"foo\\n\" in sflow: skipped"
        );
    }

    #[test]
    fn every_kind_has_a_description() {
        assert_eq!(ConfigErrorKind::MissingValue.to_string(), "missing value");
        assert!(!ConfigErrorKind::HostName.description().is_empty());
    }
}
