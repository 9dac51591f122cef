//! The whole webcam driver (listing, negotiation, the capture thread,
//! timeouts, unplug and replug, conversion) against the simulated camera,
//! which stands in for V4L2 behind the same `VideoBackend` trait.

use std::sync::Arc;
use std::time::Duration;

use examgate_device_sdk::{Device, DeviceError, DriverFactory, ErrorKind, Frame, PixelFormat};
use examgate_sim::camera::{CameraCommand, SimCamera, SimMode};
use examgate_sim::{SimCameraConfig, SimCameraFactory, SimCameraHandle};
use examgate_webcam::convert::{JpegOptions, frame_to_jpeg, to_rgb};
use examgate_webcam::{CameraDescription, Mode, VideoBackend, VideoStream, WebcamFactory};

/// The simulated camera as a video backend.
struct SimBackend(Arc<SimCameraFactory>);

impl VideoBackend for SimBackend {
    fn name(&self) -> &str {
        "sim"
    }

    fn list(&self) -> Result<Vec<CameraDescription>, DeviceError> {
        let modes: Vec<Mode> = self.0.modes().iter().map(|m| Mode::new(m.width, m.height, m.format, m.fps)).collect();
        Ok(self
            .0
            .discover()?
            .into_iter()
            .enumerate()
            .map(|(i, d)| CameraDescription {
                index: i as u32,
                name: d.name,
                driver: "examgate-sim".into(),
                bus: d.id.to_string(),
                modes: modes.clone(),
            })
            .collect())
    }

    fn open(&self, camera: &CameraDescription, mode: Mode) -> Result<Box<dyn VideoStream>, DeviceError> {
        let id = camera.bus.parse().map_err(|_| DeviceError::NotConnected("bad id".into()))?;
        let mut cam = self.0.open_camera(&id)?;
        cam.set_mode(SimMode { width: mode.width, height: mode.height, format: mode.format, fps: mode.fps });
        Ok(Box::new(SimStream(cam)))
    }
}

struct SimStream(SimCamera);

impl VideoStream for SimStream {
    fn mode(&self) -> Mode {
        let m = self.0.mode();
        Mode::new(m.width, m.height, m.format, m.fps)
    }
    fn driver(&self) -> String {
        "examgate-sim".into()
    }
    fn next_frame(&mut self) -> Result<Frame, DeviceError> {
        // V4L2 reads block without a timeout; the driver's thread supplies one.
        examgate_device_sdk::Camera::capture(&mut self.0, Duration::from_secs(3600))
    }
}

fn setup(config: SimCameraConfig, selector: &str) -> (WebcamFactory, SimCameraHandle) {
    let sim = Arc::new(SimCameraFactory::new(config));
    let handle = sim.handle("sim-cam-0").unwrap();
    (WebcamFactory::with_backend(Arc::new(SimBackend(sim)), selector.parse().unwrap()), handle)
}

fn small() -> SimCameraConfig {
    SimCameraConfig { width: 320, height: 240, ..Default::default() }
}

fn open_first(factory: &WebcamFactory) -> Box<dyn Device> {
    let found = factory.discover().unwrap();
    factory.open(&found[0].id).unwrap()
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn lists_cameras_with_their_modes_and_filters_by_selector() {
    let config = SimCameraConfig { cameras: 2, name: "USB2.0 HD UVC WebCam".into(), ..small() };
    let (factory, _) = setup(config.clone(), "webcam");
    let found = factory.discover().unwrap();
    let names: Vec<&str> = found.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["USB2.0 HD UVC WebCam [examgate-sim]", "USB2.0 HD UVC WebCam #2 [examgate-sim]"]);
    assert_eq!(found[0].id.as_str(), "USB2.0 HD UVC WebCam");
    let listed = factory.cameras().unwrap();
    assert!(listed[0].description.modes.contains(&Mode::new(1280, 720, PixelFormat::Mjpeg, 30)));
    let (by_index, _) = setup(config.clone(), "webcam:1");
    assert_eq!(by_index.discover().unwrap().len(), 1);
    let (by_name, _) = setup(config.clone(), "webcam:hd uvc");
    assert_eq!(by_name.discover().unwrap().len(), 2);
    let (nobody, _) = setup(config, "webcam:C920");
    assert!(nobody.discover().unwrap().is_empty());
}

