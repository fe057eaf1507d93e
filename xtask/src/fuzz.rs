//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every cargo-fuzz target in `fuzz/`
//! for a while each (5 minutes, 20 s when `CI=true`), as many side by side as there
//! are cores, then a table of what ran; fails when any target found an input that
//! crashes, hangs or runs out of memory.
//!
//! cargo-fuzz needs the nightly toolchain; both are installed when missing. New
//! inputs go to `fuzz/corpus/<target>` (not in git), on top of the seeds kept in
//! `fuzz/seeds/<target>`; a failing input is kept in `fuzz/artifacts/<target>`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [TARGET...]";
const DEFAULT_SECONDS: u64 = 300;
const CI_SECONDS: u64 = 20;
const TOOLCHAIN: &str = "nightly";
/// The code under test forbids `unsafe`, so AddressSanitizer would find nothing our
/// assertions do not, while halving the inputs tried in the time given. Sixteen
/// codegen units (cargo's release default) rather than cargo-fuzz's one: a single unit
/// per crate slows building the whole dependency tree far more than it speeds fuzzing.
const BUILD_OPTIONS: &[&str] = &["--sanitizer", "none", "--codegen-units", "16"];
/// One input taking this long is a denial of service in a request parser.
const INPUT_TIMEOUT_SECONDS: u64 = 10;

#[derive(Debug)]
struct FuzzOptions {
    seconds: u64,
    targets: Vec<String>,
}

impl FuzzOptions {
    fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let in_ci = std::env::var("CI").is_ok_and(|value| value == "true");
        let mut options = Self {
            seconds: if in_ci { CI_SECONDS } else { DEFAULT_SECONDS },
            targets: Vec::new(),
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let (flag, inline_value) = match argument.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (argument.as_str(), None),
            };
            match flag {
                "--seconds" => {
                    let seconds = inline_value
                        .or_else(|| arguments.next().cloned())
                        .with_context(|| format!("--seconds needs a value; {USAGE}"))?;
                    options.seconds = seconds
                        .parse()
                        .ok()
                        .filter(|seconds| *seconds > 0)
                        .with_context(|| {
                            format!("--seconds takes whole seconds, not `{seconds}`")
                        })?;
                }
                other if other.starts_with('-') => bail!("unknown option `{other}`; {USAGE}"),
                target => options.targets.push(target.to_owned()),
            }
        }
        Ok(options)
    }
}

/// What one target's run came to.
#[derive(Debug)]
struct Outcome {
    target: String,
    runs: u64,
    seconds: u64,
    failure: Option<String>,
}

pub(crate) fn run(arguments: &[String]) -> anyhow::Result<()> {
    let options = FuzzOptions::parse(arguments)?;
    let root = crate::server::workspace_root();
    ensure_nightly()?;
    ensure_cargo_fuzz(&root)?;

    let known = list_targets(&root)?;
    let targets = if options.targets.is_empty() {
        known
    } else {
        if let Some(unknown) = options
            .targets
            .iter()
            .find(|target| !known.contains(target))
        {
            bail!("no fuzz target `{unknown}`; targets: {}", known.join(", "));
        }
        options.targets
    };

    println!("xtask: fuzz: building {}", targets.join(", "));
    let mut build = vec!["build"];
    build.extend(BUILD_OPTIONS);
    let status = fuzz_command(&root, &build)
        .status()
        .context("cannot run cargo fuzz")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status})");
    }

    // Each target fuzzes on one thread: on more cores, several run at once.
    let at_once = std::thread::available_parallelism().map_or(1, usize::from);
    let mut outcomes = Vec::new();
    for batch in targets.chunks(at_once) {
        let batch_outcomes = std::thread::scope(|scope| {
            let runs: Vec<_> = batch
                .iter()
                .map(|target| {
                    println!("xtask: fuzz: {target} for {} s", options.seconds);
                    scope.spawn(|| fuzz_target(&root, target, options.seconds))
                })
                .collect();
            runs.into_iter()
                .map(|run| {
                    run.join()
                        .unwrap_or_else(|_| bail!("a fuzzing thread panicked"))
                })
                .collect::<Vec<_>>()
        });
        for outcome in batch_outcomes {
            outcomes.push(outcome?);
        }
    }

    println!();
    print_table(&outcomes);
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| outcome.failure.is_some())
        .map(|outcome| outcome.target.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "fuzzing found failing inputs in {}; see fuzz/artifacts/",
            failed.join(", ")
        );
    }
    println!("xtask: fuzz passed");
    Ok(())
}

