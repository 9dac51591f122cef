//! Personal data at rest: roster photos, enrolled templates and the evidence
//! of each fingerprint attempt are stored "sealed", AES-256-GCM under the
//! server's roster key.
//!
//! A sealed value is text: standard base64 of `version (1) ‖ 12-byte random
//! nonce ‖ ciphertext ‖ 16-byte tag`. The additional data names what the value
//! is (see [`aad`]), so a photo copied into another candidate's row, or into
//! the templates column, does not open.
//!
//! The key is 32 random bytes in `<data_dir>/roster.key` (config
//! `[roster] key_file`), made with mode 0600 the first time it is needed. It is
//! deliberately not part of a backup: keep it apart from the backups.
//!
//! ```
//! use examgate_server::seal::{Sealer, aad};
//! let sealer = Sealer::from_key([7; 32]);
//! let sealed = sealer.seal(&aad::photo("20261125001"), b"jpeg bytes").unwrap();
//! assert_eq!(sealer.open(&aad::photo("20261125001"), &sealed).unwrap(), b"jpeg bytes");
//! assert!(sealer.open(&aad::templates("20261125001"), &sealed).is_err());
//! ```

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// The first byte of every sealed value: the layout above with AES-256-GCM.
pub const VERSION: u8 = 1;
/// Length of a roster key.
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The additional data each kind of sealed value is bound to.
pub mod aad {
    /// A candidate's roster photo (JPEG or PNG bytes).
    pub fn photo(booking_number: &str) -> String {
        format!("candidate/{booking_number}/photo")
    }
    /// A candidate's enrolled templates (JSON `[{"format","data"}]`).
    pub fn templates(booking_number: &str) -> String {
        format!("candidate/{booking_number}/templates")
    }
    /// A verification's request body (the seat's `VerifyEvidence` JSON).
    pub fn verification_body(id: &str) -> String {
        format!("verification/{id}/body")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("cannot read or create the roster key {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("the roster key {path} holds {len} bytes, not {KEY_LEN}: restore the right key file")]
    KeyLength { path: String, len: usize },
    #[error("sealed data is not base64 of a version-{VERSION} sealed value")]
    Malformed,
    #[error("sealed data has version {0}; this server reads version {VERSION}")]
    Version(u8),
    #[error("sealed data does not open: another roster key, another subject, or altered")]
    Open,
    #[error("the system random number generator failed")]
    Random,
}

/// Seals and opens personal data with the roster key. The key file is read
/// (or made) on first use, so building a `Sealer` never fails; call
/// [`Sealer::check`] at start-up to report a bad key file early.
pub struct Sealer {
    path: Option<PathBuf>,
    key: OnceLock<LessSafeKey>,
    rng: SystemRandom,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("key_file", &self.path).finish_non_exhaustive()
    }
}

impl Sealer {
    /// The key kept in `path` (made there on first use).
    pub fn with_key_file(path: impl Into<PathBuf>) -> Sealer {
        Sealer { path: Some(path.into()), key: OnceLock::new(), rng: SystemRandom::new() }
    }

    /// A fixed key (tests, tools).
    pub fn from_key(key: [u8; KEY_LEN]) -> Sealer {
        let sealer = Sealer { path: None, key: OnceLock::new(), rng: SystemRandom::new() };
        let _ = sealer.key.set(less_safe_key(&key));
        sealer
    }

    /// Where the key is kept, if in a file.
    pub fn key_file(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Loads (or makes) the key now.
    pub fn check(&self) -> Result<(), SealError> {
        self.key().map(|_| ())
    }

    fn key(&self) -> Result<&LessSafeKey, SealError> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let path = self.path.as_deref().expect("a Sealer without a key file is made with its key");
        let key = load_or_create(path, &self.rng)?;
        Ok(self.key.get_or_init(|| less_safe_key(&key)))
    }

