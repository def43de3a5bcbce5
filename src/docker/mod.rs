//! The engine conversation: JSON documents of the Docker Engine API decoded into small structs, and
//! container identity.
//!
//! (skeleton: being written)
