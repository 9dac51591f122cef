//! Simulated fingers for the AS60x module: minutiae, impressions, the
//! module's 512-byte templates and its Match score.
//!
//! A finger is 38-52 minutiae on a 256x288 sensor whose directions follow a
//! smooth flow around a core (so that two fingers look alike in the large,
//! as real ones do). An impression is a placement of some roughness r
//! (mostly small): it turns the finger up to 15° and shifts it up to
//! 20 + 30r px, moves each minutia by σ 1.5 + 2r px and 4 + 4r degrees,
//! loses 5 + 25r % of them, adds a few spurious ones and crops at the
//! sensor's edge.
//!
//! Matching pairs minutiae under every alignment one pair of them suggests
//! and keeps the best count `m`; the score is `320 m² / (n₁ n₂)`: for two
//! impressions of one finger mostly 100-270 with a tail to about 40 (rough
//! placements), for two fingers under 30, for a template against itself 320. The real module's algorithm and
//! template layout are not published; this layout is the simulator's own:
//!
//! | off | len | field |
//! |---|---|---|
//! | 0 | 2 | `03 01` (kind, version) |
//! | 2 | 1 | quality 0..=100 |
//! | 3 | 1 | minutia count n (at most 84) |
//! | 4 | 6n | x (u16 BE, px), y (u16 BE, px), direction (u8, 2° units), type (1 ending, 2 bifurcation) |
//! | .. | | zero |
//! | 510 | 2 | 16-bit sum of bytes 0..510 |

use std::f64::consts::PI;

use crate::rng::{SplitMix64, mix};

pub const TEMPLATE_LEN: usize = 512;
const SENSOR_W: f64 = 256.0;
const SENSOR_H: f64 = 288.0;
const MAX_MINUTIAE: usize = (TEMPLATE_LEN - 6) / 6;
/// Pairing tolerances.
const DISTANCE: f64 = 12.0;
const ANGLE: f64 = 25.0 * PI / 180.0;
/// Largest rotation between two impressions a pair may suggest (2 x 15° of turn plus noise).
const ROTATION: f64 = 45.0 * PI / 180.0;
const SCORE_SCALE: f64 = 320.0;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Minutia {
    pub x: f64,
    pub y: f64,
    /// Radians, 0..2π.
    pub angle: f64,
    pub kind: u8,
}

fn gauss(rng: &mut SplitMix64) -> f64 {
    let u = rng.next_f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (2.0 * PI * rng.next_f64()).cos()
}

fn uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.next_f64()
}

fn wrap(angle: f64) -> f64 {
    angle.rem_euclid(2.0 * PI)
}

/// Signed difference a - b in (-π, π].
fn angle_diff(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(2.0 * PI);
    if d > PI { d - 2.0 * PI } else { d }
}

/// The minutiae of finger `finger` (1-based) of the people `seed` knows.
pub(crate) fn master(seed: u64, finger: u32) -> Vec<Minutia> {
    let mut rng = SplitMix64::new(mix(&[seed, 0xA560, u64::from(finger)]));
    let n = 38 + (rng.next_u64() % 15) as usize;
    let (cx, cy) = (uniform(&mut rng, 100.0, 156.0), uniform(&mut rng, 110.0, 170.0));
    let twist = uniform(&mut rng, 0.4, 1.1);
    let base = uniform(&mut rng, 0.0, 2.0 * PI);
    let mut out: Vec<Minutia> = Vec::with_capacity(n);
    let mut attempts = 0;
    while out.len() < n && attempts < 10_000 {
        attempts += 1;
        // Inside an ellipse a little larger than the sensor: impressions see most, not all, of it.
        let (x, y) = (uniform(&mut rng, -10.0, SENSOR_W + 10.0), uniform(&mut rng, -10.0, SENSOR_H + 10.0));
        let (ex, ey) = ((x - 128.0) / 138.0, (y - 144.0) / 160.0);
        if ex * ex + ey * ey > 1.0 || out.iter().any(|m| (m.x - x).hypot(m.y - y) < 14.0) {
            continue;
        }
        let flow = base + twist * (y - cy).atan2(x - cx) + PI / 2.0 + gauss(&mut rng) * 0.25;
        let flip = if rng.next_u64().is_multiple_of(2) { 0.0 } else { PI };
        out.push(Minutia { x, y, angle: wrap(flow + flip), kind: 1 + (rng.next_u64() % 2) as u8 });
    }
    out
}

