//! What the driver needs from a video source. V4L2 through nokhwa is one
//! backend; tests hand in another (the simulated camera), so everything
//! above this trait (negotiation, the capture thread, timeouts, replug) is
//! tested without a camera.

use examgate_device_sdk::{DeviceError, Frame};

use crate::Mode;

/// A camera as a backend lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDescription {
    /// The backend's index (`/dev/videoN` for V4L2); may change on replug.
    pub index: u32,
    /// The card name (`HD Pro Webcam C920`, `Dummy video device (0x0000)`).
    pub name: String,
    /// The kernel driver, if known (`uvcvideo`, `v4l2 loopback`).
    pub driver: String,
    /// Where it sits (`usb-0000:00:14.0-1`, `/dev/video0`).
    pub bus: String,
    /// The modes it offers, as far as the backend could tell.
    pub modes: Vec<Mode>,
}

/// Lists cameras and opens them.
pub trait VideoBackend: Send + Sync + 'static {
    /// Short name for messages (`v4l2`).
    fn name(&self) -> &str;
    /// The cameras present now.
    fn list(&self) -> Result<Vec<CameraDescription>, DeviceError>;
    /// Start streaming `camera` in `mode`. Called on the device's own
    /// capture thread, so the stream need not be `Send`.
    fn open(&self, camera: &CameraDescription, mode: Mode) -> Result<Box<dyn VideoStream>, DeviceError>;
}

/// A camera that is streaming.
pub trait VideoStream {
    /// The mode the camera actually streams in.
    fn mode(&self) -> Mode;
    /// The driver, as the opened device reports it (may say more than the listing).
    fn driver(&self) -> String;
    /// The next frame; blocks until the camera delivers one. A camera that
    /// was unplugged gives an error here.
    fn next_frame(&mut self) -> Result<Frame, DeviceError>;
}
