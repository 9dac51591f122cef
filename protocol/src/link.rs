//! The link between a seat agent and the exam-centre server: enrolment,
//! signed requests, heartbeats, deliveries and the push WebSocket.
//!
//! Every agent request after enrolment carries the [`headers`] below. The
//! signature is Ed25519 over [`signing_string`], so the key, the moment, a
//! one-time nonce, the MAC the agent reports and the body are all covered.
//! The crypto itself lives in the agent and the server; this module only
//! fixes the bytes both sides sign and check.
//!
//! ```
//! use examgate_protocol::link::signing_string;
//! let s = signing_string("POST", "/agent/v1/heartbeat", 1_700_000_000_000, "00ff", "aa:bb:cc:dd:ee:ff", "e3b0");
//! assert_eq!(s, "examgate-link-v1\nPOST\n/agent/v1/heartbeat\n1700000000000\n00ff\naa:bb:cc:dd:ee:ff\ne3b0");
//! ```

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Header names of a signed agent request.
pub mod headers {
    /// The agent's key id, as enrolment returned it.
    pub const KEY: &str = "x-examgate-key";
    /// Milliseconds since the Unix epoch when the agent signed.
    pub const TIMESTAMP: &str = "x-examgate-timestamp";
    /// 16 random bytes, lower-case hex; never used twice by a key.
    pub const NONCE: &str = "x-examgate-nonce";
    /// The MAC address of the interface the agent speaks from.
    pub const MAC: &str = "x-examgate-mac";
    /// SHA-256 of the body, lower-case hex (of nothing for a GET).
    pub const CONTENT_SHA256: &str = "x-examgate-content-sha256";
    /// Ed25519 signature of [`signing_string`](super::signing_string), standard base64.
    pub const SIGNATURE: &str = "x-examgate-signature";
    /// A delivery's idempotency key: the same item always carries the same one.
    pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
}

/// The agent endpoints.
pub mod paths {
    pub const ENROL: &str = "/agent/v1/enrol";
    pub const STATUS: &str = "/agent/v1/status";
    pub const HEARTBEAT: &str = "/agent/v1/heartbeat";
    pub const DELIVERIES: &str = "/agent/v1/deliveries";
    pub const PUSH: &str = "/agent/v1/push";
}

/// The exact text an agent signs and the server checks: a version tag, the
/// method, the path with query, the timestamp, the nonce, the reported MAC
/// and the body's SHA-256, one per line.
pub fn signing_string(
    method: &str,
    path_and_query: &str,
    timestamp_ms: i64,
    nonce: &str,
    mac: &str,
    body_sha256: &str,
) -> String {
    format!("examgate-link-v1\n{method}\n{path_and_query}\n{timestamp_ms}\n{nonce}\n{mac}\n{body_sha256}")
}

/// `POST /agent/v1/enrol`, signed with the key it carries (proof that the
/// agent holds the private half). The seat waits as `pending` until an
/// examiner approves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The Ed25519 public key, 32 bytes, standard base64.
    pub public_key: String,
    /// MAC addresses of the PC's network interfaces, `aa:bb:cc:dd:ee:ff`.
    pub macs: Vec<String>,
    /// The IP address the PC believes it has (the server records the one it sees too).
    pub ip: String,
    pub host_name: String,
    pub agent_version: String,
}

/// Where a PC stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingState {
    /// Enrolled, waiting for an examiner.
    Pending,
    /// Holds a seat.
    Bound,
    /// Held a seat that was rebound to another PC (spare-PC takeover).
    Replaced,
}

/// The answer to enrolment and to `GET /agent/v1/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    /// The id the agent sends in `x-examgate-key` from now on.
    pub key_id: String,
    pub state: BindingState,
    /// The seat number, once bound.
    pub seat: Option<String>,
    /// The server's Ed25519 public key (32 bytes, standard base64) that signs exam
    /// paper manifests; the agent pins it beside the certificate. Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
}

/// Health of one device of the seat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub id: String,
    /// `fingerprint`, `idcard` or `camera`.
    pub class: String,
    /// `ready`, `busy`, `disabled` or `disconnected`; for a configured selector
    /// that serves no device (then `id` is the selector), `waiting` or `failed`
    /// (its plugin cannot be loaded).
    pub state: String,
    /// Why it is `waiting` or `failed`, for the examiner (absent from older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /agent/v1/heartbeat`, every few seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The seat the agent believes it holds; a different one is refused as a claim on another seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    pub devices: Vec<DeviceHealth>,
    /// Items waiting in the agent's outbox.
    pub outbox_pending: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub seat: String,
    pub server_time: Timestamp,
}

/// `POST /agent/v1/deliveries` with an `idempotency-key` header: one item
/// of the agent's outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// The seat the agent believes it holds; a different one is refused as a claim on another seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
    pub exam: String,
    /// When the item came to be at the seat.
    pub created_at: Timestamp,
    pub item: DeliveryItem,
}

/// What is delivered, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeliveryItem {
    /// A picture of the candidate; the server stores the JPEG as a file named by its SHA-256.
    Snapshot {
        /// `scheduled`, `identity_verification` or `examiner_request`.
        reason: String,
        /// Tamper flags the agent found.
        flags: Vec<String>,
        /// The JPEG, standard base64.
        jpeg: String,
        /// SHA-256 of the JPEG, lower-case hex; the server checks it.
        sha256: String,
    },
    /// The outcome of identity verification at the seat.
    Verification {
        /// A short hash of the candidate's ID number, never the number itself.
        candidate: String,
        /// `idcard`, `fingerprint` or `idcard+fingerprint`.
        method: String,
        /// The fingerprint score 1..=1000, if one was compared.
        score: Option<u16>,
        passed: bool,
    },
    /// A candidate's answers.
    Answers { candidate: String, answers: Vec<Answer> },
    /// One change of an exam answer at the seat. The server keeps, per (paper, item),
    /// the change with the highest `seq`; an empty `choices` clears the answer.
    ExamAnswer {
        booking_number: String,
        paper_id: String,
        item: String,
        /// The item's own choice identifiers.
        choices: Vec<String>,
        /// Strictly increasing per paper at the seat.
        seq: u64,
        answered_at: Timestamp,
    },
    /// The end of the attempt at the seat; the server scores from the answers it holds.
    ExamSubmit { booking_number: String, paper_id: String, seq: u64, reason: crate::exam::SubmitReason },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub question: String,
    pub choice: String,
}

