//! `examgate-sim`: run and script examgate's device simulators.

use std::io::Write;
use std::process::ExitCode;

use examgate_sim::{SimFingerprintConfig, SimFingerprintFactory};

const USAGE: &str = "\
examgate-sim: examgate's device simulators

USAGE:
    examgate-sim fingerprint-template --finger N [--impression K] [--seed S] [--base64]
        Write the template simulated finger N gives on its K-th enrolment
        capture (default 1) to stdout, raw or as standard base64.
    examgate-sim --help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("examgate-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn value<'a>(args: &'a [String], flag: &str) -> Result<Option<&'a str>, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => args.get(i + 1).map(|s| Some(s.as_str())).ok_or_else(|| format!("{flag} needs a value")),
    }
}

fn run(args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        Some("fingerprint-template") => {
            let rest = &args[1..];
            if rest.iter().any(|a| a == "--help") {
                print!("{USAGE}");
                return Ok(());
            }
            let finger: u32 = value(rest, "--finger")?
                .ok_or("--finger N is required")?
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or("--finger must be a positive integer")?;
            let impression: u64 =
                value(rest, "--impression")?.unwrap_or("1").parse().map_err(|_| "--impression must be an integer")?;
            let mut config = SimFingerprintConfig::default();
            if let Some(seed) = value(rest, "--seed")? {
                config.seed = seed.parse().map_err(|_| "--seed must be an unsigned integer")?;
            }
            let t = SimFingerprintFactory::new(config).template_for(finger, impression);
            let mut out = std::io::stdout().lock();
            if rest.iter().any(|a| a == "--base64") {
                writeln!(out, "{}", base64_encode(&t.data)).map_err(|e| e.to_string())
            } else {
                out.write_all(&t.data).map_err(|e| e.to_string())
            }
        }
        Some(other) => Err(format!("unknown command {other:?}; see --help")),
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
