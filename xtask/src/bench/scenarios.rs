//! The load scenarios: each is one wrk run, driven by a generated Lua script that
//! sends the request and reports its figures as a JSON line.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

// How the JSON figures, the targets and the chart name each scenario.
pub(crate) const CEILING: &str = "ceiling";
pub(crate) const LOGIN_PAGE: &str = "login_page";
pub(crate) const FORGOT_KNOWN: &str = "forgot_known";
pub(crate) const FORGOT_UNKNOWN: &str = "forgot_unknown";
pub(crate) const FORGOT_KNOWN_BESIDE: &str = "forgot_known_beside";
pub(crate) const FORGOT_UNKNOWN_BESIDE: &str = "forgot_unknown_beside";
pub(crate) const RESET_LINK: &str = "reset_link";
pub(crate) const RESET_PAGE: &str = "reset_page";
pub(crate) const SIGN_IN: &str = "sign_in";
pub(crate) const LOGIN_PAGE_DURING_SIGN_IN: &str = "login_page_during_sign_in";
pub(crate) const SCALE_LOGIN_PAGE: &str = "scale_login_page";
pub(crate) const SCALE_FORGOT_KNOWN: &str = "scale_forgot_known";

/// What the Lua `done` function prints before its JSON.
const RESULT_MARKER: &str = "BENCH_RESULT ";
const WARM_UP_SECONDS: u64 = 2;

/// Installs wrk from Debian's packages if it is not on the PATH.
pub(crate) fn ensure_wrk() -> anyhow::Result<()> {
    if wrk_runs() {
        return Ok(());
    }
    println!("xtask: bench: wrk is not installed; apt-get install -y wrk");
    // A machine that never ran `apt-get update` knows no package lists yet.
    let outcome = apt_get(&["install", "-y", "-qq", "wrk"]).or_else(|_| {
        apt_get(&["update", "-qq"])?;
        apt_get(&["install", "-y", "-qq", "wrk"])
    });
    match outcome {
        Ok(()) if wrk_runs() => Ok(()),
        Ok(()) => bail!("apt-get installed wrk, but it does not run"),
        Err(error) => Err(error.context(
            "the benchmark needs wrk and `apt-get install -y wrk` failed; install it by hand (Debian/Ubuntu: apt-get install wrk)",
        )),
    }
}

