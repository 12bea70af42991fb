//! The OAuth 2.1 authorization server (docs/API.md §5.8): client
//! registration, consent, authorization codes with PKCE, rotating refresh
//! tokens and RFC 9068 access tokens bound to one resource. An approved
//! client acts as an agent of the workspace, so Agent Security Mode,
//! disabling, audit and revocation apply to it as to any agent.

use crate::db::Connection;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::crypto::keys::SigningKeys;
use crate::crypto::token::{self, SecretToken, TokenKind};
use crate::db;
use crate::db::oauth::{Client, Grant};
use crate::domain::agents::By;
use crate::domain::audit::{self, Event};
use crate::domain::ids::{AgentId, GrantId, UserId, WorkspaceId};
use crate::domain::resources::Resource;
use crate::error::AppError;

/// An authorization code lives this long.
pub const CODE_TTL_SECONDS: i64 = 60;
/// A refresh token lives this long unless used.
pub const REFRESH_TTL_SECONDS: i64 = 30 * 24 * 3600;
/// A rotated refresh token presented again this soon gets the same
/// successor (clients refresh from parallel requests).
pub const REFRESH_GRACE_SECONDS: i64 = 10;

/// RFC 9068 access token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    /// The grant, so revoking it ends the token at once; none for a
    /// `client_credentials` token of an enrolled agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<GrantId>,
    pub workspace_id: String,
}

/// What the token endpoint answers.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// Redirect URIs are exact strings: `https://`, or `http://` on a loopback
/// host (`localhost`, 127.0.0.1, [::1]); no fragment, no user info.
pub fn valid_redirect_uri(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else { return false };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(&url),
        _ => false,
    }
}

pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// PKCE S256 (RFC 7636): the verifier is 43–128 unreserved characters and
/// hashes to the challenge. Compared in constant time.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let ok = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(crate::crypto::sha256(verifier.as_bytes()));
    ok && crate::crypto::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// A code challenge: 43 base64url characters (a SHA-256).
pub fn valid_challenge(c: &str) -> bool {
    c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The scopes a request asks for: the resource's own when omitted; each
/// must be one the resource declares (when it declares any).
pub fn requested_scopes(raw: Option<&str>, resource: &Resource) -> Result<Vec<String>, String> {
    let asked: Vec<String> = match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => return Ok(resource.scopes.clone()),
        Some(s) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
    };
    if !resource.scopes.is_empty()
        && let Some(unknown) = asked.iter().find(|s| !resource.scopes.contains(s))
    {
        return Err(format!("scope {unknown:?} is not one of this resource's ({})", resource.scopes.join(" ")));
    }
    Ok(asked)
}

