//! The hashing ceiling: how many sign-ins per second this machine's cores could
//! verify if argon2id were the only work, with the server's production cost.

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};

/// `password.argon2_*` of `config/default.toml`.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;
const OUTPUT_BYTES: usize = 32;
const SAMPLES: usize = 10;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct HashingCeiling {
    pub(crate) cores: usize,
    pub(crate) median_ms: f64,
    pub(crate) sign_ins_per_second: f64,
}

pub(crate) fn measure() -> anyhow::Result<HashingCeiling> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_BYTES))
        .map_err(|error| anyhow::anyhow!("argon2 parameters: {error}"))?;
    // One buffer for every hash, as the server's hashing threads keep theirs: a
    // fresh 19 MiB each time would time page faults, not argon2.
    let mut blocks = vec![Block::default(); params.block_count()];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut output = [0u8; OUTPUT_BYTES];
    let mut hash_once = || -> anyhow::Result<Duration> {
        let started = Instant::now();
        argon2
            .hash_password_into_with_memory(
                b"correct horse battery staple",
                b"latchkey-bench-salt",
                &mut output,
                &mut blocks,
            )
            .map_err(|error| anyhow::anyhow!("argon2id: {error}"))?;
        Ok(started.elapsed())
    };
    // The first hash also touches its memory for the first time.
    hash_once()?;
    let mut samples = (0..SAMPLES)
        .map(|_| hash_once())
        .collect::<anyhow::Result<Vec<_>>>()?;
    samples.sort_unstable();
    let median = (samples[SAMPLES / 2 - 1] + samples[SAMPLES / 2]) / 2;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let median_seconds = median.as_secs_f64();
    Ok(HashingCeiling {
        cores,
        median_ms: median_seconds * 1000.0,
        sign_ins_per_second: cores as f64 / median_seconds,
    })
}
