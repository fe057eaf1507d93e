//! Password hashing with argon2id on a bounded pool of blocking threads.
//!
//! Hashing is deliberately slow, so it never runs on the async worker threads: a flood
//! of sign-ins would starve every other request. At most `concurrency` hashes run at
//! once; a request that cannot get a slot within `max_wait` is told to come back
//! (503 with `Retry-After`) instead of joining an endless queue. The slot is held
//! inside the blocking task, so a client that disconnects does not free it while its
//! hash still runs.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::IdentityError;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// No hashing slot came free in time.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("too many sign-ins at once; try again in {retry_after_seconds} s")]
pub struct HashingBusy {
    pub retry_after_seconds: u64,
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Right; `needs_rehash` when the stored hash used other parameters than today's.
    Valid {
        needs_rehash: bool,
    },
    Invalid,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    max_wait: Duration,
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .field("parallelism", &self.params.p_cost())
            .field("available_slots", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// `concurrency` of 0 means one slot per CPU core.
    pub fn new(
        params: PasswordParams,
        concurrency: usize,
        max_wait: Duration,
    ) -> Result<Self, IdentityError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|error| IdentityError::Hashing(error.to_string()))?;
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            concurrency
        };
        // Verifying against this hash costs what a real verify costs, so an unknown
        // account answers no faster than a known one.
        let dummy_hash = argon2id(&params)
            .hash_password(b"an account that does not exist")
            .map_err(|error| IdentityError::Hashing(error.to_string()))?
            .to_string();
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            max_wait,
            dummy_hash: dummy_hash.into(),
        })
    }

    /// The PHC string of `password` with a fresh salt.
    pub async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let params = self.params.clone();
        let password = password.to_owned();
        self.run_blocking(move || {
            argon2id(&params)
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|error| IdentityError::Hashing(error.to_string()))
        })
        .await
    }

    /// Checks `password` against `stored`; with no stored hash (no such account, or one
    /// that never set a password) a dummy hash is checked so timing reveals nothing.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verification, IdentityError> {
        let known = stored.is_some();
        let hash = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let params = self.params.clone();
        let password = password.to_owned();
        self.run_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Ok(Verification::Invalid);
            };
            let matches = argon2id(&params)
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(match (known, matches) {
                (true, true) => Verification::Valid {
                    needs_rehash: needs_rehash(&parsed, &params),
                },
                _ => Verification::Invalid,
            })
        })
        .await
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, IdentityError> + Send + 'static,
    ) -> Result<T, IdentityError> {
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashingBusy {
                retry_after_seconds: self.max_wait.as_secs().max(1),
            })?
            .map_err(|_| IdentityError::Hashing("the hashing pool is closed".into()))?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(work)
        })
        .await
        .map_err(|error| IdentityError::Hashing(error.to_string()))?
    }
}

fn argon2id(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

fn needs_rehash(stored: &PasswordHash, current: &Params) -> bool {
    if stored.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(stored) {
        Ok(params) => {
            params.m_cost() != current.m_cost()
                || params.t_cost() != current.t_cost()
                || params.p_cost() != current.p_cost()
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{PasswordHasher, PasswordParams, Verification};

    const CHEAP: PasswordParams = PasswordParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(CHEAP, 2, Duration::from_secs(5)).unwrap();
        let hash = hasher.hash("correct horse battery staple").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
        assert_eq!(
            hasher
                .verify("correct horse battery staple", Some(&hash))
                .await
                .unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            hasher.verify("wrong", Some(&hash)).await.unwrap(),
            Verification::Invalid
        );
        assert_eq!(
            hasher.verify("anything", None).await.unwrap(),
            Verification::Invalid
        );
        assert_eq!(
            hasher.verify("x", Some("not a phc string")).await.unwrap(),
            Verification::Invalid
        );
    }

    #[tokio::test]
    async fn hashes_with_old_parameters_ask_to_be_upgraded() {
        let old = PasswordHasher::new(CHEAP, 1, Duration::from_secs(5)).unwrap();
        let hash = old.hash("correct horse battery staple").await.unwrap();
        let current = PasswordParams {
            memory_kib: 2048,
            iterations: 2,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(current, 1, Duration::from_secs(5)).unwrap();
        assert_eq!(
            hasher
                .verify("correct horse battery staple", Some(&hash))
                .await
                .unwrap(),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_instead_of_queueing_forever() {
        let slow = PasswordParams {
            memory_kib: 65536,
            iterations: 8,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(slow, 1, Duration::from_millis(1)).unwrap();
        let results = futures_join(&hasher).await;
        assert!(results.iter().any(Result::is_ok), "one hash runs");
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(crate::IdentityError::Busy(_)))),
            "the others are told to come back"
        );
    }

    async fn futures_join(hasher: &PasswordHasher) -> Vec<Result<String, crate::IdentityError>> {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("some password").await })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    }
}