/// RFC 7591 registration: checks the body and builds the client. Every
/// field is echoed; an omitted or shared-secret auth method becomes
/// `none` (public client + PKCE).
pub fn register(body: &Value, now: Timestamp) -> Result<Client, AppError> {
    let bad = |field: &str, why: &str| AppError::Validation(format!("{field}: {why}"));
    let obj = body.as_object().ok_or_else(|| bad("body", "a JSON object (RFC 7591)."))?;
    let redirect_uris: Vec<String> = obj
        .get("redirect_uris")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= 10)
        .ok_or_else(|| bad("redirect_uris", "1 to 10 URIs are required."))?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("redirect_uris", "strings only."))?;
    if let Some(u) = redirect_uris.iter().find(|u| !valid_redirect_uri(u) || u.len() > 2000) {
        return Err(bad(
            "redirect_uris",
            &format!("{u:?} must be https:// or http:// on localhost, without a fragment."),
        ));
    }
    // Members we read must have their RFC 7591 types (null counts as left out).
    type Check = fn(&Value) -> bool;
    let typed: [(&str, Check, &str); 7] = [
        ("client_name", Value::is_string, "a string."),
        ("client_uri", Value::is_string, "a string."),
        ("logo_uri", Value::is_string, "a string."),
        ("scope", Value::is_string, "a string of space-separated scopes."),
        ("grant_types", |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "an array of strings."),
        ("response_types", |v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)), "an array of strings."),
        ("jwks", Value::is_object, "a JWK Set object."),
    ];
    if let Some((field, _, why)) = typed.iter().find(|(f, ok, _)| obj.get(*f).is_some_and(|v| !v.is_null() && !ok(v))) {
        return Err(bad(field, why));
    }
    let name = obj.get("client_name").and_then(Value::as_str).map(str::trim).unwrap_or("");
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(bad("client_name", "at most 100 characters, no control characters."));
    }
    let method = match obj.get("token_endpoint_auth_method").and_then(Value::as_str) {
        Some("private_key_jwt") => "private_key_jwt",
        _ => "none",
    };
    if method == "private_key_jwt" {
        let key = obj.get("jwks").and_then(|j| j.get("keys")).and_then(|k| k.get(0));
        if key.is_none_or(|k| crate::crypto::es256::EcJwk::parse(k).is_err()) {
            return Err(bad("jwks", "private_key_jwt needs jwks with an ES256 (P-256) key; RS256 is not accepted."));
        }
    }
    if let Some(types) = obj.get("grant_types").and_then(Value::as_array)
        && types.iter().any(|t| !matches!(t.as_str(), Some("authorization_code" | "refresh_token")))
    {
        return Err(bad("grant_types", "authorization_code and refresh_token only."));
    }
    let id = format!("lkc_{}", crate::crypto::random_base62(24));
    let mut metadata = obj.clone();
    metadata.insert("client_id".into(), json!(id));
    metadata.insert("client_id_issued_at".into(), json!(now.0));
    metadata.insert("token_endpoint_auth_method".into(), json!(method));
    metadata.insert("redirect_uris".into(), json!(redirect_uris));
    metadata.entry("grant_types").or_insert(json!(["authorization_code", "refresh_token"]));
    metadata.entry("response_types").or_insert(json!(["code"]));
    metadata.remove("client_secret");
    let client_name = if name.is_empty() { "OAuth client".to_string() } else { name.to_string() };
    metadata.insert("client_name".into(), json!(client_name));
    Ok(Client {
        id,
        source: "registered".into(),
        client_name,
        redirect_uris,
        token_endpoint_auth_method: method.into(),
        metadata: Value::Object(metadata),
        created_at: now,
        approved_at: None,
    })
}

/// An agent name from a client's name: the allowed characters, unique in
/// the workspace (`-2`, `-3` … when taken).
pub fn agent_name_for(conn: &Connection, ws: &WorkspaceId, client_name: &str) -> Result<String, AppError> {
    let mut base: String = client_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' { c } else { '-' })
        .collect::<String>()
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .chars()
        .take(56)
        .collect();
    if base.is_empty() {
        base = "oauth-client".into();
    }
    for n in 1..1000 {
        let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
        if db::agents::find_by_name(conn, ws, &name)?.is_none() {
            return Ok(name);
        }
    }
    Err(AppError::Conflict("Too many agents share this client's name.".into()))
}

/// What a host approved on the consent page.
pub struct Approval<'a> {
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub resource: &'a Resource,
    pub scopes: &'a [String],
    /// An existing agent of the workspace, or `None` for a new one.
    pub agent: Option<AgentId>,
    pub user: &'a UserId,
}

/// Records the grant (and the client's agent when new) and returns a
/// one-time authorization code. One transaction.
pub fn approve(tx: &Connection, ws: &WorkspaceId, a: &Approval<'_>, by: &By<'_>) -> Result<SecretToken, AppError> {
    let agent_id = match &a.agent {
        Some(id) => {
            let agent = db::agents::find(tx, ws, id)?.ok_or(AppError::NotFound)?;
            if agent.status == crate::domain::agents::AgentStatus::Disabled {
                return Err(AppError::AgentDisabledConflict);
            }
            agent.id
        }
        None => {
            let name = agent_name_for(tx, ws, a.client_name)?;
            let description = format!("OAuth client {}", a.client_id);
            let description: String = description.chars().take(500).collect();
            let agent = crate::domain::agents::create(tx, ws, &name, &description, Some(a.user), by)?;
            db::agents::set_kind(tx, &agent.id, crate::model::AgentKind::OauthClient)?;
            agent.id
        }
    };
    let grant = Grant {
        id: GrantId(db::new_id()),
        workspace_id: ws.clone(),
        client_id: a.client_id.to_string(),
        client_name: a.client_name.to_string(),
        agent_id: agent_id.clone(),
        resource_id: a.resource.id.clone(),
        scope: a.scopes.join(" "),
        user_id: a.user.clone(),
        created_at: by.now,
        last_used_at: None,
        revoked_at: None,
    };
    db::oauth::insert_grant(tx, &grant)?;
    db::oauth::mark_client_approved(tx, a.client_id, by.now)?;
    let code = SecretToken::generate(TokenKind::AuthorizationCode);
    db::oauth::insert_code(
        tx,
        &code.hash(),
        &db::oauth::Code {
            grant_id: grant.id.clone(),
            client_id: a.client_id.to_string(),
            redirect_uri: a.redirect_uri.to_string(),
            code_challenge: a.code_challenge.to_string(),
            expires_at: Timestamp(by.now.0 + CODE_TTL_SECONDS),
            used_at: None,
        },
    )?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "oauth.consent", by.meta).target("grant", grant.id.clone()),
        by.now,
    )?;
    Ok(code)
}

