//! Messages between the agent and a driver host: little-endian u32 length,
//! then a postcard-encoded message. One request, one response, in order.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Upper bound of one frame; a template or a frame of a camera fits easily.
pub const MAX_FRAME: usize = 64 << 20;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Request {
    Discover,
    Open { id: String },
    Close { handle: u64 },
    GetTemplate { handle: u64, timeout_ms: u32 },
    Match { handle: u64, probe: WireTemplate, enrolled: WireTemplate },
    Enabled { handle: u64 },
    FingerPresent { handle: u64 },
    Sim { handle: u64, command: String },
    Capture { handle: u64, timeout_ms: u32 },
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Response {
    /// First message of a host whose plugin loaded.
    Ready(WireMeta),
    /// First (and last) message of a host whose plugin was refused.
    LoadFailed(String),
    Devices(Vec<WireDeviceInfo>),
    Opened {
        handle: u64,
    },
    Template(WireTemplate),
    Score(u16),
    Flag(bool),
    Frame(WireFrame),
    Done,
    Error {
        kind: i32,
        detail: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WireMeta {
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub abi_version: u32,
    pub classes: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WireDeviceInfo {
    pub id: String,
    pub name: String,
    pub classes: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WireTemplate {
    /// `TemplateFormat`'s display form (`iso19794-2`, `vendor:NAME`).
    pub format: String,
    pub quality: u8,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WireFrame {
    pub width: u32,
    pub height: u32,
    /// The pixel format's FOURCC, as in the C ABI.
    pub fourcc: u32,
    pub data: Vec<u8>,
}

pub fn write_frame<T: Serialize>(w: &mut impl Write, message: &T) -> io::Result<()> {
    let body = postcard::to_stdvec(message).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let len = u32::try_from(body.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame too large"))?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf)?;
    w.flush()
}

pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame of {len} bytes exceeds {MAX_FRAME}")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    postcard::from_bytes(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let req = Request::Match {
            handle: 7,
            probe: WireTemplate { format: "vendor:x".into(), quality: 3, data: vec![1, 2, 3] },
            enrolled: WireTemplate { format: "iso19794-2".into(), quality: 0, data: vec![] },
        };
        let mut buf = Vec::new();
        write_frame(&mut buf, &req).unwrap();
        let back: Request = read_frame(&mut buf.as_slice()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn rejects_oversized_and_truncated_frames() {
        let mut huge = (u32::MAX).to_le_bytes().to_vec();
        huge.extend_from_slice(&[0; 8]);
        assert_eq!(read_frame::<Request>(&mut huge.as_slice()).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let truncated = [5u8, 0, 0, 0, 1];
        assert_eq!(read_frame::<Request>(&mut truncated.as_slice()).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let garbage = [2u8, 0, 0, 0, 0xFF, 0xFF];
        assert!(read_frame::<Request>(&mut garbage.as_slice()).is_err());
    }
}
