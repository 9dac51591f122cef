//! The bank's pictures, drawn here: warning triangles, round prohibitory and blue mandatory
//! signs, speed signs with their number, a junction's traffic light and road markings seen
//! from above. Flat colours on a small canvas, encoded as PNG (a few KiB each).

use super::items::Picture;

/// Signs are square; scenes (lights, markings) wider.
pub const SIGN_SIZE: u32 = 160;
pub const SCENE_WIDTH: u32 = 240;
pub const SCENE_HEIGHT: u32 = 160;

type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [20, 20, 20];
const RED: Rgb = [200, 30, 40];
const BLUE: Rgb = [20, 80, 170];
const YELLOW: Rgb = [250, 200, 20];
const GREEN: Rgb = [30, 170, 80];
const GREY: Rgb = [110, 110, 115];
const ROAD: Rgb = [80, 82, 88];
const GRASS: Rgb = [120, 170, 90];
const SKY: Rgb = [190, 220, 245];
const UNLIT: Rgb = [55, 55, 55];

struct Canvas {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(width: u32, height: u32, background: Rgb) -> Canvas {
        Canvas { width, height, rgb: background.repeat((width * height) as usize) }
    }

    /// Paint every pixel whose centre `inside` accepts, within the box (x0, y0)..(x1, y1).
    fn paint(&mut self, bounds: [f32; 4], colour: Rgb, inside: impl Fn(f32, f32) -> bool) {
        let [x0, y0, x1, y1] = bounds;
        let xs = (x0.floor().max(0.0) as u32)..(x1.ceil().min(self.width as f32) as u32);
        let ys = (y0.floor().max(0.0) as u32)..(y1.ceil().min(self.height as f32) as u32);
        for y in ys {
            for x in xs.clone() {
                if inside(x as f32 + 0.5, y as f32 + 0.5) {
                    let at = ((y * self.width + x) * 3) as usize;
                    self.rgb[at..at + 3].copy_from_slice(&colour);
                }
            }
        }
    }

    fn disc(&mut self, cx: f32, cy: f32, r: f32, colour: Rgb) {
        self.paint([cx - r, cy - r, cx + r, cy + r], colour, |x, y| (x - cx).powi(2) + (y - cy).powi(2) <= r * r);
    }

    fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, colour: Rgb) {
        self.paint([x0, y0, x1, y1], colour, |x, y| x >= x0 && x < x1 && y >= y0 && y < y1);
    }

    /// A convex polygon, its points in either turning order.
    fn polygon(&mut self, points: &[(f32, f32)], colour: Rgb) {
        let x0 = points.iter().map(|p| p.0).fold(f32::MAX, f32::min);
        let x1 = points.iter().map(|p| p.0).fold(f32::MIN, f32::max);
        let y0 = points.iter().map(|p| p.1).fold(f32::MAX, f32::min);
        let y1 = points.iter().map(|p| p.1).fold(f32::MIN, f32::max);
        self.paint([x0, y0, x1, y1], colour, |x, y| {
            let sides = points.iter().zip(points.iter().cycle().skip(1));
            let crosses: Vec<f32> = sides.map(|(a, b)| (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)).collect();
            crosses.iter().all(|c| *c >= 0.0) || crosses.iter().all(|c| *c <= 0.0)
        });
    }

    /// A stroke of width `w` from `a` to `b`, with round ends.
    fn line(&mut self, a: (f32, f32), b: (f32, f32), w: f32, colour: Rgb) {
        let h = w / 2.0;
        let bounds = [a.0.min(b.0) - h, a.1.min(b.1) - h, a.0.max(b.0) + h, a.1.max(b.1) + h];
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = (dx * dx + dy * dy).max(f32::EPSILON);
        self.paint(bounds, colour, |x, y| {
            let t = (((x - a.0) * dx + (y - a.1) * dy) / len2).clamp(0.0, 1.0);
            let (px, py) = (a.0 + t * dx, a.1 + t * dy);
            (x - px).powi(2) + (y - py).powi(2) <= h * h
        });
    }

    /// An arrow from `a` to `b` with its head at `b`.
    fn arrow(&mut self, a: (f32, f32), b: (f32, f32), w: f32, colour: Rgb) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = (dx * dx + dy * dy).sqrt().max(f32::EPSILON);
        let (ux, uy) = (dx / len, dy / len);
        let head = 1.6 * w;
        let base = (b.0 - ux * head, b.1 - uy * head);
        self.line(a, base, w, colour);
        self.polygon(&[b, (base.0 - uy * head, base.1 + ux * head), (base.0 + uy * head, base.1 - ux * head)], colour);
    }

    /// Digits in a 5x7 dot font, `height` high, centred on (cx, cy).
    fn number(&mut self, n: u32, cx: f32, cy: f32, height: f32, colour: Rgb) {
        let text = n.to_string();
        let cell = height / 7.0;
        let advance = 6.0 * cell;
        let width = advance * text.len() as f32 - cell;
        let mut x = cx - width / 2.0;
        for d in text.bytes() {
            let rows = DIGITS[usize::from(d - b'0')];
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits >> (4 - col) & 1 == 1 {
                        let px = x + col as f32 * cell;
                        let py = cy - height / 2.0 + row as f32 * cell;
                        self.rect(px, py, px + cell, py + cell, colour);
                    }
                }
            }
            x += advance;
        }
    }

    fn png(&self) -> Vec<u8> {
        use image::ImageEncoder;
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Best, FilterType::Adaptive)
            .write_image(&self.rgb, self.width, self.height, image::ExtendedColorType::Rgb8)
            .expect("encoding a PNG in memory cannot fail");
        out
    }
}

