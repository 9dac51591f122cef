//! Device simulators for tests, demos and vendors' conformance runs.
//!
//! - [`fingerprint`]: an in-process fingerprint reader whose fingers, timing,
//!   quality failures and unplugging are scripted; the agent's `sim:fingerprint`.
//! - [`camera`]: an in-process camera (a moving subject, a time stamp, noise)
//!   whose lens is covered, feed frozen, cable pulled on cue; `sim:camera`.
//! - [`sam`]: a GA 467 SAM module on a pseudo-terminal, byte for byte.
//! - [`as60x`]: an AS608 fingerprint module on a pseudo-terminal, byte for
//!   byte, with simulated fingers, scripted captures and unplugging.
//! - [`pty`]: the pseudo-terminal both of those serve, and its `--link`.
//! - [`script`]: what their text scripts share (scenario file or stdin,
//!   `ok LINE` answers, `wait MS`, `quit`).
//! - `testing` (feature `testing`): the simulator binary driven from the
//!   drivers' tests, and their benches' timing tables.
//! - [`card_file`]: simulated ID cards as TOML files (`cards/*.toml`), shared
//!   by the SAM and PC/SC card simulators.
//! - [`bank`]: a whole question bank as an IMS QTI 3.0 content package (twelve
//!   languages, drawn signs, the two exams).
//! - [`roster`]: a simulated day's bookings (CSV, photos, enrolled templates)
//!   whose candidates are the simulated fingers and card holders.

pub mod as60x;
pub mod bank;
pub mod camera;
pub mod card_file;
pub mod fingerprint;
pub mod pty;
mod rng;
pub mod roster;
pub mod sam;
pub mod script;
#[cfg(feature = "testing")]
pub mod testing;
pub mod vpcd;

pub use camera::{CameraCommand, SimCameraConfig, SimCameraFactory, SimCameraHandle};
pub use fingerprint::{SimFingerprintConfig, SimFingerprintFactory, SimFingerprintHandle, SimTemplateFormat};
