//! The bearer layer: every authenticated API route resolves its caller
//! here. It dispatches on the token's shape (PAT or Latchkey-issued JWT),
//! then checks expiry, revocation, Agent Security Mode, agent status and
//! audience; the extractors check the scope type. Every refusal is recorded
//! in the audit trail with its reason (identical ones collapse).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::crypto::token::{self, TokenKind};
use crate::db;
use crate::db::pats::PatAuth;
use crate::domain::agents::AgentStatus;
use crate::domain::audit::{self, Actor, Event};
use crate::domain::ids::WorkspaceId;
use crate::domain::pats::Scope;
use crate::domain::principal::{BoundAgent, Credential, CredentialKind, Principal, PrincipalUser};
use crate::domain::security_mode;
use crate::error::AppError;
use crate::http::request_meta;
use crate::state::AppState;

/// Proof-of-possession confirmation (RFC 7800): the session key's thumbprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cnf {
    pub jkt: String,
}

/// Claims of a JWT Latchkey signs: exchanged (`/v1/auth/exchange`) or a
/// key-bound runtime session (`/api/agent/auth/pat`, with `cnf` and `sid`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub pat_id: String,
    pub workspace_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Cnf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// SHA-256 (hex) of the raw body, taken by the middleware before any
/// handler reads it, for signed requests.
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

pub const SIGNATURE_HEADER: &str = "x-agent-signature";
pub const TIMESTAMP_HEADER: &str = "x-agent-timestamp";

/// What the credential is being used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// As a bearer on an API route.
    Direct,
    /// Traded in at an exchange endpoint.
    Exchange,
    /// Looked at by a resource server through `/v1/introspect`.
    Introspect,
}

/// The `Authorization: Bearer …` value, if any.
pub fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// A refusal plus what the audit trail should say about it.
struct Refusal {
    error: AppError,
    reason: &'static str,
    workspace: Option<WorkspaceId>,
}

impl Refusal {
    fn new(error: AppError, reason: &'static str, workspace: Option<&WorkspaceId>) -> Refusal {
        Refusal { error, reason, workspace: workspace.cloned() }
    }
}

/// Resolves `token` for `usage`, recording any refusal.
pub async fn authenticate(req: &HttpRequest, state: &AppState, token: &str, usage: Use) -> Result<Principal, AppError> {
    match resolve(req, state, token, usage).await {
        Ok(p) => {
            touch(state, &p);
            Ok(p)
        }
        Err(refusal) => {
            if !matches!(refusal.error, AppError::Internal(_)) {
                let meta = request_meta(req, state);
                let now = state.clock.now();
                let reason = refusal.reason;
                let ws = refusal.workspace;
                state
                    .db
                    .write(move |tx| {
                        let event = Event::failure(ws.as_ref(), &Actor::Anonymous, "auth.bearer", reason, &meta);
                        audit::record(tx, event, now)
                    })
                    .await?;
            }
            Err(refusal.error)
        }
    }
}

