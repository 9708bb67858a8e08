//! The ECDSA nonce of RFC 6979 §3.2 for P-256 with SHA-256 (qlen = hlen =
//! 256 bits), with HMAC-SHA256 (RFC 2104) written out over sha2's block
//! function ([`crate::sha256`]): RustCrypto's `hmac` 0.13 (`SimpleHmac`) did
//! the same for 160 B more flash, which the M4F's 64 KiB budget could not
//! spare (README, issue 28), and the keyed SHA-256 states are kept as eight
//! words each, not as sha2 hashers copied by value. RFC 6979's A.2.5 vectors
//! check both on the device. p256-cm4's `sign` checks `1 ≤ k < n` and
//! `r, s ≠ 0` itself and asks for the next candidate otherwise, which is step
//! h.3's loop.
//!
//! The inputs are the private scalar and `h1 = SHA-256(m)`; nothing branches
//! on them (the reduction of `h1` mod n is a masked select), so the nonce
//! costs the same for every message: five HMACs, one more pair per retry.

use crate::sha256::{IV, absorb, finish};

/// The order n of P-256, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `V`'s initial value (step b), a constant so that no fill with ones is
/// linked in for it.
const V0: [u8; 32] = [1; 32];

/// HMAC-SHA256 (RFC 2104) keyed with a 32-byte key: the SHA-256 states
/// after `k ⊕ ipad` and `k ⊕ opad` (the key zero-padded to the 64-byte
/// block), kept so that each MAC under the same key costs its message and
/// one more block, not the two key blocks again. `inner` has absorbed
/// `done` bytes: the key block, and for [`Prefix`] a message block too.
struct Keyed {
    inner: [u32; 8],
    outer: [u32; 8],
    done: usize,
}

impl Keyed {
    #[inline(never)]
    fn new(k: &[u8; 32]) -> Self {
        // Written byte by byte: a fill with 0x36 would link `memset`.
        let mut pad = [0u8; 64];
        for (i, p) in pad.iter_mut().enumerate() {
            *p = k.get(i).copied().unwrap_or(0) ^ 0x36;
        }
        let inner = absorb(IV, &pad);
        for p in &mut pad {
            *p ^= 0x36 ^ 0x5c;
        }
        Self {
            inner,
            outer: absorb(IV, &pad),
            done: 64,
        }
    }

    /// `H((k ⊕ opad) ‖ H((k ⊕ ipad) ‖ p ‖ m))`, `p` the message block
    /// absorbed already, if any.
    fn mac(&self, m: &[u8]) -> [u8; 32] {
        finish(self.outer, 64, &finish(self.inner, self.done, m))
    }
}

/// What step d's `K = HMAC_K(V ‖ 0x00 ‖ x ‖ h1)` has in common for every
/// signature with one key, computed once when the key is loaded: its key
/// (`K = 0`), and its first message block `V ‖ 0x00 ‖ x[0..31]` (`V =
/// 0x01…01`): three of the nonce's 18 compressions.
pub struct Prefix(Keyed);

impl Prefix {
    /// The prefix for the private scalar `x` (big-endian).
    pub fn new(x: &[u8; 32]) -> Self {
        let mut k = Keyed::new(&[0; 32]);
        let mut block = [0u8; 64];
        cat(&mut block, &[&V0, &[0], x.get(..31).unwrap_or_default()]);
        k.inner = absorb(k.inner, &block);
        k.done = 128;
        Self(k)
    }
}

/// `out` filled with the concatenation of `parts` (as far as it goes).
fn cat(out: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for p in parts {
        if let Some(o) = out.get_mut(at..at + p.len()) {
            o.copy_from_slice(p);
        }
        at += p.len();
    }
}

/// `bits2octets(h1)` (§2.3.4) for qlen = hlen: `h1 mod n`, i.e. `h1 − n`
/// when `h1 ≥ n` (h1 < 2²⁵⁶ < 2n), chosen by mask.
fn bits2octets(h1: &[u8; 32]) -> [u8; 32] {
    let mut diff = [0u8; 32];
    let mut borrow = 0u16;
    for ((d, &a), &b) in diff.iter_mut().zip(h1).zip(&N).rev() {
        let t = u16::from(a).wrapping_sub(u16::from(b)).wrapping_sub(borrow);
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

/// The HMAC_DRBG state (`K`, keyed, and `V`) of §3.2 steps d–g, and
/// whether a candidate was drawn already.
pub struct Nonces {
    k: Keyed,
    v: [u8; 32],
    drawn: bool,
}

impl Nonces {
    /// Steps a–g for the private scalar `x` (big-endian, 1 ≤ x < n), its
    /// [`Prefix`] and `h1 = SHA-256(m)`.
    pub fn new(prefix: &Prefix, x: &[u8; 32], h1: &[u8; 32]) -> Self {
        let h = bits2octets(h1);
        let mut m = [0u8; 97];
        // d: the message's last 33 bytes, `x[31] ‖ h`, after the prefix.
        cat(&mut m, &[x.get(31..).unwrap_or_default(), &h]);
        let k = Keyed::new(&prefix.0.mac(m.get(..33).unwrap_or_default()));
        let v = k.mac(&V0);
        cat(&mut m, &[&v, &[1], x, &h]);
        let k = Keyed::new(&k.mac(&m));
        let v = k.mac(&v);
        Self { k, v, drawn: false }
    }

    /// Step h: the next candidate `k` (big-endian); after the first, step
    /// h.3's `K = HMAC_K(V ‖ 0x00)`, `V = HMAC_K(V)` comes first.
    pub fn next_k(&mut self) -> [u8; 32] {
        if self.drawn {
            let mut m = [0u8; 33];
            cat(&mut m, &[&self.v]);
            self.k = Keyed::new(&self.k.mac(&m));
            self.v = self.k.mac(&self.v);
        }
        self.drawn = true;
        self.v = self.k.mac(&self.v);
        self.v
    }
}
