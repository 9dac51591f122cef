//! Synthetic fingers and impressions from fixed seeds, for tests and for the evaluation
//! corpus (`examples/evaluate.rs`).
//!
//! A finger is an orientation field (Sherlock-Monro zero-pole model: cores and deltas, by
//! pattern class, plus a smooth perturbation) over an elliptic pad, and 40-72 minutiae
//! placed by Poisson-disk sampling with directions along the local ridge flow. An
//! impression of it is what a 500 dpi sensor of 300x400 pixels sees: the pad displaced and
//! rotated, elastically distorted (Cappelli's model: a contact region that stays put while
//! the periphery is dragged), cut by the sensor window, with position and angle noise,
//! missed minutiae, spurious ones along the ridge flow, and ending/bifurcation confusions.
//! Impressions carry 30-70 minutiae in most cases (never fewer than 20) and are written
//! sorted by x then y with equal quality bytes, which is what NBIS's Bozorth3 needs to be
//! compared fairly.

use std::f64::consts::{PI, TAU};

use crate::record::{Angle, FingerView, Minutia, MinutiaKind, MinutiaeRecord, PPCM_500_DPI, Standard};

/// Sensor window of every impression, in pixels at 500 dpi.
pub const SENSOR_WIDTH: u16 = 300;
pub const SENSOR_HEIGHT: u16 = 400;
/// Semi-axes of the finger pad ellipse, in pixels.
const PAD_A: f64 = 175.0;
const PAD_B: f64 = 235.0;

/// A small deterministic generator (SplitMix64), so corpora are the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in lo..=hi.
    pub fn int(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn normal(&mut self, sigma: f64) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        sigma * (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}

/// The Henry pattern class of a synthetic finger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternClass {
    Arch,
    TentedArch,
    LeftLoop,
    RightLoop,
    Whorl,
}

/// A synthetic finger in its own frame: origin at the pad centre, y down, pixels at 500 dpi.
#[derive(Clone, Debug)]
pub struct Finger {
    pub class: PatternClass,
    pub cores: Vec<(f64, f64)>,
    pub deltas: Vec<(f64, f64)>,
    /// Perturbation of the orientation field: (amplitude, kx, ky, phase).
    waves: Vec<(f64, f64, f64, f64)>,
    /// Minutiae: x, y, direction (radians, y-down frame: the vector is (cos, sin)), kind.
    pub minutiae: Vec<(f64, f64, f64, MinutiaKind)>,
}

