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
    /// The same instant for `<time datetime>` (the page shows it relative).
    pub when_iso: String,
    pub actor: String,
    /// What happened, in words ("Agent created").
    pub what: String,
    /// The stored code (`agent.created`), for the filter and a tooltip.
    pub kind: String,
    /// The object, named by kind and a short id, and its page when it has one.
    pub target: Option<String>,
    pub target_href: Option<String>,
    pub outcome: crate::model::Outcome,
    pub reason: Option<String>,
    pub client_ip: String,
    pub repeat_count: i64,
}

/// Every kind of event the server records, in words, in the order the
/// audit page's filter lists them.
pub const EVENT_KINDS: &[(&str, &str)] = &[
    ("agent.created", "Agent created"),
    ("agent.disabled", "Agent disabled"),
    ("agent.enabled", "Agent enabled"),
    ("agent.bootstrap_secret_issued", "Bootstrap secret issued"),
    ("agent.bootstrap", "Agent enrollment"),
    ("agent.enrolled", "Agent enrolled"),
    ("agent.key_replaced", "Agent key replaced"),
    ("agent.token", "Agent token request"),
    ("agent.token_issued", "Agent token issued"),
    ("pat.created", "Token created"),
    ("pat.revoked", "Token revoked"),
    ("pat.cap_changed", "Daily cap changed"),
    ("pat.budget_changed", "Spend limits changed"),
    ("auth.bearer", "API call with a token"),
    ("auth.exchange", "Token exchange"),
    ("auth.forward", "Forward-auth check"),
    ("session.started", "Session started"),
    ("session.ended", "Session ended"),
    ("checkout.created", "Checkout"),
    ("checkout.refused", "Checkout refused"),
    ("approval.requested", "Approval requested"),
    ("approval.approved", "Approval granted"),
    ("approval.denied", "Approval denied"),
    ("approval.decided", "Approval decided"),
    ("certificate.created", "Certificate created"),
    ("certificate.revoked", "Certificate revoked"),
    ("certificate.deleted", "Certificate deleted"),
    ("resource.created", "Resource registered"),
    ("resource.updated", "Resource changed"),
    ("resource.deleted", "Resource deleted"),
    ("oauth.register", "OAuth client registered"),
    ("oauth.registration_token", "OAuth registration token issued"),
    ("oauth.consent", "OAuth consent given"),
    ("oauth.denied", "OAuth consent denied"),
    ("oauth.token", "OAuth token issued"),
    ("oauth.refresh", "OAuth token refreshed"),
    ("oauth.refresh_reused", "OAuth refresh token reused"),
    ("oauth.code_reused", "OAuth code reused"),
    ("oauth.grant_revoked", "OAuth grant revoked"),
    ("member.invited", "Member invited"),
    ("member.joined", "Member joined"),
    ("member.role_changed", "Member role changed"),
    ("member.removed", "Member removed"),
    ("user.provisioned", "User provisioned"),
    ("password.changed", "Password changed"),
    ("security_mode.on", "Agent Security Mode turned on"),
    ("security_mode.off", "Agent Security Mode turned off"),
    ("workspace.created", "Workspace created"),
    ("setup.completed", "Setup completed"),
];

/// `kind` in words; an unknown kind reads as its code with spaces.
pub fn event_label(kind: &str) -> String {
    match EVENT_KINDS.iter().find(|(k, _)| *k == kind) {
        Some((_, label)) => (*label).to_string(),
        None => {
            let words = kind.replace(['.', '_'], " ");
            let mut c = words.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }
    }
}

impl From<AuditEvent> for EventRow {
    fn from(e: AuditEvent) -> Self {
        let id = e.target_id.unwrap_or_default();
        let short: String = id.chars().take(8).collect();
        let target_href = match e.target_kind.as_deref() {
            Some("agent") if !id.is_empty() => Some(format!("/dashboard/agents/{id}")),
            Some("pat") if !id.is_empty() => Some(format!("/dashboard/tokens/{id}")),
            Some("resource") if !id.is_empty() => Some(format!("/dashboard/resources/{id}")),
            _ => None,
        };
        EventRow {
            when: e.created_at.display(),
            when_iso: e.created_at.to_rfc3339(),
            actor: e.actor_label.unwrap_or(e.actor_kind),
            what: event_label(&e.kind),
            kind: e.kind,
            target: e
                .target_kind
                .map(|k| if short.is_empty() { k } else { format!("{} {short}", k.replace('_', " ")) }),
            target_href,
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

    /// 400 for a form sent back with a mistake, 200 for a fresh one.
    pub fn status(&self) -> actix_web::http::StatusCode {
        if self.message.is_empty() { actix_web::http::StatusCode::OK } else { actix_web::http::StatusCode::BAD_REQUEST }
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
