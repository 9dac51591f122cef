use super::*;

/// RGB to BT.601 limited range Y'CbCr, the inverse of the decoder.
fn rgb_to_yuv([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    [y.clamp(0, 255) as u8, u.clamp(0, 255) as u8, v.clamp(0, 255) as u8]
}

/// Encode RGB pixels into `format` the way a camera would.
fn from_rgb(image: &RgbImage, format: PixelFormat) -> Frame {
    let (width, height) = image.dimensions();
    let (w, h) = (width as usize, height as usize);
    let px = |x: usize, y: usize| image.get_pixel(x as u32, y as u32).0;
    let data = match format {
        PixelFormat::Rgb24 => image.as_raw().clone(),
        PixelFormat::Mjpeg => {
            let mut bytes = Vec::new();
            JpegEncoder::new_with_quality(&mut bytes, 95)
                .encode(image.as_raw(), width, height, ExtendedColorType::Rgb8)
                .unwrap();
            bytes
        }
        PixelFormat::Yuyv => {
            let mut out = Vec::new();
            for y in 0..h {
                for x in (0..w).step_by(2) {
                    let a = rgb_to_yuv(px(x, y));
                    let b = if x + 1 < w { rgb_to_yuv(px(x + 1, y)) } else { a };
                    let u = (u16::from(a[1]) + u16::from(b[1])).div_ceil(2) as u8;
                    let v = (u16::from(a[2]) + u16::from(b[2])).div_ceil(2) as u8;
                    out.extend_from_slice(&[a[0], u, b[0], v]);
                }
            }
            out
        }
        PixelFormat::Nv12 => {
            let mut out = Vec::new();
            for y in 0..h {
                out.extend((0..w).map(|x| rgb_to_yuv(px(x, y))[0]));
            }
            for y in (0..h).step_by(2) {
                for x in (0..w).step_by(2) {
                    let (mut u, mut v, mut n) = (0u32, 0u32, 0u32);
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        if x + dx < w && y + dy < h {
                            let c = rgb_to_yuv(px(x + dx, y + dy));
                            u += u32::from(c[1]);
                            v += u32::from(c[2]);
                            n += 1;
                        }
                    }
                    out.extend_from_slice(&[((u + n / 2) / n) as u8, ((v + n / 2) / n) as u8]);
                }
            }
            out
        }
    };
    Frame { width, height, format, data }
}

/// A colour test card whose chroma is constant over each 2x2 block (what
/// YUYV and NV12 can carry) while luma changes from pixel to pixel (a grey
/// offset moves Y only), so the round trip loses nothing but rounding.
fn test_card(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let fx = (x / 2 * 2) as f32 / width.max(2) as f32;
        let fy = (y / 2 * 2) as f32 / height.max(2) as f32;
        let grey = if (x + y) % 2 == 0 { 0 } else { 24 };
        image::Rgb([
            (40.0 + 160.0 * fx) as u8 + grey,
            (30.0 + 170.0 * fy) as u8 + grey,
            (200.0 - 150.0 * fx * fy) as u8 + grey,
        ])
    })
}

fn mean_abs_error(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.as_raw().len() as f64
}

