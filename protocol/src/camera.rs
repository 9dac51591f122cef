//! Snapshots through the agent API: `POST /v1/camera/snapshot` and the
//! record carried by the `snapshot_taken` event.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Why a caller asks for a snapshot. Scheduled snapshots are the agent's
/// own business and cannot be asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDemandReason {
    /// At identity verification, next to the ID card and the fingerprint.
    IdentityVerification,
    /// An examiner asked for one.
    #[default]
    ExaminerRequest,
}

/// `POST /v1/camera/snapshot`; an empty body means all defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRequest {
    /// Camera id; default: the first attached camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Default: `examiner_request`.
    #[serde(default)]
    pub reason: OnDemandReason,
}

/// A stored snapshot's record, without the picture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Its id in the agent's local store.
    pub id: i64,
    pub seat: String,
    pub exam: String,
    /// When the capture began.
    pub time: Timestamp,
    /// `identity_verification`, `examiner_request`, or `scheduled` (the
    /// scheduled ones' times are secret; their number is not shown either).
    pub reason: String,
    /// The camera's name as its driver reports it; empty if there was none.
    pub camera: String,
    /// SHA-256 of the JPEG, lower-case hex; `null` when no picture was taken.
    pub sha256: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// What the tamper checks found: `dark`, `uniform`, `frozen`,
    /// `virtual_camera`, `camera_missing`, `slow`, `capture_failed`. Empty
    /// when nothing was.
    pub flags: Vec<String>,
    /// What went wrong or what a flag matched, for the examiner.
    pub detail: Option<String>,
    /// How long the camera took to deliver the frame.
    pub capture_ms: u64,
}

/// The answer to `POST /v1/camera/snapshot`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotResponse {
    /// Standard base64 of the JPEG; `null` when the camera gave no picture
    /// (the flags say why; the record is stored all the same).
    pub jpeg: Option<String>,
    pub record: SnapshotInfo,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_default_to_an_examiner_request_and_reject_scheduled_ones() {
        let r: SnapshotRequest = serde_json::from_value(json!({})).unwrap();
        assert_eq!(r, SnapshotRequest::default());
        assert_eq!(r.reason, OnDemandReason::ExaminerRequest);
        let r: SnapshotRequest = serde_json::from_value(json!({"reason": "identity_verification"})).unwrap();
        assert_eq!(r.reason, OnDemandReason::IdentityVerification);
        assert!(serde_json::from_value::<SnapshotRequest>(json!({"reason": "scheduled"})).is_err());
        assert!(serde_json::from_value::<SnapshotRequest>(json!({"seed": "00"})).is_err());
    }

    #[test]
    fn a_record_without_a_picture_has_null_hash_and_size() {
        let info = SnapshotInfo {
            id: 1,
            seat: "A-017".into(),
            exam: "k1".into(),
            time: Timestamp::from_unix_millis(0),
            reason: "examiner_request".into(),
            camera: String::new(),
            sha256: None,
            width: None,
            height: None,
            flags: vec!["camera_missing".into()],
            detail: Some("no camera is attached to this seat".into()),
            capture_ms: 0,
        };
        let v = serde_json::to_value(SnapshotResponse { jpeg: None, record: info }).unwrap();
        assert_eq!(v["jpeg"], serde_json::Value::Null);
        assert_eq!(v["record"]["sha256"], serde_json::Value::Null);
        assert_eq!(v["record"]["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["record"]["flags"], json!(["camera_missing"]));
    }
}