/// The minutiae impression `index` of `finger` shows on the sensor.
pub(crate) fn impression(seed: u64, finger: u32, index: u64) -> Vec<Minutia> {
    let mut rng = SplitMix64::new(mix(&[seed, 0x1A60, u64::from(finger), index]));
    // How badly this placement went: 0 pressed flat and still, 1 smudged, light and off-centre.
    let rough = rng.next_f64().powi(2);
    let turn = uniform(&mut rng, -15.0, 15.0) * PI / 180.0;
    let reach = 20.0 + 30.0 * rough;
    let (dx, dy) = (uniform(&mut rng, -reach, reach), uniform(&mut rng, -reach, reach));
    let (jitter, lost) = (1.5 + 2.0 * rough, 0.05 + 0.25 * rough);
    let (sin, cos) = turn.sin_cos();
    let (ox, oy) = (SENSOR_W / 2.0, SENSOR_H / 2.0);
    let mut out = Vec::new();
    for m in master(seed, finger) {
        if rng.next_f64() < lost {
            continue;
        }
        let (rx, ry) = (m.x - ox, m.y - oy);
        out.push(Minutia {
            x: ox + cos * rx - sin * ry + dx + jitter * gauss(&mut rng),
            y: oy + sin * rx + cos * ry + dy + jitter * gauss(&mut rng),
            angle: wrap(m.angle + turn + gauss(&mut rng) * (4.0 + 4.0 * rough) * PI / 180.0),
            kind: m.kind,
        });
    }
    for _ in 0..rng.next_u64() % (3 + (6.0 * rough) as u64) {
        out.push(Minutia {
            x: uniform(&mut rng, 0.0, SENSOR_W),
            y: uniform(&mut rng, 0.0, SENSOR_H),
            angle: uniform(&mut rng, 0.0, 2.0 * PI),
            kind: 1 + (rng.next_u64() % 2) as u8,
        });
    }
    out.retain(|m| (0.0..SENSOR_W).contains(&m.x) && (0.0..SENSOR_H).contains(&m.y));
    out.truncate(MAX_MINUTIAE);
    out
}

fn sum(bytes: &[u8]) -> u16 {
    bytes.iter().fold(0u16, |acc, b| acc.wrapping_add(u16::from(*b)))
}

/// A template in the simulator's layout (see the module docs).
pub(crate) fn encode(minutiae: &[Minutia], quality: u8) -> Vec<u8> {
    let mut out = vec![0u8; TEMPLATE_LEN];
    let n = minutiae.len().min(MAX_MINUTIAE);
    out[..4].copy_from_slice(&[0x03, 0x01, quality.min(100), n as u8]);
    for (i, m) in minutiae.iter().take(n).enumerate() {
        let at = 4 + 6 * i;
        out[at..at + 2].copy_from_slice(&(m.x.round().clamp(0.0, 65535.0) as u16).to_be_bytes());
        out[at + 2..at + 4].copy_from_slice(&(m.y.round().clamp(0.0, 65535.0) as u16).to_be_bytes());
        out[at + 4] = ((m.angle.to_degrees() / 2.0).round() as u32 % 180) as u8;
        out[at + 5] = m.kind;
    }
    let s = sum(&out[..TEMPLATE_LEN - 2]);
    out[TEMPLATE_LEN - 2..].copy_from_slice(&s.to_be_bytes());
    out
}

/// The minutiae of a template; `None` for bytes that are not one (the
/// module then has nothing to match).
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<Minutia>> {
    if bytes.len() != TEMPLATE_LEN || bytes[..2] != [0x03, 0x01] {
        return None;
    }
    let n = usize::from(bytes[3]);
    let found = u16::from_be_bytes([bytes[TEMPLATE_LEN - 2], bytes[TEMPLATE_LEN - 1]]);
    if n > MAX_MINUTIAE || found != sum(&bytes[..TEMPLATE_LEN - 2]) {
        return None;
    }
    Some(
        bytes[4..4 + 6 * n]
            .chunks_exact(6)
            .map(|c| Minutia {
                x: f64::from(u16::from_be_bytes([c[0], c[1]])),
                y: f64::from(u16::from_be_bytes([c[2], c[3]])),
                angle: f64::from(c[4]) * 2.0 * PI / 180.0,
                kind: c[5],
            })
            .collect(),
    )
}

