//! The hardware-checked gateway (`armoriq serve --device …`): the verifier
//! firmware is asked about every call the host accepted, and signs a receipt
//! for each one it accepts (SPEC §7).
//!
//! * [`spec`]: where the device is (`tcp:`, `serial:`, `qemu:`).
//! * [`link`]: one connection, one worker, a bounded ordered queue.
//! * [`enrolled`]: the pinned device key.
//! * [`check`]: the proxy's step, from verdict to audit row.
//! * [`log_check`]: `armoriq logs --verify-receipts`.

pub mod check;
pub mod enrolled;
pub mod link;
pub mod log_check;
pub mod spec;

pub use link::{DeviceLink, device_info, open};
pub use spec::DeviceSpec;
use std::path::Path;
use std::time::Duration;

/// How the gateway talks to its device.
#[derive(Clone, Debug)]
pub struct DeviceSettings {
    /// Where it is.
    pub spec: DeviceSpec,
    /// Longest wait for one verdict, queueing included.
    pub timeout: Duration,
    /// Calls that may wait for the device; one more is refused (503).
    pub queue: usize,
}

/// Opens the device, reads its identity, requires it to be the enrolled
/// one, and starts its worker.
///
/// # Errors
/// Unreachable, a firmware without receipts, or not the enrolled device.
pub fn connect(settings: &DeviceSettings, state_dir: &Path) -> Result<DeviceLink, String> {
    let mut dev = open(&settings.spec, settings.timeout)?;
    let info = device_info(&mut dev)?;
    enrolled::check(state_dir, &info)?;
    tracing::info!(
        device = %settings.spec,
        device_id = %hex::encode(info.device_id),
        counter = info.counter,
        "verifier device enrolled and connected"
    );
    DeviceLink::start(
        dev,
        settings.spec.clone(),
        info,
        settings.timeout,
        settings.queue,
    )
}
