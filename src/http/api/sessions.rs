//! `POST /api/agent/auth/pat`: a key-bound runtime session (docs/API.md §5.3).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{actor_of, parse_json};
use crate::crypto::signing::SessionKey;
use crate::db;
use crate::domain::pats::Scope;
use crate::domain::sessions;
use crate::error::AppError;
use crate::http::bearer::{Cnf, ExchangeClaims, Use, authenticate, bearer_token};
use crate::state::AppState;
use crate::wire::tokens as wire;

/// Anyone holding an agent PAT whose audience allows exchange, and the
/// ephemeral Ed25519 key the session will be bound to.
pub async fn start_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let body: wire::StartSession = parse_json(&body)?;
    let key = match &body.session_pubkey {
        Some(v) => SessionKey::parse(v).map_err(AppError::InvalidPublicKey)?,
        None => return Err(AppError::Validation("session_pubkey: required.".into())),
    };
    let label = sessions::parse_label(body.label.as_deref())?;
    let session_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.key.to_bytes())
    };
    let token = body.token.or_else(|| bearer_token(&req)).ok_or(AppError::AuthRequired)?;
    let p = authenticate(&req, &state, &token, Use::Exchange).await?;
    let Some(agent) = p.agent.clone().filter(|_| p.credential.scope == Scope::Agent) else {
        return Err(AppError::UseAgentPat);
    };
    // Each session is rows and a JWT: one PAT cannot start them without end.
    if let Some(pat) = &p.credential.pat_id
        && let Err(retry_after_seconds) = state.pat_limiter.check(pat.as_str())
    {
        return Err(AppError::RateLimited { retry_after_seconds });
    }

    let origin = crate::http::origin(actor_of(&p), &req, &state);
    let now = origin.now;
    let ttl = state.config.session_ttl_seconds;
    let pat = p.credential.pat_id.clone().ok_or(AppError::UseAgentPat)?;
    let pat_claim = pat.0.clone();
    let (ws, pat_expires) = (p.workspace.id.clone(), p.credential.expires_at);
    let agent_id = agent.id.clone();
    let session = state
        .db
        .write(move |tx| sessions::start(tx, &ws, &agent_id, &pat, pat_expires, &key, label, ttl, &origin.by()))
        .await?;
    let claims = ExchangeClaims {
        iss: state.config.public_url.clone(),
        sub: agent.id.0.clone(),
        aud: state.config.public_url.clone(),
        iat: now.0,
        exp: session.expires_at.0,
        jti: db::new_id(),
        pat_id: pat_claim,
        workspace_id: p.workspace.id.0.clone(),
        scope: Scope::Agent.as_str().into(),
        agent_id: Some(agent.id.0.clone()),
        cnf: Some(Cnf { jkt: session.key_thumbprint.clone() }),
        sid: Some(session.id.0.clone()),
        session_key: Some(session_key),
    };
    let jwt = state.keys.sign(&claims).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok().json(wire::Session {
        jwt,
        token_type: "Bearer".into(),
        expires_in: session.expires_at.0 - now.0,
        session_id: session.id.0,
        agent_id: agent.id.0,
        key_thumbprint: session.key_thumbprint,
    }))
}
