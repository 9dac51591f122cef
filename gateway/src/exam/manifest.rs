//! The paper manifest's signature and the server's key it is checked with.
//!
//! The key is pinned in the enrolment's directory ([`SERVER_KEY_FILE`],
//! base64 of the 32-byte Ed25519 public key): written at enrolment when the
//! server gives it, else fetched once over the pinned TLS (`GET
//! /agent/v1/status`) by an agent enrolled before servers signed papers.
//! A manifest is accepted only when it names that key and its signature over
//! [`PaperManifest::signed_bytes`] verifies with it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use examgate_protocol::exam::PaperManifest;
use ring::signature::{ED25519, UnparsedPublicKey};

use super::package::{Expected, FileEntry, safe_relative};

/// The pinned server key, beside `link.toml` (the certificate pin).
pub const SERVER_KEY_FILE: &str = "server-key.ed25519";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the server's key {0:?} is not 32 bytes of standard base64")]
    BadKey(String),
    #[error("the manifest is signed by key {got}, not the server key pinned at enrolment ({pinned})")]
    OtherKey { pinned: String, got: String },
    #[error("the manifest's signature does not verify with the pinned server key: refused")]
    BadSignature,
    #[error("the manifest names paper id {0:?}, which is not a plain name")]
    BadPaperId(String),
    #[error("the manifest names file {0:?}, which is not a plain relative path")]
    BadPath(String),
    #[error("the manifest lists no paper.json")]
    NoPaper,
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// A server key: 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerKey({})", self.to_base64())
    }
}

