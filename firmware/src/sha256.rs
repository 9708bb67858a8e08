//! SHA-256 (FIPS 180-4) of a message held whole in memory, straight over
//! sha2's block function (`compress256`), for the firmware's own hashing: the
//! ES256 signing input, the receipt body and RFC 6979's HMACs. sha2's hasher
//! object buffers every byte and is moved by value (a `memcpy` of its ~110 B
//! state per clone, finalize and return), which cost a receipt ~28 k
//! instructions; here the whole blocks are compressed where they lie and only
//! the tail is copied. A state can also be kept after some whole blocks (an
//! HMAC key's padded block, a constant message prefix) and continued later.

use sha2::block_api::compress256;

/// The initial hash value H(0) (FIPS 180-4 §5.3.3).
pub const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// `state` after one more block (RFC 6979's HMAC keys).
#[cfg(armoriq_receipt = "es256-cm4")]
#[inline(always)]
pub fn absorb(mut state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    compress256(&mut state, core::slice::from_ref(block));
    state
}

/// The digest of a message whose first `done` bytes (a multiple of 64) are
/// already in `state` and whose rest is `msg`: `msg`'s whole blocks, then its
/// tail with the padding (§5.1.1) in one or two more blocks.
pub fn finish(mut state: [u32; 8], done: usize, msg: &[u8]) -> [u8; 32] {
    let (blocks, tail) = msg.as_chunks::<64>();
    compress256(&mut state, blocks);
    let mut last = [0u8; 128];
    // tail.len() < 64: every range below is inside the 128 bytes.
    let end = if tail.len() < 56 { 64 } else { 128 };
    if let Some(t) = last.get_mut(..tail.len()) {
        t.copy_from_slice(tail);
    }
    if let Some(b) = last.get_mut(tail.len()) {
        *b = 0x80;
    }
    let bits = ((done + msg.len()) as u64) << 3;
    if let Some(l) = last.get_mut(end - 8..end) {
        l.copy_from_slice(&bits.to_be_bytes());
    }
    let (padded, _) = last.as_chunks::<64>();
    compress256(&mut state, padded.get(..end / 64).unwrap_or_default());
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// SHA-256 of `msg`.
#[inline(always)]
pub fn digest(msg: &[u8]) -> [u8; 32] {
    finish(IV, 0, msg)
}
