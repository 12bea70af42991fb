//! The cache of verified Latchkey JWTs, so a token's signature is checked
//! once rather than at every request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::ExchangeClaims;

/// Latchkey JWTs whose signature has been verified, by SHA-256 of the whole
/// token: a JWT is immutable, so its signature needs checking once, not at
/// every request (an EdDSA verification is ~50 µs; this lookup ~1 µs).
/// Expiry and every liveness check still run each time. Bounded: when
/// full it starts over; cleared when the signing keys are reloaded.
#[derive(Debug, Default)]
pub struct VerifiedJwts {
    /// Latchkey's exchanged and session JWTs.
    map: Generational<Verified>,
    /// OAuth access tokens, the same way.
    access: Generational<crate::domain::oauth::AccessClaims>,
}

/// Entries by token digest, and the key generation they were verified
/// under: an entry verified under keys since reloaded is never kept.
#[derive(Debug)]
struct Generational<V>(std::sync::Mutex<(u64, std::collections::HashMap<[u8; 32], V>)>);

impl<V> Default for Generational<V> {
    fn default() -> Self {
        Generational(std::sync::Mutex::new((0, std::collections::HashMap::new())))
    }
}

impl<V: Clone> Generational<V> {
    const CAPACITY: usize = 4096;

    /// The entry, or the generation a verification starting now belongs to.
    fn get(&self, digest: &[u8; 32]) -> Result<V, u64> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.1.get(digest).cloned().ok_or(guard.0)
    }

    /// Remembers a verification, unless the keys were reloaded meanwhile.
    fn insert(&self, digest: [u8; 32], value: &V, generation: u64) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 != generation {
            return;
        }
        if guard.1.len() >= Self::CAPACITY {
            guard.1.clear();
        }
        guard.1.insert(digest, value.clone());
    }

    fn clear(&self) {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.0 += 1;
        guard.1.clear();
    }
}

/// A verified JWT's claims, and for a session the decoded key its `cnf`
/// names (decompressing an Ed25519 point is a fifth of a verification).
#[derive(Debug, Clone)]
pub(super) struct Verified {
    pub(super) claims: ExchangeClaims,
    pub(super) session_key: Option<ed25519_dalek::VerifyingKey>,
}

impl Verified {
    pub(super) fn new(claims: ExchangeClaims) -> Verified {
        // The key is ours (the JWT is signed), but it must be the key the
        // binding names.
        let session_key = match (&claims.session_key, &claims.cnf) {
            (Some(x), Some(cnf)) if crate::crypto::okp_thumbprint(x) == cnf.jkt => URL_SAFE_NO_PAD
                .decode(x)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok()),
            _ => None,
        };
        Verified { claims, session_key }
    }
}

impl VerifiedJwts {
    /// The entry, or the generation a verification starting now belongs to.
    pub(super) fn get(&self, digest: &[u8; 32]) -> Result<Verified, u64> {
        self.map.get(digest)
    }

    /// Remembers a verification, unless the keys were reloaded meanwhile.
    pub(super) fn insert(&self, digest: [u8; 32], verified: &Verified, generation: u64) {
        self.map.insert(digest, verified, generation)
    }

    /// Forgets everything (after a key reload).
    pub fn clear(&self) {
        self.map.clear();
        self.access.clear();
    }

    pub(super) fn get_access(&self, digest: &[u8; 32]) -> Result<crate::domain::oauth::AccessClaims, u64> {
        self.access.get(digest)
    }

    pub(super) fn insert_access(&self, digest: [u8; 32], claims: &crate::domain::oauth::AccessClaims, generation: u64) {
        self.access.insert(digest, claims, generation)
    }
}
