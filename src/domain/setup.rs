//! First run: while no user exists, a one-time setup code (printed by
//! `serve`, stored only as its SHA-256) lets one person create the owner
//! and the default workspace.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::crypto;
use crate::db;
use crate::db::users::User;
use crate::db::workspaces::Workspace;
use crate::domain::audit::{self, Actor, Event, RequestMeta};
use crate::domain::{Email, workspaces};
use crate::error::AppError;

const SETUP_CODE_KEY: &str = "setup_code_sha256";

/// The name of the workspace that setup creates unless told otherwise.
pub const DEFAULT_WORKSPACE_NAME: &str = "Default";

/// If nobody can log in yet, replaces any earlier setup code with a fresh
/// one and returns it (to print); otherwise returns `None`.
pub fn issue_code_if_needed(conn: &Connection) -> Result<Option<String>, AppError> {
    if db::users::count(conn)? > 0 {
        db::settings::delete(conn, SETUP_CODE_KEY)?;
        return Ok(None);
    }
    let code = crypto::random_base62(32);
    db::settings::upsert(conn, SETUP_CODE_KEY, &crypto::sha256_hex(code.as_bytes()))?;
    Ok(Some(code))
}

/// Whether setup is still open and `code` is its code.
pub fn code_is_valid(conn: &Connection, code: &str) -> Result<bool, AppError> {
    let Some(stored) = db::settings::find(conn, SETUP_CODE_KEY)? else {
        return Ok(false);
    };
    let given = crypto::sha256_hex(code.as_bytes());
    Ok(crypto::constant_time_eq(stored.as_bytes(), given.as_bytes()) && db::users::count(conn)? == 0)
}

/// Whether any user exists (setup is over).
pub fn is_complete(conn: &Connection) -> Result<bool, AppError> {
    Ok(db::users::count(conn)? > 0)
}

/// Consumes the code and creates the owner and their workspace, all in the
/// caller's transaction: two racing submissions cannot both succeed.
pub fn complete(
    tx: &Connection,
    code: &str,
    email: &Email,
    password_hash: &str,
    workspace_name: &str,
    meta: &RequestMeta,
    now: Timestamp,
) -> Result<(User, Workspace), AppError> {
    if !code_is_valid(tx, code)? {
        return Err(AppError::Conflict("This setup link is invalid or has already been used.".into()));
    }
    db::settings::delete(tx, SETUP_CODE_KEY)?;
    let (user, ws) = create_first_owner(tx, email, password_hash, workspace_name, now)?;
    let actor = Actor::User { id: user.id.clone(), email: user.email.clone() };
    audit::record(tx, Event::success(Some(&ws.id), &actor, "setup.completed", meta), now)?;
    Ok((user, ws))
}

/// `latchkey admin create-owner`: the same as the setup page, headless.
/// Refuses when an owner exists.
pub fn create_owner_headless(
    tx: &Connection,
    email: &Email,
    password_hash: &str,
    now: Timestamp,
) -> Result<Workspace, AppError> {
    if db::memberships::count_owners(tx)? > 0 {
        return Err(AppError::Conflict(
            "An owner already exists; use `latchkey admin create-workspace` for another tenant.".into(),
        ));
    }
    db::settings::delete(tx, SETUP_CODE_KEY)?;
    let (_, ws) = create_first_owner(tx, email, password_hash, DEFAULT_WORKSPACE_NAME, now)?;
    audit::record(tx, Event::success(Some(&ws.id), &Actor::Cli, "setup.completed", &RequestMeta::default()), now)?;
    Ok(ws)
}

fn create_first_owner(
    tx: &Connection,
    email: &Email,
    password_hash: &str,
    workspace_name: &str,
    now: Timestamp,
) -> Result<(User, Workspace), AppError> {
    let user = workspaces::create_user(tx, email, password_hash, now)?;
    let ws = workspaces::create_with_owner(tx, workspace_name, &user.id, now)?;
    Ok((user, ws))
}

/// For storage tests: a workspace with its owner and one agent `a`, made
/// the way the product makes them.
#[cfg(test)]
pub fn workspace_with_agent(
    tx: &Connection,
    now: Timestamp,
) -> Result<(Workspace, crate::db::agents::Agent), AppError> {
    let email = Email::parse("owner@example.com").ok_or_else(|| AppError::internal("email"))?;
    let ws = create_owner_headless(tx, &email, "$argon2id$x", now)?;
    let by = crate::domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
    let agent = crate::domain::agents::create(tx, &ws.id, "a", "", None, &by)?;
    Ok((ws, agent))
}

/// For storage tests: an agent PAT for `agent`, minted by the workspace's
/// owner the way the API mints one.
#[cfg(test)]
pub fn agent_pat(
    tx: &Connection,
    ws: &Workspace,
    agent: &crate::db::agents::Agent,
    now: Timestamp,
) -> Result<crate::db::pats::Pat, AppError> {
    use crate::domain::pats::{AgentRef, MintRequest};
    let owner = crate::db::memberships::list_for_workspace(tx, &ws.id)?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal("no owner"))?;
    let minter = crate::domain::principal::Acting { user_id: Some(owner.user_id), role: crate::model::Role::Owner };
    let request = MintRequest {
        name: "p".into(),
        scope: crate::model::Scope::Agent,
        audience: crate::model::Audience::Both,
        expires_in_days: 30,
        agent: Some(AgentRef::Id(agent.id.clone())),
        daily_cap: None,
        delegated: false,
    };
    let by = crate::domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
    let cap = crate::model::money::AmountCents::from_cents(1_000).ok_or_else(|| AppError::internal("cap"))?;
    Ok(crate::domain::pats::mint(tx, &ws.id, &minter, request, cap, &by)?.1)
}
