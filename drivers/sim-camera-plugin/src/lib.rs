//! The simulated camera (`sim:camera`) as a driver plugin: what a camera
//! vendor's plugin looks like through the C ABI's camera table. Faults are
//! scripted through the ABI's simulation hooks (`cover`, `freeze`, `slow MS`,
//! `unplug`, ...). Build: `cargo build -p examgate-sim-camera-plugin`.

use examgate_sim::camera::{SimCameraConfig, SimCameraFactory};

examgate_device_sdk::export_plugin! {
    factory: SimCameraFactory = SimCameraFactory::new(SimCameraConfig::default()),
    vendor: "examgate example",
    version: env!("CARGO_PKG_VERSION"),
}
