//! A timer wheel of poll deadlines.
//!
//! (skeleton)
