//! Server-rendered HTML: one escaping function that every piece of text goes
//! through, and the page layout.
//!
//! A 10-line escaper instead of a template crate (`maud`, `askama`): the
//! pages are few and small, the rule is easy to review (every `{}` in a
//! page's `format!` is `esc(..)` or a fragment built the same way), and it
//! adds nothing to the build of a gateway that already compiles slowly on
//! small machines.

use super::session::ConsoleAdmin;
use axum::response::Html;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an optional text, `—` when absent.
pub fn esc_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "—".to_owned(), esc)
}

/// A page without navigation (sign-in, errors).
pub fn bare_page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · ArmorIQ console</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
         <body>{body}</body></html>",
        esc(title)
    ))
}

/// A signed-in page: navigation (the current section marked), who is
/// signed in, sign-out, the CSRF token for scripts, and the console script.
pub fn page(title: &str, section: &str, admin: &ConsoleAdmin, body: &str) -> Html<String> {
    let nav: String = [
        ("approvals", "Approvals"),
        ("audit", "Audit trail"),
        ("keys", "API keys"),
        ("policy", "Policy"),
    ]
    .iter()
    .map(|(id, label)| {
        let current = if *id == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"/console/{id}\"{current}>{label}</a>")
    })
    .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf\" content=\"{csrf}\">\
         <title>{title} · ArmorIQ console</title>\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\">\
         <script src=\"/console/assets/console.js\" defer></script></head>\
         <body><header class=\"top\"><span class=\"brand\">ArmorIQ console</span>\
         <nav aria-label=\"Console\">{nav}</nav>\
         <span class=\"who\" id=\"who\">{who}</span>\
         <form method=\"post\" action=\"/console/logout\" class=\"inline\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" id=\"sign-out\">Sign out</button></form></header>\
         <main>{body}</main></body></html>",
        csrf = esc(&admin.csrf),
        title = esc(title),
        who = esc(&admin.display()),
    ))
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time(ms: i64) -> String {
    let iso = crate::policy::iso_time_ms(ms);
    format!("{} UTC", iso.get(..19).unwrap_or(&iso).replace('T', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(esc("a\"b'c&d"), "a&quot;b&#39;c&amp;d");
        assert_eq!(esc_opt(None), "—");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
    }
}
