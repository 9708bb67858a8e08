//! Talking to the verifier firmware over its UART: boot it in QEMU (UART0 on a
//! Unix socket), or open a serial device or a TCP port (`cargo run` in
//! `firmware/` serves UART0 on tcp 127.0.0.1:4444), then exchange
//! `armoriq-frame` frames.

pub mod elf_arch;

use armoriq_frame::{
    self as frame, DecodeError, EncodeError, OVERHEAD, Progress, Receiver, Request, Response,
};
use std::fmt;
use std::io::{self, Read, Write};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Largest request payload the firmware accepts (its `MAX_REQUEST`).
pub const MAX_REQUEST: usize = 4096;
/// Largest response payload expected.
pub const MAX_RESPONSE: usize = 512;
/// How long to wait for a response by default (QEMU TCG, first-run translation).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed exchange with the device.
#[derive(Debug)]
pub enum DeviceError {
    /// Starting QEMU, connecting, reading or writing failed.
    Io(io::Error),
    /// The request could not be framed.
    Encode(EncodeError),
    /// The device's answer is not a valid response frame.
    Decode(DecodeError),
    /// The device sent nothing for the timeout.
    Timeout,
    /// The connection closed.
    Closed,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "device I/O: {e}"),
            Self::Encode(e) => write!(f, "request does not fit a frame: {e:?}"),
            Self::Decode(e) => write!(f, "bad response frame: {e:?}"),
            Self::Timeout => f.write_str("no response from the device (timeout)"),
            Self::Closed => f.write_str("the device closed the connection"),
        }
    }
}

impl std::error::Error for DeviceError {}

impl From<io::Error> for DeviceError {
    fn from(e: io::Error) -> Self {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            Self::Timeout
        } else {
            Self::Io(e)
        }
    }
}

/// How to boot the firmware in QEMU.
#[derive(Clone, Debug)]
pub struct QemuOptions {
    /// `qemu-system-arm` (or a path to it).
    pub qemu: PathBuf,
    /// `-M`: `mps2-an386` (Cortex-M4F, thumbv7em-none-eabihf),
    /// `mps2-an385` (Cortex-M3, thumbv7m-none-eabi) or `mps2-an505`
    /// (Cortex-M33, thumbv8m.main-none-eabihf).
    pub machine: String,
    /// `-icount shift=0`: one virtual nanosecond per instruction, so the
    /// firmware's SysTick counts are deterministic.
    pub icount: bool,
    /// Where QEMU's stdout (the binary defmt log) goes; discarded if `None`.
    pub log: Option<PathBuf>,
    /// More QEMU arguments (e.g. `-plugin …`), placed before `-kernel`.
    pub extra_args: Vec<std::ffi::OsString>,
}

impl Default for QemuOptions {
    fn default() -> Self {
        Self {
            qemu: PathBuf::from("qemu-system-arm"),
            machine: "mps2-an386".into(),
            icount: false,
            log: None,
            extra_args: Vec::new(),
        }
    }
}

impl QemuOptions {
    /// The options for an ELF, its machine picked from the architecture its
    /// ARM build attributes name ([`elf_arch`]): `mps2-an385` (Armv7-M,
    /// Cortex-M3), `mps2-an386` (Armv7E-M, Cortex-M4F), `mps2-an505`
    /// (Armv8-M Mainline, Cortex-M33).
    ///
    /// # Errors
    /// The file cannot be read, has no build attributes, or names another
    /// architecture.
    pub fn for_elf(elf: &Path) -> Result<Self, String> {
        let arch = elf_arch::arch_of(elf)?;
        let machine = elf_arch::machine_for(arch).map_err(|e| format!("{}: {e}", elf.display()))?;
        Ok(Self {
            machine: machine.into(),
            ..Self::default()
        })
    }
}

/// Whether `qemu` can be started.
#[must_use]
pub fn qemu_available(qemu: &Path) -> bool {
    Command::new(qemu)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where QEMU serves UART0: a Unix socket in the boot's temp dir, or (where
/// there are no Unix sockets) a free loopback TCP port.
#[cfg(unix)]
struct UartSocket(PathBuf);

#[cfg(unix)]
impl UartSocket {
    fn new(dir: &Path) -> io::Result<Self> {
        Ok(Self(dir.join("uart0.sock")))
    }

    fn chardev(&self) -> String {
        format!("path={}", self.0.display())
    }

    fn connect(&self) -> Option<Box<dyn Link>> {
        UnixStream::connect(&self.0)
            .ok()
            .map(|s| Box::new(s) as Box<dyn Link>)
    }
}

#[cfg(not(unix))]
struct UartSocket(u16);

#[cfg(not(unix))]
impl UartSocket {
    fn new(_dir: &Path) -> io::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Ok(Self(port))
    }

    fn chardev(&self) -> String {
        format!("host=127.0.0.1,port={}", self.0)
    }

    fn connect(&self) -> Option<Box<dyn Link>> {
        std::net::TcpStream::connect(("127.0.0.1", self.0))
            .ok()
            .map(|s| Box::new(s) as Box<dyn Link>)
    }
}

trait Link: Read + Write + Send {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()>;
}

#[cfg(unix)]
impl Link for UnixStream {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

impl Link for std::net::TcpStream {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

impl Link for std::fs::File {
    fn set_timeout(&mut self, _: Duration) -> io::Result<()> {
        // A serial device: reads block (no timeout on a plain file descriptor).
        Ok(())
    }
}

struct QemuProcess {
    child: Child,
    dir: PathBuf,
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response frame received from the device.
#[derive(Clone, Debug)]
pub struct ResponseFrame(Vec<u8>);

impl ResponseFrame {
    /// The decoded response (checked when the frame was received).
    ///
    /// # Panics
    /// Never: the frame decoded when it was received.
    #[must_use]
    pub fn response(&self) -> Response<'_> {
        #[allow(clippy::expect_used)]
        frame::decode_response::<MAX_RESPONSE>(&self.0)
            .map(|(r, _)| r)
            .expect("checked on receipt")
    }

