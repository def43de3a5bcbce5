//! The physical host's own counters, read from /proc and /sys under configurable roots.
//!
//! (skeleton: the readers are being written)
