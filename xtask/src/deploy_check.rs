//! `cargo xtask deploy-check`: the files in `deploy/` checked without Docker or a
//! cluster, each by the tool that would read it, and against each other.
//!
//! - compose: against the compose specification (PyPI's `check-jsonschema`, which
//!   ships it); every service, network, volume, mounted file, build file and
//!   `${VARIABLE}` it names exists or has a default; every `LATCHKEY__…` variable is a
//!   configuration key; the database and SMTP hosts and nginx's upstreams are services.
//! - nginx: `nginx -t` on the server blocks with a throw-away top-level file, and
//!   again with the commented TLS server switched on and a self-signed certificate.
//! - Kubernetes: every manifest against the Kubernetes JSON schemas (PyPI's
//!   `kubernetes-validate`, which ships them), then the references between
//!   manifests: Secrets and ConfigMaps, named ports, selectors, autoscaler targets.
//! - Grafana and alerts: every metric named by the dashboard and the alert rules is one
//!   the real binary serves on `/metrics`; the rules pass `promtool check rules`.
//! - Dockerfile: built where a Docker engine answers, skipped with a note elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_yaml::Value;

use crate::server::{Server, target_dir, workspace_root};

/// The validator and the schema versions it checks against: the oldest Kubernetes
/// release still supported upstream when this was written, and the newest it ships.
const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";
/// Validates the compose file against the compose specification it ships.
const CHECK_JSONSCHEMA_VERSION: &str = "0.39.0";
const KUBERNETES_VERSIONS: &[&str] = &["1.32.0", "1.37.0"];

/// The prefix of every metric the binary registers.
const METRIC_PREFIX: &str = "latchkey_";

pub(crate) fn run() -> anyhow::Result<()> {
    let root = workspace_root();
    let deploy = root.join("deploy");
    let keys = ConfigKeys::read(&root.join("config").join("default.toml"))?;
    let mut problems = Problems::default();

    println!("xtask: deploy-check: compose");
    check_compose(&deploy, &keys, &mut problems)?;
    println!("xtask: deploy-check: nginx -t");
    check_nginx(&deploy.join("nginx"))?;
    println!("xtask: deploy-check: Kubernetes manifests");
    let manifests = kubernetes_manifests(&deploy.join("kubernetes"))?;
    check_kubernetes_references(&manifests, &keys, &mut problems)?;
    validate_kubernetes_schemas(&manifests)?;
    println!("xtask: deploy-check: Grafana dashboard and alert rules");
    check_metric_names(&deploy.join("grafana"), &mut problems)?;
    println!("xtask: deploy-check: Dockerfile");
    build_image(&root)?;

    if !problems.0.is_empty() {
        for problem in &problems.0 {
            eprintln!("xtask: deploy-check: {problem}");
        }
        bail!("deploy-check found {} problem(s)", problems.0.len());
    }
    println!("xtask: deploy-check passed");
    Ok(())
}

/// Everything wrong, reported together rather than one per run.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }
}

/// `section.key` of every configuration key, read from `config/default.toml`, which
/// lists each one; a key without a default is there as a comment (`# key = …`).
#[derive(Debug)]
struct ConfigKeys(BTreeSet<String>);

impl ConfigKeys {
    fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut section = String::new();
        let mut keys = BTreeSet::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = name.to_owned();
                continue;
            }
            let assignment = line.strip_prefix('#').map_or(line, str::trim_start);
            let Some((key, _)) = assignment.split_once('=') else {
                continue;
            };
            let key = key.trim();
            let is_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_key && !section.is_empty() {
                keys.insert(format!("{section}.{key}"));
            }
        }
        Ok(Self(keys))
    }

    /// Whether an environment variable's name is one the binary reads. Only names of
    /// the `LATCHKEY__SECTION__KEY` form are judged; others are not ours to judge.
    fn check_variable(&self, name: &str, place: &str, problems: &mut Problems) {
        let Some(path) = name.strip_prefix("LATCHKEY__") else {
            return;
        };
        let key = path.to_ascii_lowercase().replace("__", ".");
        if !self.0.contains(&key) {
            problems.add(format!(
                "{place}: {name} is not a configuration key (no `{key}` in config/default.toml)"
            ));
        }
    }
}

