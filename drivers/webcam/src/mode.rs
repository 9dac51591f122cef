//! Capture modes (size, pixel format, frame rate) and how one is chosen
//! from what a camera offers.
//!
//! ```
//! use examgate_device_sdk::PixelFormat;
//! use examgate_webcam::{Mode, ModeRequest};
//! let offered = [
//!     Mode::new(640, 480, PixelFormat::Yuyv, 30),
//!     Mode::new(1280, 720, PixelFormat::Yuyv, 10),
//!     Mode::new(1280, 720, PixelFormat::Mjpeg, 30),
//! ];
//! let chosen = ModeRequest::default().negotiate(&offered).unwrap();
//! assert_eq!(chosen, Mode::new(1280, 720, PixelFormat::Mjpeg, 30));
//! ```

use std::fmt;
use std::str::FromStr;

use examgate_device_sdk::PixelFormat;

/// One way a camera can stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Frames per second; 0 when the camera does not say.
    pub fps: u32,
}

impl Mode {
    pub const fn new(width: u32, height: u32, format: PixelFormat, fps: u32) -> Mode {
        Mode { width, height, format, fps }
    }

    fn area(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{} {} @{}fps", self.width, self.height, format_name(self.format), self.fps)
    }
}

/// The lower-case name of a pixel format, as selectors write it.
pub fn format_name(format: PixelFormat) -> &'static str {
    match format {
        PixelFormat::Mjpeg => "mjpeg",
        PixelFormat::Yuyv => "yuyv",
        PixelFormat::Nv12 => "nv12",
        PixelFormat::Rgb24 => "rgb24",
    }
}

/// A pixel format by its selector name (`mjpeg`, `yuyv`, `nv12`, `rgb24`).
pub fn parse_format(name: &str) -> Option<PixelFormat> {
    match name.to_ascii_lowercase().as_str() {
        "mjpeg" | "mjpg" => Some(PixelFormat::Mjpeg),
        "yuyv" | "yuy2" => Some(PixelFormat::Yuyv),
        "nv12" => Some(PixelFormat::Nv12),
        "rgb24" | "rgb" | "rgb3" => Some(PixelFormat::Rgb24),
        _ => None,
    }
}

/// What the agent would like from a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModeRequest {
    /// The size wanted. The smallest offered size that covers it wins; if
    /// none does, the largest offered.
    pub width: u32,
    pub height: u32,
    /// Acceptable pixel formats, best first; modes in other formats are
    /// never chosen. Among equal sizes the earlier format wins.
    pub formats: Vec<PixelFormat>,
    /// Frame rate wanted: among modes of one size and format the closest
    /// rate at or above it wins, else the closest below.
    pub fps: u32,
}

impl Default for ModeRequest {
    /// 1280x720 (snapshots are scaled down from it, preview more so); MJPEG
    /// first because USB 2 cameras give YUYV at that size only at a few
    /// frames per second; 15 fps is plenty for stills and a preview.
    fn default() -> Self {
        ModeRequest {
            width: 1280,
            height: 720,
            formats: vec![PixelFormat::Mjpeg, PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24],
            fps: 15,
        }
    }
}

impl ModeRequest {
    /// The offered mode that best fits this request, or `None` if no
    /// offered mode has an acceptable pixel format.
    pub fn negotiate(&self, offered: &[Mode]) -> Option<Mode> {
        let wanted = u64::from(self.width) * u64::from(self.height);
        offered
            .iter()
            .filter_map(|m| Some((self.formats.iter().position(|f| *f == m.format)?, m)))
            .min_by_key(|(format_rank, m)| {
                let covers = m.width >= self.width && m.height >= self.height;
                // Covering sizes rank by how little they exceed; the others
                // after them, largest first.
                let size_rank = if covers { (0, m.area() - wanted.min(m.area())) } else { (1, u64::MAX - m.area()) };
                (size_rank, *format_rank, fps_rank(m.fps, self.fps))
            })
            .map(|(_, m)| *m)
    }
}

/// Closer is better, below the request is worse than any rate above it, and
/// an unknown rate (0) is worst.
fn fps_rank(offered: u32, wanted: u32) -> u64 {
    match offered {
        0 => u64::MAX,
        f if f >= wanted => u64::from(f - wanted),
        f => (1 << 32) + u64::from(wanted - f),
    }
}

/// Why `size=`/`format=`/`fps=` options did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModeRequestError {
    #[error("option {0:?} is not KEY=VALUE")]
    NotKeyValue(String),
    #[error("size={0:?}: expected WIDTHxHEIGHT, such as 1280x720")]
    BadSize(String),
    #[error("format={0:?}: expected a comma-separated list of mjpeg, yuyv, nv12, rgb24")]
    BadFormat(String),
    #[error("fps={0:?}: expected a whole number of frames per second")]
    BadFps(String),
    #[error("unknown option {0:?}; known: size, format, fps")]
    UnknownKey(String),
}

impl FromStr for ModeRequest {
    type Err = ModeRequestError;

