//! `/v1/forward-auth` (docs/API.md §5.7): nginx `auth_request`, Caddy
//! `forward_auth` and Traefik `ForwardAuth` ask whether a request to a
//! guarded service may pass. The credential goes through the same engine as
//! on the API (same checks, same codes); the resource's rules then decide.
//! One database visit: the resource and the credential are read together.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine as _;

use crate::db;
use crate::domain::authn::{self, Refusal, SignedFacts, Use};
use crate::domain::principal::{CredentialKind, Principal};
use crate::domain::resources::{self, Resource, ResourceCache};
use crate::error::AppError;
use crate::http::bearer::{self, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::AppState;

type Visit = (Option<Arc<Resource>>, Option<Result<Principal, Refusal>>);

/// How the proxy named the resource.
enum Selector {
    Id(crate::model::ids::ResourceId),
    Host { authority: String, proto: Option<String>, path: String },
}

/// A refusal as the proxy passes it on: the §4 body, and for a 401 the
/// challenge that points at the resource's metadata.
struct Denied {
    error: AppError,
    resource: Option<Arc<Resource>>,
    presented: bool,
    /// The scopes to ask for, when more OAuth scopes would help.
    insufficient_scope: Option<String>,
}

impl Denied {
    fn plain(error: AppError) -> Denied {
        Denied { error, resource: None, presented: false, insufficient_scope: None }
    }

    fn with(error: AppError, resource: Arc<Resource>, presented: bool) -> Denied {
        Denied { error, resource: Some(resource), presented, insufficient_scope: None }
    }
}

pub async fn forward_auth(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // `?resource=<id>`: ids are UUIDs, nothing to decode.
    let resource = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("resource="))
        .map(|id| percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned());
    match check(&req, &state, resource).await {
        Ok(ok) => ok,
        Err(denied) => refusal_response(denied),
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

async fn check(req: &HttpRequest, state: &AppState, resource_id: Option<String>) -> Result<HttpResponse, Denied> {
    let sent_as_head = req.extensions().contains::<crate::http::middleware::SentAsHead>();
    let own_method = if sent_as_head { "HEAD" } else { req.method().as_str() };
    let method = header(req, "x-forwarded-method")
        .or_else(|| header(req, "x-original-method"))
        .unwrap_or(own_method)
        .to_ascii_uppercase();
    let uri = header(req, "x-forwarded-uri").or_else(|| header(req, "x-original-uri")).ok_or_else(|| {
        Denied::plain(AppError::Validation(
            "X-Forwarded-Uri: required (or X-Original-URI): the original request's path.".into(),
        ))
    })?;
    let path = resources::normalize_path(uri).ok_or_else(|| {
        Denied::plain(AppError::Validation("X-Forwarded-Uri: not a path this server can judge.".into()))
    })?;
    let selector = match resource_id {
        Some(id) => Selector::Id(crate::model::ids::ResourceId(id)),
        None => {
            let proto = header(req, "x-forwarded-proto").map(str::to_string);
            let host = header(req, "x-forwarded-host").ok_or_else(|| {
                Denied::plain(AppError::Validation(
                    "resource: name the resource with ?resource=<id>, or send X-Forwarded-Host.".into(),
                ))
            })?;
            Selector::Host {
                authority: resources::forwarded_authority(host, proto.as_deref()),
                proto,
                path: path.clone(),
            }
        }
    };
    // The body never reaches this call: the signature covers the hash the
    // agent declares in Content-Digest, or the empty body's.
    let declared = bearer::declared_content_digest(req).map_err(Denied::plain)?;
    let body_hex = declared.unwrap_or_else(|| crate::crypto::sha256_hex(b""));
    let token = bearer::bearer_token(req);
    let prepared = token.as_deref().map(|token| {
        let facts = SignedFacts {
            method: &method,
            path_and_query: uri,
            timestamp: header(req, TIMESTAMP_HEADER),
            signature: header(req, SIGNATURE_HEADER),
            nonce: header(req, NONCE_HEADER),
            body_sha256_hex: &body_hex,
            content_digest_problem: None,
        };
        bearer::prepare_with(state, token, Use::Direct, Some(&facts))
    });

    // The one visit: the resource, and the credential's liveness checks
    // (in a write transaction when a session's replay record is written).
    let now = state.clock.now();
    let settings = state.authn.clone();
    let cache = state.resources.clone();
    let (resource, resolved) = match prepared {
        // A session's replay record is written: the visit may run again
        // before it commits, so it only reads what it captured.
        Some(Ok(p)) if p.needs_write() => {
            state
                .db
                .write_rerunnable(move |conn| -> Result<Visit, AppError> {
                    let resource = find_resource(conn, &cache, &selector)?;
                    let resolved = resource.is_some().then(|| authn::resolve(conn, &p, Use::Direct, &settings, now));
                    Ok((resource, resolved))
                })
                .await
        }
        prepared => {
            let visit = move |conn: &crate::db::Connection| -> Result<Visit, AppError> {
                let resource = find_resource(conn, &cache, &selector)?;
                let resolved = match (&resource, prepared) {
                    (Some(_), Some(Ok(p))) => Some(authn::resolve(conn, &p, Use::Direct, &settings, now)),
                    (_, Some(Err(refusal))) => Some(Err(refusal)),
                    _ => None,
                };
                Ok((resource, resolved))
            };
            state.db.read_here(|conn| db::in_snapshot(conn, visit)).await
        }
    }
    .map_err(Denied::plain)?;

    let Some(resource) = resource else { return Err(Denied::plain(AppError::NotFound)) };
    let Some(resolved) = resolved else {
        return Err(Denied::with(AppError::AuthRequired, resource, false));
    };
    let principal = match resolved {
        Ok(p) => p,
        Err(refusal) => {
            let error = bearer::refused(req, state, refusal).await;
            return Err(Denied::with(error, resource, true));
        }
    };
    bearer::touch(state, &principal);
    // No two workspaces share a resource: another workspace's credential is
    // not a credential here.
    if principal.workspace.id != resource.workspace_id {
        bearer::record_refusal(
            req,
            state,
            Some(principal.workspace.id.clone()),
            "auth.forward",
            "credential of another workspace",
        )
        .await;
        return Err(Denied::with(AppError::AuthUnknownToken, resource, true));
    }
    // An OAuth access token is for exactly one resource (RFC 8707).
    let ws = Some(principal.workspace.id.clone());
    if principal.credential.oauth.as_ref().is_some_and(|o| o.resource != resource.identifier) {
        bearer::record_refusal(req, state, ws, "auth.forward", "access token for another resource").await;
        return Err(Denied::with(AppError::AuthUnknownToken, resource, true));
    }
    if let Err(refusal) = resources::judge(&resource, &principal, &method, &path) {
        bearer::record_refusal(req, state, ws, "auth.forward", "refused by the resource's rules").await;
        let mut denied = Denied::with(refusal.error, resource, true);
        denied.insufficient_scope = refusal.insufficient_scope;
        return Err(denied);
    }
    Ok(passed(&principal, &body_hex))
}

fn find_resource(
    conn: &crate::db::Connection,
    cache: &ResourceCache,
    selector: &Selector,
) -> Result<Option<Arc<Resource>>, AppError> {
    match selector {
        Selector::Id(id) => cache.current(conn, id),
        Selector::Host { authority, proto, path } => {
            let candidates = db::resources::find_by_authority(conn, authority)?;
            Ok(resources::select_by_host(&candidates, proto.as_deref(), path).cloned().map(Arc::new))
        }
    }
}

fn set(res: &mut HttpResponse, name: HeaderName, value: &str) {
    let value = if value.is_empty() {
        Ok(HeaderValue::from_static(""))
    } else {
        HeaderValue::from_str(value).or_else(|_| HeaderValue::from_bytes(value.as_bytes()))
    };
    if let Ok(v) = value {
        res.headers_mut().insert(name, v);
    }
}

const WORKSPACE_ID: HeaderName = HeaderName::from_static("x-latchkey-workspace-id");
const CREDENTIAL_KIND: HeaderName = HeaderName::from_static("x-latchkey-credential-kind");
const SCOPE_TYPE: HeaderName = HeaderName::from_static("x-latchkey-scope-type");
const AGENT_ID: HeaderName = HeaderName::from_static("x-latchkey-agent-id");
const AGENT_NAME: HeaderName = HeaderName::from_static("x-latchkey-agent-name");
const USER_EMAIL: HeaderName = HeaderName::from_static("x-latchkey-user-email");
const CONTENT_DIGEST: HeaderName = HeaderName::from_static("x-latchkey-content-digest");
const ERROR: HeaderName = HeaderName::from_static("x-latchkey-error");

/// 200 with who is calling, for the upstream. Every identity header is
/// always present, empty where it does not apply: a proxy that copies a
/// header the answer lacks may otherwise pass on a stale or placeholder
/// value (Caddy 2.6's `copy_headers` sends the literal placeholder).
fn passed(p: &Principal, body_hex: &str) -> HttpResponse {
    let mut res = HttpResponse::Ok().finish();
    let (agent_id, agent_name) = p.agent.as_ref().map_or(("", ""), |a| (a.id.as_str(), a.name.as_str()));
    let email = match (&p.agent, &p.user) {
        (None, Some(user)) => user.email.as_str(),
        _ => "",
    };
    // The body hash the signature covers: the upstream compares it with
    // the body it receives (an empty body's hash when none was declared,
    // so a body the agent never signed does not pass as verified).
    let digest = match p.credential.kind {
        CredentialKind::Session => hex::decode(body_hex)
            .map(|bytes| format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(bytes)))
            .unwrap_or_default(),
        _ => String::new(),
    };
    set(&mut res, WORKSPACE_ID, p.workspace.id.as_str());
    set(&mut res, CREDENTIAL_KIND, p.credential.kind.as_str());
    set(&mut res, SCOPE_TYPE, p.credential.scope.as_str());
    set(&mut res, AGENT_ID, agent_id);
    set(&mut res, AGENT_NAME, agent_name);
    set(&mut res, USER_EMAIL, email);
    set(&mut res, CONTENT_DIGEST, &digest);
    res
}

/// The §4 body; a 401 carries the RFC 9728 challenge. The body is also in
/// `X-Latchkey-Error` (ASCII JSON), because nginx's `auth_request` passes
/// the auth call's headers on, never its body.
fn refusal_response(denied: Denied) -> HttpResponse {
    let mut res = denied.error.error_response();
    if let Ok(json) = serde_json::to_string(&denied.error.body()) {
        set(&mut res, ERROR, &ascii_json(&json));
    }
    if res.status() == StatusCode::UNAUTHORIZED
        && let Some(resource) = &denied.resource
    {
        let mut challenge = format!("Bearer resource_metadata=\"{}\"", resources::metadata_url(&resource.identifier));
        if !resource.scopes.is_empty() {
            challenge.push_str(&format!(", scope=\"{}\"", resource.scopes.join(" ")));
        }
        if denied.presented {
            challenge.push_str(", error=\"invalid_token\"");
        }
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    // More OAuth scopes could help: the challenge MCP clients answer by
    // asking the host again.
    if let (Some(scope), Some(resource)) = (&denied.insufficient_scope, &denied.resource) {
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{}\"",
            resources::metadata_url(&resource.identifier)
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    res
}

/// JSON with every non-ASCII character escaped, so it fits in a header.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_json_is_ascii_and_still_the_same_json() {
        let json = r#"{"m":"a — b 😀"}"#;
        let escaped = ascii_json(json);
        assert!(escaped.is_ascii());
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&escaped).unwrap(),
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
    }
}