// ---------------------------------------------------------------------------------
// compose

fn check_compose(deploy: &Path, keys: &ConfigKeys, problems: &mut Problems) -> anyhow::Result<()> {
    let path = deploy.join("compose.yaml");
    // The shape first (a misspelt key, a wrong type), by the compose specification.
    let checker = python_validators()?.join("check-jsonschema");
    let status = Command::new(&checker)
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(&path)
        .status()
        .with_context(|| format!("cannot run {}", checker.display()))?;
    if !status.success() {
        bail!("compose.yaml does not follow the compose specification");
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let text = substitute_variables(&text, problems);
    let mut compose: Value = serde_yaml::from_str(&text).context("compose.yaml does not parse")?;
    merge_keys(&mut compose)?;

    let names = |key: &str| -> BTreeSet<String> {
        compose
            .get(key)
            .and_then(Value::as_mapping)
            .map(|mapping| owned_strings(mapping.keys()))
            .unwrap_or_default()
    };
    let services = names("services");
    let networks = names("networks");
    let volumes = names("volumes");
    if services.is_empty() {
        problems.add("compose.yaml: no services");
    }
    for (name, service) in compose
        .get("services")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap_or_default();
        let place = format!("compose.yaml: service `{name}`");
        if service.get("image").is_none() && service.get("build").is_none() {
            problems.add(format!("{place} has neither an image nor a build"));
        }
        if let Some(build) = service.get("build") {
            let context = deploy.join(string_at(build, &["context"]).unwrap_or("."));
            let dockerfile = string_at(build, &["dockerfile"]).unwrap_or("Dockerfile");
            if !context.join(dockerfile).is_file() {
                problems.add(format!("{place}: no {dockerfile} in its build context"));
            }
        }
        for dependency in keys_or_items(service.get("depends_on")) {
            if !services.contains(&dependency) {
                problems.add(format!(
                    "{place} depends on `{dependency}`, no such service"
                ));
            }
        }
        for network in keys_or_items(service.get("networks")) {
            if !networks.contains(&network) {
                problems.add(format!("{place} joins network `{network}`, not declared"));
            }
        }
        let mounts = check_compose_volumes(deploy, service, &volumes, &place, problems);
        for argument in strings(service.get("command")) {
            if let Some(file) = mounted_file(&mounts, &argument)
                && !file.exists()
            {
                problems.add(format!(
                    "{place}: `{argument}` is {}, which does not exist",
                    file.display()
                ));
            }
        }
        for (variable, value) in environment(service) {
            keys.check_variable(&variable, &place, problems);
            if variable.ends_with("_URL")
                && let Some(host) = url_host(&value)
                && !services.contains(&host)
            {
                problems.add(format!(
                    "{place}: {variable} points at `{host}`, no such service"
                ));
            }
        }
    }
    check_compose_upstreams(deploy, &services, problems)
}

/// Replaces `${NAME:-default}` with its default and `${NAME:?message}` with a stand-in,
/// as compose would with the variables unset; a `${NAME}` with neither would become
/// empty, so it is a problem.
fn substitute_variables(text: &str, problems: &mut Problems) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
            continue;
        }
        let Some(inner_end) = rest.strip_prefix("${").and_then(|inner| inner.find('}')) else {
            out.push('$');
            rest = &rest[1..];
            continue;
        };
        let inner = &rest[2..2 + inner_end];
        rest = &rest[2 + inner_end + 1..];
        let split = inner.find([':', '-', '?']).unwrap_or(inner.len());
        let (name, operator) = inner.split_at(split);
        let operator = operator.strip_prefix(':').unwrap_or(operator);
        if let Some(default) = operator.strip_prefix('-') {
            out.push_str(default);
        } else if operator.starts_with('?') {
            out.push_str(&format!("required-{name}"));
        } else {
            problems.add(format!(
                "compose.yaml: ${{{name}}} has no default and is not marked required (${{{name}:?…}})"
            ));
        }
    }
    out.push_str(rest);
    out
}

