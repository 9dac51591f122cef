//! Roster photos: an ID-style portrait drawn like the camera simulator's subject, with each
//! candidate's own hair, skin, clothes and backdrop, as a small JPEG.

use crate::camera::Ellipse;
use crate::rng::SplitMix64;

/// Portrait size: the 358x441 proportions of an ID photo, halved and a little more.
pub const WIDTH: u32 = 240;
pub const HEIGHT: u32 = 296;
const QUALITY: u8 = 85;

/// The portrait of the candidate `rng` describes, JPEG-encoded (some 10 KiB).
pub(super) fn portrait(rng: &mut SplitMix64) -> Result<Vec<u8>, image::ImageError> {
    let mut pick = |options: &[[u8; 3]]| options[(rng.next_u64() % options.len() as u64) as usize];
    let backdrop = pick(&[[255, 255, 255], [67, 142, 219], [200, 30, 40], [225, 232, 240]]);
    let hair = pick(&[[25, 20, 18], [60, 40, 25], [120, 80, 40], [200, 170, 110], [90, 90, 95]]);
    let skin = pick(&[[240, 200, 170], [224, 172, 140], [190, 140, 105], [140, 95, 65], [250, 215, 190]]);
    let clothes = pick(&[[45, 62, 110], [30, 30, 35], [120, 30, 40], [60, 90, 60], [235, 235, 235]]);
    let (w, h) = (WIDTH as f32, HEIGHT as f32);
    let mut rgb = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
    for _ in 0..WIDTH * HEIGHT {
        rgb.extend_from_slice(&backdrop);
    }
    let (cx, cy, s) = (w / 2.0, h * 0.42, w);
    let parts = [
        Ellipse { cx, cy: h * 1.02, rx: 0.55 * s, ry: 0.3 * s, colour: clothes },
        Ellipse { cx, cy: cy + 0.3 * s, rx: 0.1 * s, ry: 0.14 * s, colour: skin },
        Ellipse { cx, cy: cy - 0.07 * s, rx: 0.27 * s, ry: 0.3 * s, colour: hair },
        Ellipse { cx, cy: cy + 0.03 * s, rx: 0.22 * s, ry: 0.29 * s, colour: skin },
        Ellipse { cx: cx - 0.09 * s, cy, rx: 0.035 * s, ry: 0.017 * s, colour: [35, 30, 40] },
        Ellipse { cx: cx + 0.09 * s, cy, rx: 0.035 * s, ry: 0.017 * s, colour: [35, 30, 40] },
        Ellipse { cx, cy: cy + 0.16 * s, rx: 0.06 * s, ry: 0.015 * s, colour: [150, 62, 64] },
    ];
    for part in &parts {
        part.paint(&mut rgb, WIDTH, HEIGHT);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
        &rgb,
        WIDTH,
        HEIGHT,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}
