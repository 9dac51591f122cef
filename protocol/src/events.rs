//! Events pushed on the `/v1/events` WebSocket, one JSON text message each.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

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
}

impl Event {
    /// The device id the event is about.
    pub fn device(&self) -> &str {
        match self {
            Event::DeviceAttached { device, .. }
            | Event::DeviceDetached { device, .. }
            | Event::FingerPlaced { device, .. }
            | Event::FingerLifted { device, .. } => device,
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
        ];
        for (event, tag) in cases {
            let v = serde_json::to_value(&event).unwrap();
            assert_eq!(v, json!({"type": tag, "device": "fp", "timestamp": "2023-11-14T22:13:20.123Z"}));
            assert_eq!(serde_json::from_value::<Event>(v).unwrap(), event);
            assert_eq!(event.device(), "fp");
        }
    }

    #[test]
    fn unknown_event_types_are_an_error() {
        let v = json!({"type": "card_inserted", "device": "x", "timestamp": "2023-11-14T22:13:20.123Z"});
        assert!(serde_json::from_value::<Event>(v).is_err());
    }
}
