//! The server's Ed25519 signing key: it signs every paper manifest, and agents
//! pin its public half at enrolment (`EnrolResponse::server_key`) beside the
//! certificate, so a paper reaches a seat only from this server.
//!
//! The key is kept as PKCS#8 in `<data_dir>/server.ed25519` ([`KEY_FILE`]),
//! mode 0600, made the first time it is needed. Like the roster key it is not
//! part of a backup: a centre restored elsewhere copies it over, or its seats
//! (which pinned the old key) refuse the new papers until they enrol again.
//!
//! ```
//! use examgate_server::exam::key::ServerKey;
//! let dir = tempfile::tempdir().unwrap();
//! let key = ServerKey::with_key_file(dir.path().join("server.ed25519"));
//! let sig = key.sign(b"paper").unwrap();
//! assert!(examgate_server::exam::key::verify(&key.public_key_b64().unwrap(), b"paper", &sig));
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::exam::PaperManifest;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::crypto::ed25519_valid;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "server.ed25519";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the server signing key {path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("the server signing key {path} is not an Ed25519 key (PKCS#8): restore the right file")]
    NotAKey { path: String },
    #[error("the server signing key {path} is readable by others (mode {mode:o}): chmod 600 it")]
    Exposed { path: String, mode: u32 },
    #[error("the system random number generator failed")]
    Random,
}

/// The signing key, read (or made) on first use, so building one never fails;
/// call [`ServerKey::check`] at start-up to report a bad key file early.
pub struct ServerKey {
    path: PathBuf,
    pair: OnceLock<(Ed25519KeyPair, String)>,
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey").field("key_file", &self.path).finish_non_exhaustive()
    }
}

impl ServerKey {
    pub fn with_key_file(path: impl Into<PathBuf>) -> ServerKey {
        ServerKey { path: path.into(), pair: OnceLock::new() }
    }

    pub fn key_file(&self) -> &Path {
        &self.path
    }

    /// Loads (or makes) the key now.
    pub fn check(&self) -> Result<(), KeyError> {
        self.pair().map(|_| ())
    }

    fn pair(&self) -> Result<&(Ed25519KeyPair, String), KeyError> {
        if let Some(p) = self.pair.get() {
            return Ok(p);
        }
        let pair = load_or_create(&self.path)?;
        let public = B64.encode(pair.public_key().as_ref());
        Ok(self.pair.get_or_init(|| (pair, public)))
    }

    /// The public key, 32 bytes, standard base64.
    pub fn public_key_b64(&self) -> Result<String, KeyError> {
        Ok(self.pair()?.1.clone())
    }

    /// An Ed25519 signature of `message`, standard base64.
    pub fn sign(&self, message: &[u8]) -> Result<String, KeyError> {
        Ok(B64.encode(self.pair()?.0.sign(message).as_ref()))
    }

    /// Sets the manifest's `server_key` and signs it.
    pub fn sign_manifest(&self, manifest: &mut PaperManifest) -> Result<(), KeyError> {
        manifest.server_key = self.public_key_b64()?;
        manifest.signature = self.sign(&manifest.signed_bytes())?;
        Ok(())
    }
}

/// Whether `signature_b64` is the Ed25519 signature of `message` by `public_key_b64`.
pub fn verify(public_key_b64: &str, message: &[u8], signature_b64: &str) -> bool {
    match (B64.decode(public_key_b64), B64.decode(signature_b64)) {
        (Ok(key), Ok(sig)) => key.len() == 32 && ed25519_valid(&key, message, &sig),
        _ => false,
    }
}

/// Whether `manifest` is signed by the key `pinned_b64` (and names it).
pub fn verify_manifest(manifest: &PaperManifest, pinned_b64: &str) -> bool {
    manifest.server_key == pinned_b64 && verify(pinned_b64, &manifest.signed_bytes(), &manifest.signature)
}

/// Reads the key file, or makes it: written to a private temporary file, then
/// linked into place, so two processes starting at once agree on one key.
fn load_or_create(path: &Path) -> Result<Ed25519KeyPair, KeyError> {
    let err = |source| KeyError::File { path: path.display().to_string(), source };
    match std::fs::read(path) {
        Ok(bytes) => return parse(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Random)?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(pkcs8.as_ref())?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made the server's signing key; keep a copy apart from the backups");
            parse(path, pkcs8.as_ref())
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => parse(path, &std::fs::read(path).map_err(err)?),
        Err(e) => Err(err(e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Ed25519KeyPair, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::File { path: path.display().to_string(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: path.display().to_string(), mode });
    }
    Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| KeyError::NotAKey { path: path.display().to_string() })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use examgate_protocol::exam::{ExamInfo, PackageInfo};

    use super::*;

    fn manifest() -> PaperManifest {
        PaperManifest {
            paper_id: "p".into(),
            booking_number: "b".into(),
            exam: ExamInfo { id: "c1".into(), name: "n".into(), minutes: 45, pass_score: Some(90.0), max_score: 100.0 },
            language: "en".into(),
            deadline: 10,
            server_time: 1,
            package: PackageInfo { size: 1, sha256: "00".into() },
            files: vec![],
            server_key: String::new(),
            signature: String::new(),
        }
    }

    #[test]
    fn the_key_is_made_private_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(KEY_FILE);
        let first = ServerKey::with_key_file(&path);
        let public = first.public_key_b64().unwrap();
        assert_eq!(B64.decode(&public).unwrap().len(), 32);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(ServerKey::with_key_file(&path).public_key_b64().unwrap(), public);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn a_signed_manifest_verifies_with_the_pinned_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = ServerKey::with_key_file(dir.path().join("a"));
        let other = ServerKey::with_key_file(dir.path().join("b"));
        let mut m = manifest();
        key.sign_manifest(&mut m).unwrap();
        let pinned = key.public_key_b64().unwrap();
        assert!(verify_manifest(&m, &pinned));
        assert!(!verify_manifest(&m, &other.public_key_b64().unwrap()));
        let mut altered = m.clone();
        altered.deadline += 60_000;
        assert!(!verify_manifest(&altered, &pinned));
        let mut resigned = m.clone();
        other.sign_manifest(&mut resigned).unwrap();
        assert!(!verify_manifest(&resigned, &pinned), "another key's signature does not pass the pin");
    }

    #[test]
    fn bad_key_files_are_errors_that_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, b"not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = ServerKey::with_key_file(&path).check().unwrap_err();
        assert!(matches!(err, KeyError::NotAKey { .. }), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = ServerKey::with_key_file(&path).check().unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