    /// Seals `plain` for the subject `aad` names.
    pub fn seal(&self, aad: &str, plain: &[u8]) -> Result<String, SealError> {
        let key = self.key()?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut buf = Vec::with_capacity(1 + NONCE_LEN + plain.len() + TAG_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut body)
            .map_err(|_| SealError::Open)?;
        buf.extend_from_slice(&body);
        Ok(STANDARD.encode(buf))
    }

    /// Opens what [`seal`](Self::seal) made for the same `aad`.
    pub fn open(&self, aad: &str, sealed: &str) -> Result<Vec<u8>, SealError> {
        let bytes = STANDARD.decode(sealed.as_bytes()).map_err(|_| SealError::Malformed)?;
        let (&version, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
        if version != VERSION {
            return Err(SealError::Version(version));
        }
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let key = self.key()?;
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
        let mut body = body.to_vec();
        let plain = key.open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body).map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

fn less_safe_key(key: &[u8; KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256-GCM takes a 32-byte key"))
}

/// Reads the key file, or makes it: written to a private temporary file, then
/// linked into place, so two processes starting at once agree on one key and
/// neither reads a half-written file.
fn load_or_create(path: &Path, rng: &SystemRandom) -> Result<[u8; KEY_LEN], SealError> {
    let err = |source| SealError::KeyFile { path: path.display().to_string(), source };
    match std::fs::read(path) {
        Ok(bytes) => return parse_key(path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut key = [0u8; KEY_LEN];
    rng.fill(&mut key).map_err(|_| SealError::Random)?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a new roster key; keep a copy apart from the backups");
            Ok(key)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => parse_key(path, &std::fs::read(path).map_err(err)?),
        Err(e) => Err(err(e)),
    }
}

fn parse_key(path: &Path, bytes: &[u8]) -> Result<[u8; KEY_LEN], SealError> {
    bytes.try_into().map_err(|_| SealError::KeyLength { path: path.display().to_string(), len: bytes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_subject() {
        let a = Sealer::from_key([1; 32]);
        let b = Sealer::from_key([2; 32]);
        let sealed = a.seal("candidate/1/photo", b"secret").unwrap();
        assert_eq!(a.open("candidate/1/photo", &sealed).unwrap(), b"secret");
        assert!(matches!(b.open("candidate/1/photo", &sealed), Err(SealError::Open)));
        assert!(matches!(a.open("candidate/2/photo", &sealed), Err(SealError::Open)));
    }

    #[test]
    fn sealing_twice_gives_different_text() {
        let s = Sealer::from_key([1; 32]);
        assert_ne!(s.seal("x", b"same").unwrap(), s.seal("x", b"same").unwrap());
    }

    #[test]
    fn altered_truncated_and_foreign_values_are_refused() {
        let s = Sealer::from_key([1; 32]);
        let sealed = s.seal("x", b"data").unwrap();
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(s.open("x", &STANDARD.encode(&bytes)), Err(SealError::Open)));
        bytes[0] = 2;
        assert!(matches!(s.open("x", &STANDARD.encode(&bytes)), Err(SealError::Version(2))));
        assert!(matches!(s.open("x", &STANDARD.encode([1u8; 20])), Err(SealError::Malformed)));
        assert!(matches!(s.open("x", "not base64!"), Err(SealError::Malformed)));
    }

    #[test]
    fn the_key_file_is_made_private_once_and_then_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/roster.key");
        let first = Sealer::with_key_file(&path);
        let sealed = first.seal("x", b"data").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap().len(), KEY_LEN);
        let again = Sealer::with_key_file(&path);
        assert_eq!(again.open("x", &sealed).unwrap(), b"data");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn a_key_file_of_the_wrong_length_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.key");
        std::fs::write(&path, b"short").unwrap();
        let err = Sealer::with_key_file(&path).check().unwrap_err();
        assert!(matches!(err, SealError::KeyLength { len: 5, .. }), "{err}");
    }
}
