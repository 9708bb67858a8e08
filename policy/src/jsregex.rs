//! The JS-portable regular-expression subset of the reference
//! (`jsregex.py`): the same grammar, the same `NotPortable` positions, and the
//! errors Python's `re` raises afterwards on the translated pattern.
//!
//! No regex crate is used: the reference matches on UTF-16 code units (a `.`
//! or `[^a]` consumes half of a surrogate pair, as JS without the `u` flag),
//! which the `regex` crates, matching on Unicode scalar values, cannot
//! reproduce. The subset has no back-references or look-arounds, so a match
//! exists exactly when the Thompson automaton below accepts; the search runs
//! in `O(|pattern| * |value|)` with no backtracking.

use crate::EvalError;
use crate::jstime::nd_digit;
use crate::text::is_js_dot;

/// The reference's translator is recursive Python: `RecursionError` fires once
/// a call would sit more than this many frames below `_Translator.pattern()`
/// when called from `evaluate` (measured with the oracle against
/// armoriq-policy-ir 0.1.3: 327 empty nested groups pass, 328 fail; 326 groups
/// around `[a]` fail). The parser below counts the frames of every helper the
/// reference calls (`_peek`, `_next`, `_done`, `_fail`, `re.escape`, ...).
const MAX_FRAMES: usize = 984;
/// Compiled-program budget (instructions); larger patterns are `ResourceLimit`.
const MAX_PROGRAM: usize = 100_000;
/// Python's `_sre.MAXREPEAT`.
const MAXREPEAT: u64 = 4_294_967_295;

const JS_SPACE: &[(u16, u16)] = &[
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
const DIGIT: &[(u16, u16)] = &[(0x30, 0x39)];
const WORD: &[(u16, u16)] = &[(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)];

#[derive(Clone, Debug)]
struct Class {
    ranges: Vec<(u16, u16)>,
    negated: bool,
}

impl Class {
    fn contains(&self, u: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= u && u <= b) != self.negated
    }
}

#[derive(Clone, Debug)]
enum Node {
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

struct Parser<'a> {
    p: &'a [u16],
    i: usize,
    /// The first error Python's `re.compile` would raise on the translation.
    late: Option<EvalError>,
}

fn not_portable(i: usize) -> EvalError {
    EvalError::NotPortable(format!("pattern outside the portable subset at {i}"))
}

fn is_nd(u: u16) -> bool {
    char::from_u32(u32::from(u)).and_then(nd_digit).is_some()
}

