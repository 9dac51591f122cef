//! Bodies of the agent's REST API under `/v1/` (and the one legacy request
//! body that is JSON).

use serde::{Deserialize, Serialize};

/// Version of the agent API these types describe; `GET /v1/health` reports
/// it. It changes only when a change would break an existing client.
pub const API_VERSION: u32 = 1;

/// `GET /v1/health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub api_version: u32,
    /// The agent's own version (`0.1.0`).
    pub agent_version: String,
    /// Devices the agent manages.
    pub devices: u32,
    /// Of those, the ones attached and usable now (ready or busy).
    pub devices_ready: u32,
    /// What keeps the status from `ok`: each configured selector that serves
    /// no device now (a plugin that failed to load, a reader not found yet)
    /// and each device that is not attached. Empty when the status is `ok`.
    #[serde(default)]
    pub missing: Vec<Missing>,
}

/// One thing `GET /v1/health` finds missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// The configured selector (`plugin:/opt/acme/libfp.so`).
    pub selector: String,
    /// The device, when the selector serves others but this one is not attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub state: SelectorState,
    /// Why, for a person.
    pub reason: String,
}

/// Whether every configured device is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// The agent serves and every device is attached.
    Ok,
    /// The agent serves but a device is missing or disabled.
    Degraded,
}

/// A device class as named on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClassName {
    Fingerprint,
    Idcard,
    Camera,
}

/// What a device is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Attached and idle.
    Ready,
    /// Attached and serving a request (a capture holds it).
    Busy,
    /// Open, but the device says it may not be used now.
    Disabled,
    /// Not attached; the agent reopens it as soon as it returns.
    Disconnected,
}

/// One entry of `GET /v1/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// The selector the device came from (`sim:fingerprint`).
    pub selector: String,
    /// The device's id in the agent; the `device` field of requests.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The driver that serves it (`sim-fingerprint`).
    pub driver: String,
    pub classes: Vec<DeviceClassName>,
    pub state: DeviceState,
}

/// What a configured selector is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectorState {
    /// One of its devices is attached and idle.
    Ready,
    /// Its devices are attached, all serving requests.
    Busy,
    /// Its driver is loaded but serves no usable device now (none found
    /// yet, unplugged, disabled, pcscd away); `reason` says which. The agent
    /// keeps looking.
    Waiting,
    /// Its plugin cannot be loaded (missing file, wrong ABI, crashed or hung
    /// while loading, bad descriptor); `reason` says why and `next_retry`
    /// when the agent tries again (at once when the file changes).
    Failed,
}

/// One configured selector of `GET /v1/devices`, attached or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectorEntry {
    /// The selector as configured (`plugin:/opt/acme/libfp.so`).
    pub selector: String,
    pub state: SelectorState,
    /// Why it is `waiting` or `failed`, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When a `failed` plugin is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry: Option<crate::Timestamp>,
    /// Failed load attempts in a row (0 once it loads).
    #[serde(default)]
    pub failures: u32,
    /// The ids of its devices in `devices`.
    #[serde(default)]
    pub devices: Vec<String>,
}

/// `GET /v1/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    pub devices: Vec<DeviceEntry>,
    /// Every configured selector with its state, including those that
    /// serve no device (absent from an older agent's answer).
    #[serde(default)]
    pub selectors: Vec<SelectorEntry>,
}

/// `POST /v1/fingerprint/template`; an empty body means all defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Device id; default: the first attached fingerprint reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// How long to wait for a finger; default: the agent's capture timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// A captured template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateResponse {
    /// Standard padded base64 of the template's bytes.
    pub template: String,
    /// `iso19794-2`, `ansi378` or `vendor:NAME`.
    pub format: String,
    /// The device that captured it.
    pub device: String,
    /// Capture quality 0..=100 as the reader judged it; 0 if unknown.
    pub quality: u8,
}

/// `POST /v1/fingerprint/match`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// The fresh template, standard padded base64.
    pub template: String,
    /// The enrolled template, standard padded base64.
    pub enrolled: String,
    /// Device whose matcher to use; default: the agent's built-in matcher
    /// for the templates' format, else the first fingerprint reader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// A comparison on the seeds' 1..=1000 scale; above 800 is a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchResponse {
    pub score: u16,
    #[serde(rename = "match")]
    pub is_match: bool,
}

/// `GET /v1/fingerprint/enabled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnabledResponse {
    pub enabled: bool,
}

/// `POST /v1/sim/{device}/command`: script a simulated device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimCommandRequest {
    /// `finger N`, `lift`, `unplug`, `plug` or `poor-quality N`.
    pub command: String,
}

/// `POST /legacy/MatchSampleTemplate` as JSON (the same fields also come
/// form-urlencoded). Names are the seeds', word for word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyMatchRequest {
    /// The fresh template, base64.
    #[serde(rename = "Template")]
    pub template: String,
    /// The enrolled template, base64.
    #[serde(rename = "OldTemplate")]
    pub old_template: String,
}

/// Every error response of `/v1/`: `{"error": {"kind", "message", "retry"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ApiError,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// Whether the same request can succeed later.
    pub retry: bool,
}

