//! Camera frames to RGB, and RGB to a JPEG of bounded size.
//!
//! Every length is checked before a pixel is read: a short or corrupt frame
//! from a camera is a [`ConvertError`], never a panic. YUYV and NV12 are
//! BT.601 limited range (16..235), what V4L2 means by the default
//! quantization of Y'CbCr. MJPEG frames are decoded by `image`; the
//! standard Huffman tables that most webcams leave out are put back first.
//!
//! ```
//! use examgate_device_sdk::{Frame, PixelFormat};
//! use examgate_webcam::convert::{JpegOptions, encode_jpeg, to_rgb};
//! // A 4x2 YUYV frame of mid grey: Y=126, U=V=128.
//! let frame = Frame { width: 4, height: 2, format: PixelFormat::Yuyv, data: [126, 128, 126, 128].repeat(4) };
//! let rgb = to_rgb(&frame).unwrap();
//! assert_eq!(rgb.get_pixel(0, 0).0, [128, 128, 128]);
//! let jpeg = encode_jpeg(&rgb, &JpegOptions::default()).unwrap();
//! assert_eq!(&jpeg.bytes[..2], &[0xFF, 0xD8]);
//! ```

use std::borrow::Cow;
use std::io::Cursor;

use examgate_device_sdk::{DeviceError, Frame, PixelFormat};
use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::{ExtendedColorType, ImageDecoder};

pub use image::RgbImage;

mod huffman;

/// Widest and tallest frame accepted; a larger size in a header is corrupt
/// data, and would otherwise make us allocate gigabytes.
pub const MAX_SIDE: u32 = 8192;

/// Why a frame could not be turned into pixels or a JPEG.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("the frame is {width}x{height}: a frame needs at least one pixel")]
    Empty { width: u32, height: u32 },
    #[error("the frame is {width}x{height}, larger than the {MAX_SIDE}x{MAX_SIDE} accepted")]
    TooLarge { width: u32, height: u32 },
    #[error("a {format:?} frame of {width}x{height} needs {expected} bytes but has {got}: the frame was cut short")]
    Truncated { format: PixelFormat, width: u32, height: u32, expected: usize, got: usize },
    #[error("the MJPEG frame does not decode: {0}")]
    BadJpeg(String),
    #[error("the MJPEG frame is {got_width}x{got_height}, but the camera announced {width}x{height}")]
    SizeMismatch { width: u32, height: u32, got_width: u32, got_height: u32 },
    #[error("JPEG quality {0} is outside 1..=100")]
    BadQuality(u8),
    #[error("JPEG size limit {0}x{1} is empty")]
    BadLimit(u32, u32),
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
}

impl From<ConvertError> for DeviceError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::BadQuality(_) | ConvertError::BadLimit(..) => DeviceError::InvalidArgument(e.to_string()),
            ConvertError::Encode(_) => DeviceError::Driver(e.to_string()),
            // A bad frame is the camera's (or the cable's) doing; the next may be fine.
            _ => DeviceError::Protocol(e.to_string()),
        }
    }
}

/// Bytes a frame of this format and size must have at least. Odd sizes are
/// allowed: a YUYV row holds `ceil(width / 2)` pairs, and NV12's chroma
/// plane `ceil(height / 2)` rows of `ceil(width / 2)` UV pairs.
pub fn expected_len(format: PixelFormat, width: u32, height: u32) -> Option<usize> {
    let (w, h) = (width as usize, height as usize);
    let (half_w, half_h) = (w.div_ceil(2), h.div_ceil(2));
    match format {
        PixelFormat::Mjpeg => None,
        PixelFormat::Rgb24 => w.checked_mul(h)?.checked_mul(3),
        PixelFormat::Yuyv => half_w.checked_mul(4)?.checked_mul(h),
        PixelFormat::Nv12 => w.checked_mul(h)?.checked_add(half_w.checked_mul(2)?.checked_mul(half_h)?),
    }
}

