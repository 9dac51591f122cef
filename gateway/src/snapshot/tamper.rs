//! Checks on every snapshot, each a [`TamperFlag`] recorded with it.
//!
//! - **dark**: mean luma below a floor: lens covered, or the lights off.
//! - **uniform**: the picture has almost no structure (a 32x32 grid of
//!   block means barely varies): a sheet of paper or a wall fills it.
//! - **frozen**: the same picture as one of the last frames. The 64-bit
//!   perceptual hash (DCT of a 32x32 luma thumbnail) must match, *and* the
//!   pixels must be equal to below the noise of any real sensor, because a
//!   candidate sitting still gives the same perceptual hash too; only a
//!   stuck or replayed feed lacks the noise.
//! - **virtual camera**: the driver or device name says loopback or virtual
//!   (v4l2loopback, OBS, ManyCam…).
//! - **camera missing**, **slow**, **capture failed**: from the capture itself.

use std::collections::VecDeque;
use std::fmt;

use examgate_device_sdk::DeviceId;
use examgate_webcam::convert::RgbImage;

/// One finding about a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TamperFlag {
    Dark,
    Uniform,
    Frozen,
    VirtualCamera,
    CameraMissing,
    Slow,
    CaptureFailed,
}

impl TamperFlag {
    pub const ALL: [TamperFlag; 7] = [
        TamperFlag::Dark,
        TamperFlag::Uniform,
        TamperFlag::Frozen,
        TamperFlag::VirtualCamera,
        TamperFlag::CameraMissing,
        TamperFlag::Slow,
        TamperFlag::CaptureFailed,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Stable snake_case name, for the store, events and the server.
    pub fn as_str(self) -> &'static str {
        match self {
            TamperFlag::Dark => "dark",
            TamperFlag::Uniform => "uniform",
            TamperFlag::Frozen => "frozen",
            TamperFlag::VirtualCamera => "virtual_camera",
            TamperFlag::CameraMissing => "camera_missing",
            TamperFlag::Slow => "slow",
            TamperFlag::CaptureFailed => "capture_failed",
        }
    }

    /// What an examiner should look at.
    pub fn advice(self) -> &'static str {
        match self {
            TamperFlag::Dark => "the picture is dark: is the lens covered or the light off?",
            TamperFlag::Uniform => {
                "the picture shows nothing but one flat colour: is something held in front of the lens?"
            }
            TamperFlag::Frozen => "the camera repeats an earlier picture exactly: a stuck or replayed feed",
            TamperFlag::VirtualCamera => "the camera is a virtual or loopback device, not a real camera",
            TamperFlag::CameraMissing => "no camera answered: check that it is plugged in",
            TamperFlag::Slow => "the camera was slow to deliver a picture",
            TamperFlag::CaptureFailed => "no picture could be taken",
        }
    }
}

impl fmt::Display for TamperFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of flags. Empty means nothing was found.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);

    pub fn insert(&mut self, flag: TamperFlag) {
        self.0 |= flag.bit();
    }
    pub fn with(mut self, flag: TamperFlag) -> Flags {
        self.insert(flag);
        self
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn contains(self, flag: TamperFlag) -> bool {
        self.0 & flag.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = TamperFlag> {
        TamperFlag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
    /// The bit mask, as stored.
    pub fn bits(self) -> u32 {
        self.0
    }
    /// From a stored bit mask; unknown bits (a newer agent's flags) are dropped.
    pub fn from_bits(bits: u32) -> Flags {
        Flags(bits & TamperFlag::ALL.iter().fold(0, |m, f| m | f.bit()))
    }
}

impl FromIterator<TamperFlag> for Flags {
    fn from_iter<I: IntoIterator<Item = TamperFlag>>(iter: I) -> Self {
        iter.into_iter().fold(Flags::NONE, Flags::with)
    }
}

impl fmt::Display for Flags {
    /// `dark,uniform`; empty when none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(TamperFlag::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({self})")
    }
}

/// Where the checks draw their lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Mean luma (0..255) below which a picture is dark. A lit exam room
    /// gives 80-180; a hand over the lens under 20.
    pub dark_mean: f32,
    /// Standard deviation of the 32x32 block means below which a picture is
    /// uniform. A face against a wall gives 30 or more.
    pub uniform_std: f32,
    /// Perceptual hashes at most this many of 64 bits apart show the same
    /// picture. Loose on purpose: noise flips a few bits of a still scene,
    /// and the pixel check below decides.
    pub frozen_hash_bits: u32,
    /// Mean absolute luma difference (sampled pixels) below which two
    /// pictures are the same frame. Sensor noise alone keeps live frames
    /// above 1; a repeated frame is at 0.
    pub frozen_pixel_diff: f32,
    /// How many recent frames a new one is compared with.
    pub history: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { dark_mean: 35.0, uniform_std: 6.0, frozen_hash_bits: 10, frozen_pixel_diff: 0.25, history: 4 }
    }
}

