//! A simulated camera: `sim:camera`.
//!
//! Each frame shows a room wall and a head and shoulders that drift slowly
//! across the picture, a time stamp drawn in the corner as a camera's
//! on-screen display would, and per-pixel sensor noise, so that no two
//! frames are equal. Frames come in any [`PixelFormat`]: RGB24, YUYV and
//! NV12 (BT.601 limited range, as V4L2 means by default) and MJPEG.
//!
//! Faults are scripted through a [`SimCameraHandle`] while the agent or a
//! test owns the open camera, with [`CameraCommand`]s (their text form,
//! `cover`, `freeze`, `slow 1500`…, is what a test script or the agent's
//! simulator endpoint would send):
//!
//! | command | what the camera does |
//! |---|---|
//! | `cover` | lens covered: nearly black frames with dim noise |
//! | `uniform` | pointed at a blank wall or paper: one flat colour with noise |
//! | `empty` | nobody in front of it: the wall alone |
//! | `subject` | back to normal |
//! | `freeze` / `unfreeze` | repeats the last frame byte for byte, as a stuck or replayed feed |
//! | `slow MS` | each capture takes MS milliseconds (0: normal) |
//! | `unplug` / `plug` | captures fail with `NotConnected` and discovery finds nothing |

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use examgate_device_sdk::{
    Camera, Device, DeviceClass, DeviceClasses, DeviceError, DeviceId, DeviceInfo, DriverFactory, Frame, PixelFormat,
    SimCommand, SimControl, SimScene,
};

use crate::rng::mix;

/// The name simulated cameras report unless configured otherwise.
pub const DEFAULT_NAME: &str = "examgate simulated camera";

/// How simulated cameras look and behave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCameraConfig {
    /// Seeds the noise: the same seed gives the same noise in every run.
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// The frame rate the camera claims.
    pub fps: u32,
    /// The name discovery reports; set it to `OBS Virtual Camera` or
    /// `Dummy video device (0x0000)` to play a virtual camera.
    pub name: String,
    /// How many cameras the factory reports.
    pub cameras: u32,
    /// Sensor noise: each channel of each pixel moves by up to ± this.
    pub noise: u8,
    /// JPEG quality of MJPEG frames.
    pub quality: u8,
    /// What the camera sees at start.
    pub scene: Scene,
    /// Time each capture takes at start (a slow camera).
    pub delay: Duration,
}

impl Default for SimCameraConfig {
    fn default() -> Self {
        SimCameraConfig {
            seed: 0xCA3E7A,
            width: 640,
            height: 480,
            format: PixelFormat::Yuyv,
            fps: 30,
            name: DEFAULT_NAME.to_owned(),
            cameras: 1,
            noise: 6,
            quality: 85,
            scene: Scene::Subject,
            delay: Duration::ZERO,
        }
    }
}

/// What is in front of the lens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scene {
    /// A candidate: head and shoulders against a wall.
    #[default]
    Subject,
    /// The wall alone.
    Empty,
    /// A hand or tape over the lens.
    Covered,
    /// A blank wall or a sheet of paper filling the picture.
    Uniform,
}

impl Scene {
    fn as_str(self) -> &'static str {
        match self {
            Scene::Subject => "subject",
            Scene::Empty => "empty",
            Scene::Covered => "cover",
            Scene::Uniform => "uniform",
        }
    }
}

/// A scripted action on a simulated camera; see the module docs.
///
/// ```
/// use examgate_sim::camera::CameraCommand;
/// use std::time::Duration;
/// assert_eq!("slow 1500".parse::<CameraCommand>().unwrap(), CameraCommand::Slow(Duration::from_millis(1500)));
/// assert_eq!(CameraCommand::Freeze.to_string(), "freeze");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CameraCommand {
    Scene(Scene),
    Freeze,
    Unfreeze,
    Slow(Duration),
    Unplug,
    Plug,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown camera command {0:?}: expected subject, empty, cover, uniform, freeze, unfreeze, slow MS, unplug or plug"
)]
pub struct CameraCommandError(String);

