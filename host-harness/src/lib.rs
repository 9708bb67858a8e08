//! std side
