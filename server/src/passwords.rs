//! Console passwords: argon2id hashes in PHC string form. The cost is the
//! library's default; tests pass a cheaper one, and a hash carries its own
//! parameters, so either verifies.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};

/// How costly new hashes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// argon2id with the library's default memory and time (19 MiB, 2 passes).
    Standard,
    /// For tests only: a few KiB, one pass.
    Cheap,
}

fn hasher(cost: Cost) -> Argon2<'static> {
    let params = match cost {
        Cost::Standard => Params::default(),
        Cost::Cheap => Params::new(64, 1, 1, None).expect("valid argon2 parameters"),
    };
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str, cost: Cost) -> String {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).expect("the system random number generator failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    hasher(cost).hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password").to_string()
}

pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// What a usable password is.
pub fn check_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("a password needs at least 8 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse", Cost::Cheap);
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a hash"));
    }
}
