//! The simulated camera as a plugin: frames cross the C ABI's camera table
//! in-process and through a driver host, and its faults are scripted
//! through the simulation hooks.

use std::path::Path;
use std::time::Duration;

use examgate_agent::host::{HostOptions, HostedPlugin};
use examgate_device_sdk::loader::PluginLibrary;
use examgate_device_sdk::{DeviceClass, DeviceId, DriverFactory, ErrorKind, PixelFormat, SimCommand, SimScene};

fn mean_luma(frame: &examgate_device_sdk::Frame) -> f64 {
    let rgb = examgate_webcam::convert::to_rgb(frame).expect("frame decodes");
    let sum: u64 =
        rgb.pixels().map(|p| (u64::from(p[0]) * 299 + u64::from(p[1]) * 587 + u64::from(p[2]) * 114) / 1000).sum();
    sum as f64 / f64::from(rgb.width() * rgb.height())
}

fn exercise(factory: &dyn DriverFactory) {
    assert!(factory.classes().contains(DeviceClass::Camera));
    let info = factory.discover().unwrap().into_iter().next().expect("a camera");
    let mut cam = factory.open(&DeviceId::new(info.id.to_string()).unwrap()).unwrap();
    let t = Duration::from_secs(5);

    let frame = cam.as_camera().expect("camera capability").capture(t).unwrap();
    assert_eq!((frame.width, frame.height, frame.format), (640, 480, PixelFormat::Yuyv));
    assert_eq!(frame.data.len(), 640 * 480 * 2);
    let lit = mean_luma(&frame);

    cam.as_sim().unwrap().control(&SimCommand::Scene(SimScene::Covered)).unwrap();
    let dark = mean_luma(&cam.as_camera().unwrap().capture(t).unwrap());
    assert!(dark < 35.0 && lit > dark + 40.0, "covered lens: luma {dark} vs {lit}");

    cam.as_sim().unwrap().control(&SimCommand::Scene(SimScene::Subject)).unwrap();
    cam.as_sim().unwrap().control(&SimCommand::Unplug).unwrap();
    let err = cam.as_camera().unwrap().capture(t).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected, "{err}");
    cam.as_sim().unwrap().control(&SimCommand::Plug).unwrap();
    cam.as_camera().unwrap().capture(t).expect("back after replug");

    // A fingerprint command means nothing to a camera: a clear refusal.
    let err = cam.as_sim().unwrap().control(&SimCommand::PlaceFinger(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

fn plugin() -> std::path::PathBuf {
    examgate_e2e::artifact("libexamgate_sim_camera_plugin.so")
}

#[test]
fn camera_frames_cross_the_abi_in_process() {
    exercise(&PluginLibrary::load(&plugin()).unwrap());
}

#[test]
fn camera_frames_cross_the_driver_host() {
    let host = HostedPlugin::spawn(
        Path::new(&plugin()),
        HostOptions { agent_exe: Some(examgate_e2e::agent_binary()), ..Default::default() },
    )
    .unwrap();
    exercise(&host);
    assert_eq!(host.restarts(), 0);
}