/// Resolves a token for introspection: `None` for anything not currently
/// valid. Nothing is audited or touched: the token's holder did not call.
pub async fn introspect(req: &HttpRequest, state: &AppState, token: &str) -> Option<Principal> {
    resolve(req, state, token, Use::Introspect).await.ok()
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
fn touch(state: &AppState, p: &Principal) {
    let now = state.clock.now();
    if p.credential.pat_last_used_at.is_some_and(|t| t.0 >= now.0 - 60) {
        return;
    }
    let db = state.db.clone();
    let Some(id) = p.credential.pat_id.clone() else { return };
    actix_web::rt::spawn(async move {
        if let Err(e) = db.write(move |tx| db::pats::touch_last_used(tx, &id, now)).await {
            tracing::warn!(error = %e, "could not record last use of a PAT");
        }
    });
}

async fn resolve(req: &HttpRequest, state: &AppState, token: &str, usage: Use) -> Result<Principal, Refusal> {
    let now = state.clock.now();
    let unknown = |reason| Refusal::new(AppError::AuthUnknownToken, reason, None);
    if token.starts_with(TokenKind::Pat.prefix()) {
        let hash = token::parse(TokenKind::Pat, token).ok_or_else(|| unknown("bad token checksum"))?;
        let auth = state
            .db
            .read(move |conn| db::pats::find_auth_by_hash(conn, &hash))
            .await
            .map_err(|e| Refusal::new(e, "", None))?
            .ok_or_else(|| unknown("unknown token"))?;
        let credential_id = auth.pat.id.0.clone();
        let expires_at = auth.pat.expires_at;
        check(state, auth, CredentialKind::Pat, credential_id, expires_at, usage, now)
    } else if token.starts_with("eyJ")
        && crate::crypto::rsa_cert::peek_header(token).is_some_and(|(alg, _)| alg == jsonwebtoken::Algorithm::RS256)
    {
        if usage == Use::Exchange {
            return Err(Refusal::new(
                AppError::Validation("token: only a PAT can be exchanged.".into()),
                "certificate JWT presented for exchange",
                None,
            ));
        }
        certificate_jwt(state, token, now).await
    } else if token.starts_with("eyJ") {
        if usage == Use::Exchange {
            return Err(Refusal::new(
                AppError::Validation("token: only a PAT can be exchanged.".into()),
                "JWT presented for exchange",
                None,
            ));
        }
        let claims: ExchangeClaims = state
            .keys
            .verify(token, &state.config.public_url, &state.config.public_url, now)
            .map_err(|_| unknown("JWT not signed by this server"))?;
        let pat_id = crate::domain::ids::PatId(claims.pat_id.clone());
        let sid = claims.sid.clone();
        let (auth, session) = state
            .db
            .read(move |conn| {
                let auth = db::pats::find_auth_by_id(conn, &pat_id)?;
                let session = match &sid {
                    Some(sid) => db::runtime_sessions::find(conn, sid)?,
                    None => None,
                };
                Ok((auth, session))
            })
            .await
            .map_err(|e| Refusal::new(e, "", None))?;
        let auth = auth.ok_or_else(|| unknown("JWT of a deleted PAT"))?;
        if auth.workspace.id.0 != claims.workspace_id {
            return Err(unknown("JWT workspace mismatch"));
        }
        let ws = auth.workspace.id.clone();
        if claims.exp <= now.0 {
            return Err(Refusal::new(AppError::AuthTokenExpired, "JWT expired", Some(&ws)));
        }
        let Some(cnf) = claims.cnf else {
            let mut p = check(state, auth, CredentialKind::Jwt, claims.jti, Timestamp(claims.exp), usage, now)?;
            p.credential.issued_at = Some(Timestamp(claims.iat));
            return Ok(p);
        };
        // A key-bound session: its row must agree with the JWT, and the
        // request must carry a fresh signature by the bound key.
        let session = session
            .filter(|s| s.pat_id == auth.pat.id && s.key_thumbprint == cnf.jkt)
            .ok_or_else(|| unknown("session JWT without its session"))?;
        let mut principal =
            check(state, auth, CredentialKind::Session, session.id.clone(), Timestamp(claims.exp), usage, now)?;
        principal.credential.issued_at = Some(Timestamp(claims.iat));
        principal.credential.key_thumbprint = Some(session.key_thumbprint.clone());
        // After the PAT's own checks, so a disabled agent says so.
        if session.ended_at.is_some() {
            return Err(Refusal::new(AppError::AuthTokenRevoked, "session ended", Some(&ws)));
        }
        // Introspection reports the binding; the resource server checks the
        // signature of the request it received itself.
        if usage != Use::Introspect {
            verify_request_signature(req, state, &session.public_key, now)
                .await
                .map_err(|(e, reason)| Refusal::new(e, reason, Some(&ws)))?;
        }
        Ok(principal)
    } else if token.starts_with(TokenKind::AccessToken.prefix()) {
        if usage == Use::Exchange {
            return Err(Refusal::new(
                AppError::Validation("token: only a PAT can be exchanged.".into()),
                "access token presented for exchange",
                None,
            ));
        }
        let hash = token::parse(TokenKind::AccessToken, token).ok_or_else(|| unknown("bad token checksum"))?;
        let auth = state
            .db
            .read(move |conn| db::access_tokens::find_auth_by_hash(conn, &hash))
            .await
            .map_err(|e| Refusal::new(e, "", None))?
            .ok_or_else(|| unknown("unknown access token"))?;
        let ws = auth.workspace.id.clone();
        if auth.expires_at <= now {
            return Err(Refusal::new(AppError::AuthTokenExpired, "access token expired", Some(&ws)));
        }
        security_mode::require_on(&auth.workspace, &state.config.url("/settings"))
            .map_err(|e| Refusal::new(e, "agent security mode off", Some(&ws)))?;
        if auth.agent_status != Some(AgentStatus::Active) {
            return Err(Refusal::new(AppError::AgentDisabled, "agent not active", Some(&ws)));
        }
        Ok(Principal {
            workspace: auth.workspace,
            user: None,
            credential: Credential {
                kind: CredentialKind::AccessToken,
                id: auth.id,
                pat_id: None,
                scope: Scope::Agent,
                audience: crate::domain::pats::Audience::Api,
                expires_at: auth.expires_at,
                pat_last_used_at: None,
                issued_at: None,
                key_thumbprint: None,
            },
            agent: Some(BoundAgent { id: auth.agent_id, name: auth.agent_name }),
        })
    } else {
        Err(unknown("unrecognised token format"))
    }
}

/// A JWT signed by a workspace certificate: RS256 (fixed by the
/// certificate, not the header), `iat` and `exp` required, a bounded
/// lifetime. Without `email` it is a management credential; with one, it
/// acts as that user (auto-provisioned), never as an instance admin.
async fn certificate_jwt(state: &AppState, token: &str, now: Timestamp) -> Result<Principal, Refusal> {
    use crate::crypto::rsa_cert;
    let unknown = |reason| Refusal::new(AppError::AuthUnknownToken, reason, None);
    let Some((_, Some(kid))) = rsa_cert::peek_header(token) else { return Err(unknown("certificate JWT without kid")) };
    let (cert, workspace) = state
        .db
        .read(move |conn| db::certificates::find_by_kid(conn, &kid))
        .await
        .map_err(|e| Refusal::new(e, "", None))?
        .ok_or_else(|| unknown("unknown certificate kid"))?;
    let ws = workspace.id.clone();
    let refuse = |e, reason| Refusal::new(e, reason, Some(&ws));
    if cert.status != "active" {
        return Err(refuse(AppError::CertificateRevoked, "certificate revoked or deleted"));
    }
    let claims = rsa_cert::verify(token, &cert.n, &cert.e).map_err(|r| refuse(AppError::AuthUnknownToken, r))?;
    const LEEWAY: i64 = 30;
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT without iat or exp"));
    };
    if exp.checked_sub(iat).is_none_or(|life| life < 0 || life > state.config.cert_jwt_max_ttl_seconds) {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT lifetime too long"));
    }
    if iat > now.0.saturating_add(LEEWAY) {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT issued in the future"));
    }
    if exp.saturating_add(LEEWAY) <= now.0 {
        return Err(refuse(AppError::AuthTokenExpired, "certificate JWT expired"));
    }
    security_mode::require_on(&workspace, &state.config.url("/settings"))
        .map_err(|e| refuse(e, "agent security mode off"))?;
    let user = match claims.email.as_deref() {
        None => None,
        Some(raw) => {
            let email = crate::domain::Email::parse(raw)
                .ok_or_else(|| refuse(AppError::AuthUnknownToken, "certificate JWT with a bad email"))?;
            let (ws_id, first, last) = (ws.clone(), claims.first_name.clone(), claims.last_name.clone());
            let by_now = now;
            let found = state
                .db
                .write(move |tx| {
                    let by = crate::domain::agents::By {
                        actor: &Actor::Anonymous,
                        meta: &crate::domain::audit::RequestMeta::default(),
                        now: by_now,
                    };
                    crate::domain::certificates::delegated_user(
                        tx,
                        &ws_id,
                        &email,
                        first.as_deref(),
                        last.as_deref(),
                        &by,
                    )
                })
                .await
                .map_err(|e| Refusal::new(e, "", None))?;
            let Some((user, role)) = found else {
                return Err(refuse(AppError::AuthUnknownToken, "delegated email is an account outside this workspace"));
            };
            // A delegated credential never carries instance-admin rights.
            Some(PrincipalUser { id: user.id, email: user.email, name: user.name, role, instance_admin: false })
        }
    };
    Ok(Principal {
        workspace,
        user,
        credential: Credential {
            kind: CredentialKind::CertificateJwt,
            id: claims.jti.unwrap_or_else(|| cert.kid.clone()),
            pat_id: None,
            scope: Scope::Host,
            audience: crate::domain::pats::Audience::Api,
            expires_at: Timestamp(exp),
            pat_last_used_at: None,
            issued_at: Some(Timestamp(iat)),
            key_thumbprint: None,
        },
        agent: None,
    })
}