/// The most minutiae of `a` that pair with distinct minutiae of `b` under
/// one alignment.
fn paired(a: &[Minutia], b: &[Minutia]) -> usize {
    let mut best = 0;
    let mut used = vec![false; b.len()];
    for pa in a {
        for pb in b {
            let turn = angle_diff(pb.angle, pa.angle);
            if turn.abs() > ROTATION {
                continue;
            }
            let (sin, cos) = turn.sin_cos();
            used.iter_mut().for_each(|u| *u = false);
            let mut count = 0;
            for m in a {
                let (rx, ry) = (m.x - pa.x, m.y - pa.y);
                let (x, y) = (pb.x + cos * rx - sin * ry, pb.y + sin * rx + cos * ry);
                let angle = m.angle + turn;
                let hit = b.iter().enumerate().position(|(j, n)| {
                    !used[j]
                        && (n.x - x).abs() <= DISTANCE
                        && (n.y - y).abs() <= DISTANCE
                        && (n.x - x).hypot(n.y - y) <= DISTANCE
                        && angle_diff(n.angle, angle).abs() <= ANGLE
                });
                if let Some(j) = hit {
                    used[j] = true;
                    count += 1;
                }
            }
            best = best.max(count);
        }
    }
    best
}

/// The module's Match score of two templates' minutiae.
pub(crate) fn score(a: &[Minutia], b: &[Minutia]) -> u16 {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let m = paired(a, b) as f64;
    (SCORE_SCALE * m * m / (a.len() as f64 * b.len() as f64)).round().min(f64::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 0xE6A7E;

    fn template(finger: u32, index: u64) -> Vec<Minutia> {
        decode(&encode(&impression(SEED, finger, index), 80)).unwrap()
    }

    #[test]
    fn fingers_and_impressions_are_deterministic() {
        assert_eq!(master(SEED, 3), master(SEED, 3));
        assert_eq!(encode(&impression(SEED, 3, 2), 80), encode(&impression(SEED, 3, 2), 80));
        assert_ne!(encode(&impression(SEED, 3, 2), 80), encode(&impression(SEED, 3, 3), 80));
        let n = master(SEED, 1).len();
        assert!((38..=52).contains(&n), "{n}");
    }

    #[test]
    fn templates_round_trip_to_the_pixel_and_two_degrees() {
        let m = impression(SEED, 5, 1);
        let back = decode(&encode(&m, 70)).unwrap();
        assert_eq!(back.len(), m.len());
        for (a, b) in m.iter().zip(&back) {
            assert!((a.x - b.x).abs() <= 0.5 && (a.y - b.y).abs() <= 0.5);
            assert!(angle_diff(a.angle, b.angle).abs() <= 1.01 * PI / 180.0);
        }
    }

    #[test]
    fn garbage_is_no_template() {
        assert_eq!(decode(&[0x5A; 512]), None);
        assert_eq!(decode(&[0x03; 7]), None);
        let mut t = encode(&impression(SEED, 1, 1), 80);
        t[20] ^= 1;
        assert_eq!(decode(&t), None, "a flipped bit breaks the sum");
    }

    #[test]
    fn one_finger_scores_high_and_two_fingers_low() {
        let a = template(1, 1);
        assert_eq!(score(&a, &a), 320);
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        for f in 1..=6 {
            for i in 1..=3 {
                for j in i + 1..=3 {
                    genuine.push(score(&template(f, i), &template(f, j)));
                }
                for g in f + 1..=6 {
                    impostor.push(score(&template(f, i), &template(g, i)));
                }
            }
        }
        let (g_min, i_max) = (*genuine.iter().min().unwrap(), *impostor.iter().max().unwrap());
        assert!(g_min >= 80, "genuine {genuine:?}");
        assert!(i_max <= 30, "impostor {impostor:?}");
    }
}
