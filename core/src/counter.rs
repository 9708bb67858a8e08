//! A receipt counter that survives restarts, on a part with flash (SPEC §7).
//!
//! The counter is never written per receipt: the device *reserves* a block of
//! [`BLOCK`] counters by programming one record into flash, then counts in
//! RAM through that block, and reserves the next block (one more record)
//! before it signs past the block's end. At boot it reads the newest record
//! and reserves the block after it, with the boot number one higher: a
//! restart skips the rest of the block in use, never goes back, and the new
//! boot's first counter is the first of a block (`k·BLOCK + 1`), so a
//! verifier ([`crate::receipt::Sequence`]) tells a restart (a later boot
//! whose first counter is a block's first) from removed rows (a gap inside a
//! boot, or a later boot whose first counter is not a block's first).
//!
//! **Records.** Two flash pages of `S` 64-bit slots each; an erased slot
//! reads `u64::MAX`. A record is `boot << 32 | block` (the block's counters
//! are `block·BLOCK + 1 ..= (block + 1)·BLOCK`); records only grow. The
//! newest record is the largest programmed slot of both pages, so a torn or
//! stray write can only move the counter forward. When the active page is
//! full, the next record goes to the other page after erasing it (it holds
//! only older records): a power loss during that erase leaves the active
//! page, and its newest record, intact.
//!
//! **Wear and gaps.** One record per boot plus one per [`BLOCK`] receipts;
//! a page is erased once every `S` records. With 2 KiB pages (`S` = 256) and
//! 10,000 erase cycles a page, the pair lasts 5.12 million records: five
//! million boots, or 5·10⁹ receipts. A restart leaves a gap of at most
//! `BLOCK − 1` counters.
//!
//! This module only decides: [`Counter::boot`] and [`Counter::take`] read
//! the pages through the caller's `read(page, slot)` (the slot's word, `None`
//! past the page's end) and return the [`Write`] the caller must make (and
//! complete) before it signs with the counter they return. It is pure logic
//! over the pages' words; nothing panics.

use crate::error::Error;

/// Counters reserved by one record.
pub const BLOCK: u64 = 1024;

/// The value of an erased slot.
pub const ERASED: u64 = u64::MAX;

/// Whether `counter` is the first of a block (`k·BLOCK + 1`).
#[must_use]
pub const fn is_block_start(counter: u64) -> bool {
    matches!(counter.checked_rem(BLOCK), Some(1))
}

/// The first counter of the block after the one holding `counter`.
#[must_use]
pub const fn next_block_start(counter: u64) -> u64 {
    let block = match counter.saturating_sub(1).checked_div(BLOCK) {
        Some(b) => b,
        None => 0,
    };
    block
        .saturating_add(1)
        .saturating_mul(BLOCK)
        .saturating_add(1)
}

/// One reservation: a boot number and a block index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    /// The boot that made it (1 for the first).
    pub boot: u32,
    /// The block reserved.
    pub block: u32,
}

impl Record {
    /// The slot value.
    #[must_use]
    pub fn to_slot(self) -> u64 {
        (u64::from(self.boot) << 32) | u64::from(self.block)
    }

    /// The record in a programmed slot (`None` for an erased one).
    #[must_use]
    pub fn from_slot(slot: u64) -> Option<Self> {
        if slot == ERASED {
            return None;
        }
        let [b0, b1, b2, b3, b4, b5, b6, b7] = slot.to_le_bytes();
        Some(Self {
            boot: u32::from_le_bytes([b4, b5, b6, b7]),
            block: u32::from_le_bytes([b0, b1, b2, b3]),
        })
    }

    /// The first counter of the block.
    #[must_use]
    pub fn first(self) -> u64 {
        u64::from(self.block)
            .saturating_mul(BLOCK)
            .saturating_add(1)
    }

    /// The last counter of the block.
    #[must_use]
    pub fn last(self) -> u64 {
        u64::from(self.block)
            .saturating_add(1)
            .saturating_mul(BLOCK)
    }
}

/// A flash write the caller makes before using the counter it got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// Program `value` into an erased slot.
    Program {
        /// Page 0 or 1.
        page: usize,
        /// The slot in the page.
        slot: usize,
        /// The record's slot value.
        value: u64,
    },
    /// Erase the page, then program `value` into its slot 0.
    EraseThenProgram {
        /// Page 0 or 1.
        page: usize,
        /// The record's slot value.
        value: u64,
    },
}

impl Write {
    /// Applies the write to pages held in RAM (a board without writable
    /// flash, and the tests).
    pub fn apply<const S: usize>(self, pages: &mut [[u64; S]; 2]) {
        match self {
            Self::Program { page, slot, value } => {
                if let Some(s) = pages.get_mut(page).and_then(|p| p.get_mut(slot)) {
                    // Flash programming only clears bits.
                    *s &= value;
                }
            }
            Self::EraseThenProgram { page, value } => {
                if let Some(p) = pages.get_mut(page) {
                    p.fill(ERASED);
                    if let Some(s) = p.first_mut() {
                        *s = value;
                    }
                }
            }
        }
    }
}