/// Whether the server stored an item now or had it already.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stored {
    New,
    Duplicate,
}

/// The answer to a delivery: the agent may forget the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    pub idempotency_key: String,
    pub stored: Stored,
    pub received_at: Timestamp,
}

/// A command the server pushes to a seat over `GET /agent/v1/push`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushMessage {
    /// The agent acknowledges it with a [`PushAck`] carrying this id.
    pub id: String,
    pub command: Command,
}

/// What the server asks of a seat, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Take a snapshot now (reason `examiner_request`).
    SnapshotNow,
    /// Show this warning to the candidate.
    Warning { text: String },
    /// Login mode (a): the examiner read this candidate's card at the console and
    /// the server gave them this seat; the seat page greets them by name.
    CandidateAssigned { booking_number: String, name: String, language: String },
    /// The examiner decided on the candidate at this seat (after failed attempts,
    /// or revoking an assignment).
    LoginDecision { booking_number: String, decision: crate::login::Decision },
    /// The examiner released the candidate from this seat (they move seat, or an
    /// assignment is taken back): the seat page starts over for the next candidate.
    CandidateReleased { booking_number: String },
    /// The candidate's paper is drawn: fetch its manifest and package
    /// ([`crate::exam::paths`]).
    ExamReady { booking_number: String, paper_id: String },
    /// The candidate's attempt has a result: fetch it ([`crate::exam::paths::RESULT`]).
    ExamResult { booking_number: String, paper_id: String },
    /// The examiner warns the candidate; the seat shows it until the candidate
    /// acknowledges it by key. `count` is this candidate's warnings so far, this one included.
    ExamWarning {
        booking_number: String,
        paper_id: String,
        count: u32,
        reason: crate::invigilation::WarningReason,
        text: String,
    },
    /// The clock stopped for this paper (a pause of the seat or the room).
    ExamPaused { booking_number: String, paper_id: String, reason: crate::invigilation::PauseReason },
    /// The clock runs again; `deadline` (Unix ms, server clock) moved by the time paused.
    ExamResumed { booking_number: String, paper_id: String, deadline: i64 },
    /// The paper's deadline changed (an extension); Unix ms, server clock.
    ExamDeadline {
        booking_number: String,
        paper_id: String,
        deadline: i64,
        reason: crate::invigilation::ExtensionReason,
    },
    /// End-of-time reminder: `minutes` left to `deadline` (Unix ms, server clock).
    ExamReminder { booking_number: String, paper_id: String, minutes: u32, deadline: i64 },
}

/// The agent's answer to a [`PushMessage`] on the same socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushAck {
    pub ack: String,
}

/// Every error of the server: `{"error": {"kind", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerErrorBody {
    pub error: ServerError,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerError {
    /// Machine-readable: `unsigned`, `bad_signature`, `stale`, `replayed`,
    /// `not_bound`, `binding_mismatch`, `wrong_seat`, `too_large`,
    /// `bad_request`, `conflict`, `not_found`, `unauthorized`, `forbidden`,
    /// `internal`, ...
    pub kind: String,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_item_is_tagged_by_kind() {
        let d = Delivery {
            seat: Some("7".into()),
            exam: "k1".into(),
            created_at: Timestamp::from_unix_millis(0),
            item: DeliveryItem::Answers {
                candidate: "ab12".into(),
                answers: vec![Answer { question: "q1".into(), choice: "A".into() }],
            },
        };
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(
            json,
            r#"{"seat":"7","exam":"k1","created_at":"1970-01-01T00:00:00.000Z","item":{"kind":"answers","candidate":"ab12","answers":[{"question":"q1","choice":"A"}]}}"#
        );
        assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), d);
    }

    #[test]
    fn commands_are_tagged_by_type() {
        let m = PushMessage { id: "c1".into(), command: Command::Warning { text: "eyes on your screen".into() } };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"id":"c1","command":{"type":"warning","text":"eyes on your screen"}}"#
        );
    }

    #[test]
    fn exam_items_and_commands_keep_their_names() {
        let item = DeliveryItem::ExamSubmit {
            booking_number: "b".into(),
            paper_id: "p".into(),
            seq: 9,
            reason: crate::exam::SubmitReason::Candidate,
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"kind":"exam_submit","booking_number":"b","paper_id":"p","seq":9,"reason":"candidate"}"#
        );
        let ready = Command::ExamReady { booking_number: "b".into(), paper_id: "p".into() };
        assert_eq!(
            serde_json::to_string(&ready).unwrap(),
            r#"{"type":"exam_ready","booking_number":"b","paper_id":"p"}"#
        );
    }

    #[test]
    fn enrol_response_without_server_key_reads_and_writes_as_before() {
        let old = r#"{"key_id":"k","state":"bound","seat":"3"}"#;
        let r: EnrolResponse = serde_json::from_str(old).unwrap();
        assert_eq!(r.server_key, None);
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
    }

    #[test]
    fn heartbeat_rejects_unknown_fields() {
        let err = serde_json::from_str::<Heartbeat>(r#"{"devices":[],"outbox_pending":0,"sneaky":1}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
