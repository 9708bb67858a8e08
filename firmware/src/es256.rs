//! The firmware's P-256 backend (ES256, RFC 7518 §3.4), chosen by build.rs
//! (`armoriq_p256`):
//!
//! * `cm4`: p256-cm4, Emil Lenngren's Cortex-M4 assembly in Rust (UMAAL: needs
//!   the DSP extension), on thumbv7em and thumbv8m.main with the default
//!   feature `p256-cm4`. RustCrypto p256 is then not in the image's graph.
//! * `rustcrypto`: RustCrypto p256 through armoriq-core's `RustCrypto` backend,
//!   on thumbv7m (the Cortex-M3 has no DSP) or with `rustcrypto-p256`.
//!
//! Both take only the uncompressed form of a key (`0x04 ‖ x ‖ y`, what
//! build.rs provisions), check each coordinate below p and the point on the
//! curve when the key is parsed (at boot), and give the same verdicts on
//! Wycheproof's ECDSA P-256 / SHA-256 vectors (host-harness's firmware test).

use armoriq_core::Error;

/// The uncompressed SEC1 point's coordinates, or [`Error::KeyInvalid`].
#[cfg_attr(armoriq_p256 = "none", allow(dead_code))]
fn coordinates(sec1: &[u8]) -> Result<(&[u8; 32], &[u8; 32]), Error> {
    let Some((&0x04, xy)) = sec1.split_first() else {
        return Err(Error::KeyInvalid);
    };
    match (xy.first_chunk::<32>(), xy.last_chunk::<32>(), xy.len()) {
        (Some(x), Some(y), 64) => Ok((x, y)),
        _ => Err(Error::KeyInvalid),
    }
}

#[cfg(armoriq_p256 = "cm4")]
mod imp {
    use super::{Error, coordinates};
    use core::cell::Cell;
    use cortex_m::interrupt::{self, Mutex};
    use p256_cm4::VerifyTable;
    use static_cell::ConstStaticCell;

    /// The verify tables of a pinned key: the base point's and the key's.
    type Tables = (&'static VerifyTable, &'static VerifyTable);

    /// A P-256 public key as p256-cm4 takes it: x and y as little-endian
    /// 32-bit words, checked on the curve; a provisioned key also carries
    /// its verify table ([`key_pinned`]).
    #[derive(Clone, Copy)]
    pub struct P256Key {
        x: [u32; 8],
        y: [u32; 8],
        tables: Option<Tables>,
    }

    /// The same point (the tables follow from it).
    impl PartialEq for P256Key {
        fn eq(&self, other: &Self) -> bool {
            self.x == other.x && self.y == other.y
        }
    }

    impl Eq for P256Key {}

    impl core::fmt::Debug for P256Key {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("P256Key")
                .field("x", &self.x)
                .field("y", &self.y)
                .field("pinned", &self.tables.is_some())
                .finish()
        }
    }

    /// The base point's verify table (1 KiB of RAM), built at the first
    /// pinned key.
    static G_TABLE: ConstStaticCell<VerifyTable> = ConstStaticCell::new(VerifyTable::ZERO);
    static G: Mutex<Cell<Option<&'static VerifyTable>>> = Mutex::new(Cell::new(None));
    /// One verify table (1 KiB of RAM) per provisioned P-256 key.
    static PINNED: [ConstStaticCell<VerifyTable>; crate::provision::ES256_KEY_COUNT] =
        [const { ConstStaticCell::new(VerifyTable::ZERO) }; crate::provision::ES256_KEY_COUNT];

    /// The base point's table: built once (at boot, with the first key).
    /// `None` only if its cell was taken elsewhere, which nothing does.
    fn g_table() -> Option<&'static VerifyTable> {
        interrupt::free(|cs| {
            let g = G.borrow(cs);
            if g.get().is_none() {
                g.set(G_TABLE.try_take().map(|t| {
                    t.build_base();
                    &*t
                }));
            }
            g.get()
        })
    }

    /// Big-endian bytes to little-endian words.
    pub fn words(be: &[u8; 32]) -> [u32; 8] {
        let mut le = [0u8; 32];
        p256_cm4::convert_endianness(&mut le, be);
        let mut w = [0u32; 8];
        for (w, c) in w.iter_mut().zip(le.chunks_exact(4)) {
            let mut b = [0u8; 4];
            b.copy_from_slice(c);
            *w = u32::from_le_bytes(b);
        }
        w
    }

    /// Parses an uncompressed point: each coordinate below p, the point on
    /// the curve (p256-cm4's `uncompressed_to_point`, vendored; the form is checked
    /// here first, so its decompression path is never reached). Not pinned:
    /// each verify builds the key's table on the stack (the test vectors' keys).
    #[inline(never)]
    pub fn key(sec1: &[u8]) -> Result<P256Key, Error> {
        coordinates(sec1)?;
        let sec1: &[u8; 65] = sec1.try_into().map_err(|_| Error::KeyInvalid)?;
        let (mut x, mut y) = ([0u32; 8], [0u32; 8]);
        if p256_cm4::uncompressed_to_point(&mut x, &mut y, sec1) {
            Ok(P256Key { x, y, tables: None })
        } else {
            Err(Error::KeyInvalid)
        }
    }

    /// [`key`], pinned: a provisioned key, parsed once at boot, gets its
    /// verify table (its odd multiples 1..15 and those of 2^128 times it,
    /// affine) built here, once, in a static (one per provisioned P-256 key),
    /// and the base point's table with the first key. A key beyond those
    /// slots stays unpinned.
    #[inline(never)]
    pub fn key_pinned(sec1: &[u8]) -> Result<P256Key, Error> {
        let mut k = key(sec1)?;
        if let (Some(g), Some(slot)) = (g_table(), PINNED.iter().find_map(|c| c.try_take())) {
            slot.build(&k.x, &k.y);
            k.tables = Some((g, slot));
        }
        Ok(k)
    }

    /// ECDSA verify of `r ‖ s` over SHA-256(`msg`). p256-cm4 refuses r or s
    /// outside 1..n−1; the key was checked when it was parsed.
    pub fn verify(key: &P256Key, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
        let (Some(r), Some(s)) = (sig.first_chunk::<32>(), sig.last_chunk::<32>()) else {
            return Err(Error::BadSignature);
        };
        let hash = crate::sha256::digest(msg);
        let ok = match key.tables {
            Some((g, pk)) => p256_cm4::verify_with_tables(g, pk, &hash, &words(r), &words(s)),
            // A key parsed by `key` (the test vectors' keys). Without the
            // `test-vectors` feature there is none: every provisioned key is
            // pinned (a slot each); one that were not would be refused.
            None if cfg!(feature = "test-vectors") => unpinned(key, &hash, &words(r), &words(s)),
            None => false,
        };
        if ok { Ok(()) } else { Err(Error::BadSignature) }
    }

    /// A key that is not pinned: its table on the stack (1 KiB), built for
    /// this call.
    #[inline(never)]
    fn unpinned(key: &P256Key, hash: &[u8; 32], r: &[u32; 8], s: &[u32; 8]) -> bool {
        let mut pk = VerifyTable::ZERO;
        pk.build(&key.x, &key.y);
        g_table().is_some_and(|g| p256_cm4::verify_with_tables(g, &pk, hash, r, s))
    }
}