/// What the checks need to know of a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameStats {
    pub width: u32,
    pub height: u32,
    pub mean_luma: f32,
    /// Standard deviation of the 32x32 grid of block means.
    pub block_std: f32,
    pub phash: u64,
    /// Luma of every 4th pixel of every 4th row, to tell a repeated frame
    /// from a still scene.
    sample: Vec<u8>,
}

const GRID: usize = 32;
const SAMPLE_STEP: usize = 4;

fn luma(p: &[u8]) -> u8 {
    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8
}

impl FrameStats {
    pub fn of(image: &RgbImage) -> FrameStats {
        let (w, h) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw();
        let mut sums = [0u64; GRID * GRID];
        let mut counts = [0u32; GRID * GRID];
        let mut total = 0u64;
        let mut sample = Vec::with_capacity(w.div_ceil(SAMPLE_STEP) * h.div_ceil(SAMPLE_STEP));
        for (y, row) in raw.chunks_exact(w * 3).enumerate() {
            let gy = y * GRID / h;
            for (x, px) in row.chunks_exact(3).enumerate() {
                let l = luma(px);
                let cell = gy * GRID + x * GRID / w;
                sums[cell] += u64::from(l);
                counts[cell] += 1;
                total += u64::from(l);
                if y % SAMPLE_STEP == 0 && x % SAMPLE_STEP == 0 {
                    sample.push(l);
                }
            }
        }
        // Frames smaller than the grid leave cells empty: they take their neighbours' share.
        let mut grid = [0f32; GRID * GRID];
        let mut filled = Vec::with_capacity(GRID * GRID);
        for i in 0..GRID * GRID {
            if counts[i] > 0 {
                grid[i] = sums[i] as f32 / counts[i] as f32;
                filled.push(grid[i]);
            }
        }
        let mean_luma = total as f32 / (w * h) as f32;
        let block_mean = filled.iter().sum::<f32>() / filled.len() as f32;
        let block_std = (filled.iter().map(|v| (v - block_mean).powi(2)).sum::<f32>() / filled.len() as f32).sqrt();
        for i in 0..GRID * GRID {
            if counts[i] == 0 {
                grid[i] = block_mean;
            }
        }
        FrameStats { width: w as u32, height: h as u32, mean_luma, block_std, phash: perceptual_hash(&grid), sample }
    }

    /// Mean absolute difference of the sampled luma; `None` for different sizes.
    fn pixel_diff(&self, other: &FrameStats) -> Option<f32> {
        if (self.width, self.height) != (other.width, other.height) || self.sample.is_empty() {
            return None;
        }
        let sum: u64 = self.sample.iter().zip(&other.sample).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
        Some(sum as f32 / self.sample.len() as f32)
    }
}

/// pHash: the signs of the 8x8 lowest frequencies of the thumbnail's DCT
/// against their median (the DC term left out of the median).
fn perceptual_hash(grid: &[f32; GRID * GRID]) -> u64 {
    let n = GRID as f32;
    let basis: Vec<[f32; GRID]> = (0..8)
        .map(|k| {
            let mut row = [0f32; GRID];
            for (x, v) in row.iter_mut().enumerate() {
                *v = (std::f32::consts::PI * k as f32 * (2.0 * x as f32 + 1.0) / (2.0 * n)).cos();
            }
            row
        })
        .collect();
    // Rows first: 32 rows x 8 frequencies, then columns.
    let mut rows = [[0f32; 8]; GRID];
    for (y, out) in rows.iter_mut().enumerate() {
        for (k, b) in basis.iter().enumerate() {
            out[k] = (0..GRID).map(|x| grid[y * GRID + x] * b[x]).sum();
        }
    }
    let mut coeffs = [0f32; 64];
    for v in 0..8 {
        for u in 0..8 {
            coeffs[v * 8 + u] = (0..GRID).map(|y| rows[y][u] * basis[v][y]).sum();
        }
    }
    let mut sorted: Vec<f32> = coeffs[1..].to_vec();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    coeffs.iter().enumerate().fold(0u64, |h, (i, c)| if *c > median { h | (1 << i) } else { h })
}

