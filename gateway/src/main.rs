//! `examgate-agent`, the seat agent. A thin CLI over the `examgate_agent` library.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // Placeholder dispatch until the full CLI lands: only the driver-host mode.
    if args.get(1).map(String::as_str) == Some("driver-host") && args.get(2).map(String::as_str) == Some("--plugin") {
        if let Some(path) = args.get(3) {
            return examgate_agent::host::driver_host_main(&PathBuf::from(path));
        }
    }
    eprintln!("usage: examgate-agent driver-host --plugin PATH");
    ExitCode::from(2)
}
