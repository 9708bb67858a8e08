//! The only module with `unsafe`: volatile access to the CMSDK APB UART's
//! registers, and painting / scanning the stack region.
//!
//! Everything here exposes a safe interface: [`Uart::take`] hands out UART0
//! once, and the stack functions only touch memory below the live stack
//! pointer, between the linker's `_stack_end` and `_stack_start`.
#![allow(unsafe_code)]

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};

/// UART0 of the MPS2 AN385/AN386 FPGA images (QEMU `mps2-an385`/`mps2-an386`).
/// (0x4020_0000 is UART0 of the SSE-200 images AN505/AN521, not these.)
#[cfg(not(armoriq_an505))]
const UART0_BASE: usize = 0x4000_4000;
/// UART0 of the MPS2 AN505 (SSE-200, Cortex-M33; QEMU `mps2-an505`) through
/// its secure alias: the firmware runs in the Secure state it boots in
/// (0x4020_0000 is the non-secure alias).
#[cfg(armoriq_an505)]
const UART0_BASE: usize = 0x5020_0000;

// CMSDK APB UART registers (ARM DDI 0479C §4.3).
const DATA: usize = 0x000;
const STATE: usize = 0x004;
const CTRL: usize = 0x008;
const BAUDDIV: usize = 0x010;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

static UART0_TAKEN: AtomicBool = AtomicBool::new(false);

/// The CMSDK APB UART, polled (no interrupts, no FIFO: one byte each way).
pub struct Uart {
    base: usize,
}

impl Uart {
    /// UART0, enabled for transmit and receive; `None` after the first call.
    pub fn take() -> Option<Self> {
        if UART0_TAKEN.swap(true, Ordering::AcqRel) {
            return None;
        }
        let u = Self { base: UART0_BASE };
        // The smallest legal divisor (QEMU ignores the baud rate; real
        // hardware at 25 MHz would run at 1.56 Mbaud).
        u.write_reg(BAUDDIV, 16);
        u.write_reg(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        Some(u)
    }

    fn read_reg(&self, off: usize) -> u32 {
        // SAFETY: `base + off` is a register of the UART this value owns
        // (only `take` creates one); registers are 32-bit, aligned MMIO.
        unsafe { read_volatile((self.base + off) as *const u32) }
    }

    fn write_reg(&self, off: usize, v: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { write_volatile((self.base + off) as *mut u32, v) }
    }

    fn rx_full(&self) -> bool {
        self.read_reg(STATE) & STATE_RX_FULL != 0
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = Infallible;
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.rx_full())
    }
}

impl embedded_io::Read for Uart {
    /// Blocks until a byte arrives; returns one byte (zero only for an empty `buf`).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let Some(first) = buf.first_mut() else {
            return Ok(0);
        };
        while !self.rx_full() {}
        *first = (self.read_reg(DATA) & 0xFF) as u8;
        Ok(1)
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
            self.write_reg(DATA, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}

/// The interrupt part of the vector table (cortex-m-rt's `device` feature):
/// the 32 external interrupts of the AN385/AN386 NVIC (QEMU's `num-irq` for
/// both boards), all bound to cortex-m-rt's `DefaultHandler`. The firmware
/// enables no interrupt; without this table cortex-m-rt puts in its generic
/// one, with 240 entries (960 B of flash instead of 128).
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [default_handler(); 32];

const fn default_handler() -> unsafe extern "C" fn() {
    unsafe extern "C" {
        // Defined by cortex-m-rt's link.x (`DefaultHandler_` unless overridden).
        fn DefaultHandler();
    }
    DefaultHandler
}

// From cortex-m-rt's link.x: the stack grows down from `_stack_start` (top of
// RAM) towards `_stack_end` (end of .bss/.uninit).
unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

const PAINT: u32 = 0xA5A5_5A5A;

fn stack_bounds() -> (usize, usize) {
    let bottom = (&raw const _stack_end) as usize;
    let top = (&raw const _stack_start) as usize;
    (bottom, top)
}

/// Fills the free stack (from its bottom to 64 bytes below the current stack
/// pointer) with a pattern; returns the stack's size in bytes.
#[inline(never)]
pub fn paint_stack() -> u32 {
    let (bottom, top) = stack_bounds();
    let sp = cortex_m::register::msp::read() as usize;
    let end = sp.saturating_sub(64);
    let mut p = bottom;
    while p + 4 <= end {
        // SAFETY: [bottom, sp - 64) is RAM reserved for the stack and below
        // every live frame (the stack grows down, no interrupts are enabled).
        unsafe { write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    (top - bottom) as u32
}

/// The deepest the stack has reached since [`paint_stack`]: bytes from the top
/// down to the lowest word that no longer holds the pattern.
#[inline(never)]
pub fn stack_peak() -> u32 {
    let (bottom, top) = stack_bounds();
    let mut p = bottom;
    while p < top {
        // SAFETY: reads of aligned words inside the stack region.
        if unsafe { read_volatile(p as *const u32) } != PAINT {
            break;
        }
        p += 4;
    }
    (top - p) as u32
}

/// Start marker of a measured region, for the instruction-count plugin
/// (`bench/insncount.c`): its address is looked up by symbol name. The two
/// markers have different bodies so the linker cannot fold them into one.
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn armoriq_bench_start() {
    // SAFETY: a `nop` has no effect.
    unsafe { core::arch::asm!("nop", options(nomem, nostack, preserves_flags)) }
}

/// End marker of a measured region; see [`armoriq_bench_start`].
#[inline(never)]
#[unsafe(no_mangle)]
pub extern "C" fn armoriq_bench_end() {
    // SAFETY: `nop`s have no effect.
    unsafe { core::arch::asm!("nop", "nop", options(nomem, nostack, preserves_flags)) }
}