    /// Parse a selector's query: `size=640x480&format=yuyv,mjpeg&fps=30`;
    /// what it does not set stays at the default.
    fn from_str(query: &str) -> Result<Self, Self::Err> {
        let mut request = ModeRequest::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| ModeRequestError::NotKeyValue(pair.to_owned()))?;
            match key {
                "size" => {
                    let bad = || ModeRequestError::BadSize(value.to_owned());
                    let (w, h) = value.split_once('x').ok_or_else(bad)?;
                    request.width = w.parse().ok().filter(|w| *w > 0).ok_or_else(bad)?;
                    request.height = h.parse().ok().filter(|h| *h > 0).ok_or_else(bad)?;
                }
                "format" => {
                    let formats: Option<Vec<PixelFormat>> = value.split(',').map(parse_format).collect();
                    request.formats = formats
                        .filter(|f| !f.is_empty())
                        .ok_or_else(|| ModeRequestError::BadFormat(value.to_owned()))?;
                }
                "fps" => request.fps = value.parse().map_err(|_| ModeRequestError::BadFps(value.to_owned()))?,
                _ => return Err(ModeRequestError::UnknownKey(key.to_owned())),
            }
        }
        Ok(request)
    }
}

impl fmt::Display for ModeRequest {
    /// The query form [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let formats: Vec<&str> = self.formats.iter().map(|f| format_name(*f)).collect();
        write!(f, "size={}x{}&format={}&fps={}", self.width, self.height, formats.join(","), self.fps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PixelFormat::*;

    fn check(request: &str, offered: &[Mode], expect: Option<Mode>) {
        let request: ModeRequest = request.parse().unwrap();
        assert_eq!(request.negotiate(offered), expect, "request {request}");
    }

    const TYPICAL: [Mode; 7] = [
        Mode::new(640, 480, Yuyv, 30),
        Mode::new(1280, 720, Yuyv, 10),
        Mode::new(1920, 1080, Yuyv, 5),
        Mode::new(640, 480, Mjpeg, 30),
        Mode::new(1280, 720, Mjpeg, 30),
        Mode::new(1280, 720, Mjpeg, 15),
        Mode::new(1920, 1080, Mjpeg, 30),
    ];

    #[test]
    fn takes_the_exact_size_in_the_best_format() {
        check("", &TYPICAL, Some(Mode::new(1280, 720, Mjpeg, 15)));
        check("format=yuyv,mjpeg", &TYPICAL, Some(Mode::new(1280, 720, Yuyv, 10)));
        check("size=640x480&fps=30", &TYPICAL, Some(Mode::new(640, 480, Mjpeg, 30)));
        check("size=640x480&format=yuyv", &TYPICAL, Some(Mode::new(640, 480, Yuyv, 30)));
    }

    #[test]
    fn size_comes_before_format_preference() {
        // Only MJPEG covers 1920x1080 at a usable rate, but YUYV has the size too.
        check("size=1920x1080&format=yuyv,mjpeg", &TYPICAL, Some(Mode::new(1920, 1080, Yuyv, 5)));
        check("size=1920x1080&format=nv12,mjpeg", &TYPICAL, Some(Mode::new(1920, 1080, Mjpeg, 30)));
    }

    #[test]
    fn prefers_the_smallest_covering_size_then_the_largest_below() {
        check("size=800x600", &TYPICAL, Some(Mode::new(1280, 720, Mjpeg, 15)));
        check("size=4000x3000", &TYPICAL, Some(Mode::new(1920, 1080, Mjpeg, 30)));
        check("size=320x240&format=yuyv", &TYPICAL, Some(Mode::new(640, 480, Yuyv, 30)));
    }

    #[test]
    fn prefers_frame_rates_at_or_above_the_request() {
        let offered = [Mode::new(640, 480, Yuyv, 5), Mode::new(640, 480, Yuyv, 60), Mode::new(640, 480, Yuyv, 0)];
        check("size=640x480&fps=15", &offered, Some(Mode::new(640, 480, Yuyv, 60)));
        check("size=640x480&fps=15", &offered[..1], Some(Mode::new(640, 480, Yuyv, 5)));
        check("size=640x480&fps=15", &[offered[0], offered[2]], Some(Mode::new(640, 480, Yuyv, 5)));
    }

    #[test]
    fn nothing_acceptable_is_none() {
        check("format=nv12", &TYPICAL, None);
        check("", &[], None);
    }

    #[test]
    fn options_round_trip_and_reject_nonsense() {
        let r: ModeRequest = "size=320x240&format=nv12,rgb24&fps=7".parse().unwrap();
        assert_eq!(r.to_string().parse::<ModeRequest>().unwrap(), r);
        assert_eq!("size=0x240".parse::<ModeRequest>(), Err(ModeRequestError::BadSize("0x240".into())));
        assert_eq!("size=big".parse::<ModeRequest>(), Err(ModeRequestError::BadSize("big".into())));
        assert_eq!("format=h264".parse::<ModeRequest>(), Err(ModeRequestError::BadFormat("h264".into())));
        assert_eq!("fps=fast".parse::<ModeRequest>(), Err(ModeRequestError::BadFps("fast".into())));
        assert_eq!("zoom=2".parse::<ModeRequest>(), Err(ModeRequestError::UnknownKey("zoom".into())));
        assert_eq!("size".parse::<ModeRequest>(), Err(ModeRequestError::NotKeyValue("size".into())));
    }
}