/// Flags the picture itself earns: dark, uniform.
pub fn picture_flags(stats: &FrameStats, t: &Thresholds) -> Flags {
    let mut flags = Flags::NONE;
    if stats.mean_luma < t.dark_mean {
        flags.insert(TamperFlag::Dark);
    }
    if stats.block_std < t.uniform_std {
        flags.insert(TamperFlag::Uniform);
    }
    flags
}

/// The last frames of one camera, to catch a frozen feed.
#[derive(Debug, Default)]
pub struct FrameHistory {
    camera: Option<DeviceId>,
    recent: VecDeque<FrameStats>,
}

impl FrameHistory {
    /// Whether `stats` repeats one of the last frames of `camera`; then
    /// remember it. Frames of another camera start a new history.
    pub fn check_frozen(&mut self, camera: &DeviceId, stats: &FrameStats, t: &Thresholds) -> bool {
        if self.camera.as_ref() != Some(camera) {
            self.camera = Some(camera.clone());
            self.recent.clear();
        }
        let frozen = self.recent.iter().any(|old| {
            (old.phash ^ stats.phash).count_ones() <= t.frozen_hash_bits
                && old.pixel_diff(stats).is_some_and(|d| d < t.frozen_pixel_diff)
        });
        self.recent.push_back(stats.clone());
        while self.recent.len() > t.history.max(1) {
            self.recent.pop_front();
        }
        frozen
    }
}

/// Words in a camera's name or driver that mark a virtual camera, matched
/// as whole words.
const VIRTUAL_WORDS: &[&str] = &[
    "v4l2loopback",
    "loopback",
    "obs",
    "virtual",
    "manycam",
    "droidcam",
    "akvcam",
    "xsplit",
    "splitcam",
    "e2esoft",
    "vcam",
    "camtwist",
    "youcam",
    "iriun",
    "epoccam",
    "ndi",
];
/// Phrases matched anywhere: v4l2loopback's default card label and driver
/// name, and Snap Camera.
const VIRTUAL_PHRASES: &[&str] = &["dummy video device", "v4l2 loopback", "snap camera"];

