//! The file transport and the development mailbox that reads it: each message is a
//! `.eml` file with a `.json` summary beside it, named so that names sort by time.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::transport::Outgoing;

/// A folder of delivered messages, e.g. `data/mail/`.
#[derive(Debug, Clone)]
pub struct FileMailbox {
    dir: PathBuf,
}

/// A delivered message as the dev mailbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxEntry {
    /// The outbox message id; [`FileMailbox::read`] takes it.
    pub id: String,
    pub delivered_at: DateTime<Utc>,
    pub tenant: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
}

/// A delivered message, whole: both parts as rendered and the raw `.eml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxMessage {
    pub entry: MailboxEntry,
    pub html: String,
    pub text: String,
    /// The message exactly as an SMTP server would have received it.
    pub raw: String,
}

/// The `.json` file: the entry plus the two parts, so the mailbox never has to
/// decode MIME.
#[derive(Serialize, Deserialize)]
struct Summary {
    #[serde(flatten)]
    entry: MailboxEntry,
    html: String,
    text: String,
}

impl FileMailbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the message. Each file is written under a temporary name and then
    /// renamed, so a reader never sees half a message.
    pub(crate) async fn deliver(&self, outgoing: &Outgoing<'_>) -> io::Result<()> {
        tokio::fs::create_dir_all(&self.dir).await?;
        // The time first, then the id (UUIDv7, itself time-ordered), so a plain sort
        // of the names puts the newest last.
        let stem = format!(
            "{}-{}",
            outgoing.now.format("%Y%m%dT%H%M%S%.6fZ"),
            outgoing.id
        );
        let summary = Summary {
            entry: MailboxEntry {
                id: outgoing.id.to_owned(),
                delivered_at: outgoing.now,
                tenant: outgoing.tenant.to_owned(),
                kind: outgoing.kind.to_owned(),
                from: outgoing.from.to_owned(),
                to: outgoing.recipient.to_owned(),
                subject: outgoing.subject.to_owned(),
                message_id: outgoing.message_id.to_owned(),
            },
            html: outgoing.html.to_owned(),
            text: outgoing.text.to_owned(),
        };
        let json = serde_json::to_vec_pretty(&summary).map_err(io::Error::other)?;
        self.write_atomically(&format!("{stem}.eml"), &outgoing.message.formatted())
            .await?;
        self.write_atomically(&format!("{stem}.json"), &json).await
    }

    async fn write_atomically(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let temporary = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&temporary, bytes).await?;
        tokio::fs::rename(&temporary, self.dir.join(name)).await
    }

    /// The newest `limit` messages, newest first. A folder that does not exist yet
    /// is an empty mailbox.
    pub async fn list(&self, limit: usize) -> io::Result<Vec<MailboxEntry>> {
        let mut names = self.summary_names().await?;
        names.sort_unstable_by(|a, b| b.cmp(a));
        let mut entries = Vec::new();
        for name in names.into_iter().take(limit) {
            if let Some(summary) = self.read_summary(&name).await? {
                entries.push(summary.entry);
            }
        }
        Ok(entries)
    }

    /// The message with outbox id `id`, or `None`. Only a well-formed UUID is looked
    /// up, so the id can never name a path outside the folder. When a message was
    /// delivered more than once, the newest copy is returned.
    pub async fn read(&self, id: &str) -> io::Result<Option<MailboxMessage>> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(None);
        };
        let suffix = format!("-{}.json", id.hyphenated());
        let Some(name) = self
            .summary_names()
            .await?
            .into_iter()
            .filter(|name| name.ends_with(&suffix))
            .max()
        else {
            return Ok(None);
        };
        let Some(summary) = self.read_summary(&name).await? else {
            return Ok(None);
        };
        let eml = self.dir.join(name.replace(".json", ".eml"));
        let raw = match tokio::fs::read(&eml).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error),
        };
        Ok(Some(MailboxMessage {
            entry: summary.entry,
            html: summary.html,
            text: summary.text,
            raw,
        }))
    }

    async fn summary_names(&self) -> io::Result<Vec<String>> {
        let mut reader = match tokio::fs::read_dir(&self.dir).await {
            Ok(reader) => reader,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut names = Vec::new();
        while let Some(entry) = reader.next_entry().await? {
            if let Some(name) = entry.file_name().to_str()
                && name.ends_with(".json")
                && !name.starts_with('.')
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// A summary that vanished or cannot be parsed (someone edited the folder) is
    /// skipped rather than breaking the whole listing.
    async fn read_summary(&self, name: &str) -> io::Result<Option<Summary>> {
        match tokio::fs::read(self.dir.join(name)).await {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }
}