impl FromStr for CameraCommand {
    type Err = CameraCommandError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CameraCommandError(s.to_owned());
        let words: Vec<&str> = s.split_whitespace().collect();
        Ok(match words.as_slice() {
            ["subject"] => CameraCommand::Scene(Scene::Subject),
            ["empty"] => CameraCommand::Scene(Scene::Empty),
            ["cover"] => CameraCommand::Scene(Scene::Covered),
            ["uniform"] => CameraCommand::Scene(Scene::Uniform),
            ["freeze"] => CameraCommand::Freeze,
            ["unfreeze"] => CameraCommand::Unfreeze,
            ["slow", ms] => CameraCommand::Slow(Duration::from_millis(ms.parse().map_err(|_| err())?)),
            ["unplug"] => CameraCommand::Unplug,
            ["plug"] => CameraCommand::Plug,
            _ => return Err(err()),
        })
    }
}

impl fmt::Display for CameraCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CameraCommand::Scene(scene) => f.write_str(scene.as_str()),
            CameraCommand::Freeze => f.write_str("freeze"),
            CameraCommand::Unfreeze => f.write_str("unfreeze"),
            CameraCommand::Slow(d) => write!(f, "slow {}", d.as_millis()),
            CameraCommand::Unplug => f.write_str("unplug"),
            CameraCommand::Plug => f.write_str("plug"),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("sim:camera option {0:?} is not KEY=VALUE")]
    NotKeyValue(String),
    #[error("sim:camera option {key}={value:?}: {why}")]
    BadValue { key: String, value: String, why: &'static str },
    #[error(
        "sim:camera has no option {0:?}; known: seed, size, format, fps, name, cameras, noise, quality, scene, delay_ms"
    )]
    UnknownKey(String),
}

fn parse_format(name: &str) -> Option<PixelFormat> {
    match name {
        "mjpeg" => Some(PixelFormat::Mjpeg),
        "yuyv" => Some(PixelFormat::Yuyv),
        "nv12" => Some(PixelFormat::Nv12),
        "rgb24" => Some(PixelFormat::Rgb24),
        _ => None,
    }
}

impl FromStr for SimCameraConfig {
    type Err = ConfigError;

    /// Parse the query part of a selector:
    /// `size=1280x720&format=mjpeg&name=OBS Virtual Camera&scene=cover&delay_ms=200`.
    fn from_str(query: &str) -> Result<Self, Self::Err> {
        let mut c = SimCameraConfig::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| ConfigError::NotKeyValue(pair.to_owned()))?;
            let bad = |why| ConfigError::BadValue { key: key.to_owned(), value: value.to_owned(), why };
            match key {
                "seed" => c.seed = value.parse().map_err(|_| bad("expected an unsigned integer"))?,
                "size" => {
                    let (w, h) = value.split_once('x').ok_or_else(|| bad("expected WIDTHxHEIGHT"))?;
                    let side = |s: &str| s.parse().ok().filter(|n| (16..=4096).contains(n));
                    c.width = side(w).ok_or_else(|| bad("sides must be 16..=4096"))?;
                    c.height = side(h).ok_or_else(|| bad("sides must be 16..=4096"))?;
                }
                "format" => c.format = parse_format(value).ok_or_else(|| bad("expected mjpeg, yuyv, nv12 or rgb24"))?,
                "fps" => {
                    c.fps =
                        value.parse().ok().filter(|n| (1..=240).contains(n)).ok_or_else(|| bad("expected 1..=240"))?
                }
                "name" if !value.trim().is_empty() => c.name = value.to_owned(),
                "name" => return Err(bad("the name is empty")),
                "cameras" => {
                    c.cameras =
                        value.parse().ok().filter(|n| (1..=8).contains(n)).ok_or_else(|| bad("expected 1..=8"))?
                }
                "noise" => c.noise = value.parse().ok().filter(|n| *n <= 64).ok_or_else(|| bad("expected 0..=64"))?,
                "quality" => {
                    c.quality =
                        value.parse().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| bad("expected 1..=100"))?
                }
                "scene" => match value.parse::<CameraCommand>() {
                    Ok(CameraCommand::Scene(scene)) => c.scene = scene,
                    _ => return Err(bad("expected subject, empty, cover or uniform")),
                },
                "delay_ms" => c.delay = Duration::from_millis(value.parse().map_err(|_| bad("expected milliseconds"))?),
                _ => return Err(ConfigError::UnknownKey(key.to_owned())),
            }
        }
        Ok(c)
    }
}

