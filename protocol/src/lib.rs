//! Wire types of examgate: the seat agent's local API (REST bodies and the
//! `/v1/events` WebSocket), the ID card JSON ([`idcard`]) and snapshots
//! ([`camera`]). Knows no device and no transport; only `serde`.
//!
//! Every type serialises to the JSON the agent's OpenAPI document
//! (`/v1/openapi.json`) describes. Request types reject unknown fields so a
//! misspelt field is an error rather than silently ignored; response types
//! accept unknown fields so an older client can read a newer agent.
//!
//! ```
//! use examgate_protocol::{Event, Timestamp};
//! let e = Event::FingerPlaced { device: "sim-fp-0".into(), timestamp: Timestamp::from_unix_millis(0) };
//! assert_eq!(
//!     serde_json::to_string(&e).unwrap(),
//!     r#"{"type":"finger_placed","device":"sim-fp-0","timestamp":"1970-01-01T00:00:00.000Z"}"#
//! );
//! ```

mod agent;
pub mod camera;
mod events;
mod time;

pub use agent::{
    API_VERSION, ApiError, ApiErrorKind, DeviceClassName, DeviceEntry, DeviceList, DeviceState, EnabledResponse,
    ErrorBody, Health, HealthStatus, LegacyMatchRequest, MatchRequest, MatchResponse, SimCommandRequest,
    TemplateRequest, TemplateResponse,
};
pub use agent::{Missing, SelectorEntry, SelectorState};
pub use events::Event;
pub use time::{Timestamp, TimestampError};
pub mod exam;
pub mod idcard;
pub mod invigilation;
pub mod link;
pub mod login;
