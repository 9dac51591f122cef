//! Real cameras through V4L2, by way of nokhwa: the only module that names
//! a nokhwa type.

use examgate_device_sdk::{DeviceError, Frame, PixelFormat};
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};
use nokhwa::{Camera as NokhwaCamera, NokhwaError};

use crate::Mode;
use crate::backend::{CameraDescription, VideoBackend, VideoStream};

/// Every frame format nokhwa knows, so that listing sees them all; the
/// ones this driver cannot decode are dropped afterwards.
const ALL_FORMATS: [FrameFormat; 6] = [
    FrameFormat::MJPEG,
    FrameFormat::YUYV,
    FrameFormat::NV12,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

fn pixel_format(f: FrameFormat) -> Option<PixelFormat> {
    match f {
        FrameFormat::MJPEG => Some(PixelFormat::Mjpeg),
        FrameFormat::YUYV => Some(PixelFormat::Yuyv),
        FrameFormat::NV12 => Some(PixelFormat::Nv12),
        FrameFormat::RAWRGB => Some(PixelFormat::Rgb24),
        FrameFormat::RAWBGR | FrameFormat::GRAY => None,
    }
}

fn frame_format(f: PixelFormat) -> FrameFormat {
    match f {
        PixelFormat::Mjpeg => FrameFormat::MJPEG,
        PixelFormat::Yuyv => FrameFormat::YUYV,
        PixelFormat::Nv12 => FrameFormat::NV12,
        PixelFormat::Rgb24 => FrameFormat::RAWRGB,
    }
}

fn map_err(e: NokhwaError, doing: &str) -> DeviceError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("no such device") || lower.contains("no such file") {
        DeviceError::NotConnected(format!("{doing}: {text}"))
    } else if lower.contains("busy") {
        DeviceError::Busy(format!("{doing}: another program is using the camera ({text})"))
    } else if lower.contains("permission denied") {
        DeviceError::Driver(format!("{doing}: {text}; add the agent's user to the `video` group"))
    } else {
        DeviceError::Protocol(format!("{doing}: {text}"))
    }
}

/// V4L2 cameras (`/dev/video*`).
#[derive(Clone, Copy, Debug, Default)]
pub struct V4l2Backend;

impl VideoBackend for V4l2Backend {
    fn name(&self) -> &str {
        "v4l2"
    }

    fn list(&self) -> Result<Vec<CameraDescription>, DeviceError> {
        let infos = nokhwa::query(ApiBackend::Video4Linux).map_err(|e| map_err(e, "list cameras"))?;
        let mut cameras = Vec::new();
        for info in infos {
            let Ok(index) = info.index().as_index() else { continue };
            let mut description = CameraDescription {
                index,
                name: info.human_name(),
                driver: String::new(),
                bus: info.description().to_owned(),
                modes: Vec::new(),
            };
            // nokhwa learns the formats and the driver only by opening the
            // device; it is closed again when `camera` drops.
            let request = RequestedFormat::with_formats(RequestedFormatType::None, &ALL_FORMATS);
            match NokhwaCamera::with_backend(CameraIndex::Index(index), request, ApiBackend::Video4Linux) {
                Ok(mut camera) => {
                    description.driver = camera.info().description().to_owned();
                    description.bus = camera.info().misc();
                    description.modes = camera
                        .compatible_camera_formats()
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|f| {
                            Some(Mode::new(f.width(), f.height(), pixel_format(f.format())?, f.frame_rate()))
                        })
                        .collect();
                }
                // A node without any video format (a UVC metadata node) is no camera.
                Err(NokhwaError::GetPropertyError { property, .. }) if property == "CameraFormat" => continue,
                // Busy in another program: list it anyway, without its modes.
                Err(e) => tracing::debug!(index, error = %e, "cannot query camera formats"),
            }
            cameras.push(description);
        }
        Ok(cameras)
    }

    fn open(&self, camera: &CameraDescription, mode: Mode) -> Result<Box<dyn VideoStream>, DeviceError> {
        let format = frame_format(mode.format);
        let exact = CameraFormat::new(Resolution::new(mode.width, mode.height), format, mode.fps);
        let wanted = [format];
        let request = RequestedFormat::with_formats(RequestedFormatType::Exact(exact), &wanted);
        let doing = format!("open camera {} ({})", camera.name, camera.bus);
        let mut inner = NokhwaCamera::with_backend(CameraIndex::Index(camera.index), request, ApiBackend::Video4Linux)
            .map_err(|e| map_err(e, &doing))?;
        inner.open_stream().map_err(|e| map_err(e, &doing))?;
        let actual = inner.camera_format();
        let mode = Mode::new(
            actual.width(),
            actual.height(),
            pixel_format(actual.format()).unwrap_or(mode.format),
            actual.frame_rate(),
        );
        let driver = inner.info().description().to_owned();
        Ok(Box::new(V4l2Stream { inner, mode, driver }))
    }
}

struct V4l2Stream {
    inner: NokhwaCamera,
    mode: Mode,
    driver: String,
}

impl VideoStream for V4l2Stream {
    fn mode(&self) -> Mode {
        self.mode
    }

    fn driver(&self) -> String {
        self.driver.clone()
    }

    fn next_frame(&mut self) -> Result<Frame, DeviceError> {
        let data = self.inner.frame_raw().map_err(|e| map_err(e, "read a frame"))?.into_owned();
        Ok(Frame { width: self.mode.width, height: self.mode.height, format: self.mode.format, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_works_without_any_camera() {
        // This machine has no /dev/video*: listing must succeed, not fail.
        let cameras = V4l2Backend.list().expect("list V4L2 cameras");
        for c in &cameras {
            assert!(!c.name.is_empty());
        }
    }

    #[test]
    fn formats_map_both_ways() {
        for f in [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24] {
            assert_eq!(pixel_format(frame_format(f)), Some(f));
        }
        assert_eq!(pixel_format(FrameFormat::GRAY), None);
    }
}