/// A page reader: the word of `(page, slot)`, `None` past a page's end.
pub trait Read: Fn(usize, usize) -> Option<u64> {}
impl<F: Fn(usize, usize) -> Option<u64>> Read for F {}

/// The reader of pages held as arrays.
#[must_use]
pub fn read_array<const S: usize>(pages: &[[u64; S]; 2]) -> impl Read + '_ {
    |p: usize, s: usize| pages.get(p).and_then(|page| page.get(s)).copied()
}

/// The device's lasting counter: the block in use and where the next record
/// goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    record: Record,
    /// The next counter to hand out.
    next: u64,
    /// The page and slot of the newest record.
    page: usize,
    slot: usize,
}

impl Counter {
    /// Reads both pages at boot: the newest record (none on a new device)
    /// and the reservation of this boot's first block, with the write that
    /// makes it.
    ///
    /// # Errors
    /// [`Error::ReceiptCounterExhausted`] when the boot or block number
    /// cannot grow, or a page has no slot.
    pub fn boot(read: impl Read) -> Result<(Self, Write), Error> {
        let mut newest: Option<(Record, usize, usize)> = None;
        for p in 0..2 {
            let mut i = 0;
            while let Some(slot) = read(p, i) {
                if let Some(r) = Record::from_slot(slot)
                    && newest.is_none_or(|(n, _, _)| r > n)
                {
                    newest = Some((r, p, i));
                }
                i = i.saturating_add(1);
            }
        }
        let (record, page, slot) = match newest {
            // Past page 1's end: the first record goes to page 0, erased first.
            None => (Record { boot: 1, block: 0 }, 1, usize::MAX),
            Some((n, p, i)) => (
                Record {
                    boot: n
                        .boot
                        .checked_add(1)
                        .ok_or(Error::ReceiptCounterExhausted)?,
                    block: n
                        .block
                        .checked_add(1)
                        .ok_or(Error::ReceiptCounterExhausted)?,
                },
                p,
                i,
            ),
        };
        let mut c = Self {
            record,
            next: record.first(),
            page,
            slot,
        };
        let w = c.place(&read, record)?;
        Ok((c, w))
    }

    /// Where `record` goes after the newest one, and moves there.
    fn place(&mut self, read: &impl Read, record: Record) -> Result<Write, Error> {
        if read(0, 0).is_none() || read(1, 0).is_none() {
            return Err(Error::ReceiptCounterExhausted);
        }
        let value = record.to_slot();
        let slot = self.slot.saturating_add(1);
        let erased = read(self.page, slot) == Some(ERASED);
        if erased {
            self.slot = slot;
            return Ok(Write::Program {
                page: self.page,
                slot,
                value,
            });
        }
        self.page = usize::from(self.page == 0);
        self.slot = 0;
        Ok(Write::EraseThenProgram {
            page: self.page,
            value,
        })
    }

    /// This boot's number.
    #[must_use]
    pub const fn boot_number(&self) -> u32 {
        self.record.boot
    }

    /// The last counter handed out (this boot's block start − 1 before the
    /// first).
    #[must_use]
    pub const fn last(&self) -> u64 {
        self.next.saturating_sub(1)
    }

