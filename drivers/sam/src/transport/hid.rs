//! A SAM reader that carries GA 467 frames in USB HID reports, through
//! hidapi.
//!
//! GA 467 modules themselves speak USB through bulk pipes (preamble and LEN
//! on one pipe, the rest on another), which hidapi cannot drive; readers that
//! present themselves as HID devices wrap the same frames in reports, and no
//! public document fixes how. The framing assumed here, isolated in
//! [`HidFraming`] so that a reader that differs needs one change:
//!
//! - frames travel as the plain byte stream, cut into consecutive reports of
//!   `report_len` bytes (64 by default), the last one zero-padded;
//! - reports are unnumbered (`report_id` 0) unless configured; hidapi wants
//!   the report id as a first byte on write, and returns it first on read
//!   only for numbered reports;
//! - padding after a frame is dropped by the frame decoder, which skips
//!   whatever precedes a preamble.
//!
//! Nothing here has met a real HID reader; only the report chunking is tested.

use std::time::Duration;

use hidapi::{HidApi, HidDevice};

use super::{Transport, TransportError};

/// How frames are cut into HID reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HidFraming {
    /// 0 for unnumbered reports.
    pub report_id: u8,
    /// Bytes of frame data a report carries.
    pub report_len: usize,
}

impl Default for HidFraming {
    fn default() -> Self {
        HidFraming { report_id: 0, report_len: 64 }
    }
}

impl HidFraming {
    /// The writes that send `frame`: each the report id, then `report_len`
    /// bytes of the frame, the last zero-padded.
    pub fn reports(&self, frame: &[u8]) -> Vec<Vec<u8>> {
        frame
            .chunks(self.report_len.max(1))
            .map(|chunk| {
                let mut report = Vec::with_capacity(1 + self.report_len);
                report.push(self.report_id);
                report.extend_from_slice(chunk);
                report.resize(1 + self.report_len, 0);
                report
            })
            .collect()
    }

    /// The frame bytes in a report as hidapi reads it.
    pub fn payload<'a>(&self, report: &'a [u8]) -> &'a [u8] {
        match report.split_first() {
            Some((&id, rest)) if self.report_id != 0 && id == self.report_id => rest,
            _ => report,
        }
    }
}

/// Which HID device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HidTarget {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial: Option<String>,
}

/// A HID reader that is reopened after it went away.
pub struct HidTransport {
    target: HidTarget,
    framing: HidFraming,
    device: Option<HidDevice>,
    report: Vec<u8>,
}

impl HidTransport {
    pub fn open(target: HidTarget, framing: HidFraming) -> Result<HidTransport, TransportError> {
        let mut t = HidTransport { target, framing, device: None, report: vec![0; 1 + framing.report_len] };
        t.device()?;
        Ok(t)
    }

    /// The HID devices present with these ids.
    pub fn list(vendor_id: u16, product_id: u16) -> Result<Vec<HidTarget>, TransportError> {
        let api = HidApi::new().map_err(|e| TransportError::Unsupported(format!("USB HID is unavailable: {e}")))?;
        Ok(api
            .device_list()
            .filter(|d| d.vendor_id() == vendor_id && d.product_id() == product_id)
            .map(|d| HidTarget { vendor_id, product_id, serial: d.serial_number().map(str::to_owned) })
            .collect())
    }

    fn device(&mut self) -> Result<&HidDevice, TransportError> {
        if self.device.is_none() {
            let open = || -> hidapi::HidResult<HidDevice> {
                let api = HidApi::new()?;
                let HidTarget { vendor_id, product_id, serial } = &self.target;
                match serial {
                    Some(sn) => api.open_serial(*vendor_id, *product_id, sn),
                    None => api.open(*vendor_id, *product_id),
                }
            };
            let device = open().map_err(|e| TransportError::Open { port: self.describe(), detail: e.to_string() })?;
            self.device = Some(device);
        }
        Ok(self.device.as_ref().expect("opened above"))
    }

    fn lost(&mut self, e: hidapi::HidError) -> TransportError {
        self.device = None;
        TransportError::Lost { port: self.describe(), detail: e.to_string() }
    }
}

impl Transport for HidTransport {
    fn send(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        for report in self.framing.reports(frame) {
            let result = self.device()?.write(&report);
            if let Err(e) = result {
                return Err(self.lost(e));
            }
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        let mut report = std::mem::take(&mut self.report);
        let result = self.device()?.read_timeout(&mut report, ms);
        let n = match result {
            Ok(n) => n,
            Err(e) => {
                self.report = report;
                return Err(self.lost(e));
            }
        };
        let payload = self.framing.payload(&report[..n]);
        let copied = payload.len().min(buf.len());
        buf[..copied].copy_from_slice(&payload[..copied]);
        self.report = report;
        Ok(copied)
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        let mut report = std::mem::take(&mut self.report);
        while let Some(device) = &self.device {
            match device.read_timeout(&mut report, 0) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) => {
                    self.report = report;
                    return Err(self.lost(e));
                }
            }
        }
        self.report = report;
        Ok(())
    }

    fn describe(&self) -> String {
        let HidTarget { vendor_id, product_id, serial } = &self.target;
        match serial {
            Some(sn) => format!("USB HID {vendor_id:04x}:{product_id:04x} serial {sn}"),
            None => format!("USB HID {vendor_id:04x}:{product_id:04x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIND: [u8; 10] = [0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x03, 0x20, 0x01, 0x22];

    #[test]
    fn a_short_frame_fills_one_padded_report() {
        let reports = HidFraming::default().reports(&FIND);
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].len(), 65);
        assert_eq!(reports[0][0], 0, "unnumbered report id");
        assert_eq!(&reports[0][1..11], &FIND);
        assert!(reports[0][11..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_long_frame_is_cut_into_consecutive_reports() {
        let frame: Vec<u8> = (0..1295u32).map(|i| i as u8).collect();
        let framing = HidFraming { report_id: 2, report_len: 64 };
        let reports = framing.reports(&frame);
        assert_eq!(reports.len(), 21, "1295 bytes in 64-byte reports");
        assert!(reports.iter().all(|r| r.len() == 65 && r[0] == 2));
        let joined: Vec<u8> = reports.iter().flat_map(|r| framing.payload(r).to_vec()).collect();
        assert_eq!(&joined[..1295], &frame[..]);
        assert!(joined[1295..].iter().all(|&b| b == 0));
        assert_eq!(joined.len(), 21 * 64);
    }

    #[test]
    fn padding_after_a_frame_is_skipped_by_the_decoder() {
        let framing = HidFraming::default();
        let mut decoder = crate::FrameDecoder::new();
        for r in framing.reports(&FIND).iter().chain(framing.reports(&FIND).iter()) {
            decoder.push(framing.payload(&r[1..]));
        }
        let frames: Vec<_> = std::iter::from_fn(|| decoder.next_frame()).collect();
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(|f| f.as_ref().unwrap().as_bytes() == FIND));
    }

    #[test]
    fn unnumbered_reads_keep_their_first_byte() {
        let framing = HidFraming::default();
        assert_eq!(framing.payload(&[0xAA, 0xAA]), &[0xAA, 0xAA]);
        let numbered = HidFraming { report_id: 2, report_len: 4 };
        assert_eq!(numbered.payload(&[2, 0xAA, 0xAA]), &[0xAA, 0xAA]);
    }
}
