//! Events pushed on the `/v1/events` WebSocket, one JSON text message each.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::camera::SnapshotInfo;

/// Something that happened at a device, tagged by `type`:
/// `{"type": "finger_placed", "device": "sim-fp-0", "timestamp": "…Z"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The device was opened and may be used.
    DeviceAttached { device: String, timestamp: Timestamp },
    /// The device was lost (unplugged, disabled, its driver crashed).
    DeviceDetached { device: String, timestamp: Timestamp },
    /// A finger is now on the sensor.
    FingerPlaced { device: String, timestamp: Timestamp },
    /// The sensor is now clear.
    FingerLifted { device: String, timestamp: Timestamp },
    /// An ID card is now on the reader; `POST /v1/idcard/read` reads it.
    CardInserted { device: String, timestamp: Timestamp },
    /// The ID card left the reader.
    CardRemoved { device: String, timestamp: Timestamp },
    /// A snapshot was taken and stored (scheduled, or on request). `device`
    /// is the camera's id, empty when the seat had no camera.
    SnapshotTaken { device: String, timestamp: Timestamp, snapshot: SnapshotInfo },
    /// A tamper check found something, or the camera went missing. `flags`
    /// are the snapshot flags (`dark`, `uniform`, `frozen`,
    /// `virtual_camera`, `camera_missing`, `slow`, `capture_failed`);
    /// `snapshot` is the id of the stored snapshot that showed it, if any.
    CameraFault {
        device: String,
        timestamp: Timestamp,
        flags: Vec<String>,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<i64>,
    },
    /// Login mode (a): the server assigned this candidate to the seat (the
    /// examiner read their card at the console).
    CandidateAssigned { timestamp: Timestamp, booking_number: String, name: String, language: String },
    /// The examiner admitted or refused the candidate at this seat.
    LoginDecision { timestamp: Timestamp, booking_number: String, decision: crate::login::Decision },
    /// The examiner released the candidate from this seat: the page starts over.
    CandidateReleased { timestamp: Timestamp, booking_number: String },
    /// The server pushed a warning for the candidate.
    Warning { timestamp: Timestamp, text: String },
}

impl Event {
    /// The device id the event is about; empty for events about the login, not a device.
    pub fn device(&self) -> &str {
        match self {
            Event::DeviceAttached { device, .. }
            | Event::DeviceDetached { device, .. }
            | Event::FingerPlaced { device, .. }
            | Event::FingerLifted { device, .. }
            | Event::CardInserted { device, .. }
            | Event::CardRemoved { device, .. }
            | Event::SnapshotTaken { device, .. }
            | Event::CameraFault { device, .. } => device,
            Event::CandidateAssigned { .. }
            | Event::LoginDecision { .. }
            | Event::CandidateReleased { .. }
            | Event::Warning { .. } => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_event_is_tagged_with_its_type() {
        let t = Timestamp::from_unix_millis(1_700_000_000_123);
        let d = || "fp".to_owned();
        let cases = [
            (Event::DeviceAttached { device: d(), timestamp: t }, "device_attached"),
            (Event::DeviceDetached { device: d(), timestamp: t }, "device_detached"),
            (Event::FingerPlaced { device: d(), timestamp: t }, "finger_placed"),
            (Event::FingerLifted { device: d(), timestamp: t }, "finger_lifted"),
            (Event::CardInserted { device: d(), timestamp: t }, "card_inserted"),
            (Event::CardRemoved { device: d(), timestamp: t }, "card_removed"),
        ];
        for (event, tag) in cases {
            let v = serde_json::to_value(&event).unwrap();
            assert_eq!(v, json!({"type": tag, "device": "fp", "timestamp": "2023-11-14T22:13:20.123Z"}));
            assert_eq!(serde_json::from_value::<Event>(v).unwrap(), event);
            assert_eq!(event.device(), "fp");
        }
    }

    #[test]
    fn camera_events_carry_the_snapshot_and_the_flags() {
        let t = Timestamp::from_unix_millis(1_700_000_000_123);
        let snapshot = SnapshotInfo {
            id: 7,
            seat: "A-017".into(),
            exam: "k1-am".into(),
            time: t,
            reason: "scheduled".into(),
            camera: "examgate simulated camera".into(),
            sha256: Some("ab".repeat(32)),
            width: Some(640),
            height: Some(480),
            flags: vec!["dark".into()],
            detail: None,
            capture_ms: 12,
        };
        let taken = Event::SnapshotTaken { device: "sim-cam-0".into(), timestamp: t, snapshot: snapshot.clone() };
        let v = serde_json::to_value(&taken).unwrap();
        assert_eq!(v["type"], "snapshot_taken");
        assert_eq!(v["snapshot"]["flags"], json!(["dark"]));
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), taken);
        let fault = Event::CameraFault {
            device: "sim-cam-0".into(),
            timestamp: t,
            flags: vec!["camera_missing".into()],
            message: "no camera answered".into(),
            snapshot: None,
        };
        let v = serde_json::to_value(&fault).unwrap();
        assert_eq!(v["type"], "camera_fault");
        assert!(v.get("snapshot").is_none());
        assert_eq!(fault.device(), "sim-cam-0");
    }

    #[test]
    fn unknown_event_types_are_an_error() {
        let v = json!({"type": "card_swiped", "device": "x", "timestamp": "2023-11-14T22:13:20.123Z"});
        assert!(serde_json::from_value::<Event>(v).is_err());
    }
}
