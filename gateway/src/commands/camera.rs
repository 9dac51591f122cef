//! `snapshot --device SEL -o FILE.jpg`: one picture, checked, to a file.
//! Not stored in the agent's snapshot store: this is for setting a camera
//! up and for support, not for the exam record.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use anyhow::{Context, bail};
use examgate_device_sdk::{DeviceClass, DriverFactory};
use examgate_webcam::convert::{self, JpegOptions};

use crate::cli::SnapshotArgs;
use crate::drivers;
use crate::host::HostOptions;
use crate::snapshot::{FrameStats, TamperFlag, Thresholds, picture_flags, virtual_camera_marker};

/// `snapshot`: capture one frame, run the picture checks, write the JPEG.
pub fn snapshot(args: SnapshotArgs) -> anyhow::Result<()> {
    let driver = drivers::open(&args.device, &HostOptions::default())?;
    let factory: &dyn DriverFactory = driver.factory.as_ref();
    let Some(info) = factory.discover()?.into_iter().find(|i| i.classes.contains(DeviceClass::Camera)) else {
        bail!(
            "{} finds no camera; check that it is plugged in (`examgate-agent devices --device ...` lists it)",
            args.device
        );
    };
    let mut device = factory.open(&info.id).with_context(|| format!("cannot open camera {}", info.name))?;
    let camera = device.as_camera().with_context(|| format!("{} is not a camera", info.name))?;
    let frame =
        camera.capture(Duration::from_millis(args.timeout_ms)).with_context(|| format!("camera {}", info.name))?;
    let rgb = convert::to_rgb(&frame).with_context(|| format!("camera {} sent an unusable frame", info.name))?;
    let mut flags = picture_flags(&FrameStats::of(&rgb), &Thresholds::default());
    if virtual_camera_marker(&info.name).is_some() {
        flags.insert(TamperFlag::VirtualCamera);
    }
    let jpeg = convert::encode_jpeg(&rgb, &JpegOptions::default()).context("cannot encode the JPEG")?;
    let label = args.output.display();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&args.output)
        .with_context(|| format!("cannot write {label}"))?;
    file.write_all(&jpeg.bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {label}"))?;
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&jpeg.bytes).iter().map(|b| format!("{b:02x}")).collect()
    };
    let found = if flags.is_empty() {
        "none".to_owned()
    } else {
        flags.iter().map(|f| format!("{f} ({})", f.advice())).collect::<Vec<_>>().join(", ")
    };
    println!(
        "{label}: {}x{} JPEG, {} bytes, sha256 {sha}, from {}; flags: {found}",
        jpeg.width,
        jpeg.height,
        jpeg.bytes.len(),
        info.name
    );
    Ok(())
}
