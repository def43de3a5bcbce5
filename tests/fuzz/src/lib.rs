//! Shared checks for the fuzz targets: the same oracle the stable randomized test
//! (tests/decoders_randomized.rs) includes.

pub mod oracle;

/// How many leading bytes of a fuzz input steer a target (limits and the split), for the targets
/// that take them; the rest is the input under test. The seed maker writes this many zeros.
pub const CONTROL_BYTES: usize = 10;

/// Splits a fuzz input into its control bytes and the input under test (short inputs have no
/// input under test).
pub fn controls(data: &[u8]) -> ([u8; CONTROL_BYTES], &[u8]) {
    let mut control = [0u8; CONTROL_BYTES];
    let (head, rest) = data.split_at(data.len().min(CONTROL_BYTES));
    control[..head.len()].copy_from_slice(head);
    (control, rest)
}
