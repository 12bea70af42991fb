//! Pruning rows that can no longer matter, in small batches, so tables that
//! grow with use (access tokens, runtime sessions, bootstrap secrets) stay
//! the size of what is live. Run periodically by the server.

use crate::db::Connection;

use crate::clock::Timestamp;
use crate::db;
use crate::error::AppError;

/// Rows deleted per table per run: one short transaction, however far
/// behind the pruning is.
pub const BATCH: u32 = 1000;

/// Sessions stay visible a day after they expire (the dashboard and the
/// audit trail name them); then they go.
const SESSION_GRACE_SECONDS: i64 = 86_400;

/// What one run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub access_tokens: usize,
    pub runtime_sessions: usize,
    pub bootstrap_secrets: usize,
    /// Expired OAuth codes and refresh tokens, and registrations no host
    /// approved within a day.
    pub oauth: usize,
}

pub fn prune(tx: &Connection, now: Timestamp) -> Result<Pruned, AppError> {
    Ok(Pruned {
        access_tokens: db::access_tokens::delete_expired(tx, now, BATCH)?,
        runtime_sessions: db::runtime_sessions::delete_expired(tx, now.plus_seconds(-SESSION_GRACE_SECONDS), BATCH)?,
        bootstrap_secrets: db::bootstrap_secrets::delete_expired(tx, now, BATCH)?,
        oauth: db::oauth::prune(tx, now)? + db::oauth::delete_unapproved_before(tx, now.plus_seconds(-86_400))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::domain::audit::{Actor, RequestMeta};
    use crate::domain::pats::{AgentRef, Audience, MintRequest, Scope};
    use crate::domain::principal::Acting;
    use crate::domain::{Email, Role};

    #[test]
    fn expired_tokens_sessions_and_secrets_are_pruned_and_live_ones_kept() {
        let dir = tempfile::TempDir::new().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let now = Timestamp(2_000_000_000);
        let email = Email::parse("owner@example.com").unwrap();
        db.write_blocking(|tx| {
            let ws = crate::domain::setup::create_owner_headless(tx, &email, "$argon2id$x", now)?;
            let user = db::users::find_by_email(tx, email.as_str())?.unwrap();
            let by = crate::domain::agents::By { actor: &Actor::Cli, meta: &RequestMeta::default(), now };
            let request = MintRequest {
                name: "p".into(),
                scope: Scope::Agent,
                audience: Audience::Both,
                expires_in_days: 30,
                agent: Some(AgentRef::Name { name: "a".into(), create: true }),
                daily_cap: None,
                delegated: false,
            };
            let minter = Acting { user_id: Some(user.id), role: Role::Owner };
            crate::domain::pats::mint(tx, &ws.id, &minter, request, crate::domain::money::AmountCents::ZERO, &by)?;
            let agent = db::agents::find_by_name(tx, &ws.id, "a")?.unwrap();
            let pat = db::pats::list(tx, &ws.id, None, None, 10)?.remove(0);
            for (i, expires) in [now.plus_seconds(-10), now.plus_seconds(3600)].into_iter().enumerate() {
                db::access_tokens::insert(tx, &[i as u8; 32], &format!("t{i}"), &ws.id, &agent.id, now, expires)?;
            }
            for (i, expires) in [now.plus_seconds(-2 * 86_400), now.plus_seconds(-10)].into_iter().enumerate() {
                let session = db::runtime_sessions::RuntimeSession {
                    id: crate::model::ids::SessionId(format!("s{i}")),
                    workspace_id: ws.id.clone(),
                    agent_id: agent.id.clone(),
                    pat_id: pat.id.clone(),
                    public_key: vec![0; 32],
                    key_thumbprint: "k".into(),
                    label: String::new(),
                    created_at: now,
                    expires_at: expires,
                    ended_at: None,
                };
                db::runtime_sessions::insert(tx, &session)?;
            }
            let old = crate::domain::agents::By { now: now.plus_seconds(-7200), ..by };
            crate::domain::enrollment::issue_bootstrap_secret(tx, &agent, 1, &old)?;
            Ok(())
        })
        .unwrap();
        let pruned = db.write_blocking(|tx| prune(tx, now)).unwrap();
        assert_eq!(pruned, Pruned { access_tokens: 1, runtime_sessions: 1, bootstrap_secrets: 1, oauth: 0 });
        let again = db.write_blocking(|tx| prune(tx, now)).unwrap();
        assert_eq!(again, Pruned::default(), "the live ones stay");
    }
}
