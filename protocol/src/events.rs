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
    /// A configured device source cannot serve: its plugin could not be loaded
    /// (missing file, wrong ABI, crashed or hung while loading). `device` is
    /// the selector, the only name such a source has; the agent tries again at
    /// `next_retry`, and at once when the file changes. Sent when it first
    /// fails and when the reason changes; `device_attached` follows once it loads.
    DeviceFailed {
        device: String,
        timestamp: Timestamp,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_retry: Option<Timestamp>,
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
    /// The candidate's exam paper is at the seat, checked and unpacked: `GET /v1/exam` and
    /// `GET /v1/exam/paper` serve it.
    ExamReady { timestamp: Timestamp, paper_id: String },
    /// The paper is submitted at the seat (by the candidate, at the deadline, or by the examiner);
    /// `submitted_at` is milliseconds since the epoch on the server's clock.
    ExamSubmitted { timestamp: Timestamp, paper_id: String, submitted_at: i64, reason: crate::exam::SubmitReason },
    /// The server scored the paper: `GET /v1/exam` has the `result`. `passed` is `None`
    /// where the exam sets no pass score.
    ExamResult { timestamp: Timestamp, paper_id: String, passed: Option<bool> },
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
            | Event::CameraFault { device, .. }
            | Event::DeviceFailed { device, .. } => device,
            Event::CandidateAssigned { .. }
            | Event::LoginDecision { .. }
            | Event::CandidateReleased { .. }
            | Event::Warning { .. }
            | Event::ExamReady { .. }
            | Event::ExamSubmitted { .. }
            | Event::ExamResult { .. } => "",
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
    fn a_failed_device_source_names_its_selector_and_why() {
        let t = Timestamp::from_unix_millis(1_700_000_000_123);
        let failed = Event::DeviceFailed {
            device: "plugin:/opt/acme/libfp.so".into(),
            timestamp: t,
            reason: "plugin libfp.so: the driver host died while loading it (killed by signal 11 (SIGSEGV))".into(),
            next_retry: Some(Timestamp::from_unix_millis(1_700_000_002_123)),
        };
        let v = serde_json::to_value(&failed).unwrap();
        assert_eq!(v["type"], "device_failed");
        assert_eq!(v["device"], "plugin:/opt/acme/libfp.so");
        assert_eq!(v["next_retry"], "2023-11-14T22:13:22.123Z");
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), failed);
        assert_eq!(failed.device(), "plugin:/opt/acme/libfp.so");
    }

    #[test]
    fn exam_events_are_about_the_seat_not_a_device() {
        let t = Timestamp::from_unix_millis(1_700_000_000_123);
        let submitted = Event::ExamSubmitted {
            timestamp: t,
            paper_id: "p1".into(),
            submitted_at: 1_700_000_000_000,
            reason: crate::exam::SubmitReason::Timeout,
        };
        let v = serde_json::to_value(&submitted).unwrap();
        assert_eq!(
            v,
            json!({"type": "exam_submitted", "timestamp": "2023-11-14T22:13:20.123Z", "paper_id": "p1",
                   "submitted_at": 1_700_000_000_000_i64, "reason": "timeout"})
        );
        assert_eq!(serde_json::from_value::<Event>(v).unwrap(), submitted);
        let result = Event::ExamResult { timestamp: t, paper_id: "p1".into(), passed: Some(true) };
        assert_eq!(serde_json::to_value(&result).unwrap()["type"], "exam_result");
        let ready = Event::ExamReady { timestamp: t, paper_id: "p1".into() };
        assert_eq!(serde_json::to_value(&ready).unwrap()["type"], "exam_ready");
        assert_eq!((ready.device(), result.device(), submitted.device()), ("", "", ""));
    }

    #[test]
    fn unknown_event_types_are_an_error() {
        let v = json!({"type": "card_swiped", "device": "x", "timestamp": "2023-11-14T22:13:20.123Z"});
        assert!(serde_json::from_value::<Event>(v).is_err());
    }
}
