//! The liveness checks [`super::resolve`] runs per credential kind: what
//! a PAT, an agent's access JWT, an OAuth access token and a certificate
//! JWT must still be to be accepted.

use crate::clock::Timestamp;
use crate::crypto::rsa_cert;
use crate::db;
use crate::db::Connection;
use crate::db::pats::PatAuth;
use crate::domain::agents::AgentStatus;
use crate::domain::ids::{PatId, WorkspaceId};
use crate::domain::pats::{Audience, Scope};
use crate::domain::principal::{BoundAgent, Credential, CredentialKind, Principal, PrincipalUser};
use crate::domain::security_mode;
use crate::error::AppError;

use super::{ExchangeClaims, Refusal, Settings, Use, is_instance_admin};

/// A `client_credentials` access JWT of an enrolled agent (no grant): the
/// agent is active in a workspace with the mode on, and the resource is
/// still that workspace's.
pub(super) fn agent_access(
    conn: &Connection,
    claims: &crate::domain::oauth::AccessClaims,
    settings: &Settings,
) -> Result<Principal, Refusal> {
    let agent = db::agents::find_any_workspace(conn, &crate::domain::ids::AgentId(claims.sub.clone()))
        .map_err(Refusal::internal)?
        .filter(|a| a.workspace_id.0 == claims.workspace_id)
        .ok_or(Refusal::unknown("access token of an unknown agent"))?;
    let ws = agent.workspace_id.clone();
    let refuse = |e, reason| Refusal::new(e, reason, Some(&ws));
    if agent.status != AgentStatus::Active {
        return Err(refuse(AppError::AgentDisabled, "agent not active"));
    }
    let workspace = db::workspaces::get(conn, &ws).map_err(Refusal::internal)?;
    security_mode::require_on(&workspace, &settings.settings_url).map_err(|e| refuse(e, "agent security mode off"))?;
    let resource = db::resources::find_by_identifier(conn, &claims.aud).map_err(Refusal::internal)?;
    if resource.is_none_or(|r| r.workspace_id != ws) {
        return Err(refuse(AppError::AuthUnknownToken, "access token for a resource that is gone"));
    }
    Ok(oauth_principal(
        workspace,
        claims,
        crate::model::ids::GrantId(String::new()),
        BoundAgent { id: agent.id, name: agent.name },
    ))
}

/// An OAuth access token: its grant still stands, in a workspace with the
/// mode on, for an agent that is not disabled, for the resource it names.
pub(super) fn oauth_access(
    conn: &Connection,
    claims: &crate::domain::oauth::AccessClaims,
    settings: &Settings,
) -> Result<Principal, Refusal> {
    let Some(grant_id) = &claims.grant_id else { return agent_access(conn, claims, settings) };
    let auth = db::oauth::find_grant_auth(conn, grant_id)
        .map_err(Refusal::internal)?
        .filter(|a| a.workspace.id.0 == claims.workspace_id && a.grant.agent_id.0 == claims.sub)
        .ok_or(Refusal::unknown("access token of an unknown grant"))?;
    let ws = auth.workspace.id.clone();
    let refuse = |e, reason| Refusal::new(e, reason, Some(&ws));
    // The agent first: disabling it also revokes its grants, and saying
    // so is more useful.
    if auth.agent_status == Some(AgentStatus::Disabled) {
        return Err(refuse(AppError::AgentDisabled, "agent disabled"));
    }
    if auth.grant.revoked_at.is_some() {
        return Err(refuse(AppError::AuthTokenRevoked, "OAuth grant revoked"));
    }
    security_mode::require_on(&auth.workspace, &settings.settings_url)
        .map_err(|e| refuse(e, "agent security mode off"))?;
    if auth.resource_identifier != claims.aud {
        return Err(refuse(AppError::AuthUnknownToken, "access token for another resource"));
    }
    let agent = BoundAgent { id: auth.grant.agent_id, name: auth.agent_name };
    Ok(oauth_principal(auth.workspace, claims, auth.grant.id, agent))
}

/// The caller an OAuth access token stands for: its agent, agent scope,
/// and the grant, client, resource and scopes it carries.
pub(super) fn oauth_principal(
    workspace: crate::db::workspaces::Workspace,
    claims: &crate::domain::oauth::AccessClaims,
    grant_id: crate::model::ids::GrantId,
    agent: BoundAgent,
) -> Principal {
    Principal {
        workspace,
        user: None,
        credential: Credential {
            kind: CredentialKind::OauthAccessToken,
            id: claims.jti.clone(),
            pat_id: None,
            scope: Scope::Agent,
            audience: Audience::Api,
            expires_at: Timestamp(claims.exp),
            pat_last_used_at: None,
            issued_at: Some(Timestamp(claims.iat)),
            key_thumbprint: None,
            oauth: Some(Box::new(crate::domain::principal::OAuthFacts {
                grant_id,
                client_id: claims.client_id.clone(),
                resource: claims.aud.clone(),
                scopes: claims.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            })),
        },
        agent: Some(agent),
    }
}