/// Resolves `<<` merge keys, including merges of mappings that merge in turn, which
/// one pass of serde_yaml's `apply_merge` leaves behind.
fn merge_keys(value: &mut Value) -> anyhow::Result<()> {
    for _ in 0..8 {
        value
            .apply_merge()
            .context("a `<<` merge in compose.yaml")?;
        if !has_merge_key(value) {
            return Ok(());
        }
    }
    bail!("compose.yaml: `<<` merges nested deeper than this check follows")
}

fn has_merge_key(value: &Value) -> bool {
    match value {
        Value::Mapping(mapping) => {
            mapping.contains_key("<<") || mapping.values().any(has_merge_key)
        }
        Value::Sequence(items) => items.iter().any(has_merge_key),
        _ => false,
    }
}

/// Checks a service's volumes; returns its bind mounts as (container path, host path).
fn check_compose_volumes(
    deploy: &Path,
    service: &Value,
    volumes: &BTreeSet<String>,
    place: &str,
    problems: &mut Problems,
) -> Vec<(String, PathBuf)> {
    let mut mounts = Vec::new();
    for volume in items(service, &["volumes"]) {
        let (source, target) = match volume {
            Value::String(short) => {
                let mut parts = short.splitn(3, ':');
                (
                    parts.next().unwrap_or_default().to_owned(),
                    parts.next().unwrap_or_default().to_owned(),
                )
            }
            long => (
                string_at(long, &["source"]).unwrap_or_default().to_owned(),
                string_at(long, &["target"]).unwrap_or_default().to_owned(),
            ),
        };
        if source.starts_with('.') || source.starts_with('/') {
            let host = deploy.join(&source);
            if host.exists() {
                mounts.push((target, host));
            } else {
                problems.add(format!("{place} mounts {source}, which does not exist"));
            }
        } else if !volumes.contains(&source) {
            problems.add(format!("{place} mounts volume `{source}`, not declared"));
        }
    }
    mounts
}

/// The host file behind a container path under one of the bind mounts.
fn mounted_file(mounts: &[(String, PathBuf)], argument: &str) -> Option<PathBuf> {
    mounts.iter().find_map(|(target, host)| {
        let rest = argument.strip_prefix(target.as_str())?;
        Some(host.join(rest.trim_start_matches('/')))
    })
}

/// nginx's upstream servers in compose are gateways of the compose file.
fn check_compose_upstreams(
    deploy: &Path,
    services: &BTreeSet<String>,
    problems: &mut Problems,
) -> anyhow::Result<()> {
    let path = deploy
        .join("nginx")
        .join("compose")
        .join("latchkey-upstream.conf");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    for line in text.lines().map(str::trim) {
        let Some(server) = line.strip_prefix("server ") else {
            continue;
        };
        let host = server.split([':', ' ', ';']).next().unwrap_or_default();
        if !services.contains(host) {
            problems.add(format!(
                "nginx/compose/latchkey-upstream.conf: `{host}` is no compose service"
            ));
        }
    }
    Ok(())
}

/// The keys of a mapping or the strings of a list (`depends_on`, `networks`).
fn keys_or_items(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Mapping(mapping)) => owned_strings(mapping.keys()),
        Some(Value::Sequence(items)) => owned_strings(items),
        _ => Vec::new(),
    }
}

