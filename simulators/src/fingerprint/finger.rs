//! The simulated reader's fingers as minutiae, for its ISO / ANSI records.
//!
//! A finger is a pad (an ellipse a little larger than the sensor window) with a ridge
//! orientation field by pattern class, after Sherlock and Monro's zero-pole model: loops
//! have a core and a delta, whorls two of each, arches none (a bulge). On it lie 40-65
//! minutiae at least 18 px apart, each pointing along the local ridge flow (either way)
//! with a little scatter. Real fingers differ in class and in where their singular points
//! lie, and this is what keeps two simulated fingers from lining up: the AS60x simulator's
//! fingers (which all swirl around a central core, on a 256x288 window) gave impostor pairs
//! up to 812 on examgate-minutiae's scale, so this reader has fingers of its own.
//!
//! A capture sees the pad through the 300x400 window: turned up to 20°, shifted up to 25 px,
//! each minutia moved by σ 2 px and 5°, 4-16 % of them lost, up to 3 spurious ones. That is
//! an optical reader with a guide frame, as on exam seats.
//!
//! Coordinates are pixels with y down; a direction `a` is the vector `(cos a, sin a)`.

use std::f64::consts::{PI, TAU};

use crate::rng::{SplitMix64, mix};

use super::record::{SENSOR_HEIGHT, SENSOR_WIDTH};

/// Semi-axes of the finger pad, pixels.
const PAD_A: f64 = 170.0;
const PAD_B: f64 = 220.0;
const MIN_SPACING: f64 = 18.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Minutia {
    pub x: f64,
    pub y: f64,
    /// Radians, 0..2π.
    pub angle: f64,
    /// 1 ridge ending, 2 bifurcation.
    pub kind: u8,
}

/// One finger in its own frame: the pad's centre is the origin.
#[derive(Clone, Debug)]
pub(crate) struct Finger {
    cores: Vec<(f64, f64)>,
    deltas: Vec<(f64, f64)>,
    /// Smooth perturbation of the field: amplitude, wave vector, phase.
    waves: Vec<(f64, f64, f64, f64)>,
    pub minutiae: Vec<Minutia>,
}

impl Finger {
    /// Finger `finger` (1-based) of the people `seed` knows.
    pub(crate) fn new(seed: u64, finger: u32) -> Finger {
        let mut rng = SplitMix64::new(mix(&[seed, 0xF1_6E55, u64::from(finger)]));
        let (cx, cy) = (uniform(&mut rng, -35.0, 35.0), uniform(&mut rng, -70.0, 10.0));
        let class = rng.next_f64();
        let (mut cores, mut deltas) = (Vec::new(), Vec::new());
        if class < 0.1 {
            // Arch: no singular points.
        } else if class < 0.7 {
            // Loop, opening left or right.
            let side = if class < 0.4 { 1.0 } else { -1.0 };
            cores.push((cx, cy));
            deltas.push((cx + side * uniform(&mut rng, 70.0, 130.0), cy + uniform(&mut rng, 80.0, 150.0)));
        } else {
            let (gap, tilt) = (uniform(&mut rng, 10.0, 40.0), 0.4 * gauss(&mut rng));
            cores.push((cx - gap * tilt.sin(), cy - gap * tilt.cos()));
            cores.push((cx + gap * tilt.sin(), cy + gap * tilt.cos()));
            deltas.push((cx - uniform(&mut rng, 90.0, 140.0), cy + uniform(&mut rng, 90.0, 150.0)));
            deltas.push((cx + uniform(&mut rng, 90.0, 140.0), cy + uniform(&mut rng, 90.0, 150.0)));
        }
        let waves = (0..3)
            .map(|_| {
                let (length, dir) = (uniform(&mut rng, 200.0, 500.0), uniform(&mut rng, 0.0, TAU));
                (
                    0.15 * gauss(&mut rng),
                    TAU / length * dir.cos(),
                    TAU / length * dir.sin(),
                    uniform(&mut rng, 0.0, TAU),
                )
            })
            .collect();
        let mut f = Finger { cores, deltas, waves, minutiae: Vec::new() };
        let wanted = 40 + (rng.next_u64() % 26) as usize;
        for _ in 0..20_000 {
            if f.minutiae.len() >= wanted {
                break;
            }
            let (x, y) = (uniform(&mut rng, -PAD_A, PAD_A), uniform(&mut rng, -PAD_B, PAD_B));
            let near = |p: &(f64, f64), d: f64| (p.0 - x).hypot(p.1 - y) < d;
            if (x / PAD_A).powi(2) + (y / PAD_B).powi(2) > 1.0
                || f.minutiae.iter().any(|m| near(&(m.x, m.y), MIN_SPACING))
                || f.cores.iter().chain(&f.deltas).any(|s| near(s, 12.0))
            {
                continue;
            }
            let flip = if rng.next_u64().is_multiple_of(2) { 0.0 } else { PI };
            let angle = (f.orientation(x, y) + flip + 0.1 * gauss(&mut rng)).rem_euclid(TAU);
            f.minutiae.push(Minutia { x, y, angle, kind: 1 + (rng.next_u64() % 2) as u8 });
        }
        f
    }