/// Cargo on the nightly toolchain, whatever toolchain runs xtask itself.
fn fuzz_command(root: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{TOOLCHAIN}"))
        .arg("fuzz")
        .args(args)
        .current_dir(root)
        // Set by the stable cargo running xtask; they would point nested builds at it.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env("RUSTUP_TOOLCHAIN", TOOLCHAIN);
    command
}

/// Whether `command` runs and succeeds; its output is of no interest, only that it
/// answers.
fn answers(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn ensure_nightly() -> anyhow::Result<()> {
    if answers(Command::new("rustup").args(["run", TOOLCHAIN, "rustc", "--version"])) {
        return Ok(());
    }
    println!("xtask: fuzz: installing the {TOOLCHAIN} toolchain");
    let status = Command::new("rustup")
        .args(["toolchain", "install", TOOLCHAIN, "--profile", "minimal"])
        .status()
        .context("cannot run rustup; cargo-fuzz needs a nightly toolchain")?;
    if !status.success() {
        bail!("rustup could not install the {TOOLCHAIN} toolchain");
    }
    Ok(())
}

fn ensure_cargo_fuzz(root: &Path) -> anyhow::Result<()> {
    if answers(&mut fuzz_command(root, &["--version"])) {
        return Ok(());
    }
    println!("xtask: fuzz: installing cargo-fuzz");
    crate::cargo(&["install", "cargo-fuzz", "--locked"], &[])
}

fn list_targets(root: &Path) -> anyhow::Result<Vec<String>> {
    let output = fuzz_command(root, &["list"])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run cargo fuzz list")?;
    if !output.status.success() {
        bail!("cargo fuzz list failed ({})", output.status);
    }
    let targets: Vec<String> = String::from_utf8(output.stdout)
        .context("cargo fuzz list printed something other than UTF-8")?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        bail!("fuzz/ has no targets");
    }
    Ok(targets)
}

fn fuzz_target(root: &Path, target: &str, seconds: u64) -> anyhow::Result<Outcome> {
    let corpus = root.join("fuzz").join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let mut corpora: Vec<PathBuf> = vec![corpus];
    let seeds = root.join("fuzz").join("seeds").join(target);
    if seeds.is_dir() {
        corpora.push(seeds);
    }
    let corpora: Vec<String> = corpora
        .iter()
        .map(|path| path.display().to_string())
        .collect();

    let max_total_time = format!("-max_total_time={seconds}");
    let timeout = format!("-timeout={INPUT_TIMEOUT_SECONDS}");
    let mut args = vec!["run"];
    args.extend(BUILD_OPTIONS);
    args.push(target);
    args.extend(corpora.iter().map(String::as_str));
    args.extend(["--", &max_total_time, &timeout, "-print_final_stats=1"]);

    let started = Instant::now();
    let mut child = fuzz_command(root, &args)
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo fuzz")?;
    let stderr = child.stderr.take().context("cargo fuzz's output")?;
    let mut log = LibFuzzerLog::default();
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if !is_noise(&line) {
            // Targets run side by side: each line says whose it is.
            eprintln!("{target}: {line}");
        }
        log.read(&line);
    }
    let status = child.wait()?;
    let failure = (!status.success()).then(|| match log.artifact {
        Some(artifact) => {
            let artifact = Path::new(&artifact);
            let shown = artifact.strip_prefix(root).unwrap_or(artifact);
            format!("failed: {}", shown.display())
        }
        None => format!("failed ({status})"),
    });
    Ok(Outcome {
        target: target.to_owned(),
        runs: log.runs,
        seconds: started.elapsed().as_secs(),
        failure,
    })
}

