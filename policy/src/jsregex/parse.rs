//! The parser: the reference's grammar, its `NotPortable` positions and the
//! later `re` errors, producing the pattern's syntax tree ([`Node`]).

use super::class::{Class, DIGIT, JS_SPACE, WORD};
use crate::EvalError;
use crate::jstime::nd_digit;

/// The reference's translator is recursive Python: `RecursionError` fires once
/// a call would sit more than this many frames below `_Translator.pattern()`
/// when called from `evaluate` (measured with the oracle against
/// armoriq-policy-ir 0.1.3: 327 empty nested groups pass, 328 fail; 326 groups
/// around `[a]` fail). The parser below counts the frames of every helper the
/// reference calls (`_peek`, `_next`, `_done`, `_fail`, `re.escape`, ...).
const MAX_FRAMES: usize = 984;
/// Python's `_sre.MAXREPEAT`.
const MAXREPEAT: u64 = 4_294_967_295;

#[derive(Clone, Debug)]
pub(super) enum Node {
    Unit(u16),
    Class(Class),
    Dot,
    Start,
    End,
    WordB,
    NotWordB,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u64,
        max: Option<u64>,
    },
}

pub(super) struct Parser<'a> {
    pub(super) p: &'a [u16],
    pub(super) i: usize,
    /// The first error Python's `re.compile` would raise on the translation.
    pub(super) late: Option<EvalError>,
}

fn not_portable(i: usize) -> EvalError {
    EvalError::NotPortable(format!("pattern outside the portable subset at {i}"))
}

fn is_nd(u: u16) -> bool {
    char::from_u32(u32::from(u)).and_then(nd_digit).is_some()
}