fn check_size(width: u32, height: u32) -> Result<(), ConvertError> {
    if width == 0 || height == 0 {
        return Err(ConvertError::Empty { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(ConvertError::TooLarge { width, height });
    }
    Ok(())
}

fn check_len(frame: &Frame) -> Result<usize, ConvertError> {
    let expected = expected_len(frame.format, frame.width, frame.height)
        .ok_or(ConvertError::TooLarge { width: frame.width, height: frame.height })?;
    // Drivers may hand over a buffer longer than the image (its sizeimage); the tail is padding.
    if frame.data.len() < expected {
        return Err(ConvertError::Truncated {
            format: frame.format,
            width: frame.width,
            height: frame.height,
            expected,
            got: frame.data.len(),
        });
    }
    Ok(expected)
}

/// Decode a frame in any [`PixelFormat`] into 8-bit RGB.
pub fn to_rgb(frame: &Frame) -> Result<RgbImage, ConvertError> {
    check_size(frame.width, frame.height)?;
    match frame.format {
        PixelFormat::Mjpeg => decode_mjpeg(frame),
        PixelFormat::Rgb24 => {
            let len = check_len(frame)?;
            Ok(RgbImage::from_raw(frame.width, frame.height, frame.data[..len].to_vec()).expect("length checked"))
        }
        PixelFormat::Yuyv => {
            check_len(frame)?;
            Ok(yuyv_to_rgb(frame.width, frame.height, &frame.data))
        }
        PixelFormat::Nv12 => {
            check_len(frame)?;
            Ok(nv12_to_rgb(frame.width, frame.height, &frame.data))
        }
    }
}

/// BT.601 limited range Y'CbCr to RGB, in 8.8 fixed point.
#[inline]
fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16);
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [clamp(c + 409 * e), clamp(c - 100 * d - 208 * e), clamp(c + 516 * d)]
}

fn yuyv_to_rgb(width: u32, height: u32, data: &[u8]) -> RgbImage {
    let w = width as usize;
    let stride = w.div_ceil(2) * 4;
    let mut out = vec![0u8; w * height as usize * 3];
    for (src, dst) in data.chunks_exact(stride).zip(out.chunks_exact_mut(w * 3)) {
        for (pair, px) in src.chunks_exact(4).zip(dst.chunks_mut(6)) {
            let (y0, u, y1, v) = (pair[0], pair[1], pair[2], pair[3]);
            px[..3].copy_from_slice(&yuv_to_rgb(y0, u, v));
            // An odd width leaves the last pair's second pixel outside the image.
            if px.len() == 6 {
                px[3..].copy_from_slice(&yuv_to_rgb(y1, u, v));
            }
        }
    }
    RgbImage::from_raw(width, height, out).expect("sized above")
}

fn nv12_to_rgb(width: u32, height: u32, data: &[u8]) -> RgbImage {
    let (w, h) = (width as usize, height as usize);
    let chroma_stride = w.div_ceil(2) * 2;
    let (luma, chroma) = data.split_at(w * h);
    let mut out = vec![0u8; w * h * 3];
    for (row, dst) in out.chunks_exact_mut(w * 3).enumerate() {
        let ys = &luma[row * w..][..w];
        let uv = &chroma[(row / 2) * chroma_stride..][..chroma_stride];
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            let pair = &uv[(x / 2) * 2..][..2];
            px.copy_from_slice(&yuv_to_rgb(ys[x], pair[0], pair[1]));
        }
    }
    RgbImage::from_raw(width, height, out).expect("sized above")
}

fn decode_mjpeg(frame: &Frame) -> Result<RgbImage, ConvertError> {
    let data = &frame.data;
    if data.len() < 4 || data[..2] != [0xFF, 0xD8] {
        return Err(ConvertError::BadJpeg("no JPEG start-of-image marker".into()));
    }
    // In entropy-coded data 0xFF is always followed by 0x00 or a restart
    // marker, so FF D9 is the end-of-image marker: without it the frame was cut short.
    if !data.windows(2).skip(2).any(|w| w == [0xFF, 0xD9]) {
        return Err(ConvertError::Truncated {
            format: PixelFormat::Mjpeg,
            width: frame.width,
            height: frame.height,
            expected: data.len() + 2,
            got: data.len(),
        });
    }
    let data = with_huffman_tables(data);
    // A decoder bug must cost one frame, not the device thread.
    let decoded = std::panic::catch_unwind(|| -> Result<RgbImage, ConvertError> {
        let decoder = JpegDecoder::new(Cursor::new(&data[..])).map_err(|e| ConvertError::BadJpeg(e.to_string()))?;
        let (w, h) = decoder.dimensions();
        check_size(w, h)?;
        if (w, h) != (frame.width, frame.height) {
            return Err(ConvertError::SizeMismatch {
                width: frame.width,
                height: frame.height,
                got_width: w,
                got_height: h,
            });
        }
        let image = image::DynamicImage::from_decoder(decoder).map_err(|e| ConvertError::BadJpeg(e.to_string()))?;
        Ok(image.into_rgb8())
    });
    decoded.unwrap_or_else(|_| Err(ConvertError::BadJpeg("the JPEG decoder panicked on this frame".into())))
}