/// The strings among `values`; what is no string, compose's validation reports.
fn owned_strings<'a, C: FromIterator<String>>(values: impl IntoIterator<Item = &'a Value>) -> C {
    values
        .into_iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => owned_strings(items),
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// A service's environment, in either of compose's spellings.
fn environment(service: &Value) -> Vec<(String, String)> {
    let scalar = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => String::new(),
    };
    match service.get("environment") {
        Some(Value::Mapping(mapping)) => mapping
            .iter()
            .filter_map(|(name, value)| Some((name.as_str()?.to_owned(), scalar(value))))
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| {
                let (name, value) = item.split_once('=').unwrap_or((item, ""));
                (name.to_owned(), value.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The host of `scheme://[user[:password]@]host[:port]/…`, unless it is an address.
fn url_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit('@').next()?.split(':').next()?;
    let is_address = host.parse::<std::net::IpAddr>().is_ok() || host == "localhost";
    (!host.is_empty() && !is_address).then(|| host.to_owned())
}

// ---------------------------------------------------------------------------------
// nginx

/// `nginx -t` as a command running nginx on loopback would include the files: a
/// throw-away top-level file, an upstream of loopback ports, a loopback `listen`.
fn check_nginx(nginx_dir: &Path) -> anyhow::Result<()> {
    let nginx = which("nginx").context("nginx is not installed (apt-get install nginx)")?;
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path();
    let server_blocks = nginx_dir.join("latchkey.conf");
    std::fs::write(
        dir.join("latchkey-upstream.conf"),
        "upstream latchkey_web {\n    server 127.0.0.1:18081;\n    server 127.0.0.1:18082;\n}\n",
    )?;
    std::fs::write(
        dir.join("latchkey-listen.conf"),
        "listen 127.0.0.1:18080 default_server;\n",
    )?;
    let top_level = |extra: &str| {
        format!(
            "pid {dir}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n    access_log off;\n    \
             client_body_temp_path {dir}/body;\n    proxy_temp_path {dir}/proxy;\n    \
             include latchkey-upstream.conf;\n    include {blocks};\n{extra}}}\n",
            dir = dir.display(),
            blocks = server_blocks.display(),
        )
    };
    std::fs::write(dir.join("nginx.conf"), top_level(""))?;
    nginx_test(&nginx, dir, "the server blocks")?;

    // The production TLS server, as its comment says to fill it in.
    let text = std::fs::read_to_string(&server_blocks)?;
    let tls = commented_tls_server(&text)
        .context("latchkey.conf has no commented `# server {` block for TLS")?;
    self_signed_certificate(dir)?;
    let tls = tls
        .replace(
            "/etc/nginx/tls/wildcard.example.com.fullchain.pem",
            &dir.join("cert.pem").display().to_string(),
        )
        .replace(
            "/etc/nginx/tls/wildcard.example.com.key.pem",
            &dir.join("key.pem").display().to_string(),
        )
        .replace("listen 443", "listen 127.0.0.1:18443");
    if !tls.contains(&dir.join("cert.pem").display().to_string()) {
        bail!(
            "the TLS block of latchkey.conf no longer names the certificate paths this check replaces"
        );
    }
    std::fs::write(dir.join("tls.conf"), tls)?;
    std::fs::write(
        dir.join("nginx.conf"),
        top_level(&format!("    include {}/tls.conf;\n", dir.display())),
    )?;
    nginx_test(&nginx, dir, "the server blocks with TLS switched on")
}

fn nginx_test(nginx: &Path, dir: &Path, what: &str) -> anyhow::Result<()> {
    let output = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .context("cannot run nginx")?;
    if !output.status.success() {
        bail!(
            "nginx -t refuses {what}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!("xtask: deploy-check: nginx -t accepts {what}");
    Ok(())
}

/// The commented-out block that starts at `# server {` and runs to the end of the
/// file, uncommented.
fn commented_tls_server(text: &str) -> Option<String> {
    let start = text.find("\n# server {")? + 1;
    Some(
        text[start..]
            .lines()
            .map(|line| {
                line.strip_prefix("# ")
                    .or_else(|| line.strip_prefix('#'))
                    .unwrap_or(line)
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn self_signed_certificate(dir: &Path) -> anyhow::Result<()> {
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=example.com",
            "-addext",
            "subjectAltName=DNS:example.com,DNS:*.example.com",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stderr(std::process::Stdio::null())
        .status()
        .context("cannot run openssl (apt-get install openssl)")?;
    if !status.success() {
        bail!("openssl could not make a self-signed certificate");
    }
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

// ---------------------------------------------------------------------------------
// Kubernetes

/// One document of a manifest file.
#[derive(Debug)]
struct Manifest {
    file: PathBuf,
    value: Value,
}

impl Manifest {
    fn kind(&self) -> &str {
        string_at(&self.value, &["kind"]).unwrap_or_default()
    }

    fn name(&self) -> &str {
        string_at(&self.value, &["metadata", "name"]).unwrap_or_default()
    }

    fn place(&self) -> String {
        let file = self.file.file_name().unwrap_or_default().to_string_lossy();
        format!("kubernetes/{file}: {} `{}`", self.kind(), self.name())
    }
}

fn kubernetes_manifests(dir: &Path) -> anyhow::Result<Vec<Manifest>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|file| {
        file.extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
    });
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = serde::Deserialize::deserialize(document)
                .with_context(|| format!("{} does not parse", file.display()))?;
            if !matches!(value, Value::Null) {
                manifests.push(Manifest {
                    file: file.clone(),
                    value,
                });
            }
        }
    }
    if manifests.is_empty() {
        bail!("no manifests in {}", dir.display());
    }
    Ok(manifests)
}

/// What pods a workload makes: its name, pod labels and containers.
struct Workload<'a> {
    kind: &'a str,
    name: &'a str,
    labels: BTreeMap<String, String>,
    containers: Vec<&'a Value>,
}

fn check_kubernetes_references(
    manifests: &[Manifest],
    keys: &ConfigKeys,
    problems: &mut Problems,
) -> anyhow::Result<()> {
    let data_keys = |kind: &str| -> BTreeMap<String, BTreeSet<String>> {
        manifests
            .iter()
            .filter(|manifest| manifest.kind() == kind)
            .map(|manifest| {
                let keys = ["data", "stringData"]
                    .iter()
                    .filter_map(|field| manifest.value.get(field).and_then(Value::as_mapping))
                    .flat_map(|mapping| mapping.keys().filter_map(Value::as_str).map(str::to_owned))
                    .collect();
                (manifest.name().to_owned(), keys)
            })
            .collect()
    };
    let config_maps = data_keys("ConfigMap");
    let secrets = data_keys("Secret");
    for manifest in manifests
        .iter()
        .filter(|manifest| manifest.kind() == "ConfigMap")
    {
        for key in config_maps.get(manifest.name()).into_iter().flatten() {
            keys.check_variable(key, &manifest.place(), problems);
        }
    }

    let workloads: Vec<Workload<'_>> = manifests
        .iter()
        .filter_map(|manifest| {
            let template = manifest.value.get("spec")?.get("template")?;
            Some(Workload {
                kind: manifest.kind(),
                name: manifest.name(),
                labels: labels(at(template, &["metadata", "labels"])),
                containers: items(template, &["spec", "containers"]).collect(),
            })
        })
        .collect();

    for workload in &workloads {
        let place = format!("{} `{}`", workload.kind, workload.name);
        for container in &workload.containers {
            check_container(container, &place, &config_maps, &secrets, keys, problems);
        }
    }
    for manifest in manifests {
        let place = manifest.place();
        let spec = manifest.value.get("spec");
        match manifest.kind() {
            "Deployment" | "StatefulSet" | "DaemonSet" => {
                let selector = labels(at(spec, &["selector", "matchLabels"]));
                let workload = workloads
                    .iter()
                    .find(|w| w.name == manifest.name() && w.kind == manifest.kind());
                if !workload.is_some_and(|workload| selects(&selector, &workload.labels)) {
                    problems.add(format!(
                        "{place}: its selector does not match its pod labels"
                    ));
                }
            }
            "Service" => {
                let selector = labels(at(spec, &["selector"]));
                let selected: Vec<&Workload<'_>> = workloads
                    .iter()
                    .filter(|w| selects(&selector, &w.labels))
                    .collect();
                if selected.is_empty() {
                    problems.add(format!("{place} selects no pods"));
                }
                for port in items(spec, &["ports"]) {
                    if let Some(target) = string_at(port, &["targetPort"])
                        && !selected
                            .iter()
                            .all(|workload| container_port_names(workload).contains(target))
                    {
                        problems.add(format!(
                            "{place}: targetPort `{target}` is not a port of the pods it selects"
                        ));
                    }
                }
            }
            "HorizontalPodAutoscaler" => {
                let kind = string_at(spec, &["scaleTargetRef", "kind"]).unwrap_or_default();
                let name = string_at(spec, &["scaleTargetRef", "name"]).unwrap_or_default();
                if !workloads.iter().any(|w| w.kind == kind && w.name == name) {
                    problems.add(format!(
                        "{place} scales {kind} `{name}`, not in the manifests"
                    ));
                }
            }
            "PodDisruptionBudget" => {
                let selector = labels(at(spec, &["selector", "matchLabels"]));
                if !workloads.iter().any(|w| selects(&selector, &w.labels)) {
                    problems.add(format!("{place} selects no pods"));
                }
            }
            "Ingress" => check_ingress(manifest, manifests, problems),
            _ => {}
        }
    }
    Ok(())
}

fn check_container(
    container: &Value,
    workload: &str,
    config_maps: &BTreeMap<String, BTreeSet<String>>,
    secrets: &BTreeMap<String, BTreeSet<String>>,
    keys: &ConfigKeys,
    problems: &mut Problems,
) {
    let name = string_at(container, &["name"]).unwrap_or_default();
    let place = format!("{workload}, container `{name}`");
    for source in items(container, &["envFrom"]) {
        if let Some(reference) = string_at(source, &["configMapRef", "name"])
            && !config_maps.contains_key(reference)
        {
            problems.add(format!(
                "{place}: ConfigMap `{reference}` is not in the manifests"
            ));
        }
        if let Some(reference) = string_at(source, &["secretRef", "name"])
            && !secrets.contains_key(reference)
        {
            problems.add(format!(
                "{place}: Secret `{reference}` is not in the manifests"
            ));
        }
    }
    for variable in items(container, &["env"]) {
        let variable_name = string_at(variable, &["name"]).unwrap_or_default();
        keys.check_variable(variable_name, &place, problems);
        let from = variable.get("valueFrom");
        for (field, known, kind) in [
            ("secretKeyRef", secrets, "Secret"),
            ("configMapKeyRef", config_maps, "ConfigMap"),
        ] {
            let Some(reference) = at(from, &[field]) else {
                continue;
            };
            let optional = at(reference, &["optional"])
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let source = string_at(reference, &["name"]).unwrap_or_default();
            let key = string_at(reference, &["key"]).unwrap_or_default();
            let found = known.get(source).is_some_and(|keys| keys.contains(key));
            if !found && !optional {
                problems.add(format!("{place}: {variable_name} reads key `{key}` of {kind} `{source}`, which has no such key"));
            }
        }
    }
    let ports: BTreeSet<String> = container_ports(container);
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(port) = string_at(container, &[probe, "httpGet", "port"])
            && !ports.contains(port)
        {
            problems.add(format!(
                "{place}: {probe} uses port `{port}`, which the container does not name"
            ));
        }
    }
}

fn check_ingress(ingress: &Manifest, manifests: &[Manifest], problems: &mut Problems) {
    let mut backends = Vec::new();
    let spec = ingress.value.get("spec");
    if let Some(default) = at(spec, &["defaultBackend"]) {
        backends.push(default);
    }
    for rule in items(spec, &["rules"]) {
        for path in items(rule, &["http", "paths"]) {
            if let Some(backend) = path.get("backend") {
                backends.push(backend);
            }
        }
    }
    for backend in backends {
        let name = string_at(backend, &["service", "name"]).unwrap_or_default();
        let port = string_at(backend, &["service", "port", "name"]);
        let Some(target) = manifests
            .iter()
            .find(|m| m.kind() == "Service" && m.name() == name)
        else {
            problems.add(format!(
                "{}: backend Service `{name}` is not in the manifests",
                ingress.place()
            ));
            continue;
        };
        let names: BTreeSet<&str> = items(&target.value, &["spec", "ports"])
            .filter_map(|p| string_at(p, &["name"]))
            .collect();
        if let Some(port) = port.filter(|port| !names.contains(port)) {
            problems.add(format!(
                "{}: Service `{name}` has no port `{port}`",
                ingress.place()
            ));
        }
    }
}

/// The value a path of keys leads to from `value` (a `&Value` or an `Option` of one,
/// such as a `spec` that may be missing); `None` wherever a key is missing.
fn at<'a>(value: impl Into<Option<&'a Value>>, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value.into()?, |value, key| value.get(*key))
}

/// The items of the list `path` leads to; none where it is missing or no list, which
/// the schema validation reports.
fn items<'a>(value: impl Into<Option<&'a Value>>, path: &[&str]) -> std::slice::Iter<'a, Value> {
    at(value, path)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
}

