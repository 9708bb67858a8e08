//! The QEMU board for a firmware ELF, from its ARM build attributes
//! (`.ARM.attributes`, the "aeabi" subsection: `Tag_CPU_arch` and
//! `Tag_CPU_arch_profile`, "Addenda to, and Errata in, the ABI for the Arm
//! Architecture", §3 Build attributes). The float ABI alone cannot tell a
//! Cortex-M33 (Armv8-M Mainline, hard float) from a Cortex-M4F.

use std::path::Path;

/// `SHT_ARM_ATTRIBUTES`.
const SHT_ARM_ATTRIBUTES: u32 = 0x7000_0003;
/// `Tag_File`: the attributes that apply to the whole file.
const TAG_FILE: u64 = 1;
const TAG_CPU_ARCH: u64 = 6;
const TAG_CPU_ARCH_PROFILE: u64 = 7;

/// The architecture the attributes name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    /// `Tag_CPU_arch` (10: v7, 13: v7E-M, 16: v8-M Baseline, 17: v8-M
    /// Mainline, …).
    pub cpu_arch: u64,
    /// `Tag_CPU_arch_profile` (`'M'`, `'A'`, `'R'`, `'S'`, or 0).
    pub profile: u64,
}

/// The QEMU machine for an architecture: `mps2-an385` (Armv7-M: Cortex-M3),
/// `mps2-an386` (Armv7E-M: Cortex-M4F), `mps2-an505` (Armv8-M Mainline:
/// Cortex-M33).
///
/// # Errors
/// Any other architecture or profile, named.
pub fn machine_for(arch: Arch) -> Result<&'static str, String> {
    match (arch.cpu_arch, arch.profile) {
        (10, 0x4d) => Ok("mps2-an385"),
        (13, _) => Ok("mps2-an386"),
        (17, _) => Ok("mps2-an505"),
        (a, p) => Err(format!(
            "no QEMU board for Tag_CPU_arch {a} (profile {p:#x}): the firmware runs on Armv7-M \
             (mps2-an385), Armv7E-M (mps2-an386) or Armv8-M Mainline (mps2-an505); pass the \
             machine explicitly"
        )),
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn usize_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u32_at(b, at)?).ok()
}

/// An unsigned LEB128 number at the start of `b`, and the rest.
fn uleb(b: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, b.get(i + 1..)?));
        }
    }
    None
}

/// A NUL-terminated string at the start of `b`: the rest after it.
fn skip_ntbs(b: &[u8]) -> Option<&[u8]> {
    let nul = b.iter().position(|&c| c == 0)?;
    b.get(nul + 1..)
}

/// The `.ARM.attributes` section of a little-endian ELF32 file.
fn attributes_section(elf: &[u8]) -> Option<&[u8]> {
    // ELF32 (class 1), little-endian (data 1).
    if elf.get(..4)? != b"\x7fELF" || elf.get(4)? != &1 || elf.get(5)? != &1 {
        return None;
    }
    let shoff = usize_at(elf, 0x20)?;
    let shentsize = usize::from(u16_at(elf, 0x2e)?);
    let shnum = usize::from(u16_at(elf, 0x30)?);
    (0..shnum).find_map(|i| {
        let sh = shoff.checked_add(i.checked_mul(shentsize)?)?;
        if u32_at(elf, sh.checked_add(4)?)? != SHT_ARM_ATTRIBUTES {
            return None;
        }
        let off = usize_at(elf, sh.checked_add(0x10)?)?;
        let size = usize_at(elf, sh.checked_add(0x14)?)?;
        elf.get(off..off.checked_add(size)?)
    })
}

/// Reads `Tag_CPU_arch` and `Tag_CPU_arch_profile` from the file-wide
/// attributes of the "aeabi" subsection.
fn parse(section: &[u8]) -> Option<Arch> {
    let mut rest = section.strip_prefix(b"A")?;
    while let Some(len) = usize_at(rest, 0) {
        let sub = rest.get(4..len)?;
        rest = rest.get(len..)?;
        let Some(body) = sub.strip_prefix(b"aeabi\0") else {
            continue;
        };
        let (tag, after) = uleb(body)?;
        if tag != TAG_FILE {
            continue;
        }
        let file_len = usize_at(after, 0)?;
        // The length counts the tag byte and itself.
        let mut attrs = after.get(4..file_len.checked_sub(1)?)?;
        let mut arch = Arch {
            cpu_arch: 0,
            profile: 0,
        };
        while !attrs.is_empty() {
            let (tag, after) = uleb(attrs)?;
            attrs = match tag {
                // Tag_CPU_raw_name, Tag_CPU_name, Tag_conformance and the
                // odd tags above 32: strings.
                4 | 5 | 67 => skip_ntbs(after)?,
                // Tag_compatibility: a flag, then a string.
                32 => skip_ntbs(uleb(after)?.1)?,
                t if t > 32 && t % 2 == 1 => skip_ntbs(after)?,
                _ => {
                    let (v, after) = uleb(after)?;
                    match tag {
                        TAG_CPU_ARCH => arch.cpu_arch = v,
                        TAG_CPU_ARCH_PROFILE => arch.profile = v,
                        _ => {}
                    }
                    after
                }
            };
        }
        return Some(arch);
    }
    None
}