/// Why a token request failed: the error, and the workspace to audit it in.
pub type Refused = (AppError, Option<WorkspaceId>, &'static str);

fn grant_error(msg: &str, ws: Option<&WorkspaceId>, reason: &'static str) -> Refused {
    (AppError::InvalidGrant(msg.to_string()), ws.cloned(), reason)
}

/// A signed access token and a refresh token for a live grant.
fn issue(
    tx: &Connection,
    keys: &SigningKeys,
    issuer: &str,
    ttl: i64,
    auth: &db::oauth::GrantAuth,
    refresh: Option<SecretToken>,
    now: Timestamp,
) -> Result<TokenSet, AppError> {
    let claims = AccessClaims {
        iss: issuer.to_string(),
        sub: auth.grant.agent_id.0.clone(),
        aud: auth.resource_identifier.clone(),
        client_id: auth.grant.client_id.clone(),
        scope: auth.grant.scope.clone(),
        jti: db::new_id(),
        iat: now.0,
        exp: now.0 + ttl,
        grant_id: Some(auth.grant.id.clone()),
        workspace_id: auth.grant.workspace_id.0.clone(),
    };
    let access_token = keys.sign_typed(&claims, Some("at+jwt")).map_err(AppError::internal)?;
    if let Some(refresh) = &refresh {
        db::oauth::insert_refresh(tx, &refresh.hash(), &auth.grant.id, now, Timestamp(now.0 + REFRESH_TTL_SECONDS))?;
    }
    db::oauth::touch_grant(tx, &auth.grant.id, now)?;
    Ok(TokenSet {
        access_token,
        token_type: "Bearer",
        expires_in: ttl,
        refresh_token: refresh.map(SecretToken::into_inner),
        scope: auth.grant.scope.clone(),
    })
}

/// The grant behind a code or refresh token, if it may still be used.
fn live_grant(tx: &Connection, grant_id: &GrantId) -> Result<Result<db::oauth::GrantAuth, Refused>, AppError> {
    let Some(auth) = db::oauth::find_grant_auth(tx, grant_id)? else {
        return Ok(Err(grant_error("The grant no longer exists.", None, "grant gone")));
    };
    let ws = Some(&auth.workspace.id);
    if auth.grant.revoked_at.is_some() {
        return Ok(Err(grant_error("The host revoked this grant.", ws, "grant revoked")));
    }
    if !auth.workspace.agent_security_mode {
        return Ok(Err(grant_error("Agent Security Mode is off in this workspace.", ws, "agent security mode off")));
    }
    if auth.agent_status == Some(crate::domain::agents::AgentStatus::Disabled) {
        return Ok(Err(grant_error("The agent of this grant is disabled.", ws, "agent disabled")));
    }
    Ok(Ok(auth))
}

/// What the code exchange presents.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub redirect_uri: &'a str,
    pub client_id: &'a str,
    pub resource: Option<&'a str>,
}

