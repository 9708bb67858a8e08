//! The ECDSA nonce of RFC 6979 §3.2 for P-256 with SHA-256 (qlen = hlen =
//! 256 bits), with HMAC-SHA256 (RFC 2104) written out over the sha2 already
//! in the image: RustCrypto's `hmac` 0.13 (`SimpleHmac`) did the same for
//! 160 B more flash, which the M4F's 64 KiB budget could not spare (README,
//! issue 28). RFC 6979's A.2.5 vectors check both on the device. p256-cm4's `sign` checks `1 ≤ k < n` and `r, s ≠ 0` itself and
//! asks for the next candidate otherwise, which is step h.3's loop.
//!
//! The inputs are the private scalar and `h1 = SHA-256(m)`; nothing branches
//! on them (the reduction of `h1` mod n is a masked select), so the nonce
//! costs the same for every message: five HMACs, one more pair per retry.

use sha2::{Digest, Sha256};

/// The order n of P-256, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `V`'s initial value (step b), a constant so that no fill with ones is
/// linked in for it.
const V0: [u8; 32] = [1; 32];

/// HMAC-SHA256 (RFC 2104) with the 32-byte key `k` over the concatenation
/// of `parts`: `H((k ⊕ opad) ‖ H((k ⊕ ipad) ‖ m))`, the key zero-padded to
/// SHA-256's 64-byte block.
fn hmac(k: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut pad = [0u8; 64];
    for (p, &b) in pad.iter_mut().zip(k) {
        *p = b;
    }
    let xored = |x: u8| pad.map(|b| b ^ x);
    let mut inner = Sha256::new().chain_update(xored(0x36));
    for p in parts {
        inner.update(p);
    }
    Sha256::new()
        .chain_update(xored(0x5c))
        .chain_update(inner.finalize())
        .finalize()
        .into()
}

/// `bits2octets(h1)` (§2.3.4) for qlen = hlen: `h1 mod n`, i.e. `h1 − n`
/// when `h1 ≥ n` (h1 < 2²⁵⁶ < 2n), chosen by mask.
fn bits2octets(h1: &[u8; 32]) -> [u8; 32] {
    let mut diff = [0u8; 32];
    let mut borrow = 0u16;
    for ((d, &a), &b) in diff.iter_mut().zip(h1).zip(&N).rev() {
        let t = u16::from(a)
            .wrapping_sub(u16::from(b))
            .wrapping_sub(borrow);
        *d = t.to_le_bytes()[0];
        borrow = (t >> 8) & 1;
    }
    // borrow = 1: h1 < n, keep h1.
    let keep = 0u8.wrapping_sub(borrow.to_le_bytes()[0]);
    let mut out = [0u8; 32];
    for ((o, &a), &d) in out.iter_mut().zip(h1).zip(&diff) {
        *o = (a & keep) | (d & !keep);
    }
    out
}

/// The HMAC_DRBG state (`K`, `V`) of §3.2 steps d–g, and whether a
/// candidate was drawn already.
pub struct Nonces {
    k: [u8; 32],
    v: [u8; 32],
    drawn: bool,
}

impl Nonces {
    /// Steps a–g for the private scalar `x` (big-endian, 1 ≤ x < n) and
    /// `h1 = SHA-256(m)`.
    pub fn new(x: &[u8; 32], h1: &[u8; 32]) -> Self {
        let h = bits2octets(h1);
        let k = hmac(&[0; 32], &[&V0, &[0], x, &h]);
        let v = hmac(&k, &[&V0]);
        let k = hmac(&k, &[&v, &[1], x, &h]);
        let v = hmac(&k, &[&v]);
        Self {
            k,
            v,
            drawn: false,
        }
    }

    /// Step h: the next candidate `k` (big-endian); after the first, step
    /// h.3's `K = HMAC_K(V ‖ 0x00)`, `V = HMAC_K(V)` comes first.
    pub fn next_k(&mut self) -> [u8; 32] {
        if self.drawn {
            self.k = hmac(&self.k, &[&self.v, &[0]]);
            self.v = hmac(&self.k, &[&self.v]);
        }
        self.drawn = true;
        self.v = hmac(&self.k, &[&self.v]);
        self.v
    }
}