    /// The counter for the next receipt, with the reservation to make
    /// first when this boot's block is used up.
    ///
    /// # Errors
    /// [`Error::ReceiptCounterExhausted`] when the block number cannot grow.
    pub fn take(&mut self, read: impl Read) -> Result<(u64, Option<Write>), Error> {
        let mut write = None;
        if self.next > self.record.last() {
            let record = Record {
                boot: self.record.boot,
                block: self
                    .record
                    .block
                    .checked_add(1)
                    .ok_or(Error::ReceiptCounterExhausted)?,
            };
            write = Some(self.place(&read, record)?);
            self.record = record;
            self.next = record.first();
        }
        let c = self.next;
        self.next = c.saturating_add(1);
        Ok((c, write))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::receipt::{Sequence, Step};
    use proptest::prelude::*;
    use std::vec;

    const S: usize = 4;

    fn fresh() -> [[u64; S]; 2] {
        [[ERASED; S]; 2]
    }

    /// Boots on `pages`, applying the boot's write.
    fn boot(pages: &mut [[u64; S]; 2]) -> Counter {
        let (c, w) = Counter::boot(read_array(pages)).unwrap();
        w.apply(pages);
        c
    }

    fn take(c: &mut Counter, pages: &mut [[u64; S]; 2]) -> u64 {
        let (n, w) = c.take(read_array(pages)).unwrap();
        if let Some(w) = w {
            w.apply(pages);
        }
        n
    }

    #[test]
    fn a_new_device_starts_at_one_and_a_restart_skips_to_the_next_block() {
        let mut pages = fresh();
        let mut c = boot(&mut pages);
        assert_eq!(c.boot_number(), 1);
        assert_eq!(take(&mut c, &mut pages), 1);
        assert_eq!(take(&mut c, &mut pages), 2);
        let mut c = boot(&mut pages);
        assert_eq!(c.boot_number(), 2);
        assert_eq!(take(&mut c, &mut pages), BLOCK + 1);
        assert!(is_block_start(BLOCK + 1));
        assert_eq!(next_block_start(2), BLOCK + 1);
        assert_eq!(next_block_start(BLOCK), BLOCK + 1);
        assert_eq!(next_block_start(BLOCK + 1), 2 * BLOCK + 1);
    }

    #[test]
    fn a_used_up_block_reserves_the_next_one_without_a_gap() {
        let mut pages = fresh();
        let mut c = boot(&mut pages);
        for want in 1..=3 * BLOCK + 2 {
            assert_eq!(take(&mut c, &mut pages), want);
        }
        // Boot record + 3 more blocks: 4 records, page 0 full... the first
        // went to page 0 slot 0.
        let mut c = boot(&mut pages);
        assert_eq!(take(&mut c, &mut pages), 4 * BLOCK + 1);
        assert_eq!(c.boot_number(), 2);
    }

    #[test]
    fn a_full_page_moves_to_the_other_after_erasing_it() {
        let mut pages = fresh();
        for b in 1..=(3 * S as u32) {
            let mut c = boot(&mut pages);
            assert_eq!(c.boot_number(), b);
            assert_eq!(take(&mut c, &mut pages), u64::from(b - 1) * BLOCK + 1);
        }
        // Records alternate pages S at a time; never more than 2·S kept.
        let live = pages.iter().flatten().filter(|&&s| s != ERASED).count();
        assert!((S..=2 * S).contains(&live));
    }

    #[test]
    fn a_stray_write_only_moves_the_counter_forward() {
        let mut pages = fresh();
        let mut c = boot(&mut pages);
        take(&mut c, &mut pages);
        // A torn write in page 1 that reads as an older record is ignored.
        pages[1][2] = Record { boot: 0, block: 0 }.to_slot();
        let mut c = boot(&mut pages);
        assert_eq!(take(&mut c, &mut pages), BLOCK + 1);
        // One that reads as a huge record moves it forward, never back.
        pages[0][3] = Record {
            boot: u32::MAX,
            block: 7,
        }
        .to_slot();
        assert_eq!(
            Counter::boot(read_array(&pages)),
            Err(Error::ReceiptCounterExhausted)
        );
    }

    #[test]
    fn zero_slots_refuse() {
        let pages = [[ERASED; 0]; 2];
        assert_eq!(
            Counter::boot(read_array(&pages)),
            Err(Error::ReceiptCounterExhausted)
        );
    }

    proptest! {
        /// Any run of boots and receipts: counters strictly grow across
        /// boots, and the verifier's sequence accepts every receipt and
        /// reports each restart, never a gap.
        #[test]
        fn restarts_never_go_back_and_verify_as_restarts(
            runs in proptest::collection::vec(0u64..2_500, 1..12)
        ) {
            let mut pages = fresh();
            let mut seq = Sequence::new();
            let mut last = 0u64;
            let mut restarts = 0usize;
            let mut signed_any = false;
            for n in &runs {
                let mut c = boot(&mut pages);
                for _ in 0..*n {
                    let v = take(&mut c, &mut pages);
                    prop_assert!(v > last);
                    last = v;
                    match seq.next(c.boot_number(), v) {
                        Ok(Step::Restart { .. }) => restarts += 1,
                        Ok(Step::Next) => {}
                        Err(e) => prop_assert!(false, "{e:?} at {v}"),
                    }
                    signed_any = true;
                }
            }
            prop_assert!(signed_any || restarts == 0);
        }

        /// Removing one receipt inside a boot is a gap; removing the first
        /// receipt of a later boot is a gap too.
        #[test]
        fn removed_rows_are_gaps(a in 3u64..3000, b in 2u64..3000, drop_first in any::<bool>()) {
            let mut pages = fresh();
            let mut rows = vec![];
            let mut c = boot(&mut pages);
            for _ in 0..a { rows.push((c.boot_number(), take(&mut c, &mut pages))); }
            let mut c = boot(&mut pages);
            for _ in 0..b { rows.push((c.boot_number(), take(&mut c, &mut pages))); }
            let a_len = usize::try_from(a).unwrap();
            let gone = if drop_first { a_len } else { a_len - 2 };
            rows.remove(gone);
            let mut seq = Sequence::new();
            let errors = rows.iter().filter(|(bt, v)| seq.next(*bt, *v).is_err()).count();
            prop_assert_eq!(errors, 1);
        }
    }
}