/// libFuzzer's progress and its dictionary come by the thousand; the rest (set-up,
/// final figures, a crash) is worth seeing.
fn is_noise(line: &str) -> bool {
    line.starts_with('#')
        || line.trim_start().starts_with("NEW_FUNC[")
        || (line.starts_with('"') && line.contains("# Uses: "))
        // Sanitizer hooks, absent by choice (see `BUILD_OPTIONS`).
        || line.starts_with("WARNING: Failed to find function \"__sanitizer_")
}

/// What libFuzzer's output tells: inputs tried, and where a failing one was saved.
#[derive(Debug, Default)]
struct LibFuzzerLog {
    runs: u64,
    artifact: Option<String>,
}

impl LibFuzzerLog {
    /// Reads `#4096 pulse ...`, `Done 123 runs in 30 second(s)`,
    /// `stat::number_of_executed_units: 123` and `Test unit written to PATH`.
    fn read(&mut self, line: &str) {
        let runs = if let Some(status) = line.strip_prefix('#') {
            status.split_whitespace().next()
        } else if let Some(done) = line.strip_prefix("Done ") {
            done.split_whitespace().next()
        } else if let Some(stat) = line.strip_prefix("stat::number_of_executed_units:") {
            Some(stat.trim())
        } else {
            if let Some(path) = line.split("Test unit written to ").nth(1) {
                self.artifact = Some(path.trim().to_owned());
            }
            None
        };
        if let Some(runs) = runs.and_then(|runs| runs.parse::<u64>().ok()) {
            self.runs = self.runs.max(runs);
        }
    }
}

fn print_table(outcomes: &[Outcome]) {
    let width = outcomes
        .iter()
        .map(|outcome| outcome.target.len())
        .max()
        .unwrap_or(0)
        .max("target".len());
    println!(
        "{:<width$}  {:>12}  {:>7}  result",
        "target", "runs", "seconds"
    );
    for outcome in outcomes {
        println!(
            "{:<width$}  {:>12}  {:>7}  {}",
            outcome.target,
            outcome.runs,
            outcome.seconds,
            outcome.failure.as_deref().unwrap_or("ok")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{LibFuzzerLog, is_noise};

    #[test]
    fn hides_progress_but_not_crashes() {
        for line in [
            "#1024\tpulse  cov: 90 ft: 120 corp: 20/300b exec/s: 512 rss: 40Mb",
            "\tNEW_FUNC[1/38]: 0x565091e93f51",
            "\"\\377&\" # Uses: 3775",
            "WARNING: Failed to find function \"__sanitizer_print_stack_trace\".",
        ] {
            assert!(is_noise(line), "{line:?}");
        }
        for line in [
            "INFO: Seed: 1234",
            "thread '<unnamed>' panicked at fuzz_targets/email.rs:35:5:",
            "\"i\\u{307}+@o.h\" became \"x\", which lettre refuses",
            "stat::number_of_executed_units: 70000",
        ] {
            assert!(!is_noise(line), "{line:?}");
        }
    }

    #[test]
    fn reads_runs_and_artifacts_from_libfuzzer_output() {
        let mut log = LibFuzzerLog::default();
        for line in [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb",
            "#65536\tpulse  cov: 90 ft: 120 corp: 20/300b exec/s: 32768 rss: 40Mb",
            "==1== ERROR: libFuzzer: deadly signal",
            "artifact_prefix='fuzz/artifacts/host/'; Test unit written to fuzz/artifacts/host/crash-ab12",
            "stat::number_of_executed_units: 70000",
        ] {
            log.read(line);
        }
        assert_eq!(log.runs, 70_000);
        assert_eq!(
            log.artifact.as_deref(),
            Some("fuzz/artifacts/host/crash-ab12")
        );

        let mut log = LibFuzzerLog::default();
        log.read("Done 123456 runs in 60 second(s)");
        assert_eq!(log.runs, 123_456);
    }
}