/// The string `path` leads to, if there is one.
fn string_at<'a>(value: impl Into<Option<&'a Value>>, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

fn labels(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), value.as_str()?.to_owned())))
        .collect()
}

/// Whether a non-empty selector matches a set of labels.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

fn container_ports(container: &Value) -> BTreeSet<String> {
    items(container, &["ports"])
        .filter_map(|port| string_at(port, &["name"]).map(str::to_owned))
        .collect()
}

fn container_port_names(workload: &Workload<'_>) -> BTreeSet<String> {
    workload
        .containers
        .iter()
        .flat_map(|container| container_ports(container))
        .collect()
}

/// Every manifest file against the schemas of each Kubernetes version, strictly: a
/// field the schema does not know is an error, not a warning.
fn validate_kubernetes_schemas(manifests: &[Manifest]) -> anyhow::Result<()> {
    let validator = python_validators()?.join("kubernetes-validate");
    let files: BTreeSet<&Path> = manifests
        .iter()
        .map(|manifest| manifest.file.as_path())
        .collect();
    for version in KUBERNETES_VERSIONS {
        let status = Command::new(&validator)
            .args(["--strict", "--quiet", "--kubernetes-version", version])
            .args(&files)
            .status()
            .with_context(|| format!("cannot run {}", validator.display()))?;
        if !status.success() {
            bail!("the Kubernetes manifests do not validate against the schemas of {version}");
        }
        println!(
            "xtask: deploy-check: {} manifests valid for Kubernetes {version}",
            manifests.len()
        );
    }
    Ok(())
}