pub(super) fn pat_of_jwt(conn: &Connection, claims: &ExchangeClaims) -> Result<PatAuth, Refusal> {
    let pat_id = PatId(claims.pat_id.clone());
    let auth = db::pats::find_auth_by_id(conn, &pat_id)
        .map_err(Refusal::internal)?
        .ok_or(Refusal::unknown("JWT of a deleted PAT"))?;
    if auth.workspace.id.0 != claims.workspace_id {
        return Err(Refusal::unknown("JWT workspace mismatch"));
    }
    Ok(auth)
}

/// The checks every PAT-derived credential passes, in order: alive, owner
/// still a member, mode on, agent enabled, audience.
pub(super) fn check_pat(
    auth: PatAuth,
    kind: CredentialKind,
    credential_id: String,
    expires_at: Timestamp,
    usage: Use,
    settings: &Settings,
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
                instance_admin: !pat.minted_by_delegation
                    && is_instance_admin(settings.superadmin_domain.as_deref(), &u.email, u.auto_provisioned),
                id: u.id,
                email: u.email,
                name: u.name,
                role,
            }),
            None => return Err(refuse(AppError::AuthTokenRevoked, "PAT owner left the workspace")),
        },
        None => return Err(refuse(AppError::AuthTokenRevoked, "PAT owner deleted")),
    };
    security_mode::require_on(&auth.workspace, &settings.settings_url)
        .map_err(|e| refuse(e, "agent security mode off"))?;
    let agent = match (&pat.agent_id, &pat.agent_name, auth.agent_status) {
        (Some(_), _, Some(AgentStatus::Disabled)) => return Err(refuse(AppError::AgentDisabled, "agent disabled")),
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
            oauth: None,
        },
        agent,
    })
}

/// A JWT signed by a workspace certificate: RS256 (fixed by the
/// certificate, not the header), `iat` and `exp` required, a bounded
/// lifetime. Without `email` it is a management credential; with one, it
/// acts as that user (auto-provisioned, so `conn` is then a transaction),
/// never as an instance admin.
pub(super) fn certificate_jwt(
    conn: &Connection,
    token: &str,
    kid: &str,
    may_write: bool,
    usage: Use,
    settings: &Settings,
    now: Timestamp,
) -> Result<Principal, Refusal> {
    let (cert, workspace) = db::certificates::find_by_kid(conn, kid)
        .map_err(Refusal::internal)?
        .ok_or(Refusal::unknown("unknown certificate kid"))?;
    let ws = workspace.id.clone();
    let refuse = |e, reason| Refusal::new(e, reason, Some(&ws));
    if cert.status != crate::model::CertificateStatus::Active {
        return Err(refuse(AppError::CertificateRevoked, "certificate revoked or deleted"));
    }
    let claims = rsa_cert::verify(token, &cert.n, &cert.e).map_err(|r| refuse(AppError::AuthUnknownToken, r))?;
    const LEEWAY: i64 = 30;
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT without iat or exp"));
    };
    if exp.checked_sub(iat).is_none_or(|life| life < 0 || life > settings.cert_jwt_max_ttl_seconds) {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT lifetime too long"));
    }
    if iat > now.0.saturating_add(LEEWAY) {
        return Err(refuse(AppError::AuthUnknownToken, "certificate JWT issued in the future"));
    }
    if exp.saturating_add(LEEWAY) <= now.0 {
        return Err(refuse(AppError::AuthTokenExpired, "certificate JWT expired"));
    }
    security_mode::require_on(&workspace, &settings.settings_url).map_err(|e| refuse(e, "agent security mode off"))?;
    let user = match claims.email.as_deref() {
        None => None,
        Some(raw) => {
            let email = crate::domain::Email::parse(raw)
                .ok_or_else(|| refuse(AppError::AuthUnknownToken, "certificate JWT with a bad email"))?;
            let by = crate::domain::agents::By {
                actor: &crate::domain::audit::Actor::Anonymous,
                meta: &crate::domain::audit::RequestMeta::default(),
                now,
            };
            let found = if usage == Use::Introspect || !may_write {
                // Never provision outside a write transaction. (The path was
                // picked from the unverified payload; an email found only now
                // is looked up, not created.)
                // Looking is not using: introspection provisions nobody.
                existing_member(conn, &ws, &email).map_err(Refusal::internal)?
            } else {
                crate::domain::certificates::delegated_user(
                    conn,
                    &ws,
                    &email,
                    claims.first_name.as_deref(),
                    claims.last_name.as_deref(),
                    &by,
                )
                .map_err(Refusal::internal)?
            };
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
            audience: Audience::Api,
            expires_at: Timestamp(exp),
            pat_last_used_at: None,
            issued_at: Some(Timestamp(iat)),
            key_thumbprint: None,
            oauth: None,
        },
        agent: None,
    })
}

pub(super) fn existing_member(
    conn: &Connection,
    ws: &WorkspaceId,
    email: &crate::domain::Email,
) -> Result<Option<(crate::db::users::User, crate::domain::Role)>, AppError> {
    if let Some(user) = db::users::find_by_email(conn, email.as_str())?
        && let Some(role) = db::memberships::find_role(conn, ws, &user.id)?
    {
        return Ok(Some((user, role)));
    }
    let Some(user) = db::users::find_scoped(conn, ws, email.as_str())? else { return Ok(None) };
    Ok(db::memberships::find_role(conn, ws, &user.id)?.map(|role| (user, role)))
}