#[test]
fn negotiates_the_mode_and_every_format_decodes_to_the_same_picture() {
    let mut means = Vec::new();
    for format in ["mjpeg", "yuyv", "nv12", "rgb24"] {
        let (factory, _) = setup(small(), &format!("webcam?size=320x240&format={format}"));
        let mut cam = open_first(&factory);
        let frame = cam.as_camera().unwrap().capture(SECOND).unwrap();
        assert_eq!((frame.width, frame.height), (320, 240), "{format}");
        assert_eq!(Some(frame.format), examgate_webcam::parse_format(format));
        let rgb = to_rgb(&frame).unwrap();
        let mean: Vec<f64> =
            (0..3).map(|c| rgb.pixels().map(|p| f64::from(p.0[c])).sum::<f64>() / f64::from(320 * 240)).collect();
        means.push((format, mean));
    }
    // The subject moves a little between captures; the colours must agree.
    let (_, reference) = &means[3];
    for (format, mean) in &means {
        for c in 0..3 {
            assert!((mean[c] - reference[c]).abs() < 4.0, "{format} channel {c}: {mean:?} vs rgb24 {reference:?}");
        }
    }
}

#[test]
fn a_frame_becomes_a_bounded_jpeg() {
    let (factory, _) = setup(small(), "webcam?size=1280x720&format=mjpeg");
    let mut cam = open_first(&factory);
    let frame = cam.as_camera().unwrap().capture(SECOND).unwrap();
    assert_eq!((frame.width, frame.height, frame.format), (1280, 720, PixelFormat::Mjpeg));
    let jpeg = frame_to_jpeg(&frame, &JpegOptions { max_width: 320, max_height: 240, quality: 70 }).unwrap();
    assert_eq!((jpeg.width, jpeg.height), (320, 180));
    let back = to_rgb(&Frame { width: 320, height: 180, format: PixelFormat::Mjpeg, data: jpeg.bytes }).unwrap();
    assert_eq!(back.dimensions(), (320, 180));
}

#[test]
fn a_slow_camera_times_out_and_recovers() {
    let (factory, handle) = setup(small(), "webcam?size=320x240");
    let mut dev = open_first(&factory);
    let cam = dev.as_camera().unwrap();
    handle.apply(CameraCommand::Slow(Duration::from_millis(400)));
    // The frame takes 400 ms: a capture that ignored its 100 ms timeout
    // would return it instead of this error.
    let err = cam.capture(Duration::from_millis(100)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    handle.apply(CameraCommand::Slow(Duration::ZERO));
    // The late frame is thrown away, a fresh one returned.
    let before = handle.captures();
    cam.capture(SECOND * 2).unwrap();
    assert_eq!(handle.captures(), before + 2);
}

#[test]
fn notices_an_unplug_and_finds_the_camera_again() {
    let (factory, handle) = setup(small(), "webcam?size=320x240");
    let mut dev = open_first(&factory);
    let cam = dev.as_camera().unwrap();
    cam.capture(SECOND).unwrap();
    handle.apply(CameraCommand::Unplug);
    let err = cam.capture(SECOND).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
    assert!(err.to_string().contains("unplugged"), "{err}");
    // Still gone: the reconnect attempt says so too.
    assert_eq!(cam.capture(SECOND).unwrap_err().kind(), ErrorKind::NotConnected);
    handle.apply(CameraCommand::Plug);
    let frame = cam.capture(SECOND).unwrap();
    assert_eq!((frame.width, frame.height), (320, 240));
}

#[test]
fn open_fails_clearly() {
    let (factory, handle) = setup(small(), "webcam");
    let id = factory.discover().unwrap()[0].id.clone();
    handle.apply(CameraCommand::Unplug);
    assert_eq!(factory.open(&id).err().map(|e| e.kind()), Some(ErrorKind::NotConnected));
    handle.apply(CameraCommand::Plug);
    let (picky, _) = setup(small(), "webcam?format=nv12");
    let only_nv12 = picky.open(&id).unwrap();
    drop(only_nv12);
    let (impossible, _) = setup(SimCameraConfig { ..small() }, "webcam?format=rgb24&size=4000x3000");
    // Largest RGB24 size is taken when nothing covers the request.
    let mut dev = impossible.open(&id).unwrap();
    assert_eq!(dev.as_camera().unwrap().capture(SECOND).unwrap().width, 1280);
}
