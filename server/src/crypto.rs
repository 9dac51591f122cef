//! Hashes, key ids and Ed25519 checks (ring).

use ring::signature::{ED25519, UnparsedPublicKey};
use sha2::{Digest, Sha256};

use crate::audit::hex;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A key's id: the first 16 bytes of its SHA-256, hex. The agent computes the same.
pub fn key_id(public_key: &[u8]) -> String {
    hex(&Sha256::digest(public_key)[..16])
}

/// Whether `signature` is `public_key`'s Ed25519 signature of `message`.
pub fn ed25519_valid(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(message, signature).is_ok()
}
