//! Random identifiers and tokens from the system's CSPRNG.

use ring::rand::{SecureRandom, SystemRandom};

use crate::audit::hex;

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The system RNG fails only if the kernel has none; nothing can go on then.
    SystemRandom::new().fill(&mut bytes).expect("the system random number generator failed");
    hex(&bytes)
}
