//! Names in `credentials.json`: products, origins, profile names, and the
//! instants of `loggedInAt` / `loginHistory`.

/// Lowercased, trimmed product.
pub fn normalize_product(p: &str) -> String {
    p.trim().to_lowercase()
}

/// `scheme://host[:port]` of an http(s) URL without user info (the port is
/// dropped when it is the scheme's default), else `None`.
pub fn url_origin(url: &str) -> Option<String> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(r) = authority.strip_prefix('[') {
        let (h, after) = r.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (format!("[{}]", h.to_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_lowercase(), Some(p)),
            None => (authority.to_lowercase(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port.filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => {
            if !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u32 = p.parse().ok()?;
            if n > 65535 {
                return None;
            }
            Some(n)
        }
    };
    Some(match port {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// `<product or "default">@<host[:port]>`.
pub fn profile_name(backend: &str, product: &str) -> Option<String> {
    let origin = url_origin(backend)?;
    let host = origin.split_once("://")?.1;
    let p = normalize_product(product);
    Some(format!(
        "{}@{host}",
        if p.is_empty() { "default" } else { p.as_str() }
    ))
}

/// Now as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn now_instant() -> String {
    format_instant(armoriq_common::time::now_ms())
}

pub use armoriq_common::time::format_instant;

pub(super) fn canonical_instant(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 24 {
        return false;
    }
    let shape = b.iter().enumerate().all(|(i, &c)| match i {
        4 | 7 => c == b'-',
        10 => c == b'T',
        13 | 16 => c == b':',
        19 => c == b'.',
        23 => c == b'Z',
        _ => c.is_ascii_digit(),
    });
    if !shape {
        return false;
    }
    let n = |r: std::ops::Range<usize>| v[r].parse::<u32>().unwrap_or(99);
    let (y, mo, d, h, mi, s) = (n(0..4), n(5..7), n(8..10), n(11..13), n(14..16), n(17..19));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=dim).contains(&d) && h < 24 && mi < 60 && s < 60
}
