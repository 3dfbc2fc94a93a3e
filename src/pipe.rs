//! Pipes: `pipe()` and its two ends.