/// The frame with the standard Huffman tables inserted before its scan if
/// it has none (the MJPEG convention of UVC webcams); unchanged otherwise.
fn with_huffman_tables(data: &[u8]) -> Cow<'_, [u8]> {
    let mut i = 2;
    while i + 4 <= data.len() && data[i] == 0xFF {
        match data[i + 1] {
            0xC4 => return Cow::Borrowed(data),
            0xDA => {
                let mut fixed = Vec::with_capacity(data.len() + huffman::STANDARD_DHT.len());
                fixed.extend_from_slice(&data[..i]);
                fixed.extend_from_slice(&huffman::STANDARD_DHT);
                fixed.extend_from_slice(&data[i..]);
                return Cow::Owned(fixed);
            }
            // Fill bytes and markers without a length.
            0xFF => i += 1,
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => i += 2 + usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]])),
        }
    }
    // Malformed headers are the decoder's to report.
    Cow::Borrowed(data)
}

/// How a JPEG is made from a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JpegOptions {
    /// The image is scaled down (never up), keeping its aspect ratio, to fit
    /// `max_width` x `max_height`.
    pub max_width: u32,
    pub max_height: u32,
    /// 1..=100.
    pub quality: u8,
}

impl Default for JpegOptions {
    /// 640x480 at quality 80: a face is clearly recognisable on a score
    /// sheet, and a snapshot is about 30-60 kB.
    fn default() -> Self {
        JpegOptions { max_width: 640, max_height: 480, quality: 80 }
    }
}

/// An encoded JPEG and its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Jpeg {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Jpeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jpeg({}x{}, {} bytes)", self.width, self.height, self.bytes.len())
    }
}

/// The size an image of `width` x `height` gets to fit the box, keeping its
/// aspect ratio; never larger than it was, never zero.
pub fn fit_within(width: u32, height: u32, max_width: u32, max_height: u32) -> (u32, u32) {
    if width <= max_width && height <= max_height {
        return (width, height);
    }
    let scale = f64::min(f64::from(max_width) / f64::from(width), f64::from(max_height) / f64::from(height));
    let w = (f64::from(width) * scale).round().clamp(1.0, f64::from(max_width)) as u32;
    let h = (f64::from(height) * scale).round().clamp(1.0, f64::from(max_height)) as u32;
    (w, h)
}

/// Scale an image down to fit the options' box and encode it as a baseline JPEG.
pub fn encode_jpeg(image: &RgbImage, options: &JpegOptions) -> Result<Jpeg, ConvertError> {
    if !(1..=100).contains(&options.quality) {
        return Err(ConvertError::BadQuality(options.quality));
    }
    if options.max_width == 0 || options.max_height == 0 {
        return Err(ConvertError::BadLimit(options.max_width, options.max_height));
    }
    check_size(image.width(), image.height())?;
    let (w, h) = fit_within(image.width(), image.height(), options.max_width, options.max_height);
    let scaled;
    let image = if (w, h) == image.dimensions() {
        image
    } else {
        // `thumbnail` averages the source pixels each output pixel covers:
        // fast, and without the aliasing of nearest-neighbour sampling.
        scaled = image::imageops::thumbnail(image, w, h);
        &scaled
    };
    let mut bytes = Vec::with_capacity((w * h / 4) as usize);
    JpegEncoder::new_with_quality(&mut bytes, options.quality)
        .encode(image.as_raw(), w, h, ExtendedColorType::Rgb8)
        .map_err(|e| ConvertError::Encode(e.to_string()))?;
    Ok(Jpeg { width: w, height: h, bytes })
}

/// Decode a frame and encode it as a JPEG in one step.
pub fn frame_to_jpeg(frame: &Frame, options: &JpegOptions) -> Result<Jpeg, ConvertError> {
    encode_jpeg(&to_rgb(frame)?, options)
}

#[cfg(test)]
mod tests;
