//! Frames out of a byte stream: [`Receiver`] reassembles them in a fixed buffer.

use crate::decode::{open_frame_cap, parse_header_cap};
use crate::*;

/// What [`Receiver::push`] made of one more byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The frame is not complete yet.
    Pending,
    /// A whole frame with a good header and CRC is in [`Receiver::frame`].
    Frame,
    /// The bytes so far cannot be a frame. The receiver has dropped them and
    /// hunts for the next [`MAGIC`]; a run of garbage is reported once.
    Error(DecodeError),
}

/// Reassembles frames from a byte stream into a fixed `CAP`-byte buffer;
/// payloads over `CAP - OVERHEAD` bytes are refused as they are announced.
#[derive(Clone, Debug)]
pub struct Receiver<const CAP: usize> {
    buf: [u8; CAP],
    fill: usize,
    /// The frame's whole length once its header is in; 0 before (so that a
    /// new receiver is all zeros and can live in `.bss`).
    frame_len: usize,
    in_garbage: bool,
}

impl<const CAP: usize> Default for Receiver<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> Receiver<CAP> {
    /// The largest payload accepted.
    pub const MAX_PAYLOAD: usize = CAP.saturating_sub(OVERHEAD);

    /// An empty receiver.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; CAP],
            fill: 0,
            frame_len: 0,
            in_garbage: false,
        }
    }

    /// Bytes the current frame needs in all, as far as known.
    const fn need(&self) -> usize {
        if self.frame_len == 0 {
            HEADER_LEN
        } else {
            self.frame_len
        }
    }

    /// Forgets any partial frame (keeps the garbage state).
    pub fn reset(&mut self) {
        self.fill = 0;
        self.frame_len = 0;
    }

    /// Whether part of a frame has been received (a frame already handed
    /// out by [`Progress::Frame`] does not count).
    #[must_use]
    pub const fn is_partial(&self) -> bool {
        self.fill > 0 && self.fill < self.need()
    }

    /// Gives up on a partial frame (e.g. after an idle timeout): returns
    /// [`DecodeError::Truncated`] if there was one.
    pub fn abort(&mut self) -> Option<DecodeError> {
        if !self.is_partial() {
            return None;
        }
        let need = self.need().saturating_sub(self.fill);
        self.reset();
        Some(DecodeError::Truncated { need })
    }

    /// The frame completed by the last [`Progress::Frame`].
    #[must_use]
    pub fn frame(&self) -> &[u8] {
        self.buf.get(..self.fill).unwrap_or_default()
    }

    /// Feeds one byte.
    pub fn push(&mut self, b: u8) -> Progress {
        if self.fill >= self.need() {
            // The previous frame was handed out; start a new one.
            self.reset();
        }
        // Hunting for the magic.
        let magic_pos = self.fill.min(2);
        if let Some(&m) = MAGIC.get(magic_pos)
            && b != m
        {
            self.reset();
            // "AA": the second 'A' may start the magic.
            if let Some(&m0) = MAGIC.first()
                && b == m0
            {
                if let Some(slot) = self.buf.get_mut(0) {
                    *slot = b;
                    self.fill = 1;
                }
                return Progress::Pending;
            }
            if self.in_garbage {
                return Progress::Pending;
            }
            self.in_garbage = true;
            return Progress::Error(DecodeError::BadMagic);
        }
        let Some(slot) = self.buf.get_mut(self.fill) else {
            self.reset();
            return Progress::Error(DecodeError::Oversized {
                len: u32::try_from(self.need()).unwrap_or(u32::MAX),
                max: u32::try_from(Self::MAX_PAYLOAD).unwrap_or(u32::MAX),
            });
        };
        *slot = b;
        self.fill += 1;
        if self.fill == HEADER_LEN {
            match parse_header_cap(&self.buf, Self::MAX_PAYLOAD) {
                Ok(h) => self.frame_len = h.frame_len(),
                Err(e) => {
                    self.reset();
                    self.in_garbage = true;
                    return Progress::Error(e);
                }
            }
        }
        if self.fill < self.need() {
            return Progress::Pending;
        }
        self.in_garbage = false;
        match open_frame_cap(self.frame(), Self::MAX_PAYLOAD) {
            Ok(_) => Progress::Frame,
            Err(e) => {
                self.reset();
                Progress::Error(e)
            }
        }
    }
}
