//! The seat's Ed25519 key pair: made at enrolment, kept as PKCS#8 in a file
//! readable only by the agent's user, and the key id the server knows it by.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::{Digest, Sha256};

use super::LinkError;
use super::hex;

pub struct Identity {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the key in `path`, or makes one there (mode 0600) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Identity, LinkError> {
        if path.exists() {
            return Identity::load(path);
        }
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| LinkError::Key("the system random number generator failed".into()))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| LinkError::io(dir, e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| LinkError::io(path, e))?;
        f.write_all(pkcs8.as_ref()).and_then(|()| f.sync_all()).map_err(|e| LinkError::io(path, e))?;
        Identity::load(path)
    }

    /// A key pair kept only in memory (the load tool's simulated seats).
    pub fn generate() -> Result<Identity, LinkError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| LinkError::Key("the system random number generator failed".into()))?;
        let pair =
            Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| LinkError::Key("a new key did not load".into()))?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Identity { pair, key_id })
    }

    pub fn load(path: &Path) -> Result<Identity, LinkError> {
        let mode = std::fs::metadata(path).map_err(|e| LinkError::io(path, e))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(LinkError::Key(format!(
                "{} is readable by others (mode {:o}): chmod 600 it, or enrol again with a new key",
                path.display(),
                mode & 0o777
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| LinkError::io(path, e))?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|_| LinkError::Key(format!("{} is not an Ed25519 key (PKCS#8)", path.display())))?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Identity { pair, key_id })
    }

    /// The id the server knows this key by: the first 16 bytes of its SHA-256, hex.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public key, standard base64.
    pub fn public_key_b64(&self) -> String {
        B64.encode(self.pair.public_key().as_ref())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// The token `link run` shows the local agent when it hands on a command the
    /// server pushed (`POST /v1/link/commands`): the key's signature of a fixed
    /// text. Ed25519 signs deterministically, so every process holding the key
    /// computes the same token, and nothing without the key can.
    pub fn local_command_token(&self) -> String {
        hex(&self.sign(b"examgate-local-commands-v1"))
    }
}

/// The header that carries [`Identity::local_command_token`].
pub const LOCAL_COMMAND_TOKEN: &str = "x-examgate-link-token";

pub fn key_id(public_key: &[u8]) -> String {
    hex(&Sha256::digest(public_key)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_command_token_is_the_same_for_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(&dir.path().join("a.pk8")).unwrap();
        let again = Identity::load(&dir.path().join("a.pk8")).unwrap();
        let b = Identity::generate().unwrap();
        assert_eq!(a.local_command_token(), again.local_command_token());
        assert_ne!(a.local_command_token(), b.local_command_token());
        assert_eq!(a.local_command_token().len(), 128);
    }

    #[test]
    fn a_new_key_is_private_to_its_user_and_loads_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("link-key.pk8");
        let made = Identity::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = Identity::load_or_create(&path).unwrap();
        assert_eq!(made.key_id(), again.key_id());
        assert_eq!(made.key_id().len(), 32);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load(&path).unwrap_err().to_string();
        assert!(err.contains("readable by others"), "{err}");
    }
}
