//! Bounds the verifier enforces, so that a hostile export cannot make it use
//! unbounded memory.

/// Longest accepted line (one event), in bytes, newline included. Memory use
/// of the verifier is bounded by a small multiple of this, whatever the
/// length of the log.
pub const LINE_BYTES_MAX: usize = 4 * 1024 * 1024;