/// 5x7 dot patterns of 0..9, a row a byte, the left dot the high bit of five.
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

/// The picture as PNG bytes, and its width and height.
pub fn picture(p: Picture) -> (Vec<u8>, u32, u32) {
    let canvas = match p.sign {
        0..=5 => warning(p.sign),
        6..=11 | 17 | 19 => prohibitory(p.sign, p.number),
        12..=16 | 18 => mandatory(p.sign, p.number),
        20..=22 => traffic_light(p.sign - 20),
        _ => marking(p.sign),
    };
    (canvas.png(), canvas.width, canvas.height)
}

const C: f32 = SIGN_SIZE as f32 / 2.0;

fn warning(sign: usize) -> Canvas {
    let mut c = Canvas::new(SIGN_SIZE, SIGN_SIZE, WHITE);
    c.polygon(&[(C, 8.0), (152.0, 146.0), (8.0, 146.0)], BLACK);
    c.polygon(&[(C, 24.0), (138.0, 139.0), (22.0, 139.0)], YELLOW);
    match sign {
        0 => {
            c.line((C, 62.0), (C, 104.0), 12.0, BLACK);
            c.disc(C, 122.0, 7.0, BLACK);
        }
        1 => {
            c.line((C, 58.0), (C, 130.0), 12.0, BLACK);
            c.line((52.0, 96.0), (108.0, 96.0), 12.0, BLACK);
        }
        2 => {
            c.line((C, 72.0), (C, 130.0), 12.0, BLACK);
            c.line((50.0, 72.0), (110.0, 72.0), 12.0, BLACK);
        }
        3 => {
            c.line((58.0, 130.0), (70.0, 96.0), 9.0, BLACK);
            c.line((70.0, 96.0), (70.0, 60.0), 9.0, BLACK);
            c.line((102.0, 130.0), (90.0, 96.0), 9.0, BLACK);
            c.line((90.0, 96.0), (90.0, 60.0), 9.0, BLACK);
        }
        4 => {
            c.rect(66.0, 52.0, 94.0, 132.0, BLACK);
            c.disc(C, 66.0, 9.0, RED);
            c.disc(C, 92.0, 9.0, YELLOW);
            c.disc(C, 118.0, 9.0, GREEN);
        }
        _ => {
            c.line((70.0, 132.0), (70.0, 92.0), 11.0, BLACK);
            c.arrow((70.0, 92.0), (106.0, 62.0), 11.0, BLACK);
        }
    }
    c
}

fn prohibitory(sign: usize, number: u32) -> Canvas {
    let mut c = Canvas::new(SIGN_SIZE, SIGN_SIZE, WHITE);
    match sign {
        6 => {
            c.disc(C, C, 74.0, RED);
            c.rect(30.0, 68.0, 130.0, 92.0, WHITE);
        }
        7 | 8 => {
            c.disc(C, C, 74.0, RED);
            c.disc(C, C, 60.0, BLUE);
            c.line((38.0, 38.0), (122.0, 122.0), 12.0, RED);
            if sign == 8 {
                c.line((122.0, 38.0), (38.0, 122.0), 12.0, RED);
            }
        }
        9 => {
            // The corners at 22.5 + 45k degrees, as constants: no libm, the same pixels everywhere.
            const OCTAGON: [(f32, f32); 8] = [
                (0.92388, 0.38268),
                (0.38268, 0.92388),
                (-0.38268, 0.92388),
                (-0.92388, 0.38268),
                (-0.92388, -0.38268),
                (-0.38268, -0.92388),
                (0.38268, -0.92388),
                (0.92388, -0.38268),
            ];
            let r = 76.0;
            let octagon: Vec<(f32, f32)> = OCTAGON.iter().map(|(x, y)| (C + r * x, C + r * y)).collect();
            c.polygon(&octagon, RED);
            let inner: Vec<(f32, f32)> =
                octagon.iter().map(|(x, y)| (C + (x - C) * 0.86, C + (y - C) * 0.86)).collect();
            c.polygon(&inner, WHITE);
            let core: Vec<(f32, f32)> = octagon.iter().map(|(x, y)| (C + (x - C) * 0.8, C + (y - C) * 0.8)).collect();
            c.polygon(&core, RED);
            c.rect(44.0, 72.0, 116.0, 88.0, WHITE);
        }
        10 => {
            c.polygon(&[(8.0, 14.0), (152.0, 14.0), (C, 150.0)], RED);
            c.polygon(&[(32.0, 28.0), (128.0, 28.0), (C, 118.0)], WHITE);
        }
        11 => {
            c.disc(C, C, 74.0, RED);
            c.disc(C, C, 60.0, WHITE);
        }
        17 => {
            c.disc(C, C, 74.0, RED);
            c.disc(C, C, 60.0, WHITE);
            c.number(number, C, C, 56.0, BLACK);
        }
        _ => {
            c.disc(C, C, 74.0, GREY);
            c.disc(C, C, 68.0, WHITE);
            c.number(number, C, C, 56.0, GREY);
            for off in [-14.0, -5.0, 4.0, 13.0] {
                c.line((40.0 + off, 120.0 + off), (120.0 + off, 40.0 + off), 3.0, BLACK);
            }
        }
    }
    c
}