/// Machine-readable error kinds. The device kinds are the SDK's; the rest
/// are the agent's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiErrorKind {
    // Device errors.
    NotConnected,
    Busy,
    Timeout,
    NoFinger,
    PoorQuality,
    NoCard,
    CardRemoved,
    Protocol,
    Driver,
    InvalidArgument,
    Unsupported,
    FormatMismatch,
    Panic,
    // Agent errors.
    /// The request body or a parameter is malformed.
    BadRequest,
    /// The template's bytes are in no format the agent recognises.
    UnknownFormat,
    /// No such device, or no device of the needed class.
    NotFound,
    /// A cross-origin caller without the configured API token.
    Unauthorized,
    /// An origin (or host) the agent does not serve.
    Forbidden,
    /// The snapshot store is full: new snapshots are not being kept until
    /// the exam server confirms the waiting ones.
    StoreFull,
    /// A bug in the agent.
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn to_json<T: Serialize>(value: &T) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn match_response_uses_the_field_name_match() {
        let r = MatchResponse { score: 912, is_match: true };
        assert_eq!(to_json(&r), json!({"score": 912, "match": true}));
    }

    #[test]
    fn template_response_has_the_documented_fields() {
        let r = TemplateResponse {
            template: "RUdTRg==".into(),
            format: "vendor:examgate-sim".into(),
            device: "sim-fp-0".into(),
            quality: 81,
        };
        assert_eq!(
            to_json(&r),
            json!({"template": "RUdTRg==", "format": "vendor:examgate-sim", "device": "sim-fp-0", "quality": 81})
        );
    }

    #[test]
    fn error_body_nests_kind_message_and_retry() {
        let body = ErrorBody { error: ApiError { kind: ApiErrorKind::NoFinger, message: "place".into(), retry: true } };
        assert_eq!(to_json(&body), json!({"error": {"kind": "no_finger", "message": "place", "retry": true}}));
    }

    #[test]
    fn device_entry_names_classes_and_state_in_snake_case() {
        let e = DeviceEntry {
            selector: "sim:fingerprint".into(),
            id: "sim-fp-0".into(),
            name: "sim".into(),
            driver: "sim-fingerprint".into(),
            classes: vec![DeviceClassName::Fingerprint, DeviceClassName::Idcard],
            state: DeviceState::Disconnected,
        };
        let v = to_json(&DeviceList { devices: vec![e], selectors: Vec::new() });
        assert_eq!(v["devices"][0]["classes"], json!(["fingerprint", "idcard"]));
        assert_eq!(v["devices"][0]["state"], json!("disconnected"));
        assert_eq!(v["devices"][0]["selector"], json!("sim:fingerprint"));
    }

    #[test]
    fn health_reports_the_api_version() {
        let h = Health {
            status: HealthStatus::Ok,
            api_version: API_VERSION,
            agent_version: "0.1.0".into(),
            devices: 1,
            devices_ready: 1,
            missing: Vec::new(),
        };
        assert_eq!(
            to_json(&h),
            json!({"status": "ok", "api_version": 1, "agent_version": "0.1.0", "devices": 1, "devices_ready": 1,
                   "missing": []})
        );
    }

    #[test]
    fn a_failed_selector_says_why_and_when_it_is_tried_again() {
        let failed = SelectorEntry {
            selector: "plugin:/opt/acme/libfp.so".into(),
            state: SelectorState::Failed,
            reason: Some("plugin libfp.so: ABI version 999, this agent speaks 1".into()),
            next_retry: Some(crate::Timestamp::from_unix_millis(1_700_000_000_123)),
            failures: 2,
            devices: Vec::new(),
        };
        assert_eq!(
            to_json(&failed),
            json!({"selector": "plugin:/opt/acme/libfp.so", "state": "failed",
                   "reason": "plugin libfp.so: ABI version 999, this agent speaks 1",
                   "next_retry": "2023-11-14T22:13:20.123Z", "failures": 2, "devices": []})
        );
        let ready = json!({"selector": "sim:fingerprint", "state": "ready", "devices": ["sim-fp-0"]});
        let parsed: SelectorEntry = serde_json::from_value(ready).unwrap();
        assert_eq!((parsed.state, parsed.reason, parsed.failures), (SelectorState::Ready, None, 0));
    }

    #[test]
    fn lists_and_health_of_an_older_agent_still_parse() {
        let list: DeviceList = serde_json::from_value(json!({"devices": []})).unwrap();
        assert!(list.selectors.is_empty());
        let h: Health = serde_json::from_value(
            json!({"status": "degraded", "api_version": 1, "agent_version": "0.1.0", "devices": 1, "devices_ready": 0}),
        )
        .unwrap();
        assert!(h.missing.is_empty());
    }

    #[test]
    fn requests_take_optional_fields_and_reject_unknown_ones() {
        let r: MatchRequest = serde_json::from_value(json!({"template": "a", "enrolled": "b"})).unwrap();
        assert_eq!(r.device, None);
        let r: TemplateRequest = serde_json::from_value(json!({})).unwrap();
        assert_eq!(r, TemplateRequest::default());
        let err = serde_json::from_value::<MatchRequest>(json!({"template": "a", "enrolled": "b", "devcie": "x"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("devcie"), "{err}");
        assert!(serde_json::from_value::<MatchRequest>(json!({"template": "a"})).is_err());
    }

    #[test]
    fn legacy_match_request_uses_the_seeds_field_names() {
        let r: LegacyMatchRequest = serde_json::from_value(json!({"Template": "a", "OldTemplate": "b"})).unwrap();
        assert_eq!((r.template.as_str(), r.old_template.as_str()), ("a", "b"));
        assert_eq!(to_json(&r), json!({"Template": "a", "OldTemplate": "b"}));
    }

    #[test]
    fn responses_tolerate_fields_from_a_newer_agent() {
        let r: EnabledResponse = serde_json::from_value(json!({"enabled": true, "since": 5})).unwrap();
        assert!(r.enabled);
    }
}
