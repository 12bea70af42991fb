//! Personal access tokens: minting, revoking, changing (docs/API.md §3, §5.2).

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::crypto::token::{SecretToken, TokenKind};
use crate::db;
use crate::db::pats::Pat;
use crate::domain::Role;
use crate::domain::agents::{self, AgentStatus, By};
use crate::domain::audit::{self, Event};
use crate::domain::ids::{AgentId, PatId, WorkspaceId};
use crate::domain::money::AmountCents;
use crate::domain::principal::Acting;
use crate::error::AppError;
use crate::model::PatStatus;

pub use crate::model::{Audience, Scope};

pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
pub const MAX_EXPIRY_DAYS: i64 = 365;

/// Which agent an agent PAT is for.
#[derive(Debug, Clone)]
pub enum AgentRef {
    Id(AgentId),
    /// By name; `create` makes it when missing.
    Name {
        name: String,
        create: bool,
    },
}

/// A validated request to mint a PAT.
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub name: String,
    pub scope: Scope,
    pub audience: Audience,
    pub expires_in_days: i64,
    pub agent: Option<AgentRef>,
    pub daily_cap: Option<AmountCents>,
    /// Minted by a delegated certificate JWT.
    pub delegated: bool,
}

pub fn parse_name(raw: &str) -> Result<String, AppError> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(AppError::Validation("name: 1 to 100 characters, no control characters.".into()));
    }
    Ok(n.to_string())
}

pub fn parse_expiry_days(days: Option<i64>) -> Result<i64, AppError> {
    let d = days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&d) {
        return Err(AppError::Validation(format!(
            "expires_in_days: a whole number of days from 1 to {MAX_EXPIRY_DAYS}."
        )));
    }
    Ok(d)
}

/// Mints a PAT in `ws`; returns the secret (shown once) and the metadata.
pub fn mint(
    tx: &Connection,
    ws: &WorkspaceId,
    minter: &Acting,
    req: MintRequest,
    default_cap: AmountCents,
    by: &By<'_>,
) -> Result<(SecretToken, Pat), AppError> {
    // A PAT belongs to a person: a management credential must delegate.
    let owner = minter.user_id.clone().ok_or(AppError::DelegationRequired)?;
    if req.scope == Scope::Service && minter.role != Role::Owner {
        return Err(AppError::Scope("Only an owner of the workspace can mint service PATs.".into()));
    }
    if req.scope != Scope::Agent {
        if req.agent.is_some() {
            return Err(AppError::Validation(format!(
                "agent_id: a {} PAT cannot be bound to an agent; only agent PATs are.",
                req.scope.as_str()
            )));
        }
        if req.daily_cap.is_some() {
            return Err(AppError::Validation("daily_cap_usd: only agent PATs have a daily cap.".into()));
        }
    }

    let agent = match (req.scope, req.agent) {
        (Scope::Agent, None) => {
            return Err(AppError::Validation("agent_id: an agent PAT needs agent_id or agent_name.".into()));
        }
        (Scope::Agent, Some(AgentRef::Id(id))) => Some(db::agents::find(tx, ws, &id)?.ok_or(AppError::NotFound)?),
        (Scope::Agent, Some(AgentRef::Name { name, create })) => match db::agents::find_by_name(tx, ws, &name)? {
            Some(a) => Some(a),
            None if create => {
                let name = agents::parse_name(&name)?;
                Some(agents::create(tx, ws, &name, "", Some(&owner), by)?)
            }
            None => return Err(AppError::NotFound),
        },
        (Scope::Host | Scope::Service, _) => None,
    };
    if let Some(a) = &agent {
        if !minter.may_manage(a.owner_user_id.as_ref()) {
            // A member cannot even learn that another member's agent exists.
            return Err(AppError::NotFound);
        }
        if a.status == AgentStatus::Disabled {
            return Err(AppError::AgentDisabledConflict);
        }
    }

    let token = SecretToken::generate(TokenKind::Pat);
    let pat = Pat {
        id: PatId::generate(),
        workspace_id: ws.clone(),
        user_id: Some(owner),
        agent_id: agent.as_ref().map(|a| a.id.clone()),
        agent_name: agent.as_ref().map(|a| a.name.clone()),
        name: req.name,
        scope: req.scope,
        audience: req.audience,
        token_hint: token.hint(),
        daily_cap: if req.scope == Scope::Agent { Some(req.daily_cap.unwrap_or(default_cap)) } else { None },
        created_at: by.now,
        expires_at: by.now.plus_seconds(req.expires_in_days * 86_400),
        revoked_at: None,
        last_used_at: None,
        minted_by_delegation: req.delegated,
    };
    db::pats::insert(tx, &token.hash(), &pat)?;
    audit::record(
        tx,
        Event::success(Some(ws), by.actor, "pat.created", by.meta).target("pat", pat.id.0.clone()),
        by.now,
    )?;
    Ok((token, pat))
}

/// The PAT if `who` may manage it; not found otherwise.
pub fn get_manageable(conn: &Connection, ws: &WorkspaceId, id: &PatId, who: &Acting) -> Result<Pat, AppError> {
    db::pats::find(conn, ws, id)?.filter(|p| who.may_manage(p.user_id.as_ref())).ok_or(AppError::NotFound)
}

/// Revokes a PAT; everything derived from it (exchanged JWTs) dies with it,
/// because the bearer layer checks the PAT behind every JWT.
pub fn revoke(tx: &Connection, pat: &Pat, by: &By<'_>) -> Result<Pat, AppError> {
    if db::pats::update_revoked(tx, &pat.workspace_id, &pat.id, by.now)? {
        db::runtime_sessions::end_all_for_pat(tx, &pat.workspace_id, &pat.id, by.now)?;
        audit::record(
            tx,
            Event::success(Some(&pat.workspace_id), by.actor, "pat.revoked", by.meta).target("pat", pat.id.0.clone()),
            by.now,
        )?;
    }
    db::pats::find(tx, &pat.workspace_id, &pat.id)?.ok_or(AppError::NotFound)
}

/// Renames a PAT and/or changes an agent PAT's daily cap.
pub fn update(
    tx: &Connection,
    pat: &Pat,
    name: Option<String>,
    cap: Option<AmountCents>,
    by: &By<'_>,
) -> Result<Pat, AppError> {
    if pat.revoked_at.is_some() {
        return Err(AppError::Conflict("This PAT is revoked; mint a new one instead.".into()));
    }
    if cap.is_some() && pat.scope != Scope::Agent {
        return Err(AppError::Validation("daily_cap_usd: only agent PATs have a daily cap.".into()));
    }
    if let Some(name) = &name {
        db::pats::update_name(tx, &pat.workspace_id, &pat.id, name)?;
    }
    if let Some(cap) = cap {
        db::pats::update_cap(tx, &pat.workspace_id, &pat.id, cap)?;
        let mut event = Event::success(Some(&pat.workspace_id), by.actor, "pat.cap_changed", by.meta)
            .target("pat", pat.id.0.clone());
        event.reason = Some(format!("{} -> {}", pat.daily_cap.map(|c| c.to_string()).unwrap_or_default(), cap));
        audit::record(tx, event, by.now)?;
    }
    db::pats::find(tx, &pat.workspace_id, &pat.id)?.ok_or(AppError::NotFound)
}

/// Whether a PAT is usable now (not revoked, not expired).
pub fn status(pat: &Pat, now: Timestamp) -> PatStatus {
    if pat.revoked_at.is_some() {
        PatStatus::Revoked
    } else if pat.expires_at <= now {
        PatStatus::Expired
    } else {
        PatStatus::Active
    }
}
