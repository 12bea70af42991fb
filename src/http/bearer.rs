//! The bearer layer: extractors over the authentication engine
//! ([`crate::domain::authn`]). It reads the credential and the signed
//! request's facts off the HTTP request, runs the engine's database-free
//! step, makes the one database visit, and queues every refusal for the
//! audit trail (identical ones collapse). The extractors check the scope
//! type.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine as _;

use crate::audit_queue::Failure;
use crate::db;
use crate::domain::audit::Actor;
use crate::domain::authn::{self, Prepared, Refusal, SignedFacts};
pub use crate::domain::authn::{Cnf, ExchangeClaims, Use};
use crate::domain::ids::WorkspaceId;
use crate::domain::pats::Scope;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::http::request_meta;
use crate::state::AppState;

/// SHA-256 (hex) of the raw body, taken by the middleware before any
/// handler reads it, for signed requests.
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

pub const SIGNATURE_HEADER: &str = "x-agent-signature";
pub const TIMESTAMP_HEADER: &str = "x-agent-timestamp";
pub const NONCE_HEADER: &str = "x-agent-nonce";
pub const CONTENT_DIGEST_HEADER: &str = "content-digest";

/// The `Authorization: Bearer …` value, if any. Bytes that are not text
/// make a token that matches nothing (`AUTH_UNKNOWN_TOKEN`), not a missing one.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(header::AUTHORIZATION)?;
    let Ok(value) = raw.to_str() else {
        let lossy = String::from_utf8_lossy(raw.as_bytes());
        let (scheme, _) = lossy.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| "\u{fffd}".to_string());
    };
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// The SHA-256 a `Content-Digest: sha-256=:BASE64:` header declares
/// (RFC 9530), as lower-case hex; `Ok(None)` without one.
pub fn declared_content_digest(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(CONTENT_DIGEST_HEADER) else { return Ok(None) };
    let bad = || AppError::Validation("Content-Digest: expected sha-256=:BASE64: (RFC 9530).".into());
    let value = value.to_str().map_err(|_| bad())?;
    for member in value.split(',') {
        let Some((alg, rest)) = member.trim().split_once('=') else { return Err(bad()) };
        if !alg.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        let b64 = rest.trim().strip_prefix(':').and_then(|r| r.strip_suffix(':')).ok_or_else(bad)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| bad())?;
        if bytes.len() != 32 {
            return Err(bad());
        }
        return Ok(Some(hex::encode(bytes)));
    }
    Ok(None)
}

/// The body hash a signature on this request covers (the middleware's hash
/// of the body received), and what is wrong with a declared
/// `Content-Digest`, if anything.
fn body_digest(req: &HttpRequest) -> (String, Option<String>) {
    let received =
        req.extensions().get::<BodyDigest>().map(|d| d.0.clone()).unwrap_or_else(|| crate::crypto::sha256_hex(b""));
    let problem = match declared_content_digest(req) {
        Err(e) => Some(e.user_message().into_owned()),
        Ok(Some(declared)) if declared != received => {
            Some("Content-Digest: does not match the body received (compare server_body_sha256).".to_string())
        }
        Ok(_) => None,
    };
    (received, problem)
}

/// Step one of the engine, with this request's facts.
fn prepare(req: &HttpRequest, state: &AppState, token: &str, usage: Use) -> Result<Prepared, Refusal> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let digest = (usage == Use::Direct && token.starts_with("eyJ")).then(|| body_digest(req));
    let head = req.extensions().contains::<crate::http::middleware::SentAsHead>();
    let facts = digest.as_ref().map(|(d, problem)| SignedFacts {
        method: if head { "HEAD" } else { req.method().as_str() },
        // The path and query exactly as they came on the wire.
        path_and_query: req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        nonce: header(NONCE_HEADER),
        body_sha256_hex: d,
        content_digest_problem: problem.as_deref(),
    });
    prepare_with(state, token, usage, facts.as_ref())
}

