//! The evidence of a fingerprint attempt: the seat's signed request kept
//! whole, with the headers that signed it, so anyone holding the seat's
//! public key can check later that the stored body is the one the seat sent.

use examgate_protocol::link::signing_string;
use serde::{Deserialize, Serialize};

use crate::crypto::{ed25519_valid, sha256_hex};

/// The signature of a stored request (`verifications.signature`, JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSignature {
    pub method: String,
    /// The path and query as signed.
    pub path: String,
    pub key: String,
    pub timestamp: i64,
    pub nonce: String,
    pub mac: String,
    pub content_sha256: String,
    /// Standard base64 of the Ed25519 signature.
    pub signature: String,
}

impl StoredSignature {
    /// Whether `body` is what the seat whose key is `public_key` signed.
    pub fn verifies(&self, public_key: &[u8], body: &[u8]) -> bool {
        use base64::Engine;
        let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(&self.signature) else { return false };
        if sha256_hex(body) != self.content_sha256 {
            return false;
        }
        let message =
            signing_string(&self.method, &self.path, self.timestamp, &self.nonce, &self.mac, &self.content_sha256);
        ed25519_valid(public_key, message.as_bytes(), &signature)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;

    #[test]
    fn a_signature_verifies_its_body_only() {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let body = br#"{"score":950}"#;
        let mut s = StoredSignature {
            method: "POST".into(),
            path: "/agent/v1/login/verify".into(),
            key: "k".into(),
            timestamp: 1,
            nonce: "00".repeat(16),
            mac: "02:00:00:00:00:01".into(),
            content_sha256: sha256_hex(body),
            signature: String::new(),
        };
        let message = signing_string(&s.method, &s.path, s.timestamp, &s.nonce, &s.mac, &s.content_sha256);
        s.signature = STANDARD.encode(pair.sign(message.as_bytes()).as_ref());
        let pk = pair.public_key().as_ref();
        assert!(s.verifies(pk, body));
        assert!(!s.verifies(pk, br#"{"score":951}"#));
        let other =
            Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap().as_ref()).unwrap();
        assert!(!s.verifies(other.public_key().as_ref(), body));
    }
}
