//! CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320, init and xorout
//! 0xFFFFFFFF): the zlib, PNG and Ethernet CRC. Four bits at a time through a
//! 16-entry table, so it costs 64 bytes of flash.

#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const TABLE: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn nibble(crc: u32, n: u32) -> u32 {
    let i = (crc ^ n) & 0xF;
    // `i` < 16 by the mask; `get` keeps the no-panic lint honest.
    (crc >> 4) ^ TABLE.get(i as usize).copied().unwrap_or(0)
}

/// The CRC-32 of `data`.
#[must_use]
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = nibble(crc, u32::from(b));
        crc = nibble(crc, u32::from(b) >> 4);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn check_values() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
    }
}