    /// The raw frame.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A connection to the firmware.
pub struct Device {
    link: Box<dyn Link>,
    rx: Box<Receiver<{ MAX_RESPONSE + OVERHEAD }>>,
    timeout: Duration,
    qemu: Option<QemuProcess>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("qemu", &self.qemu.as_ref().map(|q| q.child.id()))
            .finish_non_exhaustive()
    }
}

static BOOTS: AtomicU32 = AtomicU32::new(0);

impl Device {
    fn new(link: Box<dyn Link>, qemu: Option<QemuProcess>) -> io::Result<Self> {
        let mut d = Self {
            link,
            rx: Box::new(Receiver::new()),
            timeout: DEFAULT_TIMEOUT,
            qemu,
        };
        d.link.set_timeout(d.timeout)?;
        Ok(d)
    }

    /// Boots `elf` in QEMU with UART0 on a fresh Unix socket (on other
    /// systems a loopback TCP port) and connects to it (QEMU waits for the
    /// connection, so no byte is lost).
    ///
    /// # Errors
    /// When QEMU cannot be started or exits, or the socket does not appear
    /// within 20 s.
    pub fn boot_qemu(elf: &Path, opts: &QemuOptions) -> io::Result<Self> {
        let n = BOOTS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("armoriq-qemu-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let uart = UartSocket::new(&dir)?;
        let stdout = match &opts.log {
            Some(p) => Stdio::from(std::fs::File::create(p)?),
            None => Stdio::null(),
        };
        let stderr_path = dir.join("qemu.stderr");
        let mut cmd = Command::new(&opts.qemu);
        cmd.args(["-M", &opts.machine, "-nographic", "-monitor", "none"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-chardev")
            .arg(format!(
                "socket,id=uart0,{},server=on,wait=on",
                uart.chardev()
            ))
            .args(["-serial", "chardev:uart0"]);
        if opts.icount {
            cmd.args(["-icount", "shift=0"]);
        }
        cmd.args(&opts.extra_args);
        cmd.arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(std::fs::File::create(&stderr_path)?));
        let child = cmd
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", opts.qemu.display())))?;
        let mut proc = QemuProcess { child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(link) = uart.connect() {
                return Self::new(link, Some(proc));
            }
            if let Some(status) = proc.child.try_wait()? {
                let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "QEMU exited ({status}) before serving UART0: {}",
                    err.trim()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "QEMU did not open its UART socket within 20 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens a serial device or a QEMU pty. It is put in raw mode without echo
    /// first (`stty -F PATH raw -echo`, best effort: the line speed is left
    /// as configured).
    ///
    /// # Errors
    /// When it cannot be opened.
    pub fn open_serial(path: &Path) -> io::Result<Self> {
        let _ = Command::new("stty")
            .arg("-F")
            .arg(path)
            .args(["raw", "-echo"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Self::new(Box::new(f), None)
    }

    /// Connects to a UART served over TCP (`qemu -serial tcp:…,server`).
    ///
    /// # Errors
    /// When the connection fails.
    pub fn connect_tcp(addr: &str) -> io::Result<Self> {
        let s = std::net::TcpStream::connect(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))?;
        Self::new(Box::new(s), None)
    }

    /// Sets how long to wait for each response.
    ///
    /// # Errors
    /// When the link refuses the timeout.
    pub fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.timeout = t;
        self.link.set_timeout(t)
    }

    /// Whether the QEMU this device runs in (if any) has exited.
    ///
    /// # Errors
    /// When the process status cannot be read.
    pub fn qemu_exited(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        match &mut self.qemu {
            Some(q) => q.child.try_wait(),
            None => Ok(None),
        }
    }

    /// Writes raw bytes to the UART (for tests: garbage, truncated frames).
    ///
    /// # Errors
    /// The I/O error.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), DeviceError> {
        self.link.write_all(bytes)?;
        self.link.flush()?;
        Ok(())
    }

    /// Reads the next response frame.
    ///
    /// # Errors
    /// [`DeviceError::Timeout`], [`DeviceError::Closed`], [`DeviceError::Decode`].
    pub fn read_response(&mut self) -> Result<ResponseFrame, DeviceError> {
        let mut byte = [0u8; 1];
        loop {
            if self.link.read(&mut byte)? == 0 {
                return Err(DeviceError::Closed);
            }
            match self.rx.push(byte[0]) {
                Progress::Pending => {}
                Progress::Error(e) => return Err(DeviceError::Decode(e)),
                Progress::Frame => {
                    let bytes = self.rx.frame().to_vec();
                    frame::decode_response::<MAX_RESPONSE>(&bytes).map_err(DeviceError::Decode)?;
                    return Ok(ResponseFrame(bytes));
                }
            }
        }
    }

    /// Sends `req` and returns the device's answer.
    ///
    /// # Errors
    /// As [`Device::send_raw`] and [`Device::read_response`], and
    /// [`DeviceError::Encode`].
    pub fn request(&mut self, req: &Request<'_>) -> Result<ResponseFrame, DeviceError> {
        let mut out = vec![0u8; MAX_REQUEST + OVERHEAD];
        let n = frame::encode_request(req, &mut out).map_err(DeviceError::Encode)?;
        if n > MAX_REQUEST + OVERHEAD {
            return Err(DeviceError::Encode(EncodeError::BufferTooSmall { need: n }));
        }
        self.send_raw(out.get(..n).unwrap_or_default())?;
        self.read_response()
    }
}