/// Step one of the engine with facts the caller read (forward-auth reads
/// them from the proxy's `X-Forwarded-*` headers).
pub fn prepare_with(
    state: &AppState,
    token: &str,
    usage: Use,
    facts: Option<&SignedFacts<'_>>,
) -> Result<Prepared, Refusal> {
    let verifiers = authn::Verifiers { keys: &state.keys, verified: &state.verified_jwts };
    authn::prepare(token, usage, facts, &verifiers, &state.authn, state.clock.now())
}

/// Step two: the one database visit, on this worker's own connection for
/// reads, in a write transaction when the engine records something.
async fn resolve(state: &AppState, prepared: Prepared, usage: Use) -> Result<Principal, Refusal> {
    let now = state.clock.now();
    if prepared.needs_write() {
        let settings = state.authn.clone();
        state
            .db
            .write_rerunnable(move |tx| Ok(authn::resolve(tx, &prepared, usage, &settings, now)))
            .await
            .map_err(Refusal::internal)?
    } else {
        let settings = state.authn.clone();
        state
            .db
            .read_here(move |conn| Ok(authn::resolve(conn, &prepared, usage, &settings, now)))
            .await
            .map_err(Refusal::internal)?
    }
}

/// Queues `refusal` for the audit trail and returns its error.
pub async fn refused(req: &HttpRequest, state: &AppState, refusal: Refusal) -> AppError {
    if !refusal.is_internal() {
        record_refusal(req, state, refusal.workspace, "auth.bearer", refusal.reason).await;
    }
    refusal.error
}

/// Queues a failure of `kind` (a refused credential, assertion, secret).
pub async fn record_refusal(
    req: &HttpRequest,
    state: &AppState,
    workspace_id: Option<WorkspaceId>,
    kind: &'static str,
    reason: &str,
) {
    let failure = Failure {
        workspace_id,
        actor: Actor::Anonymous,
        kind,
        target: None,
        reason: reason.to_string(),
        meta: request_meta(req, state),
        at: state.clock.now(),
    };
    if let Err(e) = state.audit.push(failure).await {
        tracing::error!(request_id = %crate::telemetry::request_id(), error = %e, "refusal not recorded");
    }
}

/// OAuth access tokens are for the resource they name, never for
/// Latchkey's own API (RFC 8707 audience).
fn for_the_api(p: Principal) -> Result<Principal, Refusal> {
    if p.credential.kind == crate::domain::principal::CredentialKind::OauthAccessToken {
        let ws = p.workspace.id.clone();
        return Err(Refusal {
            error: AppError::AuthUnknownToken,
            reason: "OAuth access token used on the API",
            workspace: Some(ws),
        });
    }
    Ok(p)
}

/// Resolves `token` for `usage`, recording any refusal.
pub async fn authenticate(req: &HttpRequest, state: &AppState, token: &str, usage: Use) -> Result<Principal, AppError> {
    let result = match prepare(req, state, token, usage) {
        Ok(prepared) => resolve(state, prepared, usage).await.and_then(for_the_api),
        Err(refusal) => Err(refusal),
    };
    match result {
        Ok(p) => {
            touch(state, &p);
            Ok(p)
        }
        Err(refusal) => Err(refused(req, state, refusal).await),
    }
}

/// Resolves a token for introspection: `None` for anything not currently
/// valid. Nothing is audited or touched: the token's holder did not call.
pub fn prepare_introspection(req: &HttpRequest, state: &AppState, token: &str) -> Option<Prepared> {
    prepare(req, state, token, Use::Introspect).ok()
}

/// [`prepare_introspection`] and its lookup, for routes that do not make
/// their own database visit.
pub async fn introspect(req: &HttpRequest, state: &AppState, token: &str) -> Option<Principal> {
    let prepared = prepare_introspection(req, state, token)?;
    resolve(state, prepared, Use::Introspect).await.ok()
}

