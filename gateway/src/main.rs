//! `examgate-agent`, the seat agent. A thin CLI over the `examgate_agent` library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use examgate_agent::cli::{Cli, Command, PluginCommand};
use examgate_agent::plugin_check::{Isolation, plugin_check};
use examgate_agent::{commands, host};
use tracing_subscriber::EnvFilter;

/// Logs go to stderr (stdout carries templates and scores), filtered by
/// `RUST_LOG`, else at `default`.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("examgate-agent: {}", commands::describe(&e));
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::DriverHost(args) => host::driver_host_main(&args.plugin),
        Command::DecodeWlt(args) => examgate_agent::photo::decode_wlt_main(&args.decoder),
        Command::Run(args) => {
            init_logging("info");
            report(commands::run(args))
        }
        Command::Devices(args) => {
            init_logging("warn");
            report(commands::devices(args))
        }
        Command::Plugin(PluginCommand::Check(args)) => {
            init_logging("warn");
            let isolation = if args.in_process { Isolation::InProcess } else { Isolation::DriverHost };
            plugin_check(&args.path, isolation)
        }
        Command::GetTemplate(args) => {
            init_logging("warn");
            commands::get_template(args)
        }
        Command::Match(args) => {
            init_logging("warn");
            commands::match_files(args)
        }
        Command::ReadCard(args) => {
            init_logging("warn");
            report(commands::read_card(args))
        }
        Command::DecodeSam(args) => {
            init_logging("warn");
            report(commands::decode_sam(args))
        }
        Command::Enrol(args) => {
            init_logging("warn");
            report(examgate_agent::link::commands::enrol(args))
        }
        Command::Link(command) => {
            init_logging("info");
            report(examgate_agent::link::commands::link(command))
        }
        Command::Snapshot(args) => {
            init_logging("warn");
            report(commands::snapshot(args))
        }
    }
}