/// A mode a simulated camera offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimMode {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub fps: u32,
}

#[derive(Debug)]
struct CameraState {
    plugged: bool,
    scene: Scene,
    frozen: bool,
    delay: Duration,
    last_frame: Option<Frame>,
    captures: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<CameraState>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, CameraState> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, command: CameraCommand) {
        let mut s = self.lock();
        match command {
            CameraCommand::Scene(scene) => s.scene = scene,
            CameraCommand::Freeze => s.frozen = true,
            CameraCommand::Unfreeze => s.frozen = false,
            CameraCommand::Slow(delay) => s.delay = delay,
            CameraCommand::Unplug => s.plugged = false,
            CameraCommand::Plug => s.plugged = true,
        }
        drop(s);
        self.changed.notify_all();
    }
}

/// Lists and opens simulated cameras.
pub struct SimCameraFactory {
    config: SimCameraConfig,
    cameras: BTreeMap<DeviceId, Arc<Shared>>,
    epoch: Instant,
}

impl SimCameraFactory {
    pub fn new(config: SimCameraConfig) -> Self {
        let cameras = (0..config.cameras)
            .map(|i| {
                let id = DeviceId::new(format!("sim-cam-{i}")).expect("short ascii id");
                let state = CameraState {
                    plugged: true,
                    scene: config.scene,
                    frozen: false,
                    delay: config.delay,
                    last_frame: None,
                    captures: 0,
                };
                (id, Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new() }))
            })
            .collect();
        SimCameraFactory { config, cameras, epoch: Instant::now() }
    }

    pub fn config(&self) -> &SimCameraConfig {
        &self.config
    }

    /// A handle that scripts a camera from outside while someone else owns it.
    pub fn handle(&self, id: &str) -> Option<SimCameraHandle> {
        let id = DeviceId::new(id).ok()?;
        self.cameras.get(&id).map(|shared| SimCameraHandle { shared: Arc::clone(shared) })
    }

    /// The modes every simulated camera offers: the configured one first,
    /// then 320x240, 640x480 and 1280x720 in each format.
    pub fn modes(&self) -> Vec<SimMode> {
        let c = &self.config;
        let mut modes = vec![SimMode { width: c.width, height: c.height, format: c.format, fps: c.fps }];
        for (width, height) in [(320, 240), (640, 480), (1280, 720)] {
            for format in [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24] {
                let m = SimMode { width, height, format, fps: 30 };
                if !modes.iter().any(|o| (o.width, o.height, o.format) == (width, height, format)) {
                    modes.push(m);
                }
            }
        }
        modes
    }

    fn info(&self, id: &DeviceId) -> DeviceInfo {
        let index = self.cameras.keys().position(|k| k == id).unwrap_or(0);
        let name = if index == 0 { self.config.name.clone() } else { format!("{} #{}", self.config.name, index + 1) };
        DeviceInfo { id: id.clone(), name, classes: DeviceClass::Camera.into() }
    }

    /// Open a camera as its concrete type, whose mode can be changed.
    pub fn open_camera(&self, id: &DeviceId) -> Result<SimCamera, DeviceError> {
        let shared =
            self.cameras.get(id).ok_or_else(|| DeviceError::NotConnected(format!("no simulated camera {id}")))?;
        if !shared.lock().plugged {
            return Err(DeviceError::NotConnected(format!("simulated camera {id} is unplugged")));
        }
        Ok(SimCamera {
            info: self.info(id),
            shared: Arc::clone(shared),
            config: self.config.clone(),
            epoch: self.epoch,
            camera_seed: mix(&[self.config.seed, self.cameras.keys().position(|k| k == id).unwrap_or(0) as u64]),
        })
    }
}