impl Parser<'_> {
    fn done(&self) -> bool {
        self.i >= self.p.len()
    }

    fn peek(&self, off: usize) -> Option<u16> {
        self.p.get(self.i + off).copied()
    }

    /// Entering a Python frame `f` deep: `RecursionError` past the limit.
    fn at(&self, f: usize) -> Result<(), EvalError> {
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
    fn fail<T>(&self, f: usize) -> Result<T, EvalError> {
        self.at(f + 1)?;
        Err(not_portable(self.i))
    }

    fn late(&mut self, e: EvalError) {
        if self.late.is_none() {
            self.late = Some(e);
        }
    }

    fn alternatives(&mut self, f: usize) -> Result<Node, EvalError> {
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

#[derive(Clone, Debug)]
enum Inst {
    Unit(u16),
    Class(Class),
    Dot,
    Split(usize, usize),
    Jmp(usize),
    Start,
    End,
    WordB,
    NotWordB,
    Match,
}

/// A compiled portable pattern: `search` semantics on UTF-16 code units.
#[derive(Clone, Debug)]
pub struct JsRegex {
    ast: Node,
    /// The program with the pattern's own counts, if within budget.
    prog: Option<Program>,
}

#[derive(Clone, Debug)]
struct Program {
    prog: Vec<Inst>,
}

/// Caps every repetition count at `cap`. On inputs of `cap - 1` code units
/// this accepts the same strings: at most `cap - 1` iterations consume, and
/// iterations that match empty at one position can be repeated or dropped.
fn capped(n: &Node, cap: u64) -> Node {
    match n {
        Node::Concat(v) => Node::Concat(v.iter().map(|x| capped(x, cap)).collect()),
        Node::Alt(v) => Node::Alt(v.iter().map(|x| capped(x, cap)).collect()),
        Node::Repeat { node, min, max } => Node::Repeat {
            node: Box::new(capped(node, cap)),
            min: (*min).min(cap),
            max: max.map(|m| m.min(cap)),
        },
        other => other.clone(),
    }
}

fn compile(ast: &Node) -> Option<Program> {
    if size(ast) > MAX_PROGRAM {
        return None;
    }
    let mut prog = Vec::new();
    emit(ast, &mut prog);
    prog.push(Inst::Match);
    Some(Program { prog })
}

fn size(n: &Node) -> usize {
    match n {
        Node::Concat(v) => v.iter().fold(0usize, |a, x| a.saturating_add(size(x))),
        Node::Alt(v) => v
            .iter()
            .fold(0usize, |a, x| a.saturating_add(size(x)).saturating_add(2)),
        Node::Repeat { node, min, max } => {
            let s = size(node).saturating_add(2);
            let copies = max.unwrap_or(*min).max(*min).saturating_add(1);
            s.saturating_mul(usize::try_from(copies).unwrap_or(usize::MAX))
        }
        _ => 1,
    }
}

fn emit(n: &Node, prog: &mut Vec<Inst>) {
    match n {
        Node::Unit(u) => prog.push(Inst::Unit(*u)),
        Node::Class(c) => prog.push(Inst::Class(c.clone())),
        Node::Dot => prog.push(Inst::Dot),
        Node::Start => prog.push(Inst::Start),
        Node::End => prog.push(Inst::End),
        Node::WordB => prog.push(Inst::WordB),
        Node::NotWordB => prog.push(Inst::NotWordB),
        Node::Concat(v) => v.iter().for_each(|x| emit(x, prog)),
        Node::Alt(v) => {
            let mut jumps = Vec::new();
            for (k, branch) in v.iter().enumerate() {
                if k + 1 < v.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(branch, prog);
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                } else {
                    emit(branch, prog);
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat { node, min, max } => {
            for _ in 0..*min {
                emit(node, prog);
            }
            match max {
                None => {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    emit(node, prog);
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        emit(node, prog);
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
}

fn is_word(u: u16) -> bool {
    WORD.iter().any(|&(a, b)| a <= u && u <= b)
}

impl JsRegex {
    /// Translates `pattern` as the reference does and compiles it.
    pub fn new(pattern: &str) -> Result<Self, EvalError> {
        let units: Vec<u16> = pattern.encode_utf16().collect();
        let mut p = Parser {
            p: &units,
            i: 0,
            late: None,
        };
        let ast = p.alternatives(1)?;
        p.at(1)?; // _done
        if !p.done() {
            return p.fail(0);
        }
        if let Some(e) = p.late {
            return Err(e);
        }
        let prog = compile(&ast);
        Ok(Self { ast, prog })
    }

    /// Whether the pattern matches anywhere in `value` (`re.search`).
    ///
    /// A pattern with counts too large to compile is compiled for this input
    /// with its counts capped at the input length; `ResourceLimit` only if
    /// that is still over budget.
    pub fn search(&self, value: &str) -> Result<bool, EvalError> {
        let input: Vec<u16> = value.encode_utf16().collect();
        if let Some(p) = &self.prog {
            return Ok(p.search(&input));
        }
        let cap = u64::try_from(input.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        compile(&capped(&self.ast, cap))
            .map(|p| p.search(&input))
            .ok_or_else(|| {
                EvalError::ResourceLimit(format!(
                    "pattern compiles to more than {MAX_PROGRAM} instructions for this input"
                ))
            })
    }
}

impl Program {
    fn search(&self, input: &[u16]) -> bool {
        let n = self.prog.len();
        let mut seen = vec![usize::MAX; n];
        let mut clist: Vec<usize> = Vec::with_capacity(n);
        let mut nlist: Vec<usize> = Vec::with_capacity(n);
        let mut stack: Vec<usize> = Vec::new();
        for pos in 0..=input.len() {
            // Unanchored search: a new thread starts at every position.
            if self.add(0, pos, input, &mut seen, &mut clist, &mut stack) {
                return true;
            }
            let Some(&c) = input.get(pos) else { break };
            nlist.clear();
            for &pc in &clist {
                let ok = match &self.prog[pc] {
                    Inst::Unit(u) => *u == c,
                    Inst::Class(cl) => cl.contains(c),
                    Inst::Dot => is_js_dot(c),
                    _ => false,
                };
                if ok && self.add(pc + 1, pos + 1, input, &mut seen, &mut nlist, &mut stack) {
                    return true;
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
        }
        false
    }

    /// Adds the epsilon closure of `pc` at `pos`; true once `Match` is reached.
    fn add(
        &self,
        pc: usize,
        pos: usize,
        input: &[u16],
        seen: &mut [usize],
        list: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) -> bool {
        stack.clear();
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if seen[pc] == pos {
                continue;
            }
            seen[pc] = pos;
            let word_before = pos > 0 && is_word(input[pos - 1]);
            let word_after = input.get(pos).is_some_and(|&u| is_word(u));
            match self.prog[pc] {
                Inst::Match => return true,
                Inst::Jmp(t) => stack.push(t),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Inst::Start => {
                    if pos == 0 {
                        stack.push(pc + 1);
                    }
                }
                Inst::End => {
                    if pos == input.len() {
                        stack.push(pc + 1);
                    }
                }
                Inst::WordB => {
                    if word_before != word_after {
                        stack.push(pc + 1);
                    }
                }
                Inst::NotWordB => {
                    if word_before == word_after {
                        stack.push(pc + 1);
                    }
                }
                Inst::Unit(_) | Inst::Class(_) | Inst::Dot => list.push(pc),
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str, v: &str) -> bool {
        JsRegex::new(p)
            .and_then(|r| r.search(v))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn basics() {
        assert!(s("^/etc/", "/etc/shadow"));
        assert!(!s("^/etc/", "/x/etc/"));
        assert!(s("a{2,3}$", "xaaa"));
        assert!(!s("^a{2,3}$", "aaaa"));
        assert!(s("^.$", "é"));
        assert!(!s("^.$", "😀"));
        assert!(s("^..$", "😀"));
        assert!(s("\\bfoo\\b", "a foo b"));
        assert!(s("\\B", ""));
        assert!(s("[^a]", "\n"));
        assert!(s("(?:ab|cd)+e", "xxcdabe"));
        assert!(s("a{٣}", "a{٣}"));
        assert!(s("\\u00e9", "é"));
    }

    /// `js_search(p, "ab")`, `js_search(p, "")` as the reference answers them.
    #[test]
    fn zero_width_and_empty_loops() {
        for (p, ab, empty) in [
            ("(^)*", true, true),
            ("(\\b)+", true, false),
            ("(?:$)?", true, true),
            ("()*", true, true),
            ("(a|^)*b", true, false),
            ("(?:\\b)*x", false, false),
            ("a{0}", true, true),
            ("(?:a*)+b", true, false),
            ("(a?){3,5}c", false, false),
            ("x{1,}?", false, false),
            ("(|a)+", true, true),
        ] {
            assert_eq!((s(p, "ab"), s(p, "")), (ab, empty), "{p}");
        }
    }

    #[test]
    fn huge_counts_are_capped_per_input() {
        assert!(!s("a{4294967294}", ""));
        assert!(!s("^a{100000}$", "aaa"));
        assert!(s("(?:a?){100000}b", "aab"));
        assert!(s("a{0,100000}b", "xb"));
    }

    #[test]
    fn errors() {
        let class = |p: &str| JsRegex::new(p).err().map(|e| e.to_string());
        assert_eq!(
            class("(?=x)").as_deref(),
            Some("NotPortable: pattern outside the portable subset at 1")
        );
        assert!(matches!(JsRegex::new("[a-"), Err(EvalError::TypeError(_))));
        assert!(matches!(JsRegex::new("a{3,1}"), Err(EvalError::ReError(_))));
        assert!(matches!(JsRegex::new("[z-a]"), Err(EvalError::ReError(_))));
        assert!(matches!(
            JsRegex::new("a{4294967295}"),
            Err(EvalError::OverflowError(_))
        ));
        assert!(matches!(
            JsRegex::new("a**"),
            Err(EvalError::NotPortable(_))
        ));
        assert!(matches!(JsRegex::new("\\"), Err(EvalError::NotPortable(_))));
    }
}