    /// Ridge orientation at a point of the pad, radians modulo π.
    fn orientation(&self, x: f64, y: f64) -> f64 {
        let mut o = if self.cores.is_empty() {
            // Ridges bulge upwards over the middle of an arch, flatter towards the tip.
            let bulge = (-(x * x) / 14_400.0).exp() * (1.0 - (y + PAD_B) / (2.5 * PAD_B));
            (2.0 * x / 120.0 * bulge).atan()
        } else {
            let half_angle = |p: &(f64, f64)| 0.5 * (y - p.1).atan2(x - p.0);
            self.cores.iter().map(half_angle).sum::<f64>() - self.deltas.iter().map(half_angle).sum::<f64>()
        };
        for (a, kx, ky, phase) in &self.waves {
            o += a * (kx * x + ky * y + phase).sin();
        }
        o
    }
}

/// The minutiae capture `index` of `finger` shows through the sensor window.
pub(crate) fn impression(seed: u64, finger: u32, index: u64) -> Vec<Minutia> {
    let mut rng = SplitMix64::new(mix(&[seed, 0x150F, u64::from(finger), index]));
    let turn = uniform(&mut rng, -20.0, 20.0).to_radians();
    let (w, h) = (f64::from(SENSOR_WIDTH), f64::from(SENSOR_HEIGHT));
    let (ox, oy) = (w / 2.0 + uniform(&mut rng, -25.0, 25.0), h / 2.0 + uniform(&mut rng, -25.0, 25.0));
    let lost = uniform(&mut rng, 0.04, 0.16);
    let (sin, cos) = turn.sin_cos();
    let mut out = Vec::new();
    for m in Finger::new(seed, finger).minutiae {
        // Every minutia draws its noise, lost or not, so one loss does not reshuffle the rest.
        let (jx, jy, ja) = (2.0 * gauss(&mut rng), 2.0 * gauss(&mut rng), 5f64.to_radians() * gauss(&mut rng));
        if rng.next_f64() < lost {
            continue;
        }
        out.push(Minutia {
            x: ox + cos * m.x - sin * m.y + jx,
            y: oy + sin * m.x + cos * m.y + jy,
            angle: (m.angle + turn + ja).rem_euclid(TAU),
            kind: m.kind,
        });
    }
    for _ in 0..rng.next_u64() % 4 {
        out.push(Minutia {
            x: uniform(&mut rng, 0.0, w),
            y: uniform(&mut rng, 0.0, h),
            angle: uniform(&mut rng, 0.0, TAU),
            kind: 1 + (rng.next_u64() % 2) as u8,
        });
    }
    out.retain(|m| (0.0..w).contains(&m.x) && (0.0..h).contains(&m.y));
    out
}

fn uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.next_f64()
}

fn gauss(rng: &mut SplitMix64) -> f64 {
    let u = rng.next_f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (TAU * rng.next_f64()).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 0xE6A7E;

    #[test]
    fn fingers_and_impressions_are_deterministic() {
        assert_eq!(Finger::new(SEED, 3).minutiae, Finger::new(SEED, 3).minutiae);
        assert_ne!(Finger::new(SEED, 3).minutiae, Finger::new(SEED, 4).minutiae);
        assert_ne!(Finger::new(SEED + 1, 3).minutiae, Finger::new(SEED, 3).minutiae);
        assert_eq!(impression(SEED, 3, 2), impression(SEED, 3, 2));
        assert_ne!(impression(SEED, 3, 2), impression(SEED, 3, 3));
    }

    #[test]
    fn impressions_lie_in_the_window_with_a_realistic_count() {
        for finger in 1..=40 {
            let n = Finger::new(SEED, finger).minutiae.len();
            assert!((40..=65).contains(&n), "finger {finger}: {n} minutiae");
            for index in 1..=3 {
                let seen = impression(SEED, finger, index);
                assert!((20..=80).contains(&seen.len()), "finger {finger} impression {index}: {}", seen.len());
                let inside = |m: &Minutia| (0.0..300.0).contains(&m.x) && (0.0..400.0).contains(&m.y);
                assert!(seen.iter().all(inside));
            }
        }
    }
}
