//! What one snapshot is: who, when, why, what the checks found, and the JPEG.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::tamper::Flags;

/// An identifier the server hands out (seat number, exam id): 1 to 64
/// characters of `A-Z a-z 0-9 . _ - :`, so it is safe in a file name, a log
/// line and a URL alike.
fn check_id(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.is_empty() || s.len() > 64 {
        return Err(IdError { kind, value: s.to_owned() });
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b)) {
        return Err(IdError { kind, value: s.to_owned() });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is not 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-', ':'")]
pub struct IdError {
    kind: &'static str,
    value: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id($kind, &s)?;
                Ok($name(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A seat number as the exam centre assigns it (`A-017`).
    SeatNo,
    "seat number"
);
id_type!(
    /// An exam session (`2025-06-01-am-k1`).
    ExamId,
    "exam id"
);

/// The seat and exam a snapshot belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExamSeat {
    pub seat: SeatNo,
    pub exam: ExamId,
}

/// The seat and exam names of an agent whose config names neither.
pub const UNASSIGNED: &str = "unassigned";

/// Why a snapshot was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SnapshotReason {
    /// The Nth (from 0) time of the exam's [`Schedule`](super::Schedule).
    Scheduled(u32),
    /// At identity verification, next to the ID card and fingerprint.
    IdentityVerification,
    /// An examiner asked for one.
    ExaminerRequest,
}

impl fmt::Display for SnapshotReason {
    /// `scheduled:3`, `identity_verification`, `examiner_request`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotReason::Scheduled(i) => write!(f, "scheduled:{i}"),
            SnapshotReason::IdentityVerification => f.write_str("identity_verification"),
            SnapshotReason::ExaminerRequest => f.write_str("examiner_request"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown snapshot reason {0:?}; expected scheduled:N, identity_verification or examiner_request")]
pub struct ReasonError(String);

impl FromStr for SnapshotReason {
    type Err = ReasonError;
    fn from_str(s: &str) -> Result<Self, ReasonError> {
        match s {
            "identity_verification" => Ok(SnapshotReason::IdentityVerification),
            "examiner_request" => Ok(SnapshotReason::ExaminerRequest),
            _ => s
                .strip_prefix("scheduled:")
                .and_then(|n| n.parse().ok())
                .map(SnapshotReason::Scheduled)
                .ok_or_else(|| ReasonError(s.to_owned())),
        }
    }
}

/// A snapshot's row id in the local store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(pub i64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The JPEG of a snapshot and the SHA-256 of its bytes (the server names
/// the file by it and checks it on receipt).
#[derive(Clone, PartialEq, Eq)]
pub struct SnapshotImage {
    pub width: u32,
    pub height: u32,
    pub sha256: [u8; 32],
    pub jpeg: Vec<u8>,
}

impl SnapshotImage {
    pub fn new(width: u32, height: u32, jpeg: Vec<u8>) -> SnapshotImage {
        SnapshotImage { width, height, sha256: Sha256::digest(&jpeg).into(), jpeg }
    }

    /// The hash in lower-case hex.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SnapshotImage {
    // A photo is personal data: never print it, only its size and a short hash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SnapshotImage({}x{}, {} bytes, sha256 {}…)",
            self.width,
            self.height,
            self.jpeg.len(),
            &self.sha256_hex()[..12]
        )
    }
}

/// One snapshot as stored: taken or attempted. A failed capture is a record
/// too, with flags saying why and no image; it is never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub id: SnapshotId,
    pub seat: SeatNo,
    pub exam: ExamId,
    /// When the capture began (millisecond precision once stored).
    pub taken_at: SystemTime,
    pub reason: SnapshotReason,
    /// The camera's name as its driver reports it, empty if there was none.
    pub camera: String,
    pub flags: Flags,
    /// What went wrong or what a flag matched, for the examiner.
    pub detail: Option<String>,
    /// 64-bit perceptual hash of the frame, so the server can spot the same
    /// picture across a whole exam.
    pub phash: Option<u64>,
    /// How long the camera took to deliver the frame.
    pub capture_time: Duration,
    pub image: Option<SnapshotImage>,
}

impl SnapshotRecord {
    /// A short tag for logs: the id and the start of the image hash, never the photo.
    pub fn log_tag(&self) -> String {
        match &self.image {
            Some(image) => format!("snapshot {} ({}…)", self.id, &image.sha256_hex()[..12]),
            None => format!("snapshot {} (no image)", self.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_what_servers_hand_out_and_nothing_else() {
        assert_eq!("A-017".parse::<SeatNo>().unwrap().to_string(), "A-017");
        assert!("2025-06-01:am.k1_x".parse::<ExamId>().is_ok());
        for bad in ["", "seat 1", "../etc", "座位", &"x".repeat(65)] {
            assert!(bad.parse::<SeatNo>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reasons_round_trip_through_text() {
        for r in [
            SnapshotReason::Scheduled(0),
            SnapshotReason::Scheduled(41),
            SnapshotReason::IdentityVerification,
            SnapshotReason::ExaminerRequest,
        ] {
            assert_eq!(r.to_string().parse::<SnapshotReason>().unwrap(), r);
        }
        assert!("scheduled:".parse::<SnapshotReason>().is_err());
        assert!("whim".parse::<SnapshotReason>().is_err());
    }

    #[test]
    fn images_hash_their_bytes_and_never_print_them() {
        let image = SnapshotImage::new(1, 1, b"abc".to_vec());
        assert_eq!(image.sha256_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let shown = format!("{image:?}");
        assert!(shown.contains("3 bytes") && shown.contains("ba7816bf8f01") && !shown.contains("abc"));
    }
}
