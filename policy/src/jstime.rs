//! The reference's strict ISO-8601 reader (`jstime.epoch_ms`), which follows
//! JavaScript `Date.parse` for the forms it accepts.
//!
//! Python's `\d` and `int()` accept every Unicode decimal digit (category Nd),
//! so this reader does too. A date-time without an offset is local time in the
//! reference; this evaluator takes the host to be on UTC (the reference's
//! behaviour under `TZ=UTC`, including its range errors near year 1 and 9999).

use crate::EvalError;

/// First code point of each run of ten Unicode (14.0, as Python 3.11) Nd digits.
const ND_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// The value of a Unicode decimal digit (Python `\d`), if `c` is one.
pub(crate) fn nd_digit(c: char) -> Option<u32> {
    let cp = u32::from(c);
    let i = ND_ZEROS.partition_point(|&z| z <= cp);
    let zero = *ND_ZEROS.get(i.checked_sub(1)?)?;
    (cp - zero < 10).then_some(cp - zero)
}

const MAX_MS: i64 = 8_640_000_000_000_000;
const DAY_MS: i64 = 86_400_000;

struct Cursor<'a> {
    chars: &'a [char],
    i: usize,
}

impl Cursor<'_> {
    fn eat(&mut self, c: char) -> bool {
        if self.chars.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` digits; `None` (position kept) if there are fewer.
    fn digits(&mut self, n: usize) -> Option<Vec<u32>> {
        let run: Option<Vec<u32>> = self
            .chars
            .get(self.i..self.i + n)?
            .iter()
            .map(|&c| nd_digit(c))
            .collect();
        let run = run?;
        self.i += n;
        Some(run)
    }

    fn peek_digit(&self) -> bool {
        self.chars.get(self.i).and_then(|&c| nd_digit(c)).is_some()
    }
}

fn value(digits: &[u32]) -> i64 {
    digits.iter().fold(0i64, |acc, &d| acc * 10 + i64::from(d))
}

struct Parsed {
    year_text: String,
    y: i64,
    mo: i64,
    d: i64,
    h: Option<i64>,
    mi: i64,
    s: i64,
    ms: i64,
    /// `None` = no offset, `Some(0)` = `Z`, else signed minutes.
    tz: Option<TzField>,
}

struct TzField {
    sign: i64,
    hours: i64,
    minutes: i64,
}

fn not_iso(text: &str) -> EvalError {
    EvalError::UnsupportedTime(format!("not an ISO-8601 date-time: {}", py_repr(text)))
}

/// Python `repr()` of a string, for messages.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7F => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Full match of `YYYY|±YYYYYY [-MM [-DD]] [THH:mm [:ss [.f+]] [Z|±HH:mm]]`.
fn parse(text: &str) -> Option<Parsed> {
    let chars: Vec<char> = text.chars().collect();
    let mut c = Cursor {
        chars: &chars,
        i: 0,
    };
    let (year_text, y) = if matches!(chars.first(), Some('+' | '-')) {
        let neg = chars[0] == '-';
        c.i = 1;
        let v = value(&c.digits(6)?);
        (chars[..7].iter().collect(), if neg { -v } else { v })
    } else {
        let v = value(&c.digits(4)?);
        (chars[..4].iter().collect(), v)
    };
    let (mut mo, mut d) = (1, 1);
    if c.eat('-') {
        mo = value(&c.digits(2)?);
        if c.eat('-') {
            d = value(&c.digits(2)?);
        }
    }
    let (mut h, mut mi, mut s, mut ms, mut tz) = (None, 0, 0, 0, None);
    if c.eat('T') {
        h = Some(value(&c.digits(2)?));
        if !c.eat(':') {
            return None;
        }
        mi = value(&c.digits(2)?);
        if c.eat(':') {
            s = value(&c.digits(2)?);
            if c.eat('.') {
                let start = c.i;
                while c.peek_digit() {
                    c.i += 1;
                }
                if c.i == start {
                    return None;
                }
                let mut f: Vec<u32> = chars[start..c.i]
                    .iter()
                    .filter_map(|&ch| nd_digit(ch))
                    .collect();
                f.resize(f.len().max(3), 0);
                ms = value(&f[..3]);
            }
        }
        if c.eat('Z') {
            tz = Some(TzField {
                sign: 1,
                hours: 0,
                minutes: 0,
            });
        } else if let Some(&sign @ ('+' | '-')) = chars.get(c.i) {
            c.i += 1;
            let hours = value(&c.digits(2)?);
            if !c.eat(':') {
                return None;
            }
            let minutes = value(&c.digits(2)?);
            tz = Some(TzField {
                sign: if sign == '+' { 1 } else { -1 },
                hours,
                minutes,
            });
        }
    }
    (c.i == chars.len()).then_some(Parsed {
        year_text,
        y,
        mo,
        d,
        h,
        mi,
        s,
        ms,
        tz,
    })
}

/// The calendar's rule, from its one owner (`armoriq_core::calendar`); the
/// parser bounds the year to six digits, so it always has an answer.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    armoriq_core::calendar::days_from_civil(y, m, d).unwrap_or(0)
}

fn wall_ms(p: &Parsed) -> i64 {
    let days = days_from_civil(p.y, p.mo, 1) + p.d - 1;
    days * DAY_MS + ((p.h.unwrap_or(0) * 60 + p.mi) * 60 + p.s) * 1000 + p.ms
}

/// Milliseconds since the epoch, `Ok(None)` for a well-formed but out-of-range
/// time (the reference's `None`), `Err` where the reference raises.
pub(crate) fn epoch_ms(text: &str) -> Result<Option<i64>, EvalError> {
    let p = parse(text).ok_or_else(|| not_iso(text))?;
    if p.year_text == "-000000" {
        return Err(EvalError::UnsupportedTime("year -000000".into()));
    }
    let h = p.h.unwrap_or(0);
    let in_range = (1..=12).contains(&p.mo)
        && (1..=31).contains(&p.d)
        && p.mi <= 59
        && p.s <= 59
        && (h < 24 || (h == 24 && p.mi == 0 && p.s == 0 && p.ms == 0));
    if !in_range {
        return Ok(None);
    }
    if let Some(tz) = &p.tz
        && (tz.hours > 23 || tz.minutes > 59)
    {
        return Ok(None);
    }
    let wall = wall_ms(&p);
    let offset = match &p.tz {
        Some(tz) => tz.sign * (tz.hours * 60 + tz.minutes) * 60_000,
        None if p.h.is_none() => 0,
        None => local_offset_ms(&p, wall)?,
    };
    let ms = wall - offset;
    Ok((ms.abs() <= MAX_MS).then_some(ms))
}

/// The local-time offset with the host on UTC: zero, after the same range
/// checks the reference's `datetime` arithmetic makes.
fn local_offset_ms(p: &Parsed, wall: i64) -> Result<i64, EvalError> {
    if !(1..=9999).contains(&p.y) {
        return Err(EvalError::UnsupportedTime(
            "a local time outside years 1 to 9999".into(),
        ));
    }
    // datetime.max is 9999-12-31T23:59:59.999999.
    let max = days_from_civil(9999, 12, 31) * DAY_MS + DAY_MS - 1;
    if wall > max {
        return Err(EvalError::OverflowError("date value out of range".into()));
    }
    // astimezone() looks one day back from the wall time.
    let min = days_from_civil(1, 1, 2) * DAY_MS;
    if wall < min {
        return Err(EvalError::ValueError("year 0 is out of range".into()));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), Ok(Some(0)));
        assert_eq!(epoch_ms("1970"), Ok(Some(0)));
        assert_eq!(epoch_ms("1970-01-01T01:00+01:00"), Ok(Some(0)));
        assert_eq!(epoch_ms("+275760-09-13T00:00:00Z"), Ok(Some(MAX_MS)));
        assert_eq!(epoch_ms("+275760-09-13T00:00:00.001Z"), Ok(None));
        assert_eq!(epoch_ms("٢٠٢٦-01-01"), Ok(Some(1_767_225_600_000)));
        assert_eq!(epoch_ms("2026-13-01"), Ok(None));
        assert!(matches!(
            epoch_ms("16/10/2026"),
            Err(EvalError::UnsupportedTime(_))
        ));
        assert!(matches!(
            epoch_ms("-000000"),
            Err(EvalError::UnsupportedTime(_))
        ));
        assert!(matches!(
            epoch_ms("0001-01-01T23:59"),
            Err(EvalError::ValueError(_))
        ));
        assert!(matches!(
            epoch_ms("9999-12-31T24:00"),
            Err(EvalError::OverflowError(_))
        ));
        assert_eq!(epoch_ms("1970-01-01T00:00:00.1239Z"), Ok(Some(123)));
    }
}
