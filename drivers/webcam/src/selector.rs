//! `webcam[:INDEX|:NAME][?size=WxH&format=F,..&fps=N]`: which camera, and
//! the mode wanted from it.
//!
//! ```
//! use examgate_webcam::{CameraRef, WebcamSelector};
//! let s: WebcamSelector = "webcam:HD Pro Webcam C920?size=640x480".parse().unwrap();
//! assert_eq!(s.camera, CameraRef::Name("HD Pro Webcam C920".into()));
//! assert_eq!(s.request.width, 640);
//! assert_eq!("webcam:1".parse::<WebcamSelector>().unwrap().camera, CameraRef::Index(1));
//! assert_eq!("webcam".parse::<WebcamSelector>().unwrap().to_string(), "webcam");
//! ```

use std::fmt;
use std::str::FromStr;

use crate::mode::{ModeRequest, ModeRequestError};

/// Which camera a selector names.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum CameraRef {
    /// `webcam`: every camera (the first one when one is needed).
    #[default]
    Any,
    /// `webcam:N`: the camera with backend index N (`/dev/videoN`).
    Index(u32),
    /// `webcam:NAME`: cameras whose name contains NAME (case-insensitive).
    Name(String),
}

impl CameraRef {
    /// Whether a camera with this index and name is meant.
    pub fn matches(&self, index: u32, name: &str) -> bool {
        match self {
            CameraRef::Any => true,
            CameraRef::Index(i) => *i == index,
            CameraRef::Name(n) => name.to_lowercase().contains(&n.to_lowercase()),
        }
    }
}

/// A parsed `webcam…` selector.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WebcamSelector {
    pub camera: CameraRef,
    pub request: ModeRequest,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebcamSelectorError {
    #[error("{0:?} is not a webcam selector; expected webcam, webcam:INDEX or webcam:NAME")]
    NotWebcam(String),
    #[error("selector {0:?}: the camera name after `webcam:` is empty")]
    EmptyName(String),
    #[error("selector {selector:?}: {source}")]
    Options { selector: String, source: ModeRequestError },
}

impl FromStr for WebcamSelector {
    type Err = WebcamSelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let (head, query) = match text.split_once('?') {
            Some((head, query)) => (head, query),
            None => (text, ""),
        };
        let camera = match head.split_once(':') {
            None if head == "webcam" => CameraRef::Any,
            Some(("webcam", "")) => return Err(WebcamSelectorError::EmptyName(text.to_owned())),
            Some(("webcam", which)) => match which.parse::<u32>() {
                Ok(index) => CameraRef::Index(index),
                Err(_) => CameraRef::Name(which.to_owned()),
            },
            _ => return Err(WebcamSelectorError::NotWebcam(text.to_owned())),
        };
        let request =
            query.parse().map_err(|source| WebcamSelectorError::Options { selector: text.to_owned(), source })?;
        Ok(WebcamSelector { camera, request })
    }
}

impl fmt::Display for WebcamSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("webcam")?;
        match &self.camera {
            CameraRef::Any => {}
            CameraRef::Index(i) => write!(f, ":{i}")?,
            CameraRef::Name(n) => write!(f, ":{n}")?,
        }
        if self.request != ModeRequest::default() {
            write!(f, "?{}", self.request)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use examgate_device_sdk::PixelFormat;

    #[test]
    fn parses_every_form() {
        let s: WebcamSelector = "webcam".parse().unwrap();
        assert_eq!(s, WebcamSelector::default());
        assert_eq!("webcam:2".parse::<WebcamSelector>().unwrap().camera, CameraRef::Index(2));
        let s: WebcamSelector = " webcam:USB2.0 HD UVC WebCam?format=yuyv&fps=30 ".parse().unwrap();
        assert_eq!(s.camera, CameraRef::Name("USB2.0 HD UVC WebCam".into()));
        assert_eq!(s.request.formats, vec![PixelFormat::Yuyv]);
        assert_eq!(s.request.fps, 30);
    }

    #[test]
    fn display_round_trips() {
        for text in ["webcam", "webcam:0", "webcam:Integrated Camera", "webcam:1?size=640x480&format=yuyv&fps=30"] {
            let s: WebcamSelector = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
            assert_eq!(s.to_string().parse::<WebcamSelector>().unwrap(), s);
        }
    }

    #[test]
    fn rejects_other_selectors_and_bad_options() {
        assert!(matches!("sim:camera".parse::<WebcamSelector>(), Err(WebcamSelectorError::NotWebcam(_))));
        assert!(matches!("webcams".parse::<WebcamSelector>(), Err(WebcamSelectorError::NotWebcam(_))));
        assert!(matches!("webcam:".parse::<WebcamSelector>(), Err(WebcamSelectorError::EmptyName(_))));
        assert!(matches!("webcam:0?size=big".parse::<WebcamSelector>(), Err(WebcamSelectorError::Options { .. })));
    }

    #[test]
    fn names_match_case_insensitively_by_substring() {
        let r = CameraRef::Name("c920".into());
        assert!(r.matches(3, "HD Pro Webcam C920"));
        assert!(!r.matches(3, "Integrated Camera"));
        assert!(CameraRef::Index(3).matches(3, "x") && !CameraRef::Index(3).matches(0, "x"));
        assert!(CameraRef::Any.matches(9, ""));
    }
}
