//! Agent enrollment (docs/API.md §5.4): one-time bootstrap secrets, the
//! agent's own P-256 key, RFC 7523 client assertions, access tokens.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::crypto::es256::{AssertionClaims, EcJwk};
use crate::crypto::token::{SecretToken, TokenKind};
use crate::db;
use crate::db::agents::Agent;
use crate::domain::agents::{AgentStatus, By};
use crate::domain::audit::{self, Event};
use crate::domain::security_mode;
use crate::error::AppError;

/// A new agent owned by `owner`, with its first one-time bootstrap secret,
/// in the caller's transaction: what the API and the dashboard both do.
pub fn create_agent_with_secret(
    tx: &Connection,
    ws: &crate::domain::ids::WorkspaceId,
    name: &str,
    description: &str,
    owner: Option<&crate::domain::ids::UserId>,
    ttl_hours: i64,
    by: &By<'_>,
) -> Result<(Agent, SecretToken, Timestamp), AppError> {
    let agent = crate::domain::agents::create(tx, ws, name, description, owner, by)?;
    let (secret, expires) = issue_bootstrap_secret(tx, &agent, ttl_hours, by)?;
    Ok((agent, secret, expires))
}

/// A new bootstrap secret for an agent `who` may manage, for re-enrollment
/// or key rotation; a disabled agent gets none (409). The check and the
/// issue share the transaction, so a disable that lands first wins.
pub fn reissue_bootstrap_secret(
    tx: &Connection,
    ws: &crate::domain::ids::WorkspaceId,
    id: &crate::domain::ids::AgentId,
    who: &crate::domain::principal::Acting,
    ttl_hours: i64,
    by: &By<'_>,
) -> Result<(Agent, SecretToken, Timestamp), AppError> {
    let agent = crate::domain::agents::get_manageable(tx, ws, id, who)?;
    if agent.status == AgentStatus::Disabled {
        return Err(AppError::AgentDisabledConflict);
    }
    let (secret, expires) = issue_bootstrap_secret(tx, &agent, ttl_hours, by)?;
    Ok((agent, secret, expires))
}

/// Voids the agent's unused secrets and issues a new one (shown once).
pub fn issue_bootstrap_secret(
    tx: &Connection,
    agent: &Agent,
    ttl_hours: i64,
    by: &By<'_>,
) -> Result<(SecretToken, Timestamp), AppError> {
    db::bootstrap_secrets::delete_unused_for_agent(tx, &agent.id)?;
    let secret = SecretToken::generate(TokenKind::BootstrapSecret);
    let expires_at = by.now.plus_seconds(ttl_hours * 3600);
    db::bootstrap_secrets::insert(tx, &secret.hash(), &agent.id, &agent.workspace_id, by.now, expires_at)?;
    audit::record(
        tx,
        Event::success(Some(&agent.workspace_id), by.actor, "agent.bootstrap_secret_issued", by.meta)
            .target("agent", agent.id.0.clone()),
        by.now,
    )?;
    Ok((secret, expires_at))
}

/// Consumes the secret and registers `key`: `created` becomes active,
/// `active` has its key replaced and every access token deleted,
/// `disabled` is refused. Any refusal rolls the consumption back with the
/// transaction, so the secret stays usable only if nothing was wrong with it.
pub fn bootstrap(
    tx: &Connection,
    secret_hash: &[u8],
    key: &EcJwk,
    settings_url: &str,
    by: &By<'_>,
) -> Result<Agent, AppError> {
    let (agent_id, ws) =
        db::bootstrap_secrets::consume(tx, secret_hash, by.now)?.ok_or(AppError::BootstrapSecretInvalid)?;
    let workspace = db::workspaces::get(tx, &ws)?;
    security_mode::require_on(&workspace, settings_url)?;
    let agent = db::agents::find(tx, &ws, &agent_id)?.ok_or(AppError::BootstrapSecretInvalid)?;
    let kind = match agent.status {
        AgentStatus::Disabled => return Err(AppError::AgentDisabledConflict),
        AgentStatus::Created => "agent.enrolled",
        AgentStatus::Active => {
            db::access_tokens::delete_for_agent(tx, &agent.id)?;
            "agent.key_replaced"
        }
    };
    db::agents::update_key(tx, &agent.id, &key.to_json(), &key.thumbprint(), by.now, by.now)?;
    let mut event = Event::success(Some(&ws), by.actor, kind, by.meta).target("agent", agent.id.0.clone());
    event.reason = Some(format!("key {}", key.thumbprint()));
    audit::record(tx, event, by.now)?;
    db::agents::find(tx, &ws, &agent.id)?.ok_or(AppError::NotFound)
}

/// What a client assertion must satisfy besides its signature.
pub struct AssertionRules<'a> {
    pub agent_id: &'a str,
    /// Accepted audiences, without trailing slashes.
    pub audiences: &'a [String],
    pub now: Timestamp,
    /// How far `iat` may be in the future.
    pub skew: i64,
}

