//! API keys: the list, creating one (shown once, on the answer to the POST
//! only, never stored), revoking one (its console sessions end with it; the
//! SDK routes stop accepting it within the gateway's 5 s key cache).

use super::ConsoleResult;
use super::html::{self, esc, esc_opt, time};
use super::session::{ConsoleAdmin, CsrfForm, form};
use crate::builder::new_api_key;
use crate::error::GatewayError;
use crate::store::{NewApiKey, Role};
use crate::{AppState, now_ms};
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

async fn render(st: &AppState, admin: &ConsoleAdmin, created: &str) -> ConsoleResult<Html<String>> {
    let keys = st.store.list_api_keys().await?;
    let csrf = esc(&admin.csrf);
    let mut rows = String::new();
    for k in &keys {
        let action = if k.revoked_ms.is_some() {
            "—".to_owned()
        } else {
            format!(
                "<form method=\"post\" action=\"/console/keys/{}/revoke\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\" class=\"danger\">Revoke key #{}</button></form>",
                k.id, k.id
            )
        };
        rows.push_str(&format!(
            "<tr id=\"key-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            k.id,
            k.id,
            esc(k.role.as_str()),
            esc_opt(k.name.as_deref()),
            esc_opt(k.email.as_deref()),
            esc(&k.label),
            esc(&time(k.created_ms)),
            k.revoked_ms.map_or_else(|| "active".to_owned(), |t| format!("revoked {}", esc(&time(t)))),
        ));
    }
    let body = format!(
        "<h1>API keys</h1>{created}\
         <table id=\"keys\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">Name</th><th scope=\"col\">Email</th><th scope=\"col\">Label</th>\
         <th scope=\"col\">Created</th><th scope=\"col\">State</th><th scope=\"col\">Action</th>\
         </tr></thead><tbody>{rows}</tbody></table>\
         <h2>Create a key</h2>\
         <form method=\"post\" action=\"/console/keys\" class=\"stack\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"k-name\">Name</label><input id=\"k-name\" name=\"name\">\
         <label for=\"k-email\">Email</label><input id=\"k-email\" name=\"email\" type=\"email\">\
         <label for=\"k-label\">Label</label><input id=\"k-label\" name=\"label\">\
         <label><input type=\"checkbox\" name=\"admin\" value=\"1\"> Admin (may sign in here and decide held calls)</label>\
         <label><input type=\"checkbox\" name=\"live\" value=\"1\"> Live key (<code>ak_live_</code>)</label>\
         <button type=\"submit\" id=\"create-key\">Create key</button></form>"
    );
    Ok(html::page("API keys", "keys", admin, &body))
}

/// `GET /console/keys`.
///
/// # Errors
/// A store outage (503).
pub async fn page(State(st): State<AppState>, admin: ConsoleAdmin) -> ConsoleResult<Html<String>> {
    render(&st, &admin, "").await
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    admin: Option<String>,
    #[serde(default)]
    live: Option<String>,
}

/// `POST /console/keys`: creates a key and shows it once.
///
/// # Errors
/// CSRF (403), an admin key without an email (400), a store outage (503).
pub async fn create(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    f: Result<Form<CreateForm>, FormRejection>,
) -> ConsoleResult<Html<String>> {
    let f = form(f)?;
    admin.check_csrf(&f.csrf)?;
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let email = opt(&f.email).map(|e| e.to_lowercase());
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(GatewayError::BadRequest(format!(
            "{:?} is not an email address",
            f.email.trim()
        ))
        .into());
    }
    let role = if f.admin.is_some() {
        Role::Admin
    } else {
        Role::Agent
    };
    let prefix = if f.live.is_some() {
        "ak_live_"
    } else {
        "ak_test_"
    };
    let key = new_api_key(prefix).map_err(GatewayError::Unavailable)?;
    let new = NewApiKey {
        key: key.clone(),
        role,
        label: f.label.trim().to_owned(),
        name: opt(&f.name),
        email,
    };
    let id = crate::ops::create_key(
        st.store.as_ref(),
        &super::approvals::actor(&admin),
        &new,
        now_ms(),
    )
    .await?;
    let created = format!(
        "<div class=\"notice\" role=\"status\"><p>Key #{id} ({}) created. Copy it now: it is not shown again.</p>\
         <p><code id=\"new-key\">{}</code></p></div>",
        esc(role.as_str()),
        esc(&key)
    );
    render(&st, &admin, &created).await
}

/// `POST /console/keys/{id}/revoke`.
///
/// # Errors
/// CSRF (403), no such active key (404), a store outage (503).
pub async fn revoke(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> ConsoleResult<Response> {
    admin.check_csrf(&form(f)?.csrf)?;
    let id: i64 = id
        .parse()
        .map_err(|_| GatewayError::BadRequest(format!("{id:?} is not a key number")))?;
    crate::ops::revoke_key(
        st.store.as_ref(),
        &super::approvals::actor(&admin),
        id,
        now_ms(),
    )
    .await?;
    Ok(Redirect::to("/console/keys").into_response())
}