/// Extracts a service credential (resource servers).
pub struct ServiceCaller(pub Principal);

impl FromRequest for ServiceCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Service], "introspect tokens; use a service PAT");
        Box::pin(async move { fut.await.map(ServiceCaller) })
    }
}

/// `last_used_at` (of the PAT, also when a JWT made from it is used), at
/// most once a minute per token and off the request path: the hot path
/// stays one indexed read.
pub fn touch(state: &AppState, p: &Principal) {
    crate::telemetry::note_credential(&p.credential.id);
    let now = state.clock.now();
    if p.credential.pat_last_used_at.is_some_and(|t| t.0 >= now.0 - 60) {
        return;
    }
    let Some(id) = p.credential.pat_id.clone() else { return };
    // Every request in flight read the same stale time: one of them writes.
    if !state.recent_touches.claim(&id, now) {
        return;
    }
    let (db, request_id) = (state.db.clone(), crate::telemetry::request_id());
    actix_web::rt::spawn(async move {
        if let Err(e) = db.write(move |tx| db::pats::touch_last_used(tx, &id, now)).await {
            tracing::warn!(%request_id, error = %e, "could not record last use of a PAT");
        }
    });
}

/// `LATCHKEY_SUPERADMIN_DOMAIN`: password users of that domain only.
pub fn is_instance_admin(state: &AppState, email: &str, auto_provisioned: bool) -> bool {
    authn::is_instance_admin(state.config.superadmin_domain.as_deref(), email, auto_provisioned)
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::internal("application state missing"))
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// Authenticates the bearer (one of `allowed` scope types) and runs `then`
/// in the same database visit, for read-only routes whose whole answer is
/// one more lookup (introspection).
pub async fn authenticate_then<T>(
    req: &HttpRequest,
    state: &AppState,
    allowed: &'static [Scope],
    what: &'static str,
    then: impl FnOnce(&crate::db::Connection, &Principal) -> T + Send + 'static,
) -> Result<(Principal, T), AppError>
where
    T: Send + 'static,
{
    let token = bearer_token(req).ok_or(AppError::AuthRequired)?;
    let prepared = match prepare(req, state, &token, Use::Direct) {
        Ok(p) => p,
        Err(refusal) => return Err(refused(req, state, refusal).await),
    };
    let now = state.clock.now();
    // Read-only credentials: the caller's lookup shares the visit.
    let (result, extra, then) = if prepared.needs_write() {
        (resolve(state, prepared, Use::Direct).await, None, Some(then))
    } else {
        let settings = state.authn.clone();
        state
            .db
            .read_here(move |conn| {
                db::in_snapshot(conn, |conn| {
                    let r = authn::resolve(conn, &prepared, Use::Direct, &settings, now);
                    Ok(match &r {
                        Ok(p) if allowed.contains(&p.credential.scope) => {
                            let extra = then(conn, p);
                            (r, Some(extra), None)
                        }
                        _ => (r, None, Some(then)),
                    })
                })
            })
            .await?
    };
    let principal = finish(req, state, result, allowed, what).await?;
    let extra = match (extra, then) {
        (Some(extra), _) => extra,
        (None, Some(f)) => {
            let p = principal.clone();
            state.db.read_here(move |conn| Ok(f(conn, &p))).await?
        }
        (None, None) => return Err(AppError::internal("authenticate_then lost its continuation")),
    };
    Ok((principal, extra))
}

/// The tail every authentication shares: audit a refusal, touch the PAT,
/// check the scope type.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    result: Result<Principal, Refusal>,
    allowed: &'static [Scope],
    what: &'static str,
) -> Result<Principal, AppError> {
    let principal = match result.and_then(for_the_api) {
        Ok(p) => p,
        Err(refusal) => return Err(refused(req, state, refusal).await),
    };
    touch(state, &principal);
    if !allowed.contains(&principal.credential.scope) {
        let scope = principal.credential.scope.as_str();
        let ws = Some(principal.workspace.id.clone());
        record_refusal(req, state, ws, "auth.bearer", "wrong scope type").await;
        return Err(AppError::Scope(format!("A {scope} credential cannot {what}.")));
    }
    Ok(principal)
}