/// The architecture an ELF's build attributes name.
///
/// # Errors
/// The file cannot be read, or is not an ARM ELF32 with file-wide
/// build attributes.
pub fn arch_of(elf: &Path) -> Result<Arch, String> {
    let bytes = std::fs::read(elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    attributes_section(&bytes).and_then(parse).ok_or_else(|| {
        format!(
            "{}: no ARM build attributes (.ARM.attributes) to pick a QEMU board from; \
                 pass the machine explicitly",
            elf.display()
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A minimal ELF32 with one `.ARM.attributes` section holding `attrs`
    /// (the file-wide attributes, already encoded).
    fn elf_with(attrs: &[u8]) -> Vec<u8> {
        let mut file_attrs = vec![1u8];
        file_attrs.extend_from_slice(&u32::try_from(attrs.len() + 5).unwrap().to_le_bytes());
        file_attrs.extend_from_slice(attrs);
        let mut sub = b"aeabi\0".to_vec();
        sub.extend_from_slice(&file_attrs);
        let mut section = b"A".to_vec();
        section.extend_from_slice(&u32::try_from(sub.len() + 4).unwrap().to_le_bytes());
        section.extend_from_slice(&sub);
        let mut elf = vec![0u8; 0x34];
        elf[..6].copy_from_slice(b"\x7fELF\x01\x01");
        let data_off = elf.len();
        elf.extend_from_slice(&section);
        let shoff = elf.len();
        elf[0x20..0x24].copy_from_slice(&u32::try_from(shoff).unwrap().to_le_bytes());
        elf[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        elf[0x30..0x32].copy_from_slice(&2u16.to_le_bytes());
        elf.extend_from_slice(&[0u8; 40]); // the null section
        let mut sh = [0u8; 40];
        sh[4..8].copy_from_slice(&SHT_ARM_ATTRIBUTES.to_le_bytes());
        sh[0x10..0x14].copy_from_slice(&u32::try_from(data_off).unwrap().to_le_bytes());
        sh[0x14..0x18].copy_from_slice(&u32::try_from(section.len()).unwrap().to_le_bytes());
        elf.extend_from_slice(&sh);
        elf
    }

    fn machine(attrs: &[u8]) -> Result<&'static str, String> {
        let elf = elf_with(attrs);
        let arch = attributes_section(&elf).and_then(parse).unwrap();
        machine_for(arch)
    }

    #[test]
    fn boards_follow_the_architecture_not_the_float_abi() {
        // Tag_conformance "2.09", Tag_CPU_name "cortex-m33", then the arch.
        let m33 = [
            &b"\x43"[..],
            b"2.09\0",
            b"\x05cortex-m33\0",
            &[6, 17, 7, 0x4d, 10, 7],
        ]
        .concat();
        assert_eq!(machine(&m33), Ok("mps2-an505"));
        assert_eq!(machine(&[6, 13, 7, 0x4d]), Ok("mps2-an386"));
        assert_eq!(machine(&[6, 10, 7, 0x4d]), Ok("mps2-an385"));
        // Armv7-A, or Armv8-M Baseline (Cortex-M23): refused, named.
        let e = machine(&[6, 10, 7, 0x41]).unwrap_err();
        assert!(e.contains("Tag_CPU_arch 10"), "{e}");
        assert!(machine(&[6, 16, 7, 0x4d]).is_err());
    }

    #[test]
    fn bad_files_are_none_never_a_panic() {
        assert!(attributes_section(b"\x7fELF").is_none());
        let mut elf = elf_with(&[6, 13]);
        let n = elf.len();
        for cut in 0..n {
            let _ = attributes_section(&elf[..cut]).and_then(parse);
        }
        elf[0x34] = b'B';
        assert!(attributes_section(&elf).and_then(parse).is_none());
    }

    /// The images scripts/firmware-ci.sh builds, when it has run.
    #[test]
    fn built_firmware_images_get_their_boards() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/target");
        for (target, board) in [
            ("thumbv7em-none-eabihf", "mps2-an386"),
            ("thumbv7m-none-eabi", "mps2-an385"),
            ("thumbv8m.main-none-eabihf", "mps2-an505"),
        ] {
            let elf = dir.join(target).join("release/armoriq-firmware");
            if elf.is_file() {
                assert_eq!(machine_for(arch_of(&elf).unwrap()), Ok(board), "{target}");
            }
        }
    }
}