/// Runs apt-get quietly, showing its output only if it fails.
fn apt_get(arguments: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("apt-get")
        .args(arguments)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .context("cannot run apt-get")?;
    if !output.status.success() {
        bail!(
            "apt-get {} exited with {}:\n{}{}",
            arguments.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn wrk_runs() -> bool {
    // `wrk --version` prints its version and exits 1, so only starting counts.
    Command::new("wrk").arg("--version").output().is_ok()
}

/// Whom each request of a scenario goes to.
#[derive(Debug, Clone)]
pub(crate) enum Hosts {
    /// Every request to one host.
    One(String),
    /// Each request to a random `firm-NNNNN.localhost` of `latchkey seed`.
    SeededFirms { firms: usize },
}

/// One request, repeated by wrk for the whole run.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    /// Stable name in the JSON figures and the chart.
    pub(crate) key: &'static str,
    pub(crate) name: String,
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) hosts: Hosts,
    pub(crate) headers: Vec<(&'static str, String)>,
    /// A form body; with [`Scenario::random_contact`] it is sent after an `email`
    /// field naming a random seeded contact of the chosen firm.
    pub(crate) body: Option<String>,
    pub(crate) random_contact: Option<usize>,
    pub(crate) expected_status: u16,
    /// A pause before each request, in milliseconds: a person reading, not a flood.
    pub(crate) pause_ms: Option<u32>,
}

impl Scenario {
    pub(crate) fn get(key: &'static str, name: &str, host: &str, path: &str) -> Self {
        Self {
            key,
            name: name.to_owned(),
            method: "GET",
            path: path.to_owned(),
            hosts: Hosts::One(host.to_owned()),
            headers: Vec::new(),
            body: None,
            random_contact: None,
            expected_status: 200,
            pause_ms: None,
        }
    }

    pub(crate) fn post_form(
        key: &'static str,
        name: &str,
        host: &str,
        path: &str,
        body: String,
    ) -> Self {
        Self {
            method: "POST",
            headers: vec![(
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(body),
            ..Self::get(key, name, host, path)
        }
    }

    pub(crate) fn expecting(mut self, status: u16) -> Self {
        self.expected_status = status;
        self
    }

    /// Waits `pause_ms` before each request of each connection.
    pub(crate) fn paced(mut self, pause_ms: u32) -> Self {
        self.pause_ms = Some(pause_ms);
        self
    }

    pub(crate) fn with_cookie(mut self, cookie: String) -> Self {
        self.headers.push(("Cookie", cookie));
        self
    }

    pub(crate) fn across_seeded_firms(mut self, firms: usize) -> Self {
        self.hosts = Hosts::SeededFirms { firms };
        self
    }

    /// Prefixes the body with `email=contact-N%40firm-NNNNN.test&`, N random.
    pub(crate) fn with_random_seeded_contact(mut self, contacts_per_firm: usize) -> Self {
        self.random_contact = Some(contacts_per_firm);
        self
    }

    fn lua_script(&self) -> String {
        let mut script = format!(
            "-- Written by `cargo xtask bench` for the scenario {:?}.\n",
            self.name
        );
        let _ = writeln!(script, "wrk.method = {}", lua_string(self.method));
        let _ = writeln!(script, "wrk.path = {}", lua_string(&self.path));
        if let Some(body) = &self.body {
            let _ = writeln!(script, "wrk.body = {}", lua_string(body));
        }
        if let Hosts::One(host) = &self.hosts {
            let _ = writeln!(script, "wrk.headers[\"Host\"] = {}", lua_string(host));
        }
        for (name, value) in &self.headers {
            let _ = writeln!(
                script,
                "wrk.headers[{}] = {}",
                lua_string(name),
                lua_string(value)
            );
        }
        let _ = writeln!(script, "local expected = {}", self.expected_status);
        script.push_str(COUNTING_AND_REPORTING);
        if let Some(pause) = self.pause_ms {
            let _ = writeln!(script, "function delay()\n  return {pause}\nend");
        }
        if let Hosts::SeededFirms { firms } = self.hosts {
            let contacts = self.random_contact.unwrap_or(0);
            let _ = writeln!(script, "local firms = {firms}\nlocal contacts = {contacts}");
            script.push_str(RANDOM_FIRM_REQUEST);
        }
        script
    }
}

/// Counts answers other than the expected status in each thread (wrk itself only
/// counts those of 400 and above) and prints the run's figures as JSON.
const COUNTING_AND_REPORTING: &str = r#"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  unexpected = 0
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local unexpected_total = 0
  for _, thread in ipairs(threads) do
    unexpected_total = unexpected_total + (thread:get("unexpected") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%.0f,"duration_us":%.0f,"connect_errors":%.0f,"read_errors":%.0f,' ..
    '"write_errors":%.0f,"timeouts":%.0f,"status_errors":%.0f,"unexpected_status":%.0f,' ..
    '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.timeout, errors.status, unexpected_total,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"#;

/// A new request for each call: a random seeded firm and, for forms that name an
/// address, one of its contacts.
const RANDOM_FIRM_REQUEST: &str = r#"
function request()
  local firm = math.random(1, firms)
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["Host"] = string.format("firm-%05d.localhost", firm)
  local body = wrk.body
  if contacts > 0 then
    body = string.format("email=contact-%d%%40firm-%05d.test&", math.random(1, contacts), firm) .. (wrk.body or "")
  end
  return wrk.format(nil, nil, headers, body)
end
"#;

fn lua_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' | '\\' => {
                quoted.push('\\');
                quoted.push(character);
            }
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

/// The figures of one wrk run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct LoadFigures {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) requests_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    /// Answers of 400 and above.
    pub(crate) status_errors: u64,
    /// Failed connects, reads and writes, and time-outs.
    pub(crate) socket_errors: u64,
    /// Answers other than the scenario's expected status, those of 400 and above
    /// included.
    pub(crate) unexpected_status: u64,
}

impl LoadFigures {
    /// Answers below 400 that still were not the expected status.
    pub(crate) fn unexpected_successes(&self) -> u64 {
        self.unexpected_status.saturating_sub(self.status_errors)
    }
}

#[derive(Debug, Deserialize)]
struct WrkReport {
    requests: f64,
    duration_us: f64,
    connect_errors: f64,
    read_errors: f64,
    write_errors: f64,
    timeouts: f64,
    status_errors: f64,
    unexpected_status: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
}

/// Counts printed by Lua with `%.0f`: whole, non-negative and far below 2^53.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn count(value: f64) -> u64 {
    value.max(0.0) as u64
}

impl From<WrkReport> for LoadFigures {
    fn from(report: WrkReport) -> Self {
        let seconds = report.duration_us / 1e6;
        Self {
            requests: count(report.requests),
            seconds,
            requests_per_second: if seconds > 0.0 {
                report.requests / seconds
            } else {
                0.0
            },
            p50_ms: report.p50_us / 1000.0,
            p90_ms: report.p90_us / 1000.0,
            p99_ms: report.p99_us / 1000.0,
            status_errors: count(report.status_errors),
            socket_errors: count(
                report.connect_errors + report.read_errors + report.write_errors + report.timeouts,
            ),
            unexpected_status: count(report.unexpected_status),
        }
    }
}

/// How much load wrk puts on the server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) threads: u32,
    pub(crate) connections: u32,
}

impl Load {
    pub(crate) const FLOOD: Self = Self {
        threads: 2,
        connections: 32,
    };
    /// Half the flood, for one of two scenarios measured side by side.
    pub(crate) const HALF_FLOOD: Self = Self {
        threads: 1,
        connections: 16,
    };
    /// A person or two using the site while it is flooded.
    pub(crate) const BYSTANDER: Self = Self {
        threads: 1,
        connections: 2,
    };
}

/// Runs scenarios against one server.
#[derive(Debug, Clone)]
pub(crate) struct WrkRunner {
    pub(crate) address: SocketAddr,
    pub(crate) duration_seconds: u64,
    /// Where the Lua scripts are written.
    pub(crate) scripts: PathBuf,
}

impl WrkRunner {
    /// A warm-up run whose figures are thrown away, then the measured run.
    pub(crate) fn measure(&self, scenario: &Scenario) -> anyhow::Result<LoadFigures> {
        println!("xtask: bench: {}", scenario.name);
        let script = self.write_script(scenario)?;
        self.run(&script, scenario, Load::FLOOD, WARM_UP_SECONDS)?;
        self.run(&script, scenario, Load::FLOOD, self.duration_seconds)
    }

    /// Measures `flood` while `bystander` runs beside it with a light load; both
    /// after a warm-up of `flood` alone.
    pub(crate) fn measure_beside(
        &self,
        flood: &Scenario,
        bystander: &Scenario,
    ) -> anyhow::Result<(LoadFigures, LoadFigures)> {
        println!(
            "xtask: bench: {}, with {} beside it",
            flood.name, bystander.name
        );
        let flood_script = self.write_script(flood)?;
        let bystander_script = self.write_script(bystander)?;
        self.run(&flood_script, flood, Load::FLOOD, WARM_UP_SECONDS)?;
        self.run_together(
            (&flood_script, flood, Load::FLOOD),
            (&bystander_script, bystander, Load::BYSTANDER),
            self.duration_seconds,
        )
    }

    /// Measures two scenarios at the same time, each with half the flood, so both
    /// meet the same background work: their latencies can be compared, which two
    /// runs one after the other (with different queues behind them) cannot.
    pub(crate) fn measure_side_by_side(
        &self,
        left: &Scenario,
        right: &Scenario,
    ) -> anyhow::Result<(LoadFigures, LoadFigures)> {
        println!(
            "xtask: bench: {} and {} side by side",
            left.name, right.name
        );
        let left_script = self.write_script(left)?;
        let right_script = self.write_script(right)?;
        let left = (left_script.as_path(), left, Load::HALF_FLOOD);
        let right = (right_script.as_path(), right, Load::HALF_FLOOD);
        self.run_together(left, right, WARM_UP_SECONDS)?;
        self.run_together(left, right, self.duration_seconds)
    }

    /// Two wrk runs at the same time.
    fn run_together(
        &self,
        (left_script, left, left_load): (&Path, &Scenario, Load),
        (right_script, right, right_load): (&Path, &Scenario, Load),
        seconds: u64,
    ) -> anyhow::Result<(LoadFigures, LoadFigures)> {
        std::thread::scope(|scope| {
            let right = scope.spawn(|| self.run(right_script, right, right_load, seconds));
            let left = self.run(left_script, left, left_load, seconds);
            let right = right
                .join()
                .map_err(|_| anyhow::anyhow!("a wrk thread panicked"))?;
            Ok((left?, right?))
        })
    }

    fn write_script(&self, scenario: &Scenario) -> anyhow::Result<PathBuf> {
        let path = self.scripts.join(format!("{}.lua", scenario.key));
        std::fs::write(&path, scenario.lua_script())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }

    fn run(
        &self,
        script: &Path,
        scenario: &Scenario,
        load: Load,
        seconds: u64,
    ) -> anyhow::Result<LoadFigures> {
        let url = format!("http://{}{}", self.address, scenario.path);
        let output = Command::new("wrk")
            .arg(format!("-t{}", load.threads))
            .arg(format!("-c{}", load.connections))
            .arg(format!("-d{seconds}s"))
            .args(["--timeout", "10s", "-s"])
            .arg(script)
            .arg(&url)
            .output()
            .context("cannot run wrk")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Some(json) = stdout
            .lines()
            .find_map(|line| line.strip_prefix(RESULT_MARKER))
        else {
            bail!(
                "wrk gave no figures for {} ({}):\n{stdout}{}",
                scenario.name,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let report: WrkReport = serde_json::from_str(json)
            .with_context(|| format!("wrk's figures for {}: {json}", scenario.name))?;
        Ok(report.into())
    }
}

#[cfg(test)]
mod tests {
    use super::{Scenario, lua_string};

    #[test]
    fn quotes_lua_strings() {
        assert_eq!(lua_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn a_random_firm_script_builds_its_own_requests() {
        let script = Scenario::post_form(
            "forgot",
            "POST /forgot-password",
            "acme.localhost",
            "/forgot-password",
            "csrf_token=x".to_owned(),
        )
        .across_seeded_firms(10)
        .with_random_seeded_contact(100)
        .lua_script();
        assert!(script.contains("local firms = 10\nlocal contacts = 100"));
        assert!(script.contains("function request()"));
        assert!(!script.contains(r#"wrk.headers["Host"]"#));
    }
}