impl Default for SimCameraFactory {
    fn default() -> Self {
        SimCameraFactory::new(SimCameraConfig::default())
    }
}

impl DriverFactory for SimCameraFactory {
    fn name(&self) -> &str {
        "sim-camera"
    }

    fn classes(&self) -> DeviceClasses {
        DeviceClass::Camera.into()
    }

    fn discover(&self) -> Result<Vec<DeviceInfo>, DeviceError> {
        Ok(self.cameras.iter().filter(|(_, s)| s.lock().plugged).map(|(id, _)| self.info(id)).collect())
    }

    fn open(&self, id: &DeviceId) -> Result<Box<dyn Device>, DeviceError> {
        Ok(Box::new(self.open_camera(id)?))
    }
}

/// Scripts one simulated camera.
#[derive(Clone, Debug)]
pub struct SimCameraHandle {
    shared: Arc<Shared>,
}

impl SimCameraHandle {
    pub fn apply(&self, command: CameraCommand) {
        self.shared.apply(command);
    }

    /// Frames delivered so far.
    pub fn captures(&self) -> u64 {
        self.shared.lock().captures
    }
}

/// One open simulated camera.
pub struct SimCamera {
    info: DeviceInfo,
    shared: Arc<Shared>,
    config: SimCameraConfig,
    epoch: Instant,
    camera_seed: u64,
}

impl SimCamera {
    /// Stream in another mode from the next capture on.
    pub fn set_mode(&mut self, mode: SimMode) {
        self.config.width = mode.width;
        self.config.height = mode.height;
        self.config.format = mode.format;
        self.config.fps = mode.fps;
    }

    pub fn mode(&self) -> SimMode {
        let c = &self.config;
        SimMode { width: c.width, height: c.height, format: c.format, fps: c.fps }
    }

    fn unplugged(&self) -> DeviceError {
        DeviceError::NotConnected(format!("simulated camera {} is unplugged", self.info.id))
    }
}

impl Device for SimCamera {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }
    fn as_camera(&mut self) -> Option<&mut dyn Camera> {
        Some(self)
    }
    fn as_sim(&mut self) -> Option<&mut dyn SimControl> {
        Some(self)
    }
}

impl SimControl for SimCamera {
    fn control(&mut self, command: &SimCommand) -> Result<(), DeviceError> {
        match command {
            SimCommand::Unplug => self.shared.apply(CameraCommand::Unplug),
            SimCommand::Plug => self.shared.apply(CameraCommand::Plug),
            SimCommand::Freeze => self.shared.apply(CameraCommand::Freeze),
            SimCommand::Unfreeze => self.shared.apply(CameraCommand::Unfreeze),
            SimCommand::Slow(ms) => self.shared.apply(CameraCommand::Slow(Duration::from_millis(u64::from(*ms)))),
            SimCommand::Scene(scene) => self.shared.apply(CameraCommand::Scene(match scene {
                SimScene::Subject => Scene::Subject,
                SimScene::Empty => Scene::Empty,
                SimScene::Covered => Scene::Covered,
                SimScene::Uniform => Scene::Uniform,
            })),
            other => return Err(DeviceError::Unsupported(format!("a camera cannot `{other}`"))),
        }
        Ok(())
    }
}

impl Camera for SimCamera {
    fn capture(&mut self, timeout: Duration) -> Result<Frame, DeviceError> {
        let start = Instant::now();
        let mut s = self.shared.lock();
        // A slow camera: wait out the delay (or the timeout), waking for an unplug.
        loop {
            if !s.plugged {
                return Err(self.unplugged());
            }
            let elapsed = start.elapsed();
            if elapsed >= s.delay {
                break;
            }
            if elapsed >= timeout {
                return Err(DeviceError::Timeout(format!(
                    "simulated camera {} takes {} ms per frame",
                    self.info.id,
                    s.delay.as_millis()
                )));
            }
            let wait = s.delay.min(timeout) - elapsed;
            s = self.shared.changed.wait_timeout(s, wait).unwrap_or_else(|p| p.into_inner()).0;
        }
        if s.frozen
            && let Some(frame) = s.last_frame.clone()
        {
            s.captures += 1;
            return Ok(frame);
        }
        let (scene, n) = (s.scene, s.captures);
        drop(s);
        let rgb = render(&self.config, scene, self.camera_seed, n, self.epoch.elapsed(), SystemTime::now());
        let frame = encode(&rgb, self.config.width, self.config.height, self.config.format, self.config.quality)?;
        let mut s = self.shared.lock();
        if !s.plugged {
            return Err(self.unplugged());
        }
        s.captures += 1;
        s.last_frame = Some(frame.clone());
        Ok(frame)
    }
}

