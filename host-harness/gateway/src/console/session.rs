//! Signing in with an admin key, the session cookie, signing out, CSRF.
//!
//! * The session id is 32 random bytes (hex) in cookie `armoriq_console`
//!   (`HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` when
//!   [`Settings::secure_cookies`](crate::settings::Settings) is on). The store
//!   keeps only its SHA-256, with the admin key's id, a CSRF token and an
//!   expiry ([`Settings::console_session_ttl`](crate::settings::Settings)).
//! * Every POST carries the session's CSRF token in the form field `csrf`
//!   (compared in constant time). The sign-in form, which has no session
//!   yet, is a double submit: a random `armoriq_login` cookie equal to its
//!   hidden field.
//! * A revoked key's sessions end with it; an agent key cannot sign in.

use super::html::{bare_page, esc};
use super::{ConsoleError, ConsoleResult};
use crate::AppState;
use crate::error::GatewayError;
use crate::now_ms;
use crate::store::{ApiKeyRecord, Role, key_hash};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The session cookie.
pub const SESSION_COOKIE: &str = "armoriq_console";
/// The sign-in form's double-submit cookie.
pub const LOGIN_COOKIE: &str = "armoriq_login";

/// A signed-in admin: every console page but sign-in takes one.
#[derive(Clone, Debug)]
pub struct ConsoleAdmin {
    /// The admin key (name, email).
    pub key: ApiKeyRecord,
    /// The session's CSRF token.
    pub csrf: String,
    /// SHA-256 of the session id.
    pub session_hash: String,
}

impl ConsoleAdmin {
    /// `Name <email>`, or what there is of it, or `admin key #id`.
    pub fn display(&self) -> String {
        display_key(&self.key)
    }

    /// What the store records as the decider: the email, else the key.
    pub fn decider(&self) -> String {
        self.key
            .email
            .clone()
            .unwrap_or_else(|| format!("admin key #{}", self.key.id))
    }

    /// Refuses a POST whose `csrf` field is not this session's token.
    ///
    /// # Errors
    /// `Forbidden`.
    pub fn check_csrf(&self, sent: &str) -> Result<(), GatewayError> {
        if constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(GatewayError::Forbidden(
                "the form's CSRF token is missing or wrong: reload the page and try again".into(),
            ))
        }
    }
}

/// `Name <email>` of a key, or what there is of it.
pub fn display_key(k: &ApiKeyRecord) -> String {
    match (&k.name, &k.email) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n.clone(),
        (None, Some(e)) => e.clone(),
        (None, None) => format!("admin key #{}", k.id),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn random_hex() -> Result<String, GatewayError> {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| GatewayError::Unavailable("system RNG failed".into()))?;
    Ok(hex::encode(b))
}

fn set_cookie(st: &AppState, name: &str, value: &str, max_age: u64) -> String {
    let secure = if st.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let page = parts.method == Method::GET && !parts.uri.path().contains("/api/");
        let signed_out = ConsoleError::SignedOut { page };
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(signed_out);
        };
        let session_hash = key_hash(id);
        match st.store.get_session(&session_hash, now_ms()).await? {
            Some(s) => Ok(Self {
                key: s.key,
                csrf: s.csrf,
                session_hash,
            }),
            None => Err(signed_out),
        }
    }
}

/// Maps a form that does not parse to a 400 page.
pub fn form<T>(f: Result<Form<T>, FormRejection>) -> Result<T, GatewayError> {
    f.map(|Form(t)| t)
        .map_err(|e| GatewayError::BadRequest(format!("the form is incomplete: {}", e.body_text())))
}

fn login_form(st: &AppState, message: Option<&str>) -> ConsoleResult<Response> {
    let token = random_hex()?;
    let error = message.map_or(String::new(), |m| {
        format!(
            "<p class=\"error\" id=\"error\" role=\"alert\">{}</p>",
            esc(m)
        )
    });
    let body = format!(
        "<main class=\"narrow\"><h1>ArmorIQ console</h1>\
         <p>Sign in with an admin API key (<code>armoriq keys create --admin --name \"…\" --email …</code>).</p>\
         {error}<form method=\"post\" action=\"/console/login\" class=\"stack\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
         <label for=\"key\">Admin API key</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" required autofocus>\
         <button type=\"submit\" id=\"sign-in\">Sign in</button></form></main>"
    );
    let mut r = bare_page("Sign in", &body).into_response();
    if let Ok(v) = set_cookie(st, LOGIN_COOKIE, &token, 600).parse() {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}

/// `GET /console/login`.
///
/// # Errors
/// The RNG failed.
pub async fn login_page(State(st): State<AppState>) -> ConsoleResult<Response> {
    login_form(&st, None)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    key: String,
    csrf: String,
}

/// `POST /console/login`: an admin key starts a session.
///
/// # Errors
/// A wrong form token (403), a store outage (503). A wrong key answers the
/// form again with 401.
pub async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    f: Result<Form<LoginForm>, FormRejection>,
) -> ConsoleResult<Response> {
    let f = form(f)?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !constant_time_eq(expected.as_bytes(), f.csrf.as_bytes()) {
        return Err(GatewayError::Forbidden(
            "the sign-in form expired or was not sent by this browser: reload it".into(),
        )
        .into());
    }
    let refuse = |status, m: &str| -> ConsoleResult<Response> {
        let mut r = login_form(&st, Some(m))?;
        *r.status_mut() = status;
        Ok(r)
    };
    let Some(info) = st.store.check_api_key(f.key.trim()).await? else {
        return refuse(
            axum::http::StatusCode::UNAUTHORIZED,
            "That key is not a valid API key.",
        );
    };
    if info.role != Role::Admin {
        return refuse(
            axum::http::StatusCode::FORBIDDEN,
            "That is an agent key: the console needs an admin key (armoriq keys create --admin).",
        );
    }
    let id = random_hex()?;
    let csrf = random_hex()?;
    let now = now_ms();
    let ttl = st.settings.console_session_ttl;
    let expires = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    st.store
        .create_session(&key_hash(&id), info.id, &csrf, now, expires)
        .await?;
    let mut r = Redirect::to("/console/approvals").into_response();
    for c in [
        set_cookie(&st, SESSION_COOKIE, &id, ttl.as_secs()),
        set_cookie(&st, LOGIN_COOKIE, "", 0),
    ] {
        if let Ok(v) = c.parse() {
            r.headers_mut().append(SET_COOKIE, v);
        }
    }
    Ok(r)
}

/// A form with only the CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    pub csrf: String,
}

/// `POST /console/logout`: ends the session, clears the cookie.
///
/// # Errors
/// Signed out, a wrong CSRF token, a store outage.
pub async fn logout(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> ConsoleResult<Response> {
    admin.check_csrf(&form(f)?.csrf)?;
    st.store
        .delete_session(&admin.session_hash, now_ms())
        .await?;
    let mut r = Redirect::to("/console/login").into_response();
    if let Ok(v) = set_cookie(&st, SESSION_COOKIE, "", 0).parse() {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_tokens() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; armoriq_console=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(constant_time_eq(b"ab", b"ab"));
        assert!(!constant_time_eq(b"ab", b"ac"));
        assert!(!constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b"ab"));
    }
}