/// The word or phrase that marks `name` as a virtual camera, if any.
///
/// ```
/// use examgate_agent::snapshot::virtual_camera_marker;
/// assert_eq!(virtual_camera_marker("OBS Virtual Camera"), Some("obs"));
/// assert_eq!(virtual_camera_marker("Dummy video device (0x0000) [v4l2 loopback]"), Some("dummy video device"));
/// assert_eq!(virtual_camera_marker("HD Pro Webcam C920 [uvcvideo]"), None);
/// assert_eq!(virtual_camera_marker("Jobs Camera"), None);
/// ```
pub fn virtual_camera_marker(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    if let Some(p) = VIRTUAL_PHRASES.iter().find(|p| lower.contains(**p)) {
        return Some(p);
    }
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    VIRTUAL_WORDS.iter().find(|v| words.contains(v)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> RgbImage {
        let data = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).flat_map(|(x, y)| f(x, y)).collect();
        RgbImage::from_raw(w, h, data).unwrap()
    }

    /// A face-like test scene: bright wall, a darker disc, an edge.
    fn scene(x: u32, y: u32) -> [u8; 3] {
        let (dx, dy) = (x as i32 - 70, y as i32 - 55);
        if dx * dx + dy * dy < 900 {
            [210, 160, 130]
        } else if y > 100 {
            [40, 50, 90]
        } else {
            [(150 + x / 3).min(255) as u8, (140 + y / 2) as u8, 170]
        }
    }

    /// Deterministic noise of up to +-amp.
    fn noisy(p: [u8; 3], x: u32, y: u32, seed: u32, amp: i32) -> [u8; 3] {
        let mut h = x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ seed.wrapping_mul(83_492_791);
        p.map(|c| {
            h = h.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (i32::from(c) + ((h >> 16) as i32 % (2 * amp + 1)) - amp).clamp(0, 255) as u8
        })
    }

    fn id(s: &str) -> DeviceId {
        DeviceId::new(s).unwrap()
    }

    #[test]
    fn dark_and_uniform_pictures_are_flagged() {
        let t = Thresholds::default();
        let covered = FrameStats::of(&image(160, 120, |x, y| noisy([9, 8, 8], x, y, 1, 3)));
        assert_eq!(picture_flags(&covered, &t), Flags::NONE.with(TamperFlag::Dark).with(TamperFlag::Uniform));
        let wall = FrameStats::of(&image(160, 120, |x, y| noisy([186, 189, 193], x, y, 2, 6)));
        assert_eq!(picture_flags(&wall, &t), Flags::NONE.with(TamperFlag::Uniform));
        let person = FrameStats::of(&image(160, 120, |x, y| noisy(scene(x, y), x, y, 3, 6)));
        assert_eq!(picture_flags(&person, &t), Flags::NONE, "{person:?}");
    }

    #[test]
    fn a_repeated_frame_is_frozen_but_a_still_scene_is_not() {
        let t = Thresholds::default();
        let mut history = FrameHistory::default();
        let cam = id("cam");
        let a = FrameStats::of(&image(160, 120, |x, y| noisy(scene(x, y), x, y, 1, 4)));
        let b = FrameStats::of(&image(160, 120, |x, y| noisy(scene(x, y), x, y, 2, 4)));
        assert!(
            (a.phash ^ b.phash).count_ones() <= t.frozen_hash_bits,
            "a still scene keeps its perceptual hash: {} bits differ",
            (a.phash ^ b.phash).count_ones()
        );
        assert!(!history.check_frozen(&cam, &a, &t));
        assert!(!history.check_frozen(&cam, &b, &t), "sensor noise tells a live still scene from a frozen one");
        assert!(history.check_frozen(&cam, &b, &t), "the same frame again");
        let moved = FrameStats::of(&image(160, 120, |x, y| noisy(scene(x + 30, y), x, y, 5, 4)));
        assert!(!history.check_frozen(&cam, &moved, &t));
        // Another camera starts afresh.
        assert!(!history.check_frozen(&id("other"), &b, &t));
    }

    #[test]
    fn the_history_is_bounded() {
        let t = Thresholds { history: 2, ..Thresholds::default() };
        let mut history = FrameHistory::default();
        let cam = id("cam");
        let frames: Vec<FrameStats> =
            (0..4).map(|s| FrameStats::of(&image(64, 48, |x, y| noisy(scene(x, y), x, y, s, 4)))).collect();
        for f in &frames {
            assert!(!history.check_frozen(&cam, f, &t));
        }
        assert!(!history.check_frozen(&cam, &frames[0], &t), "frame 0 is no longer remembered");
        assert!(history.check_frozen(&cam, &frames[3], &t));
    }

    #[test]
    fn tiny_and_odd_frames_give_stats() {
        for (w, h) in [(1, 1), (3, 2), (33, 31), (641, 479)] {
            let s = FrameStats::of(&image(w, h, |x, y| scene(x * 160 / w, y * 120 / h)));
            assert!(s.mean_luma.is_finite() && s.block_std.is_finite(), "{w}x{h}");
        }
    }

    #[test]
    fn flags_are_a_set_with_stable_names() {
        let f: Flags = [TamperFlag::Uniform, TamperFlag::Dark].into_iter().collect();
        assert_eq!(f.to_string(), "dark,uniform");
        assert_eq!(Flags::from_bits(f.bits()), f);
        assert_eq!(Flags::from_bits(1 << 31), Flags::NONE);
        assert!(Flags::NONE.is_empty() && Flags::NONE.to_string().is_empty());
        let names: Vec<&str> = TamperFlag::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(names, ["dark", "uniform", "frozen", "virtual_camera", "camera_missing", "slow", "capture_failed"]);
    }

    #[test]
    fn names_of_virtual_cameras() {
        for name in [
            "OBS Virtual Camera",
            "OBS-Camera",
            "Dummy video device (0x0000)",
            "Integrated [v4l2 loopback]",
            "ManyCam Virtual Webcam",
            "DroidCam Source 3",
            "AkVirtualCamera [akvcam]",
            "Snap Camera",
            "XSplit VCam",
            "my cam [v4l2loopback]",
        ] {
            assert!(virtual_camera_marker(name).is_some(), "{name}");
        }
        for name in [
            "HD Pro Webcam C920 [uvcvideo]",
            "Integrated Camera: Integrated C",
            "USB2.0 HD UVC WebCam",
            "Jobs",
            "Robson",
        ] {
            assert_eq!(virtual_camera_marker(name), None, "{name}");
        }
    }
}
