//! The enrolled device key: `armoriq device enroll` stores the public key a
//! device reports (`DeviceInfo`) in the state directory, and `armoriq serve
//! --device` refuses a device that reports another one (or any device when
//! none is enrolled). `armoriq logs --verify-receipts` checks receipts
//! against it.

use armoriq_core::receipt::ReceiptAlg;
use armoriq_frame::{DeviceInfo, DeviceKeyAlg};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The enrolled key's file in a state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("device-key.json")
}

/// Where enrollments before ES256 receipts were kept (an Ed25519 key);
/// read when [`path`] does not exist.
pub fn legacy_path(state_dir: &Path) -> PathBuf {
    state_dir.join("device-ed25519.json")
}

/// An enrolled device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// Its receipt algorithm: `EdDSA` (also when absent: files written
    /// before ES256 receipts) or `ES256`.
    #[serde(default = "eddsa")]
    pub alg: String,
    /// Its receipt key, lowercase hex: 32 raw Ed25519 bytes, or the 65-byte
    /// uncompressed P-256 point.
    pub public_key: String,
    /// Its id (SHA-256 of the key, first 16 bytes), lowercase hex.
    pub device_id: String,
}

fn eddsa() -> String {
    ReceiptAlg::Ed25519.name().to_owned()
}

/// An enrolled key: its algorithm and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrolledKey {
    /// The receipt algorithm.
    pub alg: ReceiptAlg,
    /// The public key's bytes.
    pub bytes: Vec<u8>,
}

/// The core's algorithm of a device's.
pub const fn receipt_alg(a: DeviceKeyAlg) -> ReceiptAlg {
    match a {
        DeviceKeyAlg::Ed25519 => ReceiptAlg::Ed25519,
        DeviceKeyAlg::Es256 => ReceiptAlg::Es256,
    }
}

impl Enrolled {
    /// The record of `info`.
    pub fn of(info: &DeviceInfo) -> Self {
        Self {
            alg: receipt_alg(info.alg).name().to_owned(),
            public_key: hex::encode(info.key()),
            device_id: hex::encode(info.device_id),
        }
    }

    /// The key's algorithm and bytes.
    ///
    /// # Errors
    /// An unknown algorithm, or no hex key of its length.
    pub fn key(&self) -> Result<EnrolledKey, String> {
        let alg = [ReceiptAlg::Ed25519, ReceiptAlg::Es256]
            .into_iter()
            .find(|a| a.name() == self.alg)
            .ok_or_else(|| format!("enrolled alg {:?}: not EdDSA or ES256", self.alg))?;
        let bytes = hex::decode(&self.public_key)
            .ok()
            .filter(|v| v.len() == alg.key_len())
            .ok_or_else(|| {
                format!(
                    "enrolled public_key: not {} bytes of hex ({})",
                    alg.key_len(),
                    alg.name()
                )
            })?;
        Ok(EnrolledKey { alg, bytes })
    }
}

/// The enrolled device, if any.
///
/// # Errors
/// The file exists but cannot be read or parsed.
pub fn load(state_dir: &Path) -> Result<Option<Enrolled>, String> {
    for p in [path(state_dir), legacy_path(state_dir)] {
        match std::fs::read(&p) {
            Ok(b) => {
                return serde_json::from_slice(&b)
                    .map(Some)
                    .map_err(|e| format!("{}: {e}", p.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", p.display())),
        }
    }
    Ok(None)
}

/// Stores `info` as the enrolled device (replacing any).
///
/// # Errors
/// The file cannot be written.
pub fn save(state_dir: &Path, info: &DeviceInfo) -> Result<Enrolled, String> {
    std::fs::create_dir_all(state_dir).map_err(|e| format!("{}: {e}", state_dir.display()))?;
    let e = Enrolled::of(info);
    let p = path(state_dir);
    let text = serde_json::to_string_pretty(&e).map_err(|e| e.to_string())?;
    std::fs::write(&p, text + "\n").map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(e)
}

/// Checks that `info` is the enrolled device.
///
/// # Errors
/// None enrolled, or another key.
pub fn check(state_dir: &Path, info: &DeviceInfo) -> Result<(), String> {
    let Some(e) = load(state_dir)? else {
        return Err(format!(
            "no device enrolled in {} (run `armoriq device enroll --device …` first)",
            state_dir.display()
        ));
    };
    let k = e.key()?;
    if k.alg != receipt_alg(info.alg) || k.bytes != info.key() {
        return Err(format!(
            "the device's receipt key {} {} is not the enrolled one {} {} ({}): refusing it",
            receipt_alg(info.alg).name(),
            hex::encode(info.key()),
            e.alg,
            e.public_key,
            path(state_dir).display()
        ));
    }
    Ok(())
}
