//! Server-rendered pages. Each handler returns an askama template; pages
//! work without JavaScript.

pub mod admin;
pub mod agents;
pub mod audit;
pub mod certificates;
pub mod login;
pub mod members;
pub mod oauth;
pub mod oauth_clients;
pub mod overview;
pub mod resources;
mod reveal;
pub mod settings;
pub mod setup;
pub mod tokens;

use actix_web::HttpResponse;
use actix_web::http::header;
use askama::Template;

use crate::db::audit::AuditEvent;
use crate::http::auth::Browser;

/// What the navigation bar needs.
pub struct Nav {
    pub email: String,
    pub workspace_name: String,
    pub agent_mode: bool,
    pub csrf: String,
    pub current: &'static str,
    pub workspaces: Vec<NavWorkspace>,
    pub instance_admin: bool,
    pub is_owner: bool,
}

pub struct NavWorkspace {
    pub id: String,
    pub name: String,
    pub current: bool,
}

impl Nav {
    pub fn new(browser: &Browser, current: &'static str) -> Nav {
        let ws = browser.workspace();
        Nav {
            email: browser.session.email.clone(),
            instance_admin: browser.instance_admin,
            is_owner: browser.session.role == crate::domain::Role::Owner,
            workspace_name: ws.name.clone(),
            agent_mode: ws.agent_security_mode,
            csrf: browser.session.csrf_token.clone(),
            current,
            workspaces: browser
                .workspaces
                .iter()
                .map(|(w, _)| NavWorkspace { id: w.id.0.clone(), name: w.name.clone(), current: w.id == ws.id })
                .collect(),
        }
    }
}

/// An audit event as a table row.
pub struct EventRow {
    pub when: String,
    pub actor: String,
    pub kind: String,
    pub target: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub client_ip: String,
    pub repeat_count: i64,
}

impl From<AuditEvent> for EventRow {
    fn from(e: AuditEvent) -> Self {
        EventRow {
            when: e.created_at.display(),
            actor: e.actor_label.unwrap_or(e.actor_kind),
            kind: e.kind,
            target: e.target_kind.map(|k| format!("{k} {}", e.target_id.unwrap_or_default())),
            outcome: e.outcome,
            reason: e.reason,
            client_ip: e.client_ip.unwrap_or_default(),
            repeat_count: e.repeat_count,
        }
    }
}

/// 200 with the rendered page.
pub fn page(t: &impl Template) -> Result<HttpResponse, crate::error::HtmlError> {
    page_with_status(actix_web::http::StatusCode::OK, t)
}

pub fn page_with_status(
    status: actix_web::http::StatusCode,
    t: &impl Template,
) -> Result<HttpResponse, crate::error::HtmlError> {
    Ok(HttpResponse::build(status).insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8")).body(t.render()?))
}

/// A form sent back with a mistake: the message beside the field it is
/// about (or above the form), and what was typed, so nothing is lost.
#[derive(Default)]
pub struct Refilled {
    /// The field the message is about; `None`: the form as a whole.
    pub field: Option<&'static str>,
    pub message: String,
    pub values: std::collections::BTreeMap<&'static str, String>,
}

impl Refilled {
    /// `error`'s message, put beside the field it starts with ("name: …"),
    /// or beside `fallback` (a conflict on a name says so without the prefix).
    /// `fields` pairs the prefix a message may start with (often the API's
    /// field name) with the form field it is about.
    pub fn new(
        error: &crate::error::AppError,
        fields: &[(&str, &'static str)],
        fallback: Option<&'static str>,
    ) -> Refilled {
        let text = error.user_message().into_owned();
        let (field, message) = match fields.iter().find(|(prefix, _)| text.starts_with(&format!("{prefix}: "))) {
            Some((prefix, f)) => (Some(*f), text[prefix.len() + 2..].to_string()),
            None => (fallback, text),
        };
        let message = {
            let mut c = message.chars();
            c.next().map(|first| first.to_uppercase().chain(c).collect()).unwrap_or_default()
        };
        Refilled { field, message, values: Default::default() }
    }

    pub fn with(mut self, field: &'static str, value: &str) -> Refilled {
        self.values.insert(field, value.to_string());
        self
    }

    /// What was typed into `field` (empty on a fresh form).
    pub fn value(&self, field: &str) -> &str {
        self.value_or(field, "")
    }

    /// What was typed into `field`, or `default` on a fresh form.
    pub fn value_or<'a>(&'a self, field: &str, default: &'a str) -> &'a str {
        self.values.get(field).map(String::as_str).unwrap_or(default)
    }

    /// The attributes that tie `field`'s input to its message (trusted
    /// HTML: `field` is one of the handler's own names).
    pub fn invalid(&self, field: &str) -> String {
        match self.error_for(field) {
            Some(_) => format!(r#" aria-invalid="true" aria-describedby="{field}-error" autofocus"#),
            None => String::new(),
        }
    }

    /// The message when it is about `field`.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        (self.field == Some(field) && !self.message.is_empty()).then_some(self.message.as_str())
    }

    /// The message when it is about the whole form.
    pub fn form_error(&self) -> Option<&str> {
        (self.field.is_none() && !self.message.is_empty()).then_some(self.message.as_str())
    }
}

/// Any other `/dashboard/…` address: anonymous visitors go to the login
/// like on every dashboard page, and nobody learns which pages exist.
pub async fn unknown_page(_browser: crate::http::auth::Browser) -> Result<HttpResponse, crate::error::HtmlError> {
    Err(crate::error::HtmlError::NotFound)
}

/// 303 to `location` (post/redirect/get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_string())).finish()
}

/// Percent-encodes a value for a query string.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