/// `authorization_code`: one transaction. A second use of a code revokes
/// what the first issued.
pub fn exchange_code(
    tx: &Connection,
    keys: &SigningKeys,
    issuer: &str,
    ttl: i64,
    x: &CodeExchange<'_>,
    by: &By<'_>,
) -> Result<Result<TokenSet, Refused>, AppError> {
    let Some(hash) = token::parse(TokenKind::AuthorizationCode, x.code) else {
        return Ok(Err(grant_error("The authorization code is not valid.", None, "malformed code")));
    };
    let Some(code) = db::oauth::use_code(tx, &hash, by.now)? else {
        return Ok(Err(grant_error("The authorization code is not valid.", None, "unknown code")));
    };
    if code.used_at.is_some() {
        db::oauth::revoke_grant(tx, &code.grant_id, by.now)?;
        let ws = db::oauth::find_grant_auth(tx, &code.grant_id)?.map(|a| a.workspace.id);
        if let Some(ws) = &ws {
            audit::record(
                tx,
                Event::failure(Some(ws), by.actor, "oauth.code_reused", "grant revoked", by.meta)
                    .target("grant", code.grant_id.clone()),
                by.now,
            )?;
        }
        return Ok(Err(grant_error(
            "This authorization code was already used; the tokens it gave are revoked.",
            ws.as_ref(),
            "code reused",
        )));
    }
    if code.expires_at <= by.now {
        return Ok(Err(grant_error("The authorization code has expired.", None, "code expired")));
    }
    if code.client_id != x.client_id {
        return Ok(Err(grant_error("The code was issued to another client.", None, "code of another client")));
    }
    if code.redirect_uri != x.redirect_uri {
        return Ok(Err(grant_error(
            "redirect_uri differs from the authorization request's.",
            None,
            "redirect mismatch",
        )));
    }
    if !pkce_matches(x.code_verifier, &code.code_challenge) {
        return Ok(Err(grant_error("code_verifier does not match the code_challenge.", None, "PKCE mismatch")));
    }
    let auth = match live_grant(tx, &code.grant_id)? {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    match x.resource {
        Some(r) if r == auth.resource_identifier => {}
        _ => {
            let ws = Some(auth.workspace.id.clone());
            return Ok(Err((
                AppError::InvalidTarget(format!("resource must be {}, as authorized.", auth.resource_identifier)),
                ws,
                "resource mismatch",
            )));
        }
    }
    let refresh = SecretToken::generate(TokenKind::RefreshToken);
    let set = issue(tx, keys, issuer, ttl, &auth, Some(refresh), by.now)?;
    audit::record(
        tx,
        Event::success(Some(&auth.workspace.id), by.actor, "oauth.token", by.meta)
            .target("grant", auth.grant.id.clone()),
        by.now,
    )?;
    Ok(Ok(set))
}

/// `refresh_token`: rotates it. A rotated token presented again revokes the
/// grant, except within [`REFRESH_GRACE_SECONDS`] of its rotation, when it
/// gets the same successor (derived with the server's key).
#[allow(clippy::too_many_arguments)]
pub fn refresh(
    tx: &Connection,
    keys: &SigningKeys,
    issuer: &str,
    ttl: i64,
    presented: &str,
    client_id: &str,
    resource: Option<&str>,
    by: &By<'_>,
) -> Result<Result<TokenSet, Refused>, AppError> {
    let invalid = || Ok(Err(grant_error("The refresh token is not valid.", None, "unknown refresh token")));
    let Some(hash) = token::parse(TokenKind::RefreshToken, presented) else { return invalid() };
    let Some(found) = db::oauth::find_refresh(tx, &hash)? else { return invalid() };
    let auth = match live_grant(tx, &found.grant_id)? {
        Ok(a) => a,
        Err(r) => return Ok(Err(r)),
    };
    let ws = Some(auth.workspace.id.clone());
    if auth.grant.client_id != client_id {
        return Ok(Err(grant_error(
            "The refresh token was issued to another client.",
            ws.as_ref(),
            "refresh of another client",
        )));
    }
    if let Some(r) = resource
        && r != auth.resource_identifier
    {
        return Ok(Err((
            AppError::InvalidTarget(format!("resource must be {}, as authorized.", auth.resource_identifier)),
            ws,
            "resource mismatch",
        )));
    }
    if found.expires_at <= by.now {
        return Ok(Err(grant_error("The refresh token has expired.", ws.as_ref(), "refresh token expired")));
    }
    let successor = |keys: &SigningKeys| {
        keys.keyed_hashes("refresh successor", presented.as_bytes(), by.now)
            .into_iter()
            .map(|seed| SecretToken::derived(TokenKind::RefreshToken, &seed))
            .collect::<Vec<_>>()
    };
    let candidates = successor(keys);
    let Some(next) = candidates.first().cloned() else { return Err(AppError::internal("no signing key")) };
    match found.rotated_at {
        None => {
            if !db::oauth::rotate_refresh(tx, &hash, by.now)? {
                return invalid();
            }
        }
        Some(at) if by.now.0 - at.0 <= REFRESH_GRACE_SECONDS => {
            // A parallel refresh: the successor it was given, if still live.
            for candidate in &candidates {
                if db::oauth::find_refresh(tx, &candidate.hash())?.is_some() {
                    let mut set = issue(tx, keys, issuer, ttl, &auth, None, by.now)?;
                    set.refresh_token = Some(candidate.expose().to_string());
                    return Ok(Ok(set));
                }
            }
            return invalid();
        }
        Some(_) => {
            db::oauth::revoke_grant(tx, &auth.grant.id, by.now)?;
            audit::record(
                tx,
                Event::failure(ws.as_ref(), by.actor, "oauth.refresh_reused", "grant revoked", by.meta)
                    .target("grant", auth.grant.id.clone()),
                by.now,
            )?;
            return Ok(Err(grant_error(
                "This refresh token was already used; the grant is revoked. Authorize again.",
                ws.as_ref(),
                "refresh token reused",
            )));
        }
    }
    let set = issue(tx, keys, issuer, ttl, &auth, Some(next), by.now)?;
    audit::record(
        tx,
        Event::success(ws.as_ref(), by.actor, "oauth.refresh", by.meta).target("grant", auth.grant.id.clone()),
        by.now,
    )?;
    Ok(Ok(set))
}

/// Revokes a grant for a person who may manage its agent (and, with
/// `agent`, only a grant of that agent); not found otherwise.
pub fn revoke_as(
    tx: &Connection,
    ws: &WorkspaceId,
    grant_id: &GrantId,
    who: &crate::domain::principal::Acting,
    agent: Option<&AgentId>,
    by: &By<'_>,
) -> Result<(), AppError> {
    let grant = db::oauth::find_grant(tx, ws, grant_id)?
        .filter(|g| agent.is_none_or(|a| &g.agent_id == a))
        .ok_or(AppError::NotFound)?;
    crate::domain::agents::get_manageable(tx, ws, &grant.agent_id, who)?;
    revoke(tx, ws, &grant.id, by)
}

/// Revokes a grant of the workspace (dashboard, API, RFC 7009).
pub fn revoke(tx: &Connection, ws: &WorkspaceId, grant_id: &GrantId, by: &By<'_>) -> Result<(), AppError> {
    let grant = db::oauth::find_grant(tx, ws, grant_id)?.ok_or(AppError::NotFound)?;
    if db::oauth::revoke_grant(tx, &grant.id, by.now)? {
        audit::record(
            tx,
            Event::success(Some(ws), by.actor, "oauth.grant_revoked", by.meta).target("grant", grant.id.clone()),
            by.now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_an_unreserved_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
        assert!(!pkce_matches("short", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!valid_challenge("plain-text-challenge"));
    }

    #[test]
    fn redirect_uris_are_https_or_loopback() {
        assert!(valid_redirect_uri("https://app.example.com/cb"));
        assert!(valid_redirect_uri("http://127.0.0.1:33418/callback"));
        assert!(valid_redirect_uri("http://localhost/cb"));
        assert!(valid_redirect_uri("http://[::1]:9/cb"));
        for bad in ["http://app.example.com/cb", "https://app.example.com/cb#x", "myapp://cb", "https://u:p@x.example/"]
        {
            assert!(!valid_redirect_uri(bad), "{bad}");
        }
    }

    #[test]
    fn registration_echoes_fields_and_makes_secret_clients_public() {
        let body = json!({"redirect_uris": ["http://localhost:3000/cb"], "client_name": "Claude",
                          "token_endpoint_auth_method": "client_secret_post", "software_id": "x"});
        let c = register(&body, Timestamp(1)).unwrap();
        assert_eq!(c.token_endpoint_auth_method, "none");
        assert_eq!(c.metadata["token_endpoint_auth_method"], "none");
        assert_eq!(c.metadata["software_id"], "x");
        assert_eq!(c.metadata["client_id"], json!(c.id));
        assert!(register(&json!({"redirect_uris": ["http://evil.example/cb"]}), Timestamp(1)).is_err());
        assert!(register(&json!({}), Timestamp(1)).is_err());
        // A member of the wrong type is refused, naming it; null is left out.
        let uris = json!(["http://localhost:3000/cb"]);
        for (field, value) in [("scope", json!({})), ("client_name", json!(5)), ("grant_types", json!(["a", 1]))] {
            let body = json!({"redirect_uris": uris, field: value});
            match register(&body, Timestamp(1)) {
                Err(AppError::Validation(m)) => assert!(m.starts_with(field), "{m}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(register(&json!({"redirect_uris": uris, "scope": null}), Timestamp(1)).is_ok());
    }
}
