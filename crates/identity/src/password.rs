//! Password hashing with argon2id on a fixed pool of threads that reuse their memory.
//!
//! Hashing is deliberately slow and memory-hard (19 MiB a hash by default), so it
//! never runs on the async worker threads: a flood of sign-ins would starve every
//! other request. `concurrency` threads do all the hashing, each into one buffer of
//! its own that it keeps from hash to hash: memory stays at `concurrency` buffers
//! whatever the flood, where a fresh allocation per hash left glibc holding hundreds
//! of MiB. A thread that has had nothing to do for [`IDLE_RELEASE`] gives its buffer
//! back, so an idle process is small.
//!
//! A request that cannot get a thread within `max_wait` is told to come back (503
//! with `Retry-After`) instead of joining an endless queue. The thread's slot is held
//! by the job itself, so a client that disconnects does not free it while its hash
//! still runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::IdentityError;
use crate::policy::normalise_password;

/// How long a hashing thread keeps its buffer without work.
pub const IDLE_RELEASE: Duration = Duration::from_secs(10);

/// glibc serves requests above 32 MiB (its largest dynamic mmap threshold on 64-bit)
/// with a fresh mapping and unmaps it on free. Smaller ones, once a large block has
/// been freed, come from an arena that keeps the memory. Reserving at least this much
/// (only what is used is ever touched) makes releasing a buffer return it to the OS.
const ALWAYS_MAPPED_BLOCKS: usize = 32 * 1024 + 1;

/// The length of the hash we store, in bytes.
const OUTPUT_LEN: usize = 32;

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

