//! Webcams for examgate: the only crate that links `nokhwa`.
//!
//! - [`WebcamFactory`] lists cameras with their modes and opens one in the
//!   mode a [`ModeRequest`] negotiates; [`WebcamSelector`] is its
//!   `webcam[:INDEX|:NAME][?size=WxH&format=..&fps=N]` selector.
//! - The opened camera streams on its own thread, so a capture honours its
//!   timeout, and it notices an unplug and finds the camera again on replug.
//! - [`convert`] turns MJPEG, YUYV, NV12 and RGB frames (from any
//!   [`Camera`](examgate_device_sdk::Camera), simulated ones included) into
//!   RGB and a JPEG of bounded size and chosen quality.
//! - [`VideoBackend`] is the seam under the driver: V4L2 through nokhwa with
//!   the `v4l2` feature (default), or a backend a test supplies.
//!
//! ```no_run
//! use examgate_device_sdk::DriverFactory;
//! use examgate_webcam::WebcamFactory;
//! let factory = WebcamFactory::v4l2("webcam:0?size=640x480".parse().unwrap());
//! for camera in factory.cameras().unwrap() {
//!     println!("{}: {:?}", camera.id, camera.description.modes);
//! }
//! let mut device = factory.open(&factory.discover().unwrap()[0].id).unwrap();
//! let frame = device.as_camera().unwrap().capture(std::time::Duration::from_secs(2)).unwrap();
//! let jpeg = examgate_webcam::convert::frame_to_jpeg(&frame, &Default::default()).unwrap();
//! ```

pub mod backend;
pub mod convert;
mod device;
mod mode;
mod selector;
#[cfg(feature = "v4l2")]
mod v4l2;

pub use backend::{CameraDescription, VideoBackend, VideoStream};
pub use device::{CameraListing, Webcam, WebcamFactory, device_id_for};
pub use mode::{Mode, ModeRequest, ModeRequestError, format_name, parse_format};
pub use selector::{CameraRef, WebcamSelector, WebcamSelectorError};
#[cfg(feature = "v4l2")]
pub use v4l2::V4l2Backend;
