//! The enrolled device key: `armoriq device enroll` stores the public key a
//! device reports (`DeviceInfo`) in the state directory, and `armoriq serve
//! --device` refuses a device that reports another one (or any device when
//! none is enrolled). `armoriq logs --verify-receipts` checks receipts
//! against it.

use armoriq_frame::DeviceInfo;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The enrolled key's file in a state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("device-ed25519.json")
}

/// An enrolled device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// Its Ed25519 receipt key, lowercase hex.
    pub public_key: String,
    /// Its id (SHA-256 of the key, first 16 bytes), lowercase hex.
    pub device_id: String,
}

impl Enrolled {
    /// The record of `info`.
    pub fn of(info: &DeviceInfo) -> Self {
        Self {
            public_key: hex::encode(info.public_key),
            device_id: hex::encode(info.device_id),
        }
    }

    /// The key's bytes.
    ///
    /// # Errors
    /// The file holds no 32-byte hex key.
    pub fn key(&self) -> Result<[u8; 32], String> {
        hex::decode(&self.public_key)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| "enrolled public_key: not 32 bytes of hex".to_owned())
    }
}

/// The enrolled device, if any.
///
/// # Errors
/// The file exists but cannot be read or parsed.
pub fn load(state_dir: &Path) -> Result<Option<Enrolled>, String> {
    let p = path(state_dir);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| format!("{}: {e}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
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
    if e.key()? != info.public_key {
        return Err(format!(
            "the device's receipt key {} is not the enrolled one {} ({}): refusing it",
            hex::encode(info.public_key),
            e.public_key,
            path(state_dir).display()
        ));
    }
    Ok(())
}