/// Work for a hashing thread: it runs with the thread's memory.
type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// How busy the hashing pool is, for metrics: a queue that grows while every thread
/// is busy means sign-ins are about to be told to come back later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLoad {
    /// Hashes waiting for a thread.
    pub waiting: usize,
    /// Threads hashing now.
    pub busy: usize,
    /// Threads in the pool.
    pub threads: usize,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    threads: usize,
    waiting: Arc<AtomicUsize>,
    max_wait: Duration,
    jobs: Sender<Job>,
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
    /// Starts `concurrency` hashing threads (0 means one per CPU core).
    pub fn new(
        params: PasswordParams,
        concurrency: usize,
        max_wait: Duration,
    ) -> Result<Self, IdentityError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|error| IdentityError::Hashing(error.to_string()))?;
        let concurrency = if concurrency == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            concurrency
        };
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for number in 0..concurrency {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{number}"))
                .spawn(move || run_hashing_thread(&queue))
                .map_err(|error| IdentityError::Hashing(error.to_string()))?;
        }
        Ok(Self {
            dummy_hash: dummy_hash(&params)?.into(),
            params,
            permits: Arc::new(Semaphore::new(concurrency)),
            threads: concurrency,
            waiting: Arc::new(AtomicUsize::new(0)),
            max_wait,
            jobs,
        })
    }

    /// The pool's load at this moment.
    pub fn load(&self) -> HashingLoad {
        let idle = self.permits.available_permits().min(self.threads);
        HashingLoad {
            waiting: self.waiting.load(Ordering::Relaxed),
            busy: self.threads - idle,
            threads: self.threads,
        }
    }

    /// The PHC string of `password`, normalised as the policy reads it, with a fresh
    /// salt.
    pub async fn hash(&self, password: &str) -> Result<String, IdentityError> {
        let params = self.params.clone();
        let password = normalise_password(password);
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| IdentityError::Hashing(error.to_string()))?;
        self.run(move |workspace| {
            let mut output = [0u8; OUTPUT_LEN];
            workspace.hash(&params, password.as_bytes(), &salt, &mut output)?;
            Ok(phc_string(&params, &salt, &output))
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
        let current = self.params.clone();
        let normalised = normalise_password(password);
        // Hashes stored before passwords were normalised hold the raw bytes; a password
        // typed the same way still matches them, and is then hashed anew normalised.
        // Both are tried whoever the account is, so timing says nothing about it.
        let raw = (normalised != password).then(|| password.to_owned());
        self.run(move |workspace| {
            let Some(stored) = StoredHash::parse(&hash) else {
                return Ok(Verification::Invalid);
            };
            let mut output = vec![0u8; stored.hash.len()];
            let mut matches_as = |candidate: &str| {
                workspace
                    .hash(
                        &stored.params,
                        candidate.as_bytes(),
                        &stored.salt,
                        &mut output,
                    )
                    .is_ok()
                    && bool::from(output.ct_eq(&stored.hash))
            };
            let normalised_matches = matches_as(&normalised);
            let raw_matches = !normalised_matches && raw.as_deref().is_some_and(&mut matches_as);
            Ok(match (known, normalised_matches || raw_matches) {
                (true, true) => Verification::Valid {
                    needs_rehash: raw_matches || stored.params != current,
                },
                _ => Verification::Invalid,
            })
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> Result<T, IdentityError> + Send + 'static,
    ) -> Result<T, IdentityError> {
        let waiting = Waiting::count(&self.waiting);
        let permit = tokio::time::timeout(self.max_wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| HashingBusy {
                retry_after_seconds: self.max_wait.as_secs().max(1),
            })?
            .map_err(|_| IdentityError::Hashing("the hashing pool is closed".into()))?;
        drop(waiting);
        let (answer, answered) = oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |workspace| {
            let _permit: OwnedSemaphorePermit = permit;
            // Nobody may be waiting any more (the client went away): nothing to do.
            let _ = answer.send(span.in_scope(|| work(workspace)));
        });
        self.jobs
            .send(job)
            .map_err(|_| IdentityError::Hashing("the hashing threads have stopped".into()))?;
        answered
            .await
            .map_err(|_| IdentityError::Hashing("a hashing thread failed".into()))?
    }
}

/// One caller waiting for a hashing slot, counted until it has one or gives up; a
/// guard, so a request dropped while it waits (the client went away) is uncounted too.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One hashing thread: jobs until the hasher is dropped, its buffer released when
/// idle.
fn run_hashing_thread(queue: &Receiver<Job>) {
    let mut workspace = Workspace::default();
    loop {
        match queue.recv_timeout(IDLE_RELEASE) {
            Ok(job) => job(&mut workspace),
            Err(RecvTimeoutError::Timeout) => workspace.release(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// A hashing thread's memory, kept between hashes.
#[derive(Default)]
struct Workspace {
    blocks: Vec<Block>,
}

impl Workspace {
    fn hash(
        &mut self,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        output: &mut [u8],
    ) -> Result<(), IdentityError> {
        let count = params.block_count();
        if self.blocks.len() < count {
            // Every block is written before it is read, so old contents never matter
            // and a fresh buffer needs no zeroing beyond what `resize` does once.
            let mut blocks = Vec::with_capacity(count.max(ALWAYS_MAPPED_BLOCKS));
            blocks.resize(count, Block::default());
            self.blocks = blocks;
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, salt, output, &mut self.blocks[..count])
            .map_err(|error| IdentityError::Hashing(error.to_string()))
    }

    fn release(&mut self) {
        self.blocks = Vec::new();
    }
}

/// `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, as the PHC string format writes it.
fn phc_string(params: &Params, salt: &[u8], output: &[u8]) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output)
    )
}

/// A hash that costs what a real one costs to verify, and that no password matches:
/// a random salt and random output, so no hashing is spent making it.
fn dummy_hash(params: &Params) -> Result<String, IdentityError> {
    let mut random = [0u8; 16 + OUTPUT_LEN];
    getrandom::fill(&mut random).map_err(|error| IdentityError::Hashing(error.to_string()))?;
    let (salt, output) = random.split_at(16);
    Ok(phc_string(params, salt, output))
}

/// A stored argon2id PHC string, taken apart.
struct StoredHash {
    params: Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl StoredHash {
    /// `None` for anything that is not an argon2id v19 hash we can check.
    fn parse(phc: &str) -> Option<Self> {
        let parsed = PasswordHash::new(phc).ok()?;
        if parsed.algorithm.as_str() != "argon2id" || parsed.version.is_some_and(|v| v != 0x13) {
            return None;
        }
        let hash = parsed.hash?.as_bytes().to_vec();
        let params = Params::new(
            parsed.params.get_decimal("m")?,
            parsed.params.get_decimal("t")?,
            parsed.params.get_decimal("p")?,
            Some(hash.len()),
        )
        .ok()?;
        let salt = parsed.salt?.as_ref().to_vec();
        Some(Self { params, salt, hash })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use argon2::password_hash::PasswordHasher as _;
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::{HashingLoad, PasswordHasher, PasswordParams, Verification};
    use unicode_normalization::UnicodeNormalization;

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

    /// The load reads what the metrics show: with one thread and three hashes asked
    /// for at once, one hashes and two wait, and all is quiet again afterwards.
    #[tokio::test]
    async fn the_load_counts_busy_threads_and_waiting_hashes() {
        // Costly enough that the first hash is still running while the others queue.
        let slow = PasswordParams {
            memory_kib: 32 * 1024,
            iterations: 4,
            parallelism: 1,
        };
        let hasher = PasswordHasher::new(slow, 1, Duration::from_secs(30)).unwrap();
        let idle = HashingLoad {
            waiting: 0,
            busy: 0,
            threads: 1,
        };
        assert_eq!(hasher.load(), idle);
        let hashes: Vec<_> = (0..3)
            .map(|n| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&format!("password number {n}")).await })
            })
            .collect();
        let mut peak = hasher.load();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while peak.waiting < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
            peak = hasher.load();
        }
        assert_eq!((peak.waiting, peak.busy), (2, 1), "{peak:?}");
        for hash in hashes {
            hash.await.unwrap().unwrap();
        }
        // The thread frees its slot just after it answers.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while hasher.load().busy > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(hasher.load(), idle);
    }

    /// NIST SP 800-63B 5.1.1.2: a password is normalised before it is hashed, so "é"
    /// typed precomposed matches "é" set decomposed; a hash of the raw bytes stored
    /// before that still verifies, and asks to be replaced.
    #[tokio::test]
    async fn passwords_are_normalised_before_hashing() {
        let hasher = PasswordHasher::new(CHEAP, 2, Duration::from_secs(5)).unwrap();
        let composed = "caf\u{e9} au lait gr\u{e2}ce";
        let decomposed: String = composed.nfd().collect();
        assert_ne!(composed, decomposed);
        let hash = hasher.hash(&decomposed).await.unwrap();
        assert_eq!(
            hasher.verify(composed, Some(&hash)).await.unwrap(),
            Verification::Valid {
                needs_rehash: false
            }
        );

        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        let raw_hash = argon2
            .hash_password(decomposed.as_bytes())
            .unwrap()
            .to_string();
        assert_eq!(
            hasher.verify(&decomposed, Some(&raw_hash)).await.unwrap(),
            Verification::Valid { needs_rehash: true },
            "a hash of the raw bytes still verifies and asks to be upgraded"
        );
        assert_eq!(
            hasher
                .verify("caf\u{e9} au lait", Some(&raw_hash))
                .await
                .unwrap(),
            Verification::Invalid
        );
    }

    /// Our PHC strings and the argon2 crate's are interchangeable both ways, so hashes
    /// stored before the pool existed keep working, and reused memory changes nothing.
    #[tokio::test]
    async fn hashes_match_the_argon2_crates_own() {
        let hasher = PasswordHasher::new(CHEAP, 1, Duration::from_secs(5)).unwrap();
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        );
        for password in ["first password", "second, longer password", ""] {
            let theirs = argon2
                .hash_password(password.as_bytes())
                .unwrap()
                .to_string();
            assert_eq!(
                hasher.verify(password, Some(&theirs)).await.unwrap(),
                Verification::Valid {
                    needs_rehash: false
                },
                "{theirs}"
            );
            let ours = hasher.hash(password).await.unwrap();
            let parsed = argon2::password_hash::phc::PasswordHash::new(&ours).unwrap();
            use argon2::password_hash::PasswordVerifier as _;
            assert!(argon2.verify_password(password.as_bytes(), &parsed).is_ok());
        }
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
