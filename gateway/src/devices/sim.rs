//! Scripting the built-in simulators from outside their device threads, so
//! a finger can be placed while a capture waits for one and a camera's lens
//! covered while the agent owns it.

use examgate_device_sdk::{DeviceError, DeviceId, SimCommand};
use examgate_sim::camera::CameraCommand;
use examgate_sim::{SimCameraFactory, SimFingerprintFactory};

use crate::error::AppError;

/// Applies a simulator script line (`finger 3`, `cover`, `unplug`) to one
/// of a driver's simulated devices.
pub trait SimBackdoor: Send + Sync {
    fn apply(&self, device: &DeviceId, command: &str) -> Result<(), AppError>;
}

fn no_such(device: &DeviceId, what: &str) -> AppError {
    AppError::Device(DeviceError::NotConnected(format!("no simulated {what} {device}")))
}

impl SimBackdoor for SimFingerprintFactory {
    fn apply(&self, device: &DeviceId, command: &str) -> Result<(), AppError> {
        let command: SimCommand = command.parse().map_err(|e| AppError::BadRequest(format!("{e}")))?;
        let handle = self.handle(device.as_str()).ok_or_else(|| no_such(device, "reader"))?;
        Ok(handle.apply(&command)?)
    }
}

impl SimBackdoor for SimCameraFactory {
    fn apply(&self, device: &DeviceId, command: &str) -> Result<(), AppError> {
        let command: CameraCommand = command.parse().map_err(|e| AppError::BadRequest(format!("{e}")))?;
        let handle = self.handle(device.as_str()).ok_or_else(|| no_such(device, "camera"))?;
        handle.apply(command);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_simulator_reads_its_own_script_lines() {
        let id = |s: &str| DeviceId::new(s).unwrap();
        let fp = SimFingerprintFactory::default();
        assert!(fp.apply(&id("sim-fp-0"), "finger 2").is_ok());
        let err = fp.apply(&id("sim-fp-0"), "cover").unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::Unsupported, "{err}");
        let err = fp.apply(&id("sim-fp-0"), "explode").unwrap_err();
        assert_eq!(err.kind(), examgate_protocol::ApiErrorKind::BadRequest);
        let cam = SimCameraFactory::default();
        assert!(cam.apply(&id("sim-cam-0"), "cover").is_ok());
        assert!(cam.apply(&id("sim-cam-0"), "slow 20").is_ok());
        assert!(cam.apply(&id("sim-cam-0"), "finger 2").unwrap_err().to_string().contains("cover"));
        assert_eq!(
            cam.apply(&id("sim-cam-9"), "cover").unwrap_err().kind(),
            examgate_protocol::ApiErrorKind::NotConnected
        );
    }
}
