//! What every handler can reach. No globals anywhere: this is passed in.

use std::sync::Arc;

use crate::audit_queue::AuditQueue;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::keys::SigningKeys;
use crate::crypto::password::PasswordHasher;
use crate::db::Db;
use crate::domain::authn;
use crate::rate_limit::IpRateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub hasher: PasswordHasher,
    pub keys: Arc<SigningKeys>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub login_limiter: IpRateLimiter,
    /// RSA key generation (certificates), per workspace.
    pub certificate_limiter: crate::rate_limit::NamedRateLimiter,
    /// Password changes of a signed-in user (each an argon2 verification).
    pub password_limiter: crate::rate_limit::NamedRateLimiter,
    /// Session starts and exchanges, per PAT.
    pub pat_limiter: crate::rate_limit::NamedRateLimiter,
    /// RSA generations running at once in the process.
    pub rsa_jobs: Arc<tokio::sync::Semaphore>,
    /// `POST /setup`, at the login rate but counted apart.
    pub setup_limiter: IpRateLimiter,
    pub bootstrap_limiter: IpRateLimiter,
    pub token_limiter: IpRateLimiter,
    /// Open dynamic client registration, per address.
    pub register_limiter: IpRateLimiter,
    /// What the authentication engine needs of the configuration.
    pub authn: Arc<authn::Settings>,
    /// Latchkey JWTs already verified (cleared on key reload).
    pub verified_jwts: Arc<authn::VerifiedJwts>,
    /// Which PATs' last use this process recorded lately.
    pub recent_touches: Arc<crate::state::RecentTouches>,
    /// Resources forward-auth has read, checked by version on every use.
    pub resources: Arc<crate::domain::resources::ResourceCache>,
    /// Client ID Metadata Documents fetched lately.
    pub cimd: Arc<crate::cimd::CimdCache>,
    /// Webhook deliveries (approvals, caps).
    pub webhooks: crate::webhooks::Webhooks,
    /// Refusals on their way to the audit trail.
    pub audit: Arc<AuditQueue>,
}

/// PATs whose `last_used_at` this process wrote within the last minute.
#[derive(Debug, Default)]
pub struct RecentTouches(std::sync::Mutex<std::collections::HashMap<crate::domain::ids::PatId, i64>>);

impl RecentTouches {
    /// Whether the caller should write the touch (nobody here did lately).
    pub fn claim(&self, id: &crate::domain::ids::PatId, now: crate::clock::Timestamp) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(id).is_some_and(|t| *t >= now.0 - 60) {
            return false;
        }
        if map.len() >= 10_000 {
            // Forgetting only costs a redundant (guarded) write.
            map.clear();
        }
        map.insert(id.clone(), now.0);
        true
    }
}
