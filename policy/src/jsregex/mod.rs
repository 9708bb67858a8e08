//! The JS-portable regular-expression subset of the reference
//! (`jsregex.py`): the same grammar, the same `NotPortable` positions, and the
//! errors Python's `re` raises afterwards on the translated pattern.
//!
//! No regex crate is used: the reference matches on UTF-16 code units (a `.`
//! or `[^a]` consumes half of a surrogate pair, as JS without the `u` flag),
//! which the `regex` crates, matching on Unicode scalar values, cannot
//! reproduce. The subset has no back-references or look-arounds, so a match
//! exists exactly when the Thompson automaton (`program.rs`) accepts; the search runs
//! in `O(|pattern| * |value|)` with no backtracking.

mod class;
mod parse;
mod program;
#[cfg(test)]
mod tests;

use crate::EvalError;
use parse::{Node, Parser};
use program::{MAX_PROGRAM, Program, capped, compile};

/// A compiled portable pattern: `search` semantics on UTF-16 code units.
#[derive(Clone, Debug)]
pub struct JsRegex {
    ast: Node,
    /// The program with the pattern's own counts, if within budget.
    prog: Option<Program>,
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