impl Finger {
    /// The finger grown from `seed`.
    pub fn new(seed: u64) -> Finger {
        let mut rng = Rng::new(seed.wrapping_mul(0xA24B_AED4_963E_E407) ^ 0x0F1E);
        let r = rng.unit();
        let class = match r {
            r if r < 0.05 => PatternClass::Arch,
            r if r < 0.10 => PatternClass::TentedArch,
            r if r < 0.42 => PatternClass::LeftLoop,
            r if r < 0.74 => PatternClass::RightLoop,
            _ => PatternClass::Whorl,
        };
        let mut cores = Vec::new();
        let mut deltas = Vec::new();
        let cy = rng.range(-70.0, 10.0);
        let cx = rng.range(-30.0, 30.0);
        match class {
            PatternClass::Arch => {}
            PatternClass::TentedArch => {
                cores.push((cx, cy));
                deltas.push((cx + rng.normal(8.0), cy + rng.range(50.0, 90.0)));
            }
            PatternClass::LeftLoop | PatternClass::RightLoop => {
                let side = if class == PatternClass::LeftLoop { 1.0 } else { -1.0 };
                cores.push((cx, cy));
                deltas.push((cx + side * rng.range(70.0, 130.0), cy + rng.range(80.0, 150.0)));
            }
            PatternClass::Whorl => {
                let gap = rng.range(10.0, 40.0);
                let tilt = rng.normal(0.4);
                cores.push((cx - gap * tilt.sin(), cy - gap * tilt.cos()));
                cores.push((cx + gap * tilt.sin(), cy + gap * tilt.cos()));
                deltas.push((cx - rng.range(90.0, 140.0), cy + rng.range(90.0, 150.0)));
                deltas.push((cx + rng.range(90.0, 140.0), cy + rng.range(90.0, 150.0)));
            }
        }
        let waves = (0..3)
            .map(|_| {
                let wavelength = rng.range(200.0, 500.0);
                let dir = rng.range(0.0, TAU);
                (rng.normal(0.12), TAU / wavelength * dir.cos(), TAU / wavelength * dir.sin(), rng.range(0.0, TAU))
            })
            .collect();
        let mut finger = Finger { class, cores, deltas, waves, minutiae: Vec::new() };
        let wanted = rng.int(40, 72);
        let mut tries = 0;
        while finger.minutiae.len() < wanted && tries < 20_000 {
            tries += 1;
            let (x, y) = (rng.range(-PAD_A, PAD_A), rng.range(-PAD_B, PAD_B));
            if (x / PAD_A).powi(2) + (y / PAD_B).powi(2) > 0.95 {
                continue;
            }
            if finger.minutiae.iter().any(|m| (m.0 - x).powi(2) + (m.1 - y).powi(2) < 17.0 * 17.0) {
                continue;
            }
            // Minutiae do not sit on a singular point: its ridges are too curved to extract.
            if finger.cores.iter().chain(&finger.deltas).any(|s| (s.0 - x).powi(2) + (s.1 - y).powi(2) < 12.0 * 12.0) {
                continue;
            }
            let flow = finger.orientation(x, y) + if rng.chance(0.5) { PI } else { 0.0 };
            let kind = if rng.chance(0.55) { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation };
            finger.minutiae.push((x, y, flow.rem_euclid(TAU), kind));
        }
        finger
    }

    /// Ridge orientation (radians, modulo pi) at a point of the finger's frame.
    pub fn orientation(&self, x: f64, y: f64) -> f64 {
        let mut o = 0.0;
        if self.cores.is_empty() {
            // Plain arch: ridges bulge upwards over the middle, flatter towards the tip.
            let s = 120.0;
            let bulge = 1.1 * (-(x * x) / (s * s)).exp() * (1.0 - (y + PAD_B) / (2.5 * PAD_B));
            o = (2.0 * x / s * bulge).atan();
        } else {
            for c in &self.cores {
                o += 0.5 * (y - c.1).atan2(x - c.0);
            }
            for d in &self.deltas {
                o -= 0.5 * (y - d.1).atan2(x - d.0);
            }
        }
        for (a, kx, ky, phase) in &self.waves {
            o += a * (kx * x + ky * y + phase).sin();
        }
        o
    }
}

/// How an impression deviates from the finger. [`ImpressionParams::default`] is the
/// evaluation corpus; tests use [`ImpressionParams::clean`] for near-identical captures.
#[derive(Clone, Debug)]
pub struct ImpressionParams {
    /// Rotation range, degrees either way.
    pub max_rotation_deg: f64,
    /// Standard deviation of the pad centre's offset from the window centre, pixels.
    pub placement_sigma: f64,
    /// Standard deviation of the periphery's drag (pixels) and twist (degrees).
    pub distortion_shift: f64,
    pub distortion_twist_deg: f64,
    pub position_sigma: f64,
    pub angle_sigma_deg: f64,
    /// Per-impression probability of missing a minutia is drawn from this range.
    pub missing: (f64, f64),
    /// Spurious minutiae as a fraction of the true ones, drawn from this range.
    pub spurious: (f64, f64),
    pub type_flip: f64,
}

impl Default for ImpressionParams {
    fn default() -> Self {
        ImpressionParams {
            max_rotation_deg: 30.0,
            placement_sigma: 35.0,
            distortion_shift: 5.0,
            distortion_twist_deg: 2.5,
            position_sigma: 2.5,
            angle_sigma_deg: 6.0,
            missing: (0.08, 0.25),
            spurious: (0.05, 0.25),
            type_flip: 0.15,
        }
    }
}

