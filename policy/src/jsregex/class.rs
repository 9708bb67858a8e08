//! Character classes: the `\d`, `\w`, `\s` sets and bracket classes.

pub(super) const JS_SPACE: &[(u16, u16)] = &[
    (0x09, 0x0D),
    (0x20, 0x20),
    (0xA0, 0xA0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
    (0xFEFF, 0xFEFF),
];
pub(super) const DIGIT: &[(u16, u16)] = &[(0x30, 0x39)];
pub(super) const WORD: &[(u16, u16)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];

#[derive(Clone, Debug)]
pub(super) struct Class {
    pub(super) ranges: Vec<(u16, u16)>,
    pub(super) negated: bool,
}

impl Class {
    pub(super) fn contains(&self, u: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= u && u <= b) != self.negated
    }
}

pub(super) fn is_word(u: u16) -> bool {
    WORD.iter().any(|&(a, b)| a <= u && u <= b)
}