#[cfg(armoriq_p256 = "rustcrypto")]
mod imp {
    use super::{Error, coordinates};
    use armoriq_core::RustCrypto;
    use armoriq_core::sig::Backend;

    /// RustCrypto's P-256 key.
    pub type P256Key = <RustCrypto as Backend>::P256Key;

    /// Parses an uncompressed point with p256's coordinate check (each
    /// coordinate below p, the point on the curve, not the identity), as
    /// `from_sec1_bytes` makes it for this form; leaving out compressed keys
    /// leaves out p256's point decompression.
    #[inline(never)]
    pub fn key(sec1: &[u8]) -> Result<P256Key, Error> {
        use p256::elliptic_curve::point::AffineCoordinates;
        let (x, y) = coordinates(sec1)?;
        let point = p256::AffinePoint::from_coordinates(&(*x).into(), &(*y).into());
        let point = Option::<p256::AffinePoint>::from(point).ok_or(Error::KeyInvalid)?;
        p256::ecdsa::VerifyingKey::from_affine(point).map_err(|_| Error::KeyInvalid)
    }

    /// ECDSA verify of `r ‖ s` over `msg` (SHA-256).
    pub fn verify(key: &P256Key, msg: &[u8], sig: &[u8; 64]) -> Result<(), Error> {
        RustCrypto::verify_es256(key, msg, sig)
    }
}

/// No P-256 backend: an image without ES256 (`--no-default-features
/// --features eddsa`).
#[cfg(armoriq_p256 = "none")]
mod imp {
    use super::Error;

    /// No P-256 key exists.
    pub type P256Key = core::convert::Infallible;

    /// Every P-256 key is refused.
    pub fn key(_sec1: &[u8]) -> Result<P256Key, Error> {
        Err(Error::KeyInvalid)
    }

    /// Never called: there is no key.
    pub fn verify(key: &P256Key, _msg: &[u8], _sig: &[u8; 64]) -> Result<(), Error> {
        match *key {}
    }
}

/// Parses a provisioned key at boot.
#[cfg(not(armoriq_p256 = "cm4"))]
pub use imp::key as key_pinned;
/// Parses a provisioned key at boot; with p256-cm4 it is pinned with its
/// verify table.
#[cfg(armoriq_p256 = "cm4")]
pub use imp::key_pinned;
/// The receipt signer takes its scalars as p256-cm4 words too.
#[cfg(armoriq_receipt = "es256-cm4")]
pub use imp::words;
pub use imp::{P256Key, key, verify};

/// Whether the P-256 verify is small enough in stack (p256-cm4: ~2.2 KiB) to
/// run where armoriq-core asks for it, in one pass; RustCrypto's (a 6.2 KiB
/// frame) runs from `main` (see [`crate::deferred`]).
pub const INLINE: bool = cfg!(armoriq_p256 = "cm4");
