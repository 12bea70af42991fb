//! Who is calling. One extractor per caller class, so a handler's
//! parameter list says who may call it:
//! - [`Browser`]: a logged-in person on a dashboard page;
//! - [`AgentConsole`]: the same, on a page that exists only while Agent
//!   Security Mode is on (404 otherwise);
//! - [`OwnerConsole`]: that, for an owner of the workspace (403 otherwise);
//! - [`WorkspaceOwner`]: a logged-in owner (404 otherwise);
//! - [`InstanceAdmin`]: an instance admin (404 otherwise).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::crypto;
use crate::db;
use crate::db::browser_sessions::LiveSession;
use crate::db::workspaces::Workspace;
use crate::domain::Role;
use crate::domain::audit::Actor;
use crate::error::HtmlError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "lk_session";
/// Double-submit cookie protecting the forms shown before login.
pub const FORM_CSRF_COOKIE: &str = "lk_csrf";

/// A logged-in person.
#[derive(Debug, Clone)]
pub struct Browser {
    pub session: LiveSession,
    /// Every workspace the person belongs to, for the switcher.
    pub workspaces: Vec<(Workspace, Role)>,
    /// `LATCHKEY_SUPERADMIN_DOMAIN` makes this password user an instance admin.
    pub instance_admin: bool,
}

impl Browser {
    pub fn actor(&self) -> Actor {
        Actor::User { id: self.session.user_id.clone(), email: self.session.email.clone() }
    }

    pub fn acting(&self) -> crate::domain::principal::Acting {
        crate::domain::principal::Acting { user_id: Some(self.session.user_id.clone()), role: self.session.role }
    }

    pub fn workspace(&self) -> &Workspace {
        &self.session.workspace
    }

    /// Whether `given` is this session's CSRF token (constant time).
    fn csrf_matches(&self, given: &str) -> bool {
        crypto::constant_time_eq(given.as_bytes(), self.session.csrf_token.as_bytes())
    }
}

/// A form with the session's CSRF token in its `csrf` field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

/// `impl CsrfField` for form structs with a `csrf: String` field.
macro_rules! csrf_forms {
    ($($form:ty),* $(,)?) => {$(
        impl $crate::http::auth::CsrfField for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}
pub(crate) use csrf_forms;

/// A form posted from one of this session's pages. Its fields can only be
/// reached through [`SessionForm::check`], which refuses a form whose CSRF
/// token is not the session's: a handler that forgets the check cannot read
/// the form, so it does not compile.
pub struct SessionForm<T>(T);

impl<T: CsrfField> SessionForm<T> {
    /// The form, if its CSRF token is `browser`'s session's.
    pub fn check(self, browser: &Browser) -> Result<T, HtmlError> {
        if browser.csrf_matches(self.0.csrf()) { Ok(self.0) } else { Err(csrf_refused()) }
    }

    /// The fields, to work out who must check the form (the OAuth consent
    /// form names the client whose login page to show). Nothing read here
    /// may be acted on before [`SessionForm::check`].
    pub fn fields_before_check(&self) -> &T {
        &self.0
    }

    /// The form of a page shown before login, if its token matches the
    /// double-submit cookie.
    pub fn check_before_login(self, req: &HttpRequest) -> Result<T, HtmlError> {
        check_anonymous_form_token(req, self.0.csrf())?;
        Ok(self.0)
    }
}

impl<T: serde::de::DeserializeOwned + CsrfField + 'static> FromRequest for SessionForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let form = web::Form::<T>::from_request(req, payload);
        Box::pin(async move { Ok(SessionForm(form.await?.into_inner())) })
    }
}

pub fn csrf_refused() -> HtmlError {
    HtmlError::Forbidden("This form expired or did not come from this site. Reload the page and try again.".into())
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, HtmlError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| HtmlError::Internal("application state missing".into()))
}

impl FromRequest for Browser {
    type Error = HtmlError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let cookie = req.cookie(SESSION_COOKIE).map(|c| c.value().to_string());
        let state = state_of(req);
        Box::pin(async move {
            let state = state?;
            let cookie = cookie.ok_or(HtmlError::LoginRequired)?;
            let hash = crypto::sha256(cookie.as_bytes());
            let now = state.clock.now();
            let found = state
                .db
                .read(move |conn| {
                    let Some(session) = db::browser_sessions::find_live(conn, &hash, now)? else {
                        return Ok(None);
                    };
                    let workspaces = db::memberships::list_for_user(conn, &session.user_id)?;
                    Ok(Some(Browser { session, workspaces, instance_admin: false }))
                })
                .await?;
            let mut browser = found.ok_or(HtmlError::LoginRequired)?;
            browser.instance_admin = crate::http::bearer::is_instance_admin(
                &state,
                &browser.session.email,
                browser.session.auto_provisioned,
            );
            Ok(browser)
        })
    }
}

