//! An SMTP server on loopback (aiosmtpd from PyPI, in a virtualenv of its own) that
//! keeps what it accepts in a Maildir, and can be stopped and started again on the
//! same port, as a mail relay that goes away and comes back.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::python::virtualenv;
use crate::server::target_dir;

/// The aiosmtpd the sink was written against.
const AIOSMTPD: &str = "aiosmtpd==1.4.6";
const SINK_SCRIPT: &str = include_str!("smtp_sink.py");
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// An SMTP server on `port` writing into `maildir`; stopped when dropped.
#[derive(Debug)]
pub(crate) struct SmtpSink {
    python: PathBuf,
    script: PathBuf,
    maildir: PathBuf,
    log: PathBuf,
    pub(crate) port: u16,
    pause: Duration,
    process: Option<Child>,
}

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceivedMessage {
    /// The address in the `To` header.
    pub(crate) to: String,
    pub(crate) subject: String,
    /// The first `/reset/TOKEN` link in it, as a path.
    pub(crate) reset_path: Option<String>,
}

impl SmtpSink {
    /// A started sink keeping its mail in `folder/NAME-maildir`. With a `pause`, it
    /// waits that long between keeping a message and saying it was accepted.
    pub(crate) fn start(folder: &Path, name: &str, pause: Duration) -> anyhow::Result<Self> {
        let venv = virtualenv(&target_dir().join("smtp-sink").join("venv"), AIOSMTPD)?;
        let script = folder.join("smtp_sink.py");
        std::fs::write(&script, SINK_SCRIPT)?;
        let mut sink = Self {
            python: venv.join("bin").join("python"),
            script,
            maildir: folder.join(format!("{name}-maildir")),
            log: folder.join(format!("{name}-smtp.log")),
            port: TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(),
            pause,
            process: None,
        };
        sink.resume()?;
        Ok(sink)
    }

    /// `smtp://…?tls=none`, for `mail.smtp_url`.
    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Starts the server again on the same port and Maildir.
    pub(crate) fn resume(&mut self) -> anyhow::Result<()> {
        if self.process.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let process = Command::new(&self.python)
            .arg(&self.script)
            .args(["--port", &self.port.to_string()])
            .arg("--maildir")
            .arg(&self.maildir)
            .args(["--pause-ms", &self.pause.as_millis().to_string()])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", self.python.display()))?;
        self.process = Some(process);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if let Some(process) = &mut self.process
                && let Ok(Some(status)) = process.try_wait()
            {
                self.process = None;
                bail!(
                    "the SMTP sink exited with {status}\n{}",
                    super::log_tail(&self.log)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the SMTP sink did not listen on port {}", self.port)
    }

    /// Kills the server: connections in progress break, new ones are refused.
    pub(crate) fn halt(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// How many messages the Maildir holds.
    pub(crate) fn count(&self) -> usize {
        self.message_files().len()
    }

    /// Every message accepted so far.
    pub(crate) fn messages(&self) -> anyhow::Result<Vec<ReceivedMessage>> {
        self.message_files()
            .iter()
            .map(|path| {
                let raw = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                Ok(ReceivedMessage::parse(&String::from_utf8_lossy(&raw)))
            })
            .collect()
    }

    /// Waits until the Maildir holds `count` messages or `timeout` passes; returns
    /// how many it holds.
    pub(crate) fn wait_for(&self, count: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let held = self.count();
            if held >= count || Instant::now() >= deadline {
                return held;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn message_files(&self) -> Vec<PathBuf> {
        ["new", "cur"]
            .iter()
            .filter_map(|folder| std::fs::read_dir(self.maildir.join(folder)).ok())
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.halt();
    }
}

impl ReceivedMessage {
    fn parse(raw: &str) -> Self {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .or_else(|| raw.split_once("\n\n"))
            .unwrap_or((raw, ""));
        let headers = unfolded_headers(head);
        let to = headers
            .get("to")
            .map(|value| address_in(value))
            .unwrap_or_default();
        let subject = headers.get("subject").cloned().unwrap_or_default();
        let text = decode_quoted_printable(body);
        Self {
            to,
            subject,
            reset_path: reset_path(&text),
        }
    }
}

/// Header names in lower case, with folded lines joined.
fn unfolded_headers(head: &str) -> BTreeMap<String, String> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = last.as_ref().and_then(|name| headers.get_mut(name)) {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            headers.insert(name.clone(), value.trim().to_owned());
            last = Some(name);
        }
    }
    headers
}

/// `person@example.test` out of `Name <person@example.test>` or a bare address.
fn address_in(value: &str) -> String {
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].to_owned(),
        _ => value.trim().to_owned(),
    }
}

/// Undoes quoted-printable: soft line breaks and `=XX` bytes. Text that is not
/// quoted-printable passes through unharmed unless it has `=` before two hex digits.
pub(crate) fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'=')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            decoded.push(byte);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The first `/reset/TOKEN` link (not `/reset/temporary`) after a host name.
pub(crate) fn reset_path(text: &str) -> Option<String> {
    const MARKER: &str = "/reset/";
    let mut rest = text;
    while let Some(start) = rest.find(MARKER) {
        let after = &rest[start + MARKER.len()..];
        rest = after;
        let token: String = after
            .chars()
            .take_while(|character| {
                character.is_ascii_alphanumeric() || "-_.~".contains(*character)
            })
            .collect();
        if !token.is_empty() && token != "temporary" {
            return Some(format!("{MARKER}{token}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ReceivedMessage;

    #[test]
    fn reads_recipient_subject_and_link_of_a_quoted_printable_message() {
        let raw = "From: Acme <no-reply@localhost>\r\nTo: Body Boom\r\n <body.boom@acme.test>\r\nSubject: Reset your password\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://acme.l=\r\nocalhost:8080/reset/AbC-12_x=\r\nyz\">Reset</a> /reset/temporary";
        let message = ReceivedMessage::parse(raw);
        assert_eq!(message.to, "body.boom@acme.test");
        assert_eq!(message.subject, "Reset your password");
        assert_eq!(message.reset_path.as_deref(), Some("/reset/AbC-12_xyz"));
    }

    #[test]
    fn a_message_without_a_link_has_none() {
        let message = ReceivedMessage::parse("To: a@b.test\n\nYour password was changed.");
        assert_eq!(message.to, "a@b.test");
        assert_eq!(message.reset_path, None);
    }
}