impl ImpressionParams {
    /// No distortion, noise, misses or spurious minutiae: only the rigid placement.
    pub fn clean() -> Self {
        ImpressionParams {
            distortion_shift: 0.0,
            distortion_twist_deg: 0.0,
            position_sigma: 0.0,
            angle_sigma_deg: 0.0,
            missing: (0.0, 0.0),
            spurious: (0.0, 0.0),
            type_flip: 0.0,
            ..ImpressionParams::default()
        }
    }
}

/// One impression of `finger`, as an ISO 19794-2:2005 record with one view.
pub fn impression(finger: &Finger, seed: u64, params: &ImpressionParams) -> MinutiaeRecord {
    let mut rng = Rng::new(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0x1A7);
    for _attempt in 0..50 {
        let minutiae = place(finger, &mut rng, params);
        if minutiae.len() >= 20 {
            return record_of(minutiae);
        }
    }
    // A finger too sparse for the window: take it as centred as it gets.
    let centred = ImpressionParams { placement_sigma: 0.0, max_rotation_deg: 0.0, ..params.clone() };
    record_of(place(finger, &mut rng, &centred))
}

fn record_of(mut minutiae: Vec<Minutia>) -> MinutiaeRecord {
    minutiae.sort_by_key(|m| (m.x, m.y));
    MinutiaeRecord {
        standard: Standard::Iso19794_2_2005,
        product_owner: 0,
        product_type: 0,
        capture_equipment: 0,
        width: SENSOR_WIDTH,
        height: SENSOR_HEIGHT,
        x_resolution: PPCM_500_DPI,
        y_resolution: PPCM_500_DPI,
        views: vec![FingerView {
            position: 0,
            view_number: 0,
            impression_type: 0,
            quality: 60,
            minutiae,
            extended_data: Vec::new(),
        }],
    }
}

fn place(finger: &Finger, rng: &mut Rng, p: &ImpressionParams) -> Vec<Minutia> {
    let rotation = rng.range(-p.max_rotation_deg, p.max_rotation_deg).to_radians();
    let (w, h) = (f64::from(SENSOR_WIDTH), f64::from(SENSOR_HEIGHT));
    let centre = (w / 2.0 + rng.normal(p.placement_sigma), h / 2.0 + rng.normal(p.placement_sigma));
    // Cappelli's distortion: the contact region stays, the periphery is dragged and twisted.
    let contact = (rng.normal(30.0), rng.normal(40.0));
    let drag = (rng.normal(p.distortion_shift), rng.normal(p.distortion_shift));
    let twist = rng.normal(p.distortion_twist_deg).to_radians();
    let scale = 1.0 + rng.normal(0.015);
    let (sin_r, cos_r) = rotation.sin_cos();
    let map = |x: f64, y: f64| -> (f64, f64) {
        let (dx, dy) = (x - contact.0, y - contact.1);
        let r = (dx * dx + dy * dy).sqrt();
        let t = ((r - 50.0) / 150.0).clamp(0.0, 1.0);
        let weight = t * t * (3.0 - 2.0 * t);
        let (st, ct) = (twist * weight).sin_cos();
        let x1 = contact.0 + scale * (dx * ct - dy * st) + weight * drag.0;
        let y1 = contact.1 + scale * (dx * st + dy * ct) + weight * drag.1;
        (centre.0 + x1 * cos_r - y1 * sin_r, centre.1 + x1 * sin_r + y1 * cos_r)
    };
    let visible = |x: f64, y: f64| x >= 0.0 && y >= 0.0 && x < w && y < h;
    let missing = rng.range(p.missing.0, p.missing.1);
    let mut out = Vec::new();
    let mut true_count = 0usize;
    for &(x, y, dir, kind) in &finger.minutiae {
        let (mx, my) = map(x, y);
        let (ax, ay) = map(x + 4.0 * dir.cos(), y + 4.0 * dir.sin());
        let mapped_dir = (ay - my).atan2(ax - mx);
        let (nx, ny) = (mx + rng.normal(p.position_sigma), my + rng.normal(p.position_sigma));
        if !visible(nx, ny) {
            continue;
        }
        true_count += 1;
        if rng.chance(missing) {
            continue;
        }
        let kind = if rng.chance(p.type_flip) { flip(kind) } else { kind };
        out.push(minutia(nx, ny, mapped_dir + rng.normal(p.angle_sigma_deg).to_radians(), kind));
    }
    // Spurious minutiae: anywhere on the visible pad, mostly along the ridge flow.
    let spurious = (true_count as f64 * rng.range(p.spurious.0, p.spurious.1)).round() as usize;
    let mut added = 0;
    let mut tries = 0;
    while added < spurious && tries < 1000 {
        tries += 1;
        let (x, y) = (rng.range(-PAD_A, PAD_A), rng.range(-PAD_B, PAD_B));
        if (x / PAD_A).powi(2) + (y / PAD_B).powi(2) > 0.95 {
            continue;
        }
        let (mx, my) = map(x, y);
        if !visible(mx, my) {
            continue;
        }
        let dir = if rng.chance(0.7) {
            finger.orientation(x, y) + rotation + if rng.chance(0.5) { PI } else { 0.0 }
        } else {
            rng.range(0.0, TAU)
        };
        let kind = if rng.chance(0.5) { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation };
        out.push(minutia(mx, my, dir + rng.normal(p.angle_sigma_deg).to_radians(), kind));
        added += 1;
    }
    // ISO counts are one byte and NBIS's reader takes them as signed: keep under 128.
    while out.len() > 127 {
        let i = rng.int(0, out.len() - 1);
        out.swap_remove(i);
    }
    out
}

