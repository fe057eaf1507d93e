//! Debian's nginx on a loopback port in front of `latchkey serve` instances, with
//! the server blocks of `deploy/nginx/latchkey.conf` and a generated upstream.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::is_root;

/// The header whose value picks the instance (nginx hashes it), so a task can send a
/// request to the instance it wants through nginx; and the header nginx adds to say
/// which instance answered.
pub(crate) const ROUTE_HEADER: &str = "X-Cluster-Route";
pub(crate) const SERVED_BY_HEADER: &str = "X-Served-By";

/// A running nginx, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Nginx {
    process: Child,
    pub(crate) address: SocketAddr,
    folder: PathBuf,
}

impl Nginx {
    /// Starts nginx in `folder` with `server_blocks` in front of `upstreams`.
    pub(crate) fn start(
        folder: &Path,
        server_blocks: &Path,
        upstreams: &[SocketAddr],
    ) -> anyhow::Result<Self> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .map(PathBuf::from)
            .find(|path| path.exists())
            .context("nginx is not installed (apt-get install nginx)")?;
        std::fs::create_dir_all(folder)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let servers: String = upstreams
            .iter()
            .map(|upstream| format!("    server {upstream} max_fails=1 fail_timeout=5s;\n"))
            .collect();
        std::fs::write(
            folder.join("latchkey-upstream.conf"),
            format!(
                "upstream latchkey_web {{\n    hash $http_{} consistent;\n{servers}    keepalive 16;\n}}\n",
                ROUTE_HEADER.to_ascii_lowercase().replace('-', "_")
            ),
        )?;
        // Which instance answered: for the task only, never in a deployment's file.
        std::fs::write(
            folder.join("latchkey-listen.conf"),
            format!("listen {address};\nadd_header {SERVED_BY_HEADER} $upstream_addr always;\n"),
        )?;
        let dir = folder.display();
        // As root, nginx's workers would run as `nobody`, who cannot enter the folder.
        let user = if is_root() { "user root;\n" } else { "" };
        std::fs::write(
            folder.join("nginx.conf"),
            format!(
                "{user}daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
                 error_log {dir}/error.log warn;\nevents {{ worker_connections 1024; }}\n\
                 http {{\n    access_log {dir}/access.log;\n\
                 \x20   client_body_temp_path {dir}/client_body;\n    proxy_temp_path {dir}/proxy;\n\
                 \x20   fastcgi_temp_path {dir}/fastcgi;\n    uwsgi_temp_path {dir}/uwsgi;\n\
                 \x20   scgi_temp_path {dir}/scgi;\n    include {dir}/latchkey-upstream.conf;\n\
                 \x20   include {};\n}}\n",
                server_blocks.display()
            ),
        )?;
        let log = std::fs::File::create(folder.join("nginx.out"))?;
        let mut process = Command::new(&binary)
            .arg("-p")
            .arg(folder)
            .arg("-c")
            .arg(folder.join("nginx.conf"))
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(address).is_ok() {
                return Ok(Self {
                    process,
                    address,
                    folder: folder.to_owned(),
                });
            }
            if let Ok(Some(status)) = process.try_wait() {
                let output = std::fs::read_to_string(folder.join("nginx.out")).unwrap_or_default();
                bail!("nginx exited with {status}: {output}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = process.kill();
        bail!("nginx did not listen on {address}")
    }

    /// nginx's error log, for a failure's message.
    pub(crate) fn error_log(&self) -> String {
        std::fs::read_to_string(self.folder.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: nginx's graceful stop.
        super::stop_process(&mut self.process, "QUIT", Duration::from_secs(5));
    }
}