/// Checks the claims; the error is the reason for the audit trail.
pub fn check_claims(c: &AssertionClaims, rules: &AssertionRules<'_>) -> Result<(), &'static str> {
    if c.iss.as_deref() != Some(rules.agent_id) || c.sub.as_deref() != Some(rules.agent_id) {
        return Err("iss and sub must both be the agent id");
    }
    let aud_ok = |a: &str| rules.audiences.iter().any(|x| x == a.trim_end_matches('/'));
    let aud = match &c.aud {
        serde_json::Value::String(a) => aud_ok(a),
        serde_json::Value::Array(all) => all.iter().filter_map(|a| a.as_str()).any(aud_ok),
        _ => false,
    };
    if !aud {
        return Err("wrong audience");
    }
    let (Some(iat), Some(exp)) = (c.iat, c.exp) else { return Err("iat and exp are required") };
    if exp <= rules.now.0 {
        return Err("assertion expired");
    }
    if exp.checked_sub(iat).is_none_or(|life| !(0..=60).contains(&life)) {
        return Err("assertion lives longer than 60 s");
    }
    if iat > rules.now.0 + rules.skew {
        return Err("iat in the future");
    }
    match c.jti.as_deref() {
        Some(j) if !j.is_empty() && j.len() <= 256 => Ok(()),
        _ => Err("jti missing"),
    }
}

/// Records the jti (a replay is refused) and issues an access token.
/// Inside the issuing transaction: the agent is still active with the
/// same key, the mode is on, and the assertion's `jti` is used now, once.
fn spend_assertion(
    tx: &Connection,
    agent: &Agent,
    jti: &str,
    jti_expires_at: Timestamp,
    settings_url: &str,
    by: &By<'_>,
) -> Result<Result<(), &'static str>, AppError> {
    let Some((current, workspace)) = db::agents::find_with_workspace(tx, &agent.id)? else {
        return Ok(Err("agent changed while the assertion was checked"));
    };
    if current.workspace_id != agent.workspace_id
        || current.status != AgentStatus::Active
        || current.key_thumbprint != agent.key_thumbprint
    {
        return Ok(Err("agent changed while the assertion was checked"));
    }
    security_mode::require_on(&workspace, settings_url)?;
    db::assertion_jtis::delete_expired(tx, by.now)?;
    if !db::assertion_jtis::insert_new(tx, &agent.id, jti, jti_expires_at)? {
        return Ok(Err("replayed jti"));
    }
    Ok(Ok(()))
}

/// `client_credentials` with `resource` (docs/API.md §5.8): an RFC 9068
/// access JWT for that one resource of the agent's workspace, with its
/// scopes; no grant stands behind it, so disabling the agent ends it.
#[allow(clippy::too_many_arguments)]
pub fn issue_resource_token(
    tx: &Connection,
    agent: &Agent,
    jti: &str,
    jti_expires_at: Timestamp,
    resource: &crate::domain::resources::Resource,
    keys: &crate::crypto::keys::SigningKeys,
    issuer: &str,
    ttl_seconds: i64,
    settings_url: &str,
    by: &By<'_>,
) -> Result<Result<crate::domain::oauth::TokenSet, &'static str>, AppError> {
    if let Err(reason) = spend_assertion(tx, agent, jti, jti_expires_at, settings_url, by)? {
        return Ok(Err(reason));
    }
    let claims = crate::domain::oauth::AccessClaims {
        iss: issuer.to_string(),
        sub: agent.id.0.clone(),
        aud: resource.identifier.clone(),
        client_id: agent.id.0.clone(),
        scope: resource.scopes.join(" "),
        jti: db::new_id(),
        iat: by.now.0,
        exp: by.now.0 + ttl_seconds,
        grant_id: None,
        workspace_id: agent.workspace_id.0.clone(),
    };
    let access_token = keys.sign_typed(&claims, Some("at+jwt")).map_err(AppError::internal)?;
    audit::record(
        tx,
        Event::success(Some(&agent.workspace_id), by.actor, "agent.token_issued", by.meta)
            .target("resource", resource.id.clone()),
        by.now,
    )?;
    Ok(Ok(crate::domain::oauth::TokenSet {
        access_token,
        token_type: "Bearer",
        expires_in: ttl_seconds,
        refresh_token: None,
        scope: claims.scope,
    }))
}

pub fn issue_access_token(
    tx: &Connection,
    agent: &Agent,
    jti: &str,
    jti_expires_at: Timestamp,
    ttl_seconds: i64,
    settings_url: &str,
    by: &By<'_>,
) -> Result<Result<SecretToken, &'static str>, AppError> {
    // The agent may have been disabled or re-keyed, or the mode turned off,
    // since the assertion was checked: look again inside the transaction
    // that issues the token.
    if let Err(reason) = spend_assertion(tx, agent, jti, jti_expires_at, settings_url, by)? {
        return Ok(Err(reason));
    }
    // The selector carries the wall clock's milliseconds (not the request
    // clock's seconds) so ids stay ordered and distinct under load.
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let expires_at = by.now.plus_seconds(ttl_seconds);
    let mut stored = None;
    // A taken selector is a 1-in-2^29 chance per token in the same
    // millisecond: draw again, a few times at most.
    for _ in 0..4 {
        let (token, id) = SecretToken::generate_with_selector(TokenKind::AccessToken, unix_ms);
        if db::access_tokens::insert(tx, &token.hash(), &id, &agent.workspace_id, &agent.id, by.now, expires_at)? {
            stored = Some((token, id));
            break;
        }
    }
    let (token, id) = stored.ok_or_else(|| AppError::internal("no free access-token selector"))?;
    audit::record(
        tx,
        Event::success(Some(&agent.workspace_id), by.actor, "agent.token_issued", by.meta).target("access_token", id),
        by.now,
    )?;
    Ok(Ok(token))
}
