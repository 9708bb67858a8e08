//! Framed request/response codec for the verifier firmware (work in progress).
#![no_std]