fn flip(kind: MinutiaKind) -> MinutiaKind {
    match kind {
        MinutiaKind::RidgeEnding => MinutiaKind::Bifurcation,
        MinutiaKind::Bifurcation => MinutiaKind::RidgeEnding,
        MinutiaKind::Other => MinutiaKind::Other,
    }
}

/// A minutia from a y-down direction (vector (cos, sin)) to the record's counter-clockwise angle.
fn minutia(x: f64, y: f64, dir: f64, kind: MinutiaKind) -> Minutia {
    Minutia {
        kind,
        x: x.round().clamp(0.0, f64::from(SENSOR_WIDTH - 1)) as u16,
        y: y.round().clamp(0.0, f64::from(SENSOR_HEIGHT - 1)) as u16,
        angle: Angle::from_iso(Angle::from_degrees(-dir.to_degrees()).to_iso()),
        quality: 60,
    }
}

/// `fingers` fingers with `impressions` impressions each, all from `seed`.
pub fn corpus(seed: u64, fingers: usize, impressions: usize, params: &ImpressionParams) -> Vec<Vec<MinutiaeRecord>> {
    (0..fingers)
        .map(|f| {
            let finger_seed = seed.wrapping_mul(1_000_003).wrapping_add(f as u64);
            let finger = Finger::new(finger_seed);
            (0..impressions)
                .map(|i| impression(&finger, finger_seed.wrapping_mul(31).wrapping_add(i as u64 + 1), params))
                .collect()
        })
        .collect()
}

/// A small hand-made ISO record (three minutiae), for documentation examples.
pub fn example_record() -> MinutiaeRecord {
    let m = |x, y, deg: f64, kind| Minutia { kind, x, y, angle: Angle::from_iso((deg / 1.40625) as u8), quality: 50 };
    let mut record = record_of(vec![
        m(100, 120, 45.0, MinutiaKind::RidgeEnding),
        m(150, 200, 180.0, MinutiaKind::Bifurcation),
        m(200, 90, 270.0, MinutiaKind::Other),
    ]);
    record.views[0].quality = 80;
    record
}
