//! The seat agent's link to the exam-centre server (`examgate-server`).
//!
//! - [`identity`]: the seat's Ed25519 key pair (a 0600 file) and key id.
//! - [`host`]: the MACs, IP and host name the PC reports at enrolment.
//! - [`tls`]: TLS that trusts only the certificate pinned at enrolment.
//! - [`client`]: signed requests (key, time, nonce, MAC, body hash).
//! - [`outbox`]: the durable SQLite outbox with idempotency keys.
//! - [`service`]: the delivery loop with backoff, heartbeats, the push socket.
//! - [`forward`]: the snapshot store's pictures into the outbox, each once.
//! - [`commands`]: `examgate-agent enrol` and `examgate-agent link …`.
//!
//! The state directory holds `link-key.pk8` (the private key), `link.toml`
//! (server, pin, key id, MAC) and `outbox.db`.

pub mod client;
pub mod commands;
pub mod forward;
pub mod host;
pub mod identity;
pub mod outbox;
pub mod service;
pub mod tls;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use commands::{EnrolArgs, LinkCommand};

pub const KEY_FILE: &str = "link-key.pk8";
pub const LINK_FILE: &str = "link.toml";

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Config(String),
    #[error("outbox: {0}")]
    Outbox(String),
}

impl LinkError {
    pub fn io(path: &Path, source: std::io::Error) -> LinkError {
        LinkError::Io { path: path.to_path_buf(), source }
    }
}

/// What enrolment leaves behind for `link run`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFile {
    pub server: String,
    /// The server certificate's SHA-256, hex.
    pub pin: String,
    pub key_id: String,
    /// The MAC this PC reports in every request.
    pub mac: String,
}

impl LinkFile {
    pub fn load(dir: &Path) -> Result<LinkFile, LinkError> {
        let path = dir.join(LINK_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                LinkError::Config(format!("{} is missing: run examgate-agent enrol first", path.display()))
            }
            _ => LinkError::io(&path, e),
        })?;
        toml::from_str(&text).map_err(|e| LinkError::Config(format!("{}: {}", path.display(), e.message())))
    }

    pub fn save(&self, dir: &Path) -> Result<(), LinkError> {
        let path = dir.join(LINK_FILE);
        let text = toml::to_string(self).map_err(|e| LinkError::Config(e.to_string()))?;
        let tmp = dir.join(format!("{LINK_FILE}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| LinkError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| LinkError::io(&path, e))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)] as char, DIGITS[usize::from(b & 15)] as char]).collect()
}

pub(crate) fn now_ms() -> i64 {
    examgate_protocol::Timestamp::now().unix_millis()
}
