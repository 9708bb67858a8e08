//! The compiler to a Thompson automaton and its search, on UTF-16 code units
//! without backtracking.

use super::class::{Class, is_word};
use super::parse::Node;
use crate::text::is_js_dot;

/// Compiled-program budget (instructions); larger patterns are `ResourceLimit`.
pub(super) const MAX_PROGRAM: usize = 100_000;

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

#[derive(Clone, Debug)]
pub(super) struct Program {
    prog: Vec<Inst>,
}

/// Caps every repetition count at `cap`. On inputs of `cap - 1` code units
/// this accepts the same strings: at most `cap - 1` iterations consume, and
/// iterations that match empty at one position can be repeated or dropped.
pub(super) fn capped(n: &Node, cap: u64) -> Node {
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

pub(super) fn compile(ast: &Node) -> Option<Program> {
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

impl Program {
    pub(super) fn search(&self, input: &[u16]) -> bool {
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