/// The pinned validators from PyPI, installed into a virtualenv under the target
/// folder when missing or of another version. Both packages carry their schemas (the
/// Kubernetes API's, the compose specification's), so they need no network once
/// installed. Returns the virtualenv's `bin` folder.
fn python_validators() -> anyhow::Result<PathBuf> {
    let venv = target_dir().join("deploy-check").join("venv");
    let requirements = [
        format!("kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}"),
        format!("check-jsonschema=={CHECK_JSONSCHEMA_VERSION}"),
    ];
    let requirements: Vec<&str> = requirements.iter().map(String::as_str).collect();
    Ok(crate::python::virtualenv_of(&venv, &requirements)?.join("bin"))
}

// ---------------------------------------------------------------------------------
// Grafana and alerts

fn check_metric_names(grafana: &Path, problems: &mut Problems) -> anyhow::Result<()> {
    let mut expressions = Vec::new();
    let mut dashboards = 0;
    for entry in std::fs::read_dir(grafana)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let dashboard: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path)?)
                    .with_context(|| format!("{} does not parse", path.display()))?;
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            collect_expressions(&dashboard, &name, &mut expressions);
            dashboards += 1;
        }
    }
    let rules_path = grafana.join("alerts.yaml");
    let rules: Value = serde_yaml::from_str(&std::fs::read_to_string(&rules_path)?)
        .context("alerts.yaml does not parse")?;
    for group in items(&rules, &["groups"]) {
        for rule in items(group, &["rules"]) {
            let alert = string_at(rule, &["alert"]).unwrap_or("(unnamed)");
            if let Some(expr) = string_at(rule, &["expr"]) {
                expressions.push((format!("alerts.yaml: {alert}"), expr.to_owned()));
            }
            let documented = at(rule, &["annotations", "summary"]).is_some();
            if !documented {
                problems.add(format!("alerts.yaml: {alert} has no summary annotation"));
            }
        }
    }
    if dashboards == 0 || expressions.is_empty() {
        bail!("no dashboard or no expressions in {}", grafana.display());
    }
    promtool_check_rules(&rules_path)?;

    let exported = exported_metrics()?;
    println!(
        "xtask: deploy-check: the binary exports {} metric names; checking {} expressions",
        exported.len(),
        expressions.len()
    );
    for (place, expr) in &expressions {
        let used = metric_names(expr);
        if used.is_empty() {
            problems.add(format!(
                "{place}: `{expr}` names no {METRIC_PREFIX}* metric"
            ));
        }
        for name in used.difference(&exported) {
            problems.add(format!("{place}: `{name}` is not on the binary's /metrics"));
        }
    }
    Ok(())
}

