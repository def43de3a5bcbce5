//! The agent: one poller, one timer wheel, the sources and the sender.
//!
//! (skeleton)
