//! Server-side commands that act on the data dir directly (also while the
//! server runs: SQLite's locking keeps them consistent).

use std::io::Read;
use std::path::Path;

use crate::cli::{AdminCommand, AudienceArg, CliError, OnOff, PatTerms, ScopeArg};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::crypto::password::PasswordHasher;
use crate::db::Db;
use crate::domain::audit::{Actor, RequestMeta};
use crate::domain::{self, Email, NewPassword, parse_workspace_name};
use crate::error::AppError;

/// Opens (creating if need be) the data dir: only for `create-owner`,
/// `migrate` and the like, which start an instance.
fn open(overrides: Overrides) -> Result<(Config, Db), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    let db =
        Db::open_url(&config.data_dir, config.database_url.as_ref().map(|u| u.0.as_str())).map_err(CliError::Failed)?;
    Ok((config, db))
}

/// Opens an existing instance's data dir; a wrong directory is an error
/// naming it, never a new empty database.
fn open_existing(overrides: Overrides) -> Result<(Config, Db), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    if config.database_url.is_none() && !config.data_dir.join(crate::db::DB_FILE).exists() {
        return Err(CliError::Usage(format!(
            "no Latchkey database in {}: pass --data-dir (or set LATCHKEY_DATA_DIR) to the directory `latchkey serve` uses, \
             or start one with `latchkey admin create-owner`",
            config.data_dir.display()
        )));
    }
    let db =
        Db::open_url(&config.data_dir, config.database_url.as_ref().map(|u| u.0.as_str())).map_err(CliError::Failed)?;
    Ok((config, db))
}

fn failed(e: AppError) -> CliError {
    match e {
        AppError::Validation(m) | AppError::Conflict(m) | AppError::Scope(m) => CliError::Failed(m),
        AppError::NotFound => CliError::Failed("No such agent in this workspace.".into()),
        AppError::Internal(m) => CliError::Failed(m),
        other => CliError::Failed(other.user_message().into_owned()),
    }
}

/// The password from standard input: everything up to the first newline.
fn password_from_stdin() -> Result<NewPassword, CliError> {
    let mut raw = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut raw)
        .map_err(|e| CliError::Failed(format!("cannot read the password from standard input: {e}")))?;
    let line = raw.lines().next().unwrap_or("");
    NewPassword::parse(line).map_err(CliError::Usage)
}

fn hash(config: &Config, password: &NewPassword) -> Result<String, CliError> {
    PasswordHasher::new(config.password_cost).and_then(|h| h.hash(password.expose())).map_err(CliError::Failed)
}

fn email(raw: &str) -> Result<Email, CliError> {
    Email::parse(raw).ok_or_else(|| CliError::Usage(format!("--email: {raw:?} is not an email address")))
}

pub fn migrate(overrides: Overrides) -> Result<(), CliError> {
    let (config, _db) = open(overrides)?;
    // The signing keys too, so replicas started next all find the same ones.
    crate::crypto::keys::SigningKeys::load_or_create(&config.keys_dir, 3600, Clock::system().now())
        .map_err(|e| CliError::Failed(format!("LATCHKEY_KEYS_DIR: {e}")))?;
    match &config.database_url {
        Some(url) => eprintln!("database {url:?} is up to date; signing keys in {}", config.keys_dir.display()),
        None => eprintln!(
            "database in {} is up to date; signing keys in {}",
            config.data_dir.display(),
            config.keys_dir.display()
        ),
    }
    Ok(())
}

pub fn backup(overrides: Overrides, to: &Path) -> Result<(), CliError> {
    let (_, db) = open_existing(overrides)?;
    db.backup_to(to).map_err(CliError::Failed)?;
    eprintln!("backup written to {}", to.display());
    Ok(())
}