/// The checks every credential passes, in order: alive, mode on, agent
/// enabled, audience.
fn check(
    state: &AppState,
    auth: PatAuth,
    kind: CredentialKind,
    credential_id: String,
    expires_at: Timestamp,
    usage: Use,
    now: Timestamp,
) -> Result<Principal, Refusal> {
    let ws = auth.workspace.id.clone();
    let refuse = |error, reason| Refusal::new(error, reason, Some(&ws));
    let pat = auth.pat;
    if pat.expires_at <= now {
        return Err(refuse(AppError::AuthTokenExpired, "PAT expired"));
    }
    if pat.revoked_at.is_some() {
        return Err(refuse(AppError::AuthTokenRevoked, "PAT revoked"));
    }
    // A PAT outlives neither its owner's membership nor its agent.
    let user = match auth.user {
        Some(u) => match u.role {
            Some(role) => Some(PrincipalUser {
                instance_admin: !pat.minted_by_delegation && is_instance_admin(state, &u.email, u.auto_provisioned),
                id: u.id,
                email: u.email,
                name: u.name,
                role,
            }),
            None => {
                return Err(refuse(AppError::AuthTokenRevoked, "PAT owner left the workspace"));
            }
        },
        None => return Err(refuse(AppError::AuthTokenRevoked, "PAT owner deleted")),
    };
    security_mode::require_on(&auth.workspace, &state.config.url("/settings"))
        .map_err(|e| refuse(e, "agent security mode off"))?;
    let agent = match (&pat.agent_id, &pat.agent_name, auth.agent_status) {
        (Some(_), _, Some(AgentStatus::Disabled)) => {
            return Err(refuse(AppError::AgentDisabled, "agent disabled"));
        }
        (Some(id), Some(name), Some(_)) => Some(BoundAgent { id: id.clone(), name: name.clone() }),
        (Some(_), _, _) => return Err(refuse(AppError::AuthTokenRevoked, "agent deleted")),
        _ => None,
    };
    if kind == CredentialKind::Pat {
        match usage {
            Use::Direct if !pat.audience.allows_direct_use() => {
                return Err(refuse(
                    AppError::Audience("This PAT is exchange-only: trade it in at /v1/auth/exchange first.".into()),
                    "exchange-only PAT used directly",
                ));
            }
            Use::Exchange if !pat.audience.allows_exchange() => {
                return Err(refuse(
                    AppError::Audience("This PAT is api-only and cannot be exchanged.".into()),
                    "api-only PAT presented for exchange",
                ));
            }
            _ => {}
        }
    }
    Ok(Principal {
        workspace: auth.workspace,
        user,
        credential: Credential {
            kind,
            id: credential_id,
            pat_id: Some(pat.id),
            scope: pat.scope,
            audience: pat.audience,
            expires_at,
            pat_last_used_at: pat.last_used_at,
            issued_at: Some(pat.created_at),
            key_thumbprint: None,
        },
        agent,
    })
}