/// Every query of the dashboard, wherever it nests (rows hold panels).
fn collect_expressions(value: &serde_json::Value, file: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(object) => {
            // `expr` of panel targets, `definition` of template variables.
            for field in ["expr", "definition"] {
                if let Some(serde_json::Value::String(expr)) = object.get(field) {
                    out.push((file.to_owned(), expr.clone()));
                }
            }
            object
                .values()
                .for_each(|value| collect_expressions(value, file, out));
        }
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|value| collect_expressions(value, file, out)),
        _ => {}
    }
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(start) = rest.find(METRIC_PREFIX) {
        let preceded_by_word = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_word {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// PromQL and rule-file syntax, by Prometheus' own checker.
fn promtool_check_rules(rules: &Path) -> anyhow::Result<()> {
    let promtool =
        which("promtool").context("promtool is not installed (apt-get install prometheus)")?;
    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(rules)
        .output()
        .context("cannot run promtool")?;
    if !output.status.success() {
        bail!(
            "promtool check rules failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!("xtask: deploy-check: promtool accepts alerts.yaml");
    Ok(())
}

/// The metric names the real binary serves: it is started, answers one page so the
/// request series exist, then its `/metrics` is read. A histogram `x` is also read as
/// `x_bucket`, `x_sum` and `x_count`, the names queries use.
fn exported_metrics() -> anyhow::Result<BTreeSet<String>> {
    let server = Server::start("deploy-check", &[])?;
    http_get(server.public_port, "localhost", "/")?;
    let metrics = http_get(server.admin_port, "127.0.0.1", "/metrics")?;
    drop(server);
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let Some(declaration) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let mut words = declaration.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        names.insert(name.to_owned());
        if kind == "histogram" || kind == "summary" {
            for suffix in ["_bucket", "_sum", "_count"] {
                names.insert(format!("{name}{suffix}"));
            }
        }
    }
    if names.is_empty() {
        bail!("/metrics named no metric:\n{metrics}");
    }
    Ok(names)
}

fn http_get(port: u16, host: &str, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.0 200") && !answer.starts_with("HTTP/1.1 200") {
        bail!("GET {path} on port {port} did not answer 200:\n{answer}");
    }
    Ok(answer)
}

// ---------------------------------------------------------------------------------
// Dockerfile

fn build_image(root: &Path) -> anyhow::Result<()> {
    let engine = Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !engine {
        println!("xtask: deploy-check: no Docker engine here; deploy/Dockerfile is not built");
        return Ok(());
    }
    let status = Command::new("docker")
        .current_dir(root)
        .args([
            "build",
            "--file",
            "deploy/Dockerfile",
            "--tag",
            "latchkey:deploy-check",
            ".",
        ])
        .status()
        .context("cannot run docker")?;
    if !status.success() {
        bail!("docker build -f deploy/Dockerfile failed");
    }
    Ok(())
}
