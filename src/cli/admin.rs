//! Server-side commands that act on the data dir directly (also while the
//! server runs: SQLite's locking keeps them consistent).

use std::io::Read;
use std::path::Path;

use crate::cli::{AdminCommand, CliError, OnOff};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::crypto::password::PasswordHasher;
use crate::db::Db;
use crate::domain::audit::{Actor, RequestMeta};
use crate::domain::{self, Email, NewPassword, parse_workspace_name};
use crate::error::AppError;

fn open(overrides: Overrides) -> Result<(Config, Db), CliError> {
    let config = Config::load(overrides).map_err(|e| CliError::Usage(e.to_string()))?;
    let db = Db::open(&config.data_dir).map_err(CliError::Failed)?;
    Ok((config, db))
}

fn failed(e: AppError) -> CliError {
    match e {
        AppError::Validation(m) | AppError::Conflict(m) => CliError::Failed(m),
        other => CliError::Failed(other.to_string()),
    }
}

/// The password from standard input: everything up to the first newline.
fn password_from_stdin() -> Result<NewPassword, CliError> {
    let mut raw = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut raw)
        .map_err(|e| {
            CliError::Failed(format!("cannot read the password from standard input: {e}"))
        })?;
    let line = raw.lines().next().unwrap_or("");
    NewPassword::parse(line).map_err(CliError::Usage)
}

fn hash(config: &Config, password: &NewPassword) -> Result<String, CliError> {
    PasswordHasher::new(config.password_cost)
        .and_then(|h| h.hash(password.expose()))
        .map_err(CliError::Failed)
}

fn email(raw: &str) -> Result<Email, CliError> {
    Email::parse(raw)
        .ok_or_else(|| CliError::Usage(format!("--email: {raw:?} is not an email address")))
}

pub fn migrate(overrides: Overrides) -> Result<(), CliError> {
    let (config, _db) = open(overrides)?;
    eprintln!("database in {} is up to date", config.data_dir.display());
    Ok(())
}

pub fn backup(overrides: Overrides, to: &Path) -> Result<(), CliError> {
    let (_, db) = open(overrides)?;
    db.backup_to(to).map_err(CliError::Failed)?;
    eprintln!("backup written to {}", to.display());
    Ok(())
}

pub fn run(overrides: Overrides, cmd: AdminCommand) -> Result<(), CliError> {
    let now = Clock::system().now();
    match cmd {
        AdminCommand::CreateOwner { email: raw, .. } => {
            let email = email(&raw)?;
            let password = password_from_stdin()?;
            let (config, db) = open(overrides)?;
            let hash = hash(&config, &password)?;
            let ws = db
                .write_blocking(|tx| domain::setup::create_owner_headless(tx, &email, &hash, now))
                .map_err(failed)?;
            println!("{}", ws.id);
            Ok(())
        }
        AdminCommand::CreateWorkspace {
            name,
            owner_email,
            password_stdin,
        } => {
            let name =
                parse_workspace_name(&name).map_err(|e| CliError::Usage(format!("--name: {e}")))?;
            let email = email(&owner_email)?;
            let password = if password_stdin {
                Some(password_from_stdin()?)
            } else {
                None
            };
            let (config, db) = open(overrides)?;
            let hash = password.map(|p| hash(&config, &p)).transpose()?;
            let ws = db
                .write_blocking(|tx| {
                    domain::workspaces::create_for_owner_email(
                        tx,
                        &name,
                        &email,
                        hash.as_deref(),
                        now,
                    )
                })
                .map_err(failed)?;
            println!("{}", ws.id);
            Ok(())
        }
        AdminCommand::SecurityMode { state, workspace } => {
            let (_, db) = open(overrides)?;
            let on = matches!(state, OnOff::On);
            let ws = db
                .write_blocking(|tx| {
                    let ws = domain::workspaces::resolve(tx, workspace.as_deref())?;
                    domain::security_mode::set(
                        tx,
                        &ws.id,
                        on,
                        &Actor::Cli,
                        &RequestMeta::default(),
                        now,
                    )?;
                    Ok(ws)
                })
                .map_err(failed)?;
            eprintln!(
                "Agent Security Mode is {} for workspace {} ({})",
                if on { "on" } else { "off" },
                ws.name,
                ws.id
            );
            Ok(())
        }
        AdminCommand::ResetPassword { email: raw, .. } => {
            let email = email(&raw)?;
            let password = password_from_stdin()?;
            let (config, db) = open(overrides)?;
            let hash = hash(&config, &password)?;
            db.write_blocking(|tx| {
                domain::accounts::reset_password_headless(tx, &email, &hash, now)
            })
            .map_err(failed)?;
            eprintln!(
                "password reset for {}; their dashboard sessions have ended",
                email.as_str()
            );
            Ok(())
        }
    }
}