fn mandatory(sign: usize, number: u32) -> Canvas {
    let mut c = Canvas::new(SIGN_SIZE, SIGN_SIZE, WHITE);
    c.disc(C, C, 74.0, BLUE);
    match sign {
        12 => c.arrow((C, 128.0), (C, 32.0), 14.0, WHITE),
        13 | 14 => {
            let side = if sign == 13 { -1.0 } else { 1.0 };
            c.line((C, 128.0), (C, 78.0), 14.0, WHITE);
            c.arrow((C, 78.0), (C + side * 56.0, 78.0), 14.0, WHITE);
        }
        15 => c.arrow((50.0, 50.0), (112.0, 112.0), 14.0, WHITE),
        16 => c.arrow((110.0, 50.0), (48.0, 112.0), 14.0, WHITE),
        _ => c.number(number, C, C, 56.0, WHITE),
    }
    c
}

/// A junction's signal: lamp `lit` (0 red, 1 yellow, 2 green) on, the road and stop line below.
fn traffic_light(lit: usize) -> Canvas {
    let (w, h) = (SCENE_WIDTH as f32, SCENE_HEIGHT as f32);
    let mut c = Canvas::new(SCENE_WIDTH, SCENE_HEIGHT, SKY);
    c.rect(0.0, 96.0, w, h, GRASS);
    c.polygon(&[(90.0, 96.0), (150.0, 96.0), (w, h), (0.0, h)], ROAD);
    c.rect(40.0, 132.0, 200.0, 138.0, WHITE);
    c.rect(176.0, 50.0, 182.0, 128.0, GREY);
    c.rect(160.0, 8.0, 198.0, 96.0, BLACK);
    for (i, colour) in [RED, YELLOW, GREEN].into_iter().enumerate() {
        c.disc(179.0, 24.0 + 28.0 * i as f32, 11.0, if i == lit { colour } else { UNLIT });
    }
    c
}

/// A road seen from above with the marking of `sign` (23..=27).
fn marking(sign: usize) -> Canvas {
    let (w, h) = (SCENE_WIDTH as f32, SCENE_HEIGHT as f32);
    let mut c = Canvas::new(SCENE_WIDTH, SCENE_HEIGHT, GRASS);
    c.rect(40.0, 0.0, 200.0, h, ROAD);
    c.rect(44.0, 0.0, 48.0, h, WHITE);
    c.rect(192.0, 0.0, 196.0, h, WHITE);
    let mid = w / 2.0;
    match sign {
        23 => {
            for y in (0..160).step_by(40) {
                c.rect(mid - 3.0, y as f32 + 8.0, mid + 3.0, y as f32 + 30.0, WHITE);
            }
        }
        24 => c.rect(mid - 3.0, 0.0, mid + 3.0, h, WHITE),
        25 => {
            c.rect(mid - 9.0, 0.0, mid - 3.0, h, YELLOW);
            c.rect(mid + 3.0, 0.0, mid + 9.0, h, YELLOW);
        }
        26 => {
            for x in (52..188).step_by(20) {
                c.rect(x as f32, 56.0, x as f32 + 10.0, 104.0, WHITE);
            }
        }
        _ => {
            c.rect(mid - 3.0, 0.0, mid + 3.0, h, YELLOW);
            c.rect(mid + 3.0, 96.0, 192.0, 106.0, WHITE);
            c.arrow((156.0, 150.0), (156.0, 116.0), 6.0, WHITE);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::content::SIGN_KINDS;

    #[test]
    fn every_sign_draws_a_png_of_its_size_and_numbers_change_it() {
        for (sign, kind) in SIGN_KINDS.iter().enumerate() {
            let number = kind.numbers.first().copied().unwrap_or(0);
            let (png, w, h) = picture(Picture { sign, number });
            let decoded = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (w, h), "sign {sign}");
            assert!(png.len() < 16 * 1024, "sign {sign}: {} bytes", png.len());
        }
        let a = picture(Picture { sign: 17, number: 60 }).0;
        let b = picture(Picture { sign: 17, number: 80 }).0;
        assert_ne!(a, b);
    }
}
