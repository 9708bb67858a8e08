//! `--device tcp:HOST:PORT | serial:PATH | qemu:ELF`.

use std::path::PathBuf;

/// Where the verifier device is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// A UART served over TCP (`qemu -serial tcp:…,server`, a serial server).
    Tcp(String),
    /// A serial device or pty.
    Serial(PathBuf),
    /// A firmware ELF booted in `qemu-system-arm` by the gateway.
    Qemu(PathBuf),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected tcp:HOST:PORT, serial:PATH or qemu:ELF"))?;
        if rest.is_empty() {
            return Err(format!("{s:?}: nothing after {kind:?}"));
        }
        match kind {
            "tcp" if rest.contains(':') => Ok(Self::Tcp(rest.to_owned())),
            "tcp" => Err(format!("{s:?}: expected tcp:HOST:PORT")),
            "serial" => Ok(Self::Serial(rest.into())),
            "qemu" => Ok(Self::Qemu(rest.into())),
            _ => Err(format!(
                "{s:?}: unknown transport {kind:?} (tcp:HOST:PORT, serial:PATH or qemu:ELF)"
            )),
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(a) => write!(f, "tcp:{a}"),
            Self::Serial(p) => write!(f, "serial:{}", p.display()),
            Self::Qemu(p) => write!(f, "qemu:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_transports_and_refuses_the_rest() {
        assert_eq!(
            "tcp:127.0.0.1:4444".parse(),
            Ok(DeviceSpec::Tcp("127.0.0.1:4444".into()))
        );
        assert_eq!(
            "serial:/dev/ttyUSB0".parse(),
            Ok(DeviceSpec::Serial("/dev/ttyUSB0".into()))
        );
        assert_eq!("qemu:fw.elf".parse(), Ok(DeviceSpec::Qemu("fw.elf".into())));
        for bad in ["tcp:4444", "usb:x", "qemu:", "nothing"] {
            assert!(bad.parse::<DeviceSpec>().is_err(), "{bad}");
        }
        assert_eq!(
            "serial:/dev/x".parse::<DeviceSpec>().unwrap().to_string(),
            "serial:/dev/x"
        );
    }
}