impl ServerKey {
    pub fn parse(b64: &str) -> Result<ServerKey, ManifestError> {
        let bytes = B64.decode(b64.trim()).map_err(|_| ManifestError::BadKey(b64.to_owned()))?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| ManifestError::BadKey(b64.to_owned()))?;
        Ok(ServerKey(key))
    }

    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    /// The key pinned in `link_dir`, if one is.
    pub fn load(link_dir: &Path) -> Result<Option<ServerKey>, ManifestError> {
        let path = link_dir.join(SERVER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => ServerKey::parse(&text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ManifestError::Io { path: path.display().to_string(), source: e }),
        }
    }

    /// Pins the key in `link_dir` (written to a temporary file, synced, renamed).
    pub fn save(&self, link_dir: &Path) -> Result<(), ManifestError> {
        let path = link_dir.join(SERVER_KEY_FILE);
        let tmp = link_dir.join(format!("{SERVER_KEY_FILE}.tmp"));
        let io = |source| ManifestError::Io { path: path.display().to_string(), source };
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
        f.write_all(format!("{}\n", self.to_base64()).as_bytes()).and_then(|()| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

/// Whether `id` may name a file: letters, digits, `-`, `_`, `.` (not leading), at most 128.
pub fn plain_name(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks a manifest against the pinned key; what its package must be.
pub fn verify(m: &PaperManifest, pinned: &ServerKey) -> Result<Expected, ManifestError> {
    let named = ServerKey::parse(&m.server_key)?;
    if named != *pinned {
        return Err(ManifestError::OtherKey { pinned: pinned.to_base64(), got: named.to_base64() });
    }
    let signature = B64.decode(m.signature.trim()).map_err(|_| ManifestError::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, pinned.0)
        .verify(&m.signed_bytes(), &signature)
        .map_err(|_| ManifestError::BadSignature)?;
    if !plain_name(&m.paper_id) {
        return Err(ManifestError::BadPaperId(m.paper_id.clone()));
    }
    if let Some(bad) = m.files.iter().find(|f| safe_relative(&f.path).is_none()) {
        return Err(ManifestError::BadPath(bad.path.clone()));
    }
    if !m.files.iter().any(|f| f.path == examgate_protocol::exam::PACKAGE_PAPER) {
        return Err(ManifestError::NoPaper);
    }
    Ok(expected(m))
}

/// What the package of `m` must be (for a manifest already verified).
pub fn expected(m: &PaperManifest) -> Expected {
    Expected {
        size: m.package.size,
        sha256: m.package.sha256.to_ascii_lowercase(),
        files: m
            .files
            .iter()
            .map(|f| FileEntry { path: f.path.clone(), size: f.size, sha256: f.sha256.to_ascii_lowercase() })
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A server key of the tests' own and manifests it signs.
    use examgate_protocol::exam::{ExamInfo, PackageFile, PackageInfo, PaperManifest};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;
    use crate::exam::package::Expected;

    pub struct Signer(Ed25519KeyPair);

    impl Signer {
        pub fn new() -> Signer {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
            Signer(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
        }

        pub fn key(&self) -> ServerKey {
            ServerKey(self.0.public_key().as_ref().try_into().unwrap())
        }

        pub fn sign(&self, m: &mut PaperManifest) {
            m.server_key = self.key().to_base64();
            m.signature = B64.encode(self.0.sign(&m.signed_bytes()).as_ref());
        }

        /// A signed manifest for a package that is `expected`.
        pub fn manifest(&self, paper_id: &str, expected: &Expected, deadline: i64, server_time: i64) -> PaperManifest {
            let mut m = PaperManifest {
                paper_id: paper_id.into(),
                booking_number: "20261125001".into(),
                exam: ExamInfo {
                    id: "c1".into(),
                    name: "Subject One".into(),
                    minutes: 45,
                    pass_score: Some(90.0),
                    max_score: 100.0,
                },
                language: "en".into(),
                deadline,
                server_time,
                package: PackageInfo { size: expected.size, sha256: expected.sha256.clone() },
                files: expected
                    .files
                    .iter()
                    .map(|f| PackageFile { path: f.path.clone(), size: f.size, sha256: f.sha256.clone() })
                    .collect(),
                server_key: String::new(),
                signature: String::new(),
            };
            self.sign(&mut m);
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Signer;
    use super::*;
    use crate::exam::package::testing::package;

    #[test]
    fn a_manifest_signed_by_the_pinned_key_is_accepted_and_any_change_refused() {
        let signer = Signer::new();
        let (_, expected) = package(&[("paper.json", b"{}")]);
        let m = signer.manifest("p1", &expected, 2_000, 1_000);
        assert_eq!(verify(&m, &signer.key()).unwrap(), expected);

        let mut later = m.clone();
        later.deadline += 60_000;
        assert!(matches!(verify(&later, &signer.key()), Err(ManifestError::BadSignature)));
        let mut other_hash = m.clone();
        other_hash.package.sha256 = "00".repeat(32);
        assert!(matches!(verify(&other_hash, &signer.key()), Err(ManifestError::BadSignature)));
        let mut unsigned = m.clone();
        unsigned.signature.clear();
        assert!(matches!(verify(&unsigned, &signer.key()), Err(ManifestError::BadSignature)));
    }

    #[test]
    fn a_manifest_signed_by_another_key_is_refused_even_if_it_names_that_key() {
        let (pinned, impostor) = (Signer::new(), Signer::new());
        let (_, expected) = package(&[("paper.json", b"{}")]);
        let m = impostor.manifest("p1", &expected, 2_000, 1_000);
        assert!(matches!(verify(&m, &pinned.key()), Err(ManifestError::OtherKey { .. })));
        let mut claims_pinned = m.clone();
        claims_pinned.server_key = pinned.key().to_base64();
        assert!(matches!(verify(&claims_pinned, &pinned.key()), Err(ManifestError::BadSignature)));
    }

    #[test]
    fn paper_ids_and_paths_must_be_plain() {
        let signer = Signer::new();
        let (_, expected) = package(&[("paper.json", b"{}")]);
        let m = signer.manifest("../p1", &expected, 2_000, 1_000);
        assert!(matches!(verify(&m, &signer.key()), Err(ManifestError::BadPaperId(_))));
        let mut bad = expected.clone();
        bad.files.push(FileEntry { path: "../x".into(), size: 0, sha256: String::new() });
        let m = signer.manifest("p1", &bad, 2_000, 1_000);
        assert!(matches!(verify(&m, &signer.key()), Err(ManifestError::BadPath(_))));
    }

    #[test]
    fn the_pinned_key_survives_saving_and_loading() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ServerKey::load(dir.path()).unwrap(), None);
        let key = Signer::new().key();
        key.save(dir.path()).unwrap();
        assert_eq!(ServerKey::load(dir.path()).unwrap(), Some(key));
    }
}