/// `latchkey db copy --to postgres://…`.
pub fn db_copy(overrides: Overrides, to: &str) -> Result<(), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    if config.database_url.is_some() {
        return Err(CliError::Usage(
            "db copy moves an SQLite instance, and this one already runs on PostgreSQL (LATCHKEY_DATABASE_URL is set)"
                .into(),
        ));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(CliError::Usage("--to: must be a postgres:// URL".into()));
    }
    if !config.data_dir.join(crate::db::DB_FILE).exists() {
        return Err(CliError::Usage(format!(
            "no Latchkey database in {}: pass --data-dir (or set LATCHKEY_DATA_DIR) to the directory `latchkey serve` uses",
            config.data_dir.display()
        )));
    }
    let report = crate::db::copy::sqlite_to_postgres(&config.data_dir, to).map_err(CliError::Failed)?;
    let rows: i64 = report.iter().map(|(_, n)| n).sum();
    for (table, n) in &report {
        println!("{table}\t{n}");
    }
    eprintln!(
        "copied {rows} rows in {} tables, counts verified; run `latchkey serve` with LATCHKEY_DATABASE_URL set to the target \
         and this data dir's signing keys (LATCHKEY_KEYS_DIR)",
        report.len()
    );
    Ok(())
}

pub fn rotate_keys(overrides: Overrides) -> Result<(), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    crate::db::prepare_data_dir(&config.data_dir).map_err(CliError::Failed)?;
    let kid =
        crate::crypto::keys::SigningKeys::rotate(&config.keys_dir, Clock::system().now()).map_err(CliError::Failed)?;
    println!("{kid}");
    eprintln!(
        "signing key {kid} now signs (it was published as the next key) and a new next key is published; \
         running servers pick it up within a minute, or at once on SIGHUP"
    );
    Ok(())
}

fn mint_pat(overrides: Overrides, cmd: AdminCommand, now: crate::clock::Timestamp) -> Result<(), CliError> {
    use crate::domain::agents::By;
    use crate::domain::money::AmountCents;
    use crate::domain::pats::{self, AgentRef, Audience, MintRequest, Scope};
    use crate::domain::principal::Acting;
    let AdminCommand::MintPat { email: raw, name, scope, agent, terms: PatTerms { audience, expires, cap }, workspace } =
        cmd
    else {
        return Err(CliError::Failed("not mint-pat".into()));
    };
    let email = email(&raw)?;
    let name = pats::parse_name(&name).map_err(|e| CliError::Usage(format!("--name: {}", e.body().user_message)))?;
    let scope = match scope {
        ScopeArg::Host => Scope::Host,
        ScopeArg::Agent => Scope::Agent,
        ScopeArg::Service => Scope::Service,
    };
    let audience = match audience {
        AudienceArg::Api => Audience::Api,
        AudienceArg::Exchange => Audience::Exchange,
        AudienceArg::Both => Audience::Both,
    };
    let cap = cap
        .map(|c| {
            AmountCents::parse(&c).ok_or_else(|| CliError::Usage(format!("--cap: {c:?} is not an amount like 10.00")))
        })
        .transpose()?;
    let expires_in_days = pats::parse_expiry_days(Some(expires))
        .map_err(|_| CliError::Usage("--expires: a number of days from 1 to 365".into()))?;
    if scope == Scope::Agent && agent.is_none() {
        return Err(CliError::Usage("--agent NAME is required with --scope agent".into()));
    }
    let (config, db) = open_existing(overrides)?;
    let token = db
        .write_blocking(|tx| {
            let ws = domain::workspaces::resolve(tx, workspace.as_deref())?;
            let user = crate::db::users::find_by_email(tx, email.as_str())?
                .ok_or_else(|| AppError::Validation(format!("No user has the email {}.", email.as_str())))?;
            let role = crate::db::memberships::find_role(tx, &ws.id, &user.id)?.ok_or_else(|| {
                AppError::Validation(format!("{} is not a member of workspace {}.", email.as_str(), ws.id))
            })?;
            let request = MintRequest {
                name,
                scope,
                audience,
                expires_in_days,
                agent: agent.map(|name| AgentRef::Name { name, create: true }),
                daily_cap: cap,
                delegated: false,
            };
            let by = By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
            let minter = Acting { user_id: Some(user.id.clone()), role };
            let (token, _) = pats::mint(tx, &ws.id, &minter, request, config.default_daily_cap, &by)?;
            Ok(token)
        })
        .map_err(failed)?;
    println!("{}", token.expose());
    Ok(())
}