impl Parser<'_> {
    pub(super) fn done(&self) -> bool {
        self.i >= self.p.len()
    }

    fn peek(&self, off: usize) -> Option<u16> {
        self.p.get(self.i + off).copied()
    }

    /// Entering a Python frame `f` deep: `RecursionError` past the limit.
    pub(super) fn at(&self, f: usize) -> Result<(), EvalError> {
        if f > MAX_FRAMES {
            return Err(EvalError::RecursionError(
                "maximum recursion depth exceeded".into(),
            ));
        }
        Ok(())
    }

    /// `self._next()` called from a frame `f` deep (it calls `_peek`).
    fn next(&mut self, f: usize) -> Result<Option<u16>, EvalError> {
        self.at(f + 2)?;
        let c = self.peek(0);
        self.i += 1;
        Ok(c)
    }

    /// `self._fail()` called from a frame `f` deep.
    pub(super) fn fail<T>(&self, f: usize) -> Result<T, EvalError> {
        self.at(f + 1)?;
        Err(not_portable(self.i))
    }

    fn late(&mut self, e: EvalError) {
        if self.late.is_none() {
            self.late = Some(e);
        }
    }

    pub(super) fn alternatives(&mut self, f: usize) -> Result<Node, EvalError> {
        self.at(f)?;
        let mut branches = Vec::new();
        let mut cur = Vec::new();
        loop {
            self.at(f + 1)?; // _done, _peek
            if self.done() || self.peek(0) == Some(u16::from(b')')) {
                break;
            }
            if self.peek(0) == Some(u16::from(b'|')) {
                self.next(f)?;
                branches.push(Node::Concat(std::mem::take(&mut cur)));
            } else {
                let (node, quantifiable) = self.atom(f + 1)?;
                self.quantifier(f + 1, node, quantifiable, &mut cur)?;
            }
        }
        branches.push(Node::Concat(cur));
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Concat(Vec::new()))
        } else {
            Node::Alt(branches)
        })
    }

    fn atom(&mut self, f: usize) -> Result<(Node, bool), EvalError> {
        self.at(f)?;
        let Some(c) = self.next(f)? else {
            return self.fail(f);
        };
        Ok(match c {
            0x5E => (Node::Start, false),
            0x24 => (Node::End, false),
            0x2E => (Node::Dot, true),
            0x5C => self.escape(f + 1)?,
            0x5B => (self.char_class(f + 1)?, true),
            0x28 => (self.group(f + 1)?, true),
            0x5D | 0x7B | 0x7D | 0x2A | 0x2B | 0x3F => return self.fail(f),
            _ => {
                self.at(f + 1)?; // re.escape
                (Node::Unit(c), true)
            }
        })
    }

    fn escape(&mut self, f: usize) -> Result<(Node, bool), EvalError> {
        self.at(f)?;
        let e = self.next(f)?;
        let set = |ranges: &[(u16, u16)], negated| {
            Node::Class(Class {
                ranges: ranges.to_vec(),
                negated,
            })
        };
        Ok(match e.and_then(|u| u8::try_from(u).ok()) {
            Some(b'b') => (Node::WordB, false),
            Some(b'B') => (Node::NotWordB, false),
            Some(b'd') => (set(DIGIT, false), true),
            Some(b'D') => (set(DIGIT, true), true),
            Some(b'w') => (set(WORD, false), true),
            Some(b'W') => (set(WORD, true), true),
            Some(b's') => (set(JS_SPACE, false), true),
            Some(b'S') => (set(JS_SPACE, true), true),
            Some(c) if control(c).is_some() => (Node::Unit(control(c).unwrap_or(0)), true),
            Some(c) if is_escaped_punct(c) => {
                self.at(f + 1)?; // re.escape
                (Node::Unit(u16::from(c)), true)
            }
            _ => (Node::Unit(self.hex_escape(f + 1, e)?), true),
        })
    }

    fn hex_escape(&mut self, f: usize, e: Option<u16>) -> Result<u16, EvalError> {
        self.at(f)?;
        let width = match e {
            Some(0x78) => 2,
            Some(0x75) => 4,
            _ => 0,
        };
        let end = (self.i + width).min(self.p.len());
        let digits = &self.p[self.i.min(end)..end];
        if width == 0 || digits.len() != width || !digits.iter().all(|&u| hex_val(u).is_some()) {
            return self.fail(f);
        }
        self.i += width;
        Ok(digits
            .iter()
            .fold(0u16, |acc, &u| acc * 16 + hex_val(u).unwrap_or(0)))
    }

    fn group(&mut self, f: usize) -> Result<Node, EvalError> {
        self.at(f + 1)?; // _group, _peek
        if self.peek(0) == Some(u16::from(b'?')) {
            if self.peek(1) != Some(u16::from(b':')) {
                return self.fail(f);
            }
            self.i += 2;
        }
        let inner = self.alternatives(f + 1)?;
        if self.next(f)? != Some(u16::from(b')')) {
            return self.fail(f);
        }
        Ok(inner)
    }

    fn char_class(&mut self, f: usize) -> Result<Node, EvalError> {
        self.at(f + 1)?; // _char_class, _peek
        let negated = self.peek(0) == Some(u16::from(b'^'));
        if negated {
            self.next(f)?;
        }
        if self.peek(0) == Some(u16::from(b']')) {
            return self.fail(f);
        }
        let mut ranges = Vec::new();
        while !self.done() && self.peek(0) != Some(u16::from(b']')) {
            self.class_item(f + 1, &mut ranges)?;
        }
        if self.next(f)? != Some(u16::from(b']')) {
            return self.fail(f);
        }
        Ok(Node::Class(Class { ranges, negated }))
    }

    fn class_item(&mut self, f: usize, ranges: &mut Vec<(u16, u16)>) -> Result<(), EvalError> {
        self.at(f)?;
        let start = self.class_atom(f + 1)?;
        if self.peek(0) != Some(u16::from(b'-')) || self.peek(1) == Some(u16::from(b']')) {
            match start {
                ClassAtom::Char(c) => ranges.push((c, c)),
                ClassAtom::Set(s) => ranges.extend_from_slice(s),
            }
            return Ok(());
        }
        self.i += 1;
        let end = self.class_atom(f + 1)?;
        let (ClassAtom::Char(a), ClassAtom::Char(b)) = (start, end) else {
            return self.fail(f);
        };
        if a > b {
            let show =
                |u: u16| char::from_u32(u32::from(u)).map_or(format!("\\u{u:04x}"), String::from);
            self.late(EvalError::ReError(format!(
                "bad character range {}-{}",
                show(a),
                show(b)
            )));
        }
        ranges.push((a, b));
        Ok(())
    }

    fn class_atom(&mut self, f: usize) -> Result<ClassAtom, EvalError> {
        self.at(f)?;
        let c = self.next(f)?;
        if c == Some(u16::from(b'[')) {
            return self.fail(f);
        }
        if c != Some(u16::from(b'\\')) {
            self.at(f + 1)?; // _is_surrogate (or re.escape)
            let Some(c) = c else {
                return Err(EvalError::TypeError(
                    "ord() expected a character, but string of length 0 found".into(),
                ));
            };
            if (0xD800..=0xDFFF).contains(&c) {
                return self.fail(f);
            }
            return Ok(ClassAtom::Char(c));
        }
        let e = self.next(f)?;
        Ok(match e.and_then(|u| u8::try_from(u).ok()) {
            Some(b'd') => ClassAtom::Set(DIGIT),
            Some(b'w') => ClassAtom::Set(WORD),
            Some(b's') => ClassAtom::Set(JS_SPACE),
            Some(c) if control(c).is_some() => ClassAtom::Char(control(c).unwrap_or(0)),
            Some(c) if is_escaped_punct(c) => {
                self.at(f + 1)?; // re.escape
                ClassAtom::Char(u16::from(c))
            }
            _ => ClassAtom::Char(self.hex_escape(f + 1, e)?),
        })
    }

    fn quantifier(
        &mut self,
        f: usize,
        node: Node,
        quantifiable: bool,
        out: &mut Vec<Node>,
    ) -> Result<(), EvalError> {
        self.at(f)?;
        let Some(text_len) = self.quantifier_len(f + 1)? else {
            out.push(node);
            return Ok(());
        };
        if !quantifiable {
            return self.fail(f);
        }
        let text = &self.p[self.i..self.i + text_len];
        self.i += text_len;
        self.at(f + 1)?; // _peek
        let lazy = self.peek(0) == Some(u16::from(b'?'));
        if lazy {
            self.next(f)?;
        }
        let (min, max) = match text[0] {
            0x2A => (0, None),
            0x2B => (1, None),
            0x3F => (0, Some(1)),
            _ if text.iter().all(|&u| u < 0x80) => {
                let text = text.to_vec();
                self.counted(&text)
            }
            _ => {
                // A non-ASCII digit: Python's `re` reads `{` as a literal, so the
                // whole text is literal and a lazy `?` makes the `}` optional.
                out.push(node);
                out.extend(text[..text.len() - 1].iter().map(|&u| Node::Unit(u)));
                let close = Node::Unit(text[text.len() - 1]);
                out.push(if lazy {
                    Node::Repeat {
                        node: Box::new(close),
                        min: 0,
                        max: Some(1),
                    }
                } else {
                    close
                });
                return Ok(());
            }
        };
        out.push(Node::Repeat {
            node: Box::new(node),
            min,
            max,
        });
        Ok(())
    }

    /// `{lo}`, `{lo,}` or `{lo,hi}` in ASCII digits, with `re`'s range checks.
    fn counted(&mut self, text: &[u16]) -> (u64, Option<u64>) {
        let inner = &text[1..text.len() - 1];
        let num = |ds: &[u16]| {
            ds.iter().fold(0u64, |acc, &u| {
                acc.saturating_mul(10).saturating_add(u64::from(u - 0x30))
            })
        };
        let (lo, hi) = match inner.iter().position(|&u| u == u16::from(b',')) {
            None => (num(inner), Some(num(inner))),
            Some(k) if k + 1 == inner.len() => (num(&inner[..k]), None),
            Some(k) => (num(&inner[..k]), Some(num(&inner[k + 1..]))),
        };
        if lo >= MAXREPEAT || hi.is_some_and(|h| h >= MAXREPEAT) {
            self.late(EvalError::OverflowError(
                "the repetition number is too large".into(),
            ));
        } else if hi.is_some_and(|h| h < lo) {
            self.late(EvalError::ReError(
                "min repeat greater than max repeat".into(),
            ));
        }
        (lo, hi)
    }

    /// `_quantifier_text()` (a frame `f` deep): the quantifier's length at `i`,
    /// `None` if there is none.
    fn quantifier_len(&self, f: usize) -> Result<Option<usize>, EvalError> {
        self.at(f + 1)?; // _quantifier_text, _peek
        match self.peek(0) {
            Some(0x2A | 0x2B | 0x3F) => return Ok(Some(1)),
            Some(0x7B) => {}
            _ => return Ok(None),
        }
        // \{\d+(,\d*)?\} with Python's Unicode \d.
        let mut j = self.i + 1;
        let digits = |j: &mut usize| {
            let s = *j;
            while self.p.get(*j).is_some_and(|&u| is_nd(u)) {
                *j += 1;
            }
            *j - s
        };
        if digits(&mut j) == 0 {
            return self.fail(f);
        }
        if self.p.get(j) == Some(&u16::from(b',')) {
            j += 1;
            digits(&mut j);
        }
        if self.p.get(j) != Some(&u16::from(b'}')) {
            return self.fail(f);
        }
        Ok(Some(j + 1 - self.i))
    }
}

enum ClassAtom {
    Char(u16),
    Set(&'static [(u16, u16)]),
}

fn control(c: u8) -> Option<u16> {
    Some(match c {
        b't' => 0x09,
        b'n' => 0x0A,
        b'r' => 0x0D,
        b'f' => 0x0C,
        b'v' => 0x0B,
        _ => return None,
    })
}

fn is_escaped_punct(c: u8) -> bool {
    b"\\/.*+?()[]{}|^$-".contains(&c)
}

fn hex_val(u: u16) -> Option<u16> {
    char::from_u32(u32::from(u))
        .filter(char::is_ascii_hexdigit)
        .and_then(|c| c.to_digit(16))
        .and_then(|d| u16::try_from(d).ok())
}