/// Checks `X-Agent-Timestamp` and `X-Agent-Signature` against the session
/// key, then records the signature so it cannot be used twice.
async fn verify_request_signature(
    req: &HttpRequest,
    state: &AppState,
    public_key: &[u8],
    now: Timestamp,
) -> Result<(), (AppError, &'static str)> {
    use crate::crypto::signing;
    use crate::error::{SignatureContext, SignatureFailure};

    let digest =
        req.extensions().get::<BodyDigest>().map(|d| d.0.clone()).unwrap_or_else(|| crate::crypto::sha256_hex(b""));
    let ctx = SignatureContext { server_body_sha256: digest.clone(), server_time: now.0 };
    let fail = |kind, reason| (AppError::Signature(kind, ctx.clone()), reason);
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(ts_raw), Some(sig_raw)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) else {
        return Err(fail(SignatureFailure::Required, "signature headers missing"));
    };
    let ts: i64 = ts_raw.parse().map_err(|_| fail(SignatureFailure::Invalid, "timestamp not unix seconds"))?;
    let skew = state.config.signature_skew_seconds;
    if now.0.abs_diff(ts) > skew.unsigned_abs() {
        return Err(fail(SignatureFailure::TimestampSkew, "timestamp outside the skew window"));
    }
    let signature =
        signing::decode_signature(sig_raw).ok_or_else(|| fail(SignatureFailure::Invalid, "signature not base64"))?;
    // The path and query exactly as they came on the wire.
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let canonical = signing::canonical_string(req.method().as_str(), path, ts_raw, &digest);
    if !signing::verify(public_key, &canonical, &signature) {
        return Err(fail(SignatureFailure::Invalid, "bad signature"));
    }
    let signature_hash = crate::crypto::sha256(&signature.to_bytes());
    let until = Timestamp(ts + skew + 1);
    let fresh = state
        .db
        .write(move |tx| {
            db::signature_replays::delete_expired(tx, now)?;
            db::signature_replays::insert_new(tx, &signature_hash, until)
        })
        .await
        .map_err(|e| (e, "replay table"))?;
    if !fresh {
        return Err(fail(SignatureFailure::Replayed, "signature replayed"));
    }
    Ok(())
}

