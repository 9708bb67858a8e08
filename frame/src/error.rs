//! Why bytes did not decode or a message did not encode: typed, never a panic.

/// Why bytes did not decode to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the frame did; `need` more bytes are required at least.
    Truncated {
        /// Bytes missing.
        need: usize,
    },
    /// The frame does not start with [`MAGIC`].
    BadMagic,
    /// A version this crate does not speak.
    BadVersion {
        /// The version byte found.
        version: u8,
    },
    /// A frame type that is not defined, or not expected here.
    UnknownType {
        /// The type byte found.
        ty: u8,
    },
    /// The declared payload is longer than the decoder's maximum.
    Oversized {
        /// Declared payload length.
        len: u32,
        /// The maximum accepted.
        max: u32,
    },
    /// The CRC does not match the frame's contents.
    Checksum {
        /// CRC carried by the frame.
        stated: u32,
        /// CRC computed over the frame.
        computed: u32,
    },
    /// The payload's structure is wrong: a field runs past the end, a length
    /// or tag is out of range, text is not UTF-8, or bytes are left over.
    Malformed {
        /// The field at which decoding failed.
        field: Field,
    },
}

/// Fields of the payloads, named in [`DecodeError::Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    /// `now`.
    Now = 1,
    /// The step index.
    Index = 2,
    /// The tree size.
    TreeSize = 3,
    /// The token.
    Token = 4,
    /// The call's MCP server.
    Mcp = 5,
    /// The call's action.
    Action = 6,
    /// The call's params.
    Params = 7,
    /// The step JSON.
    Step = 8,
    /// The sibling hashes.
    Siblings = 9,
    /// The response status byte.
    Status = 10,
    /// A rejection kind.
    Kind = 11,
    /// An error name.
    ErrorName = 12,
    /// Fixed-size numbers or hashes of a response.
    Body = 13,
    /// The algorithm byte of a bare-verify request.
    Alg = 14,
    /// Bytes after the last field.
    Trailing = 15,
}

impl Field {
    pub(crate) fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Now,
            2 => Self::Index,
            3 => Self::TreeSize,
            4 => Self::Token,
            5 => Self::Mcp,
            6 => Self::Action,
            7 => Self::Params,
            8 => Self::Step,
            9 => Self::Siblings,
            10 => Self::Status,
            11 => Self::Kind,
            12 => Self::ErrorName,
            13 => Self::Body,
            14 => Self::Alg,
            15 => Self::Trailing,
            _ => return None,
        })
    }
}

impl DecodeError {
    /// A compact code for sending the error back in a [`Response::FrameError`]:
    /// `(class, detail)`.
    #[must_use]
    pub const fn code(&self) -> (u8, u8) {
        match *self {
            Self::Truncated { .. } => (1, 0),
            Self::BadMagic => (2, 0),
            Self::BadVersion { version } => (3, version),
            Self::UnknownType { ty } => (4, ty),
            Self::Oversized { .. } => (5, 0),
            Self::Checksum { .. } => (6, 0),
            Self::Malformed { field } => (7, field as u8),
        }
    }

    /// The stable name of the error class.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "Truncated",
            Self::BadMagic => "BadMagic",
            Self::BadVersion { .. } => "BadVersion",
            Self::UnknownType { .. } => "UnknownType",
            Self::Oversized { .. } => "Oversized",
            Self::Checksum { .. } => "Checksum",
            Self::Malformed { .. } => "Malformed",
        }
    }
}

/// A [`DecodeError`] as it travels in a [`Response::FrameError`] (the counts
/// and CRCs stay on the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameErrorCode {
    /// [`DecodeError::Truncated`].
    Truncated,
    /// [`DecodeError::BadMagic`].
    BadMagic,
    /// [`DecodeError::BadVersion`].
    BadVersion(u8),
    /// [`DecodeError::UnknownType`].
    UnknownType(u8),
    /// [`DecodeError::Oversized`].
    Oversized,
    /// [`DecodeError::Checksum`].
    Checksum,
    /// [`DecodeError::Malformed`].
    Malformed(Field),
}

impl From<DecodeError> for FrameErrorCode {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated { .. } => Self::Truncated,
            DecodeError::BadMagic => Self::BadMagic,
            DecodeError::BadVersion { version } => Self::BadVersion(version),
            DecodeError::UnknownType { ty } => Self::UnknownType(ty),
            DecodeError::Oversized { .. } => Self::Oversized,
            DecodeError::Checksum { .. } => Self::Checksum,
            DecodeError::Malformed { field } => Self::Malformed(field),
        }
    }
}

impl FrameErrorCode {
    /// The stable name of the error class.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Truncated => "Truncated",
            Self::BadMagic => "BadMagic",
            Self::BadVersion(_) => "BadVersion",
            Self::UnknownType(_) => "UnknownType",
            Self::Oversized => "Oversized",
            Self::Checksum => "Checksum",
            Self::Malformed(_) => "Malformed",
        }
    }

    pub(crate) const fn to_bytes(self) -> [u8; 2] {
        match self {
            Self::Truncated => [1, 0],
            Self::BadMagic => [2, 0],
            Self::BadVersion(v) => [3, v],
            Self::UnknownType(t) => [4, t],
            Self::Oversized => [5, 0],
            Self::Checksum => [6, 0],
            Self::Malformed(f) => [7, f as u8],
        }
    }

    /// Reads a (class, detail) pair. Classes without a detail require a zero
    /// detail byte, so every accepted byte string has one meaning and
    /// re-encodes to itself.
    pub(crate) fn from_bytes(class: u8, detail: u8) -> Option<Self> {
        Some(match (class, detail) {
            (1, 0) => Self::Truncated,
            (2, 0) => Self::BadMagic,
            (3, v) => Self::BadVersion(v),
            (4, t) => Self::UnknownType(t),
            (5, 0) => Self::Oversized,
            (6, 0) => Self::Checksum,
            (7, f) => Self::Malformed(Field::from_u8(f)?),
            _ => return None,
        })
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small; `need` bytes are required.
    BufferTooSmall {
        /// Bytes the whole frame needs.
        need: usize,
    },
    /// A field is longer than its length prefix (65 535 bytes) or, for
    /// siblings, more than [`MAX_SIBLINGS`].
    FieldTooLong {
        /// The field.
        field: Field,
    },
}