/// xorshift64*: fast enough to draw noise for every pixel.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A filled ellipse on an RGB buffer: the subject's parts (and the roster's portraits).
pub(crate) struct Ellipse {
    pub(crate) cx: f32,
    pub(crate) cy: f32,
    pub(crate) rx: f32,
    pub(crate) ry: f32,
    pub(crate) colour: [u8; 3],
}

impl Ellipse {
    pub(crate) fn paint(&self, rgb: &mut [u8], width: u32, height: u32) {
        let (w, h) = (width as i64, height as i64);
        let y0 = ((self.cy - self.ry).floor() as i64).clamp(0, h);
        let y1 = ((self.cy + self.ry).ceil() as i64 + 1).clamp(0, h);
        for y in y0..y1 {
            let dy = (y as f32 + 0.5 - self.cy) / self.ry;
            let half = 1.0 - dy * dy;
            if half <= 0.0 {
                continue;
            }
            let span = self.rx * half.sqrt();
            let x0 = ((self.cx - span).round() as i64).clamp(0, w);
            let x1 = ((self.cx + span).round() as i64).clamp(0, w);
            for x in x0..x1 {
                let i = ((y * w + x) * 3) as usize;
                rgb[i..i + 3].copy_from_slice(&self.colour);
            }
        }
    }
}

/// 3x5 glyphs for the time stamp: digits, `:` and `.`; one bit a pixel, rows top down.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        ':' => [0, 2, 0, 2, 0],
        '.' => [0, 0, 0, 0, 2],
        _ => [0; 5],
    }
}

fn draw_text(rgb: &mut [u8], width: u32, height: u32, text: &str, scale: u32) {
    let (w, h) = (width as usize, height as usize);
    let scale = scale as usize;
    let (box_w, box_h) = ((text.len() * 4 + 1) * scale, 7 * scale);
    for y in 0..box_h.min(h) {
        for x in 0..box_w.min(w) {
            let i = (y * w + x) * 3;
            rgb[i..i + 3].copy_from_slice(&[16, 16, 16]);
        }
    }
    for (k, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (x, y) = ((1 + k * 4 + col) * scale + dx, (1 + row) * scale + dy);
                        if x < w && y < h {
                            let i = (y * w + x) * 3;
                            rgb[i..i + 3].copy_from_slice(&[240, 240, 240]);
                        }
                    }
                }
            }
        }
    }
}