type Gated<T> = Pin<Box<dyn Future<Output = Result<T, HtmlError>>>>;

/// A [`Browser`] that `admit` lets through (or turns away with its error).
fn gated<T: 'static>(req: &HttpRequest, payload: &mut Payload, admit: fn(Browser) -> Result<T, HtmlError>) -> Gated<T> {
    let browser = Browser::from_request(req, payload);
    Box::pin(async move { admit(browser.await?) })
}

/// A logged-in person on an agent page: those pages answer 404 while the
/// workspace's Agent Security Mode is off.
#[derive(Debug, Clone)]
pub struct AgentConsole(pub Browser);

impl FromRequest for AgentConsole {
    type Error = HtmlError;
    type Future = Gated<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        gated(req, payload, |b| {
            if b.session.workspace.agent_security_mode { Ok(AgentConsole(b)) } else { Err(HtmlError::NotFound) }
        })
    }
}

/// [`AgentConsole`] for an owner of the workspace: certificates, resources
/// and the registration token, which act for the whole workspace.
pub struct OwnerConsole(pub Browser);

impl FromRequest for OwnerConsole {
    type Error = HtmlError;
    type Future = Gated<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        gated(req, payload, |b| {
            if !b.session.workspace.agent_security_mode {
                Err(HtmlError::NotFound)
            } else if b.session.role != Role::Owner {
                Err(HtmlError::Forbidden("Only an owner of this workspace can do this.".into()))
            } else {
                Ok(OwnerConsole(b))
            }
        })
    }
}

/// A logged-in owner of the workspace; for anyone else the page does not
/// exist (the members page).
pub struct WorkspaceOwner(pub Browser);

impl FromRequest for WorkspaceOwner {
    type Error = HtmlError;
    type Future = Gated<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        gated(req, payload, |b| {
            if b.session.role == Role::Owner { Ok(WorkspaceOwner(b)) } else { Err(HtmlError::NotFound) }
        })
    }
}

/// A logged-in owner acting from a page every member sees (the Agent
/// Security Mode switch in settings): anyone else is told 403.
pub struct OwnerAction(pub Browser);

impl FromRequest for OwnerAction {
    type Error = HtmlError;
    type Future = Gated<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        gated(req, payload, |b| {
            if b.session.role == Role::Owner {
                Ok(OwnerAction(b))
            } else {
                Err(HtmlError::Forbidden("Only an owner of this workspace can do this.".into()))
            }
        })
    }
}

/// An instance admin (`LATCHKEY_SUPERADMIN_DOMAIN`); for anyone else the
/// page does not exist.
pub struct InstanceAdmin(pub Browser);

impl FromRequest for InstanceAdmin {
    type Error = HtmlError;
    type Future = Gated<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        gated(req, payload, |b| if b.instance_admin { Ok(InstanceAdmin(b)) } else { Err(HtmlError::NotFound) })
    }
}

/// The dashboard session cookie.
pub fn session_cookie(value: String, secure: bool, max_age_hours: i64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::hours(max_age_hours))
        .finish()
}

/// A cookie that tells the browser to forget the session.
pub fn expired_session_cookie(secure: bool) -> Cookie<'static> {
    let mut c = session_cookie(String::new(), secure, 0);
    c.make_removal();
    c
}

/// The CSRF token for a form shown before login, and the cookie to set when
/// the browser does not hold one yet.
pub fn anonymous_form_token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(FORM_CSRF_COOKIE)
        && c.value().len() == 43
    {
        return (c.value().to_string(), None);
    }
    let token = URL_SAFE_NO_PAD.encode(crypto::random_bytes::<32>());
    let cookie = Cookie::build(FORM_CSRF_COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    (token, Some(cookie))
}

/// Checks a pre-login form's token against its cookie.
fn check_anonymous_form_token(req: &HttpRequest, given: &str) -> Result<(), HtmlError> {
    let cookie = req.cookie(FORM_CSRF_COOKIE).ok_or_else(csrf_refused)?;
    if !given.is_empty() && crypto::constant_time_eq(cookie.value().as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(csrf_refused())
    }
}