fn max_abs_error(a: &RgbImage, b: &RgbImage) -> u8 {
    a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn bt601_limited_range_reference_colours() {
    // (Y, Cb, Cr) of BT.601 limited range and the RGB they stand for.
    let cases = [
        ([16, 128, 128], [0, 0, 0]),
        ([235, 128, 128], [255, 255, 255]),
        ([126, 128, 128], [128, 128, 128]),
        ([81, 90, 240], [255, 0, 0]),
        ([145, 54, 34], [0, 255, 0]),
        ([41, 240, 110], [0, 0, 255]),
    ];
    for (yuv, rgb) in cases {
        let got = yuv_to_rgb(yuv[0], yuv[1], yuv[2]);
        for c in 0..3 {
            assert!(got[c].abs_diff(rgb[c]) <= 2, "{yuv:?} gave {got:?}, expected {rgb:?}");
        }
    }
    // Footroom and headroom clamp instead of wrapping.
    assert_eq!(yuv_to_rgb(0, 128, 128), [0, 0, 0]);
    assert_eq!(yuv_to_rgb(255, 128, 128), [255, 255, 255]);
}

#[test]
fn yuyv_round_trips_at_even_and_odd_sizes() {
    for (w, h) in [(1, 1), (2, 2), (3, 3), (7, 5), (64, 48), (641, 479)] {
        let card = test_card(w, h);
        let frame = from_rgb(&card, PixelFormat::Yuyv);
        assert_eq!(Some(frame.data.len()), expected_len(PixelFormat::Yuyv, w, h));
        let rgb = to_rgb(&frame).unwrap();
        assert!(max_abs_error(&card, &rgb) <= 3, "{w}x{h}: max error {}", max_abs_error(&card, &rgb));
    }
}

#[test]
fn nv12_round_trips_at_even_and_odd_sizes() {
    for (w, h) in [(1, 1), (2, 2), (3, 3), (5, 7), (64, 48), (639, 481)] {
        let card = test_card(w, h);
        let frame = from_rgb(&card, PixelFormat::Nv12);
        assert_eq!(Some(frame.data.len()), expected_len(PixelFormat::Nv12, w, h));
        let rgb = to_rgb(&frame).unwrap();
        assert!(max_abs_error(&card, &rgb) <= 3, "{w}x{h}: max error {}", max_abs_error(&card, &rgb));
    }
}

#[test]
fn rgb24_is_taken_as_is() {
    let card = test_card(5, 3);
    assert_eq!(to_rgb(&from_rgb(&card, PixelFormat::Rgb24)).unwrap(), card);
}

#[test]
fn mjpeg_decodes_close_to_the_original() {
    for (w, h) in [(1, 1), (17, 9), (320, 240)] {
        let card = test_card(w, h);
        let rgb = to_rgb(&from_rgb(&card, PixelFormat::Mjpeg)).unwrap();
        assert!(mean_abs_error(&card, &rgb) < 3.0, "{w}x{h}: mean error {}", mean_abs_error(&card, &rgb));
    }
}

/// Remove every DHT segment (FF C4) from a JPEG's header.
fn strip_huffman_tables(jpeg: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        let marker = jpeg[i + 1];
        if marker == 0xDA {
            out.extend_from_slice(&jpeg[i..]);
            break;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker != 0xC4 {
            out.extend_from_slice(&jpeg[i..i + 2 + len]);
        }
        i += 2 + len;
    }
    out
}

#[test]
fn mjpeg_without_huffman_tables_uses_the_standard_ones() {
    // Many UVC webcams send MJPEG frames without DHT segments (the AVI1
    // convention); the encoder here writes the standard tables, so removing
    // them must change nothing.
    let card = test_card(64, 48);
    let frame = from_rgb(&card, PixelFormat::Mjpeg);
    let stripped = Frame { data: strip_huffman_tables(&frame.data), ..frame.clone() };
    assert!(stripped.data.len() < frame.data.len(), "the encoder wrote no DHT to strip");
    assert_eq!(to_rgb(&stripped).unwrap(), to_rgb(&frame).unwrap());
}

#[test]
fn short_frames_are_truncated_errors() {
    let card = test_card(8, 6);
    for format in [PixelFormat::Rgb24, PixelFormat::Yuyv, PixelFormat::Nv12] {
        let mut frame = from_rgb(&card, format);
        let expected = frame.data.len();
        frame.data.truncate(expected - 1);
        assert_eq!(
            to_rgb(&frame),
            Err(ConvertError::Truncated { format, width: 8, height: 6, expected, got: expected - 1 })
        );
        frame.data.clear();
        assert!(matches!(to_rgb(&frame), Err(ConvertError::Truncated { got: 0, .. })));
    }
    let mut mjpeg = from_rgb(&card, PixelFormat::Mjpeg);
    mjpeg.data.truncate(mjpeg.data.len() / 2);
    assert!(matches!(to_rgb(&mjpeg), Err(ConvertError::Truncated { format: PixelFormat::Mjpeg, .. })));
}

#[test]
fn padding_after_the_image_is_ignored() {
    let card = test_card(6, 4);
    let mut frame = from_rgb(&card, PixelFormat::Yuyv);
    let exact = to_rgb(&frame).unwrap();
    frame.data.extend_from_slice(&[0xAA; 100]);
    assert_eq!(to_rgb(&frame).unwrap(), exact);
}

#[test]
fn rejects_empty_huge_and_mislabelled_frames() {
    let empty = Frame { width: 0, height: 480, format: PixelFormat::Yuyv, data: vec![] };
    assert_eq!(to_rgb(&empty), Err(ConvertError::Empty { width: 0, height: 480 }));
    let huge = Frame { width: 100_000, height: 100_000, format: PixelFormat::Rgb24, data: vec![0; 16] };
    assert!(matches!(to_rgb(&huge), Err(ConvertError::TooLarge { .. })));
    let mut wrong_size = from_rgb(&test_card(16, 8), PixelFormat::Mjpeg);
    wrong_size.width = 32;
    assert!(matches!(to_rgb(&wrong_size), Err(ConvertError::SizeMismatch { got_width: 16, .. })));
    let not_jpeg = Frame { width: 4, height: 4, format: PixelFormat::Mjpeg, data: b"not a jpeg at all".to_vec() };
    assert!(matches!(to_rgb(&not_jpeg), Err(ConvertError::BadJpeg(_))));
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x1234_5678_9ABC_DEF0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid_jpeg = from_rgb(&test_card(16, 16), PixelFormat::Mjpeg).data;
    for _ in 0..400 {
        let format =
            [PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24][(next() % 4) as usize];
        let (width, height) = ((next() % 40) as u32, (next() % 40) as u32);
        let len = (next() % 2048) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if format == PixelFormat::Mjpeg && next() % 2 == 0 {
            // A real JPEG with some bytes flipped: gets past the markers into the decoder.
            data = valid_jpeg.clone();
            for _ in 0..8 {
                let i = 2 + (next() as usize) % (data.len() - 4);
                data[i] = next() as u8;
            }
        }
        let _ = to_rgb(&Frame { width, height, format, data });
    }
}

#[test]
fn jpeg_fits_the_box_and_keeps_the_aspect_ratio() {
    assert_eq!(fit_within(1280, 720, 640, 480), (640, 360));
    assert_eq!(fit_within(640, 480, 640, 480), (640, 480));
    assert_eq!(fit_within(320, 240, 640, 480), (320, 240), "never scaled up");
    assert_eq!(fit_within(4000, 1, 100, 100), (100, 1), "never zero");
    let jpeg = encode_jpeg(&test_card(1280, 720), &JpegOptions::default()).unwrap();
    assert_eq!((jpeg.width, jpeg.height), (640, 360));
    let back = to_rgb(&Frame { width: 640, height: 360, format: PixelFormat::Mjpeg, data: jpeg.bytes }).unwrap();
    assert_eq!(back.dimensions(), (640, 360));
}

#[test]
fn quality_changes_the_size() {
    let card = test_card(160, 120);
    let small = encode_jpeg(&card, &JpegOptions { quality: 20, ..JpegOptions::default() }).unwrap();
    let large = encode_jpeg(&card, &JpegOptions { quality: 95, ..JpegOptions::default() }).unwrap();
    assert!(small.bytes.len() < large.bytes.len());
    assert_eq!(
        encode_jpeg(&card, &JpegOptions { quality: 0, ..JpegOptions::default() }),
        Err(ConvertError::BadQuality(0))
    );
    assert_eq!(
        encode_jpeg(&card, &JpegOptions { max_width: 0, ..JpegOptions::default() }),
        Err(ConvertError::BadLimit(0, 480))
    );
}

#[test]
fn bad_frames_become_device_errors_a_retry_can_fix() {
    let e: DeviceError = ConvertError::BadJpeg("x".into()).into();
    assert_eq!(e.retry(), examgate_device_sdk::Retry::CanHelp);
    let e: DeviceError = ConvertError::BadQuality(0).into();
    assert_eq!(e.retry(), examgate_device_sdk::Retry::Useless);
}
