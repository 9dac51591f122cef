//! `examgate-agent plugin check PATH`: run the conformance suite against a
//! vendor's library, by default inside a driver host so that a plugin that
//! crashes or hangs is reported, not fatal.

use std::path::Path;
use std::process::ExitCode;

use examgate_device_sdk::DriverFactory;
use examgate_device_sdk::conformance::{self, Options, Report};
use examgate_device_sdk::loader::PluginLibrary;

use crate::host::{HostOptions, HostedPlugin};

/// Where the plugin under test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// In a driver-host child process (default): crashes are reported.
    DriverHost,
    /// In this process: faster, but a crashing plugin takes the check down.
    InProcess,
}

/// Exit codes: 0 all passed, 1 a check failed, 2 the plugin was refused.
pub fn plugin_check(path: &Path, isolation: Isolation) -> ExitCode {
    plugin_check_with(path, isolation, HostOptions::default())
}

pub fn plugin_check_with(path: &Path, isolation: Isolation, host: HostOptions) -> ExitCode {
    let (report, restarts) = match isolation {
        Isolation::DriverHost => match HostedPlugin::spawn(path, host) {
            Ok(plugin) => {
                println!("plugin {}: {}", file_name(path), plugin.meta());
                let report = run_suite(&plugin);
                (report, plugin.restarts())
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
        Isolation::InProcess => match PluginLibrary::load(path) {
            Ok(lib) => {
                println!("plugin {}: {}", file_name(path), lib.meta());
                (run_suite(&lib), 0)
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
    };
    println!("{report}");
    if restarts > 0 {
        eprintln!(
            "plugin {}: its driver host crashed or hung {restarts} time(s) during the check and was restarted",
            file_name(path)
        );
    }
    let skipped = report.skipped().count();
    if !report.passed() || restarts > 0 {
        eprintln!("plugin {}: FAILED conformance", file_name(path));
        return ExitCode::from(1);
    }
    if skipped > 0 {
        println!(
            "plugin {}: passed; {skipped} check(s) skipped because the plugin has no simulation hooks",
            file_name(path)
        );
    } else {
        println!("plugin {}: passed conformance", file_name(path));
    }
    ExitCode::SUCCESS
}

fn run_suite(factory: &dyn DriverFactory) -> Report {
    conformance::run(factory, &Options::default())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}
