//! UTF-16 helpers and the policy glob (`**`, `*`, `?`), matched on UTF-16 code
//! units as JavaScript does.

/// The UTF-16 code units of `s`.
pub(crate) fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// Length of `s` in UTF-16 code units.
pub(crate) fn u16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Whether a rule key or glob value contains a wildcard.
pub fn is_glob(key: &str) -> bool {
    key.contains('*') || key.contains('?')
}

/// JS `.`: any code unit but a line terminator.
pub(crate) fn is_js_dot(u: u16) -> bool {
    !matches!(u, 0x0A | 0x0D | 0x2028 | 0x2029)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Unit(u16),
    /// `?`: one unit other than `/`.
    One,
    /// `*`: any run of units other than `/`.
    Star,
    /// `**`: any run of units other than line terminators.
    DoubleStar,
}

/// A compiled glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    toks: Vec<Tok>,
}

impl Glob {
    /// Compiles `pattern`: `**` is checked before `*`, every other unit is literal.
    pub fn new(pattern: &str) -> Self {
        let u = units(pattern);
        let mut toks = Vec::with_capacity(u.len());
        let mut i = 0;
        while i < u.len() {
            if u[i] == u16::from(b'*') && u.get(i + 1) == Some(&u16::from(b'*')) {
                toks.push(Tok::DoubleStar);
                i += 2;
                continue;
            }
            toks.push(match u[i] {
                0x2A => Tok::Star,
                0x3F => Tok::One,
                c => Tok::Unit(c),
            });
            i += 1;
        }
        Self { toks }
    }

    /// Whether the glob matches the whole of `value`.
    pub fn matches(&self, value: &str) -> bool {
        self.matches_units(&units(value))
    }

    /// Set-of-states simulation: linear in `|pattern| * |value|`, no backtracking.
    pub(crate) fn matches_units(&self, value: &[u16]) -> bool {
        let n = self.toks.len();
        let mut cur = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        cur[0] = true;
        self.close(&mut cur);
        for &c in value {
            next.iter_mut().for_each(|b| *b = false);
            let mut any = false;
            for (i, tok) in self.toks.iter().enumerate() {
                if !cur[i] {
                    continue;
                }
                match *tok {
                    Tok::Unit(u) if u == c => next[i + 1] = true,
                    Tok::One if c != 0x2F => next[i + 1] = true,
                    Tok::Star if c != 0x2F => next[i] = true,
                    Tok::DoubleStar if is_js_dot(c) => next[i] = true,
                    _ => continue,
                }
                any = true;
            }
            if !any {
                return false;
            }
            self.close(&mut next);
            std::mem::swap(&mut cur, &mut next);
        }
        cur[n]
    }

    /// Stars may match nothing: a live state before a star makes the state after it live.
    fn close(&self, set: &mut [bool]) {
        for (i, tok) in self.toks.iter().enumerate() {
            if set[i] && matches!(tok, Tok::Star | Tok::DoubleStar) {
                set[i + 1] = true;
            }
        }
    }
}

/// Whether glob `pattern` matches the whole of `value` (UTF-16 code units).
pub fn match_glob(pattern: &str, value: &str) -> bool {
    Glob::new(pattern).matches(value)
}
