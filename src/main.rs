//! The `csflowd` program.

fn main() {}
