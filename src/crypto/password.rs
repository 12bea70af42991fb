//! argon2id password hashing, for human passwords only (tokens are
//! high-entropy and use SHA-256).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

/// How hard password hashing works. Production uses OWASP's argon2id
/// recommendation; tests use a cheap setting through [`Config::for_tests`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost { memory_kib: 19 * 1024, iterations: 2 }
    }
}

/// Hashes and verifies passwords at one cost. Holds a dummy hash so that a
/// login for an unknown email costs as much as one for a known email.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
    /// At most this many hashes at once in the process, whatever the route:
    /// each holds its memory cost (19 MiB) while it runs, and a flood must
    /// queue here rather than fill the blocking pool and the RAM.
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Concurrent argon2 computations allowed per process.
const MAX_IN_FLIGHT: usize = 2;

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHasher")
    }
}

impl PasswordHasher {
    pub fn new(cost: PasswordCost) -> Result<PasswordHasher, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .map_err(|e| format!("bad password hashing parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        let mut hasher = PasswordHasher { argon2, dummy_hash: String::new(), in_flight };
        hasher.dummy_hash = hasher.hash("latchkey timing equaliser")?;
        Ok(hasher)
    }

    /// Runs `f` (hashing or verifying) on the blocking pool once one of the
    /// process's few argon2 slots is free; waiting holds no thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&PasswordHasher) -> T + Send + 'static,
    ) -> Result<T, String> {
        let _slot = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
        let hasher = self.clone();
        actix_web::web::block(move || f(&hasher)).await.map_err(|e| e.to_string())
    }

    /// A PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| format!("password hashing failed: {e}"))
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user,
    /// or a user without a password) it still spends the same time and
    /// answers false.
    pub fn verify(&self, stored: Option<&str>, password: &str) -> bool {
        let (hash, real) = match stored {
            Some(h) => (h, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        // The parameters come from the stored hash, so raising the cost later
        // keeps old hashes verifiable.
        let ok = self.argon2.verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(PasswordCost { memory_kib: 64, iterations: 1 }).unwrap()
    }

    #[test]
    fn no_more_than_two_hashes_run_at_once_whatever_the_callers() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let h = hasher();
        let (now, peak) = (std::sync::Arc::new(AtomicUsize::new(0)), std::sync::Arc::new(AtomicUsize::new(0)));
        actix_web::rt::System::new().block_on(async {
            let jobs: Vec<_> = (0..8)
                .map(|_| {
                    let (h, now, peak) = (h.clone(), now.clone(), peak.clone());
                    actix_web::rt::spawn(async move {
                        h.run(move |h| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            let out = h.hash("pw");
                            now.fetch_sub(1, Ordering::SeqCst);
                            out
                        })
                        .await
                    })
                })
                .collect();
            for j in jobs {
                assert!(j.await.unwrap().unwrap().is_ok());
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), MAX_IN_FLIGHT);
    }

    #[test]
    fn verifies_the_right_password_only() {
        let h = hasher();
        let stored = h.hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(h.verify(Some(&stored), "correct horse battery"));
        assert!(!h.verify(Some(&stored), "wrong horse battery"));
    }

    #[test]
    fn unknown_users_never_verify() {
        assert!(!hasher().verify(None, "latchkey timing equaliser"));
    }

    #[test]
    fn hashes_made_at_another_cost_still_verify() {
        let cheap = hasher().hash("correct horse battery").unwrap();
        let other = PasswordHasher::new(PasswordCost { memory_kib: 128, iterations: 2 }).unwrap();
        assert!(other.verify(Some(&cheap), "correct horse battery"));
    }
}
