//! A hand-written HTTP/1.1 client for the engine's UNIX socket: request writer and push-style response decoders.
//!
//! (skeleton: being written)
