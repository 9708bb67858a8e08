//! benches only