/// The RGB picture of one frame.
fn render(c: &SimCameraConfig, scene: Scene, seed: u64, n: u64, since_open: Duration, now: SystemTime) -> Vec<u8> {
    let (w, h) = (c.width as usize, c.height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    let mut noise_amplitude = c.noise;
    match scene {
        Scene::Covered => {
            rgb.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&[10, 8, 8]));
            // Little light reaches the sensor: the noise is dim too.
            noise_amplitude = c.noise / 2;
        }
        Scene::Uniform => rgb.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&[186, 189, 193])),
        Scene::Subject | Scene::Empty => {
            for (y, row) in rgb.chunks_exact_mut(w * 3).enumerate() {
                // A wall lit from above, and a picture rail across it.
                let f = y as f32 / h as f32;
                let mut colour = [(205.0 - 60.0 * f) as u8, (200.0 - 55.0 * f) as u8, (190.0 - 40.0 * f) as u8];
                if (0.18..0.2).contains(&f) {
                    colour = [120, 95, 70];
                }
                row.chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&colour));
            }
            if scene == Scene::Subject {
                let t = since_open.as_secs_f32();
                let s = c.width.min(c.height) as f32;
                let tau = std::f32::consts::TAU;
                let cx = c.width as f32 * (0.5 + 0.12 * (tau * t / 6.0).sin());
                let cy = c.height as f32 * (0.45 + 0.05 * (tau * t / 4.3).sin());
                let parts = [
                    Ellipse { cx, cy: cy + 0.6 * s, rx: 0.45 * s, ry: 0.3 * s, colour: [45, 62, 110] },
                    Ellipse { cx, cy: cy + 0.25 * s, rx: 0.07 * s, ry: 0.1 * s, colour: [214, 160, 128] },
                    Ellipse { cx, cy: cy - 0.06 * s, rx: 0.19 * s, ry: 0.2 * s, colour: [42, 32, 28] },
                    Ellipse { cx, cy: cy + 0.03 * s, rx: 0.16 * s, ry: 0.21 * s, colour: [224, 172, 140] },
                    Ellipse { cx: cx - 0.065 * s, cy, rx: 0.03 * s, ry: 0.014 * s, colour: [35, 30, 40] },
                    Ellipse { cx: cx + 0.065 * s, cy, rx: 0.03 * s, ry: 0.014 * s, colour: [35, 30, 40] },
                    Ellipse { cx, cy: cy + 0.12 * s, rx: 0.05 * s, ry: 0.013 * s, colour: [150, 62, 64] },
                ];
                for part in &parts {
                    part.paint(&mut rgb, c.width, c.height);
                }
            }
            let millis = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
            let day = millis % 86_400_000;
            let stamp =
                format!("{:02}:{:02}:{:02}.{:03}", day / 3_600_000, day / 60_000 % 60, day / 1000 % 60, day % 1000);
            draw_text(&mut rgb, c.width, c.height, &stamp, (c.height / 160).max(1));
        }
    }
    if noise_amplitude > 0 {
        let span = 2 * u64::from(noise_amplitude) + 1;
        let mut noise = Noise(mix(&[seed, n]) | 1);
        for chunk in rgb.chunks_mut(8) {
            let mut bits = noise.next();
            for v in chunk {
                let delta = (bits & 0xFF) % span;
                bits >>= 8;
                *v = (i32::from(*v) + delta as i32 - i32::from(noise_amplitude)).clamp(0, 255) as u8;
            }
        }
    }
    rgb
}