fn extract(req: &HttpRequest, allowed: &'static [Scope], what: &'static str) -> Fut<Principal> {
    let req = req.clone();
    Box::pin(async move {
        let state = state_of(&req)?;
        let token = bearer_token(&req).ok_or(AppError::AuthRequired)?;
        let principal = authenticate(&req, &state, &token, Use::Direct).await?;
        if !allowed.contains(&principal.credential.scope) {
            let scope = principal.credential.scope.as_str();
            let ws = Some(principal.workspace.id.clone());
            record_refusal(&req, &state, ws, "auth.bearer", "wrong scope type").await;
            return Err(AppError::Scope(format!("A {scope} credential cannot {what}.")));
        }
        Ok(principal)
    })
}

/// A key-bound session whose request signature checked out as far as it
/// can without the database: the only credential payment-impacting routes
/// accept. The handler finishes it with [`SignedSession::resolve`] inside
/// its own write transaction, so the liveness checks, the replay record and
/// the action commit together.
pub struct SignedSession {
    pub prepared: Prepared,
    settings: std::sync::Arc<authn::Settings>,
}

impl SignedSession {
    /// The engine's database step; call inside the route's transaction.
    pub fn resolve(&self, tx: &crate::db::Connection, now: crate::clock::Timestamp) -> Result<Principal, Refusal> {
        authn::resolve(tx, &self.prepared, Use::Direct, &self.settings, now)
    }
}

impl FromRequest for SignedSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let token = bearer_token(&req).ok_or(AppError::AuthRequired)?;
            let prepared = match prepare(&req, &state, &token, Use::Direct) {
                Ok(p) => p,
                Err(refusal) => return Err(refused(&req, &state, refusal).await),
            };
            if !prepared.is_session() {
                // Whatever else it is, say what is wrong with it first.
                if let Err(refusal) = resolve(&state, prepared, Use::Direct).await {
                    return Err(refused(&req, &state, refusal).await);
                }
                return Err(AppError::SessionRequired);
            }
            Ok(SignedSession { prepared, settings: state.authn.clone() })
        })
    }
}

/// A host or service credential (reading the workspace's checkouts).
pub struct HostOrService(pub Principal);

impl FromRequest for HostOrService {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host, Scope::Service], "read this; use a host or service PAT");
        Box::pin(async move { fut.await.map(HostOrService) })
    }
}

/// Any valid credential of any scope type.
pub struct AnyCaller(pub Principal);

/// A host credential: manages the workspace on behalf of its user.
pub struct HostCaller(pub Principal);

impl FromRequest for AnyCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host, Scope::Agent, Scope::Service], "do this");
        Box::pin(async move { fut.await.map(AnyCaller) })
    }
}

impl FromRequest for HostCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host], "manage this workspace; use a host PAT");
        Box::pin(async move { fut.await.map(HostCaller) })
    }
}

/// A host credential of a workspace owner, or a management certificate JWT
/// (which acts at workspace level): certificates, resources, members.
pub struct OwnerCaller(pub Principal);

impl FromRequest for OwnerCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host], "manage this workspace; use a host PAT");
        Box::pin(async move {
            let p = fut.await?;
            if p.acting()?.role != crate::domain::Role::Owner {
                return Err(AppError::Scope(
                    "Only an owner of this workspace, or a management credential, may do this.".into(),
                ));
            }
            Ok(OwnerCaller(p))
        })
    }
}

/// An agent credential (PAT, JWT, session, access token).
pub struct AgentCaller(pub Principal);

impl FromRequest for AgentCaller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Agent], "read an agent's budget; use the agent's PAT");
        Box::pin(async move { fut.await.map(AgentCaller) })
    }
}