pub fn run(overrides: Overrides, cmd: AdminCommand) -> Result<(), CliError> {
    let now = Clock::system().now();
    match cmd {
        cmd @ AdminCommand::MintPat { .. } => mint_pat(overrides, cmd, now),
        AdminCommand::CreateOwner { email: raw, .. } => {
            let email = email(&raw)?;
            let password = password_from_stdin()?;
            let (config, db) = open(overrides)?;
            let hash = hash(&config, &password)?;
            let ws =
                db.write_blocking(|tx| domain::setup::create_owner_headless(tx, &email, &hash, now)).map_err(failed)?;
            println!("{}", ws.id);
            Ok(())
        }
        AdminCommand::CreateWorkspace { name, owner_email, password_stdin } => {
            let name = parse_workspace_name(&name).map_err(|e| CliError::Usage(format!("--name: {e}")))?;
            let email = email(&owner_email)?;
            let password = if password_stdin { Some(password_from_stdin()?) } else { None };
            let (config, db) = open_existing(overrides)?;
            let hash = password.map(|p| hash(&config, &p)).transpose()?;
            let (ws, passwordless) = db
                .write_blocking(|tx| {
                    let new = crate::db::users::find_by_email(tx, email.as_str())?.is_none();
                    let ws = domain::workspaces::create_for_owner_email(tx, &name, &email, hash.as_deref(), now)?;
                    Ok((ws, new && hash.is_none()))
                })
                .map_err(failed)?;
            if passwordless {
                eprintln!(
                    "{} has no password yet; set one with `latchkey admin reset-password --email {} --password-stdin`",
                    email.as_str(),
                    email.as_str()
                );
            }
            println!("{}", ws.id);
            Ok(())
        }
        AdminCommand::SecurityMode { state, workspace } => {
            let (_, db) = open_existing(overrides)?;
            let on = matches!(state, OnOff::On);
            let ws = db
                .write_blocking(|tx| {
                    let ws = domain::workspaces::resolve(tx, workspace.as_deref())?;
                    domain::security_mode::set(tx, &ws.id, on, &Actor::Cli, &RequestMeta::default(), now)?;
                    Ok(ws)
                })
                .map_err(failed)?;
            eprintln!("Agent Security Mode is {} for workspace {} ({})", if on { "on" } else { "off" }, ws.name, ws.id);
            Ok(())
        }
        AdminCommand::Invite { email: raw, role, workspace } => {
            let email = email(&raw)?;
            let role = domain::Role::parse(&role).ok_or_else(|| CliError::Usage("--role: owner or member".into()))?;
            let (config, db) = open_existing(overrides)?;
            let (token, expires) = db
                .write_blocking(|tx| {
                    let ws = domain::workspaces::resolve(tx, workspace.as_deref())?;
                    let by = crate::domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
                    domain::members::invite(tx, &ws.id, &email, role, None, &by)
                })
                .map_err(failed)?;
            println!("{}", config.url(&format!("/invite/{}", token.expose())));
            eprintln!("send this link to {} yourself; it works once, until {}", email.as_str(), expires.to_rfc3339());
            Ok(())
        }
        AdminCommand::RemoveMember { email: raw, workspace } => {
            let email = email(&raw)?;
            let (_, db) = open_existing(overrides)?;
            db.write_blocking(|tx| {
                let ws = domain::workspaces::resolve(tx, workspace.as_deref())?;
                let user = crate::db::users::find_by_email(tx, email.as_str())?
                    .ok_or_else(|| AppError::Validation(format!("No user has the email {}.", email.as_str())))?;
                let by = crate::domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
                domain::members::remove(tx, &ws.id, &user.id, &by)
            })
            .map_err(failed)?;
            eprintln!("{} is no longer a member; their tokens have stopped", email.as_str());
            Ok(())
        }
        AdminCommand::ResetPassword { email: raw, .. } => {
            let email = email(&raw)?;
            let password = password_from_stdin()?;
            let (config, db) = open_existing(overrides)?;
            let hash = hash(&config, &password)?;
            db.write_blocking(|tx| domain::accounts::reset_password_headless(tx, &email, &hash, now))
                .map_err(failed)?;
            eprintln!("password reset for {}; their dashboard sessions have ended", email.as_str());
            Ok(())
        }
    }
}