/// RGB to BT.601 limited range Y'CbCr.
fn yuv([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    [y as u8, u as u8, v as u8]
}

/// Pack an RGB picture the way a camera in `format` would send it.
fn encode(rgb: &[u8], width: u32, height: u32, format: PixelFormat, quality: u8) -> Result<Frame, DeviceError> {
    let (w, h) = (width as usize, height as usize);
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        [rgb[i], rgb[i + 1], rgb[i + 2]]
    };
    let data = match format {
        PixelFormat::Rgb24 => rgb.to_vec(),
        PixelFormat::Yuyv => {
            let mut out = Vec::with_capacity(w.div_ceil(2) * 4 * h);
            for y in 0..h {
                for x in (0..w).step_by(2) {
                    let a = yuv(px(x, y));
                    let b = if x + 1 < w { yuv(px(x + 1, y)) } else { a };
                    let (u, v) = ((u16::from(a[1]) + u16::from(b[1])) / 2, (u16::from(a[2]) + u16::from(b[2])) / 2);
                    out.extend_from_slice(&[a[0], u as u8, b[0], v as u8]);
                }
            }
            out
        }
        PixelFormat::Nv12 => {
            let mut out = Vec::with_capacity(w * h + w.div_ceil(2) * 2 * h.div_ceil(2));
            out.extend((0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| yuv(px(x, y))[0]));
            for y in (0..h).step_by(2) {
                for x in (0..w).step_by(2) {
                    // The chroma of the block's top-left pixel: cheap, as many sensors do.
                    let c = yuv(px(x, y));
                    out.extend_from_slice(&[c[1], c[2]]);
                }
            }
            out
        }
        PixelFormat::Mjpeg => {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
                .encode(rgb, width, height, image::ExtendedColorType::Rgb8)
                .map_err(|e| DeviceError::Driver(format!("simulated camera cannot encode MJPEG: {e}")))?;
            out
        }
    };
    Ok(Frame { width, height, format, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(format: PixelFormat) -> SimCameraFactory {
        SimCameraFactory::new(SimCameraConfig { width: 160, height: 120, format, ..Default::default() })
    }

    fn id() -> DeviceId {
        DeviceId::new("sim-cam-0").unwrap()
    }

    fn mean(data: &[u8]) -> f64 {
        data.iter().map(|v| f64::from(*v)).sum::<f64>() / data.len() as f64
    }

    #[test]
    fn frames_have_the_size_of_their_format() {
        for (format, len) in [
            (PixelFormat::Rgb24, 160 * 120 * 3),
            (PixelFormat::Yuyv, 160 * 120 * 2),
            (PixelFormat::Nv12, 160 * 120 * 3 / 2),
        ] {
            let mut cam = small(format).open_camera(&id()).unwrap();
            let frame = cam.capture(Duration::from_secs(1)).unwrap();
            assert_eq!((frame.width, frame.height, frame.format, frame.data.len()), (160, 120, format, len));
        }
        let mut cam = small(PixelFormat::Mjpeg).open_camera(&id()).unwrap();
        let frame = cam.capture(Duration::from_secs(1)).unwrap();
        assert_eq!(&frame.data[..2], &[0xFF, 0xD8]);
        assert_eq!(&frame.data[frame.data.len() - 2..], &[0xFF, 0xD9]);
    }

    #[test]
    fn consecutive_frames_differ_and_a_frozen_camera_repeats_itself() {
        let factory = small(PixelFormat::Rgb24);
        let handle = factory.handle("sim-cam-0").unwrap();
        let mut cam = factory.open_camera(&id()).unwrap();
        let a = cam.capture(Duration::from_secs(1)).unwrap();
        let b = cam.capture(Duration::from_secs(1)).unwrap();
        assert_ne!(a, b, "noise makes every frame different");
        handle.apply(CameraCommand::Freeze);
        assert_eq!(cam.capture(Duration::from_secs(1)).unwrap(), b);
        assert_eq!(cam.capture(Duration::from_secs(1)).unwrap(), b);
        handle.apply(CameraCommand::Unfreeze);
        assert_ne!(cam.capture(Duration::from_secs(1)).unwrap(), b);
        assert_eq!(handle.captures(), 5);
    }

    #[test]
    fn a_covered_lens_is_dark_and_a_blank_wall_flat() {
        let factory = small(PixelFormat::Rgb24);
        let handle = factory.handle("sim-cam-0").unwrap();
        let mut cam = factory.open_camera(&id()).unwrap();
        let normal = cam.capture(Duration::from_secs(1)).unwrap();
        assert!(mean(&normal.data) > 100.0);
        handle.apply(CameraCommand::Scene(Scene::Covered));
        assert!(mean(&cam.capture(Duration::from_secs(1)).unwrap().data) < 15.0);
        handle.apply(CameraCommand::Scene(Scene::Uniform));
        let flat = cam.capture(Duration::from_secs(1)).unwrap();
        let (lo, hi) = (flat.data.iter().min().unwrap(), flat.data.iter().max().unwrap());
        assert!(hi - lo <= 2 * 6 + 8, "flat frame spans {lo}..{hi}");
    }

    #[test]
    fn the_subject_moves() {
        let config =
            SimCameraConfig { width: 160, height: 120, format: PixelFormat::Rgb24, noise: 0, ..Default::default() };
        let a = render(&config, Scene::Subject, 1, 0, Duration::from_secs(0), UNIX_EPOCH);
        let b = render(&config, Scene::Subject, 1, 1, Duration::from_millis(1500), UNIX_EPOCH);
        let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert!(changed > a.len() / 50, "only {changed} bytes changed");
    }

    #[test]
    fn a_slow_camera_takes_its_time_and_times_out() {
        let factory = small(PixelFormat::Yuyv);
        let handle = factory.handle("sim-cam-0").unwrap();
        let mut cam = factory.open_camera(&id()).unwrap();
        handle.apply(CameraCommand::Slow(Duration::from_millis(120)));
        // Within a timeout longer than the delay the frame comes; within a shorter one it cannot.
        cam.capture(Duration::from_secs(2)).unwrap();
        let err = cam.capture(Duration::from_millis(30)).unwrap_err();
        assert_eq!(err.kind(), examgate_device_sdk::ErrorKind::Timeout);
    }

    #[test]
    fn unplugging_ends_a_slow_capture_and_hides_the_camera() {
        let factory = small(PixelFormat::Yuyv);
        let handle = factory.handle("sim-cam-0").unwrap();
        let mut cam = factory.open_camera(&id()).unwrap();
        handle.apply(CameraCommand::Slow(Duration::from_secs(30)));
        let waiter = std::thread::spawn(move || cam.capture(Duration::from_secs(30)));
        handle.apply(CameraCommand::Unplug);
        assert_eq!(waiter.join().unwrap().unwrap_err().kind(), examgate_device_sdk::ErrorKind::NotConnected);
        assert!(factory.discover().unwrap().is_empty());
        assert!(factory.open(&id()).is_err());
        handle.apply(CameraCommand::Plug);
        handle.apply(CameraCommand::Slow(Duration::ZERO));
        assert_eq!(factory.discover().unwrap().len(), 1);
        factory.open(&id()).unwrap().as_camera().unwrap().capture(Duration::from_secs(1)).unwrap();
    }

    #[test]
    fn sim_commands_unplug_through_the_device() {
        let factory = small(PixelFormat::Yuyv);
        let mut dev = factory.open(&id()).unwrap();
        dev.as_sim().unwrap().control(&SimCommand::Unplug).unwrap();
        assert_eq!(
            dev.as_camera().unwrap().capture(Duration::from_secs(1)).unwrap_err().kind(),
            examgate_device_sdk::ErrorKind::NotConnected
        );
        assert!(dev.as_sim().unwrap().control(&SimCommand::LiftFinger).is_err());
    }

    #[test]
    fn parses_selector_options_and_commands() {
        let c: SimCameraConfig =
            "size=320x240&format=mjpeg&name=OBS Virtual Camera&scene=cover&delay_ms=5&cameras=2".parse().unwrap();
        assert_eq!((c.width, c.height, c.format), (320, 240, PixelFormat::Mjpeg));
        assert_eq!(c.name, "OBS Virtual Camera");
        assert_eq!(c.scene, Scene::Covered);
        assert_eq!(c.delay, Duration::from_millis(5));
        let f = SimCameraFactory::new(c);
        let names: Vec<String> = f.discover().unwrap().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["OBS Virtual Camera", "OBS Virtual Camera #2"]);
        assert!(matches!("size=1x1".parse::<SimCameraConfig>(), Err(ConfigError::BadValue { .. })));
        assert!(matches!("zoom=2".parse::<SimCameraConfig>(), Err(ConfigError::UnknownKey(_))));
        for cmd in ["subject", "empty", "cover", "uniform", "freeze", "unfreeze", "slow 250", "unplug", "plug"] {
            assert_eq!(cmd.parse::<CameraCommand>().unwrap().to_string(), cmd);
        }
        assert!("slow".parse::<CameraCommand>().is_err());
        assert!("explode".parse::<CameraCommand>().is_err());
    }

    #[test]
    fn offers_the_configured_mode_first_and_switches() {
        let factory = small(PixelFormat::Nv12);
        let modes = factory.modes();
        assert_eq!(modes[0], SimMode { width: 160, height: 120, format: PixelFormat::Nv12, fps: 30 });
        assert_eq!(modes.len(), 13);
        let mut cam = factory.open_camera(&id()).unwrap();
        cam.set_mode(SimMode { width: 320, height: 240, format: PixelFormat::Rgb24, fps: 30 });
        let frame = cam.capture(Duration::from_secs(1)).unwrap();
        assert_eq!((frame.width, frame.format, frame.data.len()), (320, PixelFormat::Rgb24, 320 * 240 * 3));
    }
}