/// `LATCHKEY_SUPERADMIN_DOMAIN`: password users of that domain only.
pub fn is_instance_admin(state: &AppState, email: &str, auto_provisioned: bool) -> bool {
    match &state.config.superadmin_domain {
        Some(domain) if !auto_provisioned => {
            email.rsplit_once('@').is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain))
        }
        _ => false,
    }
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::internal("application state missing"))
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

fn extract(req: &HttpRequest, allowed: &'static [Scope], what: &'static str) -> Fut<Principal> {
    let req = req.clone();
    Box::pin(async move {
        let state = state_of(&req)?;
        let token = bearer_token(&req).ok_or(AppError::AuthRequired)?;
        let principal = authenticate(&req, &state, &token, Use::Direct).await?;
        if !allowed.contains(&principal.credential.scope) {
            let scope = principal.credential.scope.as_str();
            let ws = principal.workspace.id.clone();
            let meta = request_meta(&req, &state);
            let now = state.clock.now();
            state
                .db
                .write(move |tx| {
                    let event = Event::failure(Some(&ws), &Actor::Anonymous, "auth.bearer", "wrong scope type", &meta);
                    audit::record(tx, event, now)
                })
                .await?;
            return Err(AppError::Scope(format!("A {scope} credential cannot {what}.")));
        }
        Ok(principal)
    })
}

/// A verified key-bound session: the only credential payment-impacting
/// routes accept.
pub struct AgentSession(pub Principal);

impl FromRequest for AgentSession {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = extract(req, &[Scope::Host, Scope::Agent, Scope::Service], "do this");
        Box::pin(async move {
            let p = fut.await?;
            if p.credential.kind != CredentialKind::Session {
                return Err(AppError::SessionRequired);
            }
            Ok(AgentSession(p))
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
