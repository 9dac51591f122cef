//! The card photo through a vendor's WLT decoder plugin, when one is
//! configured (`wlt_decoder = "/path/libdecoder.so"`). examgate never
//! decodes WLT itself. Each photo is decoded in a child process
//! (`examgate-agent decode-wlt --decoder PATH`): a decoder that crashes or
//! hangs costs the picture, never the card read.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use examgate_device_sdk::photo::WltDecoder;
use examgate_webcam::convert::{JpegOptions, RgbImage, encode_jpeg};

/// How long a decoder may take for one photo.
pub const DECODE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `decode-wlt` mode: WLT bytes on stdin, the picture as JPEG on stdout.
pub fn decode_wlt_main(decoder: &Path) -> ExitCode {
    let mut wlt = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut wlt) {
        eprintln!("examgate-agent decode-wlt: cannot read the photo from stdin: {e}");
        return ExitCode::from(2);
    }
    match decode_to_jpeg(decoder, &wlt) {
        Ok(jpeg) => match std::io::stdout().write_all(&jpeg) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("examgate-agent decode-wlt: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("examgate-agent decode-wlt: {e}");
            ExitCode::FAILURE
        }
    }
}

fn decode_to_jpeg(decoder: &Path, wlt: &[u8]) -> Result<Vec<u8>, String> {
    let decoder = WltDecoder::load(decoder).map_err(|e| e.to_string())?;
    let photo = decoder.decode(wlt).map_err(|e| format!("decoder {}: {e}", decoder.name))?;
    // BGR to RGB.
    let rgb: Vec<u8> = photo.bgr.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
    let image = RgbImage::from_raw(photo.width, photo.height, rgb).ok_or("decoded photo has the wrong size")?;
    let options = JpegOptions { max_width: photo.width, max_height: photo.height, quality: 90 };
    Ok(encode_jpeg(&image, &options).map_err(|e| e.to_string())?.bytes)
}

/// Decode a WLT photo to JPEG in a child process of this binary.
pub fn decode_in_child(decoder: &Path, wlt: &[u8], timeout: Duration) -> Result<Vec<u8>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the agent binary: {e}"))?;
    let mut child = Command::new(exe)
        .arg("decode-wlt")
        .arg("--decoder")
        .arg(decoder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the photo decoder: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = wlt.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let errors = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the photo decoder did not finish within {} ms; it was stopped",
                    timeout.as_millis()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("photo decoder: {e}")),
        }
    };
    let _ = writer.join();
    let jpeg = reader.join().unwrap_or_default();
    let message = errors.join().unwrap_or_default();
    if status.success() {
        Ok(jpeg)
    } else {
        let why = message.lines().last().unwrap_or("").trim().to_owned();
        Err(if why.is_empty() { format!("the photo decoder failed ({status})") } else { why })
    }
}
